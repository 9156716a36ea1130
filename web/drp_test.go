package web

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/drp"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

const testBusinessID = "EXAMPLE_SHOP"

// drpHarness is the web harness with the Data Rights Protocol on, an
// admin's API token, and one agent registered through the API.
type drpHarness struct {
	*harness
	admin   string
	agentID string
	key     ed25519.PrivateKey
}

func newDRPHarness(t *testing.T) *drpHarness {
	t.Helper()
	h := newHarness(t, false, func(c *config.Config) { c.DRPBusinessID = testBusinessID })
	h.office.Office.(*office.Service).DRPBusinessID = testBusinessID
	ctx := context.Background()
	o := &store.Officer{Email: "admin@example.org", Role: store.RoleAdmin, PasswordHash: "x", CreatedAt: testNow}
	if err := h.store.CreateOfficer(ctx, o); err != nil {
		t.Fatal(err)
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.AddAPIToken(ctx, &store.APIToken{OfficerID: o.ID, Hash: hash, CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	d := &drpHarness{harness: h, admin: token}
	d.agentID, d.key = d.register("AGENT_A")
	return d
}

// register makes a key pair and registers it as an agent, as an admin.
func (d *drpHarness) register(id string) (string, ed25519.PrivateKey) {
	d.t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		d.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"id": id, "name": "Agent " + id, "verify_key": base64.StdEncoding.EncodeToString(pub)})
	r := d.do("POST", "/api/v1/officer/drp-agents", "application/json", string(body), "Authorization", "Bearer "+d.admin)
	if r.code != http.StatusCreated {
		d.t.Fatalf("register agent: %d %s", r.code, r.body)
	}
	return id, priv
}

// message is a signed message from the agent: the envelope, then more.
func (d *drpHarness) message(key ed25519.PrivateKey, agentID string, more map[string]any) string {
	m := map[string]any{
		"agent-id": agentID, "business-id": testBusinessID, "drp.version": "1.0",
		"issued-at": testNow.Format(time.RFC3339), "expires-at": testNow.Add(10 * time.Minute).Format(time.RFC3339),
	}
	for k, v := range more {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(drp.Sign(key, b))
}

func exerciseClaims(more map[string]any) map[string]any {
	m := map[string]any{"exercise": "deletion", "regime": "ccpa", "name": "Ada Lovelace", "email": "ada@example.org",
		"email_verified": true, "agent-request-id": "agent-req-1"}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// setup runs the pairwise key setup and answers the bearer token.
func (d *drpHarness) setup(agentID string, key ed25519.PrivateKey) string {
	d.t.Helper()
	r := d.do("POST", "/v1/agent/"+agentID, "text/plain", d.message(key, agentID, nil))
	var got struct {
		AgentID string `json:"agent-id"`
		Token   string `json:"token"`
	}
	if r.code != http.StatusOK {
		d.t.Fatalf("setup: %d %s", r.code, r.body)
	}
	r.json(d.t, &got)
	if got.AgentID != agentID || got.Token == "" {
		d.t.Fatalf("setup answered %s", r.body)
	}
	return got.Token
}

func (d *drpHarness) exercise(token, body string) response {
	return d.do("POST", "/v1/data-rights-request", "text/plain", body, "Authorization", "Bearer "+token)
}

// drpRefused checks an answer is the protocol's error state with the
// status, and that it says what went wrong.
func drpRefused(t *testing.T, r response, code int, says string) {
	t.Helper()
	var e drpErrorBody
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
	r.json(t, &e)
	if e.Code != strconv.Itoa(code) || !strings.Contains(e.Message, says) {
		t.Errorf("error body %s, want code %d and a message saying %q", r.body, code, says)
	}
}

func TestDRPDiscoveryDocument(t *testing.T) {
	d := newDRPHarness(t)
	r := d.do("GET", "/.well-known/data-rights.json", "", "")
	var doc drpDiscovery
	r.json(t, &doc)
	if r.code != http.StatusOK || doc.Version != "1.0" || doc.APIBase != "http://dsar.test" || doc.ID != testBusinessID ||
		strings.Join(doc.Actions, ",") != "access,deletion,sale:opt-out,sharing:opt-out" || doc.UserRelationships == nil {
		t.Errorf("%d %s", r.code, r.body)
	}
	// Off without a business ID.
	h := newHarness(t, false)
	if r := h.do("GET", "/.well-known/data-rights.json", "", ""); r.code != http.StatusNotFound {
		t.Errorf("DRP off: %d", r.code)
	}
}

func TestDRPSetupAndExercise(t *testing.T) {
	d := newDRPHarness(t)
	token := d.setup(d.agentID, d.key)
	if r := d.do("GET", "/v1/agent/"+d.agentID, "", "", "Authorization", "Bearer "+token); r.code != http.StatusOK || strings.TrimSpace(r.body) != "{}" {
		t.Errorf("agent information: %d %s", r.code, r.body)
	}
	if r := d.do("GET", "/v1/agent/SOMEONE_ELSE", "", "", "Authorization", "Bearer "+token); r.code != http.StatusForbidden {
		t.Errorf("another agent's information: %d %s", r.code, r.body)
	}

	r := d.exercise(token, d.message(d.key, d.agentID, exerciseClaims(nil)))
	if r.code != http.StatusOK {
		t.Fatalf("exercise: %d %s", r.code, r.body)
	}
	var st office.DRPStatus
	r.json(t, &st)
	// Temporal is down here: the request is stored and waits to start.
	if st.RequestID == "" || st.Status != "open" || st.AgentRequestID != "agent-req-1" || !st.ReceivedAt.Equal(testNow) || st.ExpectedBy.IsZero() {
		t.Errorf("status %s", r.body)
	}
	stored, err := d.store.GetRequest(context.Background(), st.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Type != "deletion" || stored.Email != "ada@example.org" || stored.Channel != "drp" || stored.Regime != "ccpa" ||
		stored.VerifiedAt == nil || stored.VerifiedBy != "agent:AGENT_A" {
		t.Errorf("stored %+v", stored)
	}
	trail, err := d.store.Timeline(context.Background(), st.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 2 || trail[0].Actor != "agent:AGENT_A" || trail[1].Action != "identity_verified" || !strings.Contains(trail[1].Detail, "email_verified") {
		t.Errorf("trail %+v", trail)
	}

	// The status endpoint answers the same, to this agent only.
	got := d.do("GET", "/v1/data-rights-request/"+st.RequestID, "", "", "Authorization", "Bearer "+token)
	if got.code != http.StatusOK || !strings.Contains(got.body, `"status":"open"`) {
		t.Errorf("status endpoint: %d %s", got.code, got.body)
	}
	otherID, otherKey := d.register("AGENT_B")
	other := d.setup(otherID, otherKey)
	drpRefused(t, d.do("GET", "/v1/data-rights-request/"+st.RequestID, "", "", "Authorization", "Bearer "+other), http.StatusForbidden, "does not manage")

	// Without email_verified the person confirms their address as usual.
	r = d.exercise(token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"email_verified": false, "exercise": "sale:opt-out", "email": "bob@example.org"})))
	r.json(t, &st)
	if stored, err = d.store.GetRequest(context.Background(), st.RequestID); err != nil || stored.VerifiedAt != nil || stored.Type != "opt_out" {
		t.Errorf("unverified opt-out stored %+v %v", stored, err)
	}
}

// TestDRPRefusalsStoreNothing: each message the protocol says to refuse
// is answered with its error state, and nothing is stored.
func TestDRPRefusalsStoreNothing(t *testing.T) {
	d := newDRPHarness(t)
	token := d.setup(d.agentID, d.key)
	_, strangerKey, _ := ed25519.GenerateKey(nil)
	revokedID, revokedKey := d.register("AGENT_R")
	revokedToken := d.setup(revokedID, revokedKey)
	if r := d.do("POST", "/api/v1/officer/drp-agents/AGENT_R/revoke", "", "", "Authorization", "Bearer "+d.admin); r.code != http.StatusOK || !strings.Contains(r.body, `"status":"revoked"`) {
		t.Fatalf("revoke agent: %d %s", r.code, r.body)
	}
	accepted := d.message(d.key, d.agentID, exerciseClaims(map[string]any{"agent-request-id": "first"}))
	if r := d.exercise(token, accepted); r.code != http.StatusOK {
		t.Fatalf("first: %d %s", r.code, r.body)
	}
	before := d.count()
	expired := exerciseClaims(map[string]any{"issued-at": testNow.Add(-20 * time.Minute).Format(time.RFC3339), "expires-at": testNow.Add(-10 * time.Minute).Format(time.RFC3339)})

	cases := []struct {
		name, token, body string
		code              int
		says              string
	}{
		{"bad signature", token, d.message(strangerKey, d.agentID, exerciseClaims(nil)), http.StatusForbidden, "signature"},
		{"unknown agent", "", d.message(d.key, d.agentID, exerciseClaims(nil)), http.StatusForbidden, "bearer token"},
		{"made-up token", strings.Repeat("A", 43), d.message(d.key, d.agentID, exerciseClaims(nil)), http.StatusForbidden, "not one this business issued"},
		{"revoked agent", revokedToken, d.message(revokedKey, revokedID, exerciseClaims(nil)), http.StatusForbidden, "revoked"},
		{"replayed message", token, accepted, http.StatusForbidden, "already used"},
		{"expired message", token, d.message(d.key, d.agentID, expired), http.StatusForbidden, "expired"},
		{"wrong business id", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"business-id": "OTHER_SHOP"})), http.StatusForbidden, "business-id"},
		{"another agent's id", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"agent-id": "AGENT_B"})), http.StatusForbidden, "agent-id"},
		{"malformed claims: email not text", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"email": 7})), http.StatusBadRequest, "email"},
		{"malformed claims: bad address", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"email": "not an address"})), http.StatusBadRequest, "email"},
		{"malformed claims: no name", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"name": ""})), http.StatusBadRequest, "name"},
		{"unsupported action", token, d.message(d.key, d.agentID, exerciseClaims(map[string]any{"exercise": "sale:opt-in"})), http.StatusBadRequest, "Unsupported rights actions"},
		{"not base64", token, "{\"exercise\":\"deletion\"}", http.StatusBadRequest, "base64"},
		{"too large", token, strings.Repeat("A", drp.MaxBody+8), http.StatusRequestEntityTooLarge, "at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			drpRefused(t, d.exercise(c.token, c.body), c.code, c.says)
			if n := d.count(); n != before {
				t.Errorf("%d requests stored, want %d", n, before)
			}
		})
	}

	// A setup refused is a 403 with no body, and issues no token.
	events := func() int {
		es, err := d.store.DRPAgentEvents(context.Background(), d.agentID)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	n := events()
	setup := d.message(d.key, d.agentID, map[string]any{"issued-at": testNow.Add(-time.Minute).Format(time.RFC3339)})
	if r := d.do("POST", "/v1/agent/"+d.agentID, "text/plain", setup); r.code != http.StatusOK {
		t.Fatalf("second setup: %d", r.code)
	}
	for name, r := range map[string]response{
		"replayed setup":        d.do("POST", "/v1/agent/"+d.agentID, "text/plain", setup),
		"unknown agent":         d.do("POST", "/v1/agent/NOBODY", "text/plain", d.message(d.key, "NOBODY", nil)),
		"revoked agent":         d.do("POST", "/v1/agent/"+revokedID, "text/plain", d.message(revokedKey, revokedID, nil)),
		"bad signature":         d.do("POST", "/v1/agent/"+d.agentID, "text/plain", d.message(strangerKey, d.agentID, nil)),
		"URL names another":     d.do("POST", "/v1/agent/AGENT_B", "text/plain", d.message(d.key, d.agentID, nil)),
		"wrong business":        d.do("POST", "/v1/agent/"+d.agentID, "text/plain", d.message(d.key, d.agentID, map[string]any{"business-id": "X"})),
		"expired setup message": d.do("POST", "/v1/agent/"+d.agentID, "text/plain", d.message(d.key, d.agentID, map[string]any{"expires-at": testNow.Format(time.RFC3339)})),
	} {
		if r.code != http.StatusForbidden || r.body != "" {
			t.Errorf("%s: %d %q", name, r.code, r.body)
		}
	}
	if got := events(); got != n+1 {
		t.Errorf("%d tokens issued, want the one accepted setup", got-n)
	}
}

func TestDRPRevokeRefusedBeforeReview(t *testing.T) {
	d := newDRPHarness(t)
	token := d.setup(d.agentID, d.key)
	var st office.DRPStatus
	d.exercise(token, d.message(d.key, d.agentID, exerciseClaims(nil))).json(t, &st)
	revoke := d.message(d.key, d.agentID, map[string]any{"reason": "changed my mind", "drp.version": nil})
	r := d.do("DELETE", "/v1/data-rights-request/"+st.RequestID, "text/plain", revoke, "Authorization", "Bearer "+token)
	drpRefused(t, r, http.StatusConflict, "awaits the business's review")
	link, err := d.store.DRPRequestOf(context.Background(), st.RequestID)
	if err != nil || link.RevokedAt != nil {
		t.Errorf("link %+v %v", link, err)
	}
}

func TestDRPAgentsAreManagedByAdminsOnly(t *testing.T) {
	d := newDRPHarness(t)
	if r := d.officer(store.RoleOfficer, "GET", "/api/v1/officer/drp-agents", ""); r.code != http.StatusForbidden {
		t.Errorf("an officer listed agents: %d", r.code)
	}
	if r := d.officer(store.RoleOfficer, "POST", "/api/v1/officer/drp-agents", `{"id":"X","name":"X","verify_key":"x"}`); r.code != http.StatusForbidden {
		t.Errorf("an officer registered an agent: %d", r.code)
	}
	r := d.do("POST", "/api/v1/officer/drp-agents", "application/json", `{"id":"bad id!","name":"","verify_key":"abc"}`, "Authorization", "Bearer "+d.admin)
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, `"verify_key"`) || !strings.Contains(r.body, `"id"`) || !strings.Contains(r.body, `"name"`) {
		t.Errorf("invalid agent: %d %s", r.code, r.body)
	}
	r = d.do("GET", "/api/v1/officer/drp-agents/AGENT_A", "", "", "Authorization", "Bearer "+d.admin)
	var got agentView
	r.json(t, &got)
	if got.Status != "active" || len(got.Events) != 1 || got.Events[0].Action != "registered" || got.Events[0].Actor != "admin@example.org" {
		t.Errorf("agent %s", r.body)
	}
	if r := d.do("POST", "/api/v1/officer/drp-agents/AGENT_A/revoke", "", "", "Authorization", "Bearer "+d.admin); r.code != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := d.do("POST", "/api/v1/officer/drp-agents/AGENT_A/revoke", "", "", "Authorization", "Bearer "+d.admin); r.code != http.StatusConflict {
		t.Errorf("second revoke: %d %s", r.code, r.body)
	}
	r = d.do("GET", "/api/v1/officer/drp-agents/AGENT_A", "", "", "Authorization", "Bearer "+d.admin)
	r.json(t, &got)
	if got.Status != "revoked" || got.RevokedBy != "admin@example.org" || len(got.Events) != 2 || got.Events[1].Action != "revoked" {
		t.Errorf("revoked agent %s", r.body)
	}
}
