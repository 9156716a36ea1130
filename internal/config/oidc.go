package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// OIDC is officer single sign-on through an OpenID Connect provider (the
// organisation's identity provider). Off while Issuer is empty.
type OIDC struct {
	Name         string      // DSAR_OIDC_NAME: the provider's name on the sign-in button
	Issuer       string      // DSAR_OIDC_ISSUER: the provider's issuer URL; setting it turns single sign-on on
	ClientID     string      // DSAR_OIDC_CLIENT_ID
	ClientSecret string      // DSAR_OIDC_CLIENT_SECRET
	RedirectURL  string      // DSAR_OIDC_REDIRECT_URL: DSAR_BASE_URL + OIDCCallbackPath when unset
	Scopes       []string    // DSAR_OIDC_SCOPES
	GroupsClaim  string      // DSAR_OIDC_GROUPS_CLAIM: the ID token claim listing the user's groups
	Roles        []GroupRole // DSAR_OIDC_ROLES: which groups give which dsar role
	// CreateOfficers: DSAR_OIDC_CREATE_OFFICERS; a user with a verified
	// email, in a mapped group but with no officer account, gets one at
	// the first sign-in. Off: an admin adds officers first.
	CreateOfficers bool
}

// GroupRole gives members of an identity provider group a dsar role
// (admin, officer or viewer).
type GroupRole struct {
	Group string
	Role  string
}

// Enabled reports whether single sign-on is configured.
func (o *OIDC) Enabled() bool { return o.Issuer != "" }

// OIDC defaults and the callback dsar serves.
const (
	DefaultOIDCName        = "single sign-on"
	DefaultOIDCScopes      = "openid email profile"
	DefaultOIDCGroupsClaim = "groups"
	OIDCCallbackPath       = "/officer/login/sso/callback"
)

// oidcRoles are the roles a group may give (store.Role's values).
var oidcRoles = []string{"admin", "officer", "viewer"}

// oidcVariables are every single sign-on setting but the issuer: set
// without it, they are a mistake worth naming.
var oidcVariables = []string{"DSAR_OIDC_NAME", "DSAR_OIDC_CLIENT_ID", "DSAR_OIDC_CLIENT_SECRET", "DSAR_OIDC_REDIRECT_URL",
	"DSAR_OIDC_SCOPES", "DSAR_OIDC_GROUPS_CLAIM", "DSAR_OIDC_ROLES", "DSAR_OIDC_CREATE_OFFICERS"}

// oidc reads the single sign-on settings; baseURL derives the redirect
// URL when none is given.
func (l *loader) oidc(baseURL string) OIDC {
	o := OIDC{Issuer: strings.TrimRight(l.text("DSAR_OIDC_ISSUER", ""), "/")}
	if o.Issuer == "" {
		for _, name := range oidcVariables {
			if l.text(name, "") != "" {
				l.problem(name + ": is set but DSAR_OIDC_ISSUER is not (set the issuer to turn single sign-on on, or unset " + name + ")")
			}
		}
		return o
	}
	o.Name = l.text("DSAR_OIDC_NAME", DefaultOIDCName)
	o.ClientID = l.text("DSAR_OIDC_CLIENT_ID", "")
	o.ClientSecret = l.text("DSAR_OIDC_CLIENT_SECRET", "")
	o.RedirectURL = l.text("DSAR_OIDC_REDIRECT_URL", baseURL+OIDCCallbackPath)
	o.Scopes = strings.Fields(strings.ReplaceAll(l.text("DSAR_OIDC_SCOPES", DefaultOIDCScopes), ",", " "))
	o.GroupsClaim = l.text("DSAR_OIDC_GROUPS_CLAIM", DefaultOIDCGroupsClaim)
	if v := l.text("DSAR_OIDC_CREATE_OFFICERS", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			l.problem(fmt.Sprintf("DSAR_OIDC_CREATE_OFFICERS: %q is not true or false", v))
		}
		o.CreateOfficers = b
	}
	o.Roles = l.groupRoles("DSAR_OIDC_ROLES")
	return o
}

// groupRoles reads "group=role" pairs separated by commas. Group names
// may hold spaces, so only commas separate pairs.
func (l *loader) groupRoles(name string) []GroupRole {
	var out []GroupRole
	for _, item := range strings.Split(l.text(name, ""), ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		i := strings.LastIndex(item, "=")
		if i < 0 {
			l.problem(fmt.Sprintf("%s: %q is not group=role (for example dsar-admins=admin,privacy-team=officer)", name, item))
			continue
		}
		g := GroupRole{Group: strings.TrimSpace(item[:i]), Role: strings.ToLower(strings.TrimSpace(item[i+1:]))}
		switch {
		case g.Group == "":
			l.problem(fmt.Sprintf("%s: %q names no group", name, item))
		case !slices.Contains(oidcRoles, g.Role):
			l.problem(fmt.Sprintf("%s: %q gives the role %q, which is not one of %s", name, item, g.Role, strings.Join(oidcRoles, ", ")))
		case slices.ContainsFunc(out, func(o GroupRole) bool { return o.Group == g.Group }):
			l.problem(fmt.Sprintf("%s: the group %q is listed twice", name, g.Group))
		default:
			out = append(out, g)
		}
	}
	return out
}

// validate names what single sign-on needs that is missing or wrong.
func (o *OIDC) validate(add func(format string, args ...any)) {
	if !o.Enabled() {
		return
	}
	if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		add("DSAR_OIDC_ISSUER: %q is not an https URL (plain http only for a provider on this machine)", o.Issuer)
	}
	if o.ClientID == "" {
		add("DSAR_OIDC_CLIENT_ID: must be set with DSAR_OIDC_ISSUER (the client ID the identity provider gave dsar)")
	}
	if o.ClientSecret == "" {
		add("DSAR_OIDC_CLIENT_SECRET: must be set with DSAR_OIDC_ISSUER (the client secret the identity provider gave dsar)")
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(u.Path, OIDCCallbackPath) {
		add("DSAR_OIDC_REDIRECT_URL: %q is not an http(s) URL ending in %s", o.RedirectURL, OIDCCallbackPath)
	}
	if !slices.Contains(o.Scopes, "openid") {
		add("DSAR_OIDC_SCOPES: %q must include openid", strings.Join(o.Scopes, " "))
	}
	if o.GroupsClaim == "" {
		add("DSAR_OIDC_GROUPS_CLAIM: must not be empty")
	}
	if len(o.Roles) == 0 {
		add("DSAR_OIDC_ROLES: must name at least one group=role (for example dsar-admins=admin,privacy-team=officer); without it no one could sign in")
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (o *OIDC) printRows() []struct{ name, value string } {
	if !o.Enabled() {
		return []struct{ name, value string }{{"DSAR_OIDC_ISSUER", "(unset: no single sign-on)"}}
	}
	roles := make([]string, len(o.Roles))
	for i, r := range o.Roles {
		roles[i] = r.Group + "=" + r.Role
	}
	return []struct{ name, value string }{
		{"DSAR_OIDC_ISSUER", o.Issuer},
		{"DSAR_OIDC_NAME", o.Name},
		{"DSAR_OIDC_CLIENT_ID", o.ClientID},
		{"DSAR_OIDC_CLIENT_SECRET", redact(o.ClientSecret)},
		{"DSAR_OIDC_REDIRECT_URL", o.RedirectURL},
		{"DSAR_OIDC_SCOPES", strings.Join(o.Scopes, " ")},
		{"DSAR_OIDC_GROUPS_CLAIM", o.GroupsClaim},
		{"DSAR_OIDC_ROLES", strings.Join(roles, ",")},
		{"DSAR_OIDC_CREATE_OFFICERS", strconv.FormatBool(o.CreateOfficers)},
	}
}
