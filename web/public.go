package web

import (
	"errors"
	"net/http"

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
}

type formPage struct {
	Types  []typeOption
	Form   domain.NewRequest
	Errors map[string]string
}

func newFormPage(f domain.NewRequest, errs map[string]string) formPage {
	p := formPage{Form: f, Errors: errs}
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	for _, t := range domain.RequestTypes {
		p.Types = append(p.Types, typeOption{Value: t, Label: t.Label()})
	}
	for len(p.Form.Corrections) < correctionRows {
		p.Form.Corrections = append(p.Form.Corrections, domain.Correction{})
	}
	return p
}

func (s *Server) showForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "form", newFormPage(domain.NewRequest{}, nil))
}

// submitForm takes the HTML form. Bad input shows the form again with the
// values kept and each problem next to its field.
func (s *Server) submitForm(c echo.Context) error {
	nr := domain.NewRequest{
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
}

// verify uses a single-use verification link. The verification is stored
// before the workflow is told, so a Temporal outage loses nothing.
func (s *Server) verify(c echo.Context) error {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return errNotFoundPage
	}
	ctx := c.Request().Context()
	r, err := s.store.VerifyByToken(ctx, auth.HashToken(token), s.now())
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
	case err != nil:
		return err
	}
	if err := s.office.SignalVerified(ctx, r.ID, store.ActorRequester); err != nil {
		s.log.Warn("verification stored; signal deferred", "request_id", r.ID, "error", err)
	}
	return s.render(c, http.StatusOK, "verify", verifyPage{
		Title:   "Thank you, your email address is confirmed",
		Message: "Our privacy team will now review your request " + r.ID + ". We will email you the outcome.",
	})
}

type statusPage struct {
	Request *store.Request
}

func (s *Server) status(c echo.Context) error {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return errNotFoundPage
	}
	r, err := s.store.RequestByToken(c.Request().Context(), store.PurposeStatus, auth.HashToken(token), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTokenExpired) {
		return errNotFoundPage
	}
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "status", statusPage{Request: r})
}
