// Package pgtest gives each test its own PostgreSQL database on the server
// named by DSAR_TEST_DATABASE_URL (default: the local server as user
// postgres), and drops it when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	// pgx's database/sql driver, already linked through gorm's postgres driver.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// DefaultAdminURL is used when DSAR_TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewDatabase creates an empty database and returns its URL. Without a
// reachable server the test is skipped locally and fails under CI, where
// PostgreSQL is part of the contract.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("DSAR_TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultAdminURL
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: PostgreSQL unreachable at DSAR_TEST_DATABASE_URL: %v", err)
		}
		t.Skipf("pgtest: PostgreSQL unreachable (%v); set DSAR_TEST_DATABASE_URL", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dsar_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: DSAR_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
