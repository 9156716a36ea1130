package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/drp"
	"github.com/dsar-project/dsar/internal/store"
)

const drpBusinessID = "EXAMPLE_SHOP"

// drpAgent is an authorized agent as the test plays it: its own key
// pair, and the token its pairwise key setup earned.
type drpAgent struct {
	s     *system
	id    string
	key   ed25519.PrivateKey
	token string
}

// signed is a message from the agent, valid for five minutes from now.
func (a *drpAgent) signed(claims map[string]any) string {
	now := time.Now().UTC()
	m := map[string]any{"agent-id": a.id, "business-id": drpBusinessID, "drp.version": "1.0",
		"issued-at": now.Format(time.RFC3339Nano), "expires-at": now.Add(5 * time.Minute).Format(time.RFC3339Nano)}
	for k, v := range claims {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		a.s.t.Fatal(err)
	}
	return string(drp.Sign(a.key, b))
}

// send posts a signed message as text/plain, as the protocol says, and
// decodes the JSON answer.
func (a *drpAgent) send(method, path, body string, out any) int {
	a.s.t.Helper()
	req, err := http.NewRequest(method, a.s.base+path, strings.NewReader(body))
	if err != nil {
		a.s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.s.t.Fatal(err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type drpStatus struct {
	RequestID         string `json:"request_id"`
	Status            string `json:"status"`
	Reason            string `json:"reason"`
	AgentRequestID    string `json:"agent_request_id"`
	ProcessingDetails string `json:"processing_details"`
}

// newDRPAgent registers a fresh key pair as an agent (an admin does,
// through the API) and runs the agent's pairwise key setup.
func newDRPAgent(t *testing.T, s *system) *drpAgent {
	t.Helper()
	admin, err := app.CreateOfficer(context.Background(), s.app.Store, "admin@example.org", store.RoleAdmin, "correct horse battery", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &drpAgent{s: s, id: "CONSUMER_AGENT", key: priv}
	var registered struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/drp-agents", admin, map[string]string{
		"id": a.id, "name": "Consumer Agent", "verify_key": base64.StdEncoding.EncodeToString(pub),
	}, &registered); code != http.StatusCreated || registered.Status != "active" {
		t.Fatalf("register agent: %d %+v", code, registered)
	}
	var setup struct {
		AgentID string `json:"agent-id"`
		Token   string `json:"token"`
	}
	if code := a.send("POST", "/v1/agent/"+a.id, a.signed(nil), &setup); code != http.StatusOK || setup.Token == "" || setup.AgentID != a.id {
		t.Fatalf("pairwise key setup: %d %+v", code, setup)
	}
	a.token = setup.Token
	return a
}

// TestAuthorizedAgentDeletionRunsToFulfilled: an agent sets up its key,
// sends a deletion for a person whose address it verified; the request
// runs the usual workflow (no verification email, the officer approves,
// the rows go) and the status endpoint ends at fulfilled.
func TestAuthorizedAgentDeletionRunsToFulfilled(t *testing.T) {
	s := newSystemEnv(t, "", map[string]string{"DSAR_DRP_BUSINESS_ID": drpBusinessID})
	var doc struct {
		Version string
		Actions []string
	}
	if code := s.call("GET", "/.well-known/data-rights.json", "", nil, &doc); code != http.StatusOK || doc.Version != "1.0" {
		t.Fatalf("discovery: %d %+v", code, doc)
	}
	a := newDRPAgent(t, s)

	const person = 1 // Alan Turing
	p := demo.PersonAt(person)
	before := s.snapshot()
	var st drpStatus
	code := a.send("POST", "/v1/data-rights-request", a.signed(map[string]any{
		"exercise": "deletion", "regime": "ccpa", "agent-request-id": "cr-42",
		"name": p.Name, "email": p.Email, "email_verified": true,
	}), &st)
	if code != http.StatusOK || st.RequestID == "" || st.AgentRequestID != "cr-42" || (st.Status != "open" && st.Status != "in_progress") {
		t.Fatalf("exercise: %d %+v", code, st)
	}

	// The agent's attestation verified the address: the workflow goes to
	// review without a verification email.
	s.waitStatus(st.RequestID, "in_review")
	s.waitMail(st.RequestID, "acknowledgement")
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == st.RequestID && strings.HasPrefix(m.Step, "verification") {
			t.Errorf("a %s email went to a person the agent verified", m.Step)
		}
	}
	var inProgress drpStatus
	if code := a.send("GET", "/v1/data-rights-request/"+st.RequestID, "", &inProgress); code != http.StatusOK || inProgress.Status != "in_progress" || inProgress.Reason != "" {
		t.Errorf("status in review: %d %+v", code, inProgress)
	}

	if status := s.approve(st.RequestID, "deletion"); status != "completed" {
		t.Fatalf("approve: %s", status)
	}
	s.waitMail(st.RequestID, "completed")
	var done drpStatus
	if code := a.send("GET", "/v1/data-rights-request/"+st.RequestID, "", &done); code != http.StatusOK || done.Status != "fulfilled" || done.AgentRequestID != "cr-42" {
		t.Errorf("status after completion: %d %+v", code, done)
	}
	after := s.snapshot()
	unchangedExcept(t, before, after, person)
	if _, kept := after["customers"][int64(person)]; kept {
		t.Error("the person's customer row is still there")
	}

	trail, err := s.app.Store.Timeline(context.Background(), st.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	var verifiedByAgent bool
	for _, e := range trail {
		verifiedByAgent = verifiedByAgent || (e.Action == "identity_verified" && e.Actor == "agent:"+a.id)
	}
	if !verifiedByAgent {
		t.Errorf("the trail does not record the agent's verification: %+v", trail)
	}
	noneInHistory(t, "request/"+st.RequestID, p.Email, p.Name)
}

// TestAuthorizedAgentRevokesARequestAwaitingReview: revoking ends the
// request through the officer's denial with the agent's reason, and the
// status says revoked; a second revocation changes nothing.
func TestAuthorizedAgentRevokesARequestAwaitingReview(t *testing.T) {
	s := newSystemEnv(t, "", map[string]string{"DSAR_DRP_BUSINESS_ID": drpBusinessID})
	a := newDRPAgent(t, s)
	p := demo.PersonAt(2)
	var st drpStatus
	if code := a.send("POST", "/v1/data-rights-request", a.signed(map[string]any{
		"exercise": "access", "name": p.Name, "email": p.Email, "email_verified": true,
	}), &st); code != http.StatusOK {
		t.Fatalf("exercise: %d %+v", code, st)
	}
	s.waitStatus(st.RequestID, "in_review")
	var revoked drpStatus
	if code := a.send("DELETE", "/v1/data-rights-request/"+st.RequestID, a.signed(map[string]any{"reason": "I no longer want this"}), &revoked); code != http.StatusOK || revoked.Status != "revoked" {
		t.Fatalf("revoke: %d %+v", code, revoked)
	}
	s.waitStatus(st.RequestID, "denied")
	denial := s.waitMail(st.RequestID, "denied")
	if !strings.Contains(denial.Text, "Revoked by authorized agent Consumer Agent") || !strings.Contains(denial.Text, "I no longer want this") {
		t.Errorf("the denial email does not say the agent revoked it:\n%s", denial.Text)
	}
	var again struct{ Code, Message string }
	if code := a.send("DELETE", "/v1/data-rights-request/"+st.RequestID, a.signed(map[string]any{"reason": "again"}), &again); code != http.StatusConflict {
		t.Errorf("second revoke: %d %+v", code, again)
	}
	var now drpStatus
	if code := a.send("GET", "/v1/data-rights-request/"+st.RequestID, "", &now); code != http.StatusOK || now.Status != "revoked" {
		t.Errorf("status: %d %+v", code, now)
	}
}
