package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/dsar-project/dsar/internal/i18n"
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
	// KindWithdrawn confirms a withdrawal the requester made.
	KindWithdrawn Kind = "withdrawn"
	// KindMessage tells the requester the privacy team wrote to them; the
	// message itself is read on the status page.
	KindMessage Kind = "message"
	// KindHoldReleased follows a deletion a legal hold partly deferred,
	// once the holds ended: what was erased then, and what the law still
	// keeps until when.
	KindHoldReleased Kind = "hold_released"
	// KindDuplicate tells the requester an officer closed the request as
	// a duplicate of another of theirs, which continues.
	KindDuplicate Kind = "duplicate"

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
	// A requester wrote to the privacy team from the status page.
	KindOfficerMessage Kind = "officer_message"
)

// Kinds lists every email to a requester; Renderer parses them all at
// start, in the requester's layout.
var Kinds = []Kind{
	KindAcknowledgement, KindVerification, KindVerificationReminder,
	KindExpiredUnverified, KindVerified, KindCompleted, KindDenied, KindExtended,
	KindWithdrawn, KindMessage, KindHoldReleased, KindDuplicate,
}

// OfficerKinds lists every alert to the privacy team, parsed in the
// officers' layout. They name requests by reference only: no requester's
// name or address travels in an alert.
var OfficerKinds = []Kind{KindOfficerReminder, KindOfficerOverdue, KindOfficerDigest, KindOfficerBreachReminder, KindOfficerBreachOverdue, KindOfficerPasswordReset, KindOfficerMessage}

// NoticeKinds are emails to people who made no request: a breach notice,
// in the requester's layout, its words an officer's.
var NoticeKinds = []Kind{KindBreachNotice}

// Data is what the templates may show.
type Data struct {
	Organisation string
	// Contact is who the requester can write to; requester emails and
	// breach notices show it in every message.
	Contact
	// Lang is the language of a requester's email (empty: English);
	// officer alerts are always English.
	Lang      i18n.Lang
	Name      string
	RequestID string
	TypeLabel string
	// Dates are written in the email's language by the caller
	// (i18n.Printer), like every other value here.
	ReceivedAt  string
	DueAt       string
	Link        string // the action link of this email (verify, status)
	LinkExpires string
	// Code is the verification code sent with a verification link
	// ("123 456"), typed on the status page instead of opening the link.
	Code       string
	StatusLink string
	Reason     string
	// DuplicateOf is the reference of the request that continues, in
	// the email saying this one was closed as its duplicate.
	DuplicateOf string

	// Completion of an access or export request: the package link.
	DownloadLink    string
	DownloadExpires string
	Downloads       int
	// Completion of a deletion: what was erased, one line per system and
	// table, and what became of the person in the backups.
	Erased   []string
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
	// KeptByLaw says, once a legal hold ended, what the law still keeps
	// of the person and until when, one line per table (Erased then says
	// what was erased when the hold ended).
	KeptByLaw []string

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

// Contact is the organisation's privacy contact, from settings.
type Contact struct {
	PrivacyEmail     string
	PrivacyAddress   string
	PrivacyNoticeURL string
	// LogoURL is where dsar serves the organisation's logo; empty
	// without one.
	LogoURL string
}

// DigestLine is one request (or breach) in an officers' digest.
type DigestLine struct {
	Ref, What, Due, Note, Link string
}

//go:embed templates
var templateFiles embed.FS

type pair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Renderer turns a kind and data into a message. Templates are parsed once
// per language; a missing or broken template fails NewRenderer, not a send.
type Renderer struct {
	catalogue *i18n.Catalogue
	files     templateSet
	// kinds holds every requester email and notice per language, and
	// the officers' alerts under English only.
	kinds map[i18n.Lang]map[Kind]pair
}

// NewRenderer parses the built-in templates, requester emails in every
// language.
func NewRenderer() (*Renderer, error) { return LoadRenderer(Options{}) }

// LoadRenderer parses every template, the organisation's in place of
// the built-in ones where it wrote its own, and checks each before
// anything is sent: a value an email's data does not have, a message
// the catalogue lacks, or a required value left out (the link of a
// verification email) is an error naming the file and line.
func LoadRenderer(o Options) (*Renderer, error) {
	c, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	overrides, err := loadOverrides(o.Overrides)
	if err != nil {
		return nil, err
	}
	r := &Renderer{catalogue: c, files: templateSet{overrides: overrides}, kinds: map[i18n.Lang]map[Kind]pair{}}
	var problems []string
	for _, l := range i18n.Langs {
		r.kinds[l] = map[Kind]pair{}
		problems = append(problems, r.parse(l, "layout.html", slices.Concat(Kinds, NoticeKinds))...)
	}
	problems = append(problems, r.parse(i18n.English, "officer_layout.html", OfficerKinds)...)
	if len(problems) > 0 {
		slices.Sort(problems)
		problems = slices.Compact(problems)
		return nil, errors.New("mail templates:\n  " + strings.Join(problems, "\n  "))
	}
	return r, nil
}

// Printer writes messages and dates in a language, for the values a
// caller puts in Data.
func (r *Renderer) Printer(l i18n.Lang) *i18n.Printer { return r.catalogue.Printer(l) }

// parse parses and checks each kind's templates in a language, and
// returns what is wrong with them.
func (r *Renderer) parse(l i18n.Lang, layoutFile string, kinds []Kind) []string {
	funcs := r.catalogue.Printer(l).Funcs()
	funcs["join"] = func(items []string) string { return strings.Join(items, ", ") }
	read := func(name string) (source, []string) {
		src, err := r.files.file(l, name)
		if err != nil {
			return src, []string{err.Error()}
		}
		return src, nil
	}
	layoutSrc, problems := read(layoutFile)
	if problems != nil {
		return problems
	}
	layout, err := htmltemplate.New(layoutSrc.name).Funcs(funcs).Parse(layoutSrc.text)
	if err != nil {
		return []string{err.Error()}
	}
	common, problems := read("common.txt")
	if problems != nil {
		return problems
	}
	for _, k := range kinds {
		txtSrc, p1 := read(string(k) + ".txt")
		htmlSrc, p2 := read(string(k) + ".html")
		if p := slices.Concat(p1, p2); p != nil {
			problems = append(problems, p...)
			continue
		}
		text, err := texttemplate.New(common.name).Funcs(funcs).Parse(common.text)
		if err == nil {
			_, err = text.New(txtSrc.name).Parse(txtSrc.text)
		}
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, name := range []string{"subject", "body"} {
			if text.Lookup(name) == nil {
				problems = append(problems, fmt.Sprintf("%s: defines no {{define %q}}", txtSrc.name, name))
			}
		}
		html, err := htmltemplate.Must(layout.Clone()).New(htmlSrc.name).Parse(htmlSrc.text)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if html.Lookup("content") == nil {
			problems = append(problems, fmt.Sprintf("%s: defines no {{define \"content\"}}", htmlSrc.name))
			continue
		}
		problems = append(problems, r.check(k, txtSrc, htmlSrc, text, html, layout.Name())...)
		r.kinds[l][k] = pair{text: text, html: html.Lookup(layout.Name())}
	}
	return problems
}

// check walks a kind's parsed text and HTML templates (see checker).
func (r *Renderer) check(k Kind, txtSrc, htmlSrc source, text *texttemplate.Template, html *htmltemplate.Template, layout string) []string {
	tc := newChecker(r.catalogue, func(name string) *parse.Tree {
		if t := text.Lookup(name); t != nil {
			return t.Tree
		}
		return nil
	})
	tc.template("subject", dataType)
	tc.template("body", dataType)
	hc := newChecker(r.catalogue, func(name string) *parse.Tree {
		if t := html.Lookup(name); t != nil {
			return t.Tree
		}
		return nil
	})
	hc.template(layout, htmlDot)
	problems := slices.Concat(tc.problems, hc.problems)
	for _, f := range required[k] {
		if !tc.fields[f] {
			problems = append(problems, fmt.Sprintf("%s: never shows {{.%s}}, which this email needs", txtSrc.name, f))
		}
		if !hc.fields[f] {
			problems = append(problems, fmt.Sprintf("%s: never shows {{.%s}}, which this email needs", htmlSrc.name, f))
		}
	}
	return problems
}

// Render builds the subject and both parts of an email, in d.Lang for a
// requester's email and in English for an officer's alert. The text
// part keeps each paragraph on one line, which mail clients wrap to the
// reader's screen: wrapping at a fixed width would split dates and
// names whose length differs by language.
func (r *Renderer) Render(k Kind, d Data) (subject, text, html string, err error) {
	p, ok := r.kinds[d.Lang.OrEnglish()][k]
	if !ok {
		p, ok = r.kinds[i18n.English][k]
	}
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
	if err := p.html.Execute(&hb, struct {
		Subject string
		Data
	}{subject, d}); err != nil {
		return "", "", "", fmt.Errorf("mail: %s html: %w", k, err)
	}
	return subject, strings.TrimSpace(tb.String()) + "\n", hb.String(), nil
}
