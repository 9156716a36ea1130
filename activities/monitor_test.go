package activities_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/store"
)

func TestDigestListsEmailsToClassifyAndBouncedEmails(t *testing.T) {
	ctx := context.Background()
	sender := &flakySender{}
	env, st, id := setup(t, sender)
	if err := st.CreateOfficer(ctx, &store.Officer{Email: "officer@example.org", Role: store.RoleOfficer, PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// An email nobody has classified yet, due beyond the digest's window.
	email := &store.Request{ID: "DSR-EMAIL00001", Type: domain.TypeUnclassified, Status: domain.StatusReceived,
		Email: "alan@example.com", Name: "Alan Turing", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, email, nil); err != nil {
		t.Fatal(err)
	}
	// The access request's verification email bounced.
	if ok, err := st.RecordMailEvent(ctx, store.MailEvent{EventID: "ev-1", RequestID: id, Step: "verification", Event: store.MailBounced,
		Reason: "550 no such user", At: now}, "ADA@example.com"); err != nil || !ok {
		t.Fatalf("record bounce: %v %v", ok, err)
	}
	env.RegisterActivity(&activities.Monitor{Requests: requestsFor(t, st, sender), Window: 7 * 24 * time.Hour})
	var monitor *activities.Monitor
	val, err := env.ExecuteActivity(monitor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var rep activities.DigestReport
	if err := val.Get(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Unclassified != 1 || rep.Undelivered != 1 || rep.Sent != 1 {
		t.Errorf("digest report %+v, want one email to classify, one undelivered, sent to the one officer", rep)
	}
	if len(sender.sent) != 1 {
		t.Fatalf("%d digests sent, want 1", len(sender.sent))
	}
	text := sender.sent[0].Text
	for _, want := range []string{"DSR-EMAIL00001", "needs classification", id, "verification email bounced"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, text)
		}
	}
	for _, secret := range []string{"alan@example.com", "ada@example.com", "no such user"} {
		if strings.Contains(text, secret) {
			t.Errorf("the digest holds %q", secret)
		}
	}
}

func requestsFor(t *testing.T, st *store.Store, sender mail.Sender) *activities.Requests {
	t.Helper()
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return &activities.Requests{
		Store: st, Mail: sender, Templates: renderer, Metrics: metrics.NewEmail(prometheus.NewRegistry()),
		BaseURL: "https://privacy.example.org", Organisation: "Example Ltd",
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}
