// Package app wires dsar's parts together from a Config: the database, the
// Temporal client, the mail sender, the worker and the web server. The
// commands in cmd/dsar and the end-to-end tests build the system the same
// way, through here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/temporalclient"
	"github.com/dsar-project/dsar/web"
	"github.com/dsar-project/dsar/workflows"
)

// RecoveryInterval is how often a web process looks for requests whose
// workflow could not be started or signalled.
const RecoveryInterval = 30 * time.Second

// App is one process's share of dsar.
type App struct {
	Config   *config.Config
	Store    *store.Store
	Temporal client.Client
	Office   *office.Service
	Sealer   *export.Sealer   // encrypts requesters' packages at rest
	Systems  *datamap.Systems // the organisation's systems; nil until LoadDataMap, and without a data map
	Registry *prometheus.Registry
	Now      func() time.Time
	Log      *slog.Logger

	emailMetrics *metrics.Email // registered once, shared by every worker
	templates    *mail.Renderer // parsed once, shared by workers and the web server
}

// Templates are the email templates, the organisation's own
// (DSAR_MAIL_TEMPLATES) in place of the built-in ones, parsed and
// checked on first use: a broken one stops the process at start.
func (a *App) Templates() (*mail.Renderer, error) {
	if a.templates == nil {
		r, err := mail.LoadRenderer(mail.Options{Overrides: a.Config.MailTemplates})
		if err != nil {
			return nil, err
		}
		a.templates = r
	}
	return a.templates, nil
}

// Open connects to the database (running migrations when migrate is true)
// and creates a Temporal client that dials on first use, so a web process
// starts and keeps requests even while Temporal is down.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, migrate bool) (*App, error) {
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return nil, err
	}
	st.SetMaxConns(cfg.DatabaseMaxConns)
	auditKeys, err := auditchain.Keys(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.SetAuditKeys(auditKeys...)
	lookupKeys, err := auth.LookupKeys(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.SetLookupKeys(lookupKeys...)
	codeKeys, err := auth.CodeKeys(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.SetCodeKeys(codeKeys...)
	if migrate {
		n, err := st.Migrate(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		if n > 0 {
			log.Info("migrations applied", "count", n)
		}
		// The email lookup hashes need the key, which SQL migrations do
		// not have: rows stored before migration 0011, or hashed under a
		// rotated key, are hashed here (and by every web process's
		// janitor, at its start and hourly).
		hashed, err := st.HashEmails(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		if hashed > 0 {
			log.Info("requests' email lookup hashes made", "count", hashed)
		}
	}
	tc, err := temporalclient.New(temporalclient.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		SecretKey: cfg.SecretKey, PreviousKeys: cfg.PreviousKeys, Logger: log,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	sealer, err := export.NewSealer(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		st.Close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	reg := prometheus.NewRegistry()
	metrics.RegisterRequests(reg, st, now, log)
	return &App{
		Config: cfg, Store: st, Temporal: tc, Sealer: sealer, Registry: reg, Now: now, Log: log,
		Office: &office.Service{
			Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, VerifyTTL: cfg.VerifyTTL,
			Regime: cfg.Regime, Location: cfg.Location, OptOutWithin: cfg.OptOutWithin, Reminders: cfg.Reminders, Sealer: sealer, Now: now, Log: log,
			AttachmentMax: cfg.AttachmentMaxBytes,
			DRPBusinessID: cfg.DRPBusinessID,
			PhoneRegion:   cfg.PhoneRegion,
		},
	}, nil
}

// LoadDataMap reads the data map named by DSAR_DATAMAP and checks it
// against the live schema of every SQL system it names; any problem stops
// the start with the file, line and what is wrong. Without a data map,
// requests run as tickets the officers fulfil by hand.
func (a *App) LoadDataMap(ctx context.Context) error {
	if a.Config.DataMap == "" {
		a.Log.Warn("no data map (DSAR_DATAMAP): dsar will not search or act on the organisation's data; see docs/datamap.md")
		return nil
	}
	m, err := datamap.LoadFile(a.Config.DataMap)
	if err != nil {
		return err
	}
	return a.UseDataMap(ctx, m)
}

// UseDataMap checks a loaded data map against the live systems and makes
// it the one new workers use.
func (a *App) UseDataMap(ctx context.Context, m *datamap.Map) error {
	systems := datamap.NewSystems(m)
	if err := systems.Check(ctx); err != nil {
		systems.Close()
		return err
	}
	if a.Systems != nil {
		a.Systems.Close()
	}
	a.Systems = systems
	a.Log.Info("data map loaded", "source", m.Source, "systems", len(m.Systems))
	return nil
}

// RunJanitor removes expired dashboard sessions and expired packages, and
// hashes addresses left without a lookup hash, every interval until ctx
// ends.
func (a *App) RunJanitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := a.Store.DeleteExpiredSessions(ctx, a.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("removing expired sessions", "error", err)
		} else if n > 0 {
			a.Log.Debug("removed expired sessions", "count", n)
		}
		if n, err := a.Store.RemoveExpiredPackages(ctx, a.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("removing expired packages", "error", err)
		} else if n > 0 {
			a.Log.Info("removed expired packages", "count", n)
		}
		// Requests stored by a process older than migration 0011 (during a
		// rolling upgrade) have no lookup hash; hash them.
		if n, err := a.Store.HashEmails(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("hashing requests' email addresses for lookup", "error", err)
		} else if n > 0 {
			a.Log.Info("requests' email lookup hashes made", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StartWorker starts a worker on the task queue and makes sure the
// deadline monitor's schedule exists; stop it with the returned stop.
// While Temporal does not answer (a worker started during a Temporal
// restart), it waits and tries again with backoff until ctx ends, as the
// web process does, rather than exiting into its supervisor's restart
// loop; any other refusal (an unknown namespace) ends it at once.
func (a *App) StartWorker(ctx context.Context) (stop func(), err error) {
	wait := workerRetryFirst
	for {
		w, err := a.NewWorker()
		if err != nil {
			return nil, err
		}
		err = w.Start()
		if err == nil {
			err = a.EnsureMonitorSchedule(ctx)
			if err == nil {
				return w.Stop, nil
			}
			w.Stop()
		}
		if !unreachable(err) {
			return nil, fmt.Errorf("worker: %w", err)
		}
		a.Log.Warn("Temporal is not answering; the worker waits for it", "temporal", a.Config.TemporalAddress, "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("worker: stopped while waiting for Temporal: %w", err)
		case <-time.After(wait):
		}
		wait = min(wait*2, workerRetryMax)
	}
}

// How long a starting worker waits between tries while Temporal does not
// answer.
const (
	workerRetryFirst = 500 * time.Millisecond
	workerRetryMax   = 15 * time.Second
)

// unreachable tells a Temporal that did not answer (down, restarting,
// the connection refused or timed out) from one that refused.
func unreachable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(errors.Unwrap(err)) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "failed reaching server") || strings.Contains(msg, "connection refused")
}

// StartWebBackground runs what every web process runs beside its
// handlers until ctx ends: recovery of requests Temporal missed and the
// janitor.
func (a *App) StartWebBackground(ctx context.Context) {
	go a.Office.RunRecovery(ctx, RecoveryInterval)
	go a.RunJanitor(ctx, JanitorInterval)
}

// JanitorInterval is how often expired sessions and packages are removed.
const JanitorInterval = time.Hour

// Close releases the Temporal client, the organisation's systems and the
// database.
func (a *App) Close() {
	a.Office.Close()
	a.Temporal.Close()
	if a.Systems != nil {
		a.Systems.Close()
	}
	if err := a.Store.Close(); err != nil {
		a.Log.Warn("closing the database", "error", err)
	}
}

// Sender is where email goes: SendGrid when a key is set, otherwise the
// database outbox that `dsar dev` shows.
func (a *App) Sender() mail.Sender {
	if a.Config.UsesOutbox() {
		return &mail.Outbox{Store: a.Store, Now: a.Now}
	}
	return mail.NewSendGrid(a.Config.SendGridAPIKey, a.Config.SendGridAPIURL, a.Config.MailFrom, a.Config.MailFromName)
}

// Contact is the privacy contact every email to a requester shows; the
// logo is served by the web process at /logo.
func (a *App) Contact() mail.Contact {
	c := mail.Contact{
		PrivacyEmail: a.Config.PrivacyEmail, PrivacyAddress: a.Config.PrivacyAddress,
		PrivacyNoticeURL: a.Config.PrivacyNoticeURL,
	}
	if len(a.Config.Logo) > 0 {
		c.LogoURL = a.Config.BaseURL + "/logo"
	}
	return c
}

// NewWorker returns a worker with every workflow and activity registered.
// Call LoadDataMap first, or requests run without one. Run it with
// Start/Stop or Run.
func (a *App) NewWorker() (worker.Worker, error) {
	templates, err := a.Templates()
	if err != nil {
		return nil, err
	}
	w := worker.New(a.Temporal, a.Config.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.SubjectRequest)
	w.RegisterWorkflow(workflows.DeadlineMonitor)
	w.RegisterWorkflow(workflows.Breach)
	w.RegisterWorkflow(workflows.RetentionPurge)
	if a.emailMetrics == nil {
		a.emailMetrics = metrics.NewEmail(a.Registry)
	}
	reqs := &activities.Requests{
		Store: a.Store, Mail: a.Sender(), Templates: templates, Metrics: a.emailMetrics,
		BaseURL: a.Config.BaseURL, Organisation: a.Config.Organisation, Contact: a.Contact(),
		Now: a.Now, Log: a.Log, PausingRegimes: a.Config.PausingRegimes, Systems: a.Systems,
	}
	w.RegisterActivity(reqs)
	batch, _ := reqs.Mail.(mail.BatchSender) // both the outbox and SendGrid send batches
	w.RegisterActivity(&activities.Breaches{
		Requests: reqs, Systems: a.Systems, Batch: batch, Lanes: activities.FanOutLanes, Rate: float64(a.Config.BreachRate),
	})
	w.RegisterActivity(&activities.Monitor{
		Requests: reqs, Recover: a.Office.Recover, Window: digestWindow(a.Config.Reminders),
	})
	w.RegisterActivity(&activities.Fulfilment{
		Store: a.Store, Systems: a.Systems, Sealer: a.Sealer, Organisation: a.Config.Organisation,
		PrivacyEmail: a.Config.PrivacyEmail,
		Authority:    export.Authority{Name: a.Config.AuthorityName, URL: a.Config.AuthorityURL},
		DownloadTTL:  a.Config.DownloadTTL, ReviewBeforeRelease: a.Config.ReviewBeforeRelease, PhoneRegion: a.Config.PhoneRegion,
		Now: a.Now, Log: a.Log,
	})
	w.RegisterActivity(&activities.Tasks{Store: a.Store, Systems: a.Systems, Sealer: a.Sealer, Now: a.Now})
	return w, nil
}

// digestWindow is how far ahead the monitor's digest looks: as far as the
// furthest reminder, and at least a week.
func digestWindow(reminders []time.Duration) time.Duration {
	w := 7 * 24 * time.Hour
	for _, r := range reminders {
		w = max(w, r)
	}
	return w
}

// dataMap is the data map breaches are checked against: the one loaded,
// else the configured file read without connecting (a web process does
// not reach the organisation's systems), else none.
func (a *App) dataMap() *datamap.Map {
	if a.Systems != nil {
		return a.Systems.Map
	}
	if a.Config.DataMap == "" {
		return nil
	}
	m, err := datamap.LoadFile(a.Config.DataMap)
	if err != nil {
		a.Log.Warn("data map unreadable; breaches are recorded without checking their systems", "error", err)
		return nil
	}
	return m
}

// NewWebServer returns the HTTP server for the public pages and the API.
func (a *App) NewWebServer() (*http.Server, error) {
	s, err := a.web()
	if err != nil {
		return nil, err
	}
	return a.httpServer(s.Handler()), nil
}

// NewOpsServer returns the worker's HTTP server: health, readiness and
// metrics only.
func (a *App) NewOpsServer() (*http.Server, error) {
	s, err := a.web()
	if err != nil {
		return nil, err
	}
	return a.httpServer(s.OpsHandler()), nil
}

func (a *App) web() (*web.Server, error) {
	templates, err := a.Templates()
	if err != nil {
		return nil, err
	}
	if a.Office.Mailer == nil {
		// Messages are case work, outside the workflow: the web process
		// emails them with the workflow's own email activity.
		if a.emailMetrics == nil {
			a.emailMetrics = metrics.NewEmail(a.Registry)
		}
		a.Office.Mailer = &activities.Requests{
			Store: a.Store, Mail: a.Sender(), Templates: templates, Metrics: a.emailMetrics,
			BaseURL: a.Config.BaseURL, Organisation: a.Config.Organisation, Contact: a.Contact(),
			Now: a.Now, Log: a.Log, PausingRegimes: a.Config.PausingRegimes,
		}
	}
	return web.New(web.Deps{
		Config: a.Config, Store: a.Store, Office: a.Office, Sealer: a.Sealer, DataMap: a.dataMap,
		Mail: a.Sender(), Templates: templates, Metrics: a.Registry, Now: a.Now, Log: a.Log,
	})
}

func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx ends, then drains in-flight requests for
// up to ten seconds.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("web server shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Listen opens the web server's address with a clear message when it is
// taken.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (is another dsar running? set DSAR_ADDR): %w", addr, err)
	}
	return ln, nil
}
