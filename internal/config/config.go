// Package config reads dsar's settings from the environment into one typed
// struct, validates them at start and prints them with secrets redacted.
package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zone names work in images without a zone database

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/files"
)

// Config is every setting dsar reads. It is built once by Load and passed
// down; nothing reads the environment after start.
type Config struct {
	Addr                string            // DSAR_ADDR: where the web server listens
	BaseURL             string            // DSAR_BASE_URL: public URL used in email links
	DataDir             string            // DSAR_DATA_DIR: embedded databases and files
	DatabaseURL         string            // DSAR_DATABASE_URL: PostgreSQL; empty means embedded SQLite
	DatabaseMaxConns    int               // DSAR_DATABASE_MAX_CONNS: PostgreSQL connections this process opens at most
	TemporalAddress     string            // TEMPORAL_ADDRESS: host:port of the Temporal frontend
	TemporalNamespace   string            // TEMPORAL_NAMESPACE
	TaskQueue           string            // DSAR_TASK_QUEUE
	SendGridAPIKey      string            // SENDGRID_API_KEY: empty means the dev outbox
	SendGridAPIURL      string            // SENDGRID_API_URL: base URL of the SendGrid API
	MailFrom            string            // DSAR_MAIL_FROM: sender address of every email
	MailFromName        string            // DSAR_MAIL_FROM_NAME
	Organisation        string            // DSAR_ORGANISATION: the controller's name in emails and pages
	PrivacyNoticeURL    string            // DSAR_PRIVACY_NOTICE_URL: the organisation's privacy notice, linked from every page and email
	PrivacyEmail        string            // DSAR_PRIVACY_EMAIL: the privacy team's address people can write to; DSAR_MAIL_FROM when unset
	PrivacyAddress      string            // DSAR_PRIVACY_ADDRESS: the privacy team's postal address, on one line
	AuthorityName       string            // DSAR_SUPERVISORY_AUTHORITY: the supervisory authority the access report names for complaints
	AuthorityURL        string            // DSAR_SUPERVISORY_AUTHORITY_URL: its web page
	LogoFile            string            // DSAR_LOGO: an image file shown on pages and in emails; none when unset
	Logo                []byte            // the logo's bytes, read at start
	LogoType            string            // the logo's media type
	MailTemplates       string            // DSAR_MAIL_TEMPLATES: a directory of email templates replacing the built-in ones; none when unset
	SecretKey           string            // DSAR_SECRET_KEY: encrypts Temporal payloads and packages
	PreviousKeys        []string          // DSAR_SECRET_KEY_PREVIOUS: older keys, still accepted for decryption
	VerifyTTL           time.Duration     // DSAR_VERIFY_TTL: how long a verification link is valid
	LogLevel            string            // DSAR_LOG_LEVEL: debug, info, warn, error
	PublicRatePerMinute int               // DSAR_PUBLIC_RATE: public submissions per client per minute; 0 = unlimited
	DataMap             string            // DSAR_DATAMAP: the data map file; empty in dev means the demo organisation's
	DownloadTTL         time.Duration     // DSAR_DOWNLOAD_TTL: how long a requester's package can be downloaded
	ReviewBeforeRelease bool              // DSAR_REVIEW_BEFORE_RELEASE: an officer previews and releases every access or export package
	PhoneRegion         string            // DSAR_PHONE_REGION: the region corrected phone numbers without a country code are read in; empty: they need one
	OptOutWithin        time.Duration     // DSAR_OPT_OUT_WITHIN: how soon an opt-out is due where the law says "without delay"
	Regime              deadline.Regime   // DSAR_REGIME: the legal clock of requests that name none
	Location            *time.Location    // DSAR_TIMEZONE: the zone deadlines count calendar days in
	Reminders           []time.Duration   // DSAR_REMINDERS: how long before a due date officers are reminded
	PausingRegimes      []deadline.Regime // DSAR_CLOCK_PAUSE: regimes whose clock stops while identity is proven
	MonitorInterval     time.Duration     // DSAR_MONITOR_INTERVAL: how often the deadline monitor runs
	BreachRate          int               // DSAR_BREACH_RATE: breach notices sent per second at most; 0 = no cap
	InboundSecret       string            // DSAR_INBOUND_SECRET: guards POST /inbound/sendgrid; empty turns it off
	InboundMaxBytes     int64             // DSAR_INBOUND_MAX_MB: the largest inbound email post accepted
	InboundRate         int               // DSAR_INBOUND_RATE: inbound emails accepted per minute from one sender; 0 = unlimited
	InboundRateTotal    int               // DSAR_INBOUND_RATE_TOTAL: inbound emails accepted per minute from everyone; 0 = unlimited
	AttachmentMaxBytes  int64             // DSAR_ATTACHMENT_MAX_MB: the largest file an officer can attach to a request
	EventWebhookKey     *ecdsa.PublicKey  // SENDGRID_WEBHOOK_PUBLIC_KEY: verifies POST /events/sendgrid; unset turns it off
	OIDC                OIDC              // DSAR_OIDC_*: officer single sign-on (oidc.go)
	DRPBusinessID       string            // DSAR_DRP_BUSINESS_ID: this business's ID in the Data Rights Protocol network; empty turns DRP off
	DevMode             bool              // set by `dsar dev`, not by the environment
}

// drpBusinessID is the shape of an ID in the DRP business directory.
var drpBusinessID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// Defaults used when a variable is unset.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultDataDir           = ".dsar"
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
	DefaultTaskQueue         = "dsar"
	DefaultSendGridAPIURL    = "https://api.sendgrid.com"
	DefaultMailFrom          = "privacy@example.com"
	DefaultMailFromName      = "Privacy team"
	DefaultOrganisation      = "Example Organisation"
	DefaultVerifyTTL         = 7 * 24 * time.Hour
	DefaultLogLevel          = "info"
	DefaultPublicRate        = 20
	DefaultDownloadTTL       = 14 * 24 * time.Hour
	DefaultOptOutWithin      = 2 * 24 * time.Hour
	DefaultReminders         = "7d,2d"
	DefaultMonitorInterval   = time.Hour
	DefaultBreachRate        = 10000
	DefaultInboundMaxMB      = 10
	DefaultInboundRate       = 5
	DefaultInboundRateTotal  = 120
	DefaultAttachmentMaxMB   = 10
	DefaultDatabaseMaxConns  = 20

	// minInboundSecretLen keeps the inbound endpoint's secret unguessable.
	minInboundSecretLen = 24

	// LogoMax is the largest logo dsar reads: it is sent with every
	// page and email that shows it.
	LogoMax = 256 << 10

	// minSecretKeyLen keeps the encryption key from being guessable.
	minSecretKeyLen = 32
)

// ErrInvalid wraps every validation failure so callers can tell a bad
// setting from an I/O error.
var ErrInvalid = errors.New("invalid configuration")

// Load reads the configuration from getenv (os.Getenv in production; a map
// in tests). A variable NAME may instead be given as NAME_FILE, the path of a
// file holding the value, which suits container secrets.
func Load(getenv func(string) string) (*Config, error) {
	l := &loader{getenv: getenv}
	c := &Config{
		Addr:              l.text("DSAR_ADDR", DefaultAddr),
		DataDir:           l.text("DSAR_DATA_DIR", DefaultDataDir),
		DatabaseURL:       l.text("DSAR_DATABASE_URL", ""),
		DatabaseMaxConns:  l.count("DSAR_DATABASE_MAX_CONNS", DefaultDatabaseMaxConns),
		TemporalAddress:   l.text("TEMPORAL_ADDRESS", DefaultTemporalAddress),
		TemporalNamespace: l.text("TEMPORAL_NAMESPACE", DefaultTemporalNamespace),
		TaskQueue:         l.text("DSAR_TASK_QUEUE", DefaultTaskQueue),
		SendGridAPIKey:    l.text("SENDGRID_API_KEY", ""),
		SendGridAPIURL:    strings.TrimRight(l.text("SENDGRID_API_URL", DefaultSendGridAPIURL), "/"),
		MailFrom:          l.text("DSAR_MAIL_FROM", DefaultMailFrom),
		MailFromName:      l.text("DSAR_MAIL_FROM_NAME", DefaultMailFromName),
		Organisation:      l.text("DSAR_ORGANISATION", DefaultOrganisation),
		SecretKey:         l.text("DSAR_SECRET_KEY", ""),
		LogLevel:          strings.ToLower(l.text("DSAR_LOG_LEVEL", DefaultLogLevel)),
		DataMap:           l.text("DSAR_DATAMAP", ""),
		PreviousKeys:      l.list("DSAR_SECRET_KEY_PREVIOUS"),

		VerifyTTL:       l.duration("DSAR_VERIFY_TTL", DefaultVerifyTTL, time.Minute, time.ParseDuration, "168h"),
		DownloadTTL:     l.duration("DSAR_DOWNLOAD_TTL", DefaultDownloadTTL, time.Hour, parseDays, "14d or 72h"),
		OptOutWithin:    l.duration("DSAR_OPT_OUT_WITHIN", DefaultOptOutWithin, time.Hour, parseDays, "2d or 24h"),
		MonitorInterval: l.duration("DSAR_MONITOR_INTERVAL", DefaultMonitorInterval, time.Minute, time.ParseDuration, "1h or 15m"),

		Regime:              l.regime("DSAR_REGIME", deadline.Default),
		Location:            l.location("DSAR_TIMEZONE"),
		Reminders:           l.reminders("DSAR_REMINDERS"),
		BreachRate:          l.count("DSAR_BREACH_RATE", DefaultBreachRate),
		PublicRatePerMinute: l.count("DSAR_PUBLIC_RATE", DefaultPublicRate),
		InboundSecret:       l.text("DSAR_INBOUND_SECRET", ""),
		DRPBusinessID:       l.text("DSAR_DRP_BUSINESS_ID", ""),
		InboundMaxBytes:     int64(l.count("DSAR_INBOUND_MAX_MB", DefaultInboundMaxMB)) << 20,
		InboundRate:         l.count("DSAR_INBOUND_RATE", DefaultInboundRate),
		InboundRateTotal:    l.count("DSAR_INBOUND_RATE_TOTAL", DefaultInboundRateTotal),
		AttachmentMaxBytes:  int64(l.count("DSAR_ATTACHMENT_MAX_MB", DefaultAttachmentMaxMB)) << 20,
		ReviewBeforeRelease: l.boolean("DSAR_REVIEW_BEFORE_RELEASE", true),
		PhoneRegion:         strings.ToUpper(l.text("DSAR_PHONE_REGION", "")),
	}
	if !domain.ValidPhoneRegion(c.PhoneRegion) {
		l.problem(fmt.Sprintf("DSAR_PHONE_REGION: %q is not a region phone numbers are known for; give a two-letter country code such as NL, or leave it empty", c.PhoneRegion))
	}
	if text := l.text("SENDGRID_WEBHOOK_PUBLIC_KEY", ""); text != "" {
		k, err := ParseEventWebhookKey(text)
		if err != nil {
			l.problem("SENDGRID_WEBHOOK_PUBLIC_KEY: " + err.Error())
		}
		c.EventWebhookKey = k
	}
	c.BaseURL = strings.TrimRight(l.text("DSAR_BASE_URL", "http://"+c.Addr), "/")
	c.OIDC = l.oidc(c.BaseURL)
	c.PrivacyNoticeURL = l.text("DSAR_PRIVACY_NOTICE_URL", "")
	c.PrivacyEmail = l.text("DSAR_PRIVACY_EMAIL", c.MailFrom)
	c.PrivacyAddress = strings.Join(strings.Fields(l.text("DSAR_PRIVACY_ADDRESS", "")), " ")
	c.AuthorityName = strings.Join(strings.Fields(l.text("DSAR_SUPERVISORY_AUTHORITY", "")), " ")
	c.AuthorityURL = l.text("DSAR_SUPERVISORY_AUTHORITY_URL", "")
	c.LogoFile = l.text("DSAR_LOGO", "")
	if c.LogoFile != "" {
		c.Logo, c.LogoType = l.logo("DSAR_LOGO", c.LogoFile)
	}
	c.MailTemplates = l.text("DSAR_MAIL_TEMPLATES", "")
	for _, v := range l.list("DSAR_CLOCK_PAUSE") {
		r, err := deadline.Parse(v)
		if err != nil {
			l.problem("DSAR_CLOCK_PAUSE: " + err.Error())
			continue
		}
		c.PausingRegimes = append(c.PausingRegimes, r)
	}
	problems := l.problems
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(problems, "\n  "))
	}
	return c, nil
}

// loader reads settings, collecting every problem so one run names them
// all.
type loader struct {
	getenv   func(string) string
	problems []string
}

func (l *loader) problem(p string) { l.problems = append(l.problems, p) }

// text is the setting, or def when it is unset.
func (l *loader) text(name, def string) string {
	v, err := lookup(l.getenv, name)
	if err != nil {
		l.problem(err.Error())
	}
	if v == "" {
		return def
	}
	return v
}

// logoTypes are the image types a logo may have: what every browser and
// mail client shows.
var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}

// logo reads the logo file once, at start, with a size limit, and names
// its type from its content, not its name.
func (l *loader) logo(name, path string) ([]byte, string) {
	b, err := files.Read(path, LogoMax)
	if err != nil {
		l.problem(name + ": " + err.Error())
		return nil, ""
	}
	typ, _, _ := strings.Cut(http.DetectContentType(b), ";")
	if typ == "text/xml" || typ == "text/plain" {
		if head := strings.ToLower(string(b[:min(len(b), 1024)])); strings.Contains(head, "<svg") {
			typ = "image/svg+xml"
		}
	}
	if !slices.Contains(logoTypes, typ) {
		l.problem(fmt.Sprintf("%s: %s is %s, not one of %s", name, path, typ, strings.Join(logoTypes, ", ")))
		return nil, ""
	}
	return b, typ
}

// list is a comma- or space-separated setting, without empty items; nil
// when unset.
func (l *loader) list(name string) []string {
	items := strings.Fields(strings.ReplaceAll(l.text(name, ""), ",", " "))
	if len(items) == 0 {
		return nil
	}
	return items
}

// duration parses a length of time of at least min; example shows the
// form in the problem.
func (l *loader) duration(name string, def, min time.Duration, parse func(string) (time.Duration, error), example string) time.Duration {
	v := l.text(name, "")
	if v == "" {
		return def
	}
	d, err := parse(v)
	switch {
	case err != nil:
		l.problem(fmt.Sprintf("%s: %q is not a duration (use e.g. %s)", name, v, example))
	case d < min:
		l.problem(fmt.Sprintf("%s: %s is shorter than %s", name, d, minName(min)))
	default:
		return d
	}
	return def
}

func minName(d time.Duration) string {
	if d == time.Hour {
		return "one hour"
	}
	return "one minute"
}

// boolean is a true/false setting (true, false, 1, 0, on, off, yes,
// no), or def when it is unset.
func (l *loader) boolean(name string, def bool) bool {
	v := strings.ToLower(strings.TrimSpace(l.text(name, "")))
	switch v {
	case "":
		return def
	case "true", "1", "on", "yes":
		return true
	case "false", "0", "off", "no":
		return false
	}
	l.problem(fmt.Sprintf("%s: %q is not true or false", name, v))
	return def
}

// count is a whole number, 0 or more.
func (l *loader) count(name string, def int) int {
	v := l.text(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		l.problem(fmt.Sprintf("%s: %q is not a whole number, 0 or more", name, v))
		return def
	}
	return n
}

func (l *loader) regime(name string, def deadline.Regime) deadline.Regime {
	v := l.text(name, "")
	if v == "" {
		return def
	}
	r, err := deadline.Parse(v)
	if err != nil {
		l.problem(name + ": " + err.Error())
		return def
	}
	return r
}

func (l *loader) location(name string) *time.Location {
	v := l.text(name, "")
	if v == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		l.problem(fmt.Sprintf("%s: %q is not a time zone name such as Europe/Amsterdam", name, v))
		return time.UTC
	}
	return loc
}

// reminders are times before a due date; "none" leaves an empty, non-nil
// list: no reminders (nil means the workflow's defaults).
func (l *loader) reminders(name string) []time.Duration {
	out := []time.Duration{}
	for _, v := range strings.Split(l.text(name, DefaultReminders), ",") {
		if v = strings.TrimSpace(v); v == "" || v == "none" {
			continue
		}
		d, err := parseDays(v)
		if err != nil || d <= 0 {
			l.problem(fmt.Sprintf("%s: %q is not a time before the due date (use e.g. 7d,2d or 12h; none for no reminders)", name, v))
			continue
		}
		out = append(out, d)
	}
	return out
}

// lookup reads a setting from NAME, or from the file NAME_FILE names.
func lookup(getenv func(string) string, name string) (string, error) {
	v := getenv(name)
	file := getenv(name + "_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set; set one", name, name)
	case file != "":
		b, err := files.Read(file, files.SecretMax)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %v", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(v), nil
}

// Validate checks the settings a process needs. Under `dsar dev` mail may
// go to the outbox, so SENDGRID_API_KEY is optional there; the dev secret
// key is generated by app.PrepareDev before Validate runs.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		add("DSAR_ADDR: %q is not host:port", c.Addr)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("DSAR_BASE_URL: %q is not an http(s) URL", c.BaseURL)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		add("DSAR_DATABASE_URL: must be a postgres:// URL (leave it empty for the embedded SQLite database)")
	}
	if c.DataDir == "" {
		add("DSAR_DATA_DIR: must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.TemporalAddress); err != nil {
		add("TEMPORAL_ADDRESS: %q is not host:port", c.TemporalAddress)
	}
	if c.TemporalNamespace == "" {
		add("TEMPORAL_NAMESPACE: must not be empty")
	}
	if u, err := url.Parse(c.SendGridAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("SENDGRID_API_URL: %q is not an http(s) URL", c.SendGridAPIURL)
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Name != "" {
		add("DSAR_MAIL_FROM: %q is not a plain email address", c.MailFrom)
	}
	if len(c.SecretKey) < minSecretKeyLen {
		add("DSAR_SECRET_KEY: must be at least %d characters (e.g. `openssl rand -base64 48`)", minSecretKeyLen)
	}
	for i, k := range c.PreviousKeys {
		if len(k) < minSecretKeyLen {
			add("DSAR_SECRET_KEY_PREVIOUS: key %d is shorter than %d characters", i+1, minSecretKeyLen)
		}
	}
	if c.AuthorityURL != "" {
		if u, err := url.Parse(c.AuthorityURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("DSAR_SUPERVISORY_AUTHORITY_URL: %q is not an http(s) URL", c.AuthorityURL)
		}
		if c.AuthorityName == "" {
			add("DSAR_SUPERVISORY_AUTHORITY_URL is set without DSAR_SUPERVISORY_AUTHORITY, the authority's name")
		}
	}
	if c.PrivacyNoticeURL != "" {
		if u, err := url.Parse(c.PrivacyNoticeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("DSAR_PRIVACY_NOTICE_URL: %q is not an http(s) URL", c.PrivacyNoticeURL)
		}
	}
	// Unset, it is DSAR_MAIL_FROM, whose problem is named once.
	if a, err := mail.ParseAddress(c.PrivacyEmail); c.PrivacyEmail != c.MailFrom && (err != nil || a.Name != "") {
		add("DSAR_PRIVACY_EMAIL: %q is not a plain email address", c.PrivacyEmail)
	}
	if c.DRPBusinessID != "" && !drpBusinessID.MatchString(c.DRPBusinessID) {
		add("DSAR_DRP_BUSINESS_ID: letters, digits and _ . - only, as the DRP business directory lists it (such as EXAMPLE_SHOP)")
	}
	if c.InboundSecret != "" && len(c.InboundSecret) < minInboundSecretLen {
		add("DSAR_INBOUND_SECRET: must be at least %d characters (e.g. `openssl rand -hex 24`)", minInboundSecretLen)
	}
	if c.InboundSecret != "" && strings.ContainsAny(c.InboundSecret, "/?#%") {
		add("DSAR_INBOUND_SECRET: must not contain / ? # or %%: it is part of a URL")
	}
	if c.InboundMaxBytes < 1<<20 {
		add("DSAR_INBOUND_MAX_MB: at least 1")
	}
	if c.DatabaseMaxConns < 1 {
		add("DSAR_DATABASE_MAX_CONNS: at least 1")
	}
	if c.AttachmentMaxBytes < 1<<20 {
		add("DSAR_ATTACHMENT_MAX_MB: at least 1")
	}
	if !c.DevMode && c.SendGridAPIKey == "" {
		add("SENDGRID_API_KEY: must be set outside `dsar dev` (the dev outbox does not deliver mail)")
	}
	c.OIDC.validate(add)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("DSAR_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(problems, "\n  "))
	}
	return nil
}

// UsesOutbox reports whether email goes to the database outbox instead of
// SendGrid.
func (c *Config) UsesOutbox() bool { return c.SendGridAPIKey == "" }

// SQLitePath is the embedded app database used when DatabaseURL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "dsar.db") }

// TemporalDBPath is the embedded Temporal server's database in dev.
func (c *Config) TemporalDBPath() string { return filepath.Join(c.DataDir, "temporal.db") }

// Warnings name settings a production deployment should have but can
// run without: every page and email tells people who handles their data
// and how to reach them (GDPR Art. 12-14), and without these it names
// only the organisation and the privacy email. A deployment upgraded from
// before they existed keeps running; the log says what to add.
func (c *Config) Warnings() []string {
	if c.DevMode {
		return nil
	}
	var out []string
	if c.PrivacyNoticeURL == "" {
		out = append(out, "DSAR_PRIVACY_NOTICE_URL is not set: pages and emails link no privacy notice")
	}
	if c.PrivacyAddress == "" {
		out = append(out, "DSAR_PRIVACY_ADDRESS is not set: pages and emails give no postal address for the privacy team")
	}
	if c.AuthorityName == "" {
		out = append(out, "DSAR_SUPERVISORY_AUTHORITY is not set: access reports tell people they may complain to a supervisory authority without naming yours")
	}
	return out
}

// Print writes the configuration as NAME=value lines with secrets redacted.
func (c *Config) Print(w io.Writer) {
	rows := []struct{ name, value string }{
		{"DSAR_ADDR", c.Addr},
		{"DSAR_BASE_URL", c.BaseURL},
		{"DSAR_DATA_DIR", c.DataDir},
		{"DSAR_DATABASE_URL", redactURL(c.DatabaseURL)},
		{"DSAR_DATABASE_MAX_CONNS", strconv.Itoa(c.DatabaseMaxConns)},
		{"TEMPORAL_ADDRESS", c.TemporalAddress},
		{"TEMPORAL_NAMESPACE", c.TemporalNamespace},
		{"DSAR_TASK_QUEUE", c.TaskQueue},
		{"SENDGRID_API_KEY", redact(c.SendGridAPIKey)},
		{"SENDGRID_API_URL", c.SendGridAPIURL},
		{"DSAR_MAIL_FROM", c.MailFrom},
		{"DSAR_MAIL_FROM_NAME", c.MailFromName},
		{"DSAR_ORGANISATION", c.Organisation},
		{"DSAR_PRIVACY_NOTICE_URL", c.PrivacyNoticeURL},
		{"DSAR_PRIVACY_EMAIL", c.PrivacyEmail},
		{"DSAR_PRIVACY_ADDRESS", c.PrivacyAddress},
		{"DSAR_SUPERVISORY_AUTHORITY", c.AuthorityName},
		{"DSAR_SUPERVISORY_AUTHORITY_URL", c.AuthorityURL},
		{"DSAR_LOGO", c.LogoFile},
		{"DSAR_MAIL_TEMPLATES", c.MailTemplates},
		{"DSAR_SECRET_KEY", redact(c.SecretKey)},
		{"DSAR_SECRET_KEY_PREVIOUS", redactList(c.PreviousKeys)},
		{"DSAR_VERIFY_TTL", c.VerifyTTL.String()},
		{"DSAR_LOG_LEVEL", c.LogLevel},
		{"DSAR_PUBLIC_RATE", strconv.Itoa(c.PublicRatePerMinute)},
		{"DSAR_DATAMAP", c.DataMap},
		{"DSAR_DOWNLOAD_TTL", c.DownloadTTL.String()},
		{"DSAR_REVIEW_BEFORE_RELEASE", strconv.FormatBool(c.ReviewBeforeRelease)},
		{"DSAR_PHONE_REGION", c.PhoneRegion},
		{"DSAR_OPT_OUT_WITHIN", c.OptOutWithin.String()},
		{"DSAR_REGIME", string(c.Regime)},
		{"DSAR_TIMEZONE", c.Location.String()},
		{"DSAR_REMINDERS", durationList(c.Reminders)},
		{"DSAR_CLOCK_PAUSE", regimeList(c.PausingRegimes)},
		{"DSAR_MONITOR_INTERVAL", c.MonitorInterval.String()},
		{"DSAR_BREACH_RATE", strconv.Itoa(c.BreachRate)},
		{"DSAR_INBOUND_SECRET", redact(c.InboundSecret)},
		{"DSAR_INBOUND_MAX_MB", strconv.FormatInt(c.InboundMaxBytes>>20, 10)},
		{"DSAR_INBOUND_RATE", strconv.Itoa(c.InboundRate)},
		{"DSAR_INBOUND_RATE_TOTAL", strconv.Itoa(c.InboundRateTotal)},
		{"DSAR_ATTACHMENT_MAX_MB", strconv.FormatInt(c.AttachmentMaxBytes>>20, 10)},
		{"SENDGRID_WEBHOOK_PUBLIC_KEY", keyState(c.EventWebhookKey)},
		{"DSAR_DRP_BUSINESS_ID", c.DRPBusinessID},
	}
	rows = append(rows, c.OIDC.printRows()...)
	for _, r := range rows {
		fmt.Fprintf(w, "%s=%s\n", r.name, r.value)
	}
}

func durationList(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		if d%(24*time.Hour) == 0 {
			out[i] = strconv.Itoa(int(d/(24*time.Hour))) + "d"
		} else {
			out[i] = d.String()
		}
	}
	return strings.Join(out, ",")
}

func regimeList(rs []deadline.Regime) string {
	if len(rs) == 0 {
		return "(none)"
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ",")
}

func keyState(k *ecdsa.PublicKey) string {
	if k == nil {
		return "(unset)"
	}
	return "(set: ECDSA P-256)"
}

// ParseEventWebhookKey reads the public key SendGrid shows for a signed
// Event Webhook: base64 of its DER (SubjectPublicKeyInfo), or the same
// in PEM. It must be an ECDSA P-256 key.
func ParseEventWebhookKey(text string) (*ecdsa.PublicKey, error) {
	der := []byte(nil)
	if b, _ := pem.Decode([]byte(text)); b != nil {
		der = b.Bytes
	} else {
		d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, errors.New("not base64 or PEM (copy the verification key from SendGrid's Event Webhook settings)")
		}
		der = d
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a public key (copy the verification key from SendGrid's Event Webhook settings)")
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key, which SendGrid signs events with")
	}
	return ek, nil
}

func redact(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	// A short fingerprint lets an operator compare two deployments' keys
	// without revealing either.
	sum := sha256.Sum256([]byte(secret))
	return fmt.Sprintf("(redacted, sha256:%x)", sum[:4])
}

func redactList(secrets []string) string {
	if len(secrets) == 0 {
		return "(unset)"
	}
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = redact(s)
	}
	return strings.Join(out, " ")
}

func redactURL(raw string) string {
	if raw == "" {
		return "(unset: embedded SQLite)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(redacted: unparseable URL)"
	}
	if u.Scheme == "" {
		// A key=value DSN ("host=db password=…") parses as a bare path.
		return "(redacted: not a URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	// The driver also takes the password as a query parameter.
	if q := u.Query(); q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// parseDays reads a Go duration, or a whole number of days such as "14d".
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("bad day count %q", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
