package config_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"github.com/dsar-project/dsar/internal/deadline"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/config"
)

// env turns a map into a getenv function, so no test touches the process
// environment.
func env(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

const (
	testSecretKey = "k3y-f0r-t3sts-0nly-0123456789abcdef0123"
	testAPIKey    = "SG.test-api-key-do-not-print.0123456789"
	testDBPass    = "pg-pass-do-not-print"
)

// productionEnv is a complete, valid production configuration.
func productionEnv() map[string]string {
	return map[string]string{
		"DSAR_ADDR":         "0.0.0.0:8080",
		"DSAR_BASE_URL":     "https://privacy.example.com/",
		"DSAR_DATABASE_URL": "postgres://dsar:" + testDBPass + "@db.example.com:5432/dsar?sslmode=require",
		"SENDGRID_API_KEY":  testAPIKey,
		"DSAR_SECRET_KEY":   testSecretKey,
		"DSAR_MAIL_FROM":    "privacy@example.com",
		// Who is asking: every page and email names the notice and the
		// postal address; the privacy email defaults to DSAR_MAIL_FROM.
		"DSAR_PRIVACY_NOTICE_URL": "https://example.com/privacy",
		"DSAR_PRIVACY_ADDRESS":    "Example Organisation, 1 Example Street, 1000 Brussels, Belgium",
		// The access report names the authority people may complain to.
		"DSAR_SUPERVISORY_AUTHORITY":     "Autorité de protection des données",
		"DSAR_SUPERVISORY_AUTHORITY_URL": "https://www.autoriteprotectiondonnees.be",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v, want defaults", err)
	}
	want := config.Config{
		Addr:                "127.0.0.1:8080",
		BaseURL:             "http://127.0.0.1:8080",
		DataDir:             ".dsar",
		DatabaseURL:         "",
		DatabaseMaxConns:    20,
		TemporalAddress:     "127.0.0.1:7233",
		TemporalNamespace:   "default",
		TaskQueue:           "dsar",
		SendGridAPIKey:      "",
		SendGridAPIURL:      "https://api.sendgrid.com",
		MailFrom:            "privacy@example.com",
		MailFromName:        "Privacy team",
		Organisation:        "Example Organisation",
		PrivacyEmail:        "privacy@example.com",
		SecretKey:           "",
		VerifyTTL:           7 * 24 * time.Hour,
		LogLevel:            "info",
		PublicRatePerMinute: 20,
		DownloadTTL:         14 * 24 * time.Hour,
		ReviewBeforeRelease: true,
		OptOutWithin:        2 * 24 * time.Hour,
		Regime:              deadline.Default,
		Location:            time.UTC,
		Reminders:           []time.Duration{7 * 24 * time.Hour, 2 * 24 * time.Hour},
		MonitorInterval:     time.Hour,
		BreachRate:          10000,
		InboundMaxBytes:     10 << 20,
		InboundRate:         5,
		InboundRateTotal:    120,
		AttachmentMaxBytes:  10 << 20,
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Load(empty) =\n  %+v\nwant\n  %+v", *c, want)
	}
	if !c.UsesOutbox() {
		t.Error("UsesOutbox() = false without SENDGRID_API_KEY, want true")
	}
	if got, want := c.SQLitePath(), filepath.Join(".dsar", "dsar.db"); got != want {
		t.Errorf("SQLitePath() = %q, want %q", got, want)
	}
	if got, want := c.TemporalDBPath(), filepath.Join(".dsar", "temporal.db"); got != want {
		t.Errorf("TemporalDBPath() = %q, want %q", got, want)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	m := map[string]string{
		"DSAR_ADDR":                  " 0.0.0.0:9000 ",
		"DSAR_BASE_URL":              "https://privacy.example.com/",
		"DSAR_DATA_DIR":              "/var/lib/dsar",
		"DSAR_DATABASE_URL":          "postgres://dsar@db/dsar",
		"DSAR_DATABASE_MAX_CONNS":    "40",
		"TEMPORAL_ADDRESS":           "temporal.internal:7233",
		"TEMPORAL_NAMESPACE":         "privacy",
		"DSAR_TASK_QUEUE":            "dsar-eu",
		"SENDGRID_API_KEY":           testAPIKey,
		"SENDGRID_API_URL":           "http://127.0.0.1:3030/",
		"DSAR_MAIL_FROM":             "dpo@example.com",
		"DSAR_MAIL_FROM_NAME":        "Data Protection Office",
		"DSAR_ORGANISATION":          "Analytical Engines Ltd",
		"DSAR_PRIVACY_NOTICE_URL":    "https://engines.example/privacy",
		"DSAR_PRIVACY_EMAIL":         "privacy@engines.example",
		"DSAR_PRIVACY_ADDRESS":       "  Analytical Engines Ltd,\n 12 Dorset Street, London  ",
		"DSAR_LOGO":                  writeLogo(t),
		"DSAR_SECRET_KEY":            testSecretKey,
		"DSAR_VERIFY_TTL":            "72h",
		"DSAR_DATAMAP":               "/etc/dsar/datamap.yaml",
		"DSAR_DOWNLOAD_TTL":          "7d",
		"DSAR_OPT_OUT_WITHIN":        "24h",
		"DSAR_REGIME":                "GDPR",
		"DSAR_TIMEZONE":              "Europe/Amsterdam",
		"DSAR_REMINDERS":             "10d, 3d,12h",
		"DSAR_CLOCK_PAUSE":           "gdpr,CCPA",
		"DSAR_MONITOR_INTERVAL":      "15m",
		"DSAR_BREACH_RATE":           "500",
		"DSAR_LOG_LEVEL":             "DEBUG",
		"DSAR_INBOUND_SECRET":        "inbound-secret-0123456789abcdef",
		"DSAR_INBOUND_MAX_MB":        "25",
		"DSAR_INBOUND_RATE":          "3",
		"DSAR_INBOUND_RATE_TOTAL":    "60",
		"DSAR_ATTACHMENT_MAX_MB":     "4",
		"DSAR_REVIEW_BEFORE_RELEASE": "false",
	}
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Addr:                "0.0.0.0:9000", // trimmed
		BaseURL:             "https://privacy.example.com",
		DataDir:             "/var/lib/dsar",
		DatabaseURL:         "postgres://dsar@db/dsar",
		DatabaseMaxConns:    40,
		TemporalAddress:     "temporal.internal:7233",
		TemporalNamespace:   "privacy",
		TaskQueue:           "dsar-eu",
		SendGridAPIKey:      testAPIKey,
		SendGridAPIURL:      "http://127.0.0.1:3030", // trailing slash dropped
		MailFrom:            "dpo@example.com",
		MailFromName:        "Data Protection Office",
		Organisation:        "Analytical Engines Ltd",
		PrivacyNoticeURL:    "https://engines.example/privacy",
		PrivacyEmail:        "privacy@engines.example",
		PrivacyAddress:      "Analytical Engines Ltd, 12 Dorset Street, London", // one line
		LogoFile:            c.LogoFile,
		Logo:                []byte(testPNG),
		LogoType:            "image/png",
		SecretKey:           testSecretKey,
		VerifyTTL:           72 * time.Hour,
		LogLevel:            "debug", // lower-cased
		PublicRatePerMinute: 20,
		DataMap:             "/etc/dsar/datamap.yaml",
		DownloadTTL:         7 * 24 * time.Hour,
		OptOutWithin:        24 * time.Hour,
		Regime:              deadline.GDPR,
		Location:            c.Location, // compared by name below
		Reminders:           []time.Duration{10 * 24 * time.Hour, 3 * 24 * time.Hour, 12 * time.Hour},
		PausingRegimes:      []deadline.Regime{deadline.GDPR, deadline.CCPA},
		MonitorInterval:     15 * time.Minute,
		BreachRate:          500,
		InboundSecret:       "inbound-secret-0123456789abcdef",
		InboundMaxBytes:     25 << 20,
		InboundRate:         3,
		InboundRateTotal:    60,
		AttachmentMaxBytes:  4 << 20,
	}
	if c.Location.String() != "Europe/Amsterdam" {
		t.Errorf("Location = %s, want Europe/Amsterdam", c.Location)
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Load =\n  %+v\nwant\n  %+v", *c, want)
	}
	if c.UsesOutbox() {
		t.Error("UsesOutbox() = true with SENDGRID_API_KEY set, want false")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestRemindersCanBeTurnedOff(t *testing.T) {
	c, err := config.Load(env(map[string]string{"DSAR_REMINDERS": "none"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reminders == nil || len(c.Reminders) != 0 {
		t.Errorf("DSAR_REMINDERS=none gives %#v, want an empty list (nil would mean the defaults)", c.Reminders)
	}
}

func TestLoadBaseURLDefaultsToAddr(t *testing.T) {
	c, err := config.Load(env(map[string]string{"DSAR_ADDR": "127.0.0.1:9999"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://127.0.0.1:9999" {
		t.Errorf("BaseURL = %q, want the listen address as an http URL", c.BaseURL)
	}
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileVariants(t *testing.T) {
	m := map[string]string{
		"DSAR_SECRET_KEY_FILE":   writeSecret(t, testSecretKey+"\n"),
		"SENDGRID_API_KEY_FILE":  writeSecret(t, "  "+testAPIKey+"\n"),
		"DSAR_DATABASE_URL_FILE": writeSecret(t, "postgres://dsar:"+testDBPass+"@db/dsar\n"),
	}
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretKey != testSecretKey {
		t.Errorf("SecretKey from file = %q, want %q (trimmed)", c.SecretKey, testSecretKey)
	}
	if c.SendGridAPIKey != testAPIKey {
		t.Errorf("SendGridAPIKey from file = %q, want %q (trimmed)", c.SendGridAPIKey, testAPIKey)
	}
	if want := "postgres://dsar:" + testDBPass + "@db/dsar"; c.DatabaseURL != want {
		t.Errorf("DatabaseURL from file = %q, want %q", c.DatabaseURL, want)
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-file")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"value and file both set",
			map[string]string{"DSAR_SECRET_KEY": testSecretKey, "DSAR_SECRET_KEY_FILE": writeSecret(t, testSecretKey)},
			[]string{"DSAR_SECRET_KEY and DSAR_SECRET_KEY_FILE are both set"}},
		{"file missing",
			map[string]string{"SENDGRID_API_KEY_FILE": missing},
			[]string{"SENDGRID_API_KEY_FILE:", "no-such-file"}},
		{"ttl not a duration",
			map[string]string{"DSAR_VERIFY_TTL": "7 days"},
			[]string{`DSAR_VERIFY_TTL: "7 days" is not a duration`}},
		{"unknown regime",
			map[string]string{"DSAR_REGIME": "lgpd"},
			[]string{`DSAR_REGIME: unknown regime "lgpd"`}},
		{"unknown time zone",
			map[string]string{"DSAR_TIMEZONE": "Europe/Atlantis"},
			[]string{`DSAR_TIMEZONE: "Europe/Atlantis" is not a time zone name`}},
		{"reminder not a duration",
			map[string]string{"DSAR_REMINDERS": "7d,two days"},
			[]string{`DSAR_REMINDERS: "two days" is not a time before the due date`}},
		{"unknown pausing regime",
			map[string]string{"DSAR_CLOCK_PAUSE": "gdpr,hipaa"},
			[]string{`DSAR_CLOCK_PAUSE: unknown regime "hipaa"`}},
		{"monitor too often",
			map[string]string{"DSAR_MONITOR_INTERVAL": "10s"},
			[]string{"DSAR_MONITOR_INTERVAL: 10s is shorter than one minute"}},
		{"ttl without unit",
			map[string]string{"DSAR_VERIFY_TTL": "168"},
			[]string{"DSAR_VERIFY_TTL:"}},
		{"ttl too short",
			map[string]string{"DSAR_VERIFY_TTL": "30s"},
			[]string{"DSAR_VERIFY_TTL: 30s is shorter than one minute"}},
		{"every problem reported at once",
			map[string]string{
				"DSAR_VERIFY_TTL":      "-1h",
				"DSAR_ADDR":            "127.0.0.1:1",
				"DSAR_ADDR_FILE":       writeSecret(t, "127.0.0.1:2"),
				"DSAR_SECRET_KEY_FILE": missing,
			},
			[]string{"DSAR_VERIFY_TTL:", "DSAR_ADDR and DSAR_ADDR_FILE are both set", "DSAR_SECRET_KEY_FILE:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(tc.env))
			if err == nil {
				t.Fatalf("Load = %+v, nil; want an error", c)
			}
			if c != nil {
				t.Errorf("Load returned a config beside the error: %+v", c)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadDoesNotEchoSecretsInErrors(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"DSAR_SECRET_KEY":      testSecretKey,
		"DSAR_SECRET_KEY_FILE": writeSecret(t, "other-"+testSecretKey),
	}))
	if err == nil {
		t.Fatal("Load with both DSAR_SECRET_KEY and DSAR_SECRET_KEY_FILE succeeded")
	}
	if strings.Contains(err.Error(), testSecretKey) {
		t.Errorf("error reveals the secret key: %q", err)
	}
}

func TestValidateAcceptsProduction(t *testing.T) {
	c, err := config.Load(env(productionEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestValidateNamesEachProblem(t *testing.T) {
	for _, tc := range []struct {
		name     string
		set      map[string]string
		variable string
		message  string
	}{
		{"addr without port", map[string]string{"DSAR_ADDR": "localhost"}, "DSAR_ADDR", "is not host:port"},
		{"base URL without scheme", map[string]string{"DSAR_BASE_URL": "privacy.example.com"}, "DSAR_BASE_URL", "is not an http(s) URL"},
		{"base URL ftp", map[string]string{"DSAR_BASE_URL": "ftp://privacy.example.com"}, "DSAR_BASE_URL", "is not an http(s) URL"},
		{"database URL mysql", map[string]string{"DSAR_DATABASE_URL": "mysql://dsar@db/dsar"}, "DSAR_DATABASE_URL", "must be a postgres:// URL"},
		{"no database connections", map[string]string{"DSAR_DATABASE_MAX_CONNS": "0"}, "DSAR_DATABASE_MAX_CONNS", "at least 1"},
		{"database key=value DSN", map[string]string{"DSAR_DATABASE_URL": "host=db user=dsar"}, "DSAR_DATABASE_URL", "must be a postgres:// URL"},
		{"temporal address", map[string]string{"TEMPORAL_ADDRESS": "temporal"}, "TEMPORAL_ADDRESS", "is not host:port"},
		{"sendgrid URL", map[string]string{"SENDGRID_API_URL": "api.sendgrid.com"}, "SENDGRID_API_URL", "is not an http(s) URL"},
		{"mail from with name", map[string]string{"DSAR_MAIL_FROM": "Privacy <privacy@example.com>"}, "DSAR_MAIL_FROM", "is not a plain email address"},
		{"mail from not an address", map[string]string{"DSAR_MAIL_FROM": "privacy"}, "DSAR_MAIL_FROM", "is not a plain email address"},
		{"secret key missing", map[string]string{"DSAR_SECRET_KEY": ""}, "DSAR_SECRET_KEY", "at least 32 characters"},
		{"secret key short", map[string]string{"DSAR_SECRET_KEY": strings.Repeat("k", 31)}, "DSAR_SECRET_KEY", "at least 32 characters"},
		{"sendgrid key missing", map[string]string{"SENDGRID_API_KEY": ""}, "SENDGRID_API_KEY", "must be set outside `dsar dev`"},
		{"log level", map[string]string{"DSAR_LOG_LEVEL": "verbose"}, "DSAR_LOG_LEVEL", `"verbose" is not one of debug, info, warn, error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := productionEnv()
			for k, v := range tc.set {
				m[k] = v
			}
			c, err := config.Load(env(m))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil with %v", tc.set)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			want := tc.variable + ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Validate() = %q, want it to contain %q and %q", err, want, tc.message)
			}
			// Only the broken setting is reported.
			if n := strings.Count(err.Error(), "\n  "); n != 1 {
				t.Errorf("Validate() reported %d problems, want 1: %q", n, err)
			}
		})
	}
}

func TestValidateEmptyFields(t *testing.T) {
	// Load fills defaults for empty variables, so blank fields can only
	// come from code; Validate still refuses them.
	c, err := config.Load(env(productionEnv()))
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = ""
	c.TemporalNamespace = ""
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil with empty DataDir and TemporalNamespace")
	}
	for _, w := range []string{"DSAR_DATA_DIR: must not be empty", "TEMPORAL_NAMESPACE: must not be empty"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q, want it to contain %q", err, w)
		}
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c, err := config.Load(env(map[string]string{"DSAR_ADDR": "nowhere", "DSAR_LOG_LEVEL": "loud"}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, v := range []string{"DSAR_ADDR:", "DSAR_SECRET_KEY:", "SENDGRID_API_KEY:", "DSAR_LOG_LEVEL:"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("Validate() = %q, want it to name %s", err, v)
		}
	}
}

func TestValidateDevModeAllowsOutbox(t *testing.T) {
	m := productionEnv()
	delete(m, "SENDGRID_API_KEY")
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "SENDGRID_API_KEY") {
		t.Errorf("outside dev, Validate() = %v, want a SENDGRID_API_KEY problem", err)
	}
	c.DevMode = true
	if err := c.Validate(); err != nil {
		t.Errorf("in dev, Validate() = %v, want nil: the outbox replaces SendGrid", err)
	}
	if !c.UsesOutbox() {
		t.Error("UsesOutbox() = false in dev without a key")
	}
	// Dev relaxes only the SendGrid key; a short secret is still refused.
	c.SecretKey = "short"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "DSAR_SECRET_KEY") {
		t.Errorf("in dev with a short secret, Validate() = %v, want a DSAR_SECRET_KEY problem", err)
	}
}

func printed(t *testing.T, m map[string]string) string {
	t.Helper()
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Print(&b)
	return b.String()
}

func TestPrintRedactsSecrets(t *testing.T) {
	out := printed(t, productionEnv())
	for _, secret := range []string{testAPIKey, testSecretKey, testDBPass} {
		if strings.Contains(out, secret) {
			t.Errorf("Print output reveals %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		"SENDGRID_API_KEY=(redacted, sha256:",
		"DSAR_SECRET_KEY=(redacted, sha256:",
		"DSAR_DATABASE_URL=postgres://dsar:REDACTED@db.example.com:5432/dsar?sslmode=require\n",
		"DSAR_BASE_URL=https://privacy.example.com\n",
		"DSAR_VERIFY_TTL=168h0m0s\n",
		"DSAR_MAIL_FROM=privacy@example.com\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
	// One NAME=value line per setting.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 44 {
		t.Errorf("Print wrote %d lines, want 44:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if name, _, ok := strings.Cut(l, "="); !ok || name == "" || strings.ToUpper(name) != name {
			t.Errorf("line %q is not NAME=value", l)
		}
	}
}

func TestPrintFingerprintsDistinguishKeys(t *testing.T) {
	a := productionEnv()
	b := productionEnv()
	b["DSAR_SECRET_KEY"] = "another-" + testSecretKey
	line := func(out string) string {
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "DSAR_SECRET_KEY=") {
				return l
			}
		}
		return ""
	}
	la, la2, lb := line(printed(t, a)), line(printed(t, a)), line(printed(t, b))
	if la == "" || la != la2 {
		t.Errorf("same key printed differently: %q, %q", la, la2)
	}
	if la == lb {
		t.Errorf("different keys printed the same fingerprint: %q", la)
	}
}

func TestPrintUnsetSecrets(t *testing.T) {
	out := printed(t, nil)
	for _, want := range []string{
		"SENDGRID_API_KEY=(unset)\n",
		"DSAR_SECRET_KEY=(unset)\n",
		"DSAR_DATABASE_URL=(unset: embedded SQLite)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
}

// An operator runs `dsar config` before validation, so Print must not leak
// a password in any form the PostgreSQL driver accepts.
func TestPrintRedactsDatabasePasswordInEveryForm(t *testing.T) {
	for _, tc := range []struct {
		name, url string
	}{
		{"userinfo", "postgres://dsar:" + testDBPass + "@db/dsar"},
		{"postgresql scheme", "postgresql://dsar:" + testDBPass + "@db:5432/dsar"},
		{"query parameter", "postgres://dsar@db/dsar?sslmode=require&password=" + testDBPass},
		{"key=value DSN", "host=db user=dsar password=" + testDBPass + " dbname=dsar"},
		{"unparseable", "postgres://dsar:" + testDBPass + "@db:port/%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := printed(t, map[string]string{"DSAR_DATABASE_URL": tc.url})
			if strings.Contains(out, testDBPass) {
				t.Errorf("Print output reveals the database password:\n%s", out)
			}
			if !strings.Contains(out, "DSAR_DATABASE_URL=") {
				t.Errorf("Print output lacks DSAR_DATABASE_URL:\n%s", out)
			}
		})
	}
}

func TestPrintKeepsUsefulDatabaseDetails(t *testing.T) {
	out := printed(t, map[string]string{"DSAR_DATABASE_URL": "postgres://dsar@db.example.com/dsar?sslmode=require&password=" + testDBPass})
	// Host, database and sslmode help an operator debug a connection.
	for _, want := range []string{"db.example.com", "/dsar", "sslmode=require", "password=REDACTED"} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
}

func TestPreviousSecretKeys(t *testing.T) {
	old1, old2 := "an-old-secret-key-retired-in-2026-0123456789", "an-older-secret-key-retired-in-2025-012345678"
	c, err := config.Load(env(map[string]string{"DSAR_SECRET_KEY_PREVIOUS": old1 + ", " + old2}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.PreviousKeys, []string{old1, old2}) {
		t.Errorf("PreviousKeys = %q", c.PreviousKeys)
	}
	var out strings.Builder
	c.Print(&out)
	if strings.Contains(out.String(), old1) || strings.Contains(out.String(), old2) {
		t.Errorf("Print shows a previous key:\n%s", out.String())
	}
	c.PreviousKeys = []string{"short"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "DSAR_SECRET_KEY_PREVIOUS") {
		t.Errorf("a short previous key: %v", err)
	}
}

// testPNG is the smallest PNG header DetectContentType recognises.
const testPNG = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"

func writeLogo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(p, []byte(testPNG), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogo(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	svg := write("logo.svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`))
	c, err := config.Load(env(map[string]string{"DSAR_LOGO": svg}))
	if err != nil || c.LogoType != "image/svg+xml" {
		t.Errorf("an SVG logo: %v, type %q", err, c.LogoType)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"too large":    {write("big.png", append([]byte(testPNG), make([]byte, config.LogoMax)...)), "larger than 256 KiB"},
		"not an image": {write("logo.txt", []byte("hello")), "not one of image/png"},
		"missing":      {filepath.Join(dir, "none.png"), "DSAR_LOGO"},
	} {
		_, err := config.Load(env(map[string]string{"DSAR_LOGO": tc.path}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want an error with %q", name, err, tc.want)
		}
	}
}

func TestValidateWarnsWithoutWhoIsAsking(t *testing.T) {
	for _, name := range []string{"DSAR_PRIVACY_NOTICE_URL", "DSAR_PRIVACY_ADDRESS", "DSAR_SUPERVISORY_AUTHORITY"} {
		e := productionEnv()
		delete(e, name)
		if name == "DSAR_SUPERVISORY_AUTHORITY" {
			delete(e, "DSAR_SUPERVISORY_AUTHORITY_URL")
		}
		c, err := config.Load(env(e))
		if err != nil {
			t.Fatal(err)
		}
		// A deployment upgraded from before these existed keeps running,
		// and is told what to add.
		if err := c.Validate(); err != nil {
			t.Errorf("without %s: Validate() = %v", name, err)
		}
		if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, name) {
			t.Errorf("without %s: Warnings() = %q", name, w)
		}
		c.DevMode = true
		if err := c.Validate(); err != nil || len(c.Warnings()) != 0 {
			t.Errorf("without %s under dsar dev: Validate() = %v, Warnings() = %q", name, err, c.Warnings())
		}
	}
	e := productionEnv()
	e["DSAR_PRIVACY_NOTICE_URL"] = "example.com/privacy"
	e["DSAR_PRIVACY_EMAIL"] = "Privacy <dpo@example.com>"
	e["DSAR_SUPERVISORY_AUTHORITY_URL"] = "javascript:alert(1)"
	c, err := config.Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, w := range []string{"DSAR_PRIVACY_NOTICE_URL: \"example.com/privacy\"", "DSAR_PRIVACY_EMAIL", "DSAR_SUPERVISORY_AUTHORITY_URL: \"javascript:alert(1)\" is not an http(s) URL"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want %q", err, w)
		}
	}
}

func TestInboundAndEventWebhookSettings(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for _, text := range []string{b64, pemText} {
		m := productionEnv()
		m["SENDGRID_WEBHOOK_PUBLIC_KEY"] = text
		m["DSAR_INBOUND_SECRET"] = "a-long-enough-inbound-secret-0123"
		c, err := config.Load(env(m))
		if err != nil {
			t.Fatal(err)
		}
		if c.EventWebhookKey == nil || !c.EventWebhookKey.Equal(&key.PublicKey) {
			t.Errorf("the key %.20q… was not read", text)
		}
		var b bytes.Buffer
		c.Print(&b)
		if strings.Contains(b.String(), "a-long-enough-inbound-secret") {
			t.Errorf("Print reveals the inbound secret:\n%s", b.String())
		}
	}
	for name, value := range map[string]string{
		"SENDGRID_WEBHOOK_PUBLIC_KEY": "not a key",
		"DSAR_INBOUND_MAX_MB":         "lots",
	} {
		m := productionEnv()
		m[name] = value
		if _, err := config.Load(env(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: Load() = %v, want a problem naming it", name, value, err)
		}
	}
	for _, secret := range []string{"short", "has/a/slash-in-it-0123456789abcdef"} {
		m := productionEnv()
		m["DSAR_INBOUND_SECRET"] = secret
		c, err := config.Load(env(m))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "DSAR_INBOUND_SECRET") {
			t.Errorf("DSAR_INBOUND_SECRET=%q: Validate() = %v, want a problem naming it", secret, err)
		}
	}
}

func TestReviewBeforeReleaseIsOnUnlessTurnedOff(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "on": true, "false": false, "0": false, "off": false} {
		c, err := config.Load(func(k string) string {
			if k == "DSAR_REVIEW_BEFORE_RELEASE" {
				return v
			}
			return ""
		})
		if err != nil || c.ReviewBeforeRelease != want {
			t.Errorf("DSAR_REVIEW_BEFORE_RELEASE=%q: %v, %v; want %v", v, c, err, want)
		}
	}
	_, err := config.Load(func(k string) string {
		if k == "DSAR_REVIEW_BEFORE_RELEASE" {
			return "maybe"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), `DSAR_REVIEW_BEFORE_RELEASE: "maybe" is not true or false`) {
		t.Errorf("a bad value: %v", err)
	}
}

func TestPhoneRegion(t *testing.T) {
	c, err := config.Load(env(map[string]string{"DSAR_PHONE_REGION": "nl"}))
	if err != nil || c.PhoneRegion != "NL" {
		t.Fatalf("DSAR_PHONE_REGION=nl: %q, %v; want NL", c.PhoneRegion, err)
	}
	if c, err := config.Load(env(nil)); err != nil || c.PhoneRegion != "" {
		t.Errorf("no DSAR_PHONE_REGION: %q, %v; want empty (international form only)", c.PhoneRegion, err)
	}
	_, err = config.Load(env(map[string]string{"DSAR_PHONE_REGION": "Narnia"}))
	if err == nil || !strings.Contains(err.Error(), `DSAR_PHONE_REGION: "NARNIA" is not a region`) {
		t.Errorf("DSAR_PHONE_REGION=Narnia: %v; want it refused", err)
	}
}
