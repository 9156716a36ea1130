package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestBreachRecipientsAreClaimedSentAndSettledOnce: people are stored
// once however often the search is retried; batches are claimed in order,
// released when refused, marked when sent; a batch left claimed counts as
// uncertain until an officer settles it.
func TestBreachRecipientsAreClaimedSentAndSettledOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		b := &store.Breach{ID: "BRE-STORE0001", Title: "t", Description: "d", AwareAt: now.Add(-time.Hour),
			Systems: []string{"shop"}, Categories: []string{}, Risk: domain.RiskHigh, RecordedBy: "grace@example.org", CreatedAt: now}
		if err := db.st.CreateBreach(ctx, b); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.st.GetBreach(ctx, b.ID); !got.DeadlineAt.Equal(now.Add(71 * time.Hour)) {
			t.Errorf("deadline %v, want awareness + 72 hours", got.DeadlineAt)
		}
		people := func() []store.BreachRecipient {
			var ps []store.BreachRecipient
			for i := range 25 {
				ps = append(ps, store.BreachRecipient{Email: fmt.Sprintf("p%02d@example.com", i), Records: 2})
			}
			return ps
		}
		for range 2 { // a retried search keeps the first list
			if n, recs, err := db.st.SetAffected(ctx, b.ID, people(), now); err != nil || n != 25 || recs != 50 {
				t.Fatalf("set affected: %d, %d, %v", n, recs, err)
			}
		}
		claim := func() (int, []store.BreachRecipient) {
			t.Helper()
			batch, rs, err := db.st.ClaimBatch(ctx, b.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			return batch, rs
		}
		b1, rs := claim()
		if len(rs) != 10 || rs[0].Email != "p00@example.com" || rs[9].Email != "p09@example.com" {
			t.Fatalf("first batch %d: %+v", b1, rs)
		}
		if err := db.st.MarkBatchSent(ctx, b.ID, b1, now); err != nil {
			t.Fatal(err)
		}
		b2, rs := claim()
		if rs[0].Email != "p10@example.com" {
			t.Fatalf("second batch starts at %s", rs[0].Email)
		}
		if err := db.st.ReleaseBatch(ctx, b.ID, b2); err != nil { // SendGrid refused it
			t.Fatal(err)
		}
		b2, rs = claim()
		if rs[0].Email != "p10@example.com" || len(rs) != 10 {
			t.Fatalf("a released batch is not claimed again first: %+v", rs)
		}
		// The process dies during that batch's send: it stays claimed.
		// The next attempt goes on with the rest.
		b3, rs := claim()
		if len(rs) != 5 || b3 == b2 {
			t.Fatalf("last batch %d (after %d): %d people", b3, b2, len(rs))
		}
		if err := db.st.MarkBatchSent(ctx, b.ID, b3, now); err != nil {
			t.Fatal(err)
		}
		if _, rs := claim(); len(rs) != 0 {
			t.Fatalf("claimed %d with nobody pending", len(rs))
		}
		if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: 25, Sent: 15, Sending: 10}) {
			t.Errorf("progress %+v", p)
		}
		if err := db.st.OrphanedToUncertain(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: 25, Sent: 15, Uncertain: 10}) {
			t.Errorf("progress %+v", p)
		}
		if n, err := db.st.ResolveUncertain(ctx, b.ID, true, "grace@example.org", now); err != nil || n != 10 {
			t.Fatalf("resend uncertain: %d, %v", n, err)
		}
		b4, rs := claim()
		if len(rs) != 10 || rs[0].Email != "p10@example.com" {
			t.Fatalf("resent batch: %+v", rs)
		}
		if err := db.st.FailBatch(ctx, b.ID, b4, "sendgrid answered 400: invalid email", now); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: 25, Sent: 15, Failed: 10}) {
			t.Errorf("progress %+v", p)
		}
	})
}

// TestBreachBatchesClaimedSideBySideAreDisjoint: a fan-out's lanes claim
// at the same time; each person lands in exactly one batch and no claim
// comes back empty while people are still pending.
func TestBreachBatchesClaimedSideBySideAreDisjoint(t *testing.T) {
	db := openPostgres(t, true)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	b := &store.Breach{ID: "BRE-STORE0003", Title: "t", Description: "d", AwareAt: now.Add(-time.Hour),
		Systems: []string{"shop"}, Categories: []string{}, Risk: domain.RiskHigh, RecordedBy: "grace@example.org", CreatedAt: now}
	if err := db.st.CreateBreach(ctx, b); err != nil {
		t.Fatal(err)
	}
	const people = 2000
	var ps []store.BreachRecipient
	for i := range people {
		ps = append(ps, store.BreachRecipient{Email: fmt.Sprintf("p%04d@example.com", i), Records: 1})
	}
	if _, _, err := db.st.SetAffected(ctx, b.ID, ps, now); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	batches := map[int]bool{}
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			for {
				batch, rs, err := db.st.ClaimBatch(ctx, b.ID, 7)
				if err != nil || len(rs) == 0 {
					return err
				}
				mu.Lock()
				if batches[batch] {
					mu.Unlock()
					return fmt.Errorf("batch %d claimed twice", batch)
				}
				batches[batch] = true
				for _, r := range rs {
					got[r.Email]++
				}
				mu.Unlock()
				if err := db.st.MarkBatchSent(ctx, b.ID, batch, now); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(got) != people {
		t.Errorf("%d of %d people claimed", len(got), people)
	}
	for email, n := range got {
		if n != 1 {
			t.Errorf("%s claimed %d times", email, n)
		}
	}
	if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: people, Sent: people}) {
		t.Errorf("progress %+v", p)
	}
}

// TestFanOutBegunBeforeBatchesGoesOnAfterTheMigration: a fan-out under
// way when batches began to be recorded (migration 0027) keeps what each
// person's row said: the sent stay sent, the one in flight stays
// claimed, and the rest (released ones included) are claimed once each.
func TestFanOutBegunBeforeBatchesGoesOnAfterTheMigration(t *testing.T) {
	forEachEmptyDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if err := db.st.MigrateTo(ctx, 26); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		b := &store.Breach{ID: "BRE-STORE0009", Title: "t", Description: "d", AwareAt: now.Add(-time.Hour),
			Systems: []string{"shop"}, Categories: []string{}, Risk: domain.RiskHigh, RecordedBy: "grace@example.org", CreatedAt: now}
		if err := db.st.CreateBreach(ctx, b); err != nil {
			t.Fatal(err)
		}
		var ps []store.BreachRecipient
		for i := range 25 {
			ps = append(ps, store.BreachRecipient{Email: fmt.Sprintf("p%02d@example.com", i+1), Records: 1})
		}
		if _, _, err := db.st.SetAffected(ctx, b.ID, ps, now); err != nil {
			t.Fatal(err)
		}
		// 1-5 sent, 6-10 released by a refusal, 11-15 in flight.
		db.exec(t, "UPDATE breach_recipients SET state = 'sent', batch = 1, sent_at = ? WHERE seq <= 5", now)
		db.exec(t, "UPDATE breach_recipients SET state = 'sending', batch = 11 WHERE seq BETWEEN 11 AND 15")
		mustMigrate(t, db.st)

		if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: 25, Sent: 5, Sending: 5}) {
			t.Errorf("progress after the migration: %+v", p)
		}
		claimed := map[string]int{}
		for {
			batch, rs, err := db.st.ClaimBatch(ctx, b.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			for _, r := range rs {
				claimed[r.Email]++
			}
			if err := db.st.MarkBatchSent(ctx, b.ID, batch, now); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 25; i++ {
			email, want := fmt.Sprintf("p%02d@example.com", i), 1
			if i <= 5 || (i >= 11 && i <= 15) {
				want = 0
			}
			if claimed[email] != want {
				t.Errorf("%s claimed %d times, want %d", email, claimed[email], want)
			}
		}
		if err := db.st.OrphanedToUncertain(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.st.Progress(ctx, b.ID); p != (store.FanOutProgress{Total: 25, Sent: 20, Uncertain: 5}) {
			t.Errorf("progress at the end: %+v", p)
		}
	})
}

// TestBreachNoticeAndAuthorityAreRecordedOnce: the same record twice is a
// repeat; a different one is refused.
func TestBreachNoticeAndAuthorityAreRecordedOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		b := &store.Breach{ID: "BRE-STORE0002", Title: "t", Description: "d", AwareAt: now,
			Systems: []string{"shop"}, Categories: []string{}, Risk: domain.RiskLow, RecordedBy: "grace@example.org", CreatedAt: now}
		if err := db.st.CreateBreach(ctx, b); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := db.st.ApproveNotice(ctx, b.ID, "s", "text", "grace@example.org", now); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.st.ApproveNotice(ctx, b.ID, "s", "other", "grace@example.org", now); !errors.Is(err, store.ErrNoticeApproved) {
			t.Errorf("a second notice: %v", err)
		}
		n := store.AuthorityNotice{BreachID: b.ID, Authority: "ICO", Reference: "R1", NotifiedAt: now, Actor: "grace@example.org", At: now}
		for range 2 {
			if err := db.st.RecordAuthority(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		n.Reference = "R2"
		if err := db.st.RecordAuthority(ctx, n); !errors.Is(err, store.ErrAuthorityNotified) {
			t.Errorf("a second notification: %v", err)
		}
		got, _ := db.st.GetBreach(ctx, b.ID)
		if !got.NotifiesSubjects() || got.AuthorityReference != "R1" || got.Overdue(now.Add(100*time.Hour)) {
			t.Errorf("stored %+v", got)
		}
		if ok, _ := db.st.SetBreachTime(ctx, b.ID, "closed_at", "system", "done", now); !ok {
			t.Error("closing did not close")
		}
		if ok, _ := db.st.SetBreachTime(ctx, b.ID, "closed_at", "system", "done", now); ok {
			t.Error("closing twice closed twice")
		}
		if _, err := db.st.SetBreachTime(ctx, b.ID, "title", "system", "x", now); err == nil {
			t.Error("a column that is no milestone was set")
		}
	})
}
