// Package office is what a privacy office does, as commands: take a
// request, verify a requester, decide, extend, complete a task, send a
// refused email again, record a breach and carry it through, place and
// release legal holds. It stands between the web and Temporal: each
// command checks its input, writes what belongs in dsar's database and
// talks to the workflow, and answers in the office's own terms (the
// errors below), so the web maps them to HTTP once and imports no
// Temporal package.
//
// A request is stored before it is acknowledged, so nothing is lost when
// Temporal is down; its start is retried within seconds, and Recover,
// run by every web process and by the deadline monitor, is the last
// resort.
package office

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// RefusedError: the command was refused for a reason the officer can
// read (the workflow's validator, a closed request, a rule): nothing
// changed. The web answers 409.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Refused is a *RefusedError with the reason, for a caller that finds a
// command refused before sending it.
func Refused(format string, args ...any) error { return refused(format, args...) }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// NotFoundError: what the command names does not exist. The web answers
// 404 with What.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What }

// ErrStillProcessing: the command was accepted and is still being
// carried out after DecisionWait; it finishes in the background. The web
// answers 202.
var ErrStillProcessing = errors.New("accepted and still being carried out")

// ErrUnavailable: the workflow service did not answer; nothing changed,
// try again. The web answers 503.
var ErrUnavailable = errors.New("the workflow service is unavailable; try again shortly")

// unavailable wraps the cause for the log while answering ErrUnavailable.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string { return ErrUnavailable.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{ErrUnavailable, e.cause}
}

// DecisionWait is how long a command waits for its Update to be carried
// out before answering ErrStillProcessing.
const DecisionWait = 20 * time.Second

// update sends an Update to a workflow and waits for its result. A
// refusal by the validator is a *RefusedError with its reason; a
// workflow that no longer runs is refused with closed's reason; a
// result not ready within DecisionWait is ErrStillProcessing.
func update[R any](ctx context.Context, tc client.Client, workflowID, name string, arg any, closed func() error) (R, error) {
	var res R
	handle, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return res, updateError(err, closed)
	}
	waitCtx, cancel := context.WithTimeout(ctx, DecisionWait)
	defer cancel()
	if err := handle.Get(waitCtx, &res); err != nil {
		if waitCtx.Err() != nil && ctx.Err() == nil {
			return res, ErrStillProcessing
		}
		return res, updateError(err, closed)
	}
	return res, nil
}

func updateError(err error, closed func() error) error {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &appErr):
		return &RefusedError{Reason: appErr.Message()}
	case errors.As(err, &notFound):
		return closed()
	}
	return &unavailableError{cause: err}
}

// Ready reports whether Temporal answers, for readiness probes.
func (s *Service) Ready(ctx context.Context) error {
	_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}
