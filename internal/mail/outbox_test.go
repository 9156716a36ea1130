package mail_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/storetest"
)

func TestOutboxKeepsMessages(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	now := time.Date(2025, 3, 10, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	o := &mail.Outbox{Store: st, Now: func() time.Time { return now }}

	first, err := o.Send(ctx, adaMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	second := adaMessage()
	second.Subject, second.Step = "Confirm your email address for request DSR-7K3M9Q2XHD", "verification"
	secondID, err := o.Send(ctx, second)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if first == secondID || !strings.HasPrefix(first, "outbox-") || !strings.HasPrefix(secondID, "outbox-") {
		t.Errorf("provider IDs %q, %q: want distinct outbox-<id>", first, secondID)
	}

	msgs, err := st.OutboxMessages(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("outbox holds %d messages, want 2", len(msgs))
	}
	// Newest first, as the dev page lists them.
	got, older := msgs[0], msgs[1]
	if "outbox-"+strconv.FormatInt(got.ID, 10) != secondID || "outbox-"+strconv.FormatInt(older.ID, 10) != first {
		t.Errorf("IDs %d, %d do not match provider IDs %q, %q", got.ID, older.ID, secondID, first)
	}
	m := adaMessage()
	if got.Recipient != m.To || got.Subject != second.Subject || got.TextBody != m.Text || got.HTMLBody != m.HTML ||
		got.RequestID != m.RequestID || got.Step != "verification" {
		t.Errorf("stored message = %+v, want the sent one", got)
	}
	if !got.CreatedAt.Equal(now) {
		t.Errorf("CreatedAt = %s, want %s", got.CreatedAt, now)
	}

	if msgs, err := st.OutboxMessages(ctx, 1); err != nil || len(msgs) != 1 || msgs[0].Step != "verification" {
		t.Errorf("OutboxMessages(limit 1) = %+v, %v; want only the newest", msgs, err)
	}
}
