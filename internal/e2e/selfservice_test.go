package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// postStatus posts a form to a status page's action, as its buttons do,
// and answers the status code and the page.
func (s *system) postStatus(link, action string, form url.Values) (int, string) {
	s.t.Helper()
	resp, err := http.PostForm(link+action, form)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRequesterWithdrawsInReview: the requester withdraws a verified
// request from the status page before any decision. The workflow ends
// with the status withdrawn, the requester gets one confirmation and
// nothing more, the officers see it withdrawn with the reason, and no
// alert or digest counts it any longer.
func TestRequesterWithdrawsInReview(t *testing.T) {
	s := newSystem(t)
	r := s.submit("grace@example.com", "Grace Hopper", "access")
	ack := s.waitMail(r.ID, "acknowledgement")
	link := statusLink.FindString(ack.Text)
	if link == "" {
		t.Fatalf("acknowledgement has no status link:\n%s", ack.Text)
	}
	verification := s.waitMail(r.ID, "verification")
	if code, body := s.confirm(verifyLink.FindString(verification.Text)); code != http.StatusOK {
		t.Fatalf("verify: %d\n%s", code, body)
	}
	s.waitStatus(r.ID, "in_review")

	code, page := s.page(link)
	if code != http.StatusOK || !strings.Contains(page, "Withdraw my request") || !strings.Contains(page, "Email address confirmed") {
		t.Fatalf("status page in review: %d\n%s", code, page)
	}
	// Following the button only asks to confirm.
	if code, page := s.page(link + "/withdraw"); code != http.StatusOK || !strings.Contains(page, "Yes, withdraw my request") {
		t.Fatalf("withdraw confirmation page: %d\n%s", code, page)
	}
	s.waitStatus(r.ID, "in_review")
	// A post without the confirmation withdraws nothing.
	if code, page := s.postStatus(link, "/withdraw", url.Values{"reason": {"changed my mind"}}); code != http.StatusBadRequest || !strings.Contains(page, "Please confirm") {
		t.Fatalf("withdraw without confirm: %d\n%s", code, page)
	}
	s.waitStatus(r.ID, "in_review")

	const reason = "I found my answer in the account settings"
	code, page = s.postStatus(link, "/withdraw", url.Values{"confirm": {"yes"}, "reason": {reason}})
	if code != http.StatusOK || !strings.Contains(page, "Your request is withdrawn") || !strings.Contains(page, "Withdrawn by you") {
		t.Fatalf("withdraw: %d\n%s", code, page)
	}
	done := s.waitMail(r.ID, "withdrawn")
	if !strings.Contains(done.Subject, r.ID) || !strings.Contains(done.Text, "withdrawn your request") {
		t.Errorf("withdrawal email: %q\n%s", done.Subject, done.Text)
	}
	s.waitStatus(r.ID, "withdrawn")

	// The workflow ended cleanly, with the status withdrawn.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res workflows.SubjectRequestResult
	if err := s.app.Temporal.GetWorkflow(ctx, workflows.SubjectRequestWorkflowID(r.ID), "").Get(ctx, &res); err != nil || res.Status != "withdrawn" {
		t.Fatalf("workflow ended with %+v, %v; want withdrawn", res, err)
	}

	// Officers see it withdrawn, with the reason; the trail has who and
	// when, and not the reason's text.
	var got struct {
		Status           string
		ClosedAt         *time.Time         `json:"closed_at"`
		WithdrawalReason string             `json:"withdrawal_reason"`
		Timeline         []store.AuditEvent `json:"timeline"`
	}
	waitFor(t, func() bool {
		s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &got)
		return got.WithdrawalReason != ""
	})
	if got.Status != "withdrawn" || got.ClosedAt == nil || got.WithdrawalReason != reason {
		t.Errorf("officer view: %+v", got)
	}
	var sawStatus, sawReason bool
	for _, e := range got.Timeline {
		if strings.Contains(e.Detail, reason) {
			t.Errorf("the trail holds the reason's text: %+v", e)
		}
		sawStatus = sawStatus || (e.Action == "status" && e.Detail == "in_review → withdrawn" && e.Actor == store.ActorRequester)
		sawReason = sawReason || e.Action == "withdrawal_reason"
	}
	if !sawStatus || !sawReason {
		t.Errorf("trail lacks the withdrawal (%v) or its reason's entry (%v): %+v", sawStatus, sawReason, got.Timeline)
	}

	// No decision, no second withdrawal, and the clock stopped: nothing
	// lists it as due or overdue however far ahead one looks.
	var refused map[string]any
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/approve", s.token, nil, &refused); code != http.StatusConflict {
		t.Errorf("approving a withdrawn request: %d %v, want 409", code, refused)
	}
	if code, page := s.postStatus(link, "/withdraw", url.Values{"confirm": {"yes"}}); code != http.StatusConflict || !strings.Contains(page, "can no longer be withdrawn") {
		t.Errorf("withdrawing twice: %d\n%s", code, page)
	}
	due, err := s.app.Store.DueBy(ctx, time.Now().AddDate(5, 0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range due {
		if d.ID == r.ID {
			t.Errorf("the withdrawn request is still listed as due: %+v", d)
		}
	}
	overdue, err := s.app.Store.CountOverdue(ctx, time.Now().AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if overdue["access"] != 0 {
		t.Errorf("%d access requests counted overdue in five years, want 0: the withdrawn one's clock runs", overdue["access"])
	}
	code, page = s.page(link)
	if code != http.StatusOK || strings.Contains(page, "Withdraw my request") || !strings.Contains(page, "the clock stopped") {
		t.Errorf("status page after withdrawal: %d\n%s", code, page)
	}

	noneInHistory(t, workflows.SubjectRequestWorkflowID(r.ID), reason, "grace@example.com")
	s.recordHistory(r.ID, "subject_request_withdrawn.json")

	want := []string{r.ID + ":acknowledgement", r.ID + ":verification", r.ID + ":verified", r.ID + ":withdrawn"}
	if got := steps(s.sendgrid.Mails()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("emails sent: %v, want %v", got, want)
	}
}

// TestWithdrawalRefusedOnceFulfilmentStarted: an approved request is
// being carried out; the status page no longer offers to withdraw it and
// a post is refused with a clear message.
func TestWithdrawalRefusedOnceFulfilmentStarted(t *testing.T) {
	s := newSystem(t)
	r := s.submit("ada@example.com", "Ada Lovelace", "access")
	link := statusLink.FindString(s.waitMail(r.ID, "acknowledgement").Text)
	if code, body := s.confirm(verifyLink.FindString(s.waitMail(r.ID, "verification").Text)); code != http.StatusOK {
		t.Fatalf("verify: %d\n%s", code, body)
	}
	s.waitStatus(r.ID, "in_review")
	var decided struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/approve", s.token, nil, &decided); code != http.StatusOK {
		t.Fatalf("approve: %d %+v", code, decided)
	}
	code, page := s.postStatus(link, "/withdraw", url.Values{"confirm": {"yes"}})
	if code != http.StatusConflict || !strings.Contains(page, "can no longer be withdrawn") {
		t.Fatalf("withdrawing an approved request: %d\n%s", code, page)
	}
	s.waitStatus(r.ID, "completed")
	for _, m := range s.sendgrid.Mails() {
		if m.Step == "withdrawn" {
			t.Errorf("a withdrawal email went out for an approved request")
		}
	}
}

// TestRequesterAsksForTheVerificationEmailAgain: from the status page, a
// requester still confirming their address gets the verification email
// again, with a link that works, up to the request's daily cap; a second
// request from the same address then meets the address's cap.
func TestRequesterAsksForTheVerificationEmailAgain(t *testing.T) {
	s := newSystem(t)
	r := s.submit("ada@example.com", "Ada Lovelace", "access")
	link := statusLink.FindString(s.waitMail(r.ID, "acknowledgement").Text)
	s.waitMail(r.ID, "verification")
	s.waitStatus(r.ID, "verifying")
	if code, page := s.page(link); code != http.StatusOK || !strings.Contains(page, "Send the email again") {
		t.Fatalf("status page while verifying: %d\n%s", code, page)
	}
	var last string
	for i := 1; i <= 3; i++ {
		code, page := s.postStatus(link, "/resend", nil)
		if code != http.StatusOK || !strings.Contains(page, "We sent the email again") {
			t.Fatalf("resend %d: %d\n%s", i, code, page)
		}
		m := s.waitMail(r.ID, workflows.ResendVerificationStep(i))
		if m.To != "ada@example.com" || !verifyLink.MatchString(m.Text) || !emailedCode.MatchString(m.Text) {
			t.Fatalf("resent email %d to %q lacks a link or code:\n%s", i, m.To, m.Text)
		}
		last = verifyLink.FindString(m.Text)
	}
	code, page := s.postStatus(link, "/resend", nil)
	if code != http.StatusTooManyRequests || !strings.Contains(page, "already sent again 3 times today") {
		t.Fatalf("a fourth resend: %d\n%s", code, page)
	}
	// A second request from the address: its own verification email is
	// the fifth today, so asking again meets the address's cap.
	r2 := s.submit("ada@example.com", "Ada Lovelace", "deletion")
	link2 := statusLink.FindString(s.waitMail(r2.ID, "acknowledgement").Text)
	s.waitMail(r2.ID, "verification")
	s.waitStatus(r2.ID, "verifying")
	code, page = s.postStatus(link2, "/resend", nil)
	if code != http.StatusTooManyRequests || !strings.Contains(page, "as many emails as we may to this address today") {
		t.Fatalf("resend past the address's cap: %d\n%s", code, page)
	}
	// The link sent last works.
	if code, body := s.confirm(last); code != http.StatusOK {
		t.Fatalf("verify with the resent link: %d\n%s", code, body)
	}
	s.waitStatus(r.ID, "in_review")
	if code, page := s.page(link); code != http.StatusOK || strings.Contains(page, "Send the email again") {
		t.Errorf("status page after confirming still offers to resend: %d", code)
	}
	n := 0
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == r2.ID && strings.HasPrefix(m.Step, "verification") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d verification emails for the second request, want 1", n)
	}
}

// TestMessagesBetweenOfficerAndRequester: an officer writes from the
// API; the requester is emailed (without the text), reads it on the
// status page and answers; the assignee-less request alerts the
// officers; both directions are in the thread and the trail, and the
// text is stored sealed.
func TestMessagesBetweenOfficerAndRequester(t *testing.T) {
	s := newSystem(t)
	r := s.submit("ada@example.com", "Ada Lovelace", "access")
	link := statusLink.FindString(s.waitMail(r.ID, "acknowledgement").Text)
	s.waitMail(r.ID, "verification")
	s.waitStatus(r.ID, "verifying")

	const question = "Which of your two accounts do you mean, the one from 2019?"
	var bad struct {
		Error  string
		Fields map[string]string
	}
	for _, body := range []string{"", "   ", "nul\x00byte", strings.Repeat("x", 5001)} {
		if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/messages", s.token, map[string]string{"body": body}, &bad); code != http.StatusBadRequest {
			t.Errorf("message %q: %d %+v, want 400", body[:min(len(body), 10)], code, bad)
		}
	}
	var sent struct {
		ID   int64
		From string
		Body string
	}
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/messages", s.token, map[string]string{"body": question}, &sent); code != http.StatusCreated || sent.Body != question || sent.From != "officer" {
		t.Fatalf("send message: %d %+v", code, sent)
	}
	m := s.waitMail(r.ID, fmt.Sprintf("message/%d", sent.ID))
	if m.To != "ada@example.com" || strings.Contains(m.Text, question) || strings.Contains(m.HTML, "2019") || !statusLink.MatchString(m.Text) {
		t.Errorf("message email to %q: it must link the status page and not carry the text:\n%s", m.To, m.Text)
	}
	code, page := s.page(statusLink.FindString(m.Text))
	if code != http.StatusOK || !strings.Contains(page, "the one from 2019?") || !strings.Contains(page, "Privacy team") {
		t.Fatalf("status page shows no message: %d\n%s", code, page)
	}
	if code, page := s.postStatus(link, "/messages", url.Values{"body": {"  "}}); code != http.StatusBadRequest || !strings.Contains(page, "Write your message") {
		t.Errorf("empty answer: %d\n%s", code, page)
	}
	const answer = "Yes, the account from 2019, please."
	code, page = s.postStatus(link, "/messages", url.Values{"body": {answer}})
	if code != http.StatusOK || !strings.Contains(page, "Your message was sent") || !strings.Contains(page, answer) {
		t.Fatalf("answer: %d\n%s", code, page)
	}
	var alert bool
	waitFor(t, func() bool {
		for _, m := range s.sendgrid.Mails() {
			if m.To == "officer@example.org" && m.Step == "officer_message" && m.RequestID == r.ID {
				alert = !strings.Contains(m.Text, answer)
				return true
			}
		}
		return false
	})
	if !alert {
		t.Error("the officers' alert carries the requester's text")
	}

	var thread struct {
		Messages []struct{ From, Author, Body string }
	}
	if code := s.call("GET", "/api/v1/officer/requests/"+r.ID+"/messages", s.token, nil, &thread); code != http.StatusOK || len(thread.Messages) != 2 {
		t.Fatalf("thread: %d %+v", code, thread)
	}
	if thread.Messages[0].Author != "officer@example.org" || thread.Messages[1].From != "requester" || thread.Messages[1].Body != answer {
		t.Errorf("thread: %+v", thread.Messages)
	}
	var got struct {
		Messages []struct{ Body string }
		Timeline []store.AuditEvent
	}
	s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &got)
	if len(got.Messages) != 2 {
		t.Errorf("request's messages: %+v", got.Messages)
	}
	actions := map[string]bool{}
	for _, e := range got.Timeline {
		actions[e.Action] = true
		if strings.Contains(e.Detail, "2019") {
			t.Errorf("the trail holds a message's text: %+v", e)
		}
	}
	if !actions["message_to_requester"] || !actions["message_from_requester"] {
		t.Errorf("trail lacks a message entry: %v", actions)
	}
	// Sealed at rest.
	raw, err := s.app.Store.Messages(context.Background(), r.ID)
	if err != nil || len(raw) != 2 {
		t.Fatalf("stored messages: %d, %v", len(raw), err)
	}
	for _, m := range raw {
		if strings.Contains(string(m.Sealed), "2019") {
			t.Errorf("message %d is stored in clear", m.ID)
		}
	}
}
