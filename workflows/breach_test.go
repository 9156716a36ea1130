package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

const hour = time.Hour

// newBreach records a breach of the demo shop's payment data (invoices:
// user.financial), aware d before the test clock's start.
func (h *harness) newBreach(ago time.Duration, risk domain.Risk) string {
	h.t.Helper()
	h.addOfficers()
	b := &store.Breach{
		ID: "BRE-TESTTEST01", Title: "Payment export left public", Description: "A CSV of invoices was readable by anyone with the link.",
		AwareAt: received.Add(-ago), Systems: []string{"shop"}, Categories: []string{"user.financial"}, Risk: risk,
		RecordedBy: "grace@example.org", CreatedAt: received,
	}
	if err := h.store.CreateBreach(context.Background(), b); err != nil {
		h.t.Fatal(err)
	}
	h.env.RegisterActivity(&activities.Breaches{
		Requests: h.requests, Systems: h.systems, Batch: h.mail.outbox, BatchSize: 7,
	})
	return b.ID
}

func (h *harness) runBreach(id string) BreachResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(Breach, BreachInput{BreachID: id})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the breach workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	var res BreachResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) updateAt(d time.Duration, name string, arg any) *answer[struct{}] {
	return updateAt[struct{}](h, d, name, arg)
}

// notices returns who received the breach notice, with how many copies.
func (h *harness) notices() map[string]int {
	h.t.Helper()
	out, err := h.store.OutboxMessages(context.Background(), 100000)
	if err != nil {
		h.t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range out {
		if m.Step == string(mail.KindBreachNotice) {
			got[m.Recipient]++
		}
	}
	return got
}

// TestBreachRecordedLateEscalatesAtOnceAndNotifiesEveryone: recorded 70
// hours after awareness, the breach escalates at once and again at 72
// hours; a late notification without a reason for the delay is refused;
// the approved notice reaches each affected customer exactly once, named,
// in batches.
func TestBreachRecordedLateEscalatesAtOnceAndNotifiesEveryone(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(70*hour, domain.RiskHigh)
	h.env.RegisterDelayedCallback(func() {
		b, _ := h.store.GetBreach(context.Background(), id)
		if b.EscalatedAt == nil || !b.EscalatedAt.Equal(received) {
			t.Errorf("escalated at %v, want at once", b.EscalatedAt)
		}
	}, time.Minute)
	h.updateAt(hour, UpdateApproveNotice, NoticeApproval{Subject: "Your payment details were exposed",
		Text: "A file with your last card digits was public for two days. Watch your statements.", Actor: "grace@example.org"})
	noReason := h.updateAt(3*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "Autoriteit Persoonsgegevens",
		Reference: "AP-2026-1234", NotifiedAt: received.Add(3 * hour), Actor: "grace@example.org"})
	h.updateAt(3*hour+time.Minute, UpdateAuthorityNotified, AuthorityNotification{Authority: "Autoriteit Persoonsgegevens",
		Reference: "AP-2026-1234", NotifiedAt: received.Add(3 * hour), DelayReason: "The file was found by a customer on day three.", Actor: "grace@example.org"})
	res := h.runBreach(id)

	if noReason.rejected == nil || !strings.Contains(noReason.rejected.Error(), "reasons for the delay") {
		t.Errorf("a late notification without a reason: %+v", noReason)
	}
	want := h.shopCount(`SELECT COUNT(DISTINCT c.email) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN invoices i ON i.order_id = o.id`)
	got := h.notices()
	if len(got) != want || res.Notified != want || res.Affected.People != want || want == 0 {
		t.Errorf("notice reached %d people (result %+v), want %d", len(got), res, want)
	}
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received the notice %d times", to, n)
		}
	}
	out, _ := h.store.OutboxMessages(context.Background(), 100000)
	for _, m := range out {
		if m.Recipient == "ada@example.com" && m.Step == string(mail.KindBreachNotice) {
			if !strings.Contains(m.TextBody, "Dear Ada Lovelace,") || !strings.Contains(m.HTMLBody, "Dear Ada Lovelace,") || !strings.Contains(m.TextBody, "Watch your statements.") {
				t.Errorf("Ada's notice:\n%s", m.TextBody)
			}
		}
	}
	h.wantAlerts(
		"grace@example.org officer_breach_reminder May 4 09:00 URGENT: Breach BRE-TESTTEST01: notification due in 2 hours",
		"grace@example.org officer_breach_overdue May 4 11:00 Overdue: breach BRE-TESTTEST01 passed 72 hours without notification",
	)
	b, _ := h.store.GetBreach(context.Background(), id)
	if b.ClosedAt == nil || b.FanoutDoneAt == nil || b.DelayReason == "" || b.AuthorityReference != "AP-2026-1234" {
		t.Errorf("stored breach %+v", b)
	}
	if p, _ := h.store.Progress(context.Background(), id); p.Sent != want || p.Total != want || p.Uncertain != 0 {
		t.Errorf("progress %+v", p)
	}
}

// TestBreachRemindersStopOnceTheAuthorityIsNotified: reminders at 24 and
// 48 hours, then the notification at 50 hours ends them.
func TestBreachRemindersStopOnceTheAuthorityIsNotified(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(0, domain.RiskMedium)
	h.updateAt(30*hour, UpdateApproveNotice, NoticeApproval{Subject: "About your data", Text: "We lost a file.", Actor: "grace@example.org"})
	h.updateAt(50*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "ICO", Reference: "ICO-1",
		NotifiedAt: received.Add(49 * hour), Actor: "grace@example.org"})
	h.runBreach(id)
	h.wantAlerts(
		"grace@example.org officer_breach_reminder May 5 09:00 Breach BRE-TESTTEST01: notification due in 48 hours",
		"grace@example.org officer_breach_reminder May 6 09:00 Breach BRE-TESTTEST01: notification due in 24 hours",
	)
	if b, _ := h.store.GetBreach(context.Background(), id); b.EscalatedAt != nil {
		t.Errorf("escalated at %v though notified in time", b.EscalatedAt)
	}
}

// TestLowRiskBreachTellsNoOneUnlessDecided: a low-risk breach closes once
// the authority is recorded, without a notice.
func TestLowRiskBreachTellsNoOneUnlessDecided(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(0, domain.RiskLow)
	h.updateAt(2*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "ICO", Reference: "ICO-2",
		NotifiedAt: received.Add(2 * hour), Actor: "grace@example.org"})
	res := h.runBreach(id)
	if n := len(h.notices()); n != 0 || res.Notified != 0 {
		t.Errorf("a low-risk breach emailed %d people", n)
	}
	if b, _ := h.store.GetBreach(context.Background(), id); b.ClosedAt == nil {
		t.Error("the breach is not closed")
	}
}

// TestEveryBreachMilestone: a breach left unnotified reminds at 24 and 48
// hours, escalates at 60 and 70 (flagged escalated from 60) and at 72;
// the late notification then needs its reasons.
func TestEveryBreachMilestone(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(0, domain.RiskLow)
	h.env.RegisterDelayedCallback(func() {
		if b, _ := h.store.GetBreach(context.Background(), id); b.EscalatedAt != nil {
			t.Errorf("escalated at %v, before 60 hours", b.EscalatedAt)
		}
	}, 59*hour)
	h.updateAt(73*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "ICO", Reference: "ICO-3",
		NotifiedAt: received.Add(73 * hour), DelayReason: "The processor told us on day three.", Actor: "grace@example.org"})
	h.runBreach(id)
	h.wantAlerts(
		"grace@example.org officer_breach_reminder May 5 09:00 Breach BRE-TESTTEST01: notification due in 48 hours",
		"grace@example.org officer_breach_reminder May 6 09:00 Breach BRE-TESTTEST01: notification due in 24 hours",
		"grace@example.org officer_breach_reminder May 6 21:00 URGENT: Breach BRE-TESTTEST01: notification due in 12 hours",
		"grace@example.org officer_breach_reminder May 7 07:00 URGENT: Breach BRE-TESTTEST01: notification due in 2 hours",
		"grace@example.org officer_breach_overdue May 7 09:00 Overdue: breach BRE-TESTTEST01 passed 72 hours without notification",
	)
	b, _ := h.store.GetBreach(context.Background(), id)
	if b.EscalatedAt == nil || !b.EscalatedAt.Equal(received.Add(60*hour)) || b.DelayReason == "" || b.ClosedAt == nil {
		t.Errorf("stored breach: escalated %v, delay %q, closed %v", b.EscalatedAt, b.DelayReason, b.ClosedAt)
	}
}

// refusingSender answers its first refusals sends as a provider having a
// bad minute does (a 503: nothing was taken), then sends.
type refusingSender struct {
	mail.BatchSender
	refusals int
}

func (r *refusingSender) SendBatch(ctx context.Context, b mail.Batch) error {
	if r.refusals > 0 {
		r.refusals--
		return errors.New("mail: sendgrid answered 503, will retry")
	}
	return r.BatchSender.SendBatch(ctx, b)
}

// TestProviderRefusalsAreWaitedOutWithinTheFanOut: a provider refusing
// sends for a while (429, 5xx) does not fail the fan-out's attempt, whose
// retries would back off further with every failure: the batch is sent
// again within the same attempt, and everyone gets one notice.
func TestProviderRefusalsAreWaitedOutWithinTheFanOut(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(0, domain.RiskHigh)
	h.env.RegisterActivity(&activities.Breaches{
		Requests: h.requests, Systems: h.systems, Batch: &refusingSender{BatchSender: h.mail.outbox, refusals: 3},
		BatchSize: 7, SendRetry: time.Millisecond,
	})
	attempts := 0
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "FanOut" {
			attempts++
		}
	})
	h.updateAt(hour, UpdateApproveNotice, NoticeApproval{Subject: "About your data", Text: "We lost a file.", Actor: "grace@example.org"})
	h.updateAt(2*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "ICO", Reference: "ICO-5",
		NotifiedAt: received.Add(2 * hour), Actor: "grace@example.org"})
	res := h.runBreach(id)
	if attempts != 1 {
		t.Errorf("the fan-out ran %d attempts, want 1: the refusals were waited out within it", attempts)
	}
	got := h.notices()
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received the notice %d times", to, n)
		}
	}
	if len(got) == 0 || len(got) != res.Affected.People || res.Notified != res.Affected.People {
		t.Errorf("%d people notified (result %+v)", len(got), res)
	}
}

// crashingSender dies in the middle of its second batch, as a process
// killed during the call would: the batch was claimed, its outcome unknown.
type crashingSender struct {
	mail.BatchSender
	calls int
}

func (c *crashingSender) SendBatch(ctx context.Context, b mail.Batch) error {
	c.calls++
	if c.calls == 2 {
		panic("worker killed mid-send")
	}
	return c.BatchSender.SendBatch(ctx, b)
}

// TestUncertainNoticesWaitForAnOfficer: a send cut off by a crash is not
// repeated on its own; the breach waits, the officer chooses to resend,
// and everyone ends with exactly one notice.
func TestUncertainNoticesWaitForAnOfficer(t *testing.T) {
	h := newHarness(t, "")
	id := h.newBreach(0, domain.RiskHigh)
	h.env.RegisterActivity(&activities.Breaches{
		Requests: h.requests, Systems: h.systems, Batch: &crashingSender{BatchSender: h.mail.outbox}, BatchSize: 7,
	})
	h.updateAt(hour, UpdateApproveNotice, NoticeApproval{Subject: "About your data", Text: "We lost a file.", Actor: "grace@example.org"})
	early := h.updateAt(30*time.Minute, UpdateResolveUncertain, UncertainDecision{Resend: true, Actor: "grace@example.org"})
	h.env.RegisterDelayedCallback(func() {
		p, _ := h.store.Progress(context.Background(), id)
		if p.Uncertain != 7 || p.Sent != p.Total-7 {
			t.Errorf("after the crash: %+v, want 7 uncertain and the rest sent", p)
		}
		if b, _ := h.store.GetBreach(context.Background(), id); b.FanoutDoneAt != nil {
			t.Error("the fan-out counts as done with notices of unknown fate")
		}
	}, 5*hour)
	h.updateAt(6*hour, UpdateResolveUncertain, UncertainDecision{Resend: true, Actor: "grace@example.org"})
	h.updateAt(7*hour, UpdateAuthorityNotified, AuthorityNotification{Authority: "ICO", Reference: "ICO-4",
		NotifiedAt: received.Add(7 * hour), Actor: "grace@example.org"})
	res := h.runBreach(id)
	if early.rejected == nil || !strings.Contains(early.rejected.Error(), "uncertain delivery") {
		t.Errorf("a decision with nothing uncertain: %+v", early)
	}
	got := h.notices()
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received the notice %d times", to, n)
		}
	}
	if len(got) != res.Affected.People || res.Notified != res.Affected.People {
		t.Errorf("%d people notified (result %+v)", len(got), res)
	}
}
