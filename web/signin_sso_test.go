package web

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/store"
)

// idp is a local OpenID Connect provider (mockoidc) on a free port. A
// test may have it tamper with the claims of the next ID token, which it
// then signs again with the provider's real key: only dsar's checks of
// the claims can catch it.
type idp struct {
	*mockoidc.MockOIDC
	mu     sync.Mutex
	tamper func(jwt.MapClaims)
}

func startIdP(t *testing.T) *idp {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	i := &idp{MockOIDC: m}
	if err := m.AddMiddleware(i.rewrite); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return i
}

func (i *idp) setTamper(f func(jwt.MapClaims)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tamper = f
}

func (i *idp) rewrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		tamper := i.tamper
		i.mu.Unlock()
		if r.URL.Path != mockoidc.TokenEndpoint || tamper == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err == nil {
			if raw, ok := body["id_token"].(string); ok {
				claims := jwt.MapClaims{}
				if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err == nil {
					tamper(claims)
					body["id_token"], _ = i.Keypair.SignJWT(claims)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(body)
	})
}

// ssoHarness is a server whose officers sign in through the provider.
func ssoHarness(t *testing.T, create bool) (*harness, *idp) {
	t.Helper()
	p := startIdP(t)
	h := newHarness(t, false, func(c *config.Config) {
		c.OIDC = config.OIDC{
			Name: "Example Login", Issuer: p.Issuer(), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: "http://dsar.test" + config.OIDCCallbackPath, Scopes: []string{"openid", "email", "groups"},
			GroupsClaim: "groups", CreateOfficers: create,
			Roles: []config.GroupRole{{Group: "dsar-admins", Role: "admin"}, {Group: "privacy", Role: "officer"}, {Group: "auditors", Role: "viewer"}},
		}
	})
	h.movableClock()
	return h, p
}

// ssoSignIn goes through the provider as a browser would, as user, and
// returns dsar's answer to the callback.
func (b *browser) ssoSignIn(p *idp, user *mockoidc.MockUser) response {
	b.t.Helper()
	start := b.get("/officer/login/sso")
	if start.code != http.StatusSeeOther || !strings.HasPrefix(start.header.Get("Location"), p.AuthorizationEndpoint()) {
		b.t.Fatalf("start: %d → %q\n%s", start.code, start.header.Get("Location"), start.body)
	}
	auth, err := url.Parse(start.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	if q := auth.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		b.t.Fatalf("the authorization request lacks PKCE, nonce or state: %s", auth.RawQuery)
	}
	p.QueueUser(user)
	return b.get(b.atProvider(start.header.Get("Location")))
}

// atProvider follows the provider's redirect and answers the path of the
// callback it sends the browser to.
func (b *browser) atProvider(authURL string) string {
	b.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || back.Path != config.OIDCCallbackPath {
		b.t.Fatalf("the provider answered %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.RequestURI()
}

func signedIn(t *testing.T, b *browser, r response) {
	t.Helper()
	if r.code != http.StatusOK || !strings.Contains(r.body, `<meta http-equiv="refresh" content="0;url=/officer/requests">`) || !b.hasSession() {
		t.Fatalf("callback: %d, session %v\n%s", r.code, b.hasSession(), r.body)
	}
	if page := b.get("/officer/requests"); page.code != http.StatusOK || !strings.Contains(page.body, "<h1>Requests</h1>") {
		t.Fatalf("the dashboard after single sign-on: %d\n%s", page.code, page.body)
	}
}

func refused(t *testing.T, b *browser, r response, code int, message string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.body, message) || b.hasSession() {
		t.Fatalf("want %d with %q and no session; got %d, session %v\n%s", code, message, r.code, b.hasSession(), r.body)
	}
}

func TestSSOSignIn(t *testing.T) {
	h, p := ssoHarness(t, false)
	grace := h.addOfficer("grace@example.org", store.RoleOfficer)

	b := h.browser()
	if page := b.get("/officer/login"); !strings.Contains(page.body, `href="/officer/login/sso?next=%2fofficer%2frequests">Sign in with Example Login</a>`) {
		t.Fatalf("the sign-in page offers no single sign-on:\n%s", page.body)
	}
	// Grace, in the admins' and the auditors' groups, is linked and gets
	// the higher role.
	user := &mockoidc.MockUser{Subject: "u-grace", Email: "Grace@example.org", EmailVerified: true, Groups: []string{"auditors", "dsar-admins", "staff"}}
	signedIn(t, b, b.ssoSignIn(p, user))
	o := h.officerByEmail("grace@example.org")
	if o.ID != grace.ID || o.Role != store.RoleAdmin || o.OIDCSubject != "u-grace" || o.OIDCIssuer != p.Issuer() {
		t.Fatalf("after the first sign-in: %+v", o)
	}
	want := []string{"grace@example.org sso_sign_in", "grace@example.org role_changed", "grace@example.org sso_linked"}
	if got := h.events(grace.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("account trail %q, want %q", got, want)
	}
	// Her password no longer signs her in: the provider decides.
	if r := h.browser().signIn("grace@example.org", officerPassword); r.code != http.StatusForbidden || !strings.Contains(r.body, "This account signs in with Example Login") {
		t.Errorf("password sign-in of a linked officer: %d\n%s", r.code, r.body)
	}

	// Next time only the auditors' group: she is a viewer.
	b = h.browser()
	user.Groups = []string{"auditors"}
	signedIn(t, b, b.ssoSignIn(p, user))
	if o := h.officerByEmail("grace@example.org"); o.Role != store.RoleViewer {
		t.Errorf("role after leaving the admins: %s", o.Role)
	}
	if page := b.get("/officer/officers"); page.code != http.StatusForbidden {
		t.Errorf("a viewer opened the officers page: %d", page.code)
	}

	// Two-factor required of everyone does not confine her: the
	// provider is her second factor.
	if err := h.store.SetRequireTOTP(t.Context(), true, "admin@example.org", testNow); err != nil {
		t.Fatal(err)
	}
	if page := b.get("/officer/requests"); page.code != http.StatusOK {
		t.Errorf("with two-factor required, an officer from single sign-on got %d → %q", page.code, page.header.Get("Location"))
	}
	if page := b.get("/officer/security"); !strings.Contains(page.body, "You sign in with <strong>Example Login</strong>") || strings.Contains(page.body, "totp-secret") || !strings.Contains(page.body, "sso_sign_in") {
		t.Errorf("the security page of an officer from single sign-on:\n%s", page.body)
	}

	// Someone with no officer account is refused, and none is made.
	b = h.browser()
	refused(t, b, b.ssoSignIn(p, &mockoidc.MockUser{Subject: "u-ada", Email: "ada@example.org", EmailVerified: true, Groups: []string{"privacy"}}),
		http.StatusForbidden, "There is no officer account for your Example Login email address")
	if n, _ := h.store.CountOfficers(t.Context()); n != 3 {
		t.Errorf("%d officers, want 3", n)
	}
}

func TestSSOCreatesOfficers(t *testing.T) {
	h, p := ssoHarness(t, true)
	b := h.browser()
	signedIn(t, b, b.ssoSignIn(p, &mockoidc.MockUser{Subject: "u-ada", Email: "ada@example.org", EmailVerified: true, Groups: []string{"privacy"}}))
	o := h.officerByEmail("ada@example.org")
	if o.Role != store.RoleOfficer || !o.SSO() || o.PasswordHash != "" {
		t.Fatalf("created officer %+v", o)
	}
	if got := h.events(o.ID); !reflect.DeepEqual(got, []string{"ada@example.org sso_sign_in", "ada@example.org sso_created"}) {
		t.Errorf("account trail %q", got)
	}
	// Not even an empty password signs in.
	if r := h.browser().signIn("ada@example.org", ""); r.code == http.StatusSeeOther {
		t.Error("an empty password signed in an officer made by single sign-on")
	}
}

func TestSSORefusals(t *testing.T) {
	h, p := ssoHarness(t, true)
	h.addOfficer("grace@example.org", store.RoleOfficer)
	grace := func() *mockoidc.MockUser {
		return &mockoidc.MockUser{Subject: "u-grace", Email: "grace@example.org", EmailVerified: true, Groups: []string{"privacy"}}
	}
	const unverifiable = "could not be verified, so you are not signed in"
	for _, tc := range []struct {
		name    string
		tamper  func(jwt.MapClaims)
		user    func(*mockoidc.MockUser)
		code    int
		message string
	}{
		{"wrong audience", func(c jwt.MapClaims) { c["aud"] = []string{"another-client"} }, nil, http.StatusUnauthorized, unverifiable},
		{"wrong issuer", func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }, nil, http.StatusUnauthorized, unverifiable},
		{"another sign-in's nonce", func(c jwt.MapClaims) { c["nonce"] = "a-nonce-from-another-sign-in" }, nil, http.StatusUnauthorized, unverifiable},
		{"expired", func(c jwt.MapClaims) { c["exp"] = 1000000000 }, nil, http.StatusUnauthorized, unverifiable},
		{"unverified email", nil, func(u *mockoidc.MockUser) { u.Subject, u.EmailVerified = "u-other", false }, http.StatusForbidden, "has not verified your email address"},
		{"no mapped group", nil, func(u *mockoidc.MockUser) { u.Groups = []string{"staff", "engineering"} }, http.StatusForbidden, "is in none of the groups that may use dsar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.setTamper(tc.tamper)
			defer p.setTamper(nil)
			u := grace()
			if tc.user != nil {
				tc.user(u)
			}
			b := h.browser()
			refused(t, b, b.ssoSignIn(p, u), tc.code, tc.message)
			if o := h.officerByEmail("grace@example.org"); o.SSO() || o.Role != store.RoleOfficer {
				t.Errorf("a refused sign-in changed Grace: %+v", o)
			}
		})
	}
	if logs := h.logs.String(); !strings.Contains(logs, "oidc: expected audience") || !strings.Contains(logs, "id token issued by a different provider") || !strings.Contains(logs, "nonce is not this sign-in's") {
		t.Errorf("the log does not say why answers were refused:\n%s", logs)
	}

	// The state must be this browser's: a callback with another state,
	// or in a browser that did not start it (a login CSRF), is refused.
	b := h.browser()
	start := b.get("/officer/login/sso")
	p.QueueUser(grace())
	callback := b.atProvider(start.header.Get("Location"))
	forged := strings.Replace(callback, "state=", "state=x", 1)
	refused(t, b, b.get(forged), http.StatusBadRequest, "was not started in this browser")
	other := h.browser()
	refused(t, other, other.get(callback), http.StatusBadRequest, "was not started in this browser")
	// The cookie is spent by the first callback, right or wrong.
	refused(t, b, b.get(callback), http.StatusBadRequest, "was not started in this browser")

	// The provider's own refusal.
	b = h.browser()
	start = b.get("/officer/login/sso")
	state := mustURL(t, start.header.Get("Location")).Query().Get("state")
	refused(t, b, b.get(config.OIDCCallbackPath+"?error=access_denied&state="+url.QueryEscape(state)), http.StatusUnauthorized, "Example Login did not sign you in (access_denied)")

	// A disabled officer stays out.
	o := h.officerByEmail("grace@example.org")
	if err := h.store.SetOfficerDisabled(t.Context(), o.ID, true, testNow); err != nil {
		t.Fatal(err)
	}
	b = h.browser()
	refused(t, b, b.ssoSignIn(p, grace()), http.StatusForbidden, "Your officer account is disabled")
	if ev := h.events(o.ID); len(ev) == 0 || ev[0] != "grace@example.org sso_refused" {
		t.Errorf("account trail %q", ev)
	}
}

func TestSSOProviderDown(t *testing.T) {
	h := newHarness(t, false, func(c *config.Config) {
		c.OIDC = config.OIDC{Name: "Example Login", Issuer: "http://127.0.0.1:1/down", ClientID: "dsar", ClientSecret: "s",
			RedirectURL: "http://dsar.test" + config.OIDCCallbackPath, Scopes: []string{"openid"}, GroupsClaim: "groups",
			Roles: []config.GroupRole{{Group: "privacy", Role: "officer"}}}
	})
	r := h.browser().get("/officer/login/sso")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "dsar cannot reach it") || !bytes.Contains([]byte(r.body), []byte(`id="password"`)) {
		t.Fatalf("provider down: %d\n%s", r.code, r.body)
	}
}
