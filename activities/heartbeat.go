package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// HeartbeatTimeout is how long Temporal waits without a heartbeat before
// it gives a long activity to another worker: what a crashed worker costs.
const HeartbeatTimeout = 20 * time.Second

// heartbeatEvery is how often keepAlive heartbeats; well inside
// HeartbeatTimeout, and the SDK throttles what it actually sends.
const heartbeatEvery = 5 * time.Second

// keepAlive heartbeats on a clock until the returned stop is called. A
// clock, not progress: a slow database or provider answer must never
// look like a dead worker, while a worker that dies stops beating and is
// noticed within HeartbeatTimeout. Outside an activity (tests calling
// the method directly) it does nothing.
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
