package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func auditKeys(t *testing.T, secret string, previous ...string) []auditchain.Key {
	t.Helper()
	ks, err := auditchain.Keys(secret, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

const (
	auditSecret      = "the-audit-test-secret-of-enough-length-01"
	auditSecretLater = "the-rotated-audit-test-secret-of-length-02"
)

// writeTrail writes audit entries for three requests, interleaved as a
// busy system would, and returns how many it wrote.
func writeTrail(t *testing.T, db testDB) int {
	t.Helper()
	ctx := context.Background()
	ids := []string{"DSR-CHAIN00001", "DSR-CHAIN00002", "DSR-CHAIN00003"}
	for i, id := range ids {
		create(t, db, newRequest(id, domain.TypeAccess, t0.Add(time.Duration(i)*time.Second)))
	}
	moveTo(t, db, ids[0], domain.StatusVerifying)
	// Nanoseconds are dropped before the MAC, as the databases drop them.
	if err := db.st.Audit(ctx, store.AuditEvent{RequestID: ids[1], Actor: "officer@example.org", Action: "note",
		Detail: "called the requester", At: t0.Add(time.Hour + 123)}); err != nil {
		t.Fatal(err)
	}
	moveTo(t, db, ids[2], domain.StatusVerifying)
	if err := db.st.Audit(ctx, store.AuditEvent{RequestID: ids[0], Actor: store.ActorSystem, Action: "note",
		Detail: "ünïcode and\nnew lines", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return len(ids) + 4
}

func verifyAudit(t *testing.T, db testDB, anchors ...auditchain.Link) *store.AuditReport {
	t.Helper()
	rep, err := db.st.VerifyAudit(context.Background(), anchors...)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return rep
}

func wantWhole(t *testing.T, rep *store.AuditReport, n int) {
	t.Helper()
	if rep.Break != nil {
		t.Fatalf("the chain is broken: %v", rep.Break)
	}
	if rep.Verified != n || rep.Head.Seq != int64(n) {
		t.Fatalf("verified %d entries up to sequence %d, want %d", rep.Verified, rep.Head.Seq, n)
	}
}

func wantBreak(t *testing.T, rep *store.AuditReport, kind auditchain.Kind, entryID int64) {
	t.Helper()
	if rep.Break == nil {
		t.Fatalf("no break found, want %s at entry %d", kind, entryID)
	}
	if rep.Break.Kind != kind || rep.Break.EntryID != entryID {
		t.Fatalf("break %q, want %s at entry %d", rep.Break, kind, entryID)
	}
	if entryID != 0 && !strings.Contains(rep.Break.Error(), fmt.Sprintf("entry %d (request %s", entryID, rep.Break.RequestID)) {
		t.Errorf("the break does not name the entry and its request: %q", rep.Break)
	}
}

// chainIDs are the chained entries' ids in chain order.
func chainIDs(t *testing.T, db testDB) []int64 {
	t.Helper()
	rows, err := db.raw.Query(`SELECT id FROM audit_events WHERE seq > 0 ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func (db testDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := db.raw.Exec(db.rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestAuditChainDetectsTampering writes a trail, checks it whole, then
// tampers with it through SQL as anyone with database access could: each
// change, reordering, insertion and deletion is found at its entry.
func TestAuditChainDetectsTampering(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		n := writeTrail(t, db)
		wantWhole(t, verifyAudit(t, db), n)
		ids := chainIDs(t, db)

		// Changed: one row's detail rewritten.
		victim := ids[3]
		detail := db.queryString(t, "SELECT detail FROM audit_events WHERE id = ?", victim)
		db.exec(t, "UPDATE audit_events SET detail = ? WHERE id = ?", "nothing happened", victim)
		rep := verifyAudit(t, db)
		wantBreak(t, rep, auditchain.Changed, victim)
		if rep.Verified != 3 {
			t.Errorf("verified %d entries before the change, want 3", rep.Verified)
		}
		db.exec(t, "UPDATE audit_events SET detail = ? WHERE id = ?", detail, victim)
		wantWhole(t, verifyAudit(t, db), n)

		// Changed: the time moved back a day.
		db.exec(t, "UPDATE audit_events SET at = ? WHERE id = ?", t0.Add(-24*time.Hour), ids[5])
		wantBreak(t, verifyAudit(t, db), auditchain.Changed, ids[5])
		db.exec(t, "UPDATE audit_events SET at = ? WHERE id = ?", t0.Add(time.Minute), ids[5])
		wantWhole(t, verifyAudit(t, db), n)

		// Reordered: two entries swap ids, so the timeline shows them the
		// other way round.
		a, b := ids[1], ids[2]
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", -1, a)
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", a, b)
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", b, -1)
		wantBreak(t, verifyAudit(t, db), auditchain.Reordered, b)
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", -1, b)
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", b, a)
		db.exec(t, "UPDATE audit_events SET id = ? WHERE id = ?", a, -1)
		wantWhole(t, verifyAudit(t, db), n)

		// Inserted: a row without a MAC, then one numbered past the head.
		db.exec(t, "INSERT INTO audit_events (request_id, actor, action, detail, at) VALUES (?, ?, ?, ?, ?)",
			"DSR-CHAIN00002", "officer@example.org", "status", "verifying → completed", t0)
		forged := ids[len(ids)-1] + 1
		wantBreak(t, verifyAudit(t, db), auditchain.Inserted, forged)
		// Moving the chain's start past it is found at the first entry.
		db.exec(t, "UPDATE audit_chain SET start_after_id = ?, unchained = 1", forged)
		wantBreak(t, verifyAudit(t, db), auditchain.Changed, ids[0])
		db.exec(t, "UPDATE audit_chain SET start_after_id = 0, unchained = 0")
		wantBreak(t, verifyAudit(t, db), auditchain.Inserted, forged)
		db.exec(t, "UPDATE audit_events SET seq = ?, prev_mac = ?, mac = ? WHERE id = ?", n+1,
			db.queryString(t, "SELECT mac FROM audit_events WHERE id = ?", ids[n-1]), strings.Repeat("0", 64), forged)
		wantBreak(t, verifyAudit(t, db), auditchain.Inserted, forged)
		db.exec(t, "DELETE FROM audit_events WHERE id = ?", forged)
		wantWhole(t, verifyAudit(t, db), n)

		// Deleted: the entry after the gap is named.
		db.exec(t, "DELETE FROM audit_events WHERE id = ?", ids[2])
		rep = verifyAudit(t, db)
		wantBreak(t, rep, auditchain.Deleted, ids[3])
		if !strings.Contains(rep.Break.Reason, "sequence 3") {
			t.Errorf("the break does not say which entry is missing: %q", rep.Break)
		}

		// The store still appends to the broken chain, and the break stays.
		if err := db.st.Audit(context.Background(), store.AuditEvent{RequestID: "DSR-CHAIN00001", Actor: store.ActorSystem, Action: "note", At: t0}); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, verifyAudit(t, db), auditchain.Deleted, ids[3])
	})
}

// TestAuditChainEndAndAnchors: deleting the last entries is found through
// the chain's head; rewriting the head as well is found through an anchor
// kept from an earlier verification.
func TestAuditChainEndAndAnchors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		n := writeTrail(t, db)
		rep := verifyAudit(t, db)
		wantWhole(t, rep, n)
		anchor := rep.Head
		ids := chainIDs(t, db)

		db.exec(t, "DELETE FROM audit_events WHERE id = ?", ids[n-1])
		wantBreak(t, verifyAudit(t, db), auditchain.Deleted, 0)

		// With the head rewritten too, only the anchor tells.
		db.exec(t, "UPDATE audit_chain SET seq = ?, mac = ?", n-1, db.queryString(t, "SELECT mac FROM audit_events WHERE id = ?", ids[n-2]))
		wantWhole(t, verifyAudit(t, db), n-1)
		wantBreak(t, verifyAudit(t, db, anchor), auditchain.Deleted, 0)
		if _, err := auditchain.ParseLink(anchor.String()); err != nil {
			t.Errorf("the head does not parse back: %v", err)
		}
	})
}

// TestAuditChainStartsAtTheMigration: entries written before the chain
// existed are counted as unchained, not as broken; the chain starts with
// the first entry after the migration.
func TestAuditChainStartsAtTheMigration(t *testing.T) {
	forEachEmptyDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if err := db.st.MigrateTo(ctx, 9); err != nil {
			t.Fatal(err)
		}
		db.exec(t, `INSERT INTO requests (id, type, status, email, name, received_at, due_at, regime, updated_at)
			VALUES ('DSR-OLDTRAIL01', 'access', 'received', 'ada@example.com', 'Ada', ?, ?, 'default', ?)`, t0, t0.AddDate(0, 1, 0), t0)
		for _, action := range []string{"received", "note"} {
			db.exec(t, "INSERT INTO audit_events (request_id, actor, action, detail, at) VALUES ('DSR-OLDTRAIL01', 'system', ?, '', ?)", action, t0)
		}
		mustMigrate(t, db.st)
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		moveTo(t, db, "DSR-OLDTRAIL01", domain.StatusVerifying)
		n := writeTrail(t, db) + 1

		rep := verifyAudit(t, db)
		wantWhole(t, rep, n)
		if rep.Unchained != 2 || rep.StartAfterID != 2 || rep.StartedAt.IsZero() {
			t.Errorf("the chain starts after entry %d at %v with %d unchained, want after 2 with 2", rep.StartAfterID, rep.StartedAt, rep.Unchained)
		}
		trail, _, err := db.st.AuditTrail(ctx, "DSR-OLDTRAIL01")
		if err != nil {
			t.Fatal(err)
		}
		if len(trail) != 3 || !trail[0].Unchained || !trail[1].Unchained || trail[2].Unchained || trail[2].Problem != nil {
			t.Errorf("trail: %+v", trail)
		}

		db.exec(t, "DELETE FROM audit_events WHERE id = 1")
		rep = verifyAudit(t, db)
		wantBreak(t, rep, auditchain.Deleted, 0)
		if !strings.Contains(rep.Break.Reason, "1 entries from before the chain remain, but there were 2") {
			t.Errorf("break: %v", rep.Break)
		}
	})
}

// TestAuditChainKeys: a store without a key chains with the public
// development key, which verification with the real key refuses; a
// rotated key keeps checking what it chained while it is configured.
func TestAuditChainKeys(t *testing.T) {
	ctx := context.Background()
	t.Run("development key", func(t *testing.T) {
		db := openSQLite(t, true)
		n := writeTrail(t, db)
		wantWhole(t, verifyAudit(t, db), n)
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		rep := verifyAudit(t, db)
		wantBreak(t, rep, auditchain.Unverifiable, chainIDs(t, db)[0])
		if !strings.Contains(rep.Break.Reason, "development key") {
			t.Errorf("break: %v", rep.Break)
		}
	})
	t.Run("rotation", func(t *testing.T) {
		db := openSQLite(t, true)
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		n := writeTrail(t, db)
		db.st.SetAuditKeys(auditKeys(t, auditSecretLater, auditSecret)...)
		if err := db.st.Audit(ctx, store.AuditEvent{RequestID: "DSR-CHAIN00001", Actor: store.ActorSystem, Action: "note", At: t0}); err != nil {
			t.Fatal(err)
		}
		wantWhole(t, verifyAudit(t, db), n+1)
		db.st.SetAuditKeys(auditKeys(t, auditSecretLater)...)
		rep := verifyAudit(t, db)
		wantBreak(t, rep, auditchain.Unverifiable, chainIDs(t, db)[0])
		if !strings.Contains(rep.Break.Reason, "DSAR_SECRET_KEY_PREVIOUS") {
			t.Errorf("break: %v", rep.Break)
		}
	})
}

// TestAuditChainConcurrentWriters: several processes appending at once
// (separate connection pools on one database) never fork the chain.
func TestAuditChainConcurrentWriters(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		keys := auditKeys(t, auditSecret)
		db.st.SetAuditKeys(keys...)
		create(t, db, newRequest("DSR-BUSYCHAIN1", domain.TypeAccess, t0))
		stores := []*store.Store{db.st}
		for range 3 {
			url, path := db.source, ""
			if db.dialect == store.SQLite {
				url, path = "", db.source
			}
			st, err := store.Open(ctx, url, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			st.SetAuditKeys(keys...)
			stores = append(stores, st)
		}
		const each = 15
		var wg sync.WaitGroup
		errs := make(chan error, len(stores)*each)
		for w, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- st.Audit(ctx, store.AuditEvent{RequestID: "DSR-BUSYCHAIN1", Actor: store.ActorSystem,
						Action: "note", Detail: fmt.Sprintf("writer %d, entry %d", w, i), At: t0.Add(time.Duration(i) * time.Second)})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		wantWhole(t, verifyAudit(t, db), 1+len(stores)*each)
	})
}

// TestAuditTrailChecksEachEntry: one request's export checks each of its
// entries' MAC and its link to the entry before it in the chain, which
// is often another request's.
func TestAuditTrailChecksEachEntry(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		db.st.SetAuditKeys(auditKeys(t, auditSecret)...)
		writeTrail(t, db)
		trail, chain, err := db.st.AuditTrail(ctx, "DSR-CHAIN00001")
		if err != nil {
			t.Fatal(err)
		}
		if len(trail) != 3 || chain.Head.Seq != 7 || chain.KeyID != auditKeys(t, auditSecret)[0].ID {
			t.Fatalf("trail of %d entries, chain %+v", len(trail), chain)
		}
		for _, e := range trail {
			if e.Problem != nil || e.Unchained || e.MAC == "" || (e.Seq > 1 && e.PrevMAC == "") {
				t.Errorf("entry %+v", e)
			}
		}
		// The last entry follows request 3's; delete that one, and change
		// one of request 1's own.
		last := trail[2]
		db.exec(t, "DELETE FROM audit_events WHERE seq = ?", last.Seq-1)
		db.exec(t, "UPDATE audit_events SET actor = 'someone else' WHERE id = ?", trail[1].ID)
		trail, _, err = db.st.AuditTrail(ctx, "DSR-CHAIN00001")
		if err != nil {
			t.Fatal(err)
		}
		if p := trail[2].Problem; p == nil || p.Kind != auditchain.Deleted {
			t.Errorf("the entry after a deleted one: %v", p)
		}
		if p := trail[1].Problem; p == nil || p.Kind != auditchain.Changed {
			t.Errorf("the changed entry: %v", p)
		}
		if trail[0].Problem != nil {
			t.Errorf("an untouched entry: %v", trail[0].Problem)
		}
	})
}

// TestAuditEntriesAreChainedOnlyThroughTheStore: an audit entry created
// any other way than from an AuditEvent value is refused.
func TestAuditEntriesAreChainedOnlyThroughTheStore(t *testing.T) {
	db := openSQLite(t, true)
	create(t, db, newRequest("DSR-CHAINMAP01", domain.TypeAccess, t0))
	for _, viaModel := range []bool{false, true} {
		err := db.st.CreateAuditMap(context.Background(), viaModel, map[string]any{"request_id": "DSR-CHAINMAP01", "actor": "x", "action": "y", "at": t0})
		if err == nil || !strings.Contains(err.Error(), "chained") {
			t.Errorf("a map create (through the model: %v): %v", viaModel, err)
		}
	}
	wantWhole(t, verifyAudit(t, db), 1)
}
