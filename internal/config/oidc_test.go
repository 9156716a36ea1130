package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/config"
)

const testOIDCSecret = "oidc-client-secret-do-not-print"

func oidcEnv() map[string]string {
	m := productionEnv()
	m["DSAR_OIDC_ISSUER"] = "https://login.example.com/realms/staff/"
	m["DSAR_OIDC_CLIENT_ID"] = "dsar"
	m["DSAR_OIDC_CLIENT_SECRET"] = testOIDCSecret
	m["DSAR_OIDC_ROLES"] = "DSAR Admins=admin, privacy-team=Officer,auditors=viewer"
	return m
}

func TestOIDCSettings(t *testing.T) {
	c, err := config.Load(env(oidcEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	want := config.OIDC{
		Name: "single sign-on", Issuer: "https://login.example.com/realms/staff",
		ClientID: "dsar", ClientSecret: testOIDCSecret,
		RedirectURL: "https://privacy.example.com/officer/login/sso/callback",
		Scopes:      []string{"openid", "email", "profile"}, GroupsClaim: "groups",
		Roles: []config.GroupRole{{"DSAR Admins", "admin"}, {"privacy-team", "officer"}, {"auditors", "viewer"}},
	}
	if !reflect.DeepEqual(c.OIDC, want) {
		t.Errorf("OIDC = %+v\nwant %+v", c.OIDC, want)
	}
	out := printed(t, oidcEnv())
	if strings.Contains(out, testOIDCSecret) {
		t.Errorf("Print reveals the client secret:\n%s", out)
	}
	for _, line := range []string{"DSAR_OIDC_CLIENT_SECRET=(redacted, sha256:", "DSAR_OIDC_ROLES=DSAR Admins=admin,privacy-team=officer,auditors=viewer\n", "DSAR_OIDC_CREATE_OFFICERS=false\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("Print lacks %q:\n%s", line, out)
		}
	}

	m := oidcEnv()
	m["DSAR_OIDC_NAME"] = "Example Login"
	m["DSAR_OIDC_REDIRECT_URL"] = "https://dsar.internal.example.com/officer/login/sso/callback"
	m["DSAR_OIDC_SCOPES"] = "openid,email groups"
	m["DSAR_OIDC_GROUPS_CLAIM"] = "roles"
	m["DSAR_OIDC_CREATE_OFFICERS"] = "true"
	if c, err = config.Load(env(m)); err != nil {
		t.Fatal(err)
	}
	if o := c.OIDC; o.Name != "Example Login" || o.RedirectURL != m["DSAR_OIDC_REDIRECT_URL"] || !reflect.DeepEqual(o.Scopes, []string{"openid", "email", "groups"}) || o.GroupsClaim != "roles" || !o.CreateOfficers {
		t.Errorf("OIDC = %+v", o)
	}
	if !strings.Contains(printed(t, productionEnv()), "DSAR_OIDC_ISSUER=(unset: no single sign-on)\n") {
		t.Error("Print does not say single sign-on is off")
	}
}

func TestOIDCProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		message string
	}{
		{"a setting without the issuer", map[string]string{"DSAR_OIDC_ISSUER": "", "DSAR_OIDC_CLIENT_ID": "dsar"}, "DSAR_OIDC_CLIENT_ID: is set but DSAR_OIDC_ISSUER is not"},
		{"a role that is none", map[string]string{"DSAR_OIDC_ROLES": "staff=superuser"}, `DSAR_OIDC_ROLES: "staff=superuser" gives the role "superuser", which is not one of admin, officer, viewer`},
		{"a pair without =", map[string]string{"DSAR_OIDC_ROLES": "staff"}, `DSAR_OIDC_ROLES: "staff" is not group=role`},
		{"a group twice", map[string]string{"DSAR_OIDC_ROLES": "staff=admin,staff=viewer"}, `DSAR_OIDC_ROLES: the group "staff" is listed twice`},
		{"not a boolean", map[string]string{"DSAR_OIDC_CREATE_OFFICERS": "sometimes"}, `DSAR_OIDC_CREATE_OFFICERS: "sometimes" is not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := oidcEnv()
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := config.Load(env(m))
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Load = %v, want %q", err, tc.message)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		set     map[string]string
		message string
	}{
		{"plain http elsewhere", map[string]string{"DSAR_OIDC_ISSUER": "http://login.example.com"}, `DSAR_OIDC_ISSUER: "http://login.example.com" is not an https URL`},
		{"no client ID", map[string]string{"DSAR_OIDC_CLIENT_ID": ""}, "DSAR_OIDC_CLIENT_ID: must be set with DSAR_OIDC_ISSUER"},
		{"no client secret", map[string]string{"DSAR_OIDC_CLIENT_SECRET": ""}, "DSAR_OIDC_CLIENT_SECRET: must be set with DSAR_OIDC_ISSUER"},
		{"another callback", map[string]string{"DSAR_OIDC_REDIRECT_URL": "https://privacy.example.com/callback"}, `DSAR_OIDC_REDIRECT_URL: "https://privacy.example.com/callback" is not an http(s) URL ending in /officer/login/sso/callback`},
		{"no openid scope", map[string]string{"DSAR_OIDC_SCOPES": "email profile"}, `DSAR_OIDC_SCOPES: "email profile" must include openid`},
		{"no roles", map[string]string{"DSAR_OIDC_ROLES": ""}, "DSAR_OIDC_ROLES: must name at least one group=role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := oidcEnv()
			for k, v := range tc.set {
				m[k] = v
			}
			c, err := config.Load(env(m))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Validate = %v, want %q", err, tc.message)
			}
		})
	}
	// A provider on this machine may speak plain http (development).
	m := oidcEnv()
	m["DSAR_OIDC_ISSUER"] = "http://127.0.0.1:5556/dex"
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a loopback issuer: %v", err)
	}
}
