package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestStatusPageShowsStepsInTheRequestersLanguage(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"ada@example.com","name":"Ada Lovelace","language":"de"}`)
	var c struct{ ID string }
	r.json(t, &c)
	if _, err := h.store.Transition(context.Background(), store.Transition{RequestID: c.ID, To: domain.StatusVerifying, Actor: "system", At: testNow}); err != nil {
		t.Fatal(err)
	}
	page := h.do("GET", h.statusLinkOf(c.ID), "", "")
	for _, want := range []string{
		"Anfrage eingegangen", `step-done`, "E-Mail-Adresse bestätigt", `step-current" aria-current="step"`,
		"Prüfung durch unser Datenschutzteam", "Unsere Antwort", "folgt",
		"E-Mail erneut senden", "Meine Anfrage zurückziehen", "An das Datenschutzteam schreiben", "Noch keine Nachrichten",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the German status page lacks %q", want)
		}
	}
	if page.code != http.StatusOK || strings.Contains(page.body, "Request received") {
		t.Errorf("status page: %d, or English on a German request\n%s", page.code, page.body)
	}
}

func TestWithdrawRefusesBadInputAndChangesNothing(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	_, id := h.addVerifyToken(testNow.Add(time.Hour))
	link := h.statusLinkOf(id)
	post := func(form url.Values) response {
		return h.do("POST", link+"/withdraw", "application/x-www-form-urlencoded", form.Encode())
	}
	unchanged := func() {
		t.Helper()
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != domain.StatusVerifying || r.WithdrawalReason != nil {
			t.Fatalf("the request changed: %s, reason stored %v", r.Status, r.WithdrawalReason != nil)
		}
	}
	if r := h.do("GET", link+"/withdraw", "", ""); r.code != http.StatusOK || !strings.Contains(r.body, `name="confirm" value="yes"`) {
		t.Fatalf("confirmation page: %d\n%s", r.code, r.body)
	}
	unchanged()
	if r := post(url.Values{"reason": {"no longer needed"}}); r.code != http.StatusBadRequest || !strings.Contains(r.body, "Please confirm that you want to withdraw") || !strings.Contains(r.body, "no longer needed") {
		t.Errorf("without confirm: %d\n%s", r.code, r.body)
	}
	unchanged()
	if r := post(url.Values{"confirm": {"yes"}, "reason": {strings.Repeat("x", 1001)}}); r.code != http.StatusBadRequest || !strings.Contains(r.body, "1000") {
		t.Errorf("a reason too long: %d\n%s", r.code, r.body)
	}
	unchanged()
	if r := post(url.Values{"confirm": {"yes"}, "reason": {"a\x00b"}}); r.code != http.StatusBadRequest {
		t.Errorf("a reason with NUL: %d", r.code)
	}
	if r := h.do("POST", link+"/withdraw", "application/x-www-form-urlencoded", "confirm=yes&reason=%ff%fe"); r.code != http.StatusBadRequest {
		t.Errorf("a reason that is not UTF-8: %d", r.code)
	}
	unchanged()
	if r := h.do("POST", "/status/"+strings.Repeat("A", 43)+"/withdraw", "application/x-www-form-urlencoded", "confirm=yes"); r.code != http.StatusNotFound {
		t.Errorf("withdraw on an unknown link: %d", r.code)
	}

	// Approved and being carried out: refused before the workflow is
	// asked, with a clear message, and no longer offered.
	if _, err := h.store.Transition(ctx, store.Transition{RequestID: id, To: domain.StatusInReview, Actor: "system", At: testNow}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Transition(ctx, store.Transition{RequestID: id, To: domain.StatusFulfilling, Actor: "officer@example.org", At: testNow}); err != nil {
		t.Fatal(err)
	}
	if r := post(url.Values{"confirm": {"yes"}}); r.code != http.StatusConflict || !strings.Contains(r.body, "can no longer be withdrawn") {
		t.Errorf("withdrawing a fulfilling request: %d\n%s", r.code, r.body)
	}
	if r := h.do("GET", link, "", ""); strings.Contains(r.body, "Withdraw my request") || !strings.Contains(r.body, "started carrying out this request") {
		t.Errorf("a fulfilling request's page still offers to withdraw:\n%s", r.body)
	}
	if r := h.do("POST", link+"/resend", "application/x-www-form-urlencoded", ""); r.code != http.StatusConflict {
		t.Errorf("resending for a request not verifying: %d", r.code)
	}
}

func TestMessagesRefuseBadInput(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	_, id := h.addVerifyToken(testNow.Add(time.Hour))
	link := h.statusLinkOf(id)
	post := func(body string) response {
		return h.do("POST", link+"/messages", "application/x-www-form-urlencoded", url.Values{"body": {body}}.Encode())
	}
	if r := post("   "); r.code != http.StatusBadRequest || !strings.Contains(r.body, "Write your message") {
		t.Errorf("an empty message: %d\n%s", r.code, r.body)
	}
	if r := post(strings.Repeat("é", 5001)); r.code != http.StatusBadRequest || !strings.Contains(r.body, "5000") {
		t.Errorf("a message too long: %d\n%s", r.code, r.body)
	}
	if r := post("a\x00b"); r.code != http.StatusBadRequest {
		t.Errorf("a message with NUL: %d", r.code)
	}
	for _, body := range []string{`{"body":""}`, `{"body":"` + strings.Repeat("x", 5001) + `"}`, `{"body":"a\u0000b"}`, `{"body":1}`} {
		if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+id+"/messages", body); r.code != http.StatusBadRequest {
			t.Errorf("officer message %.20s: %d %s", body, r.code, r.body)
		}
	}
	if r := h.officer(store.RoleViewer, "POST", "/api/v1/officer/requests/"+id+"/messages", `{"body":"hello"}`); r.code != http.StatusForbidden {
		t.Errorf("a viewer's message: %d", r.code)
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/DSR-0000000000/messages", `{"body":"hello"}`); r.code != http.StatusNotFound {
		t.Errorf("a message to an unknown request: %d %s", r.code, r.body)
	}
	if ms, err := h.store.Messages(ctx, id); err != nil || len(ms) != 0 {
		t.Fatalf("refused messages were stored: %d, %v", len(ms), err)
	}

	// Good ones, both ways, appear in the thread for both.
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+id+"/messages", `{"body":"Which account?"}`); r.code != http.StatusCreated {
		t.Fatalf("officer message: %d %s", r.code, r.body)
	}
	if r := post("The old one."); r.code != http.StatusOK || !strings.Contains(r.body, "Which account?") || !strings.Contains(r.body, "The old one.") {
		t.Fatalf("requester message: %d\n%s", r.code, r.body)
	}
	var thread struct {
		Messages []struct{ From, Author, Body string }
	}
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+id+"/messages", "").json(t, &thread)
	if len(thread.Messages) != 2 || thread.Messages[0].Author != "officer@example.org" || thread.Messages[1].From != "requester" {
		t.Errorf("thread: %+v", thread.Messages)
	}
	if strings.Contains(h.logs.String(), "Which account?") || strings.Contains(h.logs.String(), "The old one.") {
		t.Error("a message's text is in the log")
	}
}
