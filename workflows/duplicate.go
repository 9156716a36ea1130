package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
)

// UpdateCloseDuplicate closes a request as a duplicate of another open
// request of the same person and type, before fulfilment starts: the
// request is recorded as duplicate (a final status, so its clock stops),
// the requester is emailed which request continues, and the workflow
// ends. It answers the final status, or refuses through the validator.
// What only the database knows (the other request exists, is the same
// person's, of the same type, and is not itself a duplicate) the office
// checks before it asks.
const UpdateCloseDuplicate = "close-duplicate"

// changeDuplicate: an officer may close a request as a duplicate of
// another.
const changeDuplicate = "duplicate"

// CloseDuplicate is the argument of UpdateCloseDuplicate. Of is a
// reference, not personal data.
type CloseDuplicate struct {
	Of    string // the request that continues
	Actor string // the officer, for the audit trail
}

// CloseDuplicateResult is what UpdateCloseDuplicate answers once the
// request is closed and the requester emailed.
type CloseDuplicateResult struct {
	Status domain.Status
}

func (w *subjectRequest) registerDuplicate(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateCloseDuplicate, w.closeDuplicate, workflow.UpdateHandlerOptions{
		Validator: w.validateDuplicate,
	})
}

func (w *subjectRequest) validateDuplicate(d CloseDuplicate) error {
	switch {
	case !w.duplicates:
		return errors.New("this request started before requests could be closed as duplicates; deny it with a reason instead")
	case w.duplicate != nil:
		return errors.New("the request is being closed as a duplicate already")
	case w.self.withdrawal != nil:
		return errors.New("the requester is withdrawing the request")
	case w.status.Final():
		return fmt.Errorf("the request is %s and no longer open", w.status)
	case w.decision != nil || !w.status.Duplicable(),
		w.in.Type == domain.TypeOptOut && w.verified != nil:
		return errors.New("the request was approved and is being carried out; it can no longer be closed as a duplicate")
	case d.Of == "":
		return errors.New("the request that continues is required")
	case d.Of == w.in.RequestID:
		return errors.New("a request cannot be a duplicate of itself")
	case d.Actor == "":
		return errors.New("the officer is required")
	}
	return nil
}

// closeDuplicate accepts the closing, wakes the main flow, and answers
// once the request is closed.
func (w *subjectRequest) closeDuplicate(ctx workflow.Context, d CloseDuplicate) (CloseDuplicateResult, error) {
	w.duplicate = &d
	w.self.wake.SendAsync(true)
	if err := workflow.Await(ctx, func() bool { return w.status.Final() }); err != nil {
		return CloseDuplicateResult{}, err
	}
	return CloseDuplicateResult{Status: w.status}, nil
}

// closing reports whether the request is to end before fulfilment: the
// requester withdrew it or an officer closed it as a duplicate. The main
// flow then calls endClosed and stops.
func (w *subjectRequest) closing() bool { return w.self.withdrawal != nil || w.duplicate != nil }

// endClosed ends a request being withdrawn or closed as a duplicate.
func (w *subjectRequest) endClosed(ctx workflow.Context) error {
	if w.self.withdrawal != nil {
		return w.endWithdrawn(ctx)
	}
	return w.endDuplicate(ctx)
}

// endDuplicate records the request as a duplicate of the one that
// continues and emails the requester which one it is. The clock watcher
// stops with the final status.
func (w *subjectRequest) endDuplicate(ctx workflow.Context) error {
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	err := workflow.ExecuteActivity(actx, requests.SetStatus, activities.StatusChange{
		RequestID: w.in.RequestID, To: domain.StatusDuplicate, Actor: w.duplicate.Actor, DuplicateOf: w.duplicate.Of,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("set status %s: %w", domain.StatusDuplicate, err)
	}
	w.status = domain.StatusDuplicate
	return w.email(ctx, mail.KindDuplicate, time.Time{})
}
