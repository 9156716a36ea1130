// Package mysqltest gives each test its own MySQL or MariaDB database on
// the server named by DSAR_TEST_MYSQL_URL (default: the local server as
// root without a password), and drops it when the test ends.
package mysqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
)

// DefaultAdminURL is used when DSAR_TEST_MYSQL_URL is unset.
const DefaultAdminURL = "mysql://root@127.0.0.1:3306/mysql"

// NewDatabase creates an empty database and returns its mysql:// URL.
// Without a reachable server the test is skipped locally and fails under
// CI, where MariaDB is part of the contract.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("DSAR_TEST_MYSQL_URL")
	if admin == "" {
		admin = DefaultAdminURL
	}
	db, kind, err := datamap.OpenSQL(admin)
	if err != nil || kind != datamap.KindMySQL {
		t.Fatalf("mysqltest: DSAR_TEST_MYSQL_URL must be a mysql:// URL naming a database (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("mysqltest: MySQL unreachable at DSAR_TEST_MYSQL_URL: %v", err)
		}
		t.Skipf("mysqltest: MySQL unreachable (%v); set DSAR_TEST_MYSQL_URL", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dsar_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		db.Close()
		t.Fatalf("mysqltest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("mysqltest: drop database %s: %v", name, err)
		}
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("mysqltest: DSAR_TEST_MYSQL_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
