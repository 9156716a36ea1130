package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

// Two-factor sign-in. After the right password, an officer with TOTP gets
// no session but a pending sign-in: a cookie naming the officer, valid for
// pendingSigninTTL and signed with a key derived from DSAR_SECRET_KEY. Only
// the code step (a TOTP code or a recovery code) turns it into a session.
// A wrong code counts toward the same backoff as a wrong password; a code
// is accepted once (the store remembers the last time step used).
const (
	pendingSigninCookie = "dsar_signin_pending"
	pendingSigninTTL    = 5 * time.Minute
)

type loginCodePage struct {
	chrome  // empty: nobody is signed in yet
	CSRF    string
	Next    string
	Message string
}

// setPendingSignin gives the browser its pending sign-in: officer ID,
// expiry and a nonce, with a keyed hash over them and the officer's
// password hash, so a password reset voids a pending sign-in made with
// the old password.
func (s *Server) setPendingSignin(c echo.Context, o *store.Officer) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := strconv.FormatInt(o.ID, 10)
	exp := strconv.FormatInt(s.now().Add(pendingSigninTTL).Unix(), 10)
	nonce := hex.EncodeToString(b)
	value := id + "." + exp + "." + nonce + "." + s.sealer.Hash("pending-signin", id, exp, nonce, o.PasswordHash)
	s.setCookiePath(c, pendingSigninCookie, value, "/officer/login", int(pendingSigninTTL.Seconds()))
}

// pendingSignin reads the pending sign-in: the officer, still active and
// with TOTP on, or nil when there is none, it expired or was forged.
func (s *Server) pendingSignin(c echo.Context) (*store.Officer, error) {
	cookie, err := c.Cookie(pendingSigninCookie)
	if err != nil || s.sealer == nil {
		return nil, nil
	}
	parts := strings.Split(cookie.Value, ".")
	if len(parts) != 4 {
		return nil, nil
	}
	exp, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[0], 10, 64)
	if err1 != nil || err2 != nil || !s.now().Before(time.Unix(exp, 0)) {
		return nil, nil
	}
	o, err := s.store.OfficerByID(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	good := false
	for _, want := range s.sealer.Hashes("pending-signin", parts[0], parts[1], parts[2], o.PasswordHash) {
		good = good || sameToken(parts[3], want)
	}
	if !good || !o.Active() || !o.HasTOTP() {
		return nil, nil
	}
	return o, nil
}

func (s *Server) showLoginCode(c echo.Context) error {
	o, err := s.pendingSignin(c)
	if err != nil {
		return err
	}
	if o == nil {
		return c.Redirect(http.StatusSeeOther, "/officer/login")
	}
	return s.renderLoginCode(c, http.StatusOK, loginCodePage{Next: safeNext(c.QueryParam("next"))})
}

// loginCode is the second step: a current TOTP code or an unused recovery
// code turns the pending sign-in into a session.
func (s *Server) loginCode(c echo.Context) error {
	page := loginCodePage{Next: safeNext(c.FormValue("next"))}
	cookie, err := c.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(cookie.Value, c.FormValue("csrf")) {
		page.Message = "Your sign-in form expired. Please try again."
		return s.renderLoginCode(c, http.StatusForbidden, page)
	}
	o, err := s.pendingSignin(c)
	if err != nil {
		return err
	}
	if o == nil {
		return s.renderLoginAgain(c, http.StatusUnauthorized, loginPage{Next: page.Next,
			Message: "Your sign-in took too long or has ended. Please enter your password again."})
	}
	if !s.loginLimit.allow(c.RealIP(), s.now()) {
		c.Response().Header().Set("Retry-After", "60")
		page.Message = "Too many attempts. Please wait a minute and try again."
		return s.renderLoginCode(c, http.StatusTooManyRequests, page)
	}
	if wait := s.signins.wait(o.Email, c.RealIP(), s.knownDevice(c, o.Email), s.now()); wait > 0 {
		c.Response().Header().Set("Retry-After", retryAfter(wait))
		page.Message = "Too many failed attempts for this account. Please wait " + humanWait(wait) + " and try again."
		return s.renderLoginCode(c, http.StatusTooManyRequests, page)
	}
	ok, err := s.checkSecondFactor(c.Request().Context(), o, c.FormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("second factor refused", "officer_id", o.ID)
		s.signins.failed(o.Email, c.RealIP(), s.now())
		page.Message = "That code is not right, or it was used already. Enter the code your app shows now, or a recovery code."
		return s.renderLoginCode(c, http.StatusUnauthorized, page)
	}
	s.setCookiePath(c, pendingSigninCookie, "", "/officer/login", -1)
	return s.startSession(c, o, page.Next)
}

// checkSecondFactor accepts a TOTP code of the officer's secret not used
// before, or one of their unused recovery codes (which it spends).
func (s *Server) checkSecondFactor(ctx context.Context, o *store.Officer, typed string) (bool, error) {
	typed = strings.TrimSpace(typed)
	if auth.ValidTOTPShape(typed) {
		secret, err := s.openTOTPSecret(o)
		if err != nil {
			return false, err
		}
		step, ok := auth.MatchTOTP(secret, typed, s.now())
		if !ok {
			return false, nil
		}
		return s.store.UseTOTPStep(ctx, o.ID, step)
	}
	hash, ok := auth.RecoveryCodeHash(typed)
	if !ok {
		return false, nil
	}
	left, err := s.store.UseRecoveryCode(ctx, o.ID, hash, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.log.Info("recovery code used", "officer_id", o.ID, "left", left)
	return true, nil
}

// totpBlob binds a sealed TOTP secret to its officer, so it cannot be
// moved to another account.
func totpBlob(officerID int64) string { return "officer-totp/" + strconv.FormatInt(officerID, 10) }

func (s *Server) openTOTPSecret(o *store.Officer) (string, error) {
	if s.sealer == nil {
		return "", errors.New("web: no secret key to open TOTP secrets with")
	}
	b, err := s.sealer.OpenBlob(o.TOTPKeyID, totpBlob(o.ID), o.TOTPSecret)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// renderLoginCode shows the code form with a fresh login CSRF token.
func (s *Server) renderLoginCode(c echo.Context, code int, page loginCodePage) error {
	token, _, err := auth.NewToken()
	if err != nil {
		return err
	}
	s.setCookie(c, loginCSRFCookie, token, 3600)
	page.CSRF = token
	return s.render(c, code, "officer/login-code", page)
}
