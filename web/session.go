package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

// Dashboard sessions: a random token in an HttpOnly, SameSite=Strict
// cookie, stored hashed, sliding to SessionIdle after each use and never
// living past SessionMax. Every form carries the session's CSRF token, and
// state-changing requests must also come from our own origin.
const (
	sessionCookie   = "dsar_session"
	loginCSRFCookie = "dsar_login"
	SessionIdle     = 8 * time.Hour
	SessionMax      = 7 * 24 * time.Hour
)

// dummyHash is checked when no officer has the email given, so a wrong
// email takes as long as a wrong password and reveals nothing.
var dummyHash = func() string {
	h, err := auth.HashPassword("not-a-real-password-only-for-timing")
	if err != nil {
		panic(err)
	}
	return h
}()

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.cfg.BaseURL, "https://") }

func (s *Server) setCookie(c echo.Context, name, value string, maxAge int) {
	s.setCookiePath(c, name, value, "/", maxAge)
}

func (s *Server) setCookiePath(c echo.Context, name, value, path string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode,
	})
}

type loginPage struct {
	chrome   // empty: nobody is signed in
	CSRF     string
	Email    string
	Next     string
	Message  string
	Notice   string // after a password reset
	CanReset bool   // password resets by email are on
	SSOName  string // single sign-on's provider; empty when it is off
}

// safeNext keeps the post-login redirect inside the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/officer/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/officer/requests"
}

func (s *Server) showLogin(c echo.Context) error {
	if _, o := s.currentSession(c); o != nil {
		return c.Redirect(http.StatusSeeOther, "/officer/requests")
	}
	token, _, err := auth.NewToken()
	if err != nil {
		return err
	}
	s.setCookie(c, loginCSRFCookie, token, 3600)
	page := loginPage{CSRF: token, Next: safeNext(c.QueryParam("next")), CanReset: s.mail != nil, SSOName: s.ssoName()}
	if c.QueryParam("reset") == "1" {
		page.Notice = "Your new password is set. Sign in with it."
	}
	return s.render(c, http.StatusOK, "officer/login", page)
}

func (s *Server) login(c echo.Context) error {
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	page := loginPage{Email: email, Next: safeNext(c.FormValue("next")), CSRF: c.FormValue("csrf")}
	cookie, err := c.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(cookie.Value, page.CSRF) {
		page.Message = "Your sign-in form expired. Please try again."
		return s.renderLoginAgain(c, http.StatusForbidden, page)
	}
	if !s.loginLimit.allow(c.RealIP(), s.now()) {
		c.Response().Header().Set("Retry-After", "60")
		page.Message = "Too many attempts. Please wait a minute and try again."
		return s.renderLoginAgain(c, http.StatusTooManyRequests, page)
	}
	if wait := s.signins.wait(email, c.RealIP(), s.knownDevice(c, email), s.now()); wait > 0 {
		c.Response().Header().Set("Retry-After", retryAfter(wait))
		page.Message = "Too many failed attempts for this account. Please wait " + humanWait(wait) + " and try again."
		return s.renderLoginAgain(c, http.StatusTooManyRequests, page)
	}
	ctx := c.Request().Context()
	o, err := s.store.OfficerByEmail(ctx, email)
	hash := dummyHash
	if err == nil {
		hash = o.PasswordHash
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if perr := auth.CheckPassword(hash, c.FormValue("password")); perr != nil || err != nil || !o.Active() {
		s.log.Info("sign-in refused", "officer_id", officerID(o))
		s.signins.failed(email, c.RealIP(), s.now())
		page.Message = "That email and password do not match an active officer."
		return s.renderLoginAgain(c, http.StatusUnauthorized, page)
	}
	if o.SSO() {
		// Linked to the identity provider: its groups, MFA and disabling
		// must not be gone around with an old password.
		s.log.Info("password sign-in refused: the officer signs in with single sign-on", "officer_id", o.ID)
		page.Message = "This account signs in with " + s.ssoName() + ", not with a password."
		return s.renderLoginAgain(c, http.StatusForbidden, page)
	}

	if o.HasTOTP() {
		if s.sealer == nil {
			return errors.New("web: two-factor sign-in needs the secret key")
		}
		s.setPendingSignin(c, o)
		s.log.Info("password accepted, asking for the second factor", "officer_id", o.ID)
		return c.Redirect(http.StatusSeeOther, "/officer/login/code?next="+url.QueryEscape(page.Next))
	}
	return s.startSession(c, o, page.Next)
}

// startSession signs an officer in whose every factor was checked.
func (s *Server) startSession(c echo.Context, o *store.Officer, next string) error {
	if err := s.createSession(c, o); err != nil {
		return err
	}
	s.signins.succeeded(o.Email, c.RealIP())
	s.rememberDevice(c, o.Email)
	s.log.Info("signed in", "officer_id", o.ID, "second_factor", o.HasTOTP())
	return c.Redirect(http.StatusSeeOther, next)
}

// createSession stores a new session for the officer and gives the
// browser its cookie.
func (s *Server) createSession(c echo.Context, o *store.Officer) error {
	token, hashed, err := auth.NewToken()
	if err != nil {
		return err
	}
	csrf, _, err := auth.NewToken()
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.CreateSession(c.Request().Context(), &store.Session{
		OfficerID: o.ID, TokenHash: hashed, CSRFToken: csrf,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionIdle),
	}); err != nil {
		return err
	}
	s.setCookie(c, sessionCookie, token, int(SessionIdle.Seconds()))
	s.setCookie(c, loginCSRFCookie, "", -1)
	return nil
}

// renderLoginAgain shows the form with a fresh login CSRF token.
func (s *Server) renderLoginAgain(c echo.Context, code int, page loginPage) error {
	token, _, err := auth.NewToken()
	if err != nil {
		return err
	}
	s.setCookie(c, loginCSRFCookie, token, 3600)
	page.CSRF, page.CanReset, page.SSOName = token, s.mail != nil, s.ssoName()
	return s.render(c, code, "officer/login", page)
}

// ssoName is the identity provider's name on the sign-in page; empty when
// single sign-on is off.
func (s *Server) ssoName() string {
	if s.sso == nil {
		return ""
	}
	return s.cfg.OIDC.Name
}

func officerID(o *store.Officer) int64 {
	if o == nil {
		return 0
	}
	return o.ID
}

func (s *Server) logout(c echo.Context) error {
	if cookie, err := c.Cookie(sessionCookie); err == nil && auth.ValidTokenShape(cookie.Value) {
		if err := s.store.DeleteSession(c.Request().Context(), auth.HashToken(cookie.Value)); err != nil {
			return err
		}
	}
	s.setCookie(c, sessionCookie, "", -1)
	return c.Redirect(http.StatusSeeOther, "/officer/login")
}

// currentSession reads the session cookie; nil when signed out.
func (s *Server) currentSession(c echo.Context) (*store.Session, *store.Officer) {
	cookie, err := c.Cookie(sessionCookie)
	if err != nil || !auth.ValidTokenShape(cookie.Value) {
		return nil, nil
	}
	ses, o, err := s.store.SessionByTokenHash(c.Request().Context(), auth.HashToken(cookie.Value), s.now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("session lookup failed", "error", err)
		}
		return nil, nil
	}
	return ses, o
}

const sessionKey = "session"

// requireSession admits signed-in officers. A signed-out browser asking
// for a page is sent to the sign-in page and brought back after.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ses, o := s.currentSession(c)
		if ses == nil {
			if c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, "/officer/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			return echo.NewHTTPError(http.StatusUnauthorized, "Your session has ended. Please sign in again.")
		}
		now := s.now()
		if expires := now.Add(SessionIdle); expires.Before(ses.CreatedAt.Add(SessionMax)) && now.Sub(ses.LastSeenAt) > time.Minute {
			if err := s.store.TouchSession(c.Request().Context(), ses.ID, now, expires); err != nil {
				return err
			}
			s.setCookie(c, sessionCookie, mustCookie(c), int(SessionIdle.Seconds()))
		}
		c.Set(sessionKey, ses)
		c.Set(officerKey, o)
		if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			if err := s.checkCSRF(c, ses); err != nil {
				return err
			}
		}
		// An officer who signs in through the identity provider has its
		// second factor, not dsar's (docs/operations.md).
		if !o.HasTOTP() && !o.SSO() && !totpEnrolRoutes[c.Request().Method+" "+c.Path()] {
			required, err := s.store.RequireTOTP(c.Request().Context())
			if err != nil {
				return err
			}
			if required {
				if c.Request().Method == http.MethodGet {
					return c.Redirect(http.StatusSeeOther, "/officer/security")
				}
				return echo.NewHTTPError(http.StatusForbidden, "Two-factor sign-in is required: set it up under Sign-in security first.")
			}
		}
		return next(c)
	}
}

// totpEnrolRoutes are all an officer without two-factor may use while an
// admin requires it: enrolling, and signing out.
var totpEnrolRoutes = map[string]bool{
	"GET /officer/security":       true,
	"POST /officer/security/totp": true,
	"POST /officer/logout":        true,
}

func mustCookie(c echo.Context) string {
	cookie, _ := c.Cookie(sessionCookie)
	return cookie.Value
}

// checkCSRF refuses a state change without the session's token or from
// another origin.
func (s *Server) checkCSRF(c echo.Context, ses *store.Session) error {
	if origin := c.Request().Header.Get("Origin"); origin != "" && !s.sameOrigin(origin, c.Request().Host) {
		return echo.NewHTTPError(http.StatusForbidden, "This form was sent from another site.")
	}
	// From the form body only: a token in the URL would sit in logs and
	// browser history.
	if !sameToken(c.Request().PostFormValue("csrf"), ses.CSRFToken) {
		return echo.NewHTTPError(http.StatusForbidden, "This form expired. Go back, reload the page and try again.")
	}
	return nil
}

// sameOrigin reports whether a browser's Origin header names this site:
// the host of DSAR_BASE_URL, or the host the browser addressed (so
// http://localhost:8080 works in dev as well as http://127.0.0.1:8080). A
// page on another site cannot make a browser send our host as its Origin.
func (s *Server) sameOrigin(origin, requestHost string) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	if base, err := url.Parse(s.cfg.BaseURL); err == nil && o.Scheme == base.Scheme && o.Host == base.Host {
		return true
	}
	return o.Host == requestHost
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func sessionFrom(c echo.Context) *store.Session { return c.Get(sessionKey).(*store.Session) }
