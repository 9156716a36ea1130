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
//	dsar officer reset-totp  turn an officer's two-factor sign-in off
//	dsar datamap scan     draft a data map from a live database
//	dsar datamap check    check a data map against the live databases
//	dsar archive snapshot write a backup snapshot of an archive's system
//	dsar archive restore  restore a snapshot, forgetting the people dsar erased since
//	dsar demo seed        seed the demo organisation with N people
//	dsar demo datamap     print the demo organisation's data map
//	dsar deadline         print a request's legal dates under a regime
//	dsar audit verify     check the audit trail's hash chain
//	dsar temporal-server  a single-node Temporal server on PostgreSQL (make chaos)
//
// `dsar COMMAND --help` (or -h, or `dsar help COMMAND`) prints what a
// command does, its flags and the environment it reads, and needs no
// configuration. Settings come from the environment; see
// docs/configuration.md.
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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	dsarmail "github.com/dsar-project/dsar/internal/mail"
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
  dsar officer reset-totp -email E         turn an officer's two-factor sign-in off (a lost phone)
  dsar datamap scan -dsn URL [-system S]   draft a data map from a live PostgreSQL or SQLite database
  dsar datamap check [FILE]                check a data map (default DSAR_DATAMAP) against the live databases
  dsar archive snapshot [-archive A]       write a backup snapshot of an archive's system (JSON lines per table)
  dsar archive restore -snapshot DIR -into URL [-archive A]
                                           restore a snapshot into an empty database, forgetting everyone
                                           dsar erased since (by their tombstones)
  dsar demo seed [-subjects N] [-dsn URL]  seed the demo organisation deterministically (for benchmarks)
  dsar demo datamap                        print the demo organisation's data map
  dsar deadline -received TIME [-regime R] [-extended] [-tz ZONE]
                                           print due_at, extended_due_at, ack_due_at and extension_notice_by
                                           as JSON (regimes: default, gdpr, ccpa)
  dsar audit verify [-anchor SEQ:MAC]      check the audit trail's hash chain; exit 1 at the first broken link
  dsar temporal-server --database URL --visibility-database URL
                                           a single-node Temporal server on PostgreSQL, as its own process
                                           (for make chaos and tests; production runs a Temporal cluster)

Run ` + "`dsar COMMAND --help`" + ` (or ` + "`dsar help COMMAND`" + `) for what a command does,
its flags and the environment it reads.

Settings are environment variables; see docs/configuration.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dsar:", err)
		os.Exit(1)
	}
}

// errUsage asks run's caller to print the usage.
var errUsage = errors.New("see `dsar help`")

// run runs the command args name. Every command parses its flags before
// it reads any configuration, so --help works with none.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch {
	case isHelp(cmd) && len(args) > 0: // dsar help COMMAND [SUBCOMMAND]
		return dispatch(ctx, append(slices.Clip(args), "--help"), stdin, stdout, stderr)
	case isHelp(cmd):
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch cmd {
	case "dev", "serve", "worker", "migrate":
		return process(ctx, cmd, args, stdout, stderr)
	case "config":
		return configCmd(args, stdout, stderr)
	case "health":
		return health(ctx, args, stdout)
	case "officer":
		return officer(ctx, args, stdin, stdout, stderr)
	case "datamap":
		return datamapCmd(ctx, args, stdout, stderr)
	case "demo":
		return demoCmd(ctx, args, stdout, stderr)
	case "archive":
		return archiveCmd(ctx, args, stdout, stderr)
	case "audit":
		return auditCmd(ctx, args, stdout, stderr)
	case "deadline": // pure date arithmetic: no configuration needed
		return deadlineCmd(args, stdout)
	case "temporal-server":
		return temporalServer(ctx, args, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// loadConfig reads the settings from the environment.
func loadConfig() (*config.Config, error) { return config.Load(os.Getenv) }

// process runs one of the long-running processes, or migrate, with valid
// settings.
func process(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	h := map[string]help{"dev": devHelp, "serve": serveHelp, "worker": workerHelp, "migrate": migrateHelp}[cmd]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	cfg, err := configure(fs, h, args, stdout, 0)
	if err != nil {
		return err
	}
	if cmd == "dev" {
		if err := app.PrepareDev(cfg); err != nil {
			return err
		}
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
	}
	a, err := app.Open(ctx, cfg, log, true) // migrate
	if err != nil {
		return err
	}
	a.Close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}

// configCmd prints the settings, then what is wrong with them.
func configCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	cfg, err := configure(fs, configHelp, args, stdout, 0)
	if err != nil {
		return err
	}
	cfg.Print(stdout)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
	}
	if cfg.MailTemplates != "" {
		if _, err := dsarmail.LoadRenderer(dsarmail.Options{Overrides: cfg.MailTemplates}); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}
	return nil
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
	a.StartWebBackground(ctx)
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
	ln, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	ops, err := a.NewOpsServer()
	if err != nil {
		return err
	}
	stopWorker, err := a.StartWorker(ctx)
	if err != nil {
		return err
	}
	defer stopWorker()
	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace,
		"task_queue", cfg.TaskQueue, "ops_addr", ln.Addr().String())
	return app.Serve(ctx, ops, ln)
}

// health asks a running dsar whether it is ready: a probe for images with
// no shell or curl.
func health(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	if err := parseArgs(fs, healthHelp, args, stdout, 1); err != nil {
		return err
	}
	url := fs.Arg(0)
	if url == "" {
		cfg, err := loadConfig()
		if err != nil {
			return err
		}
		url = "http://" + cfg.Addr + "/readyz"
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

// officer creates officers and mints their API tokens.
func officer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if done, err := group("officer", officerHelp, args, stdout, stderr); done {
		return err
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("officer "+sub, flag.ContinueOnError)
	emailFlag := fs.String("email", "", "the officer's email address")
	var role *string
	switch sub {
	case "add":
		role = fs.String("role", string(store.RoleOfficer), "admin, officer or viewer")
		if err := parseFlags(fs, officerAddHelp, args, stdout); err != nil {
			return err
		}
	case "token":
		if err := parseFlags(fs, officerTokenHelp, args, stdout); err != nil {
			return err
		}
	case "reset-totp":
		if err := parseFlags(fs, officerResetTOTPHelp, args, stdout); err != nil {
			return err
		}
	default:
		return unknownSub("officer", sub, officerHelp, stderr)
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
	if role != nil && !store.Role(*role).Valid() {
		return fmt.Errorf("officer add: role %q is not admin, officer or viewer", *role)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, newLogger(cfg, stderr, false), false)
	if err != nil {
		return err
	}
	defer a.Close()
	now := time.Now().UTC()

	if sub == "add" {
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
	}
	o, err := a.Store.OfficerByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("officer %s: no officer %s (create one with `dsar officer add`)", sub, email)
	}
	if err != nil {
		return err
	}
	if sub == "reset-totp" {
		// The way back in for an admin who lost their phone and their
		// recovery codes: someone with the server's configuration.
		err := a.Store.DisableTOTP(ctx, o.ID, "operator (dsar officer reset-totp)", store.EventTOTPReset, now)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("officer reset-totp: %s has no two-factor sign-in", email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "two-factor sign-in reset for %s; they set it up again at their next sign-in if it is required\n", email)
		return nil
	}
	token, err := app.RotateAPIToken(ctx, a.Store, o.ID, now)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// The lengths of an officer password, in bytes.
const (
	minPasswordLen = auth.MinPasswordLen
	maxPasswordLen = 1024
)

// readPassword reads the password from the first line of r, reading no
// more than a password's length from it.
func readPassword(r io.Reader) (string, error) {
	// Room for the longest password and its line end; one byte more and
	// the password is too long.
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("officer add: reading the password from stdin: %w", err)
	}
	p := strings.TrimRight(line, "\r\n")
	switch {
	case len(p) > maxPasswordLen:
		return "", fmt.Errorf("officer add: the password on stdin is longer than %d bytes", maxPasswordLen)
	case len(p) < minPasswordLen:
		return "", fmt.Errorf("officer add: give a password of at least %d characters on stdin", minPasswordLen)
	}
	return p, nil
}
