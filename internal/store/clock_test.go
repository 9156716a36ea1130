package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestClockChangesAreRecordedOnce: a pause moves every date once; an
// extension moves the due date to the furthest date once, inside the
// first period only; overdue is flagged once, for open requests.
func TestClockChangesAreRecordedOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		received := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
		r := newRequest("DSR-CLOCK00001", domain.TypeAccess, received)
		notice, furthest := r.DueAt, r.DueAt.AddDate(0, 0, 30)
		r.ExtensionNoticeBy, r.ExtendedDueAt = &notice, &furthest
		create(t, db, r)

		for range 2 {
			got, err := db.st.PauseClock(ctx, r.ID, received, received.Add(48*time.Hour), "waited for identity proof")
			if err != nil {
				t.Fatal(err)
			}
			if !got.DueAt.Equal(notice.Add(48*time.Hour)) || !got.ExtendedDueAt.Equal(furthest.Add(48*time.Hour)) || !got.NoticeBy().Equal(notice.Add(48*time.Hour)) {
				t.Errorf("after the pause: due %v, furthest %v, notice by %v", got.DueAt, got.ExtendedDueAt, got.NoticeBy())
			}
		}
		late := store.Extension{RequestID: r.ID, Reason: "complex", Actor: "grace@example.org", At: notice.Add(49 * time.Hour)}
		if _, err := db.st.ExtendRequest(ctx, late); !errors.Is(err, store.ErrExtensionLate) {
			t.Errorf("an extension after the first period: %v", err)
		}
		e := store.Extension{RequestID: r.ID, Reason: "complex", Actor: "grace@example.org", At: received.Add(72 * time.Hour)}
		for range 2 { // a retried activity
			got, err := db.st.ExtendRequest(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if !got.DueAt.Equal(furthest.Add(48*time.Hour)) || got.ExtendedAt == nil {
				t.Errorf("extended to %v", got.DueAt)
			}
		}
		e.Reason = "again"
		if _, err := db.st.ExtendRequest(ctx, e); !errors.Is(err, store.ErrAlreadyExtended) {
			t.Errorf("a second extension: %v", err)
		}
		timeline, _ := db.st.Timeline(ctx, r.ID)
		var changes []string
		for _, ev := range timeline {
			if ev.Action == "clock_paused" || ev.Action == "extended" {
				changes = append(changes, ev.Action+": "+ev.Detail)
			}
		}
		if want := "clock_paused: waited for identity proof; due 2026-06-05|extended: due 2026-06-05 → 2026-07-05: complex"; strings.Join(changes, "|") != want {
			t.Errorf("clock changes %q, want %q", strings.Join(changes, "|"), want)
		}
		for i := range 2 {
			marked, err := db.st.MarkOverdue(ctx, r.ID, furthest.Add(49*time.Hour))
			if err != nil || marked != (i == 0) {
				t.Errorf("mark overdue #%d: %v, %v", i+1, marked, err)
			}
		}
		if got, _ := db.st.GetRequest(ctx, r.ID); got.OverdueAt == nil || !got.Overdue(furthest.Add(49*time.Hour)) {
			t.Errorf("overdue %v", got.OverdueAt)
		}
	})
}

// TestDueByListsOpenRequestsSoonestFirst: the monitor's digest reads open
// requests due before a date, soonest first, with the dates it shows
// (an extension and an overdue flag included), and no closed request.
func TestDueByListsOpenRequestsSoonestFirst(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		received := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
		late := create(t, db, newRequest("DSR-DUEBY00001", domain.TypeAccess, received.AddDate(0, 0, 2)))
		soon := newRequest("DSR-DUEBY00002", domain.TypeDeletion, received)
		soon.Regime = "ccpa"
		create(t, db, soon)
		create(t, db, newRequest("DSR-DUEBY00003", domain.TypeAccess, received.AddDate(0, 0, 40))) // due after by
		closed := create(t, db, newRequest("DSR-DUEBY00004", domain.TypeAccess, received))
		moveTo(t, db, closed.ID, domain.StatusWithdrawn)
		if _, err := db.st.MarkOverdue(ctx, soon.ID, soon.DueAt.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		got, err := db.st.DueBy(ctx, received.AddDate(0, 0, 35), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != soon.ID || got[1].ID != late.ID {
			t.Fatalf("due by: %+v, want %s then %s", got, soon.ID, late.ID)
		}
		g := got[0]
		if g.Type != domain.TypeDeletion || g.Status != domain.StatusReceived || g.Regime != "ccpa" ||
			!g.ReceivedAt.Equal(received) || !g.DueAt.Equal(soon.DueAt) || g.OverdueAt == nil || g.ExtendedAt != nil {
			t.Errorf("the first request as read: %+v", g)
		}
		if got[1].OverdueAt != nil {
			t.Errorf("the second request is not overdue: %v", got[1].OverdueAt)
		}
		if got, err := db.st.DueBy(ctx, received.AddDate(0, 0, 35), 1); err != nil || len(got) != 1 {
			t.Errorf("a limit of 1: %d requests, %v", len(got), err)
		}
	})
}
