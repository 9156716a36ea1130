package app

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/workflows"
)

// EnsureMonitorSchedule creates the Temporal Schedule that runs the
// deadline monitor every DSAR_MONITOR_INTERVAL, or, when it exists
// already (another worker, an earlier start), brings its interval and
// task queue up to date. Every worker calls it at start; it is idempotent.
func (a *App) EnsureMonitorSchedule(ctx context.Context) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: a.Config.MonitorInterval}}}
	action := &client.ScheduleWorkflowAction{
		ID:        "deadline-monitor",
		Workflow:  workflows.DeadlineMonitor,
		TaskQueue: a.Config.TaskQueue,
	}
	sc := a.Temporal.ScheduleClient()
	// After an outage one run catches up for all that were missed:
	// each run looks at the present, so replaying a year of them (the
	// default window) would only repeat work.
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID: workflows.DeadlineMonitorScheduleID, Spec: spec, Action: action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: a.Config.MonitorInterval,
		Note: "dsar: digest of requests due soon or overdue, recovery of unstarted requests",
	})
	if err == nil {
		a.Log.Info("deadline monitor scheduled", "every", a.Config.MonitorInterval)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("deadline monitor schedule: %w", err)
	}
	err = sc.GetHandle(ctx, workflows.DeadlineMonitorScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &spec
			s.Action = action
			if s.Policy != nil {
				s.Policy.CatchupWindow = a.Config.MonitorInterval
			}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("deadline monitor schedule: update: %w", err)
	}
	return nil
}
