package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestInboundRequestsAndMailEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		at := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
		r := &store.Request{ID: "DSR-EMAIL00001", Type: domain.TypeUnclassified, Status: domain.StatusReceived,
			Email: "alan@example.com", Name: "Alan Turing", ReceivedAt: at, DueAt: at.AddDate(0, 0, 30)}
		msg := &store.InboundMessage{MessageHash: "h1", KeyID: "k", Sealed: []byte{1, 2, 3}, Size: 3}
		if err := db.st.CreateInboundRequest(ctx, r, nil, msg); err != nil {
			t.Fatal(err)
		}
		// The same post again cannot be stored twice, and nothing of it is.
		dup := &store.Request{ID: "DSR-EMAIL00002", Type: domain.TypeUnclassified, Status: domain.StatusReceived,
			Email: "alan@example.com", Name: "Alan Turing", ReceivedAt: at, DueAt: at.AddDate(0, 0, 30)}
		if err := db.st.CreateInboundRequest(ctx, dup, nil, &store.InboundMessage{MessageHash: "h1", KeyID: "k", Sealed: []byte{1}}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("a second request with the same message hash: %v, want ErrConflict", err)
		}
		if _, err := db.st.GetRequest(ctx, dup.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused duplicate's request was kept: %v", err)
		}
		if first, err := db.st.InboundByHash(ctx, "other", "h1"); err != nil || first.ID != r.ID {
			t.Errorf("InboundByHash = %v, %v", first, err)
		}
		if n, err := db.st.CountUnstarted(ctx); err != nil || n != 0 {
			t.Errorf("CountUnstarted = %d, %v; an unclassified request waits for an officer, not Temporal", n, err)
		}
		attention, err := db.st.NeedingAttention(ctx, 10)
		if err != nil || len(attention) != 1 || attention[0].ID != r.ID {
			t.Errorf("NeedingAttention = %v, %v, want the email", attention, err)
		}

		c := store.Classification{RequestID: r.ID, Type: domain.TypeAccess, DueAt: at.AddDate(0, 0, 45), Actor: "officer@example.org", At: at.Add(time.Hour)}
		if err := db.st.Classify(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != domain.TypeAccess || !got.DueAt.Equal(at.AddDate(0, 0, 45)) {
			t.Errorf("classified %s due %s", got.Type, got.DueAt)
		}
		if err := db.st.Classify(ctx, c); !errors.Is(err, store.ErrClassified) {
			t.Errorf("classified twice: %v, want ErrClassified", err)
		}
		c.RequestID = "DSR-NOSUCH0001"
		if err := db.st.Classify(ctx, c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("classify a missing request: %v, want ErrNotFound", err)
		}
		if n, err := db.st.CountUnstarted(ctx); err != nil || n != 1 {
			t.Errorf("CountUnstarted after classification = %d, %v, want 1", n, err)
		}

		bounce := store.MailEvent{EventID: "e1", RequestID: r.ID, Step: "verification", Event: store.MailBounced, Reason: "550 no such user", At: at}
		for i, want := range []bool{true, false} {
			if ok, err := db.st.RecordMailEvent(ctx, bounce, "Alan@Example.com"); err != nil || ok != want {
				t.Errorf("record %d: %v, %v; want %v", i, ok, err, want)
			}
		}
		if _, err := db.st.RecordMailEvent(ctx, store.MailEvent{EventID: "e2", RequestID: "DSR-NOSUCH0001", Step: "x", Event: store.MailDelivered, At: at}, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an event for no request: %v, want ErrNotFound", err)
		}
		got, _ = db.st.GetRequest(ctx, r.ID)
		if got.MailFailedStep != "verification" || got.MailFailedEvent != store.MailBounced {
			t.Errorf("the bounce is not on the request: %q %q", got.MailFailedStep, got.MailFailedEvent)
		}
		if es, err := db.st.MailEvents(ctx, r.ID); err != nil || len(es) != 1 {
			t.Errorf("MailEvents = %v, %v, want one", es, err)
		}
		// The step's email going out again clears the failure.
		if err := db.st.ClearMailFailure(ctx, r.ID, "verification"); err != nil {
			t.Fatal(err)
		}
		if got, _ = db.st.GetRequest(ctx, r.ID); got.MailFailedEvent != "" {
			t.Errorf("the bounce outlived the failure: %q", got.MailFailedEvent)
		}
	})
}
