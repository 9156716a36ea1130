// Package workflows holds dsar's deterministic workflow code. Side effects
// live in package activities; workflows carry request IDs, never a
// person's data.
package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// Names the web and API use to talk to a running SubjectRequest.
const (
	// SignalIdentityVerified tells the workflow the requester proved their
	// identity (the verification page already recorded it in the database).
	SignalIdentityVerified = "identity-verified"
	// UpdateReview carries an officer's decision and answers with the
	// resulting status, or refuses it through the validator.
	UpdateReview = "review"
	// SignalTaskCompleted tells the workflow an officer completed a manual
	// task (already recorded in the database); its payload is
	// TaskCompleted.
	SignalTaskCompleted = "task-completed"
	// UpdateExtend extends the request's deadline once, inside the first
	// period, with a reason the requester is emailed; it answers the new
	// due date, or refuses through the validator.
	UpdateExtend = "extend"
	// UpdateResendEmail sends again the emails the provider refused (after
	// an officer corrected the address); it answers which went out, or
	// refuses through the validator when none was refused.
	UpdateResendEmail = "resend-email"
	// QueryStatus answers the workflow's current status.
	QueryStatus = "status"
)

// Change IDs of workflow.GetVersion: each names a change to the request
// workflow, so requests started before it replay as they ran.
const (
	// changeFulfilment: dsar discovers and acts on the data map itself.
	changeFulfilment = "fulfilment"
	// changeClock: the workflow keeps the legal clock (reminders,
	// escalation, extensions).
	changeClock = "clock"
	// changeRetention: a deletion that kept or deferred rows starts a
	// RetentionPurge.
	changeRetention = "retention"
	// changeFulfillingFirst: an approval is recorded as fulfilling before
	// any system is touched, so the status never says "in review" over
	// data already erased.
	changeFulfillingFirst = "fulfilling-first"
	// changeOptOut: an opt-out is carried out once the address is
	// confirmed, with no officer's review.
	changeOptOut = "opt-out"
	// changeLocalSteps: the short database steps (the clock, a status,
	// the other systems' tasks) run as local activities, inside the
	// workflow task, instead of a round trip through the server each.
	changeLocalSteps = "local-steps"
)

// MaxReasonLen bounds a denial reason, which is emailed to the requester.
const MaxReasonLen = 2000

// reasonProblem says what is wrong with a reason the requester will read:
// text that cannot be stored, or too long.
func reasonProblem(reason string) error {
	if err := domain.CheckText(reason); err != nil {
		return fmt.Errorf("reason: %w", err)
	}
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return fmt.Errorf("reason is longer than %d characters", MaxReasonLen)
	}
	return nil
}

// SubjectRequestWorkflowID is the workflow ID of a request: one workflow
// per request, so starting twice is harmless.
func SubjectRequestWorkflowID(requestID string) string { return "request/" + requestID }

// SubjectRequestInput starts a request's workflow.
type SubjectRequestInput struct {
	RequestID string
	// Type is the right the request exercises; empty in workflows
	// started before it was passed, none of which is an opt-out.
	Type domain.RequestType
	// VerifyTTL is how long the requester has to verify their identity.
	VerifyTTL time.Duration
	// Reminders are how long before the due date officers are reminded
	// (DSAR_REMINDERS); nil means DefaultReminders, empty means none.
	Reminders []time.Duration
}

// DefaultReminders remind officers a week and two days before a request
// is due.
var DefaultReminders = []time.Duration{7 * 24 * time.Hour, 2 * 24 * time.Hour}

// SubjectRequestResult is the request's final status.
type SubjectRequestResult struct {
	Status domain.Status
}

// IdentityVerified is the payload of SignalIdentityVerified.
type IdentityVerified struct {
	Actor string
}

// TaskCompleted is the payload of SignalTaskCompleted.
type TaskCompleted struct {
	System string
}

// TaskRecheck is how often a workflow waiting for manual tasks asks the
// database, in case a completion signal was lost.
const TaskRecheck = 6 * time.Hour

// Decision is an officer's answer to a request in review.
type Decision string

const (
	Approve Decision = "approve"
	Deny    Decision = "deny"
)

// ReviewDecision is the argument of UpdateReview.
type ReviewDecision struct {
	Decision Decision
	Reason   string // required to deny; the requester reads it
	Actor    string // the officer, for the audit trail
	// DryRunID confirms the current dry run: required to approve a
	// deletion or correction started under changeDryRun.
	DryRunID string
}

// Extension is the argument of UpdateExtend.
type Extension struct {
	Reason string // required; the requester reads it
	Actor  string // the officer, for the audit trail
}

// ResendEmail is the argument of UpdateResendEmail.
type ResendEmail struct {
	Actor string // the officer, for the audit trail
	// Verification asks for the verification email again, with a fresh
	// link and code, for a requester still confirming their address
	// (withdraw.go), instead of the emails the provider refused.
	Verification bool
}

// ResendResult is what UpdateResendEmail answers: the steps sent, and
// those the provider refused again.
type ResendResult struct {
	Sent    []string
	Refused []string
}

// ExtensionResult is what UpdateExtend answers once the new date is
// stored and the requester emailed.
type ExtensionResult struct {
	DueAt time.Time
}

// ReviewResult is what UpdateReview answers once the decision is carried
// out and the requester emailed.
type ReviewResult struct {
	Status domain.Status
}

// subjectRequest is the state of one running request.
type subjectRequest struct {
	in       SubjectRequestInput
	status   domain.Status
	verified *IdentityVerified
	decision *ReviewDecision
	// fulfils is false for workflows started before dsar found and acted
	// on data itself; they replay without discovery or fulfilment.
	fulfils bool
	// local is false for workflows started before the short database
	// steps ran as local activities (changeLocalSteps).
	local bool
	// clock is the request's legal clock; nil in workflows started before
	// the workflow kept it (they replay without reminders or extensions).
	clock *activities.Clock
	// awaitingOthers is set once an approved request waits on webhooks
	// or manual tasks: the review Update answers then rather than days
	// later.
	awaitingOthers bool
	// extending is set while an accepted extension is carried out.
	extending bool
	// refused are the emails the provider refused for good, by step, in
	// the order they were refused, to send again on an officer's word.
	refused []activities.Email
	// resending is set while refused emails are sent again.
	resending bool
	// alerted holds the keys of the officer alerts already raised.
	alerted map[string]bool
	// self is what the requester does from the status page (withdraw.go).
	self selfService
	// release is the package waiting for an officer's release, if any.
	release *releaseState
	// duplicates is false in workflows started before officers could
	// close a request as a duplicate (duplicate.go); duplicate is set
	// once such a closing is accepted, and the main flow carries it out
	// at its next step and ends.
	duplicates bool
	duplicate  *CloseDuplicate
	// dryRun is what a deletion or correction's approval must confirm.
	dryRun dryRunState
}

// SubjectRequest runs a data-subject request from acknowledgement to its
// final answer: acknowledge, verify the requester's identity (with a
// reminder and a deadline), wait for an officer's decision, and tell the
// requester the outcome. Every status is written to the database, which the
// API and dashboard read.
func SubjectRequest(ctx workflow.Context, in SubjectRequestInput) (SubjectRequestResult, error) {
	w := &subjectRequest{in: in, status: domain.StatusReceived}
	if err := w.register(ctx); err != nil {
		return SubjectRequestResult{}, err
	}
	if err := w.run(ctx); err != nil {
		return SubjectRequestResult{Status: w.status}, err
	}
	// Let a review update finish answering before the workflow closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return SubjectRequestResult{Status: w.status}, err
	}
	return SubjectRequestResult{Status: w.status}, nil
}

func (w *subjectRequest) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (domain.Status, error) { return w.status, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateExtend, w.extend, workflow.UpdateHandlerOptions{
		Validator: w.validateExtend,
	}); err != nil {
		return err
	}
	if err := w.registerWithdraw(ctx); err != nil {
		return err
	}
	if err := w.registerDuplicate(ctx); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResendEmail, w.resend, workflow.UpdateHandlerOptions{
		Validator: w.validateResend,
	}); err != nil {
		return err
	}
	if err := w.registerRelease(ctx); err != nil {
		return err
	}
	if err := w.registerDryRun(ctx); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateReview, w.review, workflow.UpdateHandlerOptions{
		Validator: w.validateReview,
	})
}

func (w *subjectRequest) validateResend(r ResendEmail) error {
	if r.Verification {
		return w.validateResendVerification(r)
	}
	switch {
	case r.Actor == "":
		return errors.New("the officer is required")
	case w.resending:
		return errors.New("the refused emails are being sent again already")
	case len(w.refused) == 0:
		return errors.New("no email of this request was refused; there is nothing to send again")
	}
	return nil
}

// resend sends the refused emails again, oldest first, as they were
// asked for (a verification link keeps its original expiry).
func (w *subjectRequest) resend(ctx workflow.Context, r ResendEmail) (ResendResult, error) {
	if r.Verification {
		return w.resendVerification(ctx)
	}
	w.resending = true
	defer func() { w.resending = false }()
	var res ResendResult
	var still []activities.Email
	for _, e := range w.refused {
		step := cmp.Or(e.Step, string(e.Kind))
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, emailActivity), requests.SendEmail, e).Get(ctx, nil)
		switch {
		case err == nil:
			res.Sent = append(res.Sent, step)
		case isAppError(err, activities.ErrTypeMailRejected):
			res.Refused = append(res.Refused, step)
			still = append(still, e)
		default:
			return res, err
		}
	}
	w.refused = still
	return res, nil
}

func (w *subjectRequest) run(ctx workflow.Context) error {
	w.self.enabled = workflow.GetVersion(ctx, changeWithdraw, workflow.DefaultVersion, 1) >= 1
	w.duplicates = workflow.GetVersion(ctx, changeDuplicate, workflow.DefaultVersion, 1) >= 1
	w.fulfils = workflow.GetVersion(ctx, changeFulfilment, workflow.DefaultVersion, 1) >= 1
	w.local = workflow.GetVersion(ctx, changeLocalSteps, workflow.DefaultVersion, 1) >= 1
	if workflow.GetVersion(ctx, changeClock, workflow.DefaultVersion, 1) >= 1 {
		var clock activities.Clock
		if err := w.storeStep(ctx, requests.Clock, w.in.RequestID).Get(ctx, &clock); err != nil {
			return err
		}
		w.clock = &clock
		workflow.Go(ctx, w.watchClock)
	}
	if err := w.email(ctx, mail.KindAcknowledgement, time.Time{}); err != nil {
		return err
	}
	verified, err := w.verifyIdentity(ctx)
	if err != nil || !verified {
		return err
	}
	if w.closing() {
		return w.endClosed(ctx)
	}
	if w.in.Type == domain.TypeOptOut && workflow.GetVersion(ctx, changeOptOut, workflow.DefaultVersion, 1) >= 1 {
		// An opt-out needs no officer's review: the confirmed address is
		// all the proof it asks (CCPA regulations §7026(c)), and the law
		// wants it carried out without delay.
		return w.decide(ctx, ReviewDecision{Decision: Approve, Actor: store.ActorSystem})
	}
	if w.in.Type == domain.TypeDeletion || w.in.Type == domain.TypeCorrection {
		// Known before the request shows in review, so the validator
		// asks for a confirmed dry run from the first approval on.
		w.dryRun.required = workflow.GetVersion(ctx, changeDryRun, workflow.DefaultVersion, 1) >= 1
	}
	if err := w.setStatus(ctx, domain.StatusInReview, store.ActorSystem, ""); err != nil {
		return err
	}
	if err := w.email(ctx, mail.KindVerified, time.Time{}); err != nil {
		return err
	}
	// Discovery stores findings for the officer's review. It runs while
	// the workflow waits for the decision: a slow or unreachable system
	// never holds up a decision, and fulfilment discovers again anyway.
	discoveryCtx, stopDiscovery := workflow.WithCancel(ctx)
	defer stopDiscovery()
	if w.fulfils {
		dctx := workflow.WithActivityOptions(discoveryCtx, fulfilmentActivity)
		workflow.ExecuteActivity(dctx, fulfilment.Discover, w.in.RequestID)
	}
	if err := workflow.Await(ctx, func() bool { return w.decision != nil || w.closing() }); err != nil {
		return err
	}
	stopDiscovery()
	if w.closing() {
		return w.endClosed(ctx)
	}
	return w.decide(ctx, *w.decision)
}

// verifyIdentity sends the verification link, reminds once, and waits until
// the requester verifies or the link expires. It reports false when the
// request expired unverified (already recorded and emailed).
func (w *subjectRequest) verifyIdentity(ctx workflow.Context) (bool, error) {
	if w.closing() { // withdrawn or closed while being acknowledged
		return false, w.endClosed(ctx)
	}
	verifyBy := workflow.Now(ctx).Add(w.in.VerifyTTL)
	w.self.verifyBy = verifyBy
	if err := w.email(ctx, mail.KindVerification, verifyBy); err != nil {
		return false, err
	}
	if err := w.setStatus(ctx, domain.StatusVerifying, store.ActorSystem, ""); err != nil {
		return false, err
	}

	signals := workflow.GetSignalChannel(ctx, SignalIdentityVerified)
	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	reminder := workflow.NewTimer(timerCtx, domain.VerificationReminderAt(w.in.VerifyTTL))
	expiry := workflow.NewTimer(timerCtx, w.in.VerifyTTL)
	expired := false

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
		var v IdentityVerified
		c.Receive(ctx, &v)
		w.verified = &v
	})
	var reminderErr error
	sel.AddFuture(reminder, func(f workflow.Future) {
		if f.Get(ctx, nil) == nil {
			reminderErr = w.email(ctx, mail.KindVerificationReminder, verifyBy)
		}
	})
	sel.AddFuture(expiry, func(workflow.Future) { expired = true })
	sel.AddReceive(w.self.wake, func(c workflow.ReceiveChannel, _ bool) {
		var woken bool
		c.Receive(ctx, &woken)
	})
	for w.verified == nil && !expired && !w.closing() {
		sel.Select(ctx)
		if reminderErr != nil {
			return false, reminderErr
		}
	}
	if w.closing() {
		return false, w.endClosed(ctx)
	}
	if w.verified != nil {
		return true, w.pauseClock(ctx, verifyBy.Add(-w.in.VerifyTTL))
	}

	// The verification page records the verification before it signals;
	// if the signal was lost, the database still knows.
	var inDatabase bool
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeActivity), requests.IsVerified, w.in.RequestID).Get(ctx, &inDatabase); err != nil {
		return false, err
	}
	if inDatabase {
		w.verified = &IdentityVerified{Actor: store.ActorRequester}
		return true, w.pauseClock(ctx, verifyBy.Add(-w.in.VerifyTTL))
	}
	if err := w.setStatus(ctx, domain.StatusExpiredUnverified, store.ActorSystem, "verification link expired"); err != nil {
		return false, err
	}
	return false, w.email(ctx, mail.KindExpiredUnverified, time.Time{})
}

func (w *subjectRequest) validateReview(d ReviewDecision) error {
	switch {
	case w.status != domain.StatusInReview:
		return fmt.Errorf("request is %s, not awaiting review", w.status)
	case w.decision != nil:
		return errors.New("request was already decided")
	case w.withdrawn():
		return errors.New("the requester withdrew the request")
	case w.duplicate != nil:
		return errors.New("the request is being closed as a duplicate")
	case d.Decision != Approve && d.Decision != Deny:
		return fmt.Errorf("decision must be %q or %q", Approve, Deny)
	case d.Decision == Deny && d.Reason == "":
		return errors.New("a denial needs a reason; the requester will read it")
	case reasonProblem(d.Reason) != nil:
		return reasonProblem(d.Reason)
	case d.Actor == "":
		return errors.New("the deciding officer is required")
	}
	return w.dryRunProblem(d)
}

// review accepts the decision and answers once it is carried out, or
// once it waits on other systems or manual tasks (status fulfilling),
// which may take days.
func (w *subjectRequest) review(ctx workflow.Context, d ReviewDecision) (ReviewResult, error) {
	w.decision = &d
	if err := workflow.Await(ctx, func() bool {
		return w.status.Final() || w.awaitingOthers || w.status == domain.StatusAwaitingRelease
	}); err != nil {
		return ReviewResult{}, err
	}
	return ReviewResult{Status: w.status}, nil
}

func (w *subjectRequest) decide(ctx workflow.Context, d ReviewDecision) error {
	status, kind := domain.StatusCompleted, mail.KindCompleted
	var done activities.Fulfilled
	if d.Decision == Deny {
		status, kind = domain.StatusDenied, mail.KindDenied
	} else if w.fulfils {
		if w.dryRun.required {
			if err := w.confirmDryRun(ctx, d); err != nil {
				return err
			}
		}
		if workflow.GetVersion(ctx, changeFulfillingFirst, workflow.DefaultVersion, 1) >= 1 {
			if err := w.setStatus(ctx, domain.StatusFulfilling, d.Actor, ""); err != nil {
				return err
			}
		}
		if err := w.otherSystems(ctx, d.Actor); err != nil {
			return err
		}
		if err := w.dataMapStep(ctx, fulfilment.Fulfil, &done); err != nil {
			return err
		}
		if done.Release && workflow.GetVersion(ctx, changeRelease, workflow.DefaultVersion, 1) >= 1 {
			return w.awaitRelease(ctx, d, done)
		}
	}
	if err := w.setStatus(ctx, status, d.Actor, d.Reason); err != nil {
		return err
	}
	if err := w.email(ctx, kind, time.Time{}); err != nil {
		return err
	}
	if done.Aftercare && workflow.GetVersion(ctx, changeRetention, workflow.DefaultVersion, 1) >= 1 {
		return w.startPurge(ctx)
	}
	return nil
}

// otherSystems carries out the approved request in the systems dsar does
// not reach itself: it calls every webhook (retrying until each answers)
// and waits for officers to complete every manual task.
func (w *subjectRequest) otherSystems(ctx workflow.Context, officer string) error {
	var tasks []activities.Task
	if err := w.storeStep(ctx, systemTasks.PrepareTasks, w.in.RequestID).Get(ctx, &tasks); err != nil {
		return err
	}
	if len(tasks) == 0 {
		return nil
	}
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	if w.status != domain.StatusFulfilling {
		if err := w.setStatus(ctx, domain.StatusFulfilling, officer, ""); err != nil {
			return err
		}
	}
	w.awaitingOthers = true
	pending := map[string]bool{}
	var calls []workflow.Future
	wctx := workflow.WithActivityOptions(ctx, webhookActivity)
	for _, t := range tasks {
		switch {
		case t.Done:
		case t.Kind == "webhook":
			calls = append(calls, workflow.ExecuteActivity(wctx, systemTasks.CallWebhook, w.in.RequestID, t.System))
		default:
			pending[t.System] = true
		}
	}
	signals := workflow.GetSignalChannel(ctx, SignalTaskCompleted)
	for len(pending) > 0 {
		timerCtx, cancel := workflow.WithCancel(ctx)
		recheck := workflow.NewTimer(timerCtx, TaskRecheck)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			var done TaskCompleted
			c.Receive(ctx, &done)
			delete(pending, done.System)
		})
		var recheckErr error
		sel.AddFuture(recheck, func(workflow.Future) {
			var now []activities.Task
			if recheckErr = workflow.ExecuteActivity(actx, systemTasks.PendingTasks, w.in.RequestID).Get(ctx, &now); recheckErr != nil {
				return
			}
			for _, t := range now {
				if t.Done {
					delete(pending, t.System)
				}
			}
		})
		sel.Select(ctx)
		cancel()
		if recheckErr != nil {
			return recheckErr
		}
	}
	for _, f := range calls {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// dataMapStep runs discovery or fulfilment. Without a data map there is
// nothing to search: the request goes on as a ticket for the officer.
func (w *subjectRequest) dataMapStep(ctx workflow.Context, step any, result any) error {
	ctx = workflow.WithActivityOptions(ctx, fulfilmentActivity)
	err := workflow.ExecuteActivity(ctx, step, w.in.RequestID).Get(ctx, result)
	if isAppError(err, activities.ErrTypeNoDataMap) {
		workflow.GetLogger(ctx).Warn("no data map configured; skipping", "request_id", w.in.RequestID)
		return nil
	}
	return err
}

func (w *subjectRequest) setStatus(ctx workflow.Context, to domain.Status, actor, reason string) error {
	if to == domain.StatusInReview {
		// Accept decisions from the moment the database may show the
		// request in review: an officer (or API client) acting on that
		// must not be refused in the instant before the activity's
		// result reaches the workflow. The decision is carried out after
		// this step in any case.
		w.status = to
	}
	err := w.storeStep(ctx, requests.SetStatus, activities.StatusChange{
		RequestID: w.in.RequestID, To: to, Actor: actor, Reason: reason,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("set status %s: %w", to, err)
	}
	w.status = to
	return nil
}

// storeStep runs a short step in dsar's database: a local activity in
// workflows started since changeLocalSteps, run by this worker inside the
// workflow task (no trip through the server's task queue, and steps in a
// row share one workflow task), else an activity as before. Each step is
// idempotent, as a local activity retried after a lost workflow task
// runs again.
func (w *subjectRequest) storeStep(ctx workflow.Context, step any, args ...any) workflow.Future {
	if w.local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, storeLocalActivity), step, args...)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeActivity), step, args...)
}

// email sends one email. A rejected email (a bad address, say) is audited
// by the activity and does not stop the request: an officer can still act.
func (w *subjectRequest) email(ctx workflow.Context, kind mail.Kind, verifyLinkExpires time.Time) error {
	ctx = workflow.WithActivityOptions(ctx, emailActivity)
	e := activities.Email{RequestID: w.in.RequestID, Kind: kind, VerifyLinkExpires: verifyLinkExpires}
	err := workflow.ExecuteActivity(ctx, requests.SendEmail, e).Get(ctx, nil)
	if isAppError(err, activities.ErrTypeMailRejected) {
		workflow.GetLogger(ctx).Warn("email rejected; continuing", "kind", kind)
		w.refused = append(w.refused, e)
		return nil
	}
	if err != nil {
		return fmt.Errorf("email %s: %w", kind, err)
	}
	return nil
}
