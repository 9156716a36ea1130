package workflows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// The request in the harness runs on the default clock: received 4 May
// 2026 09:00 UTC, due 3 June, extendable to 3 July.
var (
	due      = time.Date(2026, 6, 3, 9, 0, 0, 0, time.UTC)
	extended = time.Date(2026, 7, 3, 9, 0, 0, 0, time.UTC)
)

const day = 24 * time.Hour

// addOfficers adds an acting officer, a viewer and a disabled officer:
// alerts go to the first only.
func (h *harness) addOfficers() {
	h.t.Helper()
	ctx := context.Background()
	for _, o := range []*store.Officer{
		{Email: "grace@example.org", Role: store.RoleOfficer},
		{Email: "viewer@example.org", Role: store.RoleViewer},
		{Email: "gone@example.org", Role: store.RoleAdmin},
	} {
		o.PasswordHash, o.CreatedAt = "x", received
		if err := h.store.CreateOfficer(ctx, o); err != nil {
			h.t.Fatal(err)
		}
		if o.Email == "gone@example.org" {
			if err := h.store.SetOfficerDisabled(ctx, o.ID, true, received); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// alerts lists the officer alerts sent, as "recipient kind at subject".
func (h *harness) alerts() []string {
	h.t.Helper()
	out, err := h.store.OutboxMessages(context.Background(), 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for i := len(out) - 1; i >= 0; i-- { // oldest first
		m := out[i]
		if strings.HasPrefix(m.Step, "officer_") {
			got = append(got, fmt.Sprintf("%s %s %s %s", m.Recipient, m.Step, m.CreatedAt.UTC().Format("Jan 2 15:04"), m.Subject))
		}
	}
	return got
}

func (h *harness) wantAlerts(want ...string) {
	h.t.Helper()
	if got := h.alerts(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("officer alerts:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// extendAt asks for an extension after d.
func (h *harness) extendAt(d time.Duration, e Extension) *answer[ExtensionResult] {
	return updateAt[ExtensionResult](h, d, UpdateExtend, e)
}

// TestOfficersAreRemindedThenTheOverdueRequestEscalated: a request left
// in review is reminded a week and two days before it is due, escalated
// when the date passes, and flagged overdue; viewers and disabled officers
// get nothing, and nothing goes to the requester.
func TestOfficersAreRemindedThenTheOverdueRequestEscalated(t *testing.T) {
	h := newHarness(t, "")
	h.addOfficers()
	h.verifyAt(time.Hour)
	h.env.RegisterDelayedCallback(func() {
		r := h.stored()
		if r.OverdueAt != nil || r.Overdue(h.env.Now()) {
			t.Errorf("a day before its due date the request is flagged overdue (%v)", r.OverdueAt)
		}
	}, 29*day)
	h.decideAt(33*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	h.wantAlerts(
		"grace@example.org officer_reminder May 27 09:00 Due in 7 days: request DSR-TESTTEST01 (3 June 2026, 09:00 UTC)",
		"grace@example.org officer_reminder Jun 1 09:00 Due in 2 days: request DSR-TESTTEST01 (3 June 2026, 09:00 UTC)",
		"grace@example.org officer_overdue Jun 3 09:00 Overdue: request DSR-TESTTEST01 was due 3 June 2026, 09:00 UTC",
	)
	r := h.stored()
	if r.OverdueAt == nil || !r.OverdueAt.Equal(due) {
		t.Errorf("overdue flag %v, want set at the due date", r.OverdueAt)
	}
	timeline, _ := h.store.Timeline(context.Background(), h.id)
	var escalated bool
	for _, e := range timeline {
		escalated = escalated || e.Action == "overdue"
	}
	if !escalated {
		t.Errorf("the escalation is not in the request's history: %+v", timeline)
	}
	h.wantSteps("acknowledgement", "verification", "verified", "officer_reminder", "officer_reminder", "officer_overdue", "completed")
}

// TestAnsweredRequestRaisesNoAlert: a request closed in time reminds no
// one.
func TestAnsweredRequestRaisesNoAlert(t *testing.T) {
	h := newHarness(t, "")
	h.addOfficers()
	h.verifyAt(time.Hour)
	h.decideAt(24*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.run()
	h.wantAlerts("grace@example.org officer_reminder May 27 09:00 Due in 7 days: request DSR-TESTTEST01 (3 June 2026, 09:00 UTC)")
}

// TestExtensionMovesTheDueDateAndTellsTheRequester: an officer extends
// inside the first period; the requester is emailed the new date and the
// reason, the reminders follow the new date, and a second extension is
// refused.
func TestExtensionMovesTheDueDateAndTellsTheRequester(t *testing.T) {
	h := newHarness(t, "")
	h.addOfficers()
	h.verifyAt(time.Hour)
	first := h.extendAt(20*day, Extension{Reason: "Your records span three archived systems.", Actor: "grace@example.org"})
	second := h.extendAt(21*day, Extension{Reason: "More time again", Actor: "grace@example.org"})
	h.decideAt(57*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	if !first.done || first.rejected != nil || !first.result.DueAt.Equal(extended) {
		t.Fatalf("extension answered %+v, want the due date moved to %v", first, extended)
	}
	if second.rejected == nil || !strings.Contains(second.rejected.Error(), "already extended once") {
		t.Errorf("a second extension answered %+v, want it refused", second)
	}
	r := h.stored()
	if !r.DueAt.Equal(extended) || r.ExtendedAt == nil || r.ExtensionReason != "Your records span three archived systems." {
		t.Errorf("stored due %v, extended %v, reason %q", r.DueAt, r.ExtendedAt, r.ExtensionReason)
	}
	msg, ok := h.mail.message("extended")
	if !ok || msg.To != "ada@example.com" || !strings.Contains(msg.Text, "3 July 2026") || !strings.Contains(msg.Text, "three archived systems") {
		t.Errorf("the requester was not told the new date and reason: %+v", msg)
	}
	// Reminders follow the new date; the old date's never fire.
	h.wantAlerts("grace@example.org officer_reminder Jun 26 09:00 Due in 7 days: request DSR-TESTTEST01 (3 July 2026, 09:00 UTC)")
	timeline, _ := h.store.Timeline(context.Background(), h.id)
	var change string
	for _, e := range timeline {
		if e.Action == "extended" {
			change = e.Actor + ": " + e.Detail
		}
	}
	if change != "grace@example.org: due 2026-06-03 → 2026-07-03: Your records span three archived systems." {
		t.Errorf("the clock change is not recorded with its reason: %q", change)
	}
}

func TestExtensionRefusals(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	noReason := h.extendAt(2*day, Extension{Actor: "grace@example.org"})
	noActor := h.extendAt(3*day, Extension{Reason: "complex"})
	tooLong := h.extendAt(4*day, Extension{Reason: strings.Repeat("x", MaxReasonLen+1), Actor: "grace@example.org"})
	late := h.extendAt(30*day+time.Minute, Extension{Reason: "complex", Actor: "grace@example.org"})
	h.decideAt(31*day, ReviewDecision{Decision: Deny, Reason: "manifestly unfounded", Actor: "grace@example.org"})
	h.run()
	for name, c := range map[string]struct {
		a    *answer[ExtensionResult]
		want string
	}{
		"no reason":    {noReason, "an extension needs a reason"},
		"no officer":   {noActor, "extending officer is required"},
		"reason long":  {tooLong, "longer than 2000"},
		"after period": {late, "the first period ended on 3 June 2026, 09:00 UTC"},
	} {
		if c.a.rejected == nil || !strings.Contains(c.a.rejected.Error(), c.want) {
			t.Errorf("%s: answered %+v, want refused with %q", name, c.a, c.want)
		}
	}
	if r := h.stored(); !r.DueAt.Equal(due) || r.ExtendedAt != nil {
		t.Errorf("a refused extension changed the clock: due %v, extended %v", r.DueAt, r.ExtendedAt)
	}
	if _, ok := h.mail.message("extended"); ok {
		t.Error("a refused extension emailed the requester")
	}
}

// TestClockPausesWhileVerifyingWhereTheRegimeSaysSo: with the default
// regime set to pause, three days waiting for identity proof move every
// date three days later, with the reason recorded.
func TestClockPausesWhileVerifyingWhereTheRegimeSaysSo(t *testing.T) {
	h := newHarness(t, "")
	h.requests.PausingRegimes = []deadline.Regime{deadline.Default}
	h.verifyAt(3 * day)
	h.decideAt(4*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.run()
	r := h.stored()
	if want := due.Add(3 * day); !r.DueAt.Equal(want) || !r.ExtendedDueAt.Equal(extended.Add(3*day)) || !r.NoticeBy().Equal(want) {
		t.Errorf("due %v, extended %v, notice by %v; want every date three days later", r.DueAt, r.ExtendedDueAt, r.NoticeBy())
	}
	timeline, _ := h.store.Timeline(context.Background(), h.id)
	var reason string
	for _, e := range timeline {
		if e.Action == "clock_paused" {
			reason = e.Detail
		}
	}
	if !strings.Contains(reason, "paused while waiting for identity proof (72h0m0s)") || !strings.Contains(reason, "due 2026-06-06") {
		t.Errorf("the pause is not recorded with its reason: %q", reason)
	}
}

// TestClockRunsOnWhileVerifyingByDefault: no regime pauses unless
// configured.
func TestClockRunsOnWhileVerifyingByDefault(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(3 * day)
	h.decideAt(4*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.run()
	if r := h.stored(); !r.DueAt.Equal(due) {
		t.Errorf("due %v, want %v unchanged", r.DueAt, due)
	}
}

// TestNoRemindersWhenTurnedOff: DSAR_REMINDERS=none (an empty list)
// leaves only the overdue escalation.
func TestNoRemindersWhenTurnedOff(t *testing.T) {
	h := newHarness(t, "")
	h.addOfficers()
	h.verifyAt(time.Hour)
	h.decideAt(31*day, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.env.ExecuteWorkflow(SubjectRequest, SubjectRequestInput{RequestID: h.id, VerifyTTL: ttl, Reminders: []time.Duration{}})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	h.wantAlerts("grace@example.org officer_overdue Jun 3 09:00 Overdue: request DSR-TESTTEST01 was due 3 June 2026, 09:00 UTC")
}
