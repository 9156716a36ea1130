package bench

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// copyRows copies a big person's rows in with COPY.
func copyRows(ctx context.Context, conn *sql.Conn, p bigPerson) error {
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		now := time.Now().UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO customers (id, full_name, email, created_at) VALUES ($1, $2, $3, $4)`, p.id, "Many Rows", p.email, now); err != nil {
			return err
		}
		base := p.id * 1_000_000
		// Each ticket's text is different and barely compressible, as
		// real messages in a ZIP are not ten thousand copies of one.
		rng := rand.New(rand.NewPCG(uint64(p.id), 7))
		raw := make([]byte, p.bodySize*3/4)
		i := 0
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"support_tickets"}, []string{"id", "customer_id", "subject", "body", "opened_at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == p.tickets {
					return nil, nil
				}
				for j := range raw {
					raw[j] = byte(rng.Uint32())
				}
				i++
				return []any{base + int64(i), p.id, "Printer", base64.StdEncoding.EncodeToString(raw)[:p.bodySize], now}, nil
			}))
		if err != nil {
			return err
		}
		var rows [][]any
		for i := range p.orders {
			rows = append(rows, []any{base + int64(i), p.id, now, int64(1000 + i)})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "customer_id", "placed_at", "total_cents"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		rows = rows[:0]
		for i := range p.logs {
			rows = append(rows, []any{base + int64(i), p.id, "198.51.100.7", "Mozilla/5.0", "/account", now})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"web_logs"}, []string{"id", "customer_id", "ip_address", "user_agent", "path", "at"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// rss samples the process's resident memory until stopped and returns
// the peak, in bytes.
func rssPeak() (stop func() int64) {
	done := make(chan struct{})
	var peak int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := procField("/proc/self/status", "VmRSS"); kb*1024 > peak {
				peak = kb * 1024
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(done); wg.Wait(); return peak }
}

// exportLarge: a machine-readable export of ExportBytes, built, sealed
// and stored as the worker does, beside reading the same rows raw.
func exportLarge(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	const body = 64 << 10
	tickets := int(sz.ExportBytes / body)
	r := Result{
		What:     fmt.Sprintf("an export of one person's %d support tickets of 64 KiB (%s): read in batches, written as JSON and CSV into a ZIP, sealed in 1 MiB AES-GCM chunks and stored in PostgreSQL; peak resident memory is the process's growth while it runs.", tickets, mib(sz.ExportBytes)),
		Baseline: "reading the same rows with one plain SELECT and discarding them",
		Goal:     "≥ 100 MB/s per core; < 64 MB resident for 1 GB",
	}
	conns, err := e.Main.App.Systems.Connectors()
	if err != nil {
		return r, err
	}
	p := bigPerson{id: 9_000_000_010, email: "big-export@example.net", tickets: tickets, bodySize: body}
	if err := addBigPerson(ctx, conns[0].(*datamap.SQLConnector).DB, p); err != nil {
		return r, err
	}
	st := e.Main.App.Store
	now := time.Now().UTC()
	req := &store.Request{ID: "DSR-BENCHEXPORT", Type: domain.TypeExport, Status: domain.StatusFulfilling,
		Email: p.email, Name: "Many Rows", ReceivedAt: now, DueAt: now.AddDate(0, 1, 0)}
	if err := st.CreateRequest(ctx, req, nil); err != nil {
		return r, err
	}
	a := &activities.Fulfilment{Store: st, Systems: e.Main.App.Systems, Sealer: e.Main.App.Sealer, Organisation: "Bench",
		DownloadTTL: time.Hour, Now: func() time.Time { return time.Now().UTC() }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	runtime.GC()
	// The bench process also hosts Temporal and the workers of the
	// benchmarks before this one, whose timers and pollers spend CPU of
	// their own: measured idle for two seconds, that rate is taken off
	// the export's.
	idle0, idleT0 := cpuTime(), time.Now()
	time.Sleep(2 * time.Second)
	background := float64(cpuTime()-idle0) / float64(time.Since(idleT0))
	before := procField("/proc/self/status", "VmRSS") * 1024
	stop := rssPeak()
	cpu0 := cpuTime()
	t0 := time.Now()
	if _, err := a.Fulfil(ctx, req.ID); err != nil {
		stop()
		return r, err
	}
	took := time.Since(t0)
	cpu := cpuTime() - cpu0
	cpu = max(cpu-time.Duration(background*float64(took)), cpu/2)
	peak := stop() - before
	pkg, err := st.RequestPackage(ctx, req.ID)
	if err != nil {
		return r, err
	}
	t0 = time.Now()
	var raw int64
	rows, err := conns[0].(*datamap.SQLConnector).DB.QueryContext(ctx, `SELECT * FROM support_tickets WHERE customer_id = $1`, p.id)
	if err != nil {
		return r, err
	}
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return r, err
		}
		for _, v := range vals {
			raw += int64(len(v))
		}
	}
	rows.Close()
	baseTook := time.Since(t0)
	// Rates are of the person's data (what the baseline reads), not of
	// the compressed package.
	mbs := float64(raw) / 1e6 / took.Seconds()
	perCore := float64(raw) / 1e6 / cpu.Seconds()
	baseMBs := float64(raw) / 1e6 / baseTook.Seconds()
	r.Figures = []Figure{{"rate", mbs, "MB/s"}, {"per core", perCore, "MB/CPU-s"}, {"package", float64(pkg.Size) / 1e6, "MB"}, {"peak RSS growth", float64(peak) / 1e6, "MB"}}
	r.BaselineFigures = []Figure{{"rate", baseMBs, "MB/s"}, {"read", float64(raw) / 1e6, "MB"}}
	r.Ratio, r.RatioMeans = mbs/baseMBs, "rate over the baseline's"
	r.Met = perCore >= 100 && float64(peak) < 64e6
	r.Notes = fmt.Sprintf("Per core is the data exported per second of dsar's own CPU time (user and system) while it ran, less what the process spent idle just before (%.1f%% of a core: the embedded Temporal server and earlier benchmarks' workers); the wall-clock rate also waits for PostgreSQL to store the sealed package. The package holds every ticket twice (JSON and CSV), each a barely compressible 64 KiB.", background*100)
	// The package is 2 GB of chunks at full size: drop it.
	if err := st.DeletePackage(ctx, pkg.ID); err != nil {
		return r, err
	}
	return r, nil
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// deadlineMonitor: the monitor's scan (open requests due within the
// digest's window) over OpenRequests open requests beside the same
// indexed query written by hand.
func deadlineMonitor(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("the deadline monitor's scan for the digest (open requests due within a week, soonest first, 200 at most) among %d open requests.", sz.OpenRequests),
		Baseline: "the same SELECT written by hand on the (status, due_at) index, its rows scanned into variables",
		Goal:     "ratio ≤ 2",
	}
	db, err := sql.Open("pgx", e.Main.Env["DSAR_DATABASE_URL"])
	if err != nil {
		return r, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return r, err
	}
	now := time.Now().UTC()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		statuses := []string{"verifying", "in_review", "fulfilling"}
		var rows [][]any
		for i := range sz.OpenRequests {
			received := now.Add(-time.Duration(i%(30*24)) * time.Hour)
			rows = append(rows, []any{fmt.Sprintf("DSR-MON%08d", i), "access", statuses[i%3], "monitor@example.net", "Monitor",
				received, received.AddDate(0, 0, 30), now, now})
			if len(rows) == 50_000 || i == sz.OpenRequests-1 {
				if _, err := pc.CopyFrom(ctx, pgx.Identifier{"requests"}, []string{"id", "type", "status", "email", "name", "received_at", "due_at", "workflow_started_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		_, err := pc.Exec(ctx, `ANALYZE requests`)
		return err
	})
	conn.Close()
	if err != nil {
		return r, err
	}
	defer db.ExecContext(context.Background(), `DELETE FROM requests WHERE id LIKE 'DSR-MON%'`)
	st := e.Main.App.Store
	by := now.Add(7 * 24 * time.Hour)
	const rounds = 30
	var durs, base []time.Duration
	for range rounds {
		t0 := time.Now()
		got, err := st.DueBy(ctx, by, activities.DigestLimit)
		if err != nil {
			return r, err
		}
		durs = append(durs, time.Since(t0))
		t0 = time.Now()
		rows, err := db.QueryContext(ctx, `SELECT id, type, status, regime, received_at, due_at, extended_at, overdue_at FROM requests
			WHERE status IN ('received', 'verifying', 'in_review', 'fulfilling', 'awaiting_release') AND due_at < $1 ORDER BY due_at LIMIT 200`, by)
		if err != nil {
			return r, err
		}
		// What a hand-written scan does with its rows: read each column.
		n := 0
		for rows.Next() {
			var id, typ, status, regime string
			var received, due time.Time
			var extended, overdue sql.NullTime
			if err := rows.Scan(&id, &typ, &status, &regime, &received, &due, &extended, &overdue); err != nil {
				rows.Close()
				return r, err
			}
			n++
		}
		rows.Close()
		base = append(base, time.Since(t0))
		if n != len(got) {
			return r, fmt.Errorf("the monitor found %d requests, the hand-written query %d", len(got), n)
		}
	}
	r.Figures = []Figure{{"p50", percentile(durs, 50), "ms"}, {"p99", percentile(durs, 99), "ms"}}
	r.BaselineFigures = []Figure{{"p50", percentile(base, 50), "ms"}, {"p99", percentile(base, 99), "ms"}}
	r.Ratio, r.RatioMeans = percentile(durs, 50)/percentile(base, 50), "p50 over the baseline's"
	r.Met = r.Ratio <= 2
	return r, nil
}

// breachFanOut: a breach notice to BreachPeople people through the local
// SendGrid server, beside sending the same batches straight from the
// SendGrid client.
func breachFanOut(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("a breach of every customer's email address in a demo organisation of %d people: from the officer's approval of the notice to the fan-out's end, each person claimed, sent and recorded in dsar's database, 1000 to a SendGrid call.", sz.BreachPeople),
		Baseline: "the same number of personalizations sent by the SendGrid client straight to the same local server, 1000 a call, one after another",
		Goal:     "1,000,000 people in < 30 s (≥ 33,333 people/s)",
	}
	t0 := time.Now()
	inst, err := e.newInstance(ctx, "breach", sz.BreachPeople, nil)
	if err != nil {
		return r, err
	}
	defer inst.stop()
	e.setup["seed_breach"] = time.Since(t0).Seconds()
	hc := &http.Client{}
	var b struct {
		ID             string
		AffectedPeople *int       `json:"affected_people"`
		FanoutDoneAt   *time.Time `json:"fanout_done_at"`
	}
	code, err := inst.call(ctx, hc, "POST", "/api/v1/officer/breaches", true, map[string]any{
		"title": "Customer list exposed", "description": "An export of the customer table was readable without a password.",
		"aware_at": time.Now().Add(-time.Hour).UTC(), "systems": []string{"shop"}, "categories": []string{"user.contact.email"}, "risk": "high",
	}, &b)
	if err != nil || code != 201 {
		return r, fmt.Errorf("record breach: %d %v", code, err)
	}
	id := b.ID
	for b.AffectedPeople == nil {
		time.Sleep(100 * time.Millisecond)
		if _, err := inst.call(ctx, hc, "GET", "/api/v1/officer/breaches/"+id, true, nil, &b); err != nil {
			return r, err
		}
	}
	t0 = time.Now()
	if code, err := inst.call(ctx, hc, "POST", "/api/v1/officer/breaches/"+id+"/notice", true, map[string]string{
		"subject": "Your email address was exposed", "text": "A list with your email address could be read by anyone with its link. Beware of phishing.",
	}, nil); err != nil || code != 200 {
		return r, fmt.Errorf("approve notice: %d %v", code, err)
	}
	for b.FanoutDoneAt == nil {
		time.Sleep(50 * time.Millisecond)
		if _, err := inst.call(ctx, hc, "GET", "/api/v1/officer/breaches/"+id, true, nil, &b); err != nil {
			return r, err
		}
	}
	took := time.Since(t0)
	got := map[string]int{}
	for _, m := range inst.SendGrid.Mails() {
		if m.Ref == id {
			got[m.To]++
		}
	}
	if len(got) != sz.BreachPeople {
		return r, fmt.Errorf("%d people received the notice, want %d", len(got), sz.BreachPeople)
	}
	for to, n := range got {
		if n != 1 {
			return r, fmt.Errorf("%s received the notice %d times", to, n)
		}
	}
	// Baseline: the bare client against the same server.
	t0 = time.Now()
	for start := 0; start < sz.BreachPeople; start += 1000 {
		m := mail.NewV3Mail()
		m.SetFrom(mail.NewEmail("Privacy", "privacy@example.org"))
		m.Subject = "Your email address was exposed"
		m.AddContent(mail.NewContent("text/plain", "A list with your email address could be read by anyone with its link."))
		for i := start; i < min(start+1000, sz.BreachPeople); i++ {
			p := mail.NewPersonalization()
			p.AddTos(mail.NewEmail("", fmt.Sprintf("baseline-%d@example.net", i)))
			m.AddPersonalizations(p)
		}
		req := sendgrid.GetRequest(benchKey, "/v3/mail/send", inst.SendGrid.URL)
		req.Method = rest.Post
		req.Body = mail.GetRequestBody(m)
		resp, err := rest.DefaultClient.SendWithContext(ctx, req)
		if err != nil || resp.StatusCode != 202 {
			return r, fmt.Errorf("baseline send: %v %+v", err, resp)
		}
	}
	baseTook := time.Since(t0)
	rate, baseRate := float64(sz.BreachPeople)/took.Seconds(), float64(sz.BreachPeople)/baseTook.Seconds()
	r.Figures = []Figure{{"rate", rate, "people/s"}, {"time", took.Seconds(), "s"}, {"1M projected", 1e6 / rate, "s"}}
	r.BaselineFigures = []Figure{{"rate", baseRate, "people/s"}, {"time", baseTook.Seconds(), "s"}}
	r.Ratio, r.RatioMeans = rate/baseRate, "rate over the baseline's"
	r.Met = 1e6/rate < 30
	r.Notes = fmt.Sprintf("Each of the %d people was emailed exactly once (checked at the local SendGrid server).", sz.BreachPeople)
	return r, nil
}

// floorActivities is how many activities a completed access request runs.
const floorActivities = 12

func floorNoop(context.Context) error { return nil }

func floorWorkflow(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for range n {
		if err := workflow.ExecuteActivity(ctx, floorNoop).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// floorWorker starts a worker for the end-to-end baseline and returns a
// function that runs one baseline workflow to its end.
func (e *Env) floorWorker() (func(context.Context) error, func(), error) {
	tc := e.Main.App.Temporal
	w := worker.New(tc, "bench-floor", worker.Options{})
	w.RegisterWorkflow(floorWorkflow)
	w.RegisterActivityWithOptions(floorNoop, activity.RegisterOptions{Name: "floorNoop"})
	if err := w.Start(); err != nil {
		return nil, nil, err
	}
	var n int64
	var mu sync.Mutex
	run := func(ctx context.Context) error {
		mu.Lock()
		n++
		id := fmt.Sprintf("bench-floor-%d-%d", time.Now().UnixNano(), n)
		mu.Unlock()
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "bench-floor"}, floorWorkflow, floorActivities)
		if err != nil {
			return err
		}
		return run.Get(ctx, nil)
	}
	return run, w.Stop, nil
}

// childEnv names the variable that makes the benchmark binary a worker;
// childHeapEnv, if set, names where the worker writes its heap profile.
const (
	childEnv     = "DSAR_BENCH_CHILD"
	childHeapEnv = "DSAR_BENCH_CHILD_HEAPPROFILE"
)

// parkedQueue is the task queue of the child worker's parked requests.
const parkedQueue = "bench-parked"

// ChildWorker runs a worker for the parked-workflows benchmark when the
// process was started as one, and reports true; the caller then exits.
// Every second it writes its live Go heap (after a GC) and its
// resident memory to the file the parent named, and its heap profile
// if asked.
func ChildWorker() bool {
	out := os.Getenv(childEnv)
	if out == "" {
		return false
	}
	if os.Getenv(childRoleEnv) == "web" {
		childWeb(out)
		return true
	}
	if os.Getenv(childHeapEnv) != "" {
		// Sample every 4 KB allocated, not every 512 KB: a parked
		// workflow's few kilobytes must show in the profile.
		runtime.MemProfileRate = 4096
	}
	ctx := context.Background()
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	w, err := a.NewWorker()
	if err == nil {
		err = w.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	for {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		// HeapAlloc right after a GC is the live heap; HeapInuse counts
		// whole spans and wanders by more than a smoke run's few parked
		// requests weigh.
		b, _ := json.Marshal(map[string]int64{"heap": int64(ms.HeapAlloc), "rss": procField("/proc/self/status", "VmRSS") * 1024})
		os.WriteFile(out+".tmp", b, 0o600)
		os.Rename(out+".tmp", out)
		if prof := os.Getenv(childHeapEnv); prof != "" {
			writeHeapProfile(prof)
		}
		time.Sleep(time.Second)
	}
}

func writeHeapProfile(file string) {
	f, err := os.Create(file + ".tmp")
	if err != nil {
		return
	}
	err = pprof.WriteHeapProfile(f)
	if cerr := f.Close(); err == nil && cerr == nil {
		os.Rename(file+".tmp", file)
	}
}

type childMem struct{ Heap, RSS int64 }

func readChildMem(file string, after time.Time) (childMem, error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		fi, err := os.Stat(file)
		if err != nil || fi.ModTime().Before(after) {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var m map[string]int64
		if json.Unmarshal(b, &m) == nil {
			return childMem{Heap: m["heap"], RSS: m["rss"]}, nil
		}
	}
	return childMem{}, fmt.Errorf("the child worker reported no memory")
}

// parkedWorkflows: a worker in its own process holds Parked requests
// waiting for their requesters' verification; its memory is read before
// and after.
func parkedWorkflows(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("%d requests parked in a worker process of their own, each waiting for its requester's verification (its clock coroutine and timers running, cached by the worker); memory is the worker's live Go heap after a GC.", sz.Parked),
		Baseline: "the same worker idle, before the requests arrive",
		Goal:     "< 15 KB per parked request",
	}
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	memFile := e.tmp + "/child-mem.json"
	cmd := exec.Command(self)
	cmd.Env = os.Environ()
	for k, v := range e.Main.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "DSAR_TASK_QUEUE="+parkedQueue, "DSAR_DATAMAP=", childEnv+"="+memFile, "GOMAXPROCS=2")
	if e.opts.ChildHeapProfile != "" {
		cmd.Env = append(cmd.Env, childHeapEnv+"="+e.opts.ChildHeapProfile)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.opts.Log.Warn("child worker", "line", sc.Text())
		}
	}()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(3 * time.Second) // started, polled, settled
	idle, err := readChildMem(memFile, time.Now())
	if err != nil {
		return r, err
	}
	main := e.Main.App.Office
	in := &office.Service{Store: main.Store, Temporal: main.Temporal, TaskQueue: parkedQueue, VerifyTTL: main.VerifyTTL,
		Regime: main.Regime, Location: main.Location, Reminders: main.Reminders, Now: main.Now, Log: main.Log}
	defer in.Close()
	run := time.Now().UnixNano()
	if _, _, err := timed(ctx, sz.Parked, 16, func(i int) error {
		_, err := in.Submit(ctx, domain.NewRequest{Type: domain.TypeAccess, Email: fmt.Sprintf("parked-%d-%d@example.net", run, i), Name: "Parked Request"})
		return err
	}); err != nil {
		return r, err
	}
	db, err := sql.Open("pgx", e.Main.Env["DSAR_DATABASE_URL"])
	if err != nil {
		return r, err
	}
	defer db.Close()
	pattern := fmt.Sprintf("parked-%d-%%", run)
	// A start that failed at intake is retried within seconds, so the
	// wait scales with the number of requests: two minutes for the smoke
	// run, not twenty.
	wait := max(2*time.Minute, time.Duration(sz.Parked)*100*time.Millisecond)
	for deadline := time.Now().Add(wait); ; time.Sleep(time.Second) {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM requests WHERE email LIKE $1 AND status = 'verifying'`, pattern).Scan(&n); err != nil {
			return r, err
		}
		if n == sz.Parked {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("only %d of %d requests reached verifying within %v: their workflows did not start or did not run", n, sz.Parked, wait)
		}
	}
	time.Sleep(2 * time.Second)
	loaded, err := readChildMem(memFile, time.Now())
	if err != nil {
		return r, err
	}
	perHeap := float64(loaded.Heap-idle.Heap) / float64(sz.Parked)
	perRSS := float64(loaded.RSS-idle.RSS) / float64(sz.Parked)
	r.Figures = []Figure{{"heap per request", perHeap / 1000, "KB"}, {"RSS per request", perRSS / 1000, "KB"}, {"heap", float64(loaded.Heap) / 1e6, "MB"}}
	r.BaselineFigures = []Figure{{"heap", float64(idle.Heap) / 1e6, "MB"}, {"RSS", float64(idle.RSS) / 1e6, "MB"}}
	r.Ratio, r.RatioMeans = float64(loaded.Heap)/float64(idle.Heap), "heap over the idle worker's"
	r.Met = perHeap < 15_000
	return r, nil
}
