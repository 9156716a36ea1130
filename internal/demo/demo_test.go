package demo_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/mysqltest"
	"github.com/dsar-project/dsar/internal/pgtest"
)

const people = 10

// eachKind runs the test against a fresh SQLite file and fresh
// PostgreSQL and MySQL databases (skipped locally without a server).
func eachKind(t *testing.T, run func(t *testing.T, dsn string)) {
	for _, kind := range []datamap.Kind{datamap.KindSQLite, datamap.KindPostgres, datamap.KindMySQL} {
		t.Run(string(kind), func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv(demo.ArchiveEnv, filepath.Join(dir, "backups"))
			t.Setenv(demo.DSNEnv, "")
			dsn := "sqlite:" + filepath.Join(dir, "shop.db")
			switch kind {
			case datamap.KindPostgres:
				dsn = pgtest.NewDatabase(t)
			case datamap.KindMySQL:
				dsn = mysqltest.NewDatabase(t)
			}
			run(t, dsn)
		})
	}
}

func prepare(t *testing.T, dsn string, n int) {
	t.Helper()
	if _, err := demo.Prepare(context.Background(), dsn, n, nil); err != nil {
		t.Fatalf("prepare %d people: %v", n, err)
	}
}

func open(t *testing.T, dsn string) (*sql.DB, datamap.Kind) {
	t.Helper()
	db, kind, err := datamap.OpenSQL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, kind
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// fulfilDemoRequests does to the demo data what the README's demo
// requests do: Alan (1) is erased, his invoices kept but let go of; Ada
// (0) is anonymised in place; Grace (2) has her email corrected.
func fulfilDemoRequests(t *testing.T, db *sql.DB) {
	t.Helper()
	exec(t, db,
		`UPDATE invoices SET order_id = NULL, billing_name = 'erased', restricted = TRUE WHERE order_id IN (SELECT id FROM orders WHERE customer_id = 1)`,
		`DELETE FROM web_logs WHERE customer_id = 1`,
		`DELETE FROM support_tickets WHERE customer_id = 1`,
		`DELETE FROM orders WHERE customer_id = 1`,
		`DELETE FROM product_registrations WHERE customer_id = 1`,
		`DELETE FROM accounts WHERE customer_id = 1`,
		`DELETE FROM newsletter_subscriptions WHERE email = 'alan@example.com'`,
		`DELETE FROM customers WHERE id = 1`,
		`UPDATE customers SET full_name = 'erased', email = 'erased-0@example.invalid', phone = NULL WHERE id = 0`,
		`UPDATE customers SET email = 'grace.hopper@example.org' WHERE id = 2`,
	)
}

func snapshot(t *testing.T, db *sql.DB) map[string]map[int64]string {
	t.Helper()
	s, err := demo.Snapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seeded(t *testing.T, db *sql.DB, kind datamap.Kind) int {
	t.Helper()
	n, err := demo.Seeded(context.Background(), db, kind)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPrepareAgainAfterTheDemoRequests: the demo starts again after its
// requests were fulfilled, and leaves their data as they left it.
func TestPrepareAgainAfterTheDemoRequests(t *testing.T) {
	eachKind(t, func(t *testing.T, dsn string) {
		prepare(t, dsn, people)
		db, kind := open(t, dsn)
		if n := seeded(t, db, kind); n != people {
			t.Fatalf("seeded %d people, want %d", n, people)
		}
		fulfilDemoRequests(t, db)
		before := snapshot(t, db)

		for range 2 {
			prepare(t, dsn, people)
		}
		if after := snapshot(t, db); !reflect.DeepEqual(before, after) {
			t.Errorf("preparing again changed the demo data:\nbefore %v\nafter  %v", before["customers"], after["customers"])
		}
		if _, ok := snapshot(t, db)["customers"][1]; ok {
			t.Error("the erased customer came back")
		}
		if n := seeded(t, db, kind); n != people {
			t.Errorf("seeded %d people after the requests, want %d", n, people)
		}

		// A larger demo still extends a smaller one, with only the new people.
		prepare(t, dsn, people+2)
		after := snapshot(t, db)
		if len(after["customers"]) != people+1 {
			t.Errorf("%d customers after extending to %d people, want %d", len(after["customers"]), people+2, people+1)
		}
		if _, ok := after["customers"][1]; ok {
			t.Error("extending the demo brought the erased customer back")
		}
		if after["customers"][0] != before["customers"][0] {
			t.Errorf("extending the demo changed the anonymised customer: %s", after["customers"][0])
		}
		if n := seeded(t, db, kind); n != people+2 {
			t.Errorf("seeded %d people after extending, want %d", n, people+2)
		}
	})
}

// TestPrepareRecognisesAnOlderDemoDatabase: a demo database seeded before
// the seed mark existed counts as seeded by its rows, and gets the mark.
func TestPrepareRecognisesAnOlderDemoDatabase(t *testing.T) {
	eachKind(t, func(t *testing.T, dsn string) {
		prepare(t, dsn, people)
		db, kind := open(t, dsn)
		switch kind {
		case datamap.KindPostgres:
			exec(t, db, `COMMENT ON TABLE customers IS NULL`)
		case datamap.KindMySQL:
			exec(t, db, `ALTER TABLE customers COMMENT = ''`)
		default:
			exec(t, db, `PRAGMA user_version = 0`)
		}
		fulfilDemoRequests(t, db)
		if n := seeded(t, db, kind); n != people {
			t.Fatalf("an unmarked demo database counts %d people, want %d", n, people)
		}
		before := snapshot(t, db)
		prepare(t, dsn, people)
		if after := snapshot(t, db); !reflect.DeepEqual(before, after) {
			t.Errorf("preparing an older demo database changed it:\nbefore %v\nafter  %v", before["customers"], after["customers"])
		}

		// Now marked: even erasing the last person does not lower the count.
		exec(t, db,
			`DELETE FROM web_logs WHERE customer_id = 9`, `DELETE FROM support_tickets WHERE customer_id = 9`,
			`DELETE FROM invoices WHERE order_id IN (SELECT id FROM orders WHERE customer_id = 9)`,
			`DELETE FROM orders WHERE customer_id = 9`, `DELETE FROM product_registrations WHERE customer_id = 9`,
			`DELETE FROM accounts WHERE customer_id = 9`, `DELETE FROM newsletter_subscriptions WHERE id = 9`,
			`DELETE FROM customers WHERE id = 9`)
		before = snapshot(t, db)
		prepare(t, dsn, people)
		if after := snapshot(t, db); !reflect.DeepEqual(before, after) {
			t.Errorf("the last person came back:\nbefore %v\nafter  %v", before["customers"], after["customers"])
		}
	})
}

// TestPrepareAddsTheNewsletterFlagToAnOlderDemoDatabase: a demo database
// made before opt-outs lacks the flag they turn off; preparing it again
// adds the flag, on for everyone, and changes nothing else.
func TestPrepareAddsTheNewsletterFlagToAnOlderDemoDatabase(t *testing.T) {
	eachKind(t, func(t *testing.T, dsn string) {
		prepare(t, dsn, people)
		db, _ := open(t, dsn)
		exec(t, db, `ALTER TABLE customers DROP COLUMN newsletter`)
		prepare(t, dsn, people)
		var on int
		if err := db.QueryRow(`SELECT count(*) FROM customers WHERE newsletter = TRUE`).Scan(&on); err != nil {
			t.Fatalf("the newsletter flag was not added back: %v", err)
		}
		if on != people {
			t.Errorf("%d of %d customers have the flag on", on, people)
		}
	})
}
