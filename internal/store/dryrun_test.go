package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestDryRunIsReplacedConfirmedOnceAndAudited(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
		r := newRequest("DSR-DRYRUN0001", domain.TypeDeletion, now)
		if err := db.st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.GetDryRun(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no dry run yet: %v", err)
		}
		first := store.DryRun{RequestID: r.ID, ID: "d1", KeyID: "k", Sealed: []byte("sealed 1"), CreatedAt: now, CreatedBy: "dpo@example.com"}
		for range 2 { // a retried activity saves it again
			if err := db.st.SaveDryRun(ctx, first, "delete 3 rows"); err != nil {
				t.Fatal(err)
			}
		}
		second := first
		second.ID, second.Sealed, second.CreatedAt = "d2", []byte("sealed 2"), now.Add(time.Minute)
		if err := db.st.SaveDryRun(ctx, second, "delete 2 rows"); err != nil {
			t.Fatal(err)
		}
		got, err := db.st.GetDryRun(ctx, r.ID)
		if err != nil || got.ID != "d2" || string(got.Sealed) != "sealed 2" || got.ConfirmedAt != nil {
			t.Fatalf("latest dry run = %+v, %v; want d2, unconfirmed", got, err)
		}
		// Confirming the older one does nothing; the current one, once.
		if err := db.st.ConfirmDryRun(ctx, r.ID, "d1", "dpo@example.com", now); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := db.st.ConfirmDryRun(ctx, r.ID, "d2", "dpo@example.com", now.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ = db.st.GetDryRun(ctx, r.ID)
		if got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(now.Add(2*time.Minute)) || got.ConfirmedBy != "dpo@example.com" {
			t.Errorf("confirmed = %v by %q", got.ConfirmedAt, got.ConfirmedBy)
		}
		events, err := db.st.Timeline(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, e := range events {
			if e.Action == "dry_run" || e.Action == "dry_run_confirmed" {
				trail = append(trail, e.Action+": "+e.Detail)
			}
		}
		want := []string{"dry_run: dry run d1: delete 3 rows", "dry_run: dry run d2: delete 2 rows", "dry_run_confirmed: dry run d2 confirmed"}
		if len(trail) != len(want) {
			t.Fatalf("audit trail %q, want %q", trail, want)
		}
		for i := range want {
			if trail[i] != want[i] {
				t.Errorf("audit trail %q, want %q", trail, want)
			}
		}
	})
}
