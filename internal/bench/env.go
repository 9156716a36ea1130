package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/devtemporal"
	"github.com/dsar-project/dsar/internal/sendgridtest"
	"github.com/dsar-project/dsar/internal/store"
)

// Temporal's embedded server version, as go.mod pins it.
const temporalVersion = "v1.32.0"

const (
	benchKey      = "SG.bench-key"
	benchSecret   = "bench-secret-key-that-is-long-enough-0123456789"
	officerEmail  = "bench@example.org"
	benchPassword = "correct horse battery"
)

// Env is one running dsar: the embedded Temporal server, dsar's database
// and the demo organisation's in PostgreSQL, a local SendGrid, a worker
// and the web server.
type Env struct {
	opts Options
	// config is the Temporal configuration being measured (Memory or
	// Postgres), temporal its server.
	config   string
	temporal *devtemporal.Server
	admin    *sql.DB
	adminURL string
	dbs      []string
	tmp      string
	setup    map[string]float64
	// mysql is the demo organisation on MySQL, once a MySQL benchmark
	// has asked for it.
	mysql        *mysqlShop
	mysqlVersion string

	// The main instance: the demo organisation with Sizes.Subjects
	// people, seeded once into shop and shared by the configurations.
	Main *Instance
	shop string
}

// Instance is one dsar (app, worker, web server) on its own databases
// and task queue.
type Instance struct {
	App      *app.App
	Base     string // the web server's URL
	Token    string // an officer's API token
	Shop     string // the demo organisation's database
	SendGrid *sendgridtest.Server
	Env      map[string]string // its configuration, for a worker in a child process
	worker   worker.Worker
	stop     func()
}

func newEnv(ctx context.Context, o Options) (*Env, error) {
	e := &Env{opts: o, setup: map[string]float64{}}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	var err error
	if e.tmp, err = os.MkdirTemp("", "dsar-bench-"); err != nil {
		return nil, err
	}
	e.adminURL = o.AdminURL
	if e.admin, err = sql.Open("pgx", o.AdminURL); err != nil {
		return nil, err
	}
	if err := e.admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %w", redactURL(o.AdminURL), err)
	}
	ok = true
	return e, nil
}

// configure stops the configuration running, if any, and starts the
// embedded Temporal server as config says (in memory, or persisting to
// two new PostgreSQL databases as a production cluster does) and the main
// dsar instance on it. The demo organisation is seeded the first time
// only.
func (e *Env) configure(ctx context.Context, config string) error {
	e.stopConfig()
	opts := devtemporal.Options{
		Address: "127.0.0.1:0", Namespace: "default",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	t0 := time.Now()
	switch config {
	case Memory:
	case Postgres:
		var err error
		if opts.PostgresURL, err = e.database(ctx, "temporal"); err != nil {
			return err
		}
		if opts.PostgresVisibilityURL, err = e.database(ctx, "temporal_visibility"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("no Temporal configuration %q (there are %s and %s)", config, Memory, Postgres)
	}
	var err error
	if e.temporal, err = devtemporal.Start(opts); err != nil {
		return fmt.Errorf("embedded Temporal (%s): %w", config, err)
	}
	e.config = config
	e.setup["temporal_"+config] = time.Since(t0).Seconds()
	t0 = time.Now()
	var more map[string]string
	if e.shop != "" {
		more = map[string]string{demo.DSNEnv: e.shop}
	}
	if e.Main, err = e.newInstance(ctx, "main_"+config, e.opts.Sizes.Subjects, more); err != nil {
		return err
	}
	if e.shop == "" {
		e.shop = e.Main.Shop
		e.setup["seed_subjects"] = time.Since(t0).Seconds()
	}
	return nil
}

// stopConfig stops the main instance and its Temporal server.
func (e *Env) stopConfig() {
	if e.Main != nil {
		e.Main.stop()
		e.Main = nil
	}
	if e.temporal != nil {
		e.temporal.Stop()
		e.temporal = nil
	}
}

// database creates an empty database and returns its URL.
func (e *Env) database(ctx context.Context, purpose string) (string, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "dsar_bench_" + purpose + "_" + hex.EncodeToString(b)
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	e.dbs = append(e.dbs, name)
	u, err := url.Parse(e.adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// newInstance starts a dsar whose demo organisation has people persons,
// in a new database unless more names one (demo.DSNEnv) already seeded.
func (e *Env) newInstance(ctx context.Context, name string, people int, more map[string]string) (*Instance, error) {
	appDB, err := e.database(ctx, name+"_app")
	if err != nil {
		return nil, err
	}
	shop := more[demo.DSNEnv]
	if shop == "" {
		if shop, err = e.database(ctx, name+"_shop"); err != nil {
			return nil, err
		}
	}
	sg := sendgridtest.New(benchKey)
	sg.KeepBodiesOff()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(e.tmp, name)
	env := map[string]string{
		"DSAR_ADDR":          ln.Addr().String(),
		"DSAR_BASE_URL":      "http://" + ln.Addr().String(),
		"DSAR_DATA_DIR":      dataDir,
		"DSAR_DATABASE_URL":  appDB,
		"TEMPORAL_ADDRESS":   e.temporal.Address(),
		"TEMPORAL_NAMESPACE": "default",
		"DSAR_TASK_QUEUE":    "bench-" + name,
		"SENDGRID_API_KEY":   benchKey,
		"SENDGRID_API_URL":   sg.URL,
		"DSAR_MAIL_FROM":     "privacy@example.org",
		"DSAR_SECRET_KEY":    benchSecret,
		"DSAR_PUBLIC_RATE":   "0",
		"DSAR_BREACH_RATE":   "0",
		"DSAR_LOG_LEVEL":     "error",
		// The end-to-end figure is the request's own path, from the form
		// to the package emailed; an officer's preview before release is
		// not a machine's time.
		"DSAR_REVIEW_BEFORE_RELEASE": "false",
		// What a real organisation sets, so the run warns of nothing.
		"DSAR_PRIVACY_NOTICE_URL":    "https://example.org/privacy",
		"DSAR_PRIVACY_ADDRESS":       "1 Bench Street, Example Town",
		"DSAR_SUPERVISORY_AUTHORITY": "Example Data Protection Authority",
		demo.DSNEnv:                  shop,
		demo.ArchiveEnv:              filepath.Join(dataDir, "backups"),
	}
	for k, v := range more {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, k := range []string{demo.DSNEnv, demo.ArchiveEnv} {
		os.Setenv(k, env[k]) // the demo map reads them from the environment
	}
	// dsar's own warnings and errors go to stderr, so a failed run says
	// why (an answer of 500 is only a number).
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ictx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, log, true)
	if err != nil {
		cancel()
		return nil, err
	}
	inst := &Instance{App: a, Base: env["DSAR_BASE_URL"], Shop: shop, SendGrid: sg, Env: env}
	// The demo organisation without its backups: the benchmarks measure
	// the live systems (docs/benchmarks.md).
	m, err := demo.Prepare(ctx, shop, people, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("seeding %d people: %w", people, err)
	}
	if err := a.UseDataMap(ctx, m); err != nil {
		cancel()
		return nil, err
	}
	w, err := a.NewWorker()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := w.Start(); err != nil {
		cancel()
		return nil, err
	}
	inst.worker = w
	srv, err := a.NewWebServer()
	if err != nil {
		cancel()
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- app.Serve(ictx, srv, ln) }()
	inst.stop = func() {
		cancel()
		<-served
		w.Stop()
		a.Close()
		sg.Close()
	}
	if inst.Token, err = app.CreateOfficer(ctx, a.Store, officerEmail, store.RoleOfficer, benchPassword, time.Now()); err != nil {
		inst.stop()
		return nil, err
	}
	return inst, nil
}

// Close stops everything and drops the databases.
func (e *Env) Close() {
	e.stopConfig()
	if e.mysql != nil {
		e.mysql.close()
	}
	if e.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, name := range e.dbs {
			e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		e.admin.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}

func (e *Env) machine() Machine {
	m := machineFacts()
	var v string
	if err := e.admin.QueryRow(`SHOW server_version`).Scan(&v); err == nil {
		m.PostgreSQL = v
	}
	m.Temporal = temporalVersion
	m.Configurations = e.opts.Temporal
	return m
}

// call makes an API request and decodes the JSON answer into out.
func (i *Instance) call(ctx context.Context, client *http.Client, method, path string, officer bool, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, i.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if officer {
		req.Header.Set("Authorization", "Bearer "+i.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
