package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// correctionRows is how many correction rows the form offers.
const correctionRows = 3

type typeOption struct {
	Value domain.RequestType
	Label string
	Hint  string
}

// typeHints say in plain words what each kind of request gets.
var typeHints = map[domain.RequestType]string{
	domain.TypeAccess:     "See what personal data we hold about you, why, and who we share it with.",
	domain.TypeCorrection: "Fix personal data we hold about you that is wrong or incomplete.",
	domain.TypeDeletion:   "Have us erase the personal data we hold about you, where the law allows.",
	domain.TypeExport:     "Get your data in a file you can take to another service.",
	domain.TypeOptOut:     "Stop our marketing to you, and stop us selling or sharing your personal information.",
}

// formMessages replace the validation messages that name internal values
// (meant for API clients) with words for the form's reader.
var formMessages = map[string]string{
	"type":   "Choose what you would like us to do.",
	"regime": "Choose one of the laws in the list, or “Not sure”.",
}

// fieldError is one problem in the form's error summary, linking to the
// field it is about.
type fieldError struct {
	ID      string
	Message string
}

type formPage struct {
	Types  []typeOption
	Form   domain.NewRequest
	Errors map[string]string
	// Summary lists the problems in the order of the form.
	Summary []fieldError
}

func newFormPage(f domain.NewRequest, errs map[string]string) formPage {
	p := formPage{Form: f, Errors: map[string]string{}}
	for k, msg := range errs {
		if human, ok := formMessages[k]; ok {
			msg = human
		}
		p.Errors[k] = sentence(msg)
	}
	for _, t := range domain.RequestTypes {
		p.Types = append(p.Types, typeOption{Value: t, Label: t.Label(), Hint: typeHints[t]})
	}
	for len(p.Form.Corrections) < correctionRows {
		p.Form.Corrections = append(p.Form.Corrections, domain.Correction{})
	}
	add := func(key, id string) {
		if msg, ok := p.Errors[key]; ok {
			p.Summary = append(p.Summary, fieldError{ID: id, Message: msg})
		}
	}
	add("type", "type-"+string(domain.RequestTypes[0]))
	add("corrections", "cf0")
	for i := range p.Form.Corrections {
		add(fmt.Sprintf("corrections[%d].field", i), fmt.Sprintf("cf%d", i))
		add(fmt.Sprintf("corrections[%d].value", i), fmt.Sprintf("cv%d", i))
	}
	add("name", "name")
	add("email", "email")
	add("details", "details")
	add("regime", "regime")
	return p
}

// sentence starts a message with a capital and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func (s *Server) showForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "form", newFormPage(domain.NewRequest{}, nil))
}

// gpcSignal reports whether the browser sent the Global Privacy Control
// signal (Sec-GPC: 1, the only value the specification defines).
func gpcSignal(c echo.Context) bool {
	return strings.TrimSpace(c.Request().Header.Get("Sec-GPC")) == "1"
}

// submitForm takes the HTML form. Bad input shows the form again with the
// values kept and each problem next to its field.
func (s *Server) submitForm(c echo.Context) error {
	nr := domain.NewRequest{
		GPC:     gpcSignal(c),
		Type:    domain.RequestType(c.FormValue("type")),
		Name:    c.FormValue("name"),
		Email:   c.FormValue("email"),
		Details: c.FormValue("details"),
		Regime:  deadline.Regime(c.FormValue("regime")),
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	fields, values := form["correction_field"], form["correction_value"]
	for i := 0; i < len(fields) || i < len(values); i++ {
		var cor domain.Correction
		if i < len(fields) {
			cor.Field = fields[i]
		}
		if i < len(values) {
			cor.Value = values[i]
		}
		nr.Corrections = append(nr.Corrections, cor)
	}
	// The correction fields are hidden unless correction is chosen, but
	// browsers still send what was typed there before another choice.
	if nr.Type != domain.TypeCorrection {
		nr.Corrections = nil
	}
	shown := nr
	receipt, err := s.office.Submit(c.Request().Context(), nr)
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		return s.render(c, http.StatusBadRequest, "form", newFormPage(shown, verr.Fields))
	}
	if err != nil {
		return err
	}
	if receipt.Duplicate {
		return s.render(c, http.StatusOK, "receipt", receipt)
	}
	return s.render(c, http.StatusCreated, "receipt", receipt)
}

type verifyPage struct {
	Title   string
	Message string
	// Token, when set, is the link's token, which the page's button posts
	// back: opening the link only shows the button.
	Token string
}

// showVerify is the page a verification link opens: a button that
// confirms. It changes nothing, so a mail scanner or link preview that
// fetches the link verifies no one; only the button's POST does.
func (s *Server) showVerify(c echo.Context) error {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return errNotFoundPage
	}
	r, err := s.store.CheckVerifyToken(c.Request().Context(), auth.HashToken(token), s.now())
	if err != nil {
		return s.verifyFailed(c, err)
	}
	return s.render(c, http.StatusOK, "verify", verifyPage{
		Title:   "Confirm your email address",
		Message: "Press the button to confirm that you made request " + r.ID + " and that this email address is yours.",
		Token:   token,
	})
}

// verify uses a single-use verification link, posted by the button of the
// page the link opens; the token travels in the form body (never the
// URL, where it could be logged or replayed from history), and being
// unguessable it is what keeps another site from posting it. The
// verification is stored before the workflow is told, so a Temporal outage
// loses nothing.
func (s *Server) verify(c echo.Context) error {
	token := c.Request().PostFormValue("token")
	if !auth.ValidTokenShape(token) {
		return errNotFoundPage
	}
	ctx := c.Request().Context()
	r, err := s.store.VerifyByToken(ctx, auth.HashToken(token), s.now())
	if err != nil {
		return s.verifyFailed(c, err)
	}
	s.signalVerified(ctx, r.ID)
	return s.render(c, http.StatusOK, "verify", verifyPage{
		Title:   "Thank you, your email address is confirmed",
		Message: "Our privacy team will now review your request " + r.ID + ". We will email you the outcome.",
	})
}

// verifyFailed answers a verification link that cannot be used.
func (s *Server) verifyFailed(c echo.Context, err error) error {
	switch {
	case errors.Is(err, store.ErrTokenUsed):
		return s.render(c, http.StatusConflict, "verify", verifyPage{
			Title:   "This link was already used",
			Message: "Your email address is already confirmed. We will email you about the next steps.",
		})
	case errors.Is(err, store.ErrTokenExpired):
		return s.render(c, http.StatusGone, "verify", verifyPage{
			Title:   "This link has expired",
			Message: "The time to confirm this request has passed. You can make a new request at any time.",
		})
	case errors.Is(err, store.ErrNotFound):
		return errNotFoundPage
	}
	return err
}

// signalVerified tells the workflow a stored verification; if it cannot
// be told now, the recovery loop tells it later.
func (s *Server) signalVerified(ctx context.Context, requestID string) {
	if err := s.office.SignalVerified(ctx, requestID, store.ActorRequester); err != nil {
		s.log.Warn("verification stored; signal deferred", "request_id", requestID, "error", err)
	}
}

type statusPage struct {
	Request *store.Request
	Token   string
	// Confirmed is set right after the code confirmed the address.
	Confirmed bool
	// CodeError says why a typed code did not confirm the address.
	CodeError string
}

// CodeForm reports whether the page offers to type the emailed code.
func (p statusPage) CodeForm() bool {
	r := p.Request
	return r.VerifiedAt == nil && r.Status == domain.StatusVerifying && r.VerifyCodeFailures < store.MaxCodeFailures
}

// CodeLocked reports whether wrong codes have locked the request's codes.
func (p statusPage) CodeLocked() bool {
	r := p.Request
	return r.VerifiedAt == nil && r.Status == domain.StatusVerifying && r.VerifyCodeFailures >= store.MaxCodeFailures
}

// requestByStatusLink finds the request of a status link; unknown,
// malformed and expired links read as not found.
func (s *Server) requestByStatusLink(c echo.Context) (*store.Request, error) {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return nil, errNotFoundPage
	}
	r, err := s.store.RequestByToken(c.Request().Context(), store.PurposeStatus, auth.HashToken(token), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTokenExpired) {
		return nil, errNotFoundPage
	}
	return r, err
}

func (s *Server) status(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "status", statusPage{Request: r, Token: c.Param("token")})
}

// confirmByCode takes the six-digit code from a verification email, typed
// on the status page by someone who reads their mail on another device. A
// code of the wrong shape is refused without counting; a wrong code
// verifies nothing and counts towards the lock (store.MaxCodeFailures);
// the right one verifies as the link does.
func (s *Server) confirmByCode(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	page := statusPage{Request: r, Token: c.Param("token")}
	code, ok := auth.NormalizeCode(c.Request().PostFormValue("code"))
	if !ok {
		page.CodeError = "Enter the six digits of the code in the email, for example 123 456."
		return s.render(c, http.StatusBadRequest, "status", page)
	}
	ctx := c.Request().Context()
	verified, err := s.store.VerifyByCode(ctx, r.ID, code, s.now())
	var wrong *store.WrongCodeError
	status := http.StatusOK
	switch {
	case errors.As(err, &wrong) && wrong.Left > 0:
		status, page.CodeError = http.StatusBadRequest, "That code is not right. Check the code in the email and try again: "+triesLeft(wrong.Left)+"."
	case errors.As(err, &wrong), errors.Is(err, store.ErrCodeLocked):
		status, page.CodeError = http.StatusTooManyRequests, "That code is not right, and too many wrong codes were typed, so codes no longer work for this request. Please open the link in the email instead: it still works."
	case errors.Is(err, store.ErrTokenExpired):
		status, page.CodeError = http.StatusGone, "This code has expired. The time to confirm this request has passed; you can make a new request at any time."
	case errors.Is(err, store.ErrTokenUsed):
		status = http.StatusConflict // already confirmed: the page says so
	case err != nil:
		return err
	default:
		page.Request, page.Confirmed = verified, true
		s.signalVerified(ctx, r.ID)
		return s.render(c, http.StatusOK, "status", page)
	}
	if page.Request, err = s.store.GetRequest(ctx, r.ID); err != nil {
		return err
	}
	return s.render(c, status, "status", page)
}

func triesLeft(n int) string {
	if n == 1 {
		return "one try left"
	}
	return fmt.Sprintf("%d tries left", n)
}
