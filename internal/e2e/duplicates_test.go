package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// verifiedRequest submits a request through the API and confirms its
// address, waiting until it is in review and settled there: the
// "verified" email sent and discovery's findings recorded, so what
// follows sees no late write of its own.
func (s *system) verifiedRequest(email, name, typ, details, lang string) created {
	s.t.Helper()
	var r created
	body := map[string]any{"type": typ, "email": email, "name": name, "details": details}
	if lang != "" {
		body["language"] = lang
	}
	if code := s.call("POST", "/api/v1/requests", "", body, &r); code != http.StatusCreated || r.ID == "" {
		s.t.Fatalf("submit: %d %+v", code, r)
	}
	if code, page := s.confirm(verifyLink.FindString(s.waitMail(r.ID, "verification").Text)); code != http.StatusOK {
		s.t.Fatalf("verify %s: %d\n%.500s", r.ID, code, page)
	}
	s.waitStatus(r.ID, "in_review")
	s.waitMail(r.ID, "verified")
	for deadline := time.Now().Add(30 * time.Second); !slices.Contains(s.auditActions(r.ID), "discovered"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("request %s: discovery recorded no findings within 30 s; trail %v", r.ID, s.auditActions(r.ID))
		}
	}
	return r
}

// duplicateView is what the officer's API says of a request's duplicates.
type duplicateView struct {
	ID                 string
	Status             string
	PossibleDuplicates []string           `json:"possible_duplicates"`
	DuplicateOf        string             `json:"duplicate_of"`
	ClosedAt           *time.Time         `json:"closed_at"`
	Timeline           []store.AuditEvent `json:"timeline"`
}

func (s *system) duplicateView(id string) duplicateView {
	s.t.Helper()
	var v duplicateView
	if code := s.call("GET", "/api/v1/officer/requests/"+id, s.token, nil, &v); code != http.StatusOK {
		s.t.Fatalf("request %s: %d", id, code)
	}
	return v
}

// unchanged checks that a refused command left the request as it was:
// same status, no duplicate recorded, and no new trail entry or email.
func (s *system) unchanged(t *testing.T, what string, before duplicateView, mails int) {
	t.Helper()
	after := s.duplicateView(before.ID)
	if after.Status != before.Status || after.DuplicateOf != before.DuplicateOf || len(after.Timeline) != len(before.Timeline) {
		t.Errorf("%s changed %s: status %s → %s, duplicate of %q, trail %d → %d entries",
			what, before.ID, before.Status, after.Status, after.DuplicateOf, len(before.Timeline), len(after.Timeline))
	}
	if got := len(s.sendgrid.Mails()); got != mails {
		t.Errorf("%s sent email: %d emails, was %d: %v", what, got, mails, steps(s.sendgrid.Mails()))
	}
}

// TestOfficerClosesADuplicateRequest: the same person asks for access
// twice (the second time in French, with other words, so intake's
// identical-submission check does not catch it). Once both are
// verified, the list and each request flag the other; an officer closes
// the second as a duplicate of the first. Bad closings are refused and
// change nothing. The second ends with status duplicate, its clock
// stopped, the trail names the first, and the requester is emailed in
// French which request continues; the first goes on unflagged. The bulk
// command closes a third the same way.
func TestOfficerClosesADuplicateRequest(t *testing.T) {
	s := newSystem(t)
	ctx := context.Background()
	first := s.verifiedRequest("ada@example.com", "Ada Lovelace", "access", "Everything you hold about me.", "")
	second := s.verifiedRequest("Ada@Example.com", "Ada Lovelace", "access", "Toutes mes données, s'il vous plaît.", "fr")
	other := s.verifiedRequest("grace@example.com", "Grace Hopper", "access", "My account.", "")

	// The list, searched by the address, flags each with the other.
	var list struct {
		Requests []duplicateView
	}
	if code := s.call("GET", "/api/v1/officer/requests?q=ada@example.com", s.token, nil, &list); code != http.StatusOK || len(list.Requests) != 2 {
		t.Fatalf("list by address: %d %+v", code, list)
	}
	for _, r := range list.Requests {
		want := first.ID
		if r.ID == first.ID {
			want = second.ID
		}
		if fmt.Sprint(r.PossibleDuplicates) != fmt.Sprint([]string{want}) {
			t.Errorf("list: %s flags %v, want [%s]", r.ID, r.PossibleDuplicates, want)
		}
	}
	if v := s.duplicateView(other.ID); len(v.PossibleDuplicates) != 0 {
		t.Errorf("another person's request is flagged: %v", v.PossibleDuplicates)
	}
	if v := s.duplicateView(second.ID); fmt.Sprint(v.PossibleDuplicates) != fmt.Sprint([]string{first.ID}) {
		t.Errorf("request %s flags %v, want [%s]", second.ID, v.PossibleDuplicates, first.ID)
	}

	// Refusals change nothing.
	path := "/api/v1/officer/requests/" + second.ID + "/duplicate"
	before, mails := s.duplicateView(second.ID), len(s.sendgrid.Mails())
	for _, bad := range []struct {
		name string
		body map[string]any
		code int
		want string
	}{
		{"no reference", map[string]any{"of": " "}, http.StatusBadRequest, "of: the reference"},
		{"unknown reference", map[string]any{"of": "DSR-NOSUCHREQ"}, http.StatusBadRequest, "of: no request DSR-NOSUCHREQ"},
		{"another person", map[string]any{"of": other.ID}, http.StatusBadRequest, "another person's request"},
		{"itself", map[string]any{"of": second.ID}, http.StatusBadRequest, "duplicate of itself"},
		{"unknown field", map[string]any{"of": first.ID, "reason": "x"}, http.StatusBadRequest, "unknown field"},
	} {
		var p problem
		if code := s.call("POST", path, s.token, bad.body, &p); code != bad.code || !strings.Contains(p.Detail(), bad.want) {
			t.Errorf("%s: %d %q, want %d naming %q", bad.name, code, p.Detail(), bad.code, bad.want)
		}
		s.unchanged(t, bad.name, before, mails)
	}
	var p problem
	if code := s.call("POST", "/api/v1/officer/requests/DSR-NOSUCHREQ/duplicate", s.token, map[string]any{"of": first.ID}, &p); code != http.StatusNotFound {
		t.Errorf("closing an unknown request: %d %+v, want 404", code, p)
	}

	// The closing.
	var closed struct{ ID, Of, Status string }
	if code := s.call("POST", path, s.token, map[string]any{"of": strings.ToLower(first.ID)}, &closed); code != http.StatusOK || closed.Status != "duplicate" || closed.Of != first.ID {
		t.Fatalf("close as duplicate: %d %+v", code, closed)
	}
	mail := s.waitMail(second.ID, "duplicate")
	if !strings.Contains(mail.Subject, "close comme doublon") || !strings.Contains(mail.Subject, second.ID) ||
		!strings.Contains(mail.Text, "Nous poursuivons le traitement de votre demande "+first.ID) {
		t.Errorf("the requester's email (French):\n%s\n%s", mail.Subject, mail.Text)
	}
	ctxWait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var res workflows.SubjectRequestResult
	if err := s.app.Temporal.GetWorkflow(ctxWait, workflows.SubjectRequestWorkflowID(second.ID), "").Get(ctxWait, &res); err != nil || res.Status != "duplicate" {
		t.Fatalf("the workflow ended with %+v, %v; want duplicate", res, err)
	}
	v := s.duplicateView(second.ID)
	if v.Status != "duplicate" || v.DuplicateOf != first.ID || v.ClosedAt == nil || len(v.PossibleDuplicates) != 0 {
		t.Errorf("after closing: %+v", v)
	}
	var sawStatus, sawOf bool
	for _, e := range v.Timeline {
		sawStatus = sawStatus || (e.Action == "status" && e.Detail == "in_review → duplicate" && e.Actor == "officer@example.org")
		sawOf = sawOf || (e.Action == "closed_as_duplicate" && e.Detail == "of "+first.ID && e.Actor == "officer@example.org")
	}
	if !sawStatus || !sawOf {
		t.Errorf("the trail lacks the status change (%v) or the other request (%v): %+v", sawStatus, sawOf, v.Timeline)
	}
	if v := s.duplicateView(first.ID); v.Status != "in_review" || len(v.PossibleDuplicates) != 0 {
		t.Errorf("the request that continues: %s, flags %v; want in review, unflagged", v.Status, v.PossibleDuplicates)
	}
	// The clock stopped: nothing lists it as due however far ahead.
	due, err := s.app.Store.DueBy(ctx, time.Now().AddDate(5, 0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range due {
		if d.ID == second.ID {
			t.Errorf("the duplicate is still listed as due: %+v", d)
		}
	}
	// The requester's status page says which request continues.
	link := statusLink.FindString(mail.Text)
	if code, page := s.page(link); code != http.StatusOK || !strings.Contains(page, "Close : un doublon") || !strings.Contains(page, "Nous poursuivons votre demande "+first.ID) {
		t.Errorf("status page: %d\n%.3000s", code, page)
	}

	// Closed already, both ways round; nothing changes.
	before, mails = s.duplicateView(second.ID), len(s.sendgrid.Mails())
	if code := s.call("POST", path, s.token, map[string]any{"of": first.ID}, &p); code != http.StatusConflict || !strings.Contains(p.Detail(), "already") {
		t.Errorf("closing it twice: %d %q, want 409", code, p.Detail())
	}
	s.unchanged(t, "closing twice", before, mails)
	firstBefore := s.duplicateView(first.ID)
	if code := s.call("POST", "/api/v1/officer/requests/"+first.ID+"/duplicate", s.token, map[string]any{"of": second.ID}, &p); code != http.StatusBadRequest ||
		!strings.Contains(p.Fields["of"], "itself closed as a duplicate of "+first.ID) {
		t.Errorf("closing the first into its own duplicate: %d %q, want 400", code, p.Detail())
	}
	s.unchanged(t, "closing into its duplicate", firstBefore, mails)

	noneInHistory(t, workflows.SubjectRequestWorkflowID(second.ID), "ada@example.com", "Ada Lovelace")
	s.recordHistory(second.ID, "subject_request_duplicate.json")

	// The bulk command: a third request from Ada. Ticking both hers
	// leaves none to continue: refused, nothing changes.
	third := s.verifiedRequest("ada@example.com", "Ada Lovelace", "access", "My orders too.", "")
	bulk := "/api/v1/officer/requests/duplicates"
	firstBefore, thirdBefore, mails := s.duplicateView(first.ID), s.duplicateView(third.ID), len(s.sendgrid.Mails())
	if code := s.call("POST", bulk, s.token, map[string]any{"ids": []string{first.ID, third.ID}}, &p); code != http.StatusBadRequest || !strings.Contains(p.Fields["ids[0]"], "leave the one that continues unticked") {
		t.Errorf("bulk with both: %d %q, want 400 naming ids[0]", code, p.Detail())
	}
	if code := s.call("POST", bulk, s.token, map[string]any{"ids": []string{third.ID, "DSR-NOSUCHREQ"}}, &p); code != http.StatusNotFound || !strings.Contains(p.Detail(), "DSR-NOSUCHREQ") {
		t.Errorf("bulk with an unknown reference: %d %q, want 404", code, p.Detail())
	}
	if code := s.call("POST", bulk, s.token, map[string]any{"ids": []string{third.ID, other.ID}}, &p); code != http.StatusBadRequest || !strings.Contains(p.Fields["ids[1]"], other.ID) {
		t.Errorf("bulk with an unflagged request: %d %q, want 400 naming ids[1]", code, p.Detail())
	}
	s.unchanged(t, "refused bulk", firstBefore, mails)
	s.unchanged(t, "refused bulk", thirdBefore, mails)
	var outcome struct {
		Requests []struct{ ID, Of, Status, Error string }
	}
	if code := s.call("POST", bulk, s.token, map[string]any{"ids": []string{third.ID}}, &outcome); code != http.StatusOK ||
		len(outcome.Requests) != 1 || outcome.Requests[0].Of != first.ID || outcome.Requests[0].Status != "duplicate" {
		t.Fatalf("bulk: %d %+v", code, outcome)
	}
	if m := s.waitMail(third.ID, "duplicate"); !strings.Contains(m.Text, "We continue to work on your request "+first.ID) {
		t.Errorf("the bulk closing's email:\n%s", m.Text)
	}
	s.waitStatus(third.ID, "duplicate")
	if got := sentSteps(s.sendgrid.Mails(), first.ID); slices.Contains(got, "duplicate") {
		t.Errorf("the request that continues was emailed as a duplicate: %v", got)
	}
}

// TestBrowserOfficerClosesDuplicates: on the list, the same person's two
// open access requests are flagged with each other; on the second's page
// the officer closes it as a duplicate of the first, confirming on the
// page. A third is then closed from the list, ticked beside bulk assign.
func TestBrowserOfficerClosesDuplicates(t *testing.T) {
	s := newSystem(t)
	first := s.verifiedRequest("ada@example.com", "Ada Lovelace", "access", "Everything you hold about me.", "")
	second := s.verifiedRequest("ada@example.com", "Ada Lovelace", "access", "My orders, please.", "")
	ctx := newBrowser(t)
	signInAsOfficer(t, ctx, s)

	within(t, ctx, 20*time.Second, "see the flag on the list",
		chromedp.Navigate(s.base+"/officer/requests?q=ada@example.com"),
		chromedp.WaitVisible(`//span[@id="total"][contains(., "2 requests match")]`),
		shot("70-duplicates-flagged"),
	)
	if rows := text(t, ctx, "table.requests tbody"); strings.Count(rows, "possible duplicate") != 2 ||
		!strings.Contains(rows, "possible duplicate of "+first.ID) || !strings.Contains(rows, "possible duplicate of "+second.ID) {
		t.Errorf("the list shows:\n%s", rows)
	}
	within(t, ctx, 20*time.Second, "open the second, follow the flag's form, and see the confirmation",
		chromedp.Click(`//a[text()="`+second.ID+`"]`),
		chromedp.WaitVisible(chromedp.CSS(`#possible-duplicates`)),
		chromedp.Click(`//button[text()="Close as a duplicate…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		shot("71-confirm-duplicate"),
	)
	if c := text(t, ctx, "#confirm"); !strings.Contains(c, "Close "+second.ID+" as a duplicate of "+first.ID+"?") {
		t.Errorf("the confirmation says:\n%s", c)
	}
	if v := s.duplicateView(second.ID); v.Status != "in_review" {
		t.Fatalf("asking for confirmation closed the request already: %s", v.Status)
	}
	within(t, ctx, 30*time.Second, "confirm",
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Closed as a duplicate")]`),
		shot("72-closed-duplicate"),
	)
	if status, of := text(t, ctx, ".status-label"), text(t, ctx, "#duplicate-of-link"); status != "Closed as a duplicate" || !strings.Contains(of, first.ID+", which continues") {
		t.Errorf("after closing: status %q, %q", status, of)
	}
	if m := s.waitMail(second.ID, "duplicate"); !strings.Contains(m.Text, first.ID) {
		t.Errorf("the email does not name the request that continues:\n%s", m.Text)
	}

	third := s.verifiedRequest("ada@example.com", "Ada Lovelace", "access", "And my web logs.", "")
	// A search finds closed requests too: the duplicate is listed, closed.
	within(t, ctx, 30*time.Second, "tick the third on the list and close it as a duplicate",
		chromedp.Navigate(s.base+"/officer/requests?q=ada@example.com"),
		chromedp.WaitVisible(`//span[@id="total"][contains(., "3 requests match")]`),
		chromedp.Click(chromedp.CSS(`#pick-`+third.ID)),
		chromedp.Click(chromedp.CSS(`#bulk-duplicates`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "closed as duplicates")]`),
		shot("73-bulk-duplicates"),
	)
	s.waitStatus(third.ID, "duplicate")
	if v := s.duplicateView(third.ID); v.DuplicateOf != first.ID {
		t.Errorf("the third was closed as a duplicate of %q, want %s", v.DuplicateOf, first.ID)
	}
	if rows := text(t, ctx, "table.requests tbody"); strings.Contains(rows, "possible duplicate") || strings.Count(rows, "Closed as a duplicate") != 2 {
		t.Errorf("after closing, the list shows:\n%s", rows)
	}
}
