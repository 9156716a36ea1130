package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/sendgridtest"
)

const inboundSecret = "e2e-inbound-secret-0123456789abcdef"

// newInboundSystem runs dsar with SendGrid's Inbound Parse and Event
// Webhook configured, the events signed with a key the test makes.
func newInboundSystem(t *testing.T) (*system, *sendgridtest.EventSigner) {
	t.Helper()
	signer, err := sendgridtest.NewEventSigner()
	if err != nil {
		t.Fatal(err)
	}
	s := newSystemEnv(t, "", map[string]string{
		"DSAR_INBOUND_SECRET":         inboundSecret,
		"SENDGRID_WEBHOOK_PUBLIC_KEY": signer.PublicKey(),
	})
	return s, signer
}

type inboundAnswer struct {
	ID, Type  string
	Duplicate bool
}

// postInbound posts a recorded Inbound Parse payload as SendGrid does.
func (s *system) postInbound(fixture string) inboundAnswer {
	s.t.Helper()
	resp, err := http.Post(s.base+"/inbound/sendgrid/"+inboundSecret, sendgridtest.InboundContentType,
		bytes.NewReader(sendgridtest.InboundFixture(fixture)))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a inboundAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &a) != nil || a.ID == "" {
		s.t.Fatalf("inbound post %s: %d %s", fixture, resp.StatusCode, raw)
	}
	return a
}

// TestUnsubscribeEmailOptsTheSenderOut: Ada replies "Unsubscribe" to the
// privacy address. dsar makes an opt-out for her address, asks her to
// confirm it, and once she does turns her newsletter off with no officer;
// SendGrid's signed delivery event for the confirmation email is
// recorded against its step.
func TestUnsubscribeEmailOptsTheSenderOut(t *testing.T) {
	s, signer := newInboundSystem(t)
	before := s.snapshot()
	const ada = 0
	if _, ok := before["newsletter_subscriptions"][ada]; !ok {
		t.Fatal("Ada has no subscription before the opt-out")
	}
	got := s.postInbound(sendgridtest.InboundUnsubscribe)
	if got.Type != "opt_out" {
		t.Fatalf("an Unsubscribe email became %q, want opt_out", got.Type)
	}
	verification := s.waitMail(got.ID, "verification")
	if verification.To != "ada@example.com" {
		t.Errorf("the confirmation went to %q, want the sender", verification.To)
	}
	resp, err := signer.Post(s.base+"/events/sendgrid", []map[string]any{sendgridtest.Event(verification, "delivered", "", time.Now())}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("signed delivery event: %d", resp.StatusCode)
	}
	if code, _ := s.confirm(verifyLink.FindString(verification.Text)); code != http.StatusOK {
		t.Fatalf("confirm: %d", code)
	}
	s.waitStatus(got.ID, "completed")
	after := s.snapshot()
	unchangedExcept(t, before, after, ada)
	if _, ok := after["newsletter_subscriptions"][ada]; ok {
		t.Error("Ada's subscription is still there after her Unsubscribe email")
	}
	var detail struct {
		ByEmail    bool                           `json:"by_email"`
		MailEvents []struct{ Step, Event string } `json:"mail_events"`
	}
	s.call("GET", "/api/v1/officer/requests/"+got.ID, s.token, nil, &detail)
	if !detail.ByEmail || len(detail.MailEvents) != 1 || detail.MailEvents[0].Step != "verification" || detail.MailEvents[0].Event != "delivered" {
		t.Errorf("the request shows %+v, want it by email with the verification delivered", detail)
	}
}

// TestEmailAskingForDataIsClassifiedByAnOfficerAndRuns: Alan writes to the
// privacy address asking for his data. The request waits, unstarted and
// untouched by recovery, until an officer reads the email and classifies
// it as access; then it runs like any access request.
func TestEmailAskingForDataIsClassifiedByAnOfficerAndRuns(t *testing.T) {
	s, _ := newInboundSystem(t)
	ctx := context.Background()
	got := s.postInbound(sendgridtest.InboundRequest)
	if got.Type != "unclassified" {
		t.Fatalf("an email asking for data became %q, want unclassified", got.Type)
	}
	if again := s.postInbound(sendgridtest.InboundRequest); !again.Duplicate || again.ID != got.ID {
		t.Errorf("SendGrid's second delivery of the post: %+v, want the first request", again)
	}
	// Recovery starts what Temporal missed, never an unclassified request.
	if _, err := s.app.Office.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := s.app.Store.GetRequest(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.WorkflowStartedAt != nil {
		t.Fatal("an unclassified request's workflow was started")
	}
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == got.ID {
			t.Fatalf("an unclassified request was emailed: %s", m.Step)
		}
	}
	var msg struct {
		Subject, Text string
	}
	if code := s.call("GET", "/api/v1/officer/requests/"+got.ID+"/message", s.token, nil, &msg); code != http.StatusOK || !strings.Contains(msg.Text, "a copy of all the personal data") {
		t.Fatalf("the officer reads the email: %d %+v", code, msg)
	}

	var classified struct{ Type, Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+got.ID+"/classify", s.token, map[string]any{"type": "access"}, &classified); code != http.StatusOK || classified.Type != "access" {
		t.Fatalf("classify: %d %+v", code, classified)
	}
	if ack := s.waitMail(got.ID, "acknowledgement"); ack.To != "alan@example.com" {
		t.Errorf("the acknowledgement went to %q, want the sender", ack.To)
	}
	verification := s.waitMail(got.ID, "verification")
	if code, _ := s.confirm(verifyLink.FindString(verification.Text)); code != http.StatusOK {
		t.Fatalf("confirm: %d", code)
	}
	s.waitStatus(got.ID, "in_review")
	var decided struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+got.ID+"/approve", s.token, nil, &decided); code != http.StatusOK || decided.Status != "completed" {
		t.Fatalf("approve: %d %+v", code, decided)
	}
	s.waitMail(got.ID, "completed")
	var detail struct {
		Timeline []struct{ Action, Detail string } `json:"timeline"`
	}
	s.call("GET", "/api/v1/officer/requests/"+got.ID, s.token, nil, &detail)
	found := false
	for _, e := range detail.Timeline {
		found = found || (e.Action == "classified" && e.Detail == "unclassified → access")
	}
	if !found {
		t.Errorf("the classification is not in the timeline: %+v", detail.Timeline)
	}
}
