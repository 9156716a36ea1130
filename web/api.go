package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// requestCreated is the answer to POST /api/v1/requests.
type requestCreated struct {
	ID         string             `json:"id"`
	Type       domain.RequestType `json:"type"`
	Status     domain.Status      `json:"status"`
	ReceivedAt time.Time          `json:"received_at"`
	DueAt      time.Time          `json:"due_at"`
	// Duplicate: the same request was submitted moments before; this is
	// that first request, and nothing new was stored.
	Duplicate bool `json:"duplicate,omitempty"`
	// Language is the language of every email to the requester.
	Language string `json:"language"`
}

func (s *Server) apiSubmit(c echo.Context) error {
	var nr domain.NewRequest
	if err := bindJSON(c, &nr); err != nil {
		return err
	}
	nr.GPC = gpcSignal(c)
	receipt, err := s.office.Submit(c.Request().Context(), nr)
	if err != nil {
		return err
	}
	r := receipt.Request
	code := http.StatusCreated
	if receipt.Duplicate {
		code = http.StatusOK // the first of identical submissions
	}
	return c.JSON(code, requestCreated{ID: r.ID, Type: r.Type, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, Duplicate: receipt.Duplicate, Language: r.Language})
}

// jsonMediaType reports whether a media type (lower case, without
// parameters) is JSON: application/json, or a structured +json type
// such as application/merge-patch+json (RFC 6839), never a look-alike
// such as application/jsonx.
func jsonMediaType(mt string) bool {
	if mt == echo.MIMEApplicationJSON {
		return true
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && len(sub) > len("+json") && strings.HasSuffix(sub, "+json")
}

// bindJSON decodes a JSON body strictly: unknown fields and trailing data
// are errors, so a misspelt field is not silently dropped.
func bindJSON(c echo.Context, v any) error {
	if mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); err != nil || !jsonMediaType(mt) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send a JSON body with Content-Type: application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var perr *time.ParseError
		if errors.As(err, &perr) {
			return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: a time must be in RFC 3339 form, such as 2026-05-04T09:30:00Z")
		}
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return err // the body limit's 413
		}
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: "+err.Error())
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

// officerRequest is a request as officers see it.
type officerRequest struct {
	ID          string              `json:"id"`
	Type        domain.RequestType  `json:"type"`
	Status      domain.Status       `json:"status"`
	Email       string              `json:"email"`
	Name        string              `json:"name"`
	Details     string              `json:"details,omitempty"`
	Corrections []domain.Correction `json:"corrections,omitempty"`
	ReceivedAt  time.Time           `json:"received_at"`
	DueAt       time.Time           `json:"due_at"`
	Regime      deadline.Regime     `json:"regime"`
	// Channel is how the request arrived: web, or for a request an
	// officer logged (LoggedBy), letter, phone, email or in_person.
	Channel  domain.Channel `json:"channel"`
	LoggedBy string         `json:"logged_by,omitempty"`
	// Assignee is the email of the officer working on the request.
	Assignee string `json:"assignee,omitempty"`
	// PossibleDuplicates are the other open requests of the same type
	// from the same verified address, oldest first; DuplicateOf the
	// request that continues once this one was closed as its duplicate.
	PossibleDuplicates []string `json:"possible_duplicates,omitempty"`
	DuplicateOf        string   `json:"duplicate_of,omitempty"`
	// AckDueAt is by when receipt must be confirmed (CCPA);
	// ExtensionNoticeBy by when an extension must be announced, and
	// ExtendedDueAt how far one can reach.
	AckDueAt          *time.Time `json:"ack_due_at,omitempty"`
	ExtensionNoticeBy *time.Time `json:"extension_notice_by,omitempty"`
	ExtendedDueAt     *time.Time `json:"extended_due_at,omitempty"`
	// ExtendedAt and ExtensionReason record the request's one extension.
	ExtendedAt      *time.Time `json:"extended_at,omitempty"`
	ExtensionReason string     `json:"extension_reason,omitempty"`
	// Overdue says the request is open past its due date; OverdueAt is
	// when it was escalated to the officers.
	Overdue    bool       `json:"overdue"`
	OverdueAt  *time.Time `json:"overdue_at,omitempty"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	VerifiedBy string     `json:"verified_by,omitempty"`
	// GPC is true when the requester's browser sent the Global Privacy
	// Control signal (Sec-GPC: 1) with the request.
	GPC bool `json:"gpc"`
	// Language is the requester's language, of every email to them.
	Language       string     `json:"language"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	DecisionReason string     `json:"decision_reason,omitempty"`
	// MailFailure is the last email the provider refused (or the daily
	// cap held back); POST .../resend-email sends it again.
	MailFailure *mailFailure `json:"mail_failure,omitempty"`
	// MailEvents are what SendGrid's Event Webhook reported of the
	// request's emails (delivered, bounce, dropped), by step.
	MailEvents []store.MailEvent `json:"mail_events,omitempty"`
	// ByEmail: the request arrived as an email, read at .../message.
	ByEmail  bool               `json:"by_email,omitempty"`
	Timeline []store.AuditEvent `json:"timeline,omitempty"`
	// Notes are the officers' internal notes, oldest first.
	Notes []store.Note `json:"notes,omitempty"`
	// Messages are the thread with the requester, oldest first.
	Messages []office.Message `json:"messages,omitempty"`
	// WithdrawalReason is the reason the requester gave for withdrawing.
	WithdrawalReason string `json:"withdrawal_reason,omitempty"`
	// Findings are what discovery found, for review before approval.
	Findings []store.Finding `json:"findings,omitempty"`
	// Tasks are the webhook and manual systems' parts of an approved
	// request.
	Tasks []store.Task `json:"tasks,omitempty"`
	// Fulfilment is what carrying out the approved request did.
	Fulfilment *domain.Fulfilment `json:"fulfilment,omitempty"`
	// Retained are the rows a deletion kept by law, with their basis and
	// end; Deferred the parts legal holds stopped, still held or erased
	// once the holds ended.
	Retained []store.RetainedGroup `json:"retained,omitempty"`
	Deferred []deferredPart        `json:"deferred,omitempty"`
	// Withheld is what officers withheld from the package before release;
	// ReleasedAt and ReleasedBy say when and by whom it was released.
	Withheld   []store.Withhold `json:"withheld,omitempty"`
	ReleasedAt *time.Time       `json:"released_at,omitempty"`
	ReleasedBy string           `json:"released_by,omitempty"`
}

// mailFailure is an email the provider refused for good.
type mailFailure struct {
	Step   string `json:"step"`
	Detail string `json:"detail"`
	// Event is the provider's later report (bounce, dropped), empty when
	// it refused the send itself.
	Event string     `json:"event,omitempty"`
	At    *time.Time `json:"at,omitempty"`
}

func toOfficerRequest(r *store.Request, now time.Time) officerRequest {
	var mf *mailFailure
	if r.MailFailedStep != "" {
		mf = &mailFailure{Step: r.MailFailedStep, Detail: r.MailFailure, Event: r.MailFailedEvent, At: r.MailFailedAt}
	}
	return officerRequest{
		MailFailure: mf,
		ExtendedAt:  r.ExtendedAt, ExtensionReason: r.ExtensionReason, Overdue: r.Overdue(now), OverdueAt: r.OverdueAt,
		ID: r.ID, Type: r.Type, Status: r.Status, Email: r.Email, Name: r.Name, Details: r.Details,
		Corrections: r.Corrections, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, VerifiedAt: r.VerifiedAt,
		Regime: r.Regime, AckDueAt: r.AckDueAt, ExtensionNoticeBy: r.ExtensionNoticeBy, ExtendedDueAt: r.ExtendedDueAt,
		VerifiedBy: r.VerifiedBy, ClosedAt: r.ClosedAt, DecisionReason: r.DecisionReason, GPC: r.GPC,
		Channel: cmp.Or(r.Channel, domain.ChannelWeb), LoggedBy: r.LoggedBy,
		Language: r.Language, ReleasedAt: r.ReleasedAt, ReleasedBy: r.ReleasedBy, DuplicateOf: r.DuplicateOf,
	}
}

func (s *Server) apiGetRequest(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.store.GetRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	out := toOfficerRequest(r, s.now())
	officers, err := s.officerEmails(ctx)
	if err != nil {
		return err
	}
	out.Assignee = assigneeOf(r, officers)
	if out.PossibleDuplicates, err = s.office.OpenDuplicates(ctx, r); err != nil {
		return err
	}
	if out.Timeline, err = s.store.Timeline(ctx, r.ID); err != nil {
		return err
	}
	if out.Notes, err = s.store.Notes(ctx, r.ID); err != nil {
		return err
	}
	if out.Messages, err = s.office.Messages(ctx, r.ID); err != nil {
		return err
	}
	if out.WithdrawalReason, err = s.office.WithdrawalReason(r); err != nil {
		return err
	}
	if out.Findings, out.Fulfilment, err = s.fulfilmentOf(ctx, r.ID); err != nil {
		return err
	}
	if out.Tasks, err = s.store.Tasks(ctx, r.ID); err != nil {
		return err
	}
	if out.Retained, out.Deferred, err = s.keptByLaw(ctx, r.ID); err != nil {
		return err
	}
	if out.MailEvents, err = s.store.MailEvents(ctx, r.ID); err != nil {
		return err
	}
	if out.Withheld, err = s.store.Withholds(ctx, r.ID); err != nil {
		return err
	}
	if _, err := s.store.InboundMessageOf(ctx, r.ID); err == nil {
		out.ByEmail = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiVerify records an officer's verification of the requester's
// identity, with how it was done and, optionally, the attachment that
// proves it.
func (s *Server) apiVerify(c echo.Context) error {
	var body struct {
		Evidence   string `json:"evidence"`
		Attachment string `json:"attachment"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.office.VerifyWithAttachment(c.Request().Context(), id, body.Evidence, body.Attachment, officerFrom(c).Email); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"id": id, "verified": true})
}

// apiApprove approves a request; a deletion or correction names the dry
// run it confirms ({"dry_run_id": ...}). A request with no body approves
// as before.
func (s *Server) apiApprove(c echo.Context) error {
	var body struct {
		DryRunID string `json:"dry_run_id"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
	}
	if body.DryRunID == "" {
		return s.apiDecide(c, true, "")
	}
	status, err := s.office.Confirm(c.Request().Context(), c.Param("id"), body.DryRunID, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "status": status})
}

func (s *Server) apiDeny(c echo.Context) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	return s.apiDecide(c, false, body.Reason)
}

// apiDecide answers the status a decision led to; 202 while it is still
// being carried out, 409 with the reason when it was refused (the error
// handler maps the office's errors).
func (s *Server) apiDecide(c echo.Context, approve bool, reason string) error {
	status, err := s.office.Decide(c.Request().Context(), c.Param("id"), approve, reason, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "status": status})
}

// apiExtend extends a request's deadline through its workflow.
func (s *Server) apiExtend(c echo.Context) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	due, err := s.office.Extend(c.Request().Context(), c.Param("id"), body.Reason, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "due_at": due})
}

// apiResendEmail sends again the emails the provider refused, after
// correcting the address when one is given.
func (s *Server) apiResendEmail(c echo.Context) error {
	var body struct {
		Email string `json:"email"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	res, err := s.office.ResendEmail(c.Request().Context(), c.Param("id"), body.Email, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "sent": orEmpty(res.Sent), "refused": orEmpty(res.Refused)})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// requireOfficer authenticates the bearer token of the officer API.
func (s *Server) requireOfficer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok || !auth.ValidTokenShape(token) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="dsar"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "a valid API token is required (Authorization: Bearer TOKEN)")
		}
		o, err := s.store.OfficerByTokenHash(c.Request().Context(), auth.HashToken(token), s.now())
		if errors.Is(err, store.ErrNotFound) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="dsar", error="invalid_token"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "a valid API token is required (Authorization: Bearer TOKEN)")
		}
		if err != nil {
			return err
		}
		c.Set(officerKey, o)
		return next(c)
	}
}

const officerKey = "officer"

func officerFrom(c echo.Context) *store.Officer { return c.Get(officerKey).(*store.Officer) }

// requireActor refuses viewers: they may read requests but not act.
func requireActor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !officerFrom(c).Role.CanAct() {
			return echo.NewHTTPError(http.StatusForbidden, "your role may read requests but not act on them")
		}
		return next(c)
	}
}

// fulfilmentOf reads what discovery found and what fulfilment did.
// keptByLaw is what a deletion left for retention periods and holds:
// the rows kept by law, and every part a hold deferred, still held or
// erased since.
func (s *Server) keptByLaw(ctx context.Context, requestID string) ([]store.RetainedGroup, []deferredPart, error) {
	retained, err := s.store.RetainedSummary(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	deferred, err := s.store.DeferredAll(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	parts := make([]deferredPart, 0, len(deferred))
	for _, d := range deferred {
		parts = append(parts, newDeferredPart(d))
	}
	return retained, parts, nil
}

// deferredPart is a part of a request a legal hold deferred, as the
// officer sees it: held while a hold stops it, erased once the holds
// ended, with what erasing it did.
type deferredPart struct {
	store.DeferredErasure
	// State is "held" or "erased".
	State string `json:"state"`
	// Done says what erasing it did, table by table ("support_tickets: 2
	// deleted"); empty while held, or for a part erased before dsar
	// recorded it.
	Done string `json:"done,omitempty"`
	// Summary says it all in one sentence.
	Summary string `json:"summary"`
}

// Deferred parts' states.
const (
	deferredHeld   = "held"
	deferredErased = "erased"
)

func newDeferredPart(d store.DeferredErasure) deferredPart {
	p := deferredPart{DeferredErasure: d, State: deferredHeld}
	holds := "legal hold " + strings.Join(d.HoldIDs, ", ")
	if len(d.HoldIDs) > 1 {
		holds = "legal holds " + strings.Join(d.HoldIDs, ", ")
	}
	if d.ResumedAt == nil {
		p.Summary = fmt.Sprintf("%s: %s, with the rows they refer to, wait for %s; erasure resumes when released",
			d.SystemName, strings.Join(d.Tables, ", "), holds)
		return p
	}
	p.State = deferredErased
	if d.Outcome != nil {
		var parts []string
		for _, t := range d.Outcome.Tables {
			var what []string
			for _, n := range []struct {
				n    int
				noun string
			}{{t.Deleted, "deleted"}, {t.Masked, "anonymised"}, {t.Kept, "kept (shared)"}, {t.Retained, "kept by law until " + t.RetainedUntil.UTC().Format("2 January 2006")}} {
				if n.n > 0 {
					what = append(what, fmt.Sprintf("%d %s", n.n, n.noun))
				}
			}
			parts = append(parts, t.Table+": "+strings.Join(what, ", "))
		}
		p.Done = strings.Join(parts, "; ")
	}
	p.Summary = fmt.Sprintf("%s: %s, with the rows they refer to, erased on %s after %s ended",
		d.SystemName, strings.Join(d.Tables, ", "), d.ResumedAt.UTC().Format("2 January 2006"), holds)
	if p.Done != "" {
		p.Summary += " (" + p.Done + ")"
	}
	return p
}

func (s *Server) fulfilmentOf(ctx context.Context, requestID string) ([]store.Finding, *domain.Fulfilment, error) {
	findings, err := s.store.Findings(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	var f domain.Fulfilment
	ok, err := s.store.Fulfilment(ctx, requestID, &f)
	if err != nil || !ok {
		return findings, nil, err
	}
	return findings, &f, nil
}
