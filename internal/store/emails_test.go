package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestRecordEmailSentIsIdempotent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-MAIL000001", domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-MAIL000002", domain.TypeAccess, t0))

		sent := func(id, step string) bool {
			t.Helper()
			ok, err := db.st.EmailSent(ctx, id, step)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if sent("DSR-MAIL000001", "acknowledgement") {
			t.Fatal("EmailSent before anything was sent")
		}
		first := store.SentEmail{RequestID: "DSR-MAIL000001", Step: "acknowledgement", ProviderID: "sg-first", SentAt: t0}
		if err := db.st.RecordEmailSent(ctx, first); err != nil {
			t.Fatalf("RecordEmailSent: %v", err)
		}
		if !sent("DSR-MAIL000001", "acknowledgement") {
			t.Error("EmailSent = false after RecordEmailSent")
		}
		// A retried activity records again: no error, the first record stays.
		again := store.SentEmail{RequestID: "DSR-MAIL000001", Step: "acknowledgement", ProviderID: "sg-second", SentAt: t0.Add(time.Minute)}
		if err := db.st.RecordEmailSent(ctx, again); err != nil {
			t.Fatalf("second RecordEmailSent = %v, want nil", err)
		}
		if n := db.count(t, "sent_emails", "request_id = ? AND step = ?", "DSR-MAIL000001", "acknowledgement"); n != 1 {
			t.Errorf("%d rows for one step, want 1", n)
		}
		if p := db.queryString(t, "SELECT provider_id FROM sent_emails WHERE request_id = ? AND step = ?", "DSR-MAIL000001", "acknowledgement"); p != "sg-first" {
			t.Errorf("provider_id = %q, want the first record's", p)
		}
		// Steps and requests are independent.
		if sent("DSR-MAIL000001", "verification") {
			t.Error("another step counts as sent")
		}
		if sent("DSR-MAIL000002", "acknowledgement") {
			t.Error("another request's step counts as sent")
		}
	})
}

func TestRecordEmailSentUnknownRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		err := db.st.RecordEmailSent(context.Background(), store.SentEmail{RequestID: "DSR-NOSUCH0000", Step: "acknowledgement", SentAt: t0})
		if err == nil {
			t.Error("RecordEmailSent for a request that does not exist succeeded")
		}
	})
}

func TestOutboxMessages(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if ms, err := db.st.OutboxMessages(ctx, 10); err != nil || len(ms) != 0 {
			t.Fatalf("empty outbox = %v, %v", ms, err)
		}
		for i := range 3 {
			m := &store.OutboxMessage{
				RequestID: "DSR-OUTBOX0001", Step: fmt.Sprint("step", i), Recipient: "ada@example.com",
				Subject: fmt.Sprint("Subject ", i), TextBody: "Dear Ada Lovelace,", HTMLBody: "<p>Dear Ada Lovelace,</p>",
				CreatedAt: t0.Add(time.Duration(i) * time.Minute),
			}
			if err := db.st.AddOutboxMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			if m.ID == 0 {
				t.Error("AddOutboxMessage did not set the ID")
			}
		}
		ms, err := db.st.OutboxMessages(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[0].Subject != "Subject 2" || ms[1].Subject != "Subject 1" {
			t.Fatalf("OutboxMessages(2) = %+v, want the two newest, newest first", ms)
		}
		m := ms[0]
		if m.Recipient != "ada@example.com" || m.Step != "step2" || m.RequestID != "DSR-OUTBOX0001" ||
			m.TextBody != "Dear Ada Lovelace," || m.HTMLBody != "<p>Dear Ada Lovelace,</p>" {
			t.Errorf("stored message = %+v", m)
		}
		sameTime(t, "CreatedAt", m.CreatedAt, t0.Add(2*time.Minute))
	})
}
