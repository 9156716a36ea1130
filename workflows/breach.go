package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
)

// Names the web and API use to talk to a running Breach.
const (
	// UpdateApproveNotice approves the notice to the people affected; for
	// a low-risk breach it is also the decision to tell them.
	UpdateApproveNotice = "approve-notice"
	// UpdateAuthorityNotified records the notification of the
	// supervisory authority; past 72 hours it needs a reason for the delay.
	UpdateAuthorityNotified = "authority-notified"
	// UpdateResolveUncertain settles the people whose notice a crash
	// left unknown: resend to them, or record them as sent.
	UpdateResolveUncertain = "resolve-uncertain"
)

// BreachWorkflowID is the workflow ID of a breach.
func BreachWorkflowID(breachID string) string { return "breach/" + breachID }

// BreachInput starts a breach's workflow.
type BreachInput struct {
	BreachID string
}

// NoticeApproval is the argument of UpdateApproveNotice.
type NoticeApproval struct {
	Subject, Text, Actor string
}

// AuthorityNotification is the argument of UpdateAuthorityNotified.
type AuthorityNotification struct {
	Authority, Reference string
	NotifiedAt           time.Time
	DelayReason          string
	Actor                string
}

// UncertainDecision is the argument of UpdateResolveUncertain.
type UncertainDecision struct {
	Resend bool
	Actor  string
}

// BreachResult is how a breach's workflow ended.
type BreachResult struct {
	Affected activities.Affected
	Notified int // people emailed the notice
}

// MaxNoticeLen bounds a notice's text.
const MaxNoticeLen = 20000

// NoticeOutline is the notice text the dashboard suggests: what Art. 34(2)
// asks a notice to say, with bracketed parts for the officer to fill in.
// A notice still holding any of them is refused, so an outline is never
// sent to the people affected.
var NoticeOutline = "On [date] we discovered that [what happened]. It involved your [categories].\n\n" +
	"What this means for you: [likely consequences].\nWhat we have done: [measures].\nWhat you can do: [advice].\n\n" +
	"Questions: write to our data protection officer at [address]."

var outlineParts = []string{"[date]", "[what happened]", "[categories]", "[likely consequences]", "[measures]", "[advice]", "[address]"}

type breachRun struct {
	in                   BreachInput
	state                activities.BreachState
	affected             *activities.Affected
	approving, notifying bool
	// uncertain counts people whose send a crash left unknown; decided
	// is set when an officer settled them.
	uncertain int
	decided   bool
	resolving bool
	// closing is set once the workflow has decided to close: a notice
	// approved after that could never be sent, so it is refused.
	closing bool
}

// Breach runs a personal-data breach to its notifications: it finds the
// people affected through the data map, reminds the officers at 24, 48,
// 60 and 70 hours after awareness (the last two as escalations) and
// escalates past 72 hours until the authority's notification is recorded,
// and, once an officer approves the notice, emails every affected person
// once. A low-risk breach tells no one unless an officer approves a
// notice. It ends when the authority is notified and everyone to be told
// has been.
func Breach(ctx workflow.Context, in BreachInput) (BreachResult, error) {
	b := &breachRun{in: in}
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	if err := workflow.ExecuteActivity(actx, breaches.LoadBreach, in.BreachID).Get(ctx, &b.state); err != nil {
		return BreachResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApproveNotice, b.approveNotice,
		workflow.UpdateHandlerOptions{Validator: b.validateNotice}); err != nil {
		return BreachResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAuthorityNotified, b.authorityNotified,
		workflow.UpdateHandlerOptions{Validator: b.validateAuthority}); err != nil {
		return BreachResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResolveUncertain, b.resolveUncertain,
		workflow.UpdateHandlerOptions{Validator: b.validateUncertain}); err != nil {
		return BreachResult{}, err
	}
	workflow.Go(ctx, b.watchClock)

	var res BreachResult
	fctx := workflow.WithActivityOptions(ctx, fulfilmentActivity)
	if err := workflow.ExecuteActivity(fctx, breaches.FindAffected, in.BreachID).Get(ctx, &res.Affected); err != nil {
		if !isAppError(err, activities.ErrTypeNoDataMap) {
			return res, err
		}
		workflow.GetLogger(ctx).Warn("no data map configured; affected people cannot be found", "breach_id", in.BreachID)
	}
	b.affected = &res.Affected

	// Tell the people affected once a notice is approved; close once the
	// authority is notified and no notice is waiting to go out.
	for {
		if err := workflow.Await(ctx, func() bool {
			return (b.state.NoticeApproved && !b.state.FanOutDone) || (b.state.AuthorityNotified && !b.approving && (b.state.FanOutDone || !b.needsNotice()))
		}); err != nil {
			return res, err
		}
		if !b.state.NoticeApproved || b.state.FanOutDone {
			b.closing = true
			break
		}
		var p struct{ Sent, Uncertain int }
		octx := workflow.WithActivityOptions(ctx, fanOutActivity)
		if err := workflow.ExecuteActivity(octx, breaches.FanOut, in.BreachID).Get(ctx, &p); err != nil {
			return res, err
		}
		res.Notified = p.Sent
		if p.Uncertain > 0 {
			// A crash cut a send short: whether those people were
			// emailed is unknown, so an officer decides, and the
			// fan-out runs again to send or to finish.
			b.uncertain, b.decided = p.Uncertain, false
			if err := workflow.Await(ctx, func() bool { return b.decided }); err != nil {
				return res, err
			}
			b.uncertain = 0
			continue
		}
		b.state.FanOutDone = true
	}
	if err := workflow.ExecuteActivity(actx, breaches.CloseBreach, in.BreachID).Get(ctx, nil); err != nil {
		return res, err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return res, err
	}
	return res, nil
}

// needsNotice: medium and high risk tell the people affected (if any).
func (b *breachRun) needsNotice() bool {
	return b.state.Risk.NotifiesSubjects() && (b.affected == nil || b.affected.People > 0)
}

// watchClock raises the breach's milestones until the authority is
// notified: reminders at 24 and 48 hours, escalations at 60 and 70, and
// past 72 the overdue escalation. A milestone already past when the
// breach is recorded is skipped unless it is the latest, so a breach
// recorded 70 hours after awareness escalates at once.
func (b *breachRun) watchClock(ctx workflow.Context) {
	var ms []milestone
	for _, h := range domain.BreachReminders {
		ms = append(ms, milestone{at: b.state.AwareAt.Add(h), kind: mail.KindOfficerBreachReminder,
			key: fmt.Sprintf("reminder/%dh", int(h.Hours())), urgent: h >= domain.UrgentAfter})
	}
	ms = append(ms, milestone{at: b.state.DeadlineAt, kind: mail.KindOfficerBreachOverdue, key: "overdue", urgent: true})
	now := workflow.Now(ctx)
	// Skip all but the latest milestone already past.
	for len(ms) > 1 && !ms[1].at.After(now) {
		ms = ms[1:]
	}
	actx := workflow.WithActivityOptions(ctx, emailActivity)
	for _, m := range ms {
		if b.state.AuthorityNotified {
			return
		}
		if wait := m.at.Sub(workflow.Now(ctx)); wait > 0 {
			notified, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return b.state.AuthorityNotified })
			if err != nil || notified {
				return
			}
		}
		err := workflow.ExecuteActivity(actx, breaches.AlertBreach, activities.BreachAlert{
			BreachID: b.in.BreachID, Kind: m.kind, Key: m.key, Urgent: m.urgent,
		}).Get(ctx, nil)
		if err != nil {
			workflow.GetLogger(ctx).Warn("breach alert failed", "key", m.key, "error", err)
		}
	}
}

func (b *breachRun) validateNotice(n NoticeApproval) error {
	switch {
	case b.state.NoticeApproved || b.approving:
		return errors.New("a notice was already approved for this breach")
	case b.closing:
		return errors.New("the breach is closing: the authority is notified and no notice was approved before")
	case strings.TrimSpace(n.Subject) == "":
		return errors.New("the notice needs a subject line")
	case utf8.RuneCountInString(n.Subject) > domain.MaxTitleLen:
		return fmt.Errorf("the subject is longer than %d characters", domain.MaxTitleLen)
	case domain.CheckLine(n.Subject) != nil:
		return fmt.Errorf("subject: %w", domain.CheckLine(n.Subject))
	case domain.CheckText(n.Text) != nil:
		return fmt.Errorf("text: %w", domain.CheckText(n.Text))
	case strings.TrimSpace(n.Text) == "":
		return errors.New("the notice needs its text: what happened, what it means for them, what we did, what they can do, whom to contact")
	case slices.ContainsFunc(outlineParts, func(part string) bool { return strings.Contains(n.Text, part) }):
		return errors.New("the notice still holds parts of the outline in brackets; fill them in before it goes to anyone")
	case utf8.RuneCountInString(n.Text) > MaxNoticeLen:
		return fmt.Errorf("the text is longer than %d characters", MaxNoticeLen)
	case n.Actor == "":
		return errors.New("the approving officer is required")
	case b.affected != nil && b.affected.People == 0:
		return errors.New("no affected person was found to notify")
	}
	return nil
}

// approveNotice records the notice; the fan-out starts from the main loop.
func (b *breachRun) approveNotice(ctx workflow.Context, n NoticeApproval) error {
	b.approving = true
	defer func() { b.approving = false }()
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	err := workflow.ExecuteActivity(actx, breaches.ApproveNotice, activities.Notice{
		BreachID: b.in.BreachID, Subject: strings.TrimSpace(n.Subject), Text: strings.TrimSpace(n.Text), Actor: n.Actor,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	b.state.NoticeApproved = true
	return nil
}

func (b *breachRun) validateAuthority(ctx workflow.Context, n AuthorityNotification) error {
	now := workflow.Now(ctx)
	switch {
	case b.state.AuthorityNotified || b.notifying:
		return errors.New("the authority's notification is already recorded")
	case strings.TrimSpace(n.Authority) == "":
		return errors.New("name the supervisory authority notified")
	case strings.TrimSpace(n.Reference) == "":
		return errors.New("give the authority's reference (or your submission's)")
	case n.NotifiedAt.IsZero():
		return errors.New("say when the authority was notified")
	case n.NotifiedAt.After(now.Add(5 * time.Minute)):
		return errors.New("the notification cannot lie in the future")
	case n.NotifiedAt.Before(b.state.AwareAt):
		return errors.New("the notification cannot come before awareness of the breach")
	case n.NotifiedAt.After(b.state.DeadlineAt) && strings.TrimSpace(n.DelayReason) == "":
		return fmt.Errorf("notified %s after the 72 hours: give the reasons for the delay (GDPR Art. 33(1))",
			n.NotifiedAt.Sub(b.state.DeadlineAt).Round(time.Minute))
	case n.Actor == "":
		return errors.New("the recording officer is required")
	case slices.ContainsFunc([]string{n.Authority, n.Reference, n.DelayReason}, func(s string) bool { return domain.CheckText(s) != nil }):
		return domain.ErrNotText
	case slices.ContainsFunc([]string{n.Authority, n.Reference, n.DelayReason}, func(s string) bool { return utf8.RuneCountInString(s) > MaxReasonLen }):
		return fmt.Errorf("keep each field under %d characters", MaxReasonLen)
	}
	return nil
}

func (b *breachRun) authorityNotified(ctx workflow.Context, n AuthorityNotification) error {
	b.notifying = true
	defer func() { b.notifying = false }()
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	err := workflow.ExecuteActivity(actx, breaches.RecordAuthority, activities.AuthorityNotified{
		BreachID: b.in.BreachID, Authority: strings.TrimSpace(n.Authority), Reference: strings.TrimSpace(n.Reference),
		NotifiedAt: n.NotifiedAt, DelayReason: strings.TrimSpace(n.DelayReason), Actor: n.Actor,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	b.state.AuthorityNotified = true
	return nil
}

func (b *breachRun) validateUncertain(u UncertainDecision) error {
	switch {
	case b.uncertain == 0 || b.decided || b.resolving:
		return errors.New("no notice of this breach is of uncertain delivery")
	case u.Actor == "":
		return errors.New("the deciding officer is required")
	}
	return nil
}

func (b *breachRun) resolveUncertain(ctx workflow.Context, u UncertainDecision) error {
	b.resolving = true
	defer func() { b.resolving = false }()
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	err := workflow.ExecuteActivity(actx, breaches.ResolveUncertain, activities.Uncertain{
		BreachID: b.in.BreachID, Resend: u.Resend, Actor: u.Actor,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	b.decided = true
	return nil
}
