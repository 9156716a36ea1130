package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
)

// A dry run shows an officer what approving a deletion or correction
// would erase or write before anything is; the approval confirms it by
// its ID.
const (
	// UpdateDryRun makes a dry run of a deletion or correction in review
	// (stored sealed; the workflow keeps its ID) and answers its ID, or
	// refuses through the validator.
	UpdateDryRun = "dry-run"
	// QueryDryRunRequired answers whether approving the request needs a
	// confirmed dry run (false for requests begun before dry runs).
	QueryDryRunRequired = "dry-run-required"
)

// changeDryRun: approving a deletion or correction needs the current dry
// run confirmed (the review Update names its ID).
const changeDryRun = "dry-run"

// DryRun is the argument of UpdateDryRun.
type DryRun struct {
	ID    string // made by the caller, so storing it is idempotent
	Actor string // the officer, for the audit trail
}

// DryRunResult is what UpdateDryRun answers once the plan is stored.
type DryRunResult struct {
	ID string
}

// dryRunState is what the workflow knows of a request's dry runs.
type dryRunState struct {
	// required is set for a deletion or correction started under
	// changeDryRun: an approval must confirm the current dry run.
	required bool
	current  string // the latest dry run's ID
	busy     bool   // a dry run is being made
}

// dryRunActivity: the officer waits for a dry run, so it fails after a
// few attempts instead of retrying for hours; it can be asked again.
var dryRunActivity = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Minute,
	HeartbeatTimeout:    activities.HeartbeatTimeout,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaximumAttempts: 3,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidCorrection},
	},
}

func (w *subjectRequest) registerDryRun(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryDryRunRequired, func() (bool, error) { return w.dryRun.required, nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateDryRun, w.makeDryRun, workflow.UpdateHandlerOptions{
		Validator: w.validateDryRun,
	})
}

func (w *subjectRequest) validateDryRun(d DryRun) error {
	switch {
	case w.in.Type != domain.TypeDeletion && w.in.Type != domain.TypeCorrection:
		return errors.New("only a deletion or a correction has a dry run")
	case !w.dryRun.required:
		return errors.New("this request began before dry runs; it is approved without one")
	case w.status != domain.StatusInReview:
		return fmt.Errorf("request is %s, not awaiting review", w.status)
	case w.decision != nil:
		return errors.New("request was already decided")
	case w.withdrawn():
		return errors.New("the requester withdrew the request")
	case w.dryRun.busy:
		return errors.New("a dry run is being made already; wait for it")
	case d.ID == "":
		return errors.New("the dry run needs an ID")
	case d.Actor == "":
		return errors.New("the officer is required")
	}
	return nil
}

// makeDryRun works out and stores the dry run, which becomes the one an
// approval must confirm.
func (w *subjectRequest) makeDryRun(ctx workflow.Context, d DryRun) (DryRunResult, error) {
	w.dryRun.busy = true
	defer func() { w.dryRun.busy = false }()
	actx := workflow.WithActivityOptions(ctx, dryRunActivity)
	err := workflow.ExecuteActivity(actx, fulfilment.DryRun, activities.DryRunInput{RequestID: w.in.RequestID, ID: d.ID, Actor: d.Actor}).Get(ctx, nil)
	if err != nil {
		return DryRunResult{}, err
	}
	w.dryRun.current = d.ID
	return DryRunResult{ID: d.ID}, nil
}

// dryRunProblem says why an approval does not confirm the current dry
// run, or nil.
func (w *subjectRequest) dryRunProblem(d ReviewDecision) error {
	if d.Decision != Approve || !w.dryRun.required {
		return nil
	}
	switch {
	case w.dryRun.busy:
		return errors.New("a dry run is being made; review it and confirm it once it is shown")
	case w.dryRun.current == "":
		return fmt.Errorf("approving a %s needs its dry run confirmed: make a dry run, check what it would change, and confirm it", w.in.Type)
	case d.DryRunID == "":
		return fmt.Errorf("approving a %s needs its dry run confirmed: give the ID of the current dry run (%s) to confirm it", w.in.Type, w.dryRun.current)
	case d.DryRunID != w.dryRun.current:
		return fmt.Errorf("dry run %s is not the current one; a newer dry run (%s) was made since: review it and confirm that one", d.DryRunID, w.dryRun.current)
	}
	return nil
}

// confirmDryRun records the approving officer's confirmation of the dry
// run before anything is changed.
func (w *subjectRequest) confirmDryRun(ctx workflow.Context, d ReviewDecision) error {
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	return workflow.ExecuteActivity(actx, fulfilment.ConfirmDryRun, w.in.RequestID, d.DryRunID, d.Actor).Get(ctx, nil)
}
