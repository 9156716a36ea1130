package office

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// PlaceHold validates and records a legal hold. Systems and tables are
// checked against the data map m; without one only person holds make
// sense, since there is nothing else to erase.
func (s *Service) PlaceHold(ctx context.Context, nh domain.NewHold, actor string, m *datamap.Map) (*store.LegalHold, error) {
	known := func(system, table string) bool {
		if m == nil {
			return false
		}
		sys := m.System(system)
		return sys != nil && sys.Kind.Queried() && (table == "" || sys.Table(table) != nil)
	}
	now := s.Now().UTC().Truncate(time.Second)
	if err := nh.Normalize(now, known); err != nil {
		return nil, err
	}
	id, err := auth.NewRequestID()
	if err != nil {
		return nil, err
	}
	h := &store.LegalHold{
		ID: "HLD-" + strings.TrimPrefix(id, "DSR-"), Scope: nh.Scope, Email: nh.Email, SystemName: nh.System,
		TableName: nh.Table, Reason: nh.Reason, EndsAt: nh.EndsAt, PlacedBy: actor, PlacedAt: now,
	}
	if err := s.Store.PlaceHold(ctx, h); err != nil {
		return nil, fmt.Errorf("office: %w", err)
	}
	return h, nil
}

// ReleaseHold ends a hold and wakes the purge of every deletion it
// deferred, which erases what no other hold still covers. A purge that
// cannot be woken now (Temporal unreachable) looks again within a day.
func (s *Service) ReleaseHold(ctx context.Context, id, actor string) (*store.LegalHold, error) {
	h, err := s.Store.ReleaseHold(ctx, id, actor, s.Now())
	if err != nil {
		return nil, err
	}
	deferred, err := s.Store.RequestsDeferredBy(ctx, h.ID)
	if err != nil {
		return h, err
	}
	// Every purge with something waiting looks again: the hold may also
	// have kept retained rows whose period ended meanwhile.
	waiting, err := s.Store.RequestsWithAftercare(ctx)
	if err != nil {
		return h, err
	}
	for _, rid := range waiting {
		err := s.Temporal.SignalWorkflow(ctx, workflows.RetentionPurgeWorkflowID(rid), "", workflows.SignalHoldReleased, nil)
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			s.Log.Warn("hold released; purge not woken, it looks again within a day", "hold_id", h.ID, "request_id", rid, "error", err)
		}
	}
	for _, rid := range deferred {
		detail := fmt.Sprintf("legal hold %s on %s released by %s", h.ID, h.Describe(), actor)
		if h.Scope == domain.HoldPerson {
			detail = fmt.Sprintf("legal hold %s released by %s", h.ID, actor)
		}
		if err := s.Store.Audit(ctx, store.AuditEvent{RequestID: rid, Actor: actor, Action: "hold released", Detail: detail, At: s.Now()}); err != nil {
			return h, err
		}
	}
	return h, nil
}
