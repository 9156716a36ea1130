package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// env points dsar at a fresh embedded database with valid production
// settings.
func env(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"DSAR_DATA_DIR":           dir,
		"DSAR_DATABASE_URL":       "",
		"DSAR_SECRET_KEY":         "a-test-secret-key-of-enough-length-0123",
		"SENDGRID_API_KEY":        "SG.secret-sendgrid-key",
		"DSAR_PRIVACY_NOTICE_URL": "https://example.org/privacy",
		"DSAR_PRIVACY_ADDRESS":    "Example Organisation, 1 Example Street, Brussels",
	} {
		t.Setenv(k, v)
	}
	return dir
}

func dsar(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestConfigRedactsSecrets(t *testing.T) {
	env(t)
	t.Setenv("DSAR_DATABASE_URL", "postgres://dsar:hunter2-password@db:5432/dsar")
	out, _, err := dsar(t, "", "config")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2-password", "a-test-secret-key", "SG.secret-sendgrid-key"} {
		if strings.Contains(out, secret) {
			t.Errorf("config printed %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"DSAR_ADDR=127.0.0.1:8080", "DSAR_VERIFY_TTL=168h0m0s", "DSAR_DATABASE_URL=postgres://dsar:REDACTED@db:5432/dsar"} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
}

func TestInvalidConfigStopsWithEveryProblem(t *testing.T) {
	env(t)
	t.Setenv("DSAR_SECRET_KEY", "short")
	t.Setenv("DSAR_VERIFY_TTL", "a week")
	_, _, err := dsar(t, "", "migrate")
	if err == nil || !strings.Contains(err.Error(), "DSAR_VERIFY_TTL") {
		t.Fatalf("err = %v", err)
	}
	t.Setenv("DSAR_VERIFY_TTL", "")
	t.Setenv("SENDGRID_API_KEY", "")
	_, _, err = dsar(t, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "DSAR_SECRET_KEY") || !strings.Contains(err.Error(), "SENDGRID_API_KEY") {
		t.Errorf("err = %v, want both problems named", err)
	}
}

func TestOfficerAddAndToken(t *testing.T) {
	dir := env(t)
	if _, _, err := dsar(t, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dsar(t, "short\n", "officer", "add", "ada@example.org"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v", err)
	}
	if _, _, err := dsar(t, "long enough password\n", "officer", "add", "-role", "boss", "ada@example.org"); err == nil || !strings.Contains(err.Error(), "boss") {
		t.Errorf("bad role: %v", err)
	}
	out, _, err := dsar(t, "long enough password\n", "officer", "add", "--email", "Ada@Example.org", "--role", "admin")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out[strings.LastIndex(out, ":")+1:])
	if !auth.ValidTokenShape(token) {
		t.Fatalf("no token in %q", out)
	}
	if _, _, err := dsar(t, "long enough password\n", "officer", "add", "ada@example.org"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate officer: %v", err)
	}
	out, _, err = dsar(t, "", "officer", "token", "ada@example.org")
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimSpace(out)
	if !auth.ValidTokenShape(second) || second == token {
		t.Errorf("second token %q", second)
	}
	if _, _, err := dsar(t, "long enough password\n", "officer", "add", "--email", "not an address"); err == nil || !strings.Contains(err.Error(), "not an email address") {
		t.Errorf("bad address: %v", err)
	}
	if _, _, err := dsar(t, "", "officer", "token", "nobody@example.org"); err == nil || !strings.Contains(err.Error(), "no officer") {
		t.Errorf("unknown officer: %v", err)
	}

	st, err := store.Open(context.Background(), "", dir+"/dsar.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.OfficerByTokenHash(context.Background(), auth.HashToken(second), time.Now())
	if err != nil || o.Email != "ada@example.org" || o.Role != store.RoleAdmin {
		t.Errorf("the new token resolves to %+v, %v", o, err)
	}
	if _, err := st.OfficerByTokenHash(context.Background(), auth.HashToken(token), time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the token before `officer token` still works: %v", err)
	}
	if _, err := st.OfficerByTokenHash(context.Background(), auth.HashToken(second), time.Now().Add(store.APITokenLifetime+time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token past its lifetime still works: %v", err)
	}
	o, _ = st.OfficerByEmail(context.Background(), "ada@example.org")
	if err := auth.CheckPassword(o.PasswordHash, "long enough password"); err != nil {
		t.Errorf("the password does not check: %v", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	env(t)
	_, errOut, err := dsar(t, "", "launch")
	if err == nil || !strings.Contains(errOut, "Usage:") {
		t.Errorf("err %v, stderr %q", err, errOut)
	}
}

func TestHealthProbe(t *testing.T) {
	env(t)
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"database":"ok","temporal":"ok"}`))
	}))
	defer srv.Close()
	t.Setenv("DSAR_ADDR", strings.TrimPrefix(srv.URL, "http://"))
	out, _, err := dsar(t, "", "health")
	if err != nil || !strings.Contains(out, "200") {
		t.Errorf("ready: %q, %v", out, err)
	}
	ready.Store(false)
	if _, _, err := dsar(t, "", "health", srv.URL+"/readyz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not ready: %v", err)
	}
}

// TestDatamapScanAndCheck: seed the demo organisation, draft a map of it,
// check the draft, and see a broken map refused with its line.
func TestDatamapScanAndCheck(t *testing.T) {
	dir := env(t)
	dsn := "sqlite:" + filepath.Join(dir, "shop.db")
	out, _, err := dsar(t, "", "demo", "seed", "--subjects", "20", "--dsn", dsn)
	if err != nil || !strings.Contains(out, "holds 20 people") {
		t.Fatalf("demo seed: %q, %v", out, err)
	}
	draft, _, err := dsar(t, "", "datamap", "scan", "--dsn", dsn, "--system", "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dsn_env: DSAR_SHOP_DSN", "- name: customers", "email: user.contact.email   # review", "customer_id: customers.id"} {
		if !strings.Contains(draft, want) {
			t.Errorf("draft lacks %q:\n%s", want, draft)
		}
	}
	file := filepath.Join(dir, "datamap.yaml")
	if err := os.WriteFile(file, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSAR_SHOP_DSN", dsn)
	out, _, err = dsar(t, "", "datamap", "check", file)
	if err != nil || !strings.Contains(out, "9 tables; matches the live databases") {
		t.Errorf("check of the draft: %q, %v", out, err)
	}

	broken := strings.Replace(draft, "- name: invoices", "- name: invoicez", 1)
	if err := os.WriteFile(file, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(broken[:strings.Index(broken, "- name: invoicez")], "\n")
	_, _, err = dsar(t, "", "datamap", "check", file)
	if want := fmt.Sprintf("datamap.yaml:%d: table shop.invoicez does not exist in the database", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("check of a broken map: %v, want %q", err, want)
	}
	if _, _, err := dsar(t, "", "datamap", "scan"); err == nil || !strings.Contains(err.Error(), "--dsn") {
		t.Errorf("scan without --dsn: %v", err)
	}
}

func TestDeadlineForEachRegime(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--regime", "default", "--received", "2026-05-04T09:00:00Z"},
			`{"due_at":"2026-06-03T09:00:00Z","extended_due_at":"2026-07-03T09:00:00Z","ack_due_at":null,"extension_notice_by":"2026-06-03T09:00:00Z"}`},
		{[]string{"--regime", "gdpr", "--received", "2026-01-31T10:00:00Z", "--extended"},
			`{"due_at":"2026-04-30T10:00:00Z","extended_due_at":"2026-04-30T10:00:00Z","ack_due_at":null,"extension_notice_by":"2026-02-28T10:00:00Z"}`},
		{[]string{"--regime", "ccpa", "--received", "2026-11-20T15:00:00-05:00", "--tz", "America/New_York"},
			`{"due_at":"2027-01-04T15:00:00-05:00","extended_due_at":"2027-02-18T15:00:00-05:00","ack_due_at":"2026-12-04T15:00:00-05:00","extension_notice_by":"2027-01-04T15:00:00-05:00"}`},
	} {
		out, _, err := dsar(t, "", append([]string{"deadline"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := strings.Join(strings.Fields(out), ""); got != c.want {
			t.Errorf("dsar deadline %v\n got %s\nwant %s", c.args, got, c.want)
		}
	}
	for _, bad := range [][]string{
		{"--regime", "lgpd", "--received", "2026-05-04T09:00:00Z"},
		{"--regime", "gdpr"},
		{"--regime", "gdpr", "--received", "4 May 2026"},
		{"--regime", "gdpr", "--received", "2026-05-04T09:00:00Z", "--tz", "Mars/Olympus"},
	} {
		if _, _, err := dsar(t, "", append([]string{"deadline"}, bad...)...); err == nil {
			t.Errorf("dsar deadline %v succeeded", bad)
		}
	}
}

func TestArchiveSnapshotAndRestoreForgetsTheErased(t *testing.T) {
	dir := env(t)
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(dir, "shop.db")
	if _, _, err := dsar(t, "", "demo", "seed", "--subjects", "20", "--dsn", dsn); err != nil {
		t.Fatal(err)
	}
	mapYAML, _, err := dsar(t, "", "demo", "datamap")
	if err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(dir, "datamap.yaml")
	if err := os.WriteFile(mapFile, []byte(mapYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSAR_DATAMAP", mapFile)
	t.Setenv(demo.DSNEnv, dsn)
	t.Setenv(demo.ArchiveEnv, filepath.Join(dir, "backups"))

	out, _, err := dsar(t, "", "archive", "snapshot")
	if err != nil || !strings.Contains(out, "snapshot ") {
		t.Fatalf("snapshot: %q, %v", out, err)
	}
	snaps, err := archive.List(filepath.Join(dir, "backups"))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v, %v", snaps, err)
	}

	// Person 3 is erased after the backup; dsar keeps their tombstones.
	m, err := datamap.LoadFile(mapFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := datamap.ConnectSQL(m.System("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	person := demo.PersonAt(3)
	erased, err := c.Erase(ctx, datamap.Identities{"email": {person.Email}}, datamap.Rules{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, "", filepath.Join(dir, "dsar.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := export.NewSealer(os.Getenv("DSAR_SECRET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddTombstones(ctx, archive.Tombstones("DSR-1", "shop", person.Email, erased.Gone, sealer.Hash, time.Now())); err != nil {
		t.Fatal(err)
	}
	st.Close()

	target := "sqlite:" + filepath.Join(dir, "restored.db")
	db, kind, err := datamap.OpenSQL(target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := demo.CreateSchema(ctx, db, kind); err != nil {
		t.Fatal(err)
	}
	out, _, err = dsar(t, "", "archive", "restore", "--snapshot", snaps[0].Dir, "--into", target)
	if err != nil || !strings.Contains(out, "forgot 1 erased people") || !strings.Contains(out, "customers                    19 rows") {
		t.Fatalf("restore: %q, %v", out, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM customers WHERE email = ?`, person.Email).Scan(&n); err != nil || n != 0 {
		t.Errorf("the erased person came back with the restore (%d rows, %v)", n, err)
	}
	if _, _, err := dsar(t, "", "archive", "restore", "--snapshot", snaps[0].Dir); err == nil || !strings.Contains(err.Error(), "--into") {
		t.Errorf("restore without --into: %v", err)
	}
	if _, _, err := dsar(t, "", "archive", "snapshot", "--archive", "nightly"); err == nil || !strings.Contains(err.Error(), `no archive "nightly"`) {
		t.Errorf("an unknown archive: %v", err)
	}
}

// runMainEnv, set, makes the test binary run dsar's main instead of the
// tests, so that tests see real exit statuses in an environment of their
// choosing.
const runMainEnv = "DSAR_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Unsetenv(runMainEnv)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dsarProcess starts dsar as a process in dir with only the environment
// env; wait for it with cmd.Wait.
func dsarProcess(t *testing.T, dir string, env []string, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd = exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{runMainEnv + "=1"}, env...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, stderr
}

// commands is every command and subcommand, as typed.
var commands = [][]string{
	{"dev"}, {"serve"}, {"worker"}, {"migrate"}, {"config"}, {"health"},
	{"officer"}, {"officer", "add"}, {"officer", "token"},
	{"datamap"}, {"datamap", "scan"}, {"datamap", "check"},
	{"demo"}, {"demo", "seed"}, {"demo", "datamap"},
	{"archive"}, {"archive", "snapshot"}, {"archive", "restore"},
	{"deadline"},
	{"audit"}, {"audit", "verify"},
	{"temporal-server"},
}

// TestEveryCommandAnswersHelpWithoutConfiguration asks every command for
// help in each way, with nothing in the environment and an empty working
// directory: each prints its usage on stdout and exits 0, touching
// nothing.
func TestEveryCommandAnswersHelpWithoutConfiguration(t *testing.T) {
	// Every command the top-level usage lists is in the table.
	known := map[string]bool{}
	for _, c := range commands {
		known[strings.Join(c, " ")] = true
	}
	for _, line := range strings.Split(usage, "\n") {
		if !strings.HasPrefix(line, "  dsar ") {
			continue
		}
		f := strings.Fields(line)
		name := f[1]
		if len(f) > 2 && known[f[1]+" "+f[2]] {
			name += " " + f[2]
		}
		if !known[name] {
			t.Errorf("the usage lists `dsar %s`, which this test does not ask for help", name)
		}
	}

	cases := [][]string{{"help"}, {"-h"}, {"--help"}}
	for _, c := range commands {
		for _, ask := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
			cases = append(cases, append(slices.Clone(c), ask...))
		}
		cases = append(cases, append([]string{"help"}, c...))
	}
	for _, args := range cases {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd, stdout, stderr := dsarProcess(t, dir, nil, args...)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("dsar %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr)
			}
			var name []string
			for _, a := range args {
				if !isHelp(a) {
					name = append(name, a)
				}
			}
			out := stdout.String()
			if want := "Usage: dsar " + strings.Join(name, " "); len(name) > 0 && !strings.HasPrefix(out, want) {
				t.Errorf("stdout does not start with %q:\n%s", want, out)
			}
			if len(name) == 0 && out != usage {
				t.Errorf("stdout is not the usage:\n%s", out)
			}
			if len(name) > 0 && !strings.Contains(out, "\nEnvironment") {
				t.Errorf("the help does not say what environment the command reads:\n%s", out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("asking for help left %v in the working directory", entries)
			}
		})
	}
}

// TestHelpShowsFlagsWithDefaults: a command's help lists its flags with
// their defaults.
func TestHelpShowsFlagsWithDefaults(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"officer", "add"}, []string{"-email", "-role", `(default "officer")`, "stdin"}},
		{[]string{"officer", "token"}, []string{"-email"}},
		{[]string{"datamap", "scan"}, []string{"-dsn", "-dsn-env", "-system", `(default "main")`}},
		{[]string{"datamap", "check"}, []string{"DSAR_DATAMAP", "[FILE]"}},
		{[]string{"demo", "seed"}, []string{"-subjects", "(default 50)", "-dsn", "DSAR_DEMO_DSN"}},
		{[]string{"archive", "snapshot"}, []string{"-archive", "DSAR_DATAMAP"}},
		{[]string{"archive", "restore"}, []string{"-snapshot", "-into", "-archive", "DSAR_DATAMAP", "DSAR_SECRET_KEY"}},
		{[]string{"deadline"}, []string{"-received", "-regime", `(default "default")`, "-tz", `(default "UTC")`, "-extended"}},
		{[]string{"serve"}, []string{"DSAR_SECRET_KEY", "SENDGRID_API_KEY", "DSAR_DATABASE_URL", "TEMPORAL_ADDRESS"}},
		{[]string{"health"}, []string{"[URL]", "DSAR_ADDR"}},
		{[]string{"audit", "verify"}, []string{"-anchor SEQ:MAC", "DSAR_SECRET_KEY", "DSAR_SECRET_KEY_PREVIOUS", "DSAR_DATABASE_URL"}},
	} {
		out, _, err := dsar(t, "", append(c.args, "--help")...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("dsar %s --help lacks %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
		if strings.Contains(out, "-role") && c.args[1] == "token" {
			t.Errorf("officer token offers -role, which it does not use:\n%s", out)
		}
	}
}

// TestUsageErrorsAreOneLine: a wrong flag, argument or subcommand is
// refused with an error naming the command, before any configuration is
// read.
func TestUsageErrorsAreOneLine(t *testing.T) {
	t.Setenv("DSAR_VERIFY_TTL", "not a duration") // configuration would fail
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deadline", "--bogus"}, "deadline: flag provided but not defined: -bogus (see `dsar deadline --help`)"},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"datamap", "check", "a.yaml", "b.yaml"}, `datamap check: unexpected argument "b.yaml"`},
		{[]string{"datamap", "frob"}, `datamap: unknown subcommand "frob"`},
		{[]string{"officer", "promote"}, `officer: unknown subcommand "promote"`},
		{[]string{"archive"}, "archive: say which subcommand"},
		{[]string{"audit", "frob"}, `audit: unknown subcommand "frob"`},
		{[]string{"audit", "verify", "--anchor", "x"}, "audit verify: invalid value"},
		{[]string{"officer", "add", "--email", "not an address"}, "not an email address"},
	} {
		_, _, err := dsar(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("dsar %s: %v, want one line with %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestDeadlineRefusesDatesOutOfRange: a date that is malformed or out of
// range is one line saying what is wrong and what is expected, never Go's
// own error.
func TestDeadlineRefusesDatesOutOfRange(t *testing.T) {
	for _, c := range []struct{ received, want string }{
		{"9999-12-31T00:00:00Z", "year 9999 is out of range; give a time in the years 1970 to 2999"},
		{"0001-01-01T00:00:00Z", "year 1 is out of range"},
		{"1969-12-31T23:59:59Z", "year 1969 is out of range"},
		{"3000-01-01T00:00:00+01:00", "year 3000 is out of range"},
		{"2026-02-30T09:00:00Z", "day out of range; give an RFC 3339 time such as 2026-05-04T09:00:00Z"},
		{"2026-13-01T09:00:00Z", "month out of range; give an RFC 3339 time"},
		{"4 May 2026", "not in the expected format; give an RFC 3339 time such as 2026-05-04T09:00:00Z"},
		{"2026-05-04", "not in the expected format"},
		{"2026-05-04T09:00:00", "not in the expected format"},
	} {
		out, _, err := dsar(t, "", "deadline", "--regime", "gdpr", "--received", c.received)
		if err == nil || out != "" {
			t.Errorf("--received %s: printed %q, err %v", c.received, out, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "parsing time") || strings.Contains(msg, "MarshalJSON") {
			t.Errorf("--received %s: %q, want one line with %q", c.received, msg, c.want)
		}
	}
	// The ends of the range work, with the longest extension.
	for _, received := range []string{"1970-01-01T00:00:00Z", "2999-12-31T23:59:59-12:00"} {
		if _, _, err := dsar(t, "", "deadline", "--regime", "gdpr", "--received", received, "--extended", "--tz", "Pacific/Kiritimati"); err != nil {
			t.Errorf("--received %s: %v", received, err)
		}
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadPasswordIsBounded: the password is read from stdin with a limit,
// and one too long is refused, not cut.
func TestReadPasswordIsBounded(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{"long enough password\n", "long enough password", ""},
		{"long enough password\r\nsecond line\n", "long enough password", ""},
		{"long enough password", "long enough password", ""},
		{strings.Repeat("p", maxPasswordLen) + "\r\n", strings.Repeat("p", maxPasswordLen), ""},
		{strings.Repeat("p", maxPasswordLen+1) + "\n", "", "longer than 1024 bytes"},
		{"short\n", "", "at least 12"},
	} {
		got, err := readPassword(strings.NewReader(c.in))
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("readPassword(%.30q...) = %.30q, %v; want %.30q, %q", c.in, got, err, c.want, c.err)
		}
	}
	huge := &countingReader{r: io.LimitReader(neverEnding('p'), 1<<30)}
	if _, err := readPassword(huge); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a gigabyte without a line end: %v", err)
	}
	if huge.n > maxPasswordLen+2 {
		t.Errorf("readPassword read %d bytes, more than a password and its line end", huge.n)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestDatamapCheckStopsOnSignal: a check waiting on a database that never
// answers ends promptly on SIGTERM or SIGINT, with a non-zero status.
func TestDatamapCheckStopsOnSignal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() { // accept connections and never answer them
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	dir := t.TempDir()
	file := filepath.Join(dir, "datamap.yaml")
	const m = `version: 1
systems:
  - name: shop
    kind: postgres
    dsn_env: DSAR_SHOP_DSN
    tables:
      - name: customers
        primary_key: id
        identities:
          email: email
        columns:
          email: user.contact.email
        erase: delete
`
	if err := os.WriteFile(file, []byte(m), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DSAR_SHOP_DSN=postgres://dsar:secret@" + ln.Addr().String() + "/shop?sslmode=disable&connect_timeout=60"}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd, _, stderr := dsarProcess(t, dir, env, "datamap", "check", file)
		select { // the check is waiting on the database
		case <-accepted:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("datamap check never reached the database; stderr %q", stderr)
		}
		start := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%v: exit status 0 for an interrupted check", sig)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("%v: stderr %q", sig, stderr)
			}
			t.Logf("%v: stopped in %v", sig, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v: datamap check still running 10s after the signal; stderr %q", sig, stderr)
		}
	}
}

func TestOfficerResetTOTP(t *testing.T) {
	dir := env(t)
	if _, _, err := dsar(t, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dsar(t, "long enough password\n", "officer", "add", "--email", "ada@example.org", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dsar(t, "", "officer", "reset-totp", "ada@example.org"); err == nil || !strings.Contains(err.Error(), "has no two-factor") {
		t.Errorf("reset without two-factor: %v", err)
	}
	if _, _, err := dsar(t, "", "officer", "reset-totp", "nobody@example.org"); err == nil || !strings.Contains(err.Error(), "no officer") {
		t.Errorf("reset of nobody: %v", err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "", dir+"/dsar.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.OfficerByEmail(ctx, "ada@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTOTP(ctx, o.ID, []byte("sealed"), "k", 1, []string{"h"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	out, _, err := dsar(t, "", "officer", "reset-totp", "-email", "ada@example.org")
	if err != nil || !strings.Contains(out, "reset for ada@example.org") {
		t.Fatalf("reset-totp: %q, %v", out, err)
	}
	if o, _ := st.OfficerByEmail(ctx, "ada@example.org"); o.HasTOTP() {
		t.Error("two-factor still on")
	}
	es, err := st.OfficerEvents(ctx, o.ID, 1)
	if err != nil || len(es) != 1 || es[0].Action != store.EventTOTPReset || !strings.Contains(es[0].Actor, "operator") {
		t.Errorf("events = %+v, %v", es, err)
	}
}

func TestConfigChecksTheOrganisationsEmailTemplates(t *testing.T) {
	env(t)
	dir := t.TempDir()
	broken := "{{define \"subject\"}}Confirm{{end}}\n{{define \"body\"}}Hello {{.Nmae}}, {{.Link}} {{.Code}}{{end}}\n"
	if err := os.WriteFile(filepath.Join(dir, "verification.txt"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSAR_MAIL_TEMPLATES", dir)
	out, errOut, err := dsar(t, "", "config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "DSAR_MAIL_TEMPLATES="+dir) {
		t.Errorf("config does not print the templates directory:\n%s", out)
	}
	if !strings.Contains(errOut, "verification.txt:2:") || !strings.Contains(errOut, `"Nmae"`) {
		t.Errorf("config does not name the broken template's file and line:\n%s", errOut)
	}
}
