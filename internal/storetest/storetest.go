// Package storetest gives a test its own migrated database: the embedded
// SQLite, in the test's temporary directory, closed when the test ends.
// Tests that must also run on PostgreSQL use internal/pgtest.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dsar-project/dsar/internal/store"
)

// SQLite opens a fresh, migrated embedded database.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", filepath.Join(t.TempDir(), "dsar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}
