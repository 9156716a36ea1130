package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestPackageDownloadsRunOutAndExpire(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		r := newRequest("DSR-PACKAGE001", domain.TypeAccess, now)
		if err := db.st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		p := &store.Package{ID: "p1", RequestID: r.ID, FileName: "a.zip", ContentType: "application/zip",
			KeyID: "k", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), DownloadsLeft: 2}
		if err := db.st.CreatePackage(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := db.st.PutPackageChunk(ctx, p.ID, 0, []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		// Not downloadable until complete.
		if err := db.st.TakeDownload(ctx, p.ID, now); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("download of an incomplete package: %v", err)
		}
		if _, err := db.st.RequestPackage(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an incomplete package is offered: %v", err)
		}
		if err := db.st.CompletePackage(ctx, p.ID, 6, 1, now); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := db.st.TakeDownload(ctx, p.ID, now); err != nil {
				t.Fatalf("download %d: %v", i+1, err)
			}
		}
		if err := db.st.TakeDownload(ctx, p.ID, now); !errors.Is(err, store.ErrDownloadsUsed) {
			t.Errorf("third download: %v, want ErrDownloadsUsed", err)
		}
		if err := db.st.ReturnDownload(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.st.TakeDownload(ctx, p.ID, now); err != nil {
			t.Errorf("download after one was given back: %v", err)
		}

		later := now.Add(24 * time.Hour)
		if err := db.st.TakeDownload(ctx, p.ID, later); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("download at expiry: %v, want ErrTokenExpired", err)
		}
		if n, err := db.st.RemoveExpiredPackages(ctx, now); err != nil || n != 0 {
			t.Errorf("removed %d before expiry (%v)", n, err)
		}
		if n, err := db.st.RemoveExpiredPackages(ctx, later); err != nil || n != 1 {
			t.Errorf("removed %d at expiry (%v), want 1", n, err)
		}
		if _, err := db.st.PackageChunk(ctx, p.ID, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired package's contents are still stored: %v", err)
		}
		if _, err := db.st.RequestPackage(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired package is still offered: %v", err)
		}
	})
}

func TestTasksAreCompletedOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		r := newRequest("DSR-TASKS00001", domain.TypeDeletion, now)
		if err := db.st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		want := []store.Task{{System: "paper", Kind: "manual", Instructions: "shred it"}, {System: "crm", Kind: "webhook"}}
		if _, err := db.st.EnsureTasks(ctx, r.ID, want, now); err != nil {
			t.Fatal(err)
		}
		done := store.Task{RequestID: r.ID, System: "paper", DoneBy: "grace@example.org", Note: "shredded"}
		if err := db.st.CompleteTask(ctx, done, now); err != nil {
			t.Fatal(err)
		}
		// Preparing again (an activity retry) keeps what was done.
		ts, err := db.st.EnsureTasks(ctx, r.ID, []store.Task{{System: "paper", Kind: "manual"}, {System: "crm", Kind: "webhook"}}, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 || ts[1].System != "paper" || ts[1].DoneAt == nil || ts[1].Note != "shredded" || ts[1].Instructions != "shred it" || ts[0].DoneAt != nil {
			t.Fatalf("tasks after a second prepare: %+v", ts)
		}
		if err := db.st.CompleteTask(ctx, done, now); !errors.Is(err, store.ErrTaskDone) {
			t.Errorf("second completion: %v, want ErrTaskDone", err)
		}
		if err := db.st.CompleteTask(ctx, store.Task{RequestID: r.ID, System: "payroll"}, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown task: %v, want ErrNotFound", err)
		}
		timeline, _ := db.st.Timeline(ctx, r.ID)
		n := 0
		for _, e := range timeline {
			if e.Action == "task_completed" {
				n++
				if e.Actor != "grace@example.org" || e.Detail != "paper: shredded" {
					t.Errorf("audit: %+v", e)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d task_completed events, want 1", n)
		}
	})
}

// A second opt-out of a row moves its tombstone to the second time, so a
// backup taken between the two is opted out again on restore.
func TestTombstoneTakesTheLatestTime(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		first := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
		second := first.AddDate(0, 2, 0)
		backup := first.AddDate(0, 1, 0)
		tomb := func(req string, at time.Time) store.Tombstone {
			return store.Tombstone{RequestID: req, SystemName: "shop", TableName: "newsletter", Kind: store.TombstoneOptOut,
				Hash: "h1", Action: store.TombstoneOptOut, CreatedAt: at}
		}
		if err := db.st.AddTombstones(ctx, []store.Tombstone{tomb("DSR-FIRST00001", first)}); err != nil {
			t.Fatal(err)
		}
		if ts, err := db.st.Tombstones(ctx, "shop", backup); err != nil || len(ts) != 0 {
			t.Fatalf("before the second opt-out, a backup after the first forgets %v, %v", ts, err)
		}
		if err := db.st.AddTombstones(ctx, []store.Tombstone{tomb("DSR-SECOND0001", second)}); err != nil {
			t.Fatal(err)
		}
		ts, err := db.st.Tombstones(ctx, "shop", backup)
		if err != nil || ts["newsletter/opt_out/h1"] != store.TombstoneOptOut {
			t.Errorf("after the second opt-out, the backup between them forgets %v, %v; want the row opted out again", ts, err)
		}
	})
}
