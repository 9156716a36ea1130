package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// snapshot reads every row of the demo shop.
func (r *run) snapshot(ctx context.Context) (map[string]map[int64]string, error) {
	db, _, err := datamap.OpenSQL(r.urls["shop"])
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return demo.Snapshot(ctx, db)
}

// waitBreach waits, within the drain, for the fan-out to end: done, or
// stopped on uncertain sends for an officer to settle.
func (r *run) waitBreach(ctx context.Context) {
	if r.report.BreachID == "" {
		return
	}
	type breach struct {
		FanoutDoneAt *time.Time `json:"fanout_done_at"`
		Progress     struct{ Total, Sent, Uncertain int }
	}
	var last breach // the last answer read, for the report
	for {
		var b breach
		code, _, err := r.client.call(ctx, "GET", "/api/v1/officer/breaches/"+r.report.BreachID, true, nil, &b)
		if err == nil && code == http.StatusOK {
			last = b
			r.mu.Lock()
			r.report.BreachRecipients, r.report.BreachUncertain, r.report.BreachDone = b.Progress.Total, b.Progress.Uncertain, b.FanoutDoneAt != nil
			r.mu.Unlock()
		}
		if ctx.Err() != nil {
			r.problem("breach %s: fan-out not done when the drain ended: %d of %d sent, %d uncertain at the last look",
				r.report.BreachID, last.Progress.Sent, last.Progress.Total, last.Progress.Uncertain)
			r.describe(context.WithoutCancel(ctx), "breach/"+r.report.BreachID)
			return
		}
		if err != nil || code != http.StatusOK {
			_ = sleep(ctx, time.Second)
			continue
		}
		if b.FanoutDoneAt != nil {
			r.log("breach %s: fan-out done, %d of %d sent", r.report.BreachID, b.Progress.Sent, b.Progress.Total)
			return
		}
		if b.Progress.Uncertain > 0 && b.Progress.Sent+b.Progress.Uncertain >= b.Progress.Total {
			// A fault cut a batch off between its send and its record:
			// the fan-out stopped for an officer to say whether those
			// people were emailed (docs/breaches.md). The driver settles
			// it as an officer who asked the provider would: a batch is
			// one call, taken whole or not at all, so if SendGrid holds
			// a notice for everyone, the uncertain ones were sent. A
			// later fault may stop the fan-out again, to be settled
			// again; a decision the breach already had answers 409.
			resend := r.breachNotified() < b.Progress.Total
			r.log("breach %s: fan-out stopped with %d of %d sent and %d uncertain; settled as an officer would (send again: %t)",
				r.report.BreachID, b.Progress.Sent, b.Progress.Total, b.Progress.Uncertain, resend)
			code, body, err := r.client.call(ctx, "POST", "/api/v1/officer/breaches/"+r.report.BreachID+"/uncertain", true, map[string]bool{"resend": resend}, nil)
			switch {
			case err != nil: // not heard: settled again on the next look
			case code == http.StatusOK:
				r.mu.Lock()
				r.report.BreachSettled += b.Progress.Uncertain
				r.mu.Unlock()
			case code != http.StatusConflict:
				r.problem("breach %s: settling the uncertain sends answered %d: %.200s", r.report.BreachID, code, body)
				return
			}
		}
		if sleep(ctx, time.Second) != nil {
			continue // the next call fails on the ended context and reports
		}
	}
}

// breachNotified counts the people SendGrid took the breach notice for.
func (r *run) breachNotified() int {
	to := map[string]bool{}
	for _, m := range r.sg.Mails() {
		if m.Ref != "" && m.Ref == r.report.BreachID {
			to[m.To] = true
		}
	}
	return len(to)
}

// check compares what happened with what should have.
func (r *run) check(ctx context.Context) {
	rep := r.report
	latest := map[string]*outcome{}
	for _, o := range r.outcomes {
		if o.status == "completed" {
			rep.Completed++
			rep.LongestLatency = maxDur(rep.LongestLatency, o.end.Sub(o.start))
		} else {
			id := o.id
			if id == "" {
				id = "(never stored)"
			}
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s %s of person %d: last status %q, %s", id, o.typ, o.person, o.status, o.err))
		}
		if o.id != "" {
			latest[o.id] = o
			if o.status != "completed" {
				r.dumpHistory(ctx, o.id)
				r.describe(ctx, "request/"+o.id)
			}
		}
	}

	mails := r.sg.Mails()
	rep.SendGridAttempts, rep.SendGridAccepted = r.sg.Attempts(), len(mails)
	steps := map[string]int{}
	breach := map[string]int{}
	for _, m := range mails {
		if _, ok := latest[m.RequestID]; ok {
			rep.Emails++
			steps[m.RequestID+" "+m.Step]++
		}
		if m.Ref != "" && m.Ref == rep.BreachID {
			breach[m.To]++
		}
	}
	for k, n := range steps {
		if n > 1 {
			var at []string
			var first time.Time
			for _, m := range mails {
				if m.RequestID+" "+m.Step == k {
					at = append(at, fmt.Sprintf("%.3fs", m.At.Sub(r.report.Started).Seconds()))
					if first.IsZero() {
						first = m.At
					}
				}
			}
			d := fmt.Sprintf("%s accepted %d times, at %s into the run", k, n, strings.Join(at, " and "))
			if kill, ok := r.killAfter(first); ok {
				rep.KillWindow = append(rep.KillWindow, fmt.Sprintf("%s; a worker was killed %s after the first", d, kill.Round(time.Millisecond)))
			} else {
				rep.Duplicates = append(rep.Duplicates, d)
			}
			id, _, _ := strings.Cut(k, " ")
			r.dumpHistory(ctx, id)
		}
	}
	for id, o := range latest {
		if o.status != "completed" {
			continue
		}
		for _, step := range []string{"acknowledgement", "verification", "completed"} {
			if steps[id+" "+step] == 0 {
				rep.Missing = append(rep.Missing, fmt.Sprintf("%s (%s): no %s email", id, o.typ, step))
			}
		}
	}
	rep.BreachNotified = len(breach)
	for to, n := range breach {
		if n > 1 {
			rep.BreachDuplicates = append(rep.BreachDuplicates, fmt.Sprintf("%s notified %d times", to, n))
		}
	}
	sort.Strings(rep.Duplicates)
	sort.Strings(rep.KillWindow)
	sort.Strings(rep.Missing)
	sort.Strings(rep.BreachDuplicates)
	sort.Strings(rep.Lost)

	after, err := r.snapshot(ctx)
	if err != nil {
		r.problem("reading the shop after the run: %v", err)
		return
	}
	asked := map[int]bool{}
	for _, o := range r.outcomes {
		asked[o.person] = true
	}
	for table, rows := range r.before {
		for id, row := range rows {
			if asked[demo.Owner(table, id)] {
				continue
			}
			rep.OthersRows++
			if got, ok := after[table][id]; !ok || got != row {
				rep.OthersTouched = append(rep.OthersTouched, fmt.Sprintf("%s row %d of person %d", table, id, demo.Owner(table, id)))
			}
		}
	}
	sort.Strings(rep.OthersTouched)
}

// describe logs what a workflow that did not finish is waiting on: its
// pending activities with their attempts and last failures, and its last
// events. The test's output holds the progress log, so a run that failed
// somewhere else (CI) still says why.
func (r *run) describe(ctx context.Context, workflowID string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := r.temporalClient()
	if err != nil {
		r.log("%s: %v", workflowID, err)
		return
	}
	d, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		r.log("%s: describe: %v", workflowID, err)
		return
	}
	r.log("%s: %s, %d history events", workflowID, d.GetWorkflowExecutionInfo().GetStatus(), d.GetWorkflowExecutionInfo().GetHistoryLength())
	for _, a := range d.GetPendingActivities() {
		line := fmt.Sprintf("%s: pending activity %s, %s, attempt %d", workflowID, a.GetActivityType().GetName(), a.GetState(), a.GetAttempt())
		if t := a.GetScheduledTime(); t != nil {
			line += fmt.Sprintf(", scheduled %.1fs into the run", t.AsTime().Sub(r.report.Started).Seconds())
		}
		if f := a.GetLastFailure(); f != nil {
			line += fmt.Sprintf(", last failure: %.300s", f.GetMessage())
		}
		r.log("%s", line)
	}
	if wt := d.GetPendingWorkflowTask(); wt != nil {
		r.log("%s: pending workflow task, %s, attempt %d", workflowID, wt.GetState(), wt.GetAttempt())
	}
	var events []string
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			break
		}
		events = append(events, fmt.Sprintf("%.1fs %s", e.GetEventTime().AsTime().Sub(r.report.Started).Seconds(), e.GetEventType()))
	}
	if len(events) > 12 {
		events = events[len(events)-12:]
	}
	r.log("%s: last events: %s", workflowID, strings.Join(events, "; "))
}

// temporalClient dials the run's Temporal server once.
func (r *run) temporalClient() (client.Client, error) {
	if r.temporal == nil {
		c, err := client.Dial(client.Options{HostPort: r.tmp.tcp, Namespace: "default", Logger: quiet{}})
		if err != nil {
			return nil, err
		}
		r.temporal = c
	}
	return r.temporal, nil
}

// dumpHistory writes the Temporal history of a request's workflow, one
// event a line, to history-ID.jsonl in the run directory, for a request
// lost or emailed twice. Payloads stay sealed; the events' types, times,
// attempts and failures say what happened.
func (r *run) dumpHistory(ctx context.Context, id string) {
	c, err := r.temporalClient()
	if err != nil {
		r.log("history of %s: %v", id, err)
		return
	}
	f, err := os.Create(filepath.Join(r.o.Dir, "history-"+id+".jsonl"))
	if err != nil {
		r.log("history of %s: %v", id, err)
		return
	}
	defer f.Close()
	it := c.GetWorkflowHistory(ctx, "request/"+id, "", false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			r.log("history of %s: %v", id, err)
			return
		}
		b, err := protojson.Marshal(e)
		if err != nil {
			return
		}
		f.Write(append(b, '\n'))
	}
	r.log("history of %s written to %s", id, f.Name())
}

// quiet is a Temporal client logger that says nothing.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

// killWindow is how long after a send its record is surely written, on a
// loaded machine: a worker killed within it may have sent an email
// without recording it.
const killWindow = time.Second

// killAfter reports whether a worker was killed within killWindow after t,
// and how long after.
func (r *run) killAfter(t time.Time) (time.Duration, bool) {
	for _, k := range r.workerKills {
		if d := k.Sub(t); d >= 0 && d <= killWindow {
			return d, true
		}
	}
	return 0, false
}
