package office

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// DryRunQueryWait bounds how long a page waits to learn whether a
// request needs a dry run, so it shows (asking for one) when the workflow
// service is slow or down.
const DryRunQueryWait = 5 * time.Second

// HasDryRun reports whether a request's approval goes through a dry run
// the officer confirms: a deletion or a correction.
func HasDryRun(t domain.RequestType) bool {
	return t == domain.TypeDeletion || t == domain.TypeCorrection
}

// MakeDryRun works out what approving a deletion or correction in review
// would erase or write, without changing anything, and answers the plan;
// it replaces the one before as the plan an approval must confirm. A
// correction's value that could not be written (a phone number that is
// none) is a field error, as when the request was submitted.
func (s *Service) MakeDryRun(ctx context.Context, requestID, actor string) (*domain.DryRun, error) {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	switch {
	case !HasDryRun(r.Type):
		return nil, refused("request %s is a %s request; only a deletion or a correction has a dry run", r.ID, r.Type)
	case r.Status != domain.StatusInReview:
		return nil, refused("request %s is %s; a dry run is made while it is in review", r.ID, r.Status.OfficerLabel())
	}
	if r.Type == domain.TypeCorrection {
		if err := domain.CheckCorrectionValues(r.Corrections, s.PhoneRegion); err != nil {
			return nil, err
		}
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	_, err = update[workflows.DryRunResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateDryRun,
		workflows.DryRun{ID: hex.EncodeToString(id), Actor: actor}, closedRequest(r))
	if err != nil {
		return nil, err
	}
	return s.openDryRun(ctx, r.ID)
}

// DryRunRequired reports whether approving a request needs its dry run
// confirmed: a deletion or correction, unless its workflow began before
// dry runs (it is approved as before). When the workflow cannot be asked
// it answers true, the side that asks for more care.
func (s *Service) DryRunRequired(ctx context.Context, r *store.Request) bool {
	if !HasDryRun(r.Type) {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, DryRunQueryWait)
	defer cancel()
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.SubjectRequestWorkflowID(r.ID), "", workflows.QueryDryRunRequired)
	if err != nil {
		return true
	}
	var required bool
	if err := v.Get(&required); err != nil {
		return true
	}
	return required
}

// DryRun answers a request's latest dry run, and records in the audit
// trail that the officer viewed it (it lists the person's values).
func (s *Service) DryRun(ctx context.Context, requestID, actor string) (*domain.DryRun, error) {
	d, err := s.openDryRun(ctx, requestID)
	if err != nil {
		return nil, err
	}
	err = s.Store.Audit(ctx, store.AuditEvent{RequestID: requestID, Actor: actor, Action: "dry_run_viewed",
		Detail: "dry run " + d.ID, At: s.Now()})
	return d, err
}

func (s *Service) openDryRun(ctx context.Context, requestID string) (*domain.DryRun, error) {
	if _, err := s.Store.GetRequest(ctx, requestID); err != nil {
		return nil, err
	}
	stored, err := s.Store.GetDryRun(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &NotFoundError{What: "no dry run was made for request " + requestID}
	}
	if err != nil {
		return nil, err
	}
	if s.Sealer == nil {
		return nil, errors.New("office: no sealer for dry runs")
	}
	plain, err := s.Sealer.OpenBlob(stored.KeyID, store.DryRunBlobName(requestID, stored.ID), stored.Sealed)
	if err != nil {
		return nil, fmt.Errorf("office: open dry run: %w", err)
	}
	var d domain.DryRun
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("office: read dry run: %w", err)
	}
	d.ConfirmedAt, d.ConfirmedBy = stored.ConfirmedAt, stored.ConfirmedBy
	return &d, nil
}

// Confirm approves a deletion or correction by confirming its current
// dry run, named by ID: the workflow refuses an older one, or none, and
// records the confirmation before anything is erased or written. It
// answers the status the approval led to, as Decide does.
func (s *Service) Confirm(ctx context.Context, requestID, dryRunID, actor string) (domain.Status, error) {
	if dryRunID == "" {
		return "", invalid("dry_run_id", "name the dry run you confirm; make one first if there is none")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return "", err
	}
	d := workflows.ReviewDecision{Decision: workflows.Approve, Actor: actor, DryRunID: dryRunID}
	res, err := update[workflows.ReviewResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateReview, d, closedRequest(r))
	return res.Status, err
}
