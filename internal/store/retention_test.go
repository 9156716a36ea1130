package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestResumedOutcomeAddsUpAndSurvivesADeferralAgain: what each resumption
// of a deferred erasure did is added up; deferring the system again (a
// new hold covers part of it) keeps what was already done.
func TestResumedOutcomeAddsUpAndSurvivesADeferralAgain(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		r := newRequest("DSR-DEFERRED01", domain.TypeDeletion, now)
		if err := db.st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		d := store.DeferredErasure{RequestID: r.ID, SystemName: "shop", HoldIDs: []string{"HLD-1"}, Tables: []string{"support_tickets"}, DeferredAt: now}
		if err := db.st.Defer(ctx, d); err != nil {
			t.Fatal(err)
		}
		all, err := db.st.DeferredAll(ctx, r.ID)
		if err != nil || len(all) != 1 || all[0].Outcome != nil {
			t.Fatalf("before resuming: %+v, %v; want one deferral without outcome", all, err)
		}
		until := now.AddDate(7, 0, 0)
		if err := db.st.SaveOutcome(ctx, r.ID, "shop", []domain.ErasedTable{{System: "shop", Table: "support_tickets", Deleted: 2}}); err != nil {
			t.Fatal(err)
		}
		d.HoldIDs = []string{"HLD-2"}
		if err := db.st.Defer(ctx, d); err != nil { // a second hold still covers part of it
			t.Fatal(err)
		}
		if err := db.st.SaveOutcome(ctx, r.ID, "shop", []domain.ErasedTable{
			{System: "shop", Table: "support_tickets", Deleted: 1},
			{System: "shop", Table: "invoices", Retained: 3, RetainedUntil: until, Basis: "tax law"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.st.Resumed(ctx, r.ID, "shop", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if waiting, err := db.st.Deferred(ctx, r.ID); err != nil || len(waiting) != 0 {
			t.Errorf("still waiting after resuming: %+v, %v", waiting, err)
		}
		all, err = db.st.DeferredAll(ctx, r.ID)
		if err != nil || len(all) != 1 || all[0].ResumedAt == nil || all[0].Outcome == nil {
			t.Fatalf("after resuming: %+v, %v", all, err)
		}
		got := all[0].Outcome.Tables
		if len(got) != 2 || got[0].Table != "support_tickets" || got[0].Deleted != 3 ||
			got[1].Table != "invoices" || got[1].Retained != 3 || !got[1].RetainedUntil.Equal(until) || got[1].Basis != "tax law" {
			t.Errorf("outcome %+v; want 3 tickets deleted and 3 invoices retained until %s", got, until)
		}
		if all[0].HoldIDs[0] != "HLD-2" {
			t.Errorf("holds %v; want the last that deferred it", all[0].HoldIDs)
		}
	})
}
