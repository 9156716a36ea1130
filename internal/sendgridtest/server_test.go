package sendgridtest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/sendgridtest"
)

func message(step string) mail.Message {
	return mail.Message{To: "ada@example.com", ToName: "Ada", Subject: "Hello", Text: "text", HTML: "<p>html</p>", RequestID: "DSR-1", Step: step}
}

// TestFailuresOnCommandReachTheRealClient: the server fails the sends it
// is told to, as SendGrid does, and the real client sees each failure as
// one to retry; nothing failed is recorded as delivered.
func TestFailuresOnCommandReachTheRealClient(t *testing.T) {
	sg := sendgridtest.New("SG.key")
	defer sg.Close()
	c := mail.NewSendGrid("SG.key", sg.URL, "privacy@example.org", "Privacy")
	ctx := context.Background()

	sg.FailNext(1, http.StatusTooManyRequests)
	if sg.Pending() != 1 {
		t.Errorf("pending %d, want 1", sg.Pending())
	}
	if _, err := c.Send(ctx, message("a")); err == nil || errors.Is(err, mail.ErrPermanent) {
		t.Errorf("a 429: %v, want an error to retry", err)
	}
	sg.HangNext(1, 300*time.Millisecond)
	start := time.Now()
	_, err := c.Send(ctx, message("b"))
	if err == nil || errors.Is(err, mail.ErrPermanent) {
		t.Errorf("a hang: %v, want an error to retry", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("the hang answered after %s, before the 300ms asked", d)
	}
	if sg.Pending() != 0 {
		t.Errorf("pending %d after both faults, want 0", sg.Pending())
	}
	sg.FailNext(1, http.StatusInternalServerError)
	if _, err := c.Send(ctx, message("c")); err == nil || errors.Is(err, mail.ErrPermanent) {
		t.Errorf("a 500: %v, want an error to retry", err)
	}
	if _, err := c.Send(ctx, message("d")); err != nil {
		t.Fatalf("a send after the faults: %v", err)
	}
	got := sg.Mails()
	if len(got) != 1 || got[0].Step != "d" {
		t.Errorf("delivered %+v, want only step d", got)
	}
	if n := sg.Attempts(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
}
