package chaos

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// faults injects FaultsPerKind faults of every kind, in random order at
// random moments, and waits for the last to recover.
func (r *run) faults(ctx context.Context) {
	var plan []string
	for _, k := range Kinds {
		for range r.o.FaultsPerKind {
			plan = append(plan, k)
		}
	}
	mrand.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	var wg sync.WaitGroup
	for i, kind := range plan {
		if err := sleep(ctx, jitter(r.o.Interval)); err != nil {
			return
		}
		detail, start, recovered := r.inject(ctx, kind)
		r.mu.Lock()
		r.report.Faults[kind]++
		r.mu.Unlock()
		r.log("fault %d/%d: %s %s", i+1, len(plan), kind, detail)
		wg.Go(func() {
			if err := recovered(); err != nil {
				r.problem("after %s (%s): %v", kind, detail, err)
				return
			}
			d := time.Since(start)
			r.mu.Lock()
			r.report.Recovery[kind] = maxDur(r.report.Recovery[kind], d)
			r.mu.Unlock()
		})
	}
	wg.Wait()
}

// recoverWithin bounds every recovery wait.
const recoverWithin = 3 * time.Minute

// inject injects one fault and returns what it did, when, and a function
// that waits until the system has recovered from it. The time is the
// fault's own, after any wait for an earlier fault of the same part to
// recover.
func (r *run) inject(ctx context.Context, kind string) (string, time.Time, func() error) {
	switch kind {
	case KillWorker, KillWeb:
		group := r.work
		if kind == KillWeb {
			group = r.web
		}
		p := r.pick(ctx, group)
		p.recovering.Store(true)
		at := time.Now()
		p.kill()
		down := time.Duration(mrand.Int64N(int64(2 * time.Second)))
		if kind == KillWorker {
			r.mu.Lock()
			r.workerKills = append(r.workerKills, at)
			r.mu.Unlock()
		}
		return fmt.Sprintf("%s killed, restarted after %s", p.name, down.Round(time.Millisecond)), at, func() error {
			defer p.recovering.Store(false)
			time.Sleep(down)
			return r.restart(ctx, p)
		}
	case RestartTemporal:
		// One restart at a time: the supervisor of a single server.
		r.tmpMu.Lock()
		at := time.Now()
		r.tmp.kill()
		down := time.Duration(mrand.Int64N(int64(2 * time.Second)))
		time.Sleep(down)
		err := r.tmp.start(r.o.Dsar, r.env)
		return fmt.Sprintf("killed, restarted after %s", down.Round(time.Millisecond)), at, func() error {
			defer r.tmpMu.Unlock()
			if err != nil {
				return err
			}
			if err := r.tmp.ready(ctx, recoverWithin); err != nil {
				return err
			}
			return r.allReady(ctx)
		}
	case TerminatePG:
		at := time.Now()
		var n int
		err := r.admin.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()) t`, r.dbs[0]).Scan(&n)
		r.mu.Lock()
		r.report.PGConnectionsTerminated += n
		r.mu.Unlock()
		return fmt.Sprintf("%d connections to dsar's database terminated", n), at, func() error {
			if err != nil {
				return err
			}
			return r.allReady(ctx)
		}
	case SendGrid429, SendGrid500, SendGridHang:
		r.waitSendGridIdle(ctx)
		at := time.Now()
		n := 1 + mrand.IntN(3)
		var what string
		switch kind {
		case SendGrid429:
			r.sg.FailNext(n, http.StatusTooManyRequests)
			what = fmt.Sprintf("the next %d sends answer 429", n)
		case SendGrid500:
			r.sg.FailNext(n, http.StatusInternalServerError)
			what = fmt.Sprintf("the next %d sends answer 500", n)
		default:
			n = 1
			r.sg.HangNext(n, r.o.HangFor)
			what = fmt.Sprintf("the next send hangs %s, then its connection drops", r.o.HangFor)
		}
		return what, at, func() error { return r.sendGridRecovered(ctx) }
	}
	return "unknown", time.Now(), func() error { return fmt.Errorf("unknown fault %q", kind) }
}

// pick is a running process of the group that is not recovering from
// an earlier fault, waiting for one if all are.
func (r *run) pick(ctx context.Context, group []*proc) *proc {
	for {
		var live []*proc
		for _, p := range group {
			if p.running() && !p.recovering.Load() {
				live = append(live, p)
			}
		}
		if len(live) > 0 {
			return live[mrand.IntN(len(live))]
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return group[0]
		}
	}
}

// allReady waits until every dsar process answers /readyz (which asks
// the database and Temporal); a process being restarted by another
// fault is passed over.
func (r *run) allReady(ctx context.Context) error {
	deadline := time.Now().Add(recoverWithin)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		ok := true
		for _, p := range slices.Concat(r.work, r.web) {
			if !p.running() {
				continue
			}
			resp, err := client.Get("http://" + p.addr + "/readyz")
			if err != nil {
				ok = false
				break
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dsar's processes not ready within %s", recoverWithin)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitSendGridIdle waits, boundedly, for an earlier SendGrid fault to be
// used up, so faults do not overwrite each other.
func (r *run) waitSendGridIdle(ctx context.Context) {
	deadline := time.Now().Add(recoverWithin)
	for r.sg.Pending() > 0 && time.Now().Before(deadline) {
		if sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

// sendGridRecovered waits until the failures asked for were all answered
// and SendGrid has taken a message since.
func (r *run) sendGridRecovered(ctx context.Context) error {
	deadline := time.Now().Add(recoverWithin)
	for r.sg.Pending() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("no send came to SendGrid within %s", recoverWithin)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	calls := r.sg.Calls()
	for r.sg.Calls() == calls {
		if time.Now().After(deadline) {
			return fmt.Errorf("SendGrid took no message within %s after its failures", recoverWithin)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// restart starts a process again and waits until it is ready. A process
// that exits while starting (a worker finding Temporal down) is started
// again a second later, as a supervisor (systemd, Kubernetes) would; each
// such exit is counted.
func (r *run) restart(ctx context.Context, p *proc) error {
	deadline := time.Now().Add(recoverWithin)
	for {
		if err := p.start(r.o.Dsar, r.env); err != nil {
			return err
		}
		err := p.ready(ctx, time.Until(deadline))
		if err == nil || p.running() || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		r.mu.Lock()
		r.report.ExitsOnStart[p.name]++
		r.mu.Unlock()
		r.log("%s exited while starting (see %s); starting it again", p.name, p.log)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
