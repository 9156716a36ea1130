package web

import (
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
	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/store"
)

// correctionRows is how many correction rows the form offers.
const correctionRows = 3

// fieldError is one problem in the form's error summary, linking to the
// field it is about.
type fieldError struct {
	ID      string
	Message string
}

type formPage struct {
	Types  []domain.RequestType
	Form   domain.NewRequest
	Errors map[string]string
	// Summary lists the problems in the order of the form.
	Summary []fieldError
	// Lang is the page's language, chosen in the form's language list.
	Lang i18n.Lang
}

func newFormPage(p *i18n.Printer, f domain.NewRequest, errs map[string]string) formPage {
	page := formPage{Form: f, Errors: map[string]string{}, Types: domain.RequestTypes, Lang: p.Lang}
	for k, msg := range errs {
		page.Errors[k] = formMessage(p, k, msg)
	}
	for len(page.Form.Corrections) < correctionRows {
		page.Form.Corrections = append(page.Form.Corrections, domain.Correction{})
	}
	add := func(key, id string) {
		if msg, ok := page.Errors[key]; ok {
			page.Summary = append(page.Summary, fieldError{ID: id, Message: msg})
		}
	}
	add("type", "type-"+string(domain.RequestTypes[0]))
	add("corrections", "cf0")
	for i := range page.Form.Corrections {
		add(fmt.Sprintf("corrections[%d].field", i), fmt.Sprintf("cf%d", i))
		add(fmt.Sprintf("corrections[%d].value", i), fmt.Sprintf("cv%d", i))
	}
	add("name", "name")
	add("email", "email")
	add("details", "details")
	add("regime", "regime")
	add("language", "language")
	return page
}

// formMessage is a validation message in the form reader's language.
// The domain's messages are English, for API clients; each is looked up
// here by what it says, and one this table does not know is shown as it
// is rather than lost.
func formMessage(p *i18n.Printer, field, msg string) string {
	var n int
	switch {
	case field == "type":
		return p.MustT("form.error.type", nil)
	case field == "regime":
		return p.MustT("form.error.regime", nil)
	case field == "language":
		return p.MustT("form.error.language", nil)
	case msg == "enter your name":
		return p.MustT("form.error.name_missing", nil)
	case msg == "enter your email address":
		return p.MustT("form.error.email_missing", nil)
	case msg == "enter an email address like name@example.com":
		return p.MustT("form.error.email_invalid", nil)
	case msg == domain.ErrNotText.Error():
		return p.MustT("form.error.not_text", nil)
	case msg == domain.ErrNotOneLine.Error():
		return p.MustT("form.error.not_one_line", nil)
	case msg == "use plain text, without control characters":
		return p.MustT("form.error.control_chars", nil)
	case msg == "say which value to correct and what it should be":
		return p.MustT("form.error.corrections_missing", nil)
	case msg == "corrections belong only to a correction request":
		return p.MustT("form.error.corrections_not_allowed", nil)
	case msg == "say which value to correct":
		return p.MustT("form.error.field_missing", nil)
	case msg == "give the correct value":
		return p.MustT("form.error.value_missing", nil)
	case msg == domain.ErrPhoneInternational.Error():
		return p.MustT("form.error.phone_international", nil)
	case msg == domain.ErrPhoneInvalid.Error():
		return p.MustT("form.error.phone_invalid", nil)
	case msg == domain.ErrCorrectionEmail.Error():
		return p.MustT("form.error.correction_email", nil)
	}
	var region string
	if _, err := fmt.Sscanf(msg, strings.Replace(domain.PhoneInvalidInRegion, "%s;", "%2s;", 1), &region); err == nil {
		return p.MustT("form.error.phone_invalid_region", map[string]any{"Region": region})
	}
	if _, err := fmt.Sscanf(msg, "use at most %d characters", &n); err == nil {
		return p.MustT("form.error.too_long", map[string]any{"Max": n})
	}
	if _, err := fmt.Sscanf(msg, "at most %d characters", &n); err == nil {
		return p.MustT("form.error.too_long", map[string]any{"Max": n})
	}
	if _, err := fmt.Sscanf(msg, "at most %d corrections in one request", &n); err == nil {
		return p.MustT("form.error.corrections_too_many", map[string]any{"Max": n})
	}
	return sentence(msg)
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

// pageLang is the language of a page that belongs to no request yet: the
// choice made (the form's list, or ?lang= from its language links), else
// the browser's Accept-Language, else English.
func pageLang(c echo.Context, choice string) i18n.Lang {
	return i18n.Negotiate(choice, c.Request().Header.Get("Accept-Language"))
}

// requestLang is the language a request was made in: its pages speak it
// whatever the browser that opens a link prefers.
func requestLang(r *store.Request) i18n.Lang { return i18n.Lang(r.Language).OrEnglish() }

func (s *Server) showForm(c echo.Context) error {
	lang := pageLang(c, c.QueryParam("lang"))
	var nr domain.NewRequest
	// A browser sending Global Privacy Control asks not to have the
	// person's data sold or shared: the form offers that request first.
	if gpcSignal(c) {
		nr.GPC, nr.Type = true, domain.TypeOptOut
	}
	return s.renderPublic(c, http.StatusOK, "form", lang, newFormPage(s.catalogue.Printer(lang), nr, nil))
}

// gpcSignal reports whether the browser sent the Global Privacy Control
// signal (Sec-GPC: 1, the only value the specification defines).
func gpcSignal(c echo.Context) bool {
	return strings.TrimSpace(c.Request().Header.Get("Sec-GPC")) == "1"
}

// submitForm takes the HTML form. Bad input shows the form again with the
// values kept and each problem next to its field.
func (s *Server) submitForm(c echo.Context) error {
	// The language chosen on the form is the request's: every later page
	// and email to the requester uses it.
	lang := pageLang(c, c.FormValue("language"))
	nr := domain.NewRequest{
		Language: string(lang),
		GPC:      gpcSignal(c),
		Type:     domain.RequestType(c.FormValue("type")),
		Name:     c.FormValue("name"),
		Email:    c.FormValue("email"),
		Details:  c.FormValue("details"),
		Regime:   deadline.Regime(c.FormValue("regime")),
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
		return s.renderPublic(c, http.StatusBadRequest, "form", lang, newFormPage(s.catalogue.Printer(lang), shown, verr.Fields))
	}
	if err != nil {
		return err
	}
	if receipt.Duplicate {
		return s.renderPublic(c, http.StatusOK, "receipt", lang, receipt)
	}
	return s.renderPublic(c, http.StatusCreated, "receipt", lang, receipt)
}

type verifyPage struct {
	// Title and Message are catalogue IDs; ID is the request's reference
	// the message may name.
	Title   string
	Message string
	ID      string
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
	return s.renderPublic(c, http.StatusOK, "verify", requestLang(r), verifyPage{
		Title: "verify.confirm.title", Message: "verify.confirm.message", ID: r.ID, Token: token,
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
	s.office.TellVerified(ctx, r.ID, store.ActorRequester)
	return s.renderPublic(c, http.StatusOK, "verify", requestLang(r), verifyPage{
		Title: "verify.done.title", Message: "verify.done.message", ID: r.ID,
	})
}

// verifyFailed answers a verification link that cannot be used, in the
// browser's language: a used or expired link names no request.
func (s *Server) verifyFailed(c echo.Context, err error) error {
	lang := pageLang(c, "")
	switch {
	case errors.Is(err, store.ErrTokenUsed):
		return s.renderPublic(c, http.StatusConflict, "verify", lang, verifyPage{
			Title: "verify.used.title", Message: "verify.used.message",
		})
	case errors.Is(err, store.ErrTokenExpired):
		return s.renderPublic(c, http.StatusGone, "verify", lang, verifyPage{
			Title: "verify.expired.title", Message: "verify.expired.message",
		})
	case errors.Is(err, store.ErrNotFound):
		return errNotFoundPage
	}
	return err
}

type statusPage struct {
	Request *store.Request
	Token   string
	// Confirmed is set right after the code confirmed the address.
	Confirmed bool
	// CodeError says why a typed code did not confirm the address.
	CodeError string
	statusView
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
	page, err := s.statusPageOf(c, r)
	if err != nil {
		return err
	}
	return s.renderPublic(c, http.StatusOK, "status", requestLang(r), page)
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
	p := s.catalogue.Printer(requestLang(r))
	code, ok := auth.NormalizeCode(c.Request().PostFormValue("code"))
	if !ok {
		return s.renderStatus(c, http.StatusBadRequest, r.ID, func(pg *statusPage) { pg.CodeError = p.MustT("code.error.shape", nil) })
	}
	ctx := c.Request().Context()
	verified, err := s.store.VerifyByCode(ctx, r.ID, code, s.now())
	var wrong *store.WrongCodeError
	var codeError string
	status := http.StatusOK
	switch {
	case errors.As(err, &wrong) && wrong.Left > 0:
		status, codeError = http.StatusBadRequest, p.MustN("code.error.wrong", wrong.Left, nil)
	case errors.As(err, &wrong), errors.Is(err, store.ErrCodeLocked):
		status, codeError = http.StatusTooManyRequests, p.MustT("code.error.locked", nil)
	case errors.Is(err, store.ErrTokenExpired):
		status, codeError = http.StatusGone, p.MustT("code.error.expired", nil)
	case errors.Is(err, store.ErrTokenUsed):
		status = http.StatusConflict // already confirmed: the page says so
	case err != nil:
		return err
	default:
		s.office.TellVerified(ctx, r.ID, store.ActorRequester)
		return s.renderStatus(c, http.StatusOK, verified.ID, func(pg *statusPage) { pg.Confirmed = true })
	}
	return s.renderStatus(c, status, r.ID, func(pg *statusPage) { pg.CodeError = codeError })
}
