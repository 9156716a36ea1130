package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// flakySender fails its first n sends as an overloaded provider would.
type flakySender struct {
	fail int
	sent []mail.Message
}

func (f *flakySender) Send(_ context.Context, m mail.Message) (string, error) {
	if f.fail > 0 {
		f.fail--
		return "", errors.New("mail: sendgrid answered 503, will retry")
	}
	f.sent = append(f.sent, m)
	return "msg-1", nil
}

func setup(t *testing.T, sender mail.Sender) (*testsuite.TestActivityEnvironment, *store.Store, string) {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-ACTIVITY01", Type: domain.TypeAccess, Status: domain.StatusReceived,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Requests{
		Store: st, Mail: sender, Templates: renderer, Metrics: metrics.NewEmail(prometheus.NewRegistry()),
		BaseURL: "https://privacy.example.org", Organisation: "Example Ltd",
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return env, st, r.ID
}

var requests *activities.Requests

func TestSendEmailOncePerStepEvenWhenRetried(t *testing.T) {
	sender := &flakySender{fail: 1}
	env, st, id := setup(t, sender)
	email := activities.Email{RequestID: id, Kind: mail.KindVerification, VerifyLinkExpires: now.Add(7 * 24 * time.Hour)}

	if _, err := env.ExecuteActivity(requests.SendEmail, email); err == nil {
		t.Fatal("a provider outage should fail the attempt so Temporal retries it")
	}
	for range 3 { // the retry, and two more for good measure
		if _, err := env.ExecuteActivity(requests.SendEmail, email); err != nil {
			t.Fatal(err)
		}
	}
	if len(sender.sent) != 1 {
		t.Fatalf("sent %d emails for one step, want 1", len(sender.sent))
	}
	m := sender.sent[0]
	if m.To != "ada@example.com" || m.Step != "verification" || m.RequestID != id {
		t.Errorf("email %+v", m)
	}

	// The link in the email verifies the request, once.
	token := regexp.MustCompile(`/verify/([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Text)
	if token == nil {
		t.Fatalf("no verification link in:\n%s", m.Text)
	}
	r, err := st.VerifyByToken(context.Background(), auth.HashToken(token[1]), now.Add(time.Hour))
	if err != nil || r.ID != id {
		t.Fatalf("verify with the emailed link: %+v, %v", r, err)
	}
	if _, err := st.VerifyByToken(context.Background(), auth.HashToken(token[1]), now.Add(time.Hour)); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("second use: %v", err)
	}
	verified, err := env.ExecuteActivity(requests.IsVerified, id)
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if err := verified.Get(&ok); err != nil || !ok {
		t.Errorf("IsVerified = %v, %v", ok, err)
	}
}

// TestVerificationEmailsCarryACode: each verification email has a fresh
// six-digit code in both parts, which verifies the request once; a reminder
// has its own, and the earlier email's code keeps working until one is
// used.
func TestVerificationEmailsCarryACode(t *testing.T) {
	sender := &flakySender{}
	env, st, id := setup(t, sender)
	expires := now.Add(7 * 24 * time.Hour)
	for _, kind := range []mail.Kind{mail.KindVerification, mail.KindVerificationReminder} {
		if _, err := env.ExecuteActivity(requests.SendEmail, activities.Email{RequestID: id, Kind: kind, VerifyLinkExpires: expires}); err != nil {
			t.Fatal(err)
		}
	}
	if len(sender.sent) != 2 {
		t.Fatalf("sent %d emails, want 2", len(sender.sent))
	}
	codeIn := regexp.MustCompile(`\b(\d{3}) (\d{3})\b`)
	var codes []string
	for _, m := range sender.sent {
		text, html := codeIn.FindStringSubmatch(m.Text), codeIn.FindStringSubmatch(m.HTML)
		if text == nil || html == nil || text[0] != html[0] {
			t.Fatalf("%s: code %v in the text, %v in the HTML:\n%s", m.Step, text, html, m.Text)
		}
		codes = append(codes, text[1]+text[2])
	}
	r, err := st.VerifyByCode(context.Background(), id, codes[0], now.Add(time.Hour))
	if err != nil || r.VerifiedAt == nil {
		t.Fatalf("the first email's code: %+v, %v", r, err)
	}
	if _, err := st.VerifyByCode(context.Background(), id, codes[1], now.Add(time.Hour)); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("a code after verification: %v, want ErrTokenUsed", err)
	}
}

func TestSetStatusIsIdempotentAndRefusesForbiddenMoves(t *testing.T) {
	env, st, id := setup(t, &flakySender{})
	change := activities.StatusChange{RequestID: id, To: domain.StatusVerifying, Actor: store.ActorSystem}
	for range 2 {
		if _, err := env.ExecuteActivity(requests.SetStatus, change); err != nil {
			t.Fatal(err)
		}
	}
	timeline, err := st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	moves := 0
	for _, e := range timeline {
		if e.Action == "status" {
			moves++
		}
	}
	if moves != 1 {
		t.Errorf("a repeated change was audited %d times", moves)
	}

	_, err = env.ExecuteActivity(requests.SetStatus, activities.StatusChange{RequestID: id, To: domain.StatusCompleted, Actor: "grace@example.org"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInvalidTransition || !appErr.NonRetryable() {
		t.Errorf("verifying → completed: %v, want a non-retryable %s", err, activities.ErrTypeInvalidTransition)
	}
	_, err = env.ExecuteActivity(requests.SetStatus, activities.StatusChange{RequestID: "DSR-NOSUCHREQ", To: domain.StatusVerifying})
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeNotFound {
		t.Errorf("unknown request: %v", err)
	}
}

// A German request's emails are German throughout, dates included, and
// name the organisation and how to reach its privacy team: the email
// activity reads the language stored with the request.
func TestEmailsSpeakTheRequestersLanguage(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-GERMAN0001", Type: domain.TypeDeletion, Status: domain.StatusReceived, Language: "de",
		Email: "ada@example.de", Name: "Ada Lovelace", ReceivedAt: now, DueAt: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	until := time.Date(2033, 12, 31, 0, 0, 0, 0, time.UTC)
	if err := st.SaveFulfilment(ctx, r.ID, domain.Fulfilment{Complete: true, Rows: 5, Systems: 1, Erased: []domain.ErasedTable{
		{System: "shop", Table: "customers", Deleted: 1},
		{System: "shop", Table: "invoices", Retained: 4, RetainedUntil: until, Basis: "HGB § 257"},
	}}, now); err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	sender := &flakySender{}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Requests{
		Store: st, Mail: sender, Templates: renderer, Metrics: metrics.NewEmail(prometheus.NewRegistry()),
		BaseURL: "https://privacy.example.org", Organisation: "Beispiel GmbH",
		Contact: mail.Contact{PrivacyEmail: "datenschutz@beispiel.de", PrivacyAddress: "Beispiel GmbH, Hauptstraße 1, 10115 Berlin",
			PrivacyNoticeURL: "https://beispiel.de/datenschutz"},
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	expires := time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC)
	for _, e := range []activities.Email{
		{RequestID: r.ID, Kind: mail.KindVerification, VerifyLinkExpires: expires},
		{RequestID: r.ID, Kind: mail.KindCompleted},
	} {
		if _, err := env.ExecuteActivity(requests.SendEmail, e); err != nil {
			t.Fatal(err)
		}
	}
	if len(sender.sent) != 2 {
		t.Fatalf("sent %d emails, want 2", len(sender.sent))
	}
	common := []string{"Guten Tag Ada Lovelace,", "Beispiel GmbH", "datenschutz@beispiel.de", "Hauptstraße 1, 10115 Berlin",
		"https://beispiel.de/datenschutz", "Aktenzeichen: DSR-GERMAN0001"}
	want := [][]string{
		{"Bestätigen Sie Ihre E-Mail-Adresse für die Anfrage DSR-GERMAN0001", "verfallen am 8. Juni 2026, 12:00 Uhr UTC"},
		{"Ihre Datenschutzanfrage DSR-GERMAN0001 ist abgeschlossen", "Wir haben Ihre Anfrage abgeschlossen: Meine Daten löschen.",
			"shop / customers: 1 gelöscht", "shop / invoices: 4 aufbewahrt bis zum 31. Dezember 2033 (HGB § 257)",
			"schreiben Sie unserem Datenschutzteam an datenschutz@beispiel.de"},
	}
	for i, m := range sender.sent {
		for _, w := range append(slices.Clone(common), want[i]...) {
			if !strings.Contains(m.Subject+"\n"+m.Text, w) {
				t.Errorf("email %d lacks %q:\n%s\n%s", i, w, m.Subject, m.Text)
			}
		}
		for _, english := range []string{"Dear ", "Reference", "December", "June", "you may contact us"} {
			if strings.Contains(m.Text, english) || strings.Contains(m.HTML, english) {
				t.Errorf("email %d has English %q:\n%s", i, english, m.Text)
			}
		}
		if !strings.Contains(m.HTML, `<html lang="de">`) {
			t.Errorf("email %d: HTML part is not marked German", i)
		}
	}
}
