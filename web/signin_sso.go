package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/store"
)

// Officer single sign-on with OpenID Connect: the authorization code flow
// with PKCE. GET /officer/login/sso sends the browser to the provider with
// a fresh state, nonce and code verifier, which it also puts in a
// short-lived cookie signed with a key derived from DSAR_SECRET_KEY. The
// callback takes the code only with that cookie and its state, redeems it
// with the verifier, and has go-oidc verify the ID token (signature,
// issuer, audience, expiry) before it checks the nonce. The store then
// says which officer it is (internal/store/sso.go).
//
// The cookie is SameSite=Lax, not Strict like the others: the provider
// sends the browser back with a cross-site navigation, which carries no
// Strict cookie. For the same reason the callback answers with a page
// that moves on to the dashboard itself: a redirect at the end of a chain
// that passed through the provider would reach the dashboard without the
// new (Strict) session cookie.
const (
	ssoCookie  = "dsar_sso"
	ssoPath    = "/officer/login/sso"
	ssoTTL     = 10 * time.Minute
	ssoTimeout = 15 * time.Second // each call to the provider
)

// roleRank orders roles, so an officer in several mapped groups gets the
// highest role they give.
var roleRank = map[string]int{"viewer": 1, "officer": 2, "admin": 3}

// ssoProvider talks to the identity provider. Discovery happens at the
// first sign-in, not at start, so dsar starts while the provider is down,
// and is tried again at the next sign-in after a failure.
type ssoProvider struct {
	cfg    config.OIDC
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

func newSSOProvider(cfg config.OIDC) *ssoProvider {
	return &ssoProvider{cfg: cfg, client: &http.Client{Timeout: ssoTimeout}}
}

func (p *ssoProvider) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

func (p *ssoProvider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	// Keys are fetched later with this context's client, so it must not
	// be the request's, which ends with the request.
	prov, err := oidc.NewProvider(p.context(context.WithoutCancel(ctx)), p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	p.provider = prov
	return prov, nil
}

func (p *ssoProvider) oauth2(prov *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: prov.Endpoint(), RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes,
	}
}

// ssoClaims are the ID token claims dsar reads. email_verified is read
// loosely: some providers send it as the string "true".
type ssoClaims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
}

// errSSOAnswer is a provider answer that does not check out.
var errSSOAnswer = errors.New("web: the identity provider's answer does not check out")

// identity redeems the code and verifies the ID token it comes with.
func (p *ssoProvider) identity(ctx context.Context, code, verifier, nonce string) (store.SSOIdentity, []string, error) {
	var id store.SSOIdentity
	ctx, cancel := context.WithTimeout(p.context(ctx), 2*ssoTimeout)
	defer cancel()
	prov, err := p.discover(ctx)
	if err != nil {
		return id, nil, err
	}
	tok, err := p.oauth2(prov).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return id, nil, fmt.Errorf("%w: code exchange: %v", errSSOAnswer, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return id, nil, fmt.Errorf("%w: no ID token", errSSOAnswer)
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return id, nil, fmt.Errorf("%w: %v", errSSOAnswer, err)
	}
	if !sameToken(idt.Nonce, nonce) {
		return id, nil, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", errSSOAnswer)
	}
	var claims ssoClaims
	var all map[string]any
	if err := idt.Claims(&claims); err != nil {
		return id, nil, fmt.Errorf("%w: %v", errSSOAnswer, err)
	}
	if err := idt.Claims(&all); err != nil {
		return id, nil, fmt.Errorf("%w: %v", errSSOAnswer, err)
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	id = store.SSOIdentity{Issuer: idt.Issuer, Subject: idt.Subject, Email: claims.Email, EmailVerified: verified}
	return id, groupsOf(all[p.cfg.GroupsClaim]), nil
}

// groupsOf reads a groups claim: a list of names, or one name.
func groupsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// roleFor is the highest role any of the groups gives; "" for none.
func roleFor(m []config.GroupRole, groups []string) store.Role {
	best := ""
	for _, gr := range m {
		if slices.Contains(groups, gr.Group) && roleRank[gr.Role] > roleRank[best] {
			best = gr.Role
		}
	}
	return store.Role(best)
}

func randomText() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ssoStart sends the browser to the provider.
func (s *Server) ssoStart(c echo.Context) error {
	if _, o := s.currentSession(c); o != nil {
		return c.Redirect(http.StatusSeeOther, "/officer/requests")
	}
	if s.sealer == nil {
		return errors.New("web: single sign-on needs the secret key")
	}
	next := safeNext(c.QueryParam("next"))
	prov, err := s.sso.discover(c.Request().Context())
	if err != nil {
		s.log.Warn("identity provider unreachable", "issuer", s.cfg.OIDC.Issuer, "error", err)
		return s.renderLoginAgain(c, http.StatusServiceUnavailable, loginPage{Next: next,
			Message: "Sign-in with " + s.cfg.OIDC.Name + " is not available right now: dsar cannot reach it. Please try again in a few minutes."})
	}
	state, nonce, verifier := randomText(), randomText(), oauth2.GenerateVerifier()
	exp := strconv.FormatInt(s.now().Add(ssoTTL).Unix(), 10)
	nextB64 := base64.RawURLEncoding.EncodeToString([]byte(next))
	mac := s.sealer.Hash("sso-state", state, nonce, verifier, exp, nextB64)
	c.SetCookie(&http.Cookie{
		Name: ssoCookie, Value: strings.Join([]string{state, nonce, verifier, exp, nextB64, mac}, "."),
		Path: ssoPath, MaxAge: int(ssoTTL.Seconds()), HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
	return c.Redirect(http.StatusSeeOther, s.sso.oauth2(prov).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
}

// ssoState is what the start left in the browser's cookie.
type ssoState struct{ state, nonce, verifier, next string }

// readSSOState reads and clears the cookie; ok is false when there is
// none, it expired or was forged.
func (s *Server) readSSOState(c echo.Context) (ssoState, bool) {
	cookie, err := c.Cookie(ssoCookie)
	if err != nil || s.sealer == nil {
		return ssoState{}, false
	}
	c.SetCookie(&http.Cookie{Name: ssoCookie, Path: ssoPath, MaxAge: -1, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	p := strings.Split(cookie.Value, ".")
	if len(p) != 6 {
		return ssoState{}, false
	}
	good := false
	for _, want := range s.sealer.Hashes("sso-state", p[0], p[1], p[2], p[3], p[4]) {
		good = good || sameToken(p[5], want)
	}
	exp, err := strconv.ParseInt(p[3], 10, 64)
	next, err2 := base64.RawURLEncoding.DecodeString(p[4])
	if !good || err != nil || err2 != nil || !s.now().Before(time.Unix(exp, 0)) {
		return ssoState{}, false
	}
	return ssoState{state: p[0], nonce: p[1], verifier: p[2], next: safeNext(string(next))}, true
}

// ssoCallback is where the provider sends the browser back.
func (s *Server) ssoCallback(c echo.Context) error {
	name := s.cfg.OIDC.Name
	st, ok := s.readSSOState(c)
	if !ok || !sameToken(c.QueryParam("state"), st.state) {
		return s.renderLoginAgain(c, http.StatusBadRequest, loginPage{
			Message: "This sign-in with " + name + " was not started in this browser, or took longer than 10 minutes. Please start again."})
	}
	page := loginPage{Next: st.next}
	if e := c.QueryParam("error"); e != "" {
		s.log.Info("identity provider refused the sign-in", "error", e)
		page.Message = name + " did not sign you in (" + e + "). Please try again, or ask your administrator."
		return s.renderLoginAgain(c, http.StatusUnauthorized, page)
	}
	if !s.loginLimit.allow(c.RealIP(), s.now()) {
		c.Response().Header().Set("Retry-After", "60")
		page.Message = "Too many attempts. Please wait a minute and try again."
		return s.renderLoginAgain(c, http.StatusTooManyRequests, page)
	}
	ctx := c.Request().Context()
	id, groups, err := s.sso.identity(ctx, c.QueryParam("code"), st.verifier, st.nonce)
	if errors.Is(err, errSSOAnswer) {
		s.log.Warn("single sign-on refused: the provider's answer does not check out", "error", err)
		page.Message = "The answer from " + name + " could not be verified, so you are not signed in. Please try again; if it keeps failing, tell your administrator."
		return s.renderLoginAgain(c, http.StatusUnauthorized, page)
	}
	if err != nil {
		s.log.Warn("identity provider unreachable", "issuer", s.cfg.OIDC.Issuer, "error", err)
		page.Message = "Sign-in with " + name + " is not available right now: dsar cannot reach it. Please try again in a few minutes."
		return s.renderLoginAgain(c, http.StatusServiceUnavailable, page)
	}
	id.Role = roleFor(s.cfg.OIDC.Roles, groups)
	o, err := s.store.SignInSSO(ctx, id, s.cfg.OIDC.CreateOfficers, s.now())
	if msg, code := ssoRefusal(err, name); msg != "" {
		s.log.Info("single sign-on refused", "reason", err.Error())
		page.Message = msg
		return s.renderLoginAgain(c, code, page)
	}
	if err != nil {
		return err
	}
	if err := s.createSession(c, o); err != nil {
		return err
	}
	s.log.Info("signed in", "officer_id", o.ID, "via", "oidc", "role", o.Role)
	return s.render(c, http.StatusOK, "officer/signed-in", signedInPage{Next: st.next})
}

// ssoRefusal is the page's message for a refused single sign-on.
func ssoRefusal(err error, name string) (string, int) {
	switch {
	case errors.Is(err, store.ErrSSONoGroup):
		return "Your account at " + name + " is in none of the groups that may use dsar, so you are not signed in. Ask your administrator to add you to one.", http.StatusForbidden
	case errors.Is(err, store.ErrSSOUnverified):
		return name + " has not verified your email address, so dsar cannot tell which officer you are. Verify it there, then sign in again.", http.StatusForbidden
	case errors.Is(err, store.ErrSSOEmailNotFound):
		return "There is no officer account for your " + name + " email address. Ask an admin to add you as an officer.", http.StatusForbidden
	case errors.Is(err, store.ErrSSODisabled):
		return "Your officer account is disabled. Ask an admin if you need it again.", http.StatusForbidden
	case errors.Is(err, store.ErrSSOLinkedOther):
		return "The officer account with your email address signs in with another " + name + " account. Ask an admin.", http.StatusForbidden
	}
	return "", 0
}

type signedInPage struct {
	chrome
	Next string
}
