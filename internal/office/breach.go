package office

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// RecordBreach validates and stores an incident, then starts its
// workflow. Systems and categories are checked against the data map m;
// without one, any system name is taken (no one can be found to notify).
// As with requests, the breach is kept even if Temporal is down, and
// recovery starts it.
func (s *Service) RecordBreach(ctx context.Context, nb domain.NewBreach, actor string, m *datamap.Map) (*store.Breach, error) {
	knownSystem := func(name string) bool { return m == nil || m.System(name) != nil }
	knownCategory := func(c string) bool {
		return m == nil && strings.HasPrefix(c, "user") || m != nil && slices.Contains(m.AllCategories(), c)
	}
	now := s.Now().UTC().Truncate(time.Second)
	if err := nb.Normalize(now, knownSystem, knownCategory); err != nil {
		return nil, err
	}
	id, err := auth.NewRequestID()
	if err != nil {
		return nil, err
	}
	b := &store.Breach{
		ID: "BRE-" + strings.TrimPrefix(id, "DSR-"), Title: nb.Title, Description: nb.Description,
		AwareAt: nb.AwareAt, Systems: nb.Systems, Categories: nb.Categories, Risk: nb.Risk,
		Consequences: nb.Consequences, Measures: nb.Measures, RecordedBy: actor, CreatedAt: now,
	}
	if b.Categories == nil {
		b.Categories = []string{}
	}
	if err := s.Store.CreateBreach(ctx, b); err != nil {
		return nil, fmt.Errorf("office: %w", err)
	}
	if err := s.StartBreach(ctx, b.ID); err != nil {
		s.Log.Warn("breach stored; workflow start deferred", "breach_id", b.ID, "error", err)
	}
	return b, nil
}

// StartBreach starts a stored breach's workflow; starting twice is
// harmless.
func (s *Service) StartBreach(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.BreachWorkflowID(id),
		TaskQueue:                s.TaskQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.Breach, workflows.BreachInput{BreachID: id})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("office: start breach workflow: %w", err)
	}
	return s.Store.MarkBreachStarted(ctx, id, s.Now())
}

// NoticeOutline is the notice text the dashboard suggests: what Art.
// 34(2) asks a notice to say, with bracketed parts the officer fills in.
var NoticeOutline = workflows.NoticeOutline

// closedBreach is the refusal for an Update to a breach whose workflow
// does not run: closed, or not started yet.
func closedBreach(b *store.Breach) func() error {
	return func() error {
		if b.ClosedAt != nil {
			return refused("breach %s is closed", b.ID)
		}
		return &unavailableError{cause: fmt.Errorf("breach %s has no running workflow yet; the deadline monitor starts it, try again shortly", b.ID)}
	}
}

func (s *Service) breachUpdate(ctx context.Context, id, name string, arg any) error {
	b, err := s.Store.GetBreach(ctx, id)
	if err != nil {
		return err
	}
	_, err = update[struct{}](ctx, s.Temporal, workflows.BreachWorkflowID(b.ID), name, arg, closedBreach(b))
	return err
}

// ApproveNotice approves the notice to the people a breach affects; the
// workflow sends it to each of them once.
func (s *Service) ApproveNotice(ctx context.Context, breachID, subject, text, actor string) error {
	return s.breachUpdate(ctx, breachID, workflows.UpdateApproveNotice, workflows.NoticeApproval{Subject: subject, Text: text, Actor: actor})
}

// AuthorityNotification records that the supervisory authority was
// notified of a breach.
type AuthorityNotification struct {
	Authority, Reference string
	NotifiedAt           time.Time
	// DelayReason is required when the notification came after the 72
	// hours.
	DelayReason string
}

// RecordAuthority records the authority's notification; a late one needs
// the reasons for the delay.
func (s *Service) RecordAuthority(ctx context.Context, breachID string, n AuthorityNotification, actor string) error {
	if n.NotifiedAt.IsZero() {
		n.NotifiedAt = s.Now()
	}
	b, err := s.Store.GetBreach(ctx, breachID)
	if err != nil {
		return err
	}
	if n.NotifiedAt.After(b.DeadlineAt) && strings.TrimSpace(n.DelayReason) == "" {
		return invalid("delay_reason", "the authority was notified after the 72 hours; give the reasons for the delay (Art. 33(1))")
	}
	return s.breachUpdate(ctx, breachID, workflows.UpdateAuthorityNotified, workflows.AuthorityNotification{
		Authority: n.Authority, Reference: n.Reference, NotifiedAt: n.NotifiedAt, DelayReason: n.DelayReason, Actor: actor,
	})
}

// ResolveUncertain settles notices whose delivery a crash left unknown:
// resend sends them again, otherwise they are recorded as sent.
func (s *Service) ResolveUncertain(ctx context.Context, breachID string, resend bool, actor string) error {
	return s.breachUpdate(ctx, breachID, workflows.UpdateResolveUncertain, workflows.UncertainDecision{Resend: resend, Actor: actor})
}
