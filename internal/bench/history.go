package bench

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// where is where one request's time went, read from its workflow
// history: the workflow tasks and activities it took, how long each
// waited in its task queue and how long each ran, and how long the
// workflow waited for the benchmark's officer (the verification signal,
// the approval).
type where struct {
	total                time.Duration
	workflowTasks        int
	activities           int
	localActivities      int
	taskQueued, taskRan  time.Duration // workflow tasks: scheduled to started, started to completed
	actQueued, actRan    time.Duration // activities: scheduled to started, started to closed
	officer              time.Duration // from the workflow's wait to the officer's signal or update
	byActivity           map[string]time.Duration
	timeline             []string
	firstEvent, lastTime time.Time
}

// readHistory reads a closed workflow's history into a where.
func readHistory(ctx context.Context, tc client.Client, workflowID string) (*where, error) {
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%s: empty history", workflowID)
	}
	w := &where{byActivity: map[string]time.Duration{}}
	at := map[int64]time.Time{}
	names := map[int64]string{}
	start := events[0].GetEventTime().AsTime()
	prev := start
	lastTaskDone, lastSched, doneBeforeSched := start, start, start
	for _, ev := range events {
		t := ev.GetEventTime().AsTime()
		at[ev.GetEventId()] = t
		label := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			w.workflowTasks++
			lastSched, doneBeforeSched = t, lastTaskDone
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			w.taskQueued += t.Sub(at[ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()])
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			w.taskRan += t.Sub(at[ev.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()])
			lastTaskDone = t
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			w.activities++
			names[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			label += " " + names[ev.GetEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			w.actQueued += t.Sub(at[a.GetScheduledEventId()])
			label += " " + names[a.GetScheduledEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
			var sched, started int64
			if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
				sched, started = a.GetScheduledEventId(), a.GetStartedEventId()
			} else if a := ev.GetActivityTaskFailedEventAttributes(); a != nil {
				sched, started = a.GetScheduledEventId(), a.GetStartedEventId()
			} else if a := ev.GetActivityTaskCanceledEventAttributes(); a != nil {
				sched, started = a.GetScheduledEventId(), a.GetStartedEventId()
			}
			if s, ok := at[started]; ok && started != 0 {
				d := t.Sub(s)
				w.actRan += d
				w.byActivity[names[sched]] += d
			}
			label += " " + names[sched]
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
				w.localActivities++
			}
			label += " " + ev.GetMarkerRecordedEventAttributes().GetMarkerName()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			w.officer += t.Sub(lastTaskDone)
			label += " " + ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			// The update arrives with the workflow task that accepts it;
			// the wait before that task is the officer's.
			w.officer += lastSched.Sub(doneBeforeSched)
			label += " " + ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
		}
		w.timeline = append(w.timeline, fmt.Sprintf("%+7.1f ms %6.1f ms  %s", ms(t.Sub(start)), ms(t.Sub(prev)), label))
		prev = t
	}
	w.firstEvent, w.lastTime = start, prev
	w.total = prev.Sub(start)
	return w, nil
}

// historyBreakdown reads the histories of requests run end to end and
// sums up where their time went, per request (medians); it logs the
// median request's history event by event.
func historyBreakdown(ctx context.Context, tc client.Client, log *slog.Logger, workflowIDs []string) (string, error) {
	var ws []*where
	for _, id := range workflowIDs {
		w, err := readHistory(ctx, tc, id)
		if err != nil {
			return "", err
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return "", nil
	}
	med := func(f func(*where) time.Duration) float64 {
		ds := make([]time.Duration, len(ws))
		for i, w := range ws {
			ds[i] = f(w)
		}
		return percentile(ds, 50)
	}
	slices.SortFunc(ws, func(a, b *where) int { return int(a.total - b.total) })
	m := ws[len(ws)/2]
	if log != nil {
		log.Info("end to end: the median request's history", "events", len(m.timeline))
		for _, l := range m.timeline {
			log.Info("  " + l)
		}
	}
	var byAct []string
	for name := range m.byActivity {
		byAct = append(byAct, name)
	}
	slices.Sort(byAct)
	for i, name := range byAct {
		byAct[i] = fmt.Sprintf("%s %.0f", name, med(func(w *where) time.Duration { return w.byActivity[name] }))
	}
	return fmt.Sprintf("Per request at c=10 (medians over %d histories): workflow %.0f ms from start to close, %d workflow tasks "+
		"(queued %.0f ms, run %.0f ms in all), %d activities and %d local ones (queued %.0f ms, run %.0f ms in all; ms run by type: %s), "+
		"waiting for the officer's verification and approval %.0f ms.",
		len(ws), med(func(w *where) time.Duration { return w.total }), m.workflowTasks,
		med(func(w *where) time.Duration { return w.taskQueued }), med(func(w *where) time.Duration { return w.taskRan }),
		m.activities, m.localActivities,
		med(func(w *where) time.Duration { return w.actQueued }), med(func(w *where) time.Duration { return w.actRan }),
		strings.Join(byAct, ", "), med(func(w *where) time.Duration { return w.officer })), nil
}

// commitTimes times single-row INSERTs, each its own transaction, in
// dsar's database at concurrency c: the floor under every activity that
// writes (a status, an audit entry, an email's record).
func commitTimes(ctx context.Context, databaseURL string, n, c int) (float64, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(c)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`); err != nil {
		return 0, err
	}
	defer db.ExecContext(context.WithoutCancel(ctx), `DROP TABLE bench_commit`)
	durs, _, err := timed(ctx, n, c, func(int) error {
		_, err := db.ExecContext(ctx, `INSERT INTO bench_commit (at) VALUES (now())`)
		return err
	})
	if err != nil {
		return 0, err
	}
	return percentile(durs, 50), nil
}
