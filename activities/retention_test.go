package activities_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

// TestOptOutHeldByALegalHoldIsDeletedWhenTheHoldEnds: a hold keeps Ada's
// newsletter subscription from the deletion her opt-out asks; the
// opt-out is deferred like a deletion, and once the hold is released
// aftercare deletes the subscription, records what it did, and says the
// requester is owed the email that the hold ended, until it is sent.
func TestOptOutHeldByALegalHoldIsDeletedWhenTheHoldEnds(t *testing.T) {
	ctx := context.Background()
	shop := "sqlite:" + filepath.Join(t.TempDir(), "shop.db")
	m, err := demo.Prepare(ctx, shop, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	systems := datamap.NewSystems(m)
	t.Cleanup(systems.Close)
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-OPTOUTHOLD", Type: domain.TypeOptOut, Status: domain.StatusFulfilling,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	hold := &store.LegalHold{ID: "HLD-NEWS", Scope: domain.HoldTable, SystemName: "shop", TableName: "newsletter_subscriptions",
		Reason: "Complaint about consent records", PlacedBy: "grace@example.org", PlacedAt: now}
	if err := st.PlaceHold(ctx, hold); err != nil {
		t.Fatal(err)
	}
	clock := now
	sealer, _ := export.NewSealer(strings.Repeat("k", 40))
	a := &activities.Fulfilment{Store: st, Systems: systems, Sealer: sealer, Now: func() time.Time { return clock },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	subscriptions := func() int {
		db, _, err := datamap.OpenSQL(shop)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM newsletter_subscriptions WHERE email = ?`, r.Email).Scan(&n); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return n
	}
	if subscriptions() != 1 {
		t.Fatalf("Ada has %d newsletter subscriptions in the demo, want 1", subscriptions())
	}

	done, err := a.Fulfil(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !done.Aftercare {
		t.Error("an opt-out a hold partly stopped has no aftercare: the held subscription would stay for ever")
	}
	if n := subscriptions(); n != 1 {
		t.Errorf("%d subscriptions left while the hold is in force, want 1", n)
	}
	ac, err := a.Aftercare(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ac.Remaining || ac.HoldsEnded {
		t.Errorf("while held: %+v; want something remaining and no email due", ac)
	}

	clock = now.Add(48 * time.Hour)
	if _, err := st.ReleaseHold(ctx, hold.ID, "grace@example.org", clock); err != nil {
		t.Fatal(err)
	}
	ac, err = a.Aftercare(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := subscriptions(); n != 0 {
		t.Errorf("%d subscriptions left after the hold's release, want 0", n)
	}
	if ac.Remaining || !ac.HoldsEnded {
		t.Errorf("after the release: %+v; want nothing remaining and the email due", ac)
	}
	all, err := st.DeferredAll(ctx, r.ID)
	if err != nil || len(all) != 1 || all[0].ResumedAt == nil || !all[0].ResumedAt.Equal(clock) || all[0].Outcome == nil {
		t.Fatalf("deferrals %+v, %v; want one resumed at the release with its outcome", all, err)
	}
	if got := all[0].Outcome.Tables; len(got) != 1 || got[0].Table != "newsletter_subscriptions" || got[0].Deleted != 1 {
		t.Errorf("outcome %+v; want the subscription deleted", got)
	}
	// A retry or a replay asks again: the email is still due until sent,
	// then never again.
	if ac, err = a.Aftercare(ctx, r.ID); err != nil || !ac.HoldsEnded {
		t.Errorf("asked again before the email went: %+v, %v", ac, err)
	}
	if err := st.RecordEmailSent(ctx, store.SentEmail{RequestID: r.ID, Step: string(mail.KindHoldReleased), SentAt: clock}); err != nil {
		t.Fatal(err)
	}
	if ac, err = a.Aftercare(ctx, r.ID); err != nil || ac.HoldsEnded {
		t.Errorf("asked again after the email went: %+v, %v", ac, err)
	}
}
