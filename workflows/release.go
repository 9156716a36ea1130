package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
)

// Review before release: an access or export package waits, status
// awaiting_release, while an officer previews it, withholds parts with a
// reason, and releases it; only the release emails the download link.
const (
	// UpdateWithhold withholds a table, rows or columns from a package
	// awaiting release; it answers the rebuilt package, or refuses
	// through the validator.
	UpdateWithhold = "withhold"
	// UpdateRelease releases a package awaiting release; it answers the
	// status (completed) once the requester is emailed the link.
	UpdateRelease = "release"
)

// changeRelease: an access or export package waits for an officer's
// release (DSAR_REVIEW_BEFORE_RELEASE) before the requester is told.
const changeRelease = "release"

// Withhold is the argument of UpdateWithhold. Rows are primary keys as
// JSON arrays; a withholding names rows or columns (not both), or
// neither for the whole table.
type Withhold struct {
	ID      string // made by the caller, so recording it is idempotent
	System  string
	Table   string
	Rows    []json.RawMessage
	Columns []string
	Reason  string // required; the requester reads it in the package
	Actor   string // the officer, for the audit trail
}

// WithholdResult is what UpdateWithhold answers: the rebuilt package.
type WithholdResult struct {
	Package domain.PackageInfo
}

// Release is the argument of UpdateRelease.
type Release struct {
	Actor string // the officer, for the audit trail
}

// ReleaseResult is what UpdateRelease answers once the requester is
// emailed.
type ReleaseResult struct {
	Status domain.Status
}

// releaseState is a package waiting for release.
type releaseState struct {
	tables   []string // "system.table"
	busy     bool     // a withholding is being carried out
	released *Release
	emailed  bool
}

func (w *subjectRequest) registerRelease(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateWithhold, w.withhold, workflow.UpdateHandlerOptions{
		Validator: w.validateWithhold,
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRelease, w.releasePackage, workflow.UpdateHandlerOptions{
		Validator: w.validateRelease,
	})
}

// noPackageWaiting says why nothing can be withheld or released.
func (w *subjectRequest) noPackageWaiting() error {
	switch {
	case w.release == nil:
		return fmt.Errorf("request is %s; it has no package awaiting release", w.status)
	case w.release.released != nil:
		return errors.New("the package was already released to the requester")
	}
	return nil
}

func (w *subjectRequest) validateWithhold(h Withhold) error {
	if err := w.noPackageWaiting(); err != nil {
		return err
	}
	switch {
	case h.Actor == "":
		return errors.New("the officer is required")
	case h.ID == "":
		return errors.New("the withholding needs an ID")
	case !slices.Contains(w.release.tables, h.System+"."+h.Table):
		return fmt.Errorf("the package holds no table %s.%s", h.System, h.Table)
	case len(h.Rows) > 0 && len(h.Columns) > 0:
		return errors.New("withhold rows or columns, not both at once")
	case h.Reason == "":
		return errors.New("a withholding needs a reason; the requester reads it in the package")
	}
	return reasonProblem(h.Reason)
}

// withhold records the withholding and rebuilds the package, one at a
// time.
func (w *subjectRequest) withhold(ctx workflow.Context, h Withhold) (WithholdResult, error) {
	if err := workflow.Await(ctx, func() bool { return !w.release.busy }); err != nil {
		return WithholdResult{}, err
	}
	if err := w.noPackageWaiting(); err != nil {
		return WithholdResult{}, err
	}
	w.release.busy = true
	defer func() { w.release.busy = false }()
	var p domain.PackageInfo
	actx := workflow.WithActivityOptions(ctx, fulfilmentActivity)
	err := workflow.ExecuteActivity(actx, fulfilment.Withhold, activities.Withholding{
		RequestID: w.in.RequestID, ID: h.ID, System: h.System, Table: h.Table,
		Rows: h.Rows, Columns: h.Columns, Reason: h.Reason, Actor: h.Actor,
	}).Get(ctx, &p)
	return WithholdResult{Package: p}, err
}

func (w *subjectRequest) validateRelease(r Release) error {
	if err := w.noPackageWaiting(); err != nil {
		return err
	}
	if r.Actor == "" {
		return errors.New("the officer is required")
	}
	return nil
}

// releasePackage lets the waiting request go on and answers once the
// requester is emailed.
func (w *subjectRequest) releasePackage(ctx workflow.Context, r Release) (ReleaseResult, error) {
	w.release.released = &r
	if err := workflow.Await(ctx, func() bool { return w.release.emailed }); err != nil {
		return ReleaseResult{}, err
	}
	return ReleaseResult{Status: w.status}, nil
}

// awaitRelease holds a built package as awaiting_release until an
// officer releases it (withholdings are carried out meanwhile), then
// completes the request and emails the link.
func (w *subjectRequest) awaitRelease(ctx workflow.Context, d ReviewDecision, done activities.Fulfilled) error {
	w.release = &releaseState{tables: done.Tables}
	if err := w.setStatus(ctx, domain.StatusAwaitingRelease, d.Actor, ""); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return w.release.released != nil && !w.release.busy }); err != nil {
		return err
	}
	officer := w.release.released.Actor
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	if err := workflow.ExecuteActivity(actx, fulfilment.Release, w.in.RequestID, officer).Get(ctx, nil); err != nil {
		return err
	}
	if err := w.setStatus(ctx, domain.StatusCompleted, officer, ""); err != nil {
		return err
	}
	err := w.email(ctx, mail.KindCompleted, time.Time{})
	w.release.emailed = true
	return err
}
