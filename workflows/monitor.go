package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
)

// DeadlineMonitorScheduleID names the Temporal Schedule that runs
// DeadlineMonitor; the worker creates it, or updates its interval, when it
// starts.
const DeadlineMonitorScheduleID = "dsar-deadline-monitor"

// DeadlineMonitorResult is what one monitor run found and did.
type DeadlineMonitorResult struct {
	Recovered int
	Digest    activities.DigestReport
}

// DeadlineMonitor is one run of the deadline monitor: it starts the
// workflow of any stored request that has none (recovery after a Temporal
// outage), then emails the officers one digest of the requests overdue
// or due soon and the breaches near their 72 hours.
func DeadlineMonitor(ctx workflow.Context) (DeadlineMonitorResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
		},
	})
	var res DeadlineMonitorResult
	// A failed recovery (Temporal's own frontend briefly unreachable from
	// the activity) must not keep the digest from going out.
	if err := workflow.ExecuteActivity(ctx, monitor.RecoverRequests).Get(ctx, &res.Recovered); err != nil {
		workflow.GetLogger(ctx).Warn("recovery failed; the next run tries again", "error", err)
	}
	err := workflow.ExecuteActivity(ctx, monitor.Digest).Get(ctx, &res.Digest)
	return res, err
}
