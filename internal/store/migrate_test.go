package store_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dsar-project/dsar/internal/store"
)

// migrationCount is the number of SQL files the store embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no migrations found")
	}
	return n
}

func TestMigrateIsIdempotent(t *testing.T) {
	want := migrationCount(t)
	forEachEmptyDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		n, err := db.st.Migrate(ctx)
		if err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		if n != want {
			t.Errorf("first Migrate applied %d, want %d", n, want)
		}
		n, err = db.st.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if n != 0 {
			t.Errorf("second Migrate applied %d, want 0", n)
		}
		if got := db.count(t, "schema_migrations", ""); got != want {
			t.Errorf("schema_migrations has %d rows, want %d", got, want)
		}
		if name := db.queryString(t, "SELECT name FROM schema_migrations WHERE version = 1"); name != "0001_requests.sql" {
			t.Errorf("migration 1 recorded as %q", name)
		}
		for _, table := range []string{"requests", "request_tokens", "audit_events", "sent_emails", "outbox_messages", "officers", "api_tokens"} {
			if got := db.count(t, table, ""); got != 0 {
				t.Errorf("fresh %s has %d rows", table, got)
			}
		}
	})
}

// Two processes (dsar migrate and dsar dev, say) may migrate at once.
func TestMigrateConcurrently(t *testing.T) {
	want := migrationCount(t)
	ctx := context.Background()
	run := func(t *testing.T, stores []*store.Store) {
		var wg sync.WaitGroup
		applied := make([]int, len(stores))
		errs := make([]error, len(stores))
		for i, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				applied[i], errs[i] = st.Migrate(ctx)
			}()
		}
		wg.Wait()
		total := 0
		for i := range stores {
			if errs[i] != nil {
				t.Errorf("migrator %d: %v", i, errs[i])
			}
			total += applied[i]
		}
		if total != want {
			t.Errorf("migrators applied %d migrations between them, want %d", total, want)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		db := openSQLite(t, false)
		stores := []*store.Store{db.st}
		for range 3 {
			st, err := store.Open(ctx, "", db.source)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores = append(stores, st)
		}
		run(t, stores)
	})
	t.Run("postgres", func(t *testing.T) {
		db := openPostgres(t, false)
		stores := []*store.Store{db.st}
		for range 3 {
			st, err := store.Open(ctx, db.source, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores = append(stores, st)
		}
		run(t, stores)
	})
}
