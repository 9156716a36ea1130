package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// Kind names an email template. Each kind has templates/<kind>.txt, which
// defines "subject" and "body", and templates/<kind>.html, which defines
// "content" for the shared HTML layout.
type Kind string

const (
	KindAcknowledgement      Kind = "acknowledgement"
	KindVerification         Kind = "verification"
	KindVerificationReminder Kind = "verification_reminder"
	KindExpiredUnverified    Kind = "expired_unverified"
	KindVerified             Kind = "verified"
	KindCompleted            Kind = "completed"
	KindDenied               Kind = "denied"
	KindExtended             Kind = "extended"

	// Officer alerts.
	KindOfficerReminder Kind = "officer_reminder"
	KindOfficerOverdue  Kind = "officer_overdue"
	KindOfficerDigest   Kind = "officer_digest"
	// Breach alerts to officers, and the notice to the people affected.
	KindOfficerBreachReminder Kind = "officer_breach_reminder"
	KindOfficerBreachOverdue  Kind = "officer_breach_overdue"
	KindBreachNotice          Kind = "breach_notice"
	// A password reset link to an officer who asked for one.
	KindOfficerPasswordReset Kind = "officer_password_reset"
)

// Kinds lists every email to a requester; Renderer parses them all at
// start, in the requester's layout.
var Kinds = []Kind{
	KindAcknowledgement, KindVerification, KindVerificationReminder,
	KindExpiredUnverified, KindVerified, KindCompleted, KindDenied, KindExtended,
}

// OfficerKinds lists every alert to the privacy team, parsed in the
// officers' layout. They name requests by reference only: no requester's
// name or address travels in an alert.
var OfficerKinds = []Kind{KindOfficerReminder, KindOfficerOverdue, KindOfficerDigest, KindOfficerBreachReminder, KindOfficerBreachOverdue, KindOfficerPasswordReset}

// NoticeKinds are emails to people who made no request: a breach notice,
// in the requester's layout, its words an officer's.
var NoticeKinds = []Kind{KindBreachNotice}

// Data is what the templates may show.
type Data struct {
	Organisation string
	Name         string
	RequestID    string
	TypeLabel    string
	ReceivedAt   string
	DueAt        string
	Link         string // the action link of this email (verify, status)
	LinkExpires  string
	// Code is the verification code sent with a verification link
	// ("123 456"), typed on the status page instead of opening the link.
	Code       string
	StatusLink string
	Reason     string

	// Completion of an access or export request: the package link.
	DownloadLink    string
	DownloadExpires string
	Downloads       int
	// Completion of a deletion: what was erased, per system and table,
	// and what became of the person in the backups.
	Erased   []ErasedLine
	Archives []string
	// Completion of an opt-out: what it changed, one line per table.
	OptedOut []string
	// Completion of a correction: what changed, and fields not matched.
	Corrected []string
	// Shared lists corrections not written because the record is also
	// another person's.
	Shared []string
	// Others says what each webhook or manual system did.
	Others    []string
	Unmatched []string
	// NothingFound says fulfilment found no records of the person.
	NothingFound bool

	// Officer alerts: how long is left, the request's state and clock,
	// and where in the dashboard to act.
	DueIn         string
	StatusLabel   string
	Regime        string
	DashboardLink string
	// Items are the lines of a deadline digest.
	Items []DigestLine
	// Notice is the approved text of a breach notice.
	Notice string
}

// DigestLine is one request (or breach) in an officers' digest.
type DigestLine struct {
	Ref, What, Due, Note, Link string
}

// ErasedLine is one table in a deletion's completion email.
type ErasedLine struct {
	System, Table         string
	Deleted, Masked, Kept int
	// Retained rows stay until RetainedUntil on Basis; Held rows wait
	// for a legal hold (whose reason the requester is not told).
	Retained      int
	RetainedUntil string
	Basis         string
	Held          int
}

//go:embed templates
var templateFiles embed.FS

type pair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Renderer turns a kind and data into a message. Templates are parsed once;
// a missing or broken template fails NewRenderer, not a send.
type Renderer struct {
	kinds map[Kind]pair
}

// NewRenderer parses every template.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{kinds: map[Kind]pair{}}
	if err := r.parse("templates/layout.html", Kinds); err != nil {
		return nil, err
	}
	if err := r.parse("templates/officer_layout.html", OfficerKinds); err != nil {
		return nil, err
	}
	if err := r.parse("templates/layout.html", NoticeKinds); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Renderer) parse(layoutFile string, kinds []Kind) error {
	layout, err := htmltemplate.ParseFS(templateFiles, layoutFile)
	if err != nil {
		return fmt.Errorf("mail: layout: %w", err)
	}
	for _, k := range kinds {
		text, err := texttemplate.ParseFS(templateFiles, "templates/"+string(k)+".txt")
		if err != nil {
			return fmt.Errorf("mail: template %s: %w", k, err)
		}
		for _, name := range []string{"subject", "body"} {
			if text.Lookup(name) == nil {
				return fmt.Errorf("mail: template %s.txt defines no %q", k, name)
			}
		}
		html, err := htmltemplate.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+string(k)+".html")
		if err != nil {
			return fmt.Errorf("mail: template %s: %w", k, err)
		}
		r.kinds[k] = pair{text: text, html: html}
	}
	return nil
}

// Render builds the subject and both parts of an email.
func (r *Renderer) Render(k Kind, d Data) (subject, text, html string, err error) {
	p, ok := r.kinds[k]
	if !ok {
		return "", "", "", fmt.Errorf("mail: no template %q", k)
	}
	var sb, tb, hb bytes.Buffer
	if err := p.text.ExecuteTemplate(&sb, "subject", d); err != nil {
		return "", "", "", fmt.Errorf("mail: %s subject: %w", k, err)
	}
	if err := p.text.ExecuteTemplate(&tb, "body", d); err != nil {
		return "", "", "", fmt.Errorf("mail: %s text: %w", k, err)
	}
	subject = strings.TrimSpace(sb.String())
	if err := p.html.ExecuteTemplate(&hb, p.html.Name(), struct {
		Subject string
		Data
	}{subject, d}); err != nil {
		return "", "", "", fmt.Errorf("mail: %s html: %w", k, err)
	}
	return subject, strings.TrimSpace(tb.String()) + "\n", hb.String(), nil
}
