package workflows

import (
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/mail"
)

// SignalHoldReleased wakes a RetentionPurge when a legal hold that
// deferred part of its deletion is released.
const SignalHoldReleased = "hold-released"

// RetentionPurgeWorkflowID is the ID of a deletion's purge: one per
// request.
func RetentionPurgeWorkflowID(requestID string) string { return "retention/" + requestID }

// RetentionPurgeInput starts (or continues) a deletion's purge.
type RetentionPurgeInput struct {
	RequestID string
}

// PurgeStep is the longest a purge sleeps in one timer. Between steps it
// looks again (a hold placed meanwhile is respected) and, every
// PurgeStepsPerRun steps, continues as new: a seven-year wait keeps a
// short history and runs on the code of its day.
const (
	PurgeStep        = 30 * 24 * time.Hour
	PurgeStepsPerRun = 12
)

// RetentionPurge erases what a deletion had to leave: rows kept for a
// retention period, once it ends, and parts a legal hold deferred, once
// the hold is released or ends. It sleeps on durable timers between, so
// it survives restarts of the worker and of Temporal.
func RetentionPurge(ctx workflow.Context, in RetentionPurgeInput) error {
	ctx = workflow.WithActivityOptions(ctx, purgeActivity)
	released := workflow.GetSignalChannel(ctx, SignalHoldReleased)
	for step := 0; ; step++ {
		var ac activities.Aftercare
		if err := workflow.ExecuteActivity(ctx, fulfilment.Aftercare, in.RequestID).Get(ctx, &ac); err != nil {
			return err
		}
		// Purges started before this change never see HoldsEnded set
		// (their recorded results lack it), so they replay as they ran.
		if ac.HoldsEnded && workflow.GetVersion(ctx, changeHoldsEndedEmail, workflow.DefaultVersion, 1) >= 1 {
			if err := holdsEndedEmail(ctx, in.RequestID); err != nil {
				return err
			}
		}
		if !ac.Remaining {
			return nil
		}
		if step+1 >= PurgeStepsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The next run starts by looking again, so signals not yet
			// read are answered there.
			return workflow.NewContinueAsNewError(ctx, RetentionPurge, in)
		}
		wait := min(max(ac.Next.Sub(workflow.Now(ctx)), time.Second), PurgeStep)
		timerCtx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) {})
		sel.AddReceive(released, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			for c.ReceiveAsync(nil) { // one look answers them all
			}
		})
		sel.Select(ctx)
		cancel()
	}
}

// changeHoldsEndedEmail: once every part legal holds deferred is
// erased, the purge emails the requester what was erased and what the
// law still keeps (mail.KindHoldReleased).
const changeHoldsEndedEmail = "holds-ended-email"

// holdsEndedEmail tells the requester the legal holds ended. The email
// activity sends it at most once per request (its step is recorded), so
// a replay or a retry sends nothing more. An address the provider
// refuses is left to the officer, who sees it on the request's page;
// the purge goes on.
func holdsEndedEmail(ctx workflow.Context, requestID string) error {
	ectx := workflow.WithActivityOptions(ctx, emailActivity)
	err := workflow.ExecuteActivity(ectx, requests.SendEmail, activities.Email{RequestID: requestID, Kind: mail.KindHoldReleased}).Get(ctx, nil)
	if isAppError(err, activities.ErrTypeMailRejected) {
		workflow.GetLogger(ctx).Warn("email rejected; continuing", "kind", mail.KindHoldReleased)
		return nil
	}
	return err
}

// startPurge starts the deletion's RetentionPurge as an abandoned child:
// it outlives the request by years.
func (w *subjectRequest) startPurge(ctx workflow.Context) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            RetentionPurgeWorkflowID(w.in.RequestID),
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	})
	child := workflow.ExecuteChildWorkflow(cctx, RetentionPurge, RetentionPurgeInput{RequestID: w.in.RequestID})
	return child.GetChildWorkflowExecution().Get(ctx, nil)
}
