package office

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// Duplicates: the same person (the same verified address) made the same
// request twice. The list and the request's page flag it
// (store.OpenDuplicates); an officer closes the extra one as a duplicate
// of the one that continues, which ends it with status duplicate, stops
// its clock and emails the requester which request continues.

// CloseAsDuplicate closes a request as a duplicate of another, through
// the request's workflow, and answers the status it led to (duplicate).
// The request that continues (of) must exist, be open, be the same
// person's (the same address, confirmed on it) and of the same type, and
// not itself be closed as a duplicate; the request must not have been
// approved yet. A refusal changes nothing.
func (s *Service) CloseAsDuplicate(ctx context.Context, requestID, of, actor string) (domain.Status, error) {
	of = strings.ToUpper(strings.TrimSpace(of))
	if of == "" {
		return "", invalid("of", "the reference of the request that continues, such as DSR-7Q2M4K9X1P")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return "", err
	}
	if err := s.duplicateProblem(ctx, r, of, "of"); err != nil {
		return "", err
	}
	return s.closeDuplicate(ctx, r, of, actor)
}

func (s *Service) closeDuplicate(ctx context.Context, r *store.Request, of, actor string) (domain.Status, error) {
	res, err := update[workflows.CloseDuplicateResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateCloseDuplicate,
		workflows.CloseDuplicate{Of: of, Actor: actor}, closedRequest(r))
	return res.Status, err
}

// duplicateProblem says why r cannot be closed as a duplicate of the
// request of: a *RefusedError for r's own state, a field error (named
// field) for the other request.
func (s *Service) duplicateProblem(ctx context.Context, r *store.Request, of, field string) error {
	switch {
	case r.Status == domain.StatusDuplicate:
		return refused("request %s was closed as a duplicate of %s already", r.ID, r.DuplicateOf)
	case r.Status.Final():
		return refused("request %s is closed (%s); there is nothing to close", r.ID, r.Status)
	case !r.Status.Duplicable():
		return refused("request %s was approved and is being carried out; it can no longer be closed as a duplicate", r.ID)
	case r.WorkflowStartedAt == nil:
		return refused("request %s is still being registered; try again in a minute", r.ID)
	case strings.EqualFold(of, r.ID):
		return invalid(field, "a request cannot be a duplicate of itself")
	}
	o, err := s.Store.GetRequest(ctx, of)
	if errors.Is(err, store.ErrNotFound) {
		return invalid(field, "no request "+of)
	}
	if err != nil {
		return err
	}
	switch {
	case r.Email == "" || o.Email == "" || !strings.EqualFold(r.Email, o.Email):
		return invalid(field, o.ID+" is another person's request (another email address); only the same person's request can continue in its place")
	case o.Type != r.Type:
		return invalid(field, o.ID+" is of another type ("+string(o.Type)+", this one "+string(r.Type)+")")
	case o.Status == domain.StatusDuplicate && o.DuplicateOf == r.ID:
		return invalid(field, o.ID+" was itself closed as a duplicate of "+r.ID)
	case o.Status == domain.StatusDuplicate:
		return invalid(field, o.ID+" was itself closed as a duplicate of "+o.DuplicateOf+"; name that one")
	case o.Status.Final():
		return invalid(field, o.ID+" is closed ("+string(o.Status)+"); the request that continues must be open")
	case o.VerifiedAt == nil:
		return invalid(field, o.ID+" is not verified yet: the requester has not confirmed its address")
	}
	return nil
}

// DuplicateClosing is the outcome of one request of CloseDuplicates.
type DuplicateClosing struct {
	ID string `json:"id"`
	// Of is the request that continues.
	Of string `json:"of"`
	// Status is duplicate once closed, or the status the request kept
	// when Error says why it was not.
	Status domain.Status `json:"status"`
	// Processing says the closing was accepted and finishes shortly.
	Processing bool   `json:"processing,omitempty"`
	Error      string `json:"error,omitempty"`
}

// CloseDuplicates closes up to MaxBulk requests, each as a duplicate of
// the oldest other open, verified request of the same person and type
// that is not in the list (the one its flag names first). Every request
// is checked first: an unknown reference is a *NotFoundError naming each
// unknown one, and a request that cannot be closed (no such other
// request, approved already, closed) is a field error naming it; then
// nothing changes. The closings are then carried out one by one; one the
// workflow refuses in the meantime is reported with its reason.
func (s *Service) CloseDuplicates(ctx context.Context, requestIDs []string, actor string) ([]DuplicateClosing, error) {
	switch {
	case len(requestIDs) == 0:
		return nil, invalid("ids", "name at least one request")
	case len(requestIDs) > MaxBulk:
		return nil, invalid("ids", "at most "+strconv.Itoa(MaxBulk)+" requests at once")
	}
	var ids []string
	for i, id := range requestIDs {
		id = strings.ToUpper(strings.TrimSpace(id))
		if id == "" {
			return nil, invalid("ids["+strconv.Itoa(i)+"]", "a request's reference, such as DSR-7Q2M4K9X1P")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var rs []store.Request
	var unknown []string
	for _, id := range ids {
		r, err := s.Store.GetRequest(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, id)
		case err != nil:
			return nil, err
		default:
			rs = append(rs, *r)
		}
	}
	if len(unknown) > 0 {
		return nil, &NotFoundError{What: "no request " + strings.Join(unknown, ", ") + "; nothing was closed"}
	}
	others, err := s.Store.OpenDuplicates(ctx, rs)
	if err != nil {
		return nil, err
	}
	errs := map[string]string{}
	out := make([]DuplicateClosing, len(rs))
	for i := range rs {
		r := &rs[i]
		field := "ids[" + strconv.Itoa(i) + "]"
		out[i] = DuplicateClosing{ID: r.ID, Status: r.Status}
		for _, o := range others[r.ID] {
			if !slices.Contains(ids, o) {
				out[i].Of = o
				break
			}
		}
		if out[i].Of == "" {
			why := r.ID + ": no other open, verified request of the same person and type"
			if len(others[r.ID]) > 0 {
				why += " outside this list: leave the one that continues unticked"
			}
			errs[field] = why
			continue
		}
		if err := s.duplicateProblem(ctx, r, out[i].Of, field); err != nil {
			var re *RefusedError
			var ve *domain.ValidationError
			switch {
			case errors.As(err, &re):
				errs[field] = re.Reason
			case errors.As(err, &ve):
				errs[field] = r.ID + ": " + ve.Fields[field]
			default:
				return nil, err
			}
		}
	}
	if len(errs) > 0 {
		return nil, &domain.ValidationError{Fields: errs}
	}
	for i := range rs {
		status, err := s.closeDuplicate(ctx, &rs[i], out[i].Of, actor)
		switch {
		case err == nil:
			out[i].Status = status
		case errors.Is(err, ErrStillProcessing):
			out[i].Processing = true
		default:
			var re *RefusedError
			if !errors.As(err, &re) && !errors.Is(err, ErrUnavailable) {
				return out, err
			}
			out[i].Error = err.Error()
		}
	}
	return out, nil
}

// OpenDuplicates answers the other open, verified requests of the same
// person and type as r, oldest first: what the request's page flags.
func (s *Service) OpenDuplicates(ctx context.Context, r *store.Request) ([]string, error) {
	m, err := s.Store.OpenDuplicates(ctx, []store.Request{*r})
	return m[r.ID], err
}
