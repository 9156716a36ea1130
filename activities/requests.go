// Package activities holds every side effect of dsar's workflows, as
// methods on structs that carry their dependencies. Each activity is
// idempotent, keyed by request ID and step, so Temporal may retry it freely.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/store"
)

// Error types the workflows see as non-retryable application errors.
const (
	ErrTypeInvalidTransition = "InvalidTransition"
	ErrTypeMailRejected      = "MailRejected"
	ErrTypeNotFound          = "NotFound"
)

// MaxVerificationEmailsPerDay caps the verification emails (and their
// reminders) sent to one address in 24 hours, over all its requests: the
// public form cannot be used to flood someone's inbox from the
// organisation's address. Past the cap the email is not sent, the
// request's trail says so, and the officer sees it.
const MaxVerificationEmailsPerDay = 5

// VerificationResendPrefix starts the step of each verification email a
// requester asked for again from the status page ("verification/again/1").
const VerificationResendPrefix = "verification/again/"

// verificationSteps are the steps MaxVerificationEmailsPerDay counts:
// the first email, its reminder, and every one asked for again (a
// prefix, store.EmailsToAddress).
var verificationSteps = []string{string(mail.KindVerification), string(mail.KindVerificationReminder), VerificationResendPrefix + "%"}

// IsVerificationStep reports whether an email step sends a verification
// link and code.
func IsVerificationStep(step string) bool {
	return step == string(mail.KindVerification) || step == string(mail.KindVerificationReminder) || strings.HasPrefix(step, VerificationResendPrefix)
}

// VerificationEmailsToAddress counts the verification emails sent to an
// address since a time, over all its requests: what
// MaxVerificationEmailsPerDay caps.
func VerificationEmailsToAddress(ctx context.Context, st *store.Store, email string, since time.Time) (int64, error) {
	return st.EmailsToAddress(ctx, email, verificationSteps, since)
}

// StatusLinkLifetime is how long a status link in an email keeps working.
const StatusLinkLifetime = 365 * 24 * time.Hour

// Requests are the activities of the SubjectRequest workflow.
type Requests struct {
	Store        *store.Store
	Mail         mail.Sender
	Templates    *mail.Renderer
	Metrics      *metrics.Email
	BaseURL      string // public URL for links in emails
	Organisation string // name shown in emails
	// Contact is the privacy team's contact and notice, shown in every
	// email to a requester.
	Contact mail.Contact
	Now     func() time.Time
	Log     *slog.Logger
	// PausingRegimes are the regimes whose clock stands still while the
	// requester proves who they are (DSAR_CLOCK_PAUSE; none by default).
	PausingRegimes []deadline.Regime
	// Systems is the data map, whose table labels and categories name
	// what an email says was erased or kept in plain words; nil names
	// tables by their names made readable.
	Systems *datamap.Systems
}

// StatusChange moves a request to a new status.
type StatusChange struct {
	RequestID string
	To        domain.Status
	Actor     string
	Reason    string
	// DuplicateOf is the request that continues, when To is duplicate.
	DuplicateOf string
}

// SetStatus records a status change and its audit entry. Repeating a change
// already made does nothing.
func (a *Requests) SetStatus(ctx context.Context, c StatusChange) error {
	_, err := a.Store.Transition(ctx, store.Transition{
		RequestID: c.RequestID, To: c.To, Actor: c.Actor, Reason: c.Reason, DuplicateOf: c.DuplicateOf, At: a.Now(),
	})
	return classify(err)
}

// Email asks for one email of a request's workflow. Step names the
// workflow step; it is the idempotency key together with the request ID,
// and defaults to the template kind.
type Email struct {
	RequestID string
	Kind      mail.Kind
	Step      string
	// VerifyLinkExpires, when set, adds a fresh single-use verification
	// link and six-digit code that expire then.
	VerifyLinkExpires time.Time
}

// SendEmail renders and sends one email, at most once per request and
// step. Links and codes are minted here, inside the activity, so no token
// or code ever enters workflow history.
func (a *Requests) SendEmail(ctx context.Context, e Email) error {
	defer keepAlive(ctx)()
	step := e.Step
	if step == "" {
		step = string(e.Kind)
	}
	sent, err := a.Store.EmailSent(ctx, e.RequestID, step)
	if err != nil {
		return err
	}
	if sent {
		return nil
	}
	r, err := a.Store.GetRequest(ctx, e.RequestID)
	if err != nil {
		return classify(err)
	}
	now := a.Now()
	if r.Email == "" {
		return a.noAddress(ctx, r, step, now)
	}
	if r.VerifiedAt != nil && IsVerificationStep(step) {
		// Verified before the link went out (an authorized agent vouched
		// for the address, or an officer verified by hand): a link to
		// confirm it again would only confuse the person.
		return a.notNeeded(ctx, r, step, now)
	}
	if IsVerificationStep(step) {
		n, err := VerificationEmailsToAddress(ctx, a.Store, r.Email, now.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if n >= MaxVerificationEmailsPerDay {
			detail := fmt.Sprintf("%s: not sent; %d verification emails went to this address in the last 24 hours", step, n)
			return a.refused(ctx, r.ID, step, detail, now)
		}
	}
	statusToken, err := a.mintToken(ctx, r.ID, store.PurposeStatus, now.Add(StatusLinkLifetime))
	if err != nil {
		return err
	}
	// Every email speaks the language the requester chose, stored with
	// the request: reading it here keeps the workflow unchanged.
	lang := i18n.Lang(r.Language).OrEnglish()
	p := a.Templates.Printer(lang)
	data := mail.Data{
		Organisation: a.Organisation,
		Contact:      a.Contact,
		Lang:         lang,
		Name:         r.Name,
		RequestID:    r.ID,
		TypeLabel:    p.MustT("type."+string(r.Type), nil),
		ReceivedAt:   p.DateTime(r.ReceivedAt),
		DueAt:        p.Date(r.DueAt),
		StatusLink:   a.BaseURL + "/status/" + statusToken,
		Reason:       r.DecisionReason,
		DuplicateOf:  r.DuplicateOf,
	}
	if !e.VerifyLinkExpires.IsZero() {
		token, err := a.mintToken(ctx, r.ID, store.PurposeVerify, e.VerifyLinkExpires)
		if err != nil {
			return err
		}
		data.Link = a.BaseURL + "/verify/" + token
		data.LinkExpires = p.DateTime(e.VerifyLinkExpires)
		// The same email carries a code, for a person who reads mail on
		// another device than the one with the status page; it expires
		// with the link.
		code, err := auth.NewCode()
		if err != nil {
			return err
		}
		if err := a.Store.AddVerifyCode(ctx, r.ID, code, e.VerifyLinkExpires, now); err != nil {
			return err
		}
		data.Code = code[:3] + " " + code[3:]
	}
	if e.Kind == mail.KindExtended {
		data.Reason = r.ExtensionReason
	}
	if e.Kind == mail.KindCompleted {
		if err := a.addFulfilment(ctx, r, p, &data); err != nil {
			return err
		}
	}
	if e.Kind == mail.KindHoldReleased {
		if err := a.addHoldsEnded(ctx, r, p, &data); err != nil {
			return err
		}
	}
	subject, text, html, err := a.Templates.Render(e.Kind, data)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMailRejected, err)
	}
	providerID, err := a.Mail.Send(ctx, mail.Message{
		To: r.Email, ToName: r.Name, Subject: subject, Text: text, HTML: html,
		RequestID: r.ID, Step: step,
	})
	if err != nil {
		a.Metrics.Failed.WithLabelValues(string(e.Kind)).Inc()
		a.Log.Warn("email not sent", "request_id", r.ID, "step", step, "error", err)
		if errors.Is(err, mail.ErrPermanent) {
			return a.refused(ctx, r.ID, step, step+": "+err.Error(), now)
		}
		return err
	}
	// The message is out. Its record must be written whatever the
	// database does meanwhile (a dropped connection, a failover): an
	// error here would have Temporal run the activity again, and the
	// retry, finding no record, would send the email a second time. The
	// record comes first; both writes are idempotent.
	a.Metrics.Sent.WithLabelValues(string(e.Kind)).Inc()
	if err := afterSend(ctx, func(ctx context.Context) error {
		return a.Store.RecordEmailSent(ctx, store.SentEmail{RequestID: r.ID, Step: step, ProviderID: providerID, SentAt: now})
	}); err != nil {
		return err
	}
	if err := afterSend(ctx, func(ctx context.Context) error { return a.Store.ClearMailFailure(ctx, r.ID, step) }); err != nil {
		return err
	}
	return a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem,
		Action: "email_sent", Detail: step, At: now})
}

// AfterSendRetryFor bounds how long the bookkeeping of a sent email is
// retried before the activity gives up (and its retry may send again).
const AfterSendRetryFor = 2 * time.Minute

// afterSend runs a store write that must follow a send, again and again
// with growing pauses until it succeeds or AfterSendRetryFor has passed.
// A stopping worker does not cut it short: the write is what keeps the
// email from going out twice.
func afterSend(ctx context.Context, write func(context.Context) error) error {
	keep := context.WithoutCancel(ctx)
	deadline := time.Now().Add(AfterSendRetryFor)
	pause := 100 * time.Millisecond
	for {
		err := write(keep)
		if err == nil || time.Now().Add(pause).After(deadline) {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Second)
	}
}

// NoAddressProvider is the provider ID recorded for an email step of a
// request that has no address: the step is done, nothing was sent.
const NoAddressProvider = "none: no address"

// AlreadyVerifiedProvider is the provider ID recorded for a verification
// email not sent because the request was verified before it was due.
const AlreadyVerifiedProvider = "none: already verified"

// noAddress passes over an email of a request an officer logged from a
// person who gave no address: the step is recorded as done so the
// workflow goes on, and the trail tells the officer to answer by the
// request's own channel.
func (a *Requests) noAddress(ctx context.Context, r *store.Request, step string, now time.Time) error {
	if err := a.Store.RecordEmailSent(ctx, store.SentEmail{RequestID: r.ID, Step: step, ProviderID: NoAddressProvider, SentAt: now}); err != nil {
		return err
	}
	return a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem, Action: "email_not_sent",
		Detail: step + ": the requester gave no email address; answer them by " + strings.ToLower(r.Channel.Label()), At: now})
}

// notNeeded records a verification email as done without sending it:
// the request was verified before it was due.
func (a *Requests) notNeeded(ctx context.Context, r *store.Request, step string, now time.Time) error {
	if err := a.Store.RecordEmailSent(ctx, store.SentEmail{RequestID: r.ID, Step: step, ProviderID: AlreadyVerifiedProvider, SentAt: now}); err != nil {
		return err
	}
	return a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem, Action: "email_not_sent",
		Detail: step + ": the identity was already verified by " + r.VerifiedBy, At: now})
}

// refused records an email the provider refused for good, or that the
// daily cap held back, where the officer sees it (the request's page and
// trail), and tells the workflow to go on without it: the officer can
// correct the address and send it again.
func (a *Requests) refused(ctx context.Context, requestID, step, detail string, now time.Time) error {
	if err := a.Store.MarkMailFailed(ctx, requestID, step, detail, now); err != nil {
		return err
	}
	if err := a.Store.Audit(ctx, store.AuditEvent{RequestID: requestID, Actor: store.ActorSystem, Action: "email_failed", Detail: detail, At: now}); err != nil {
		return err
	}
	return temporal.NewNonRetryableApplicationError(detail, ErrTypeMailRejected, nil)
}

// addFulfilment puts what fulfilment did into a completion email, in
// the requester's language: a fresh download link for a package, what
// was erased, what was corrected. System, table and column names are the
// organisation's own and stay as they are.
func (a *Requests) addFulfilment(ctx context.Context, r *store.Request, p *i18n.Printer, data *mail.Data) error {
	var f domain.Fulfilment
	ok, err := a.Store.Fulfilment(ctx, r.ID, &f)
	if err != nil || !ok {
		return err // a request completed before fulfilment existed has nothing to add
	}
	if f.Package != nil {
		token, err := a.mintToken(ctx, r.ID, store.PurposeDownload, f.Package.ExpiresAt)
		if err != nil {
			return err
		}
		data.DownloadLink = a.BaseURL + "/download/" + token
		data.DownloadExpires = p.DateTime(f.Package.ExpiresAt)
		data.Downloads = PackageDownloads
	}
	for _, e := range f.Erased {
		var parts []string
		add := func(id string, n int, extra map[string]any) {
			if n > 0 {
				parts = append(parts, p.MustN(id, n, extra))
			}
		}
		add("mail.completed.erased.deleted", e.Deleted, nil)
		add("mail.completed.erased.masked", e.Masked, nil)
		add("mail.completed.erased.kept", e.Kept, nil)
		if e.Retained > 0 {
			add("mail.completed.erased.retained", e.Retained, map[string]any{"Until": p.Date(e.RetainedUntil), "Basis": e.Basis})
		}
		add("mail.completed.erased.held", e.Held, nil)
		data.Erased = append(data.Erased, p.MustT("mail.completed.line", map[string]any{"Where": e.System + " / " + e.Table, "What": strings.Join(parts, "; ")}))
	}
	for _, ar := range f.Archives {
		switch {
		case ar.Rewritten:
			data.Archives = append(data.Archives, p.MustN("mail.completed.archive.rewritten", ar.Snapshots, map[string]any{"Archive": ar.Archive}))
		default:
			data.Archives = append(data.Archives, p.MustN("mail.completed.archive.kept", ar.Snapshots,
				map[string]any{"Archive": ar.Archive, "Until": p.Date(ar.GoneBy)}))
		}
	}
	for _, o := range f.OptedOut {
		where := map[string]any{"Where": o.System + " / " + o.Table}
		switch {
		case o.Held > 0:
			data.OptedOut = append(data.OptedOut, p.MustN("mail.completed.opted_out.held", o.Held, where))
		case o.Deleted:
			data.OptedOut = append(data.OptedOut, p.MustN("mail.completed.opted_out.removed", o.Rows, where))
		default:
			data.OptedOut = append(data.OptedOut, p.MustN("mail.completed.opted_out.off", o.Rows, where))
		}
	}
	for _, c := range f.Corrected {
		where := map[string]any{"Field": c.Field, "Where": c.System + " / " + c.Table + "." + c.Column}
		if c.Rows > 0 {
			data.Corrected = append(data.Corrected, p.MustN("mail.completed.corrected.line", c.Rows, where))
		}
		if c.Shared > 0 {
			data.Shared = append(data.Shared, p.MustN("mail.completed.corrected.line", c.Shared, where))
		}
	}
	for _, o := range f.Others {
		var what string
		switch {
		case o.Kind == "manual" && o.Note != "":
			what = p.MustT("mail.completed.others.manual_note", map[string]any{"Note": o.Note})
		case o.Kind == "manual":
			what = p.MustT("mail.completed.others.manual", nil)
		case o.Note != "":
			what = o.Note
		default:
			what = p.MustT("mail.completed.others.done", nil)
		}
		data.Others = append(data.Others, p.MustT("mail.completed.line", map[string]any{"Where": o.System, "What": what}))
	}
	data.Unmatched = f.Unmatched
	data.NothingFound = f.Rows == 0 && len(f.Unmatched) == 0 && len(f.Others) == 0
	return nil
}

// addHoldsEnded puts into the email sent once legal holds ended what
// erasing the held part did, table by table, and what the law still
// keeps of the person and until when, each table named in plain words:
// the data map's label (else its name made readable) and, for what is
// kept, the kinds of data it holds.
func (a *Requests) addHoldsEnded(ctx context.Context, r *store.Request, p *i18n.Printer, data *mail.Data) error {
	deferred, err := a.Store.DeferredAll(ctx, r.ID)
	if err != nil {
		return err
	}
	for _, d := range deferred {
		if d.Outcome == nil {
			continue
		}
		for _, t := range d.Outcome.Tables {
			var parts []string
			add := func(id string, n int) {
				if n > 0 {
					parts = append(parts, p.MustN(id, n, nil))
				}
			}
			add("mail.completed.erased.deleted", t.Deleted)
			add("mail.completed.erased.masked", t.Masked)
			add("mail.completed.erased.kept", t.Kept)
			if len(parts) == 0 {
				continue // kept by law: said below
			}
			data.Erased = append(data.Erased, p.MustT("mail.completed.line", map[string]any{"Where": a.tableWords(p, t.System, t.Table, false), "What": strings.Join(parts, "; ")}))
		}
	}
	rows, err := a.Store.RetainedRows(ctx, r.ID)
	if err != nil {
		return err
	}
	type kept struct {
		system, table, basis string
		rows                 int
		until                time.Time
	}
	var groups []kept
	for _, row := range rows {
		if row.PurgedAt != nil {
			continue
		}
		i := slices.IndexFunc(groups, func(g kept) bool {
			return g.system == row.SystemName && g.table == row.TableName && g.basis == row.Basis
		})
		if i < 0 {
			groups = append(groups, kept{system: row.SystemName, table: row.TableName, basis: row.Basis})
			i = len(groups) - 1
		}
		groups[i].rows++
		if row.Until.After(groups[i].until) {
			groups[i].until = row.Until
		}
	}
	for _, g := range groups {
		data.KeptByLaw = append(data.KeptByLaw, p.MustN("mail.hold_released.kept.line", g.rows, map[string]any{
			"Where": a.tableWords(p, g.system, g.table, true), "Until": p.Date(g.until), "Basis": g.basis,
		}))
	}
	return nil
}

// tableWords names a table for the requester: its label in the data map,
// else its name made readable, and with kinds set the kinds of personal
// data it holds ("Your invoices (Address, Name)").
func (a *Requests) tableWords(p *i18n.Printer, system, table string, kinds bool) string {
	var t *datamap.Table
	if a.Systems != nil && a.Systems.Map != nil {
		if s := a.Systems.Map.System(system); s != nil {
			t = s.Table(table)
		}
	}
	if t == nil {
		return datamap.Humanize(table)
	}
	title := t.Title(string(p.Lang))
	if !kinds {
		return title
	}
	var names []string
	for _, c := range t.CategoriesOf() {
		if name, err := p.T("report.category."+c, nil); err == nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return title
	}
	return p.MustT("mail.hold_released.what", map[string]any{"Title": title, "Kinds": strings.Join(names, ", ")})
}

// IsVerified reports whether the request's identity was verified. The
// workflow asks before expiring a request, in case the signal from the
// verification page never arrived.
func (a *Requests) IsVerified(ctx context.Context, requestID string) (bool, error) {
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return false, classify(err)
	}
	return r.VerifiedAt != nil, nil
}

func (a *Requests) mintToken(ctx context.Context, requestID string, purpose store.TokenPurpose, expires time.Time) (string, error) {
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	err = a.Store.AddToken(ctx, &store.RequestToken{
		RequestID: requestID, Purpose: purpose, Hash: hash, ExpiresAt: expires, CreatedAt: a.Now(),
	})
	return token, err
}

// classify turns store errors that retrying cannot fix into non-retryable
// application errors with a type name the workflow can check.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrInvalidTransition):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidTransition, err)
	case errors.Is(err, store.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotFound, err)
	}
	return err
}

// plural is the English noun for n, for officer alerts and the audit
// trail, which stay English.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatTime writes dates in officer alerts, which stay English.
func formatTime(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 MST") }
