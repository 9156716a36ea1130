package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// PasswordResetTTL is how long an emailed password reset link works.
const PasswordResetTTL = 30 * time.Minute

// maxPasswordLen bounds a new password, as `dsar officer add` does.
const maxPasswordLen = 1024

type passwordPage struct {
	chrome  // empty: nobody is signed in
	CSRF    string
	Token   string // the reset link's token, carried in the form
	Email   string
	Sent    bool   // the forgot form was sent
	Message string // a problem, shown as an alert
}

// formCSRF starts a signed-out form: a token in a cookie and in the form.
func (s *Server) formCSRF(c echo.Context) (string, error) {
	token, _, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	s.setCookie(c, loginCSRFCookie, token, 3600)
	return token, nil
}

// csrfOK checks a signed-out form's token against its cookie.
func csrfOK(c echo.Context) bool {
	cookie, err := c.Cookie(loginCSRFCookie)
	return err == nil && sameToken(cookie.Value, c.FormValue("csrf"))
}

func (s *Server) showForgotPassword(c echo.Context) error {
	if s.mail == nil {
		return echo.NewHTTPError(http.StatusNotFound, "password resets by email are off here; ask an admin")
	}
	token, err := s.formCSRF(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "officer/forgot", passwordPage{CSRF: token})
}

// forgotPassword emails a reset link to the address if it belongs to an
// active officer. The answer is the same either way, so the form tells
// no one who is an officer; it is rate limited like sign-in.
func (s *Server) forgotPassword(c echo.Context) error {
	if s.mail == nil {
		return echo.NewHTTPError(http.StatusNotFound, "password resets by email are off here; ask an admin")
	}
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	page := passwordPage{CSRF: c.FormValue("csrf"), Email: email}
	if !csrfOK(c) {
		page.Message = "This form expired. Please try again."
		return s.render(c, http.StatusForbidden, "officer/forgot", page)
	}
	if !s.loginLimit.allow(c.RealIP(), s.now()) {
		c.Response().Header().Set("Retry-After", "60")
		page.Message = "Too many attempts. Please wait a minute and try again."
		return s.render(c, http.StatusTooManyRequests, "officer/forgot", page)
	}
	if email == "" || !strings.Contains(email, "@") || len(email) > 320 {
		page.Message = "Enter the email address you sign in with."
		return s.render(c, http.StatusBadRequest, "officer/forgot", page)
	}
	ctx := c.Request().Context()
	o, err := s.store.OfficerByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.log.Info("password reset asked for an address that is no officer's")
	case err != nil:
		return err
	case !o.Active():
		s.log.Info("password reset asked for a disabled officer", "officer_id", o.ID)
	case o.SSO():
		s.log.Info("password reset asked for an officer who signs in with single sign-on", "officer_id", o.ID)
	default:
		// Sent after the answer, so the answer takes as long and reads
		// the same whether or not the address is an officer's.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := s.sendReset(ctx, o); err != nil {
				s.log.Warn("password reset link not sent", "officer_id", o.ID, "error", err)
			}
		}()
	}
	page.Sent = true
	return s.render(c, http.StatusOK, "officer/forgot", page)
}

// sendReset stores a new reset link for the officer and emails it.
func (s *Server) sendReset(ctx context.Context, o *store.Officer) error {
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(PasswordResetTTL)
	if err := s.store.CreatePasswordReset(ctx, o.ID, hash, now, expires); err != nil {
		return err
	}
	subject, text, html, err := s.templates.Render(mail.KindOfficerPasswordReset, mail.Data{
		Organisation: s.cfg.Organisation, Link: s.cfg.BaseURL + "/officer/password/reset/" + token,
		LinkExpires: expires.UTC().Format("2 January 2006, 15:04 MST"),
	})
	if err != nil {
		return err
	}
	if _, err := s.mail.Send(ctx, mail.Message{To: o.Email, Subject: subject, Text: text, HTML: html, Step: string(mail.KindOfficerPasswordReset)}); err != nil {
		return err
	}
	s.log.Info("password reset link sent", "officer_id", o.ID)
	return nil
}

// showResetPassword opens a reset link: a form for the new password.
// Opening it changes nothing, so a mail scanner that follows links
// spends nothing.
func (s *Server) showResetPassword(c echo.Context) error {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return s.render(c, http.StatusNotFound, "officer/reset", passwordPage{Message: "This link is not a password reset link."})
	}
	if _, err := s.store.PasswordResetFor(c.Request().Context(), auth.HashToken(token), s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return s.render(c, http.StatusGone, "officer/reset", passwordPage{Message: "This link was used already or has expired. Ask for a new one."})
		}
		return err
	}
	csrf, err := s.formCSRF(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "officer/reset", passwordPage{CSRF: csrf, Token: token})
}

// resetPassword sets the new password with the link's token, once.
func (s *Server) resetPassword(c echo.Context) error {
	token := c.FormValue("token")
	page := passwordPage{CSRF: c.FormValue("csrf"), Token: token}
	if !csrfOK(c) {
		page.Message = "This form expired. Open the link from the email again."
		return s.render(c, http.StatusForbidden, "officer/reset", page)
	}
	if !auth.ValidTokenShape(token) {
		page.Message = "This form does not carry a password reset link."
		return s.render(c, http.StatusBadRequest, "officer/reset", page)
	}
	password := c.FormValue("password")
	switch {
	case len(password) < auth.MinPasswordLen:
		page.Message = fmt.Sprintf("Choose a password of at least %d characters.", auth.MinPasswordLen)
	case len(password) > maxPasswordLen:
		page.Message = "That password is too long."
	case password != c.FormValue("confirm"):
		page.Message = "The two passwords differ. Type the same one twice."
	}
	if page.Message != "" {
		return s.render(c, http.StatusBadRequest, "officer/reset", page)
	}
	hashed, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	o, err := s.store.UsePasswordReset(c.Request().Context(), auth.HashToken(token), hashed, s.now())
	if errors.Is(err, store.ErrNotFound) {
		page.Message = "This link was used already or has expired. Ask for a new one."
		page.Token = ""
		return s.render(c, http.StatusGone, "officer/reset", page)
	}
	if err != nil {
		return err
	}
	s.log.Info("password reset", "officer_id", o.ID)
	return c.Redirect(http.StatusSeeOther, "/officer/login?reset=1")
}
