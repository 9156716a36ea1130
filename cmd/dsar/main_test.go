package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
		"DSAR_DATA_DIR":     dir,
		"DSAR_DATABASE_URL": "",
		"DSAR_SECRET_KEY":   "a-test-secret-key-of-enough-length-0123",
		"SENDGRID_API_KEY":  "SG.secret-sendgrid-key",
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
	for _, tok := range []string{token, second} {
		o, err := st.OfficerByTokenHash(context.Background(), auth.HashToken(tok))
		if err != nil || o.Email != "ada@example.org" || o.Role != store.RoleAdmin {
			t.Errorf("token resolves to %+v, %v", o, err)
		}
	}
	o, _ := st.OfficerByEmail(context.Background(), "ada@example.org")
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
	c, err := datamap.Connect(m.System("shop"))
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
