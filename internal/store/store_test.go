package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/pgtest"
	"github.com/dsar-project/dsar/internal/store"
)

// testDB is a migrated store and a separate plain connection to the same
// database, for checking rows the store API does not expose.
type testDB struct {
	st      *store.Store
	raw     *sql.DB
	dialect store.Dialect
	source  string // SQLite file or PostgreSQL URL
}

// forEachDB runs fn against embedded SQLite and against PostgreSQL, the two
// databases dsar supports, each fresh and migrated.
func forEachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t, true)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t, true)) })
}

// forEachEmptyDB is forEachDB with no migration applied, for tests of
// the migrations themselves.
func forEachEmptyDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t, false)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t, false)) })
}

func openSQLite(t *testing.T, migrate bool) testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dsar.db")
	st, err := store.Open(context.Background(), "", path)
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db := testDB{st: st, raw: raw, dialect: store.SQLite, source: path}
	if migrate {
		mustMigrate(t, st)
	}
	return db
}

func openPostgres(t *testing.T, migrate bool) testDB {
	t.Helper()
	url := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db := testDB{st: st, raw: raw, dialect: store.Postgres, source: url}
	if migrate {
		mustMigrate(t, st)
	}
	return db
}

func mustMigrate(t *testing.T, st *store.Store) {
	t.Helper()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

// count runs SELECT COUNT(*) FROM table WHERE where; args use ?.
func (db testDB) count(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := db.raw.QueryRow(db.rebind(q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// queryString returns the single text value q selects.
func (db testDB) queryString(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	if err := db.raw.QueryRow(db.rebind(q), args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func (db testDB) rebind(q string) string {
	if db.dialect != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// t0 has sub-second precision, to show it survives both databases.
var t0 = time.Date(2025, 3, 10, 9, 30, 15, 123456000, time.UTC)

// newRequest is a received request from Ada, the fake requester.
func newRequest(id string, typ domain.RequestType, received time.Time) *store.Request {
	return &store.Request{
		ID:         id,
		Type:       typ,
		Status:     domain.StatusReceived,
		Email:      "ada@example.com",
		Name:       "Ada Lovelace",
		ReceivedAt: received,
		DueAt:      received.AddDate(0, 0, 30),
	}
}

func create(t *testing.T, db testDB, r *store.Request) *store.Request {
	t.Helper()
	if err := db.st.CreateRequest(context.Background(), r, nil); err != nil {
		t.Fatalf("CreateRequest(%s): %v", r.ID, err)
	}
	return r
}

func get(t *testing.T, db testDB, id string) *store.Request {
	t.Helper()
	r, err := db.st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRequest(%s): %v", id, err)
	}
	return r
}

// moveTo walks a request through the allowed transitions up to status.
func moveTo(t *testing.T, db testDB, id string, path ...domain.Status) {
	t.Helper()
	for i, s := range path {
		_, err := db.st.Transition(context.Background(), store.Transition{
			RequestID: id, To: s, Actor: store.ActorSystem, At: t0.Add(time.Duration(i+1) * time.Minute),
		})
		if err != nil {
			t.Fatalf("transition %s to %s: %v", id, s, err)
		}
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func sameTimePtr(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %s", what, want)
		return
	}
	sameTime(t, what, *got, want)
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite creates its directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nested", "data", "dsar.db")
		st, err := store.Open(ctx, "", path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer st.Close()
		if st.Dialect() != store.SQLite {
			t.Errorf("Dialect() = %s, want sqlite", st.Dialect())
		}
		if err := st.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := store.Open(ctx, pgtest.NewDatabase(t), "")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer st.Close()
		if st.Dialect() != store.Postgres {
			t.Errorf("Dialect() = %s, want postgres", st.Dialect())
		}
		if err := st.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
	t.Run("postgres unreachable", func(t *testing.T) {
		// Port 1 refuses connections at once.
		_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/dsar?sslmode=disable&connect_timeout=2", "")
		if err == nil {
			t.Fatal("Open succeeded against a closed port")
		}
	})
	t.Run("ping after close fails", func(t *testing.T) {
		st, err := store.Open(ctx, "", filepath.Join(t.TempDir(), "dsar.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(ctx); err == nil {
			t.Error("Ping after Close succeeded")
		}
	})
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{store.ErrNotFound, store.ErrInvalidTransition, store.ErrTokenUsed, store.ErrTokenExpired, store.ErrConflict}
	for i, a := range errs {
		for j, b := range errs {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true", a, b)
			}
		}
	}
}

// A PostgreSQL store opens at most DefaultMaxConns connections, or what
// SetMaxConns says: callers beyond it wait in line instead of meeting the
// server's own limit together with every other dsar process.
func TestPostgresConnectionsAreCapped(t *testing.T) {
	db := openPostgres(t, false)
	if got := db.st.MaxOpenConns(); got != store.DefaultMaxConns {
		t.Errorf("a new store opens at most %d connections, want %d", got, store.DefaultMaxConns)
	}
	db.st.SetMaxConns(3)
	if got := db.st.MaxOpenConns(); got != 3 {
		t.Errorf("after SetMaxConns(3): at most %d connections", got)
	}
	db.st.SetMaxConns(0) // refused: the cap stays
	if got := db.st.MaxOpenConns(); got != 3 {
		t.Errorf("after SetMaxConns(0): at most %d connections, want 3 kept", got)
	}
}
