package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/devtemporal"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/files"
	"github.com/dsar-project/dsar/internal/store"
)

// DevOfficerEmail is the first officer `dsar dev` creates.
const DevOfficerEmail = "officer@example.com"

// Files `dsar dev` keeps in the data directory.
const (
	devSecretFile      = "secret.key"
	devCredentialsFile = "officer-credentials.txt"
	devDemoFile        = "demo-organisation.db"
)

// PrepareDev fills in what `dsar dev` may generate: a secret key, kept in
// the data directory so payloads written by one run can be read by the
// next. Call it before cfg.Validate.
func PrepareDev(cfg *config.Config) error {
	cfg.DevMode = true
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if cfg.SecretKey != "" {
		return nil
	}
	path := filepath.Join(cfg.DataDir, devSecretFile)
	b, err := files.Read(path, files.SecretMax)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 48)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		b = []byte(base64.RawURLEncoding.EncodeToString(raw))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("writing the dev secret key: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("reading the dev secret key: %w", err)
	}
	cfg.SecretKey = strings.TrimSpace(string(b))
	return nil
}

// RunDev runs the whole system in one process until ctx ends: an embedded
// Temporal server persisted under the data directory, the worker, the web
// server and the recovery loop. It prints where to go to out.
func RunDev(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	if err := archive.CleanTemp(); err != nil {
		log.Warn("temporary copies of backups left by a stopped dsar could not be removed", "error", err)
	}
	ln, err := Listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	log.Info("starting the embedded Temporal server", "address", cfg.TemporalAddress)
	ts, err := devtemporal.Start(devtemporal.Options{
		Address: cfg.TemporalAddress, DatabaseFile: cfg.TemporalDBPath(),
		Namespace: cfg.TemporalNamespace, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("embedded Temporal server (set TEMPORAL_ADDRESS if %s is taken): %w", cfg.TemporalAddress, err)
	}
	defer func() {
		if err := ts.Stop(); err != nil {
			log.Warn("stopping the embedded Temporal server", "error", err)
		}
	}()
	cfg.TemporalAddress = ts.Address()

	a, err := Open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.Close()

	creds, err := a.devOfficer(ctx)
	if err != nil {
		return err
	}
	if cfg.DataMap != "" {
		err = a.LoadDataMap(ctx)
	} else {
		err = a.UseDemoOrganisation(ctx, DemoPeople)
	}
	if err != nil {
		return err
	}
	stopWorker, err := a.StartWorker(ctx)
	if err != nil {
		return err
	}
	defer stopWorker()
	srv, err := a.NewWebServer()
	if err != nil {
		return err
	}
	a.StartWebBackground(ctx)
	if n, err := a.seedDemoRequests(ctx); err != nil {
		log.Warn("demo requests not seeded", "error", err)
	} else if n > 0 {
		log.Info("seeded demo requests", "count", n)
	}

	printDevBanner(out, cfg, creds)
	return Serve(ctx, srv, ln)
}

// DemoPeople is how many people `dsar dev` seeds into the demo
// organisation.
const DemoPeople = 50

// UseDemoOrganisation prepares the demo organisation's database, seeded
// with people persons, and uses its data map. The database is the one
// DSAR_DEMO_DSN names, else a SQLite file in the data directory, separate
// from dsar's own.
func (a *App) UseDemoOrganisation(ctx context.Context, people int) error {
	dsn := os.Getenv(demo.DSNEnv)
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(a.Config.DataDir, devDemoFile)
	}
	if os.Getenv(demo.ArchiveEnv) == "" {
		os.Setenv(demo.ArchiveEnv, filepath.Join(a.Config.DataDir, devDemoBackups))
	}
	m, err := demo.Prepare(ctx, dsn, people, nil)
	if err != nil {
		return fmt.Errorf("demo organisation: %w (a demo database from an older dsar may need deleting: %s)", err, dsn)
	}
	if err := a.UseDataMap(ctx, m); err != nil {
		return err
	}
	return a.seedDemoBackups(ctx, m)
}

// devDemoBackups is the demo shop's backups folder in the data directory.
const devDemoBackups = "shop-backups"

// seedDemoBackups gives a fresh demo two nightly backups, a week apart,
// so access requests show archived rows and deletions rewrite them.
func (a *App) seedDemoBackups(ctx context.Context, m *datamap.Map) error {
	ar := m.Archives[0]
	dir, err := ar.Dir()
	if err != nil {
		return err
	}
	if snaps, err := archive.List(dir); err != nil || len(snaps) > 0 {
		return err
	}
	conns, err := a.Systems.Connectors()
	if err != nil {
		return err
	}
	for _, conn := range conns {
		c, ok := conn.(*datamap.SQLConnector)
		if !ok || c.System().Name != ar.System {
			continue
		}
		for _, age := range []time.Duration{8 * 24 * time.Hour, 24 * time.Hour} {
			if _, err := archive.Take(ctx, c, dir, a.Now().Add(-age).Truncate(24*time.Hour).Add(3*time.Hour)); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoRequests give a fresh `dsar dev` something to look at: requests of
// every type from fictional people, some already verified and waiting for
// an officer's decision.
var demoRequests = []struct {
	request  domain.NewRequest
	verified bool
	// age backdates the request, so the demo shows a clock running out:
	// Alan's deletion arrived 28 days ago and is due in two days, which
	// sends the officers their two-day reminder at once.
	age time.Duration
}{
	{domain.NewRequest{Type: domain.TypeAccess, Name: "Ada Lovelace", Email: "ada@example.com", Details: "Everything you hold about me, please."}, true, 0},
	{domain.NewRequest{Type: domain.TypeDeletion, Name: "Alan Turing", Email: "alan@example.com", Details: "Close my account and delete my data."}, true, 28 * 24 * time.Hour},
	{domain.NewRequest{Type: domain.TypeCorrection, Name: "Grace Hopper", Email: "grace@example.com",
		Corrections: []domain.Correction{{Field: "street", Value: "1 Navy Yard"}, {Field: "city", Value: "Arlington"}}}, false, 0},
	{domain.NewRequest{Type: domain.TypeExport, Name: "Katherine Johnson", Email: "katherine@example.com", Regime: deadline.GDPR}, false, 0},
}

// seedDemoRequests submits the demo requests into an empty dev database,
// through the same intake as the form, and verifies some of them as the
// requester's link would.
func (a *App) seedDemoRequests(ctx context.Context) (int, error) {
	existing, err := a.Store.ListRequests(ctx, store.RequestFilter{Limit: 1})
	if err != nil || len(existing) > 0 {
		return 0, err
	}
	for _, d := range demoRequests {
		receipt, err := a.Office.SubmitReceived(ctx, d.request, a.Now().Add(-d.age))
		if err != nil {
			return 0, err
		}
		if !d.verified {
			continue
		}
		if err := a.Store.MarkVerified(ctx, receipt.Request.ID, store.ActorRequester, a.Now()); err != nil {
			return 0, err
		}
		// A lost signal is resent in the background.
		a.Office.TellVerified(ctx, receipt.Request.ID, store.ActorRequester)
	}
	return len(demoRequests), nil
}

// devCredentials are the first officer's, shown at every dev start.
type devCredentials struct {
	Email, Password, Token string
}

// devOfficer creates the first officer on a fresh database and keeps the
// credentials in the data directory (dev only; production creates officers
// with `dsar officer add`). Later runs read them back to print them again.
func (a *App) devOfficer(ctx context.Context) (devCredentials, error) {
	path := filepath.Join(a.Config.DataDir, devCredentialsFile)
	if _, err := a.Store.OfficerByEmail(ctx, DevOfficerEmail); err == nil {
		b, err := files.Read(path, files.ManifestMax)
		if err != nil {
			return devCredentials{Email: DevOfficerEmail}, nil // created elsewhere; nothing to show
		}
		c := parseDevCredentials(string(b))
		if _, err := a.Store.OfficerByTokenHash(ctx, auth.HashToken(c.Token), a.Now()); errors.Is(err, store.ErrNotFound) {
			// The token expired: a fresh one, kept for the next start.
			o, err := a.Store.OfficerByEmail(ctx, DevOfficerEmail)
			if err != nil {
				return devCredentials{}, err
			}
			if c.Token, err = RotateAPIToken(ctx, a.Store, o.ID, a.Now()); err != nil {
				return devCredentials{}, err
			}
			return c, writeDevCredentials(path, c)
		}
		return c, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return devCredentials{}, err
	}
	password, err := randomPassword()
	if err != nil {
		return devCredentials{}, err
	}
	c := devCredentials{Email: DevOfficerEmail, Password: password}
	if c.Token, err = CreateOfficer(ctx, a.Store, c.Email, store.RoleAdmin, password, a.Now()); err != nil {
		return devCredentials{}, err
	}
	return c, writeDevCredentials(path, c)
}

func writeDevCredentials(path string, c devCredentials) error {
	body := fmt.Sprintf("email=%s\npassword=%s\ntoken=%s\n", c.Email, c.Password, c.Token)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("writing dev credentials: %w", err)
	}
	return nil
}

func parseDevCredentials(s string) devCredentials {
	var c devCredentials
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "email":
			c.Email = v
		case "password":
			c.Password = v
		case "token":
			c.Token = v
		}
	}
	return c
}

// CreateOfficer adds an officer with a password and returns a new API
// token for them.
func CreateOfficer(ctx context.Context, st *store.Store, email string, role store.Role, password string, now time.Time) (string, error) {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", err
	}
	o := &store.Officer{Email: email, Role: role, PasswordHash: hash, CreatedAt: now}
	if err := st.CreateOfficer(ctx, o); err != nil {
		return "", err
	}
	return NewAPIToken(ctx, st, o.ID, now)
}

// NewAPIToken mints an API token for an officer; only its hash is stored.
// It expires after store.APITokenLifetime.
func NewAPIToken(ctx context.Context, st *store.Store, officerID int64, now time.Time) (string, error) {
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	if err := st.AddAPIToken(ctx, &store.APIToken{OfficerID: officerID, Hash: hash, CreatedAt: now}); err != nil {
		return "", err
	}
	return token, nil
}

// RotateAPIToken mints a new API token for an officer and revokes every
// other token of theirs.
func RotateAPIToken(ctx context.Context, st *store.Store, officerID int64, now time.Time) (string, error) {
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	t := &store.APIToken{OfficerID: officerID, Hash: hash, CreatedAt: now}
	if err := st.AddAPIToken(ctx, t); err != nil {
		return "", err
	}
	if err := st.RevokeAPITokens(ctx, officerID, t.ID, now); err != nil {
		return "", err
	}
	return token, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func printDevBanner(out io.Writer, cfg *config.Config, c devCredentials) {
	base := cfg.BaseURL
	mailNote, outbox := "email goes to the outbox below, not to anyone", "  Dev outbox      "+base+"/dev/outbox\n"
	if !cfg.UsesOutbox() {
		mailNote, outbox = "email is sent through SendGrid at "+cfg.SendGridAPIURL, ""
	}
	fmt.Fprintf(out, `
dsar is running (development mode: %[6]s).

  Request form    %[1]s/
  Dashboard       %[1]s/officer/
  Officer API     %[1]s/api/v1/officer/requests   (described at %[1]s/api/v1/openapi.json)
%[7]s  Temporal        %[2]s, namespace %[3]s
  Data            %[4]s
  Demo shop       %[5]s (the organisation whose data the requests are about)

`, base, cfg.TemporalAddress, cfg.TemporalNamespace, cfg.DataDir, demoWhere(cfg), mailNote, outbox)
	if c.Token != "" {
		fmt.Fprintf(out, `First officer (admin), kept in %[5]s:
  email     %[1]s
  password  %[2]s
  API token %[3]s

Try:  curl -H 'Authorization: Bearer %[3]s' %[4]s/api/v1/officer/requests

`, c.Email, c.Password, c.Token, base, filepath.Join(cfg.DataDir, devCredentialsFile))
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop; open requests carry on at the next start.")
}

// demoWhere says where the demo organisation's database is, without
// printing a connection string's password.
func demoWhere(cfg *config.Config) string {
	if cfg.DataMap != "" {
		return "not used: the data map is " + cfg.DataMap
	}
	dsn := os.Getenv(demo.DSNEnv)
	if dsn == "" {
		return filepath.Join(cfg.DataDir, devDemoFile)
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return dsn
}
