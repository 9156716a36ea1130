package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/sendgridtest"
	"github.com/dsar-project/dsar/internal/store"
)

func eventHarness(t *testing.T) (*harness, *sendgridtest.EventSigner, string) {
	t.Helper()
	signer, err := sendgridtest.NewEventSigner()
	if err != nil {
		t.Fatal(err)
	}
	key, err := config.ParseEventWebhookKey(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, false, func(c *config.Config) { c.EventWebhookKey = key })
	r := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"ada@example.com","name":"Ada Lovelace"}`)
	var created requestCreated
	r.json(t, &created)
	return h, signer, created.ID
}

func (h *harness) mailEvents(id string) []store.MailEvent {
	h.t.Helper()
	es, err := h.store.MailEvents(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

func TestEventWebhookRecordsSignedEventsAgainstEmailSteps(t *testing.T) {
	h, signer, id := eventHarness(t)
	verification := sendgridtest.Mail{To: "ada@example.com", RequestID: id, Step: "verification"}
	ack := sendgridtest.Mail{To: "ada@example.com", RequestID: id, Step: "acknowledgement"}
	alert := sendgridtest.Mail{To: "officer@example.org", RequestID: id, Step: "officer_reminder"}
	bounce := sendgridtest.Event(verification, "bounce", "550 5.1.1 The email account that you tried to reach does not exist", testNow)
	events := []map[string]any{
		sendgridtest.Event(ack, "delivered", "", testNow),
		bounce,
		sendgridtest.Event(alert, "dropped", "Bounced Address", testNow),
		sendgridtest.Event(verification, "open", "", testNow), // not recorded
		{"event": "delivered", "email": "someone@example.com", "timestamp": testNow.Unix(), "sg_event_id": "no-request"},
	}
	resp, err := signer.Post(h.srv.URL+"/events/sendgrid", events, testNow)
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, resp)
	if got.code != http.StatusOK || got.body != `{"recorded":3}`+"\n" {
		t.Fatalf("signed events: %d %s, want 200 and three recorded", got.code, got.body)
	}
	r, err := h.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.MailFailedStep != "verification" || r.MailFailedEvent != "bounce" || !strings.Contains(r.MailFailure, "does not exist") {
		t.Errorf("the bounce is not on the request: %q %q %q", r.MailFailedStep, r.MailFailedEvent, r.MailFailure)
	}
	api := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+id, "")
	var detail officerRequest
	api.json(t, &detail)
	if detail.MailFailure == nil || detail.MailFailure.Event != "bounce" || detail.MailFailure.Step != "verification" || len(detail.MailEvents) != 3 {
		t.Errorf("the API shows %+v and %d events, want the bounced verification and three events", detail.MailFailure, len(detail.MailEvents))
	}
	// It cannot be sent again (the workflow knows of no refused send), and
	// asking changes no address.
	if res := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+id+"/resend-email", `{"email":"ada@example.net"}`); res.code != http.StatusConflict || !strings.Contains(res.body, "reported bounce") {
		t.Errorf("resend after a bounce: %d %s, want 409 saying why", res.code, res.body)
	}
	if r, _ := h.store.GetRequest(context.Background(), id); r.Email != "ada@example.com" {
		t.Errorf("a refused resend changed the address to %q", r.Email)
	}
	// The officer's dropped alert is recorded but is not the requester's.
	timeline, err := h.store.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range timeline {
		if strings.HasPrefix(e.Action, "email_") {
			audited++
			if strings.Contains(e.Detail, "ada@") || strings.Contains(e.Detail, "does not exist") {
				t.Errorf("the audit trail keeps the address or reason: %q", e.Detail)
			}
		}
	}
	if audited != 1 {
		t.Errorf("%d email events audited, want the bounce only", audited)
	}

	// SendGrid posting the same events again, freshly signed, records nothing.
	resp, err = signer.Post(h.srv.URL+"/events/sendgrid", []map[string]any{bounce}, testNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again := read(t, resp); again.code != http.StatusOK || again.body != `{"recorded":0}`+"\n" || len(h.mailEvents(id)) != 3 {
		t.Errorf("a repeated event: %d %s, want recorded 0", again.code, again.body)
	}
}

func TestEventWebhookRefusesUnsignedForgedAndStalePosts(t *testing.T) {
	h, signer, id := eventHarness(t)
	other, err := sendgridtest.NewEventSigner()
	if err != nil {
		t.Fatal(err)
	}
	m := sendgridtest.Mail{To: "ada@example.com", RequestID: id, Step: "verification"}
	body, err := json.Marshal([]map[string]any{sendgridtest.Event(m, "bounce", "550 no such user", testNow)})
	if err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(testNow.Unix(), 10)
	old := strconv.FormatInt(testNow.Add(-time.Hour).Unix(), 10)
	future := strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)
	for name, c := range map[string]struct {
		sig, ts string
		body    []byte
		code    int
	}{
		"unsigned":               {"", "", body, http.StatusUnauthorized},
		"no timestamp":           {signer.Sign(now, body), "", body, http.StatusUnauthorized},
		"another key":            {other.Sign(now, body), now, body, http.StatusForbidden},
		"body changed":           {signer.Sign(now, body), now, []byte(strings.Replace(string(body), "bounce", "delivered", 1)), http.StatusForbidden},
		"signature of garbage":   {"bm90IGEgc2lnbmF0dXJl", now, body, http.StatusForbidden},
		"replayed an hour later": {signer.Sign(old, body), old, body, http.StatusForbidden},
		"from the future":        {signer.Sign(future, body), future, body, http.StatusForbidden},
		"timestamp not a number": {signer.Sign("now", body), "now", body, http.StatusForbidden},
	} {
		r := h.do("POST", "/events/sendgrid", "application/json", string(c.body),
			mail.EventSignatureHeader, c.sig, mail.EventTimestampHeader, c.ts)
		if r.code != c.code || !strings.Contains(r.body, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error", name, r.code, r.body, c.code)
		}
	}
	bad := []byte(`{"not":"an array"}`)
	if r := h.do("POST", "/events/sendgrid", "application/json", string(bad), mail.EventSignatureHeader, signer.Sign(now, bad), mail.EventTimestampHeader, now); r.code != http.StatusBadRequest {
		t.Errorf("a signed post that is not events: %d %s, want 400", r.code, r.body)
	}
	if es := h.mailEvents(id); len(es) != 0 {
		t.Errorf("refused posts stored %d events", len(es))
	}
	if r, _ := h.store.GetRequest(context.Background(), id); r.MailFailedStep != "" {
		t.Errorf("a refused post marked the request's %s email failed", r.MailFailedStep)
	}
}
