package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserStatusPageThreadAndWithdrawal: a requester opens their
// status page in English, sees the steps with dates and the privacy
// team's message, answers it and withdraws the request; another, in
// Spanish, sees the steps in Spanish and asks for the verification email
// again.
func TestBrowserStatusPageThreadAndWithdrawal(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	r := s.submit("ada@example.com", "Ada Lovelace", "access")
	link := statusLink.FindString(s.waitMail(r.ID, "acknowledgement").Text)
	if code, body := s.confirm(verifyLink.FindString(s.waitMail(r.ID, "verification").Text)); code != http.StatusOK {
		t.Fatalf("verify: %d\n%s", code, body)
	}
	s.waitStatus(r.ID, "in_review")
	var sent struct{ ID int64 }
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/messages", s.token, map[string]string{"body": "Do you also want the order history from the old shop?"}, &sent); code != http.StatusCreated {
		t.Fatalf("officer message: %d", code)
	}

	run(t, ctx, "open the status page",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`ol.steps`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.thread li.message-officer`)),
		shot("60-status-steps-thread-en"),
	)
	steps := text(t, ctx, "ol.steps")
	for _, want := range []string{"Request received", "Email address confirmed", "Review by our privacy team", "in progress", "Our answer", "to come"} {
		if !strings.Contains(steps, want) {
			t.Errorf("the steps lack %q:\n%s", want, steps)
		}
	}
	if thread := text(t, ctx, "ol.thread"); !strings.Contains(thread, "order history from the old shop") || !strings.Contains(thread, "Privacy team") {
		t.Errorf("the thread shows %q", thread)
	}
	run(t, ctx, "answer the privacy team",
		chromedp.SendKeys(chromedp.CSS(`#message`), "Yes please, the old shop too."),
		chromedp.Click(chromedp.CSS(`#send-message`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.thread li.message-requester`)),
		shot("61-status-answered-en"),
	)
	if thread := text(t, ctx, "ol.thread"); !strings.Contains(thread, "the old shop too") {
		t.Errorf("the answer is not in the thread: %q", thread)
	}
	run(t, ctx, "withdraw, confirming",
		chromedp.Click(chromedp.CSS(`#withdraw-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-withdraw`)),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "I no longer have an account."),
		shot("62-withdraw-confirm-en"),
		chromedp.Click(chromedp.CSS(`#confirm-withdraw`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
		shot("63-withdrawn-en"),
	)
	if notice := text(t, ctx, "#notice"); !strings.Contains(notice, "Your request is withdrawn") {
		t.Errorf("after withdrawing the page says %q", notice)
	}
	if label := text(t, ctx, ".status-label"); label != "Withdrawn by you" {
		t.Errorf("status label %q", label)
	}
	s.waitMail(r.ID, "withdrawn")
	s.waitStatus(r.ID, "withdrawn")

	// In Spanish, still confirming the address.
	var es created
	if code := s.call("POST", "/api/v1/requests", "", map[string]any{"type": "deletion", "email": "grace@example.com", "name": "Grace Hopper", "language": "es"}, &es); code != http.StatusCreated {
		t.Fatalf("submit in Spanish: %d", code)
	}
	esLink := statusLink.FindString(s.waitMail(es.ID, "acknowledgement").Text)
	s.waitMail(es.ID, "verification")
	s.waitStatus(es.ID, "verifying")
	run(t, ctx, "open the Spanish status page and ask for the email again",
		chromedp.Navigate(esLink),
		chromedp.WaitVisible(chromedp.CSS(`ol.steps`)),
		shot("64-status-steps-es"),
		chromedp.Click(chromedp.CSS(`#resend`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
		shot("65-status-resent-es"),
	)
	if steps := text(t, ctx, "ol.steps"); !strings.Contains(steps, "Solicitud recibida") || !strings.Contains(steps, "en curso") {
		t.Errorf("the Spanish steps read %q", steps)
	}
	if notice := text(t, ctx, "#notice"); !strings.Contains(notice, "Hemos enviado el correo de nuevo") {
		t.Errorf("after resending the Spanish page says %q", notice)
	}
	s.waitMail(es.ID, "verification/again/1")
}
