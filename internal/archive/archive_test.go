package archive_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/mysqltest"
	"github.com/dsar-project/dsar/internal/pgtest"
	"github.com/dsar-project/dsar/internal/storetest"
)

// shop is the demo organisation with 30 people, and a nightly backup
// taken before anyone asked to be erased.
type shop struct {
	conn   *datamap.SQLConnector
	backup archive.Snapshot
}

func newShop(t *testing.T) *shop {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv(demo.ArchiveEnv, filepath.Join(dir, "backups"))
	m, err := demo.Prepare(ctx, "sqlite:"+filepath.Join(dir, "shop.db"), 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := datamap.ConnectSQL(m.System("shop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	snap, err := archive.Take(ctx, c, filepath.Join(dir, "backups"), time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return &shop{conn: c, backup: snap}
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func email(i int) datamap.Identities { return datamap.Identities{"email": {demo.PersonAt(i).Email}} }

func TestSnapshotFindsThePersonAsTheLiveSystemDoes(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	l, err := archive.Load(ctx, s.conn.System(), s.backup)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	live, err := s.conn.Discover(ctx, email(5))
	if err != nil {
		t.Fatal(err)
	}
	archived, err := l.Conn.Discover(ctx, email(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(archived.Tables) != len(live.Tables) || len(live.Tables) < 5 {
		t.Fatalf("snapshot found %d tables, the live system %d", len(archived.Tables), len(live.Tables))
	}
	for i, ft := range live.Tables {
		lo, ll := ft.Counts()
		ao, al := archived.Tables[i].Counts()
		if ft.Table.Name != archived.Tables[i].Table.Name || lo != ao || ll != al {
			t.Errorf("%s: live %d owned %d linked, snapshot %s %d owned %d linked", ft.Table.Name, lo, ll, archived.Tables[i].Table.Name, ao, al)
		}
	}
	if s.backup.Date() != "2026-11-20" {
		t.Errorf("snapshot date %s", s.backup.Date())
	}
}

func TestErasedPersonStaysErasedInRewrittenAndRestoredBackups(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	st := storetest.SQLite(t)
	sealer, err := export.NewSealer(strings.Repeat("s", 40))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	person := demo.PersonAt(3)
	invoices := count(t, s.conn.DB, `SELECT count(*) FROM invoices WHERE id / 10 = 3`)

	// The live erasure leaves its tombstones.
	erased, err := s.conn.Erase(ctx, email(3), datamap.Rules{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddTombstones(ctx, archive.Tombstones("DSR-1", "shop", person.Email, erased.Gone, sealer.Hash, now)); err != nil {
		t.Fatal(err)
	}
	tombs, err := st.Tombstones(ctx, "shop", s.backup.TakenAt)
	if err != nil {
		t.Fatal(err)
	}
	for key := range tombs {
		parts := strings.Split(key, "/")
		if strings.Contains(key, person.Email) || len(parts) != 3 || len(parts[2]) != 64 {
			t.Fatalf("tombstone %q is not table/kind/keyed hash", key)
		}
	}
	sup := archive.Suppression{Tombstones: tombs, Hashes: sealer.Hashes}
	if older, err := st.Tombstones(ctx, "shop", now.Add(time.Minute)); err != nil || len(older) != 0 {
		t.Errorf("a backup taken after the erasure must forget nothing: %d tombstones, %v", len(older), err)
	}

	// A restore of the earlier backup forgets them before copying.
	target := map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "restored.db"),
		"postgres": pgtest.NewDatabase(t),
		"mysql":    mysqltest.NewDatabase(t),
	}
	for kind, dsn := range target {
		t.Run("restore into "+kind, func(t *testing.T) {
			l, err := archive.Load(ctx, s.conn.System(), s.backup)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			forgot, err := l.Forget(ctx, sup, now)
			if err != nil {
				t.Fatal(err)
			}
			if forgot.People != 1 || forgot.Rows < 5 {
				t.Errorf("forgot %+v, want the one person and their rows", forgot)
			}
			db, k, err := datamap.OpenSQL(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := demo.CreateSchema(ctx, db, k); err != nil {
				t.Fatal(err)
			}
			counts, err := l.CopyInto(ctx, db, k)
			if err != nil {
				t.Fatal(err)
			}
			if counts["customers"] != 29 {
				t.Errorf("restored %d customers, want the other 29", counts["customers"])
			}
			for q, want := range map[string]int{
				`SELECT count(*) FROM customers WHERE email = '` + person.Email + `'`:                0,
				`SELECT count(*) FROM orders WHERE customer_id = 3`:                                  0,
				`SELECT count(*) FROM web_logs WHERE customer_id = 3`:                                0,
				`SELECT count(*) FROM invoices WHERE id - id % 10 = 30 AND order_id IS NULL`:         invoices,
				`SELECT count(*) FROM newsletter_subscriptions WHERE email = '` + person.Email + `'`: 0,
				`SELECT count(*) FROM customers WHERE id = 4`:                                        1,
			} {
				if n := count(t, db, q); n != want {
					t.Errorf("%s = %d, want %d", q, n, want)
				}
			}
		})
	}

	// Rewriting the backup itself removes them from its files for good.
	l, err := archive.Load(ctx, s.conn.System(), s.backup)
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.Conn.Erase(ctx, email(3), datamap.Rules{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Gone) == 0 {
		t.Fatal("the backup held nothing of the person")
	}
	if err := l.WriteBack(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, err := os.ReadFile(filepath.Join(s.backup.Dir, "customers.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), person.Email) || strings.Contains(string(b), person.Name) {
		t.Error("the rewritten backup still names the person")
	}
	if n := strings.Count(string(b), "\n"); n != 29 {
		t.Errorf("rewritten customers file has %d lines, want 29", n)
	}
	reread, err := archive.Load(ctx, s.conn.System(), s.backup)
	if err != nil {
		t.Fatal(err)
	}
	defer reread.Close()
	found, err := reread.Conn.Discover(ctx, email(3))
	if err != nil || len(found.Tables) != 0 {
		t.Errorf("the rewritten backup still finds %d tables of the person (%v)", len(found.Tables), err)
	}
	if n := count(t, reread.Conn.DB, `SELECT count(*) FROM invoices WHERE id / 10 = 3 AND restricted = 1`); n != invoices {
		t.Errorf("%d of %d invoices kept for tax in the backup", n, invoices)
	}
}

func TestRestoreAppliesRecordedCorrections(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	sealer, err := export.NewSealer(strings.Repeat("s", 40))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := s.conn.Correct(ctx, email(6), []datamap.Change{{Category: "user.contact.phone_number", Value: "+31 20 555 0106"}})
	if err != nil {
		t.Fatal(err)
	}
	var cs []archive.Correction
	for _, ch := range changed {
		for _, key := range ch.Keys {
			cs = append(cs, archive.Correction{Table: ch.Table, Column: ch.Column, KeyHash: archive.RowHash(sealer.Hash, "shop", ch.Table, key), Value: ch.Value})
		}
	}
	if len(cs) != 1 {
		t.Fatalf("corrections = %+v, want the one phone number", cs)
	}
	l, err := archive.Load(ctx, s.conn.System(), s.backup)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := l.Correct(ctx, cs, sealer.Hashes)
	if err != nil || n != 1 {
		t.Fatalf("corrected %d rows, %v; want 1", n, err)
	}
	var phone string
	if err := l.Conn.DB.QueryRow(`SELECT phone FROM customers WHERE id = 6`).Scan(&phone); err != nil || phone != "+31 20 555 0106" {
		t.Errorf("restored phone = %q, %v; want the corrected one", phone, err)
	}
	if n := count(t, l.Conn.DB, `SELECT count(*) FROM customers WHERE phone = '+31 20 555 0106'`); n != 1 {
		t.Errorf("%d customers got the corrected phone, want 1", n)
	}
}
