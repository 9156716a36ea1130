package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/workflows"
)

// timed runs fn n times over c concurrent goroutines and returns each
// call's duration and the wall time.
func timed(ctx context.Context, n, c int, fn func(i int) error) ([]time.Duration, time.Duration, error) {
	durs := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				durs[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return durs, time.Since(start), firstErr
}

// noWorkerQueue is a task queue no worker polls: starts land there and
// wait, so intake is measured without the workflows' own load.
const noWorkerQueue = "bench-no-worker"

// intakeCase: the HTTP intake (validate, store, start the workflow) beside
// bare ExecuteWorkflow calls against the same server.
func intakeCase(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("%d POST /api/v1/requests from %d concurrent clients, each stored in PostgreSQL and its workflow started.", sz.IntakeRequests, sz.IntakeClients),
		Baseline: "the same number of bare client.ExecuteWorkflow calls, same concurrency, same server",
		Goal:     "ratio ≥ 0.8, p99 < 500 ms",
	}
	in := e.Main.App.Office
	saved := in.TaskQueue
	in.TaskQueue = noWorkerQueue
	defer func() { in.TaskQueue = saved }()

	tc := e.Main.App.Temporal
	run := fmt.Sprint(time.Now().UnixNano())
	base, baseWall, err := timed(ctx, sz.IntakeRequests, sz.IntakeClients, func(i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-bare-%s-%d", run, i), TaskQueue: noWorkerQueue},
			workflows.SubjectRequest, workflows.SubjectRequestInput{RequestID: fmt.Sprintf("BARE-%d", i), VerifyTTL: time.Hour})
		return err
	})
	if err != nil {
		return r, fmt.Errorf("baseline: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sz.IntakeClients}}
	durs, wall, err := timed(ctx, sz.IntakeRequests, sz.IntakeClients, func(i int) error {
		body := map[string]any{"type": "access", "email": fmt.Sprintf("intake-%s-%d@example.net", run, i), "name": "Intake Benchmark"}
		code, err := e.Main.call(ctx, hc, "POST", "/api/v1/requests", false, body, nil)
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("POST /api/v1/requests answered %d", code)
		}
		return err
	})
	if err != nil {
		return r, err
	}
	rate := float64(sz.IntakeRequests) / wall.Seconds()
	baseRate := float64(sz.IntakeRequests) / baseWall.Seconds()
	r.Figures = []Figure{{"rate", rate, "req/s"}, {"p50", percentile(durs, 50), "ms"}, {"p99", percentile(durs, 99), "ms"}}
	r.BaselineFigures = []Figure{{"rate", baseRate, "req/s"}, {"p50", percentile(base, 50), "ms"}, {"p99", percentile(base, 99), "ms"}}
	r.Ratio, r.RatioMeans = rate/baseRate, "rate over the baseline's"
	r.Met = r.Ratio >= 0.8 && percentile(durs, 99) < 500
	return r, nil
}

// endToEnd: submit, verify (an officer, through the API), approve, and
// wait for completed, at concurrency 1 and 10.
func endToEnd(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("%d access requests per concurrency level from random demo people, driven through the API: submit, verify by an officer, approve; timed until the answer says completed (discovery, the package built, sealed and stored, every email sent to the local SendGrid).", sz.EndToEnd),
		Baseline: "a bare Temporal workflow running as many no-op activities one after another (" + fmt.Sprint(floorActivities) + "), on the same server and worker process",
		Goal:     "p50 < 1 s at c=1 and at c=10",
	}
	hc := &http.Client{}
	var mu sync.Mutex
	var ids []string // the requests of the current concurrency level
	one := func(i int) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		p := demo.PersonAt(rand.IntN(sz.Subjects))
		var created struct{ ID string }
		code, err := e.Main.call(ctx, hc, "POST", "/api/v1/requests", false, map[string]any{"type": "access", "email": p.Email, "name": p.Name}, &created)
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("submit: %d %v", code, err)
		}
		mu.Lock()
		ids = append(ids, workflows.SubjectRequestWorkflowID(created.ID))
		mu.Unlock()
		path := "/api/v1/officer/requests/" + created.ID
		for {
			code, err := e.Main.call(ctx, hc, "POST", path+"/verify", true, map[string]string{"evidence": "benchmark"}, nil)
			if err != nil {
				return err
			}
			if code == http.StatusAccepted || code == http.StatusOK {
				break
			}
			if code != http.StatusConflict {
				return fmt.Errorf("verify answered %d", code)
			}
			time.Sleep(5 * time.Millisecond) // the workflow has not sent the link yet
		}
		for {
			var got struct{ Status string }
			if _, err := e.Main.call(ctx, hc, "GET", path, true, nil, &got); err != nil {
				return err
			}
			if got.Status == "in_review" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		var decided struct{ Status string }
		code, err = e.Main.call(ctx, hc, "POST", path+"/approve", true, nil, &decided)
		switch {
		case err != nil:
			return err
		case code == http.StatusOK && decided.Status == "completed":
			return nil
		case code != http.StatusAccepted && code != http.StatusOK:
			return fmt.Errorf("approve answered %d", code)
		}
		for {
			var got struct{ Status string }
			if _, err := e.Main.call(ctx, hc, "GET", path, true, nil, &got); err != nil {
				return err
			}
			if got.Status == "completed" {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	floor, stop, err := e.floorWorker()
	if err != nil {
		return r, err
	}
	defer stop()
	for _, c := range []int{1, 10} {
		ids = nil
		cpu0 := cpuTime()
		durs, _, err := timed(ctx, sz.EndToEnd, c, func(int) error { return one(0) })
		if err != nil {
			return r, fmt.Errorf("concurrency %d: %w", c, err)
		}
		cpu1 := cpuTime()
		base, _, err := timed(ctx, sz.EndToEnd, c, func(int) error { return floor(ctx) })
		if err != nil {
			return r, fmt.Errorf("baseline at concurrency %d: %w", c, err)
		}
		cpu2 := cpuTime()
		// CPU time of this process (Temporal server, worker, web server;
		// not PostgreSQL) per request: what a busy machine's wall times
		// hide.
		perReq := func(d time.Duration) float64 { return ms(d) / float64(sz.EndToEnd) }
		r.Figures = append(r.Figures, Figure{fmt.Sprintf("c=%d p50", c), percentile(durs, 50), "ms"}, Figure{fmt.Sprintf("c=%d p99", c), percentile(durs, 99), "ms"},
			Figure{fmt.Sprintf("c=%d CPU per request", c), perReq(cpu1 - cpu0), "ms"})
		r.BaselineFigures = append(r.BaselineFigures, Figure{fmt.Sprintf("c=%d p50", c), percentile(base, 50), "ms"}, Figure{fmt.Sprintf("c=%d p99", c), percentile(base, 99), "ms"},
			Figure{fmt.Sprintf("c=%d CPU per request", c), perReq(cpu2 - cpu1), "ms"})
		// The goal is the p50 at both levels; the ratio is taken where
		// requests compete for the worker, as privacy teams run them.
		if c == 1 {
			r.Met = percentile(durs, 50) < 1000
		} else {
			r.Met = r.Met && percentile(durs, 50) < 1000
			r.Ratio, r.RatioMeans = percentile(durs, 50)/percentile(base, 50), "p50 at c=10 over the baseline's"
		}
	}
	// Where the time went: the c=10 requests' histories, and what a
	// commit costs in dsar's database at the same concurrency.
	notes, err := historyBreakdown(ctx, e.Main.App.Temporal, e.opts.Log, ids)
	if err != nil {
		return r, fmt.Errorf("histories: %w", err)
	}
	commit, err := commitTimes(ctx, e.Main.Env["DSAR_DATABASE_URL"], 200, 10)
	if err != nil {
		return r, fmt.Errorf("commit times: %w", err)
	}
	r.Notes = fmt.Sprintf("%s A one-row commit in dsar's database takes %.1f ms (p50, 10 at once).", notes, commit)
	return r, nil
}

// handWritten finds the same rows as discovery for one person in one
// indexed query, as an engineer would write it for this schema.
// (= ANY (ARRAY(...)) keeps every lookup on its index; IN (SELECT ...)
// over a CTE lets the planner pick hash joins over whole tables.)
const handWritten = `
WITH c AS MATERIALIZED (SELECT id, address_id FROM customers WHERE email = $1),
     o AS MATERIALIZED (SELECT id FROM orders WHERE customer_id = ANY (ARRAY(SELECT id FROM c)))
SELECT 'customers', id FROM c
UNION ALL SELECT 'addresses', id FROM addresses WHERE id = ANY (ARRAY(SELECT address_id FROM c))
UNION ALL SELECT 'accounts', id FROM accounts WHERE customer_id = ANY (ARRAY(SELECT id FROM c))
UNION ALL SELECT 'product_registrations', id FROM product_registrations WHERE customer_id = ANY (ARRAY(SELECT id FROM c))
UNION ALL SELECT 'orders', id FROM o
UNION ALL SELECT 'invoices', id FROM invoices WHERE order_id = ANY (ARRAY(SELECT id FROM o))
UNION ALL SELECT 'support_tickets', id FROM support_tickets WHERE customer_id = ANY (ARRAY(SELECT id FROM c))
UNION ALL SELECT 'newsletter_subscriptions', id FROM newsletter_subscriptions WHERE email = $1
UNION ALL SELECT 'web_logs', id FROM web_logs WHERE customer_id = ANY (ARRAY(SELECT id FROM c))`

// discovery: dsar's discovery for random people beside the hand-written
// query, on a database of Subjects people.
func discovery(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("discovery of %d random people among %d (about %s rows in 9 tables, seeded with COPY), through the data map's references.", sz.Lookups, sz.Subjects, approxRows(sz.Subjects)),
		Baseline: "one hand-written query (CTEs and UNION ALL over the same indexes) returning the same rows, on the same connection pool",
		Goal:     "ratio ≤ 2, p99 < 5 ms",
	}
	conns, err := e.Main.App.Systems.Connectors()
	if err != nil {
		return r, err
	}
	c := conns[0].(*datamap.SQLConnector)
	return r, timeDiscovery(ctx, &r, c, sz.Lookups, sz.Subjects, func(email string) (*sql.Rows, error) {
		return c.DB.QueryContext(ctx, handWritten, email)
	})
}

// timeDiscovery times dsar's discovery of random people among subjects
// beside a hand-written query, alternating which runs first, checks both
// find as many rows, and fills in the figures.
func timeDiscovery(ctx context.Context, r *Result, c *datamap.SQLConnector, lookups, subjects int, hand func(email string) (*sql.Rows, error)) error {
	var durs, base []time.Duration
	for i := range lookups {
		p := demo.PersonAt(rand.IntN(subjects))
		var found *datamap.Found
		measure := func() error {
			t0 := time.Now()
			var err error
			found, err = c.Discover(ctx, datamap.Identities{"email": {p.Email}})
			durs = append(durs, time.Since(t0))
			return err
		}
		var n int
		handQuery := func() error {
			t0 := time.Now()
			rows, err := hand(p.Email)
			if err != nil {
				return err
			}
			n = 0
			for rows.Next() {
				n++
			}
			rows.Close()
			base = append(base, time.Since(t0))
			return rows.Err()
		}
		first, second := measure, handQuery
		if i%2 == 1 { // alternate, so neither always runs on a warmer cache
			first, second = handQuery, measure
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		rows := 0
		for _, ft := range found.Tables {
			rows += len(ft.Rows)
		}
		if rows != n {
			return fmt.Errorf("%s: discovery found %d rows, the hand-written query %d", p.Email, rows, n)
		}
	}
	r.Figures = []Figure{{"p50", percentile(durs, 50), "ms"}, {"p99", percentile(durs, 99), "ms"}}
	r.BaselineFigures = []Figure{{"p50", percentile(base, 50), "ms"}, {"p99", percentile(base, 99), "ms"}}
	r.Ratio, r.RatioMeans = percentile(durs, 50)/percentile(base, 50), "p50 over the baseline's"
	r.Met = r.Ratio <= 2 && percentile(durs, 99) < 5
	return nil
}

func approxRows(people int) string {
	n := float64(people) * 10
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.0f million", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0f thousand", n/1e3)
	}
	return fmt.Sprint(int(n))
}

// bigPerson is one person's rows for the erasure and export benchmarks.
type bigPerson struct {
	id       int64
	email    string
	tickets  int
	orders   int
	logs     int
	bodySize int
}

// addBigPerson copies in a person who owns many rows.
func addBigPerson(ctx context.Context, db *sql.DB, p bigPerson) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return copyRows(ctx, conn, p)
}

// erasure: one person with ManyRows rows erased by the data map beside
// hand-written DELETE and UPDATE statements for the same rows.
func erasure(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("erasure of one person owning %d rows (support tickets and orders deleted, web logs anonymised), children first, in one transaction.", sz.ManyRows),
		Baseline: "four hand-written statements (DELETE ... WHERE customer_id = $1, UPDATE for the logs) in one transaction on a twin person",
		Goal:     "ratio ≥ 0.5",
	}
	conns, err := e.Main.App.Systems.Connectors()
	if err != nil {
		return r, err
	}
	if err := timeErasure(ctx, &r, conns[0].(*datamap.SQLConnector), sz.ManyRows, addBigPerson); err != nil {
		return r, err
	}
	r.Met = r.Ratio >= 0.5
	return r, nil
}

// timeErasure adds two people owning many rows each, erases one with the
// data map and the other with hand-written statements, and fills in the
// figures; the ratio is dsar's rate over the baseline's.
func timeErasure(ctx context.Context, r *Result, c *datamap.SQLConnector, many int, add func(context.Context, *sql.DB, bigPerson) error) error {
	third := many / 3
	mk := func(id int64) bigPerson {
		return bigPerson{id: id, email: fmt.Sprintf("many-%d@example.net", id), tickets: third, orders: third, logs: many - 2*third, bodySize: 200}
	}
	dsarP, handP := mk(9_000_000_001), mk(9_000_000_002)
	for _, p := range []bigPerson{dsarP, handP} {
		if err := add(ctx, c.DB, p); err != nil {
			return err
		}
	}
	t0 := time.Now()
	er, err := c.Erase(ctx, datamap.Identities{"email": {dsarP.email}}, datamap.Rules{Now: time.Now()})
	if err != nil {
		return err
	}
	took := time.Since(t0)
	rows := 0
	for _, t := range er.Tables {
		rows += t.Deleted + t.Masked
	}
	if rows < many {
		return fmt.Errorf("erased %d rows, want %d", rows, many)
	}
	t0 = time.Now()
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	arg := c.Kind.Placeholder(1)
	for _, q := range []string{
		`DELETE FROM support_tickets WHERE customer_id = ` + arg,
		`DELETE FROM orders WHERE customer_id = ` + arg,
		`UPDATE web_logs SET customer_id = NULL, ip_address = NULL, user_agent = NULL WHERE customer_id = ` + arg,
		`DELETE FROM customers WHERE id = ` + arg,
	} {
		if _, err := tx.ExecContext(ctx, q, handP.id); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	baseTook := time.Since(t0)
	rate, baseRate := float64(rows)/took.Seconds(), float64(rows)/baseTook.Seconds()
	r.Figures = []Figure{{"rate", rate, "rows/s"}, {"time", ms(took), "ms"}}
	r.BaselineFigures = []Figure{{"rate", baseRate, "rows/s"}, {"time", ms(baseTook), "ms"}}
	r.Ratio, r.RatioMeans = rate/baseRate, "rate over the baseline's"
	r.Notes = "dsar also discovers the rows first, checks each parent for rows still referring to it, and deletes by key: on PostgreSQL one statement per table (the keys as one array), elsewhere batches of 1000 keys."
	return nil
}
