package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/store"
)

type loggedAnswer struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Channel    string    `json:"channel"`
	LoggedBy   string    `json:"logged_by"`
	Email      string    `json:"email"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
	Assignee   string    `json:"assignee"`
	Timeline   []struct{ Action, Detail, Actor string }
}

// TestOfficerLogsALetterAndTheAssigneeIsReminded: a letter received ten
// days ago from a person with no email is logged and verified by the
// officer: its clock counts from the letter, it reaches review and is
// completed without a single email to anyone, the trail saying each was
// not sent. A second letter, whose week's reminder falls due moments
// after it is logged, is assigned to Grace: the reminder reaches her
// alone.
func TestOfficerLogsALetterAndTheAssigneeIsReminded(t *testing.T) {
	s := newSystem(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)

	received := now.AddDate(0, 0, -10)
	var logged loggedAnswer
	code := s.call("POST", "/api/v1/officer/requests", s.token, map[string]any{
		"type": "access", "name": "Ada Lovelace", "channel": "letter", "received_at": received,
		"evidence": "Signed letter; signature and address match the customer record",
	}, &logged)
	if code != http.StatusCreated || logged.Channel != "letter" || logged.LoggedBy != "officer@example.org" || logged.Email != "" {
		t.Fatalf("logging a letter: %d %+v", code, logged)
	}
	if !logged.ReceivedAt.Equal(received) || !logged.DueAt.Equal(received.AddDate(0, 0, 30)) {
		t.Errorf("received %s, due %s: want due 30 days after the letter", logged.ReceivedAt, logged.DueAt)
	}
	s.waitStatus(logged.ID, "in_review")
	var approved struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+logged.ID+"/approve", s.token, nil, &approved); code != http.StatusOK {
		t.Fatalf("approve: %d %+v", code, approved)
	}
	s.waitStatus(logged.ID, "completed")
	// acknowledgement, verification, verified, completed: the last is
	// noted just after the status changes.
	var detail loggedAnswer
	notSent := func() int {
		detail = loggedAnswer{}
		s.call("GET", "/api/v1/officer/requests/"+logged.ID, s.token, nil, &detail)
		n := 0
		for _, e := range detail.Timeline {
			if e.Action == "email_not_sent" && strings.Contains(e.Detail, "answer them by letter") {
				n++
			}
		}
		return n
	}
	waitFor(t, func() bool { return notSent() >= 4 })
	for _, e := range detail.Timeline {
		if e.Action == "email_sent" {
			t.Errorf("an email was recorded as sent: %+v", e)
		}
	}
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == logged.ID && !strings.HasPrefix(m.Step, "officer_") {
			t.Errorf("an email went out for a request without address: %s to %s", m.Step, m.To)
		}
	}

	// The reminder seven days before the due date falls 20 seconds from
	// now; Grace is assigned before it.
	if _, err := app.CreateOfficer(ctx, s.app.Store, "grace@example.org", store.RoleOfficer, "correct horse battery", time.Now()); err != nil {
		t.Fatal(err)
	}
	received = now.Add(-23*24*time.Hour + 20*time.Second)
	var soon loggedAnswer
	code = s.call("POST", "/api/v1/officer/requests", s.token, map[string]any{
		"type": "deletion", "name": "Charles Babbage", "channel": "phone", "received_at": received,
		"evidence": "Called from the number on the account and answered the security questions",
	}, &soon)
	if code != http.StatusCreated {
		t.Fatalf("logging a call: %d %+v", code, soon)
	}
	var assigned map[string]any
	if code := s.call("POST", "/api/v1/officer/requests/"+soon.ID+"/assign", s.token, map[string]string{"assignee": "grace@example.org"}, &assigned); code != http.StatusOK {
		t.Fatalf("assign: %d %v", code, assigned)
	}
	reminder := s.waitMail(soon.ID, "officer_reminder")
	if reminder.To != "grace@example.org" {
		t.Errorf("the reminder went to %s, want the assignee", reminder.To)
	}
	// The alert is recorded once it has gone to everyone it is for; then
	// no other officer has had it.
	waitFor(t, func() bool {
		var d loggedAnswer
		s.call("GET", "/api/v1/officer/requests/"+soon.ID, s.token, nil, &d)
		for _, e := range d.Timeline {
			if e.Action == "officers_alerted" {
				return true
			}
		}
		return false
	})
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == soon.ID && m.Step == "officer_reminder" && m.To != "grace@example.org" {
			t.Errorf("the reminder also went to %s", m.To)
		}
		if m.RequestID == soon.ID && strings.Contains(m.Text, "Babbage") {
			t.Errorf("an officer alert names the requester:\n%s", m.Text)
		}
	}
}
