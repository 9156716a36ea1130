package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/store"
)

// localhostListener answers its address as localhost, so the provider
// names itself http://localhost:PORT while dsar is http://127.0.0.1:PORT:
// two sites to the browser, as a real provider and dsar are, so its
// SameSite rules apply to the trip through the provider.
type localhostListener struct{ net.Listener }

type namedAddr struct{ net.Addr }

func (l localhostListener) Addr() net.Addr { return namedAddr{l.Listener.Addr()} }

func (a namedAddr) String() string {
	_, port, _ := net.SplitHostPort(a.Addr.String())
	return net.JoinHostPort("localhost", port)
}

// TestBrowserOfficerSignsInWithSSO: an officer added by an admin clicks
// "Sign in with ..." on the sign-in page, passes through a local OpenID
// Connect provider and lands on the dashboard with the role of their
// provider group.
func TestBrowserOfficerSignsInWithSSO(t *testing.T) {
	ctx := newBrowser(t)
	idp, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Start(localhostListener{ln}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	if !strings.HasPrefix(idp.Issuer(), "http://localhost:") {
		t.Fatalf("the provider names itself %s", idp.Issuer())
	}

	s := newSystemEnv(t, "", map[string]string{
		"DSAR_OIDC_ISSUER":        idp.Issuer(),
		"DSAR_OIDC_NAME":          "Example Login",
		"DSAR_OIDC_CLIENT_ID":     idp.ClientID,
		"DSAR_OIDC_CLIENT_SECRET": idp.ClientSecret,
		"DSAR_OIDC_SCOPES":        "openid email groups",
		"DSAR_OIDC_ROLES":         "privacy-team=officer,dsar-admins=admin",
	})
	if _, err := app.CreateOfficer(context.Background(), s.app.Store, "grace@example.org", store.RoleOfficer, "correct horse battery", time.Now()); err != nil {
		t.Fatal(err)
	}
	idp.QueueUser(&mockoidc.MockUser{Subject: "u-grace", Email: "grace@example.org", EmailVerified: true, Groups: []string{"staff", "dsar-admins"}})

	run(t, ctx, "sign in through the provider",
		chromedp.Navigate(s.base+"/officer/requests"),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
		shot("30-sso-sign-in"),
		chromedp.Click(chromedp.CSS(`#sso`)),
		chromedp.WaitVisible(`//h1[text()="Requests"]`),
		shot("31-sso-dashboard"),
	)
	if who := text(t, ctx, ".who"); who != "grace@example.org · admin" {
		t.Errorf("signed in as %q, want grace@example.org · admin (the role of her provider group)", who)
	}
	run(t, ctx, "the security page names the provider",
		chromedp.Click(`//nav//a[text()="Sign-in security"]`),
		chromedp.WaitVisible(chromedp.CSS(`#sso-note`)),
		shot("32-sso-security"),
	)
	if note := text(t, ctx, "#sso-note"); !strings.Contains(note, "You sign in with Example Login") {
		t.Errorf("security page: %q", note)
	}
	o, err := s.app.Store.OfficerByEmail(context.Background(), "grace@example.org")
	if err != nil || o.OIDCSubject != "u-grace" || o.Role != store.RoleAdmin {
		t.Errorf("stored officer %+v, %v", o, err)
	}
}
