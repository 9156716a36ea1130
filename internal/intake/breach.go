package intake

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
		return nil, fmt.Errorf("intake: %w", err)
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
		return fmt.Errorf("intake: start breach workflow: %w", err)
	}
	return s.Store.MarkBreachStarted(ctx, id, s.Now())
}
