package office

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// Limits of case work.
const (
	// MaxNoteLen bounds an internal note.
	MaxNoteLen = 5000
	// MaxBulk is how many requests one bulk command may name.
	MaxBulk = 500
)

// AddNote stores an officer's internal note on a request. Notes are for
// officers only: never emailed, never on the requester's pages.
func (s *Service) AddNote(ctx context.Context, requestID, body, actor string) (*store.Note, error) {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return nil, invalid("body", "write the note")
	case domain.CheckText(body) != nil:
		return nil, invalid("body", domain.CheckText(body).Error())
	case utf8.RuneCountInString(body) > MaxNoteLen:
		return nil, invalid("body", "at most "+strconv.Itoa(MaxNoteLen)+" characters")
	}
	n := &store.Note{RequestID: requestID, Author: actor, Body: body, CreatedAt: s.Now()}
	if err := s.Store.AddNote(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

// Assign gives requests to an officer, by email, or takes them from
// whoever has them when assignee is empty, and answers how many changed.
// It is all or nothing: an unknown reference is a *NotFoundError naming
// every unknown one, and nothing changes.
func (s *Service) Assign(ctx context.Context, requestIDs []string, assignee, actor string) (int, error) {
	switch {
	case len(requestIDs) == 0:
		return 0, invalid("ids", "name at least one request")
	case len(requestIDs) > MaxBulk:
		return 0, invalid("ids", "at most "+strconv.Itoa(MaxBulk)+" requests at once")
	}
	for i, id := range requestIDs {
		if strings.TrimSpace(id) == "" {
			return 0, invalid("ids["+strconv.Itoa(i)+"]", "a request's reference, such as DSR-7Q2M4K9X1P")
		}
	}
	var to *store.Officer
	if assignee = strings.ToLower(strings.TrimSpace(assignee)); assignee != "" {
		o, err := s.Store.OfficerByEmail(ctx, assignee)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return 0, invalid("assignee", "no officer has this email")
		case err != nil:
			return 0, err
		case !o.Active() || !o.Role.CanAct():
			return 0, invalid("assignee", "this officer may not act on requests (disabled, or a viewer)")
		}
		to = o
	}
	n, err := s.Store.Assign(ctx, store.Assignment{RequestIDs: requestIDs, Assignee: to, Actor: actor, At: s.Now()})
	var unknown *store.UnknownRequestsError
	if errors.As(err, &unknown) {
		return 0, &NotFoundError{What: unknown.Error() + "; nothing was assigned"}
	}
	return n, err
}

// LoggedRequest is a request that reached the organisation by letter,
// phone, email or in person, as the officer who logs it records it.
type LoggedRequest struct {
	domain.NewRequest
	Channel domain.Channel
	// ReceivedAt is when it arrived; the clock counts from it. Zero
	// means now. It may not be in the future, nor so long ago that the
	// request would be past its due date as it is logged.
	ReceivedAt time.Time
	// Evidence is how the officer verified the requester's identity. It
	// is required when Email is empty (no link can be sent) and refused
	// otherwise (the requester verifies by email, as usual).
	Evidence string
}

// LogRequest stores and starts a request an officer logged. With an
// address it runs as any request does: acknowledged and verified by
// email. Without one, the officer verifies it at once with evidence, the
// workflow sends nothing, and the officer answers by the request's
// channel. An identical request logged within DuplicateWindow of the
// same moment of receipt answers the first (Receipt.Duplicate).
func (s *Service) LogRequest(ctx context.Context, lr LoggedRequest, actor string) (*Receipt, error) {
	nr := lr.NewRequest
	nr.GPC = false
	errs := map[string]string{}
	var err error
	if strings.TrimSpace(nr.Email) == "" {
		nr.Email = ""
		err = nr.NormalizeWithoutEmail()
	} else {
		err = nr.Normalize()
	}
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		errs = verr.Fields
	} else if err != nil {
		return nil, err
	}
	var cerr *domain.ValidationError
	if errors.As(domain.CheckCorrectionValues(nr.Corrections, s.PhoneRegion), &cerr) {
		maps.Copy(errs, cerr.Fields)
	}
	if !lr.Channel.Loggable() {
		errs["channel"] = "choose one of letter, phone, email, in_person"
	}
	evidence := strings.TrimSpace(lr.Evidence)
	switch {
	case nr.Email == "" && nr.Type == domain.TypeOptOut:
		errs["email"] = "an opt-out is carried out by the requester's address: ask for one"
	case nr.Email == "" && evidence == "":
		errs["evidence"] = "without an email address, say how you verified the requester's identity; it goes in the audit trail"
	case nr.Email != "" && evidence != "":
		errs["evidence"] = "with an email address the requester verifies it by email; leave this empty (you can still verify by hand on the request's page)"
	case utf8.RuneCountInString(evidence) > MaxEvidenceLen:
		errs["evidence"] = "at most " + strconv.Itoa(MaxEvidenceLen) + " characters"
	}
	now := s.Now().UTC().Truncate(time.Second)
	received := now
	if !lr.ReceivedAt.IsZero() {
		received = lr.ReceivedAt.UTC().Truncate(time.Second)
	}
	if _, bad := errs["type"]; !bad {
		regime := cmp.Or(nr.Regime, s.Regime, deadline.Default)
		clock, cerr := s.clockFor(nr.Type, regime, received)
		if cerr == nil {
			if p := domain.ReceivedProblem(received, clock.DueAt, now); p != "" {
				errs["received_at"] = p
			}
		} else if _, bad := errs["regime"]; !bad {
			return nil, cerr
		}
	}
	if len(errs) > 0 {
		return nil, &domain.ValidationError{Fields: errs}
	}
	if received.After(now) {
		received = now // within the allowed skew: it arrived now
	}
	return s.submit(ctx, nr, received, intake{channel: lr.Channel, officer: actor, evidence: evidence, at: now})
}

// clockFor is the clock a request of this type gets under the regime
// when received then.
func (s *Service) clockFor(typ domain.RequestType, regime deadline.Regime, received time.Time) (deadline.Deadlines, error) {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	if typ == domain.TypeOptOut {
		return deadline.OptOut(regime, received, loc, cmp.Or(s.OptOutWithin, config.DefaultOptOutWithin))
	}
	return deadline.For(regime, received, loc)
}
