// Package chaos runs dsar's production topology on one machine, as
// separate processes, under steady load and injected faults, and checks
// that nothing was lost, duplicated or touched that should not be: the
// driver behind `make chaos` and its short version in `make test`
// (docs/reliability.md).
//
// The topology: a Temporal server of its own (`dsar temporal-server`, on
// PostgreSQL), `dsar migrate`, two `dsar worker` and two `dsar serve`,
// dsar's database and the demo shop in PostgreSQL, and a local SendGrid
// (internal/sendgridtest) inside the driver, which fails on command.
package chaos

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/sendgridtest"
)

// The kinds of fault the driver injects.
const (
	KillWorker      = "kill_worker"      // SIGKILL a dsar worker, start it again
	KillWeb         = "kill_web"         // SIGKILL a dsar web server, start it again
	RestartTemporal = "restart_temporal" // SIGKILL the Temporal server, start it again
	TerminatePG     = "terminate_pg"     // pg_terminate_backend on every connection to dsar's database
	SendGrid429     = "sendgrid_429"     // SendGrid answers 429 Too Many Requests
	SendGrid500     = "sendgrid_500"     // SendGrid answers 500
	SendGridHang    = "sendgrid_hang"    // SendGrid takes the request and never answers
)

// Kinds is every fault kind, in the order reports list them.
var Kinds = []string{KillWorker, KillWeb, RestartTemporal, TerminatePG, SendGrid429, SendGrid500, SendGridHang}

// Options configure a run.
type Options struct {
	// Dsar is the command that runs dsar: the binary, then any
	// arguments before the command's own.
	Dsar []string
	// Env is added to every dsar process's environment.
	Env []string
	// AdminURL names a PostgreSQL server and a database to connect to;
	// the run creates its own databases there and drops them after.
	AdminURL string
	// Dir receives every process's log, the data map, the report.
	Dir string
	// FaultsPerKind is how many faults of each kind are injected.
	FaultsPerKind int
	// Interval is the mean time between two faults.
	Interval time.Duration
	// Concurrency is how many requests are in flight at once.
	Concurrency int
	// People is how many people the demo shop holds: every request
	// comes from a different one, and the breach reaches them all.
	People int
	// BreachRate is DSAR_BREACH_RATE, notices a second: with batches of
	// 1000, a fan-out to 3000 people at 50 a second spans 40 seconds.
	BreachRate int
	// HangFor is how long SendGrid hangs before dropping a connection.
	HangFor time.Duration
	// Drain bounds the wait, after the last fault, for every request
	// and the breach to reach their end.
	Drain time.Duration
	// Keep keeps the databases after the run.
	Keep bool
	// Log receives the driver's progress, one line per event.
	Log io.Writer
}

// Report is what a run found.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Requests submitted, by type, and how many reached their end state.
	Requests  int            `json:"requests"`
	ByType    map[string]int `json:"by_type"`
	Completed int            `json:"completed"`
	// Lost are the requests that did not reach their end state, each
	// with its last status.
	Lost []string `json:"lost"`
	// Faults injected, by kind.
	Faults map[string]int `json:"faults"`
	// PGConnectionsTerminated is how many backends pg_terminate_backend ended.
	PGConnectionsTerminated int `json:"pg_connections_terminated"`
	// SendGridAttempts and SendGridAccepted: every call, and the
	// messages taken.
	SendGridAttempts int `json:"sendgrid_attempts"`
	SendGridAccepted int `json:"sendgrid_accepted"`
	// Emails is how many request emails were accepted; Duplicates names
	// each request step accepted more than once, Missing each step a
	// completed request lacks.
	Emails     int      `json:"emails"`
	Duplicates []string `json:"duplicates"`
	Missing    []string `json:"missing"`
	// The breach fan-out.
	BreachID         string   `json:"breach_id"`
	BreachRecipients int      `json:"breach_recipients"`
	BreachNotified   int      `json:"breach_notified"`
	BreachDuplicates []string `json:"breach_duplicates"`
	BreachUncertain  int      `json:"breach_uncertain"`
	// BreachSettled counts uncertain sends the driver settled as an
	// officer would, after a fault cut a batch off before its record.
	BreachSettled int  `json:"breach_settled"`
	BreachDone    bool `json:"breach_done"`
	// OthersTouched lists rows of people with no request that changed.
	OthersTouched []string `json:"others_touched"`
	OthersRows    int      `json:"others_rows"`
	// Recovery is the longest recovery per fault kind (see
	// docs/reliability.md for what each measures); LongestLatency the
	// longest a request took from submission to its end state.
	Recovery       map[string]time.Duration `json:"recovery_ns"`
	LongestLatency time.Duration            `json:"longest_latency_ns"`
	// ExitsOnStart counts, by process, the times one exited while
	// starting and was started again by the driver, as a supervisor would.
	ExitsOnStart map[string]int `json:"exits_on_start"`
	// KillWindow lists duplicates whose first copy was accepted at most
	// a second before a worker was killed: the send was done, its record
	// not yet written (docs/reliability.md). They are duplicates all the
	// same, listed apart from those with no such explanation.
	KillWindow []string `json:"kill_window_duplicates"`
	// Problems are failures of the run itself (a process that would
	// not start, a wait that ran out).
	Problems []string `json:"problems"`
}

// OK reports whether the run found nothing wrong.
func (r *Report) OK() bool {
	return len(r.Lost) == 0 && len(r.Duplicates) == 0 && len(r.Missing) == 0 && len(r.BreachDuplicates) == 0 &&
		r.BreachDone && r.BreachNotified == r.BreachRecipients && len(r.OthersTouched) == 0 && len(r.Problems) == 0
}

// LongestRecovery is the longest recovery of any fault.
func (r *Report) LongestRecovery() (string, time.Duration) {
	var kind string
	var d time.Duration
	for _, k := range Kinds {
		if r.Recovery[k] > d {
			kind, d = k, r.Recovery[k]
		}
	}
	return kind, d
}

// Summary is the report as text, for the terminal and the docs.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run of %s from %s\n", r.Duration.Round(time.Second), r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "requests: %d submitted (", r.Requests)
	for i, t := range requestTypes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", t, r.ByType[t])
	}
	fmt.Fprintf(&b, "), %d reached their end state, %d lost\n", r.Completed, len(r.Lost))
	fmt.Fprint(&b, "faults:")
	total := 0
	for _, k := range Kinds {
		fmt.Fprintf(&b, " %s %d,", k, r.Faults[k])
		total += r.Faults[k]
	}
	fmt.Fprintf(&b, " %d in all (%d PostgreSQL connections terminated)\n", total, r.PGConnectionsTerminated)
	fmt.Fprintf(&b, "emails: %d request emails accepted, %d duplicated steps (%d more in a worker kill's window), %d missing steps (SendGrid: %d calls, %d messages taken)\n",
		r.Emails, len(r.Duplicates), len(r.KillWindow), len(r.Missing), r.SendGridAttempts, r.SendGridAccepted)
	fmt.Fprintf(&b, "breach %s: %d of %d people notified, %d twice, %d uncertain (%d settled as an officer would), fan-out done: %v\n",
		r.BreachID, r.BreachNotified, r.BreachRecipients, len(r.BreachDuplicates), r.BreachUncertain, r.BreachSettled, r.BreachDone)
	fmt.Fprintf(&b, "others' rows: %d checked, %d changed\n", r.OthersRows, len(r.OthersTouched))
	fmt.Fprint(&b, "longest recovery:")
	for _, k := range Kinds {
		fmt.Fprintf(&b, " %s %s,", k, r.Recovery[k].Round(100*time.Millisecond))
	}
	k, d := r.LongestRecovery()
	fmt.Fprintf(&b, " longest of all %s (%s)\n", d.Round(100*time.Millisecond), k)
	fmt.Fprintf(&b, "longest request, submission to end state: %s\n", r.LongestLatency.Round(100*time.Millisecond))
	exits := 0
	for _, n := range r.ExitsOnStart {
		exits += n
	}
	fmt.Fprintf(&b, "processes that exited while starting and were started again: %d %v\n", exits, r.ExitsOnStart)
	for _, list := range []struct {
		name  string
		items []string
	}{{"lost", r.Lost}, {"duplicate", r.Duplicates}, {"duplicate in a worker kill's window", r.KillWindow}, {"missing", r.Missing}, {"breach duplicate", r.BreachDuplicates}, {"others' row changed", r.OthersTouched}, {"problem", r.Problems}} {
		for i, it := range list.items {
			if i == 20 {
				fmt.Fprintf(&b, "  ... and %d more %s\n", len(list.items)-20, list.name)
				break
			}
			fmt.Fprintf(&b, "  %s: %s\n", list.name, it)
		}
	}
	if r.OK() {
		b.WriteString("verdict: nothing lost, nothing duplicated outside a worker kill's window, no one else's rows touched\n")
	} else {
		b.WriteString("verdict: FAILED (see above and the logs)\n")
	}
	return b.String()
}

var requestTypes = []string{"access", "deletion", "correction", "export", "opt_out"}

const (
	sendgridKey  = "SG.chaos-key"
	officerEmail = "chaos@example.org"
	password     = "chaos officer password 1"
)

// run is one run's state.
type run struct {
	o      Options
	log    func(format string, args ...any)
	admin  *sql.DB
	dbs    []string
	urls   map[string]string
	sg     *sendgridtest.Server
	env    []string
	tmp    *proc
	work   []*proc
	web    []*proc
	token  string
	client *apiClient
	tmpMu  sync.Mutex // one Temporal restart at a time
	// workerKills are the moments workers were killed.
	workerKills []time.Time
	// temporal reads the histories of requests that went wrong.
	temporal client.Client
	before   map[string]map[int64]string

	mu       sync.Mutex
	report   *Report
	outcomes []*outcome
}

// Run runs the topology under faults and returns what it found. An
// error means the run could not be made (PostgreSQL unreachable, a
// process that would not start); what the run found is in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if len(o.Dsar) == 0 || o.AdminURL == "" || o.Dir == "" {
		return nil, errors.New("chaos: Dsar, AdminURL and Dir are required")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.FaultsPerKind < 1 {
		o.FaultsPerKind = 1
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	r := &run{o: o, report: &Report{Started: time.Now(), ByType: map[string]int{}, Faults: map[string]int{},
		Recovery: map[string]time.Duration{}, ExitsOnStart: map[string]int{}}}
	var logMu sync.Mutex
	start := time.Now()
	r.log = func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(o.Log, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return r.report, err
	}
	r.exercise(ctx)
	// The checks run even when ctx has ended: they say what was lost.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	r.check(cctx)
	r.report.Duration = time.Since(r.report.Started)
	if b, err := json.MarshalIndent(r.report, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(o.Dir, "report.json"), b, 0o600)
	}
	_ = os.WriteFile(filepath.Join(o.Dir, "report.txt"), []byte(r.report.Summary()), 0o600)
	return r.report, nil
}

func (r *run) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	r.report.Problems = append(r.report.Problems, msg)
	r.log("PROBLEM: %s", msg)
}

// setup creates the databases, seeds the shop and starts every process.
func (r *run) setup(ctx context.Context) error {
	var err error
	if r.admin, err = sql.Open("pgx", r.o.AdminURL); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.admin.PingContext(pctx); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoPostgres, redact(r.o.AdminURL), err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "dsar_chaos_" + hex.EncodeToString(b)
	r.urls = map[string]string{}
	for _, purpose := range []string{"app", "shop", "temporal", "visibility"} {
		name := prefix + "_" + purpose
		if _, err := r.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		r.dbs = append(r.dbs, name)
		u, err := url.Parse(r.o.AdminURL)
		if err != nil {
			return err
		}
		u.Path = "/" + name
		r.urls[purpose] = u.String()
	}
	r.log("databases %s_{app,shop,temporal,visibility} created; logs in %s", prefix, r.o.Dir)

	r.sg = sendgridtest.New(sendgridKey)
	dataDir := filepath.Join(r.o.Dir, "data")
	backups := filepath.Join(r.o.Dir, "shop-backups")
	for _, d := range []string{dataDir, backups} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	mapFile := filepath.Join(r.o.Dir, "datamap.yaml")
	if err := os.WriteFile(mapFile, []byte(strings.Replace(demo.DataMapYAML(), "kind: sqlite", "kind: "+string(datamap.KindPostgres), 1)), 0o600); err != nil {
		return err
	}
	temporalAddr, err := freeAddr()
	if err != nil {
		return err
	}
	addrs := make([]string, 4)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return err
		}
	}
	r.env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(),
		"DSAR_DATABASE_URL=" + r.urls["app"],
		"DSAR_DATA_DIR=" + dataDir,
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"SENDGRID_API_KEY=" + sendgridKey,
		"SENDGRID_API_URL=" + r.sg.URL,
		"DSAR_MAIL_FROM=privacy@example.org",
		"DSAR_SECRET_KEY=chaos-secret-key-that-is-long-enough-0123456789",
		"DSAR_BASE_URL=http://" + addrs[2],
		"DSAR_PRIVACY_NOTICE_URL=https://example.org/privacy",
		"DSAR_PRIVACY_ADDRESS=Example Shop Ltd, 1 High Street, London N1 1AA",
		"DSAR_PUBLIC_RATE=0",
		fmt.Sprintf("DSAR_BREACH_RATE=%d", r.o.BreachRate),
		"DSAR_REVIEW_BEFORE_RELEASE=false",
		"DSAR_LOG_LEVEL=info",
		"DSAR_DATAMAP=" + mapFile,
		demo.DSNEnv + "=" + r.urls["shop"],
		demo.ArchiveEnv + "=" + backups,
	}, r.o.Env...)

	r.log("seeding the demo shop with %d people", r.o.People)
	if _, err := runOnce(ctx, r.o.Dsar, r.env, logPath(r.o.Dir, "seed"), "", "demo", "seed", "--subjects", fmt.Sprint(r.o.People), "--dsn", r.urls["shop"]); err != nil {
		return err
	}
	if r.before, err = r.snapshot(ctx); err != nil {
		return fmt.Errorf("reading the shop: %w", err)
	}
	r.tmp = &proc{name: "temporal", log: logPath(r.o.Dir, "temporal"), tcp: temporalAddr,
		args: []string{"temporal-server", "--address", temporalAddr, "--namespace", "default",
			"--database", r.urls["temporal"], "--visibility-database", r.urls["visibility"]}}
	if err := r.tmp.start(r.o.Dsar, r.env); err != nil {
		return err
	}
	if err := r.tmp.ready(ctx, 2*time.Minute); err != nil {
		return err
	}
	r.log("temporal server up on %s", temporalAddr)
	if _, err := runOnce(ctx, r.o.Dsar, r.env, logPath(r.o.Dir, "migrate"), "", "migrate"); err != nil {
		return err
	}
	out, err := runOnce(ctx, r.o.Dsar, r.env, logPath(r.o.Dir, "officer"), password+"\n", "officer", "add", "--email", officerEmail, "--role", "admin")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(line, "API token: "); ok {
			r.token = strings.TrimSpace(t)
		}
	}
	if r.token == "" {
		return fmt.Errorf("dsar officer add printed no API token; see %s", logPath(r.o.Dir, "officer"))
	}
	for i := range 2 {
		r.work = append(r.work, &proc{name: fmt.Sprintf("worker-%d", i+1), args: []string{"worker"}, addr: addrs[i],
			env: []string{"DSAR_ADDR=" + addrs[i]}, log: logPath(r.o.Dir, fmt.Sprintf("worker-%d", i+1))})
		r.web = append(r.web, &proc{name: fmt.Sprintf("web-%d", i+1), args: []string{"serve"}, addr: addrs[2+i],
			env: []string{"DSAR_ADDR=" + addrs[2+i]}, log: logPath(r.o.Dir, fmt.Sprintf("web-%d", i+1))})
	}
	for _, p := range slices.Concat(r.work, r.web) {
		if err := p.start(r.o.Dsar, r.env); err != nil {
			return err
		}
	}
	for _, p := range slices.Concat(r.work, r.web) {
		if err := p.ready(ctx, 2*time.Minute); err != nil {
			return err
		}
	}
	r.log("two workers and two web servers ready")
	r.client = &apiClient{webs: r.web, token: r.token}
	return nil
}

// ErrNoPostgres is the error of a run with no PostgreSQL to run on.
var ErrNoPostgres = errors.New("chaos: PostgreSQL is not reachable")

// teardown stops every process and drops the databases.
func (r *run) teardown() {
	if r.temporal != nil {
		r.temporal.Close()
	}
	var wg sync.WaitGroup
	for _, p := range slices.Concat(r.web, r.work) {
		wg.Go(func() { p.stop(10 * time.Second) })
	}
	wg.Wait()
	if r.tmp != nil {
		r.tmp.stop(10 * time.Second)
	}
	if r.sg != nil {
		r.sg.Close()
	}
	if r.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if !r.o.Keep {
			for _, name := range r.dbs {
				if _, err := r.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
					r.log("drop database %s: %v", name, err)
				}
			}
		}
		r.admin.Close()
	}
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// jitter is d scaled by a random factor in [0.5, 1.5).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.5 + mrand.Float64()))
}

func maxDur(a, b time.Duration) time.Duration { return time.Duration(math.Max(float64(a), float64(b))) }
