package activities_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

func recipientsOf(sent []mail.Message) []string {
	var out []string
	for _, m := range sent {
		out = append(out, m.To)
	}
	return out
}

// TestAlertsReachTheAssigneeFirst: with no assignee every acting officer
// is reminded; with one, the reminder goes to them alone and the overdue
// escalation to them first, then to the others; an assignee who may no
// longer act is passed over for everyone.
func TestAlertsReachTheAssigneeFirst(t *testing.T) {
	sender := &flakySender{}
	env, st, id := setup(t, sender)
	ctx := context.Background()
	var team []*store.Officer
	for _, e := range []string{"alan@example.org", "grace@example.org", "linus@example.org"} {
		o := &store.Officer{Email: e, Role: store.RoleOfficer, PasswordHash: "x", CreatedAt: now}
		if err := st.CreateOfficer(ctx, o); err != nil {
			t.Fatal(err)
		}
		team = append(team, o)
	}
	alert := func(kind mail.Kind, key string) []string {
		t.Helper()
		sender.sent = nil
		if _, err := env.ExecuteActivity(requests.AlertOfficers, activities.Alert{RequestID: id, Kind: kind, Key: key}); err != nil {
			t.Fatal(err)
		}
		return recipientsOf(sender.sent)
	}
	if got := alert(mail.KindOfficerReminder, "reminder/7d/a"); len(got) != 3 {
		t.Errorf("unassigned reminder went to %v", got)
	}
	if _, err := st.Assign(ctx, store.Assignment{RequestIDs: []string{id}, Assignee: team[1], Actor: "alan@example.org", At: now}); err != nil {
		t.Fatal(err)
	}
	if got := alert(mail.KindOfficerReminder, "reminder/3d/a"); !slices.Equal(got, []string{"grace@example.org"}) {
		t.Errorf("assigned reminder went to %v", got)
	}
	if got := alert(mail.KindOfficerOverdue, "overdue/a"); !slices.Equal(got, []string{"grace@example.org", "alan@example.org", "linus@example.org"}) {
		t.Errorf("escalation went to %v, want the assignee first", got)
	}
	if err := st.SetOfficerDisabled(ctx, team[1].ID, true, now); err != nil {
		t.Fatal(err)
	}
	if got := alert(mail.KindOfficerReminder, "reminder/1d/a"); !slices.Equal(got, []string{"alan@example.org", "linus@example.org"}) {
		t.Errorf("reminder with a disabled assignee went to %v", got)
	}
}

// TestNoEmailToARequestWithoutAddress: a request an officer logged from a
// person with no address sends nothing; the step counts as done and the
// trail tells the officer to answer by the request's channel.
func TestNoEmailToARequestWithoutAddress(t *testing.T) {
	sender := &flakySender{}
	env, st, _ := setup(t, sender)
	ctx := context.Background()
	at := now
	r := &store.Request{ID: "DSR-LETTER0001", Type: domain.TypeAccess, Status: domain.StatusReceived,
		Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30), Channel: domain.ChannelLetter,
		LoggedBy: "grace@example.org", VerifiedAt: &at, VerifiedBy: "grace@example.org"}
	if err := st.CreateLoggedRequest(ctx, r, nil, "signature matches our records"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := env.ExecuteActivity(requests.SendEmail, activities.Email{RequestID: r.ID, Kind: mail.KindAcknowledgement}); err != nil {
			t.Fatal(err)
		}
	}
	if len(sender.sent) != 0 {
		t.Fatalf("sent %d emails to a request without address", len(sender.sent))
	}
	trail, err := st.Timeline(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range trail {
		if e.Action == "email_not_sent" {
			n++
			if !strings.Contains(e.Detail, "answer them by letter") {
				t.Errorf("detail %q", e.Detail)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d email_not_sent entries, want 1: %+v", n, trail)
	}
}
