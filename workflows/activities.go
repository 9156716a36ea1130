package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/mail"
)

// The activities every workflow calls, named through nil receivers: the
// worker registers real ones (internal/app), and a workflow only ever
// names a method.
var (
	requests    *activities.Requests
	fulfilment  *activities.Fulfilment
	systemTasks *activities.Tasks
	breaches    *activities.Breaches
	monitor     *activities.Monitor
)

// Activity options. Database steps retry quickly; email retries back off
// to ten minutes so a provider outage delays mail instead of losing it.
var (
	storeActivity = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	}
	// storeLocalActivity is storeActivity for the short database steps
	// run as local activities (changeLocalSteps).
	storeLocalActivity = workflow.LocalActivityOptions{
		StartToCloseTimeout: storeActivity.StartToCloseTimeout,
		RetryPolicy:         storeActivity.RetryPolicy,
	}
	// Discovery and fulfilment work in the organisation's own databases,
	// which may be slow or briefly down: long timeouts, patient retries.
	// They heartbeat on a clock, so a worker that dies mid-step costs
	// seconds before another worker retries, not the hour.
	fulfilmentActivity = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    activities.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeNoDataMap},
		},
	}
	// Webhooks are retried until they answer 2xx, however long that
	// takes: the request waits for them.
	webhookActivity = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour,
		},
	}
	// A provider may accept a message and answer slowly: the send waits
	// for its answer (mail.SendTimeout) rather than give up and send the
	// message twice, and heartbeats meanwhile so a dead worker is noticed.
	emailActivity = workflow.ActivityOptions{
		StartToCloseTimeout: mail.SendTimeout + time.Minute,
		HeartbeatTimeout:    activities.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
		},
	}
)

// fanOutActivity: the breach fan-out heartbeats on a clock; a worker
// that stops or dies mid-way is noticed within the heartbeat timeout and
// the next attempt resumes from the database.
var fanOutActivity = workflow.ActivityOptions{
	StartToCloseTimeout: 6 * time.Hour,
	HeartbeatTimeout:    activities.HeartbeatTimeout,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeMailRejected, activities.ErrTypeBreachRefused},
	},
}

// purgeActivity retries everything, a missing data map included: a purge
// waits years, and a worker started without its map must not end it.
var purgeActivity = workflow.ActivityOptions{
	StartToCloseTimeout: time.Hour,
	HeartbeatTimeout:    activities.HeartbeatTimeout,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour,
	},
}

// isAppError reports whether err is an application error of the given
// type, as the activities raise for what retrying cannot fix.
func isAppError(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}
