// Command dsar runs the data subject request system.
//
//	dsar dev              everything in one process, on embedded defaults
//	dsar serve            the web server (production)
//	dsar worker           the Temporal worker (production)
//	dsar migrate          apply database migrations and exit
//	dsar config           print the configuration, secrets redacted
//	dsar health           probe a running dsar's readiness
//	dsar officer add      create an officer (password on stdin)
//	dsar officer token    mint an API token for an officer
//	dsar datamap scan     draft a data map from a live database
//	dsar datamap check    check a data map against the live databases
//	dsar demo seed        seed the demo organisation with N people
//	dsar deadline         print a request's legal dates under a regime
//
// Settings come from the environment; see docs/configuration.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/store"
)

const usage = `dsar: data subject requests, end to end.

Usage:
  dsar dev                                 run everything in one process (embedded Temporal, SQLite, dev outbox)
  dsar serve                               run the web server
  dsar worker                              run the Temporal worker (health and metrics on DSAR_ADDR)
  dsar migrate                             apply database migrations
  dsar config                              print the configuration with secrets redacted
  dsar health [URL]                        exit 0 if a running dsar is ready (default: DSAR_ADDR/readyz)
  dsar officer add -email E [-role R]      create an officer (admin, officer or viewer);
                                           reads the password from stdin, prints an API token
  dsar officer token -email E              print a new API token for an officer
  dsar datamap scan -dsn URL [-system S]   draft a data map from a live PostgreSQL or SQLite database
  dsar datamap check [FILE]                check a data map (default DSAR_DATAMAP) against the live databases
  dsar archive snapshot [-archive A]      write a backup snapshot of an archive's system (JSON lines per table)
  dsar archive restore -snapshot DIR -into URL [-archive A]
                                           restore a snapshot into an empty database, forgetting everyone
                                           dsar erased since (by their tombstones)
  dsar demo seed [-subjects N] [-dsn URL]  seed the demo organisation deterministically (for benchmarks)
  dsar demo datamap                        print the demo organisation's data map
  dsar deadline -regime R -received TIME [-extended] [-tz ZONE]
                                           print due_at, extended_due_at, ack_due_at and extension_notice_by
                                           as JSON (regimes: default, gdpr, ccpa)

Settings are environment variables; see docs/configuration.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dsar:", err)
		os.Exit(1)
	}
}

// errUsage asks run's caller to print the usage.
var errUsage = errors.New("see `dsar help`")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if cmd == "deadline" { // pure date arithmetic: no configuration needed
		return deadlineCmd(args, stdout, stderr)
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	if cmd == "dev" {
		if err := app.PrepareDev(cfg); err != nil {
			return err
		}
	}
	if cmd == "health" {
		return health(ctx, cfg, args, stdout)
	}
	switch cmd {
	case "datamap":
		return datamapCmd(ctx, cfg, args, stdout, stderr)
	case "demo":
		return demoCmd(ctx, cfg, args, stdout, stderr)
	case "archive":
		return archiveCmd(ctx, cfg, args, stdout, stderr)
	}
	if cmd == "config" {
		cfg.Print(stdout)
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(stderr, err)
		}
		return nil
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr, cmd == "dev")

	switch cmd {
	case "dev":
		return app.RunDev(ctx, cfg, log, stdout)
	case "serve":
		return serve(ctx, cfg, log)
	case "worker":
		return runWorker(ctx, cfg, log)
	case "migrate":
		a, err := app.Open(ctx, cfg, log, true)
		if err != nil {
			return err
		}
		a.Close()
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	case "officer":
		return officer(ctx, cfg, log, args, stdin, stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// newLogger logs JSON for machines in production and readable text in dev.
func newLogger(cfg *config.Config, w io.Writer, dev bool) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if dev {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the web server and the recovery loop that starts requests
// kept while Temporal was unreachable. Migrations are `dsar migrate`'s job
// in production, so replicas never race to apply them.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	a, err := app.Open(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	srv, err := a.NewWebServer()
	if err != nil {
		return err
	}
	go a.Intake.RunRecovery(ctx, app.RecoveryInterval)
	go a.RunJanitor(ctx, app.JanitorInterval)
	log.Info("web server listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)
	return app.Serve(ctx, srv, ln)
}

func runWorker(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := archive.CleanTemp(); err != nil {
		log.Warn("temporary copies of backups left by a stopped worker could not be removed", "error", err)
	}
	a, err := app.Open(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.LoadDataMap(ctx); err != nil {
		return err
	}
	w, err := a.NewWorker()
	if err != nil {
		return err
	}
	ln, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	ops, err := a.NewOpsServer()
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer w.Stop()
	if err := a.EnsureMonitorSchedule(ctx); err != nil {
		return err
	}
	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace,
		"task_queue", cfg.TaskQueue, "ops_addr", ln.Addr().String())
	return app.Serve(ctx, ops, ln)
}

// health asks a running dsar whether it is ready: a probe for images with
// no shell or curl.
func health(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	url := "http://" + cfg.Addr + "/readyz"
	if len(args) > 0 {
		url = args[0]
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%d %s\n", resp.StatusCode, bytes.TrimSpace(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d", url, resp.StatusCode)
	}
	return nil
}

func officer(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("officer: say `add` or `token`")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("officer "+sub, flag.ContinueOnError)
	role := fs.String("role", string(store.RoleOfficer), "admin, officer or viewer")
	emailFlag := fs.String("email", "", "the officer's email address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	email := *emailFlag
	switch {
	case email == "" && fs.NArg() == 1:
		email = fs.Arg(0)
	case email == "" || fs.NArg() > 0:
		return fmt.Errorf("officer %s: give one email address (-email E)", sub)
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return fmt.Errorf("officer %s: %q is not an email address", sub, email)
	}
	a, err := app.Open(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer a.Close()
	now := time.Now().UTC()

	switch sub {
	case "add":
		if !store.Role(*role).Valid() {
			return fmt.Errorf("officer add: role %q is not admin, officer or viewer", *role)
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		token, err := app.CreateOfficer(ctx, a.Store, email, store.Role(*role), password, now)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("officer add: %s already exists", email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s)\nAPI token: %s\n", email, *role, token)
		return nil
	case "token":
		o, err := a.Store.OfficerByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("officer token: no officer %s (create one with `dsar officer add`)", email)
		}
		if err != nil {
			return err
		}
		token, err := app.NewAPIToken(ctx, a.Store, o.ID, now)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		return nil
	}
	return fmt.Errorf("officer: unknown subcommand %q (say `add` or `token`)", sub)
}

// minPasswordLen is the shortest officer password accepted.
const minPasswordLen = 12

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	p := strings.TrimRight(line, "\r\n")
	if len(p) < minPasswordLen {
		return "", fmt.Errorf("officer add: give a password of at least %d characters on stdin", minPasswordLen)
	}
	return p, nil
}
