package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/demo"
)

// crm is a webhook system: it checks dsar's signature, refuses the first
// call as if it were down, then answers with what it holds.
type crm struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	calls  []activities.WebhookRequest
	failed int
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, _ := strconv.ParseInt(r.Header.Get(activities.HeaderTimestamp), 10, 64)
	if r.Header.Get(activities.HeaderSignature) != activities.Sign(c.secret, ts, body) {
		c.t.Errorf("webhook call with a bad signature")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var in activities.WebhookRequest
	if err := json.Unmarshal(body, &in); err != nil {
		c.t.Errorf("webhook body: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, in)
	if c.failed == 0 {
		c.failed++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"summary":"1 contact record found","records":[{"crm_id":7,"email":"`+in.Identities["email"][0]+`","segment":"loyal customers"}]}`)
}

func (c *crm) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// TestWebhookAndManualSystemsJoinTheRequest: an approved request waits
// for a webhook system (retried until it answers) and a manual task (done
// by an officer), and both reach the package and the email.
func TestWebhookAndManualSystemsJoinTheRequest(t *testing.T) {
	hook := &crm{t: t, secret: "crm-signing-secret-0123456789"}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	t.Setenv("E2E_CRM_URL", srv.URL+"/dsar")
	t.Setenv("E2E_CRM_SECRET", hook.secret)
	s := newSystemWith(t, `
  - name: crm
    kind: webhook
    url_env: E2E_CRM_URL
    secret_env: E2E_CRM_SECRET
  - name: paper_archive
    kind: manual
    instructions: Search the contracts cabinet by the requester's name and scan what you find.
`)
	p := demo.PersonAt(0)
	var r created
	if code := s.call("POST", "/api/v1/requests", "", map[string]any{"type": "access", "email": p.Email, "name": p.Name}, &r); code != http.StatusCreated {
		t.Fatalf("submit: %d", code)
	}
	if code, _ := s.confirm(verifyLink.FindString(s.waitMail(r.ID, "verification").Text)); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	s.waitStatus(r.ID, "in_review")
	var decided struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/approve", s.token, nil, &decided); code != http.StatusOK || decided.Status != "fulfilling" {
		t.Fatalf("approve: %d %+v, want fulfilling", code, decided)
	}

	// The manual task waits for an officer; the webhook is retried.
	var detail struct {
		Status string
		Tasks  []struct{ System, Kind, Instructions, Note string }
	}
	s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
	if len(detail.Tasks) != 2 || detail.Tasks[1].System != "paper_archive" || !strings.Contains(detail.Tasks[1].Instructions, "contracts cabinet") {
		t.Fatalf("tasks: %+v", detail.Tasks)
	}
	deadline := time.Now().Add(60 * time.Second)
	for hook.callCount() < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := hook.callCount(); n != 2 {
		t.Fatalf("the webhook was called %d times, want a refused call and a retry", n)
	}
	if c := hook.calls[1]; c.RequestID != r.ID || c.Type != "access" || c.Identities["email"][0] != p.Email {
		t.Errorf("webhook request: %+v", c)
	}
	time.Sleep(500 * time.Millisecond)
	if s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail); detail.Status != "fulfilling" {
		t.Errorf("with the manual task open the request is %s, want fulfilling", detail.Status)
	}

	task := "/api/v1/officer/requests/" + r.ID + "/tasks/"
	var bad struct{ Fields map[string]string }
	if code := s.call("POST", task+"paper_archive/complete", s.token, map[string]string{"note": " "}, &bad); code != http.StatusBadRequest || bad.Fields["note"] == "" {
		t.Errorf("completing without a note: %d %+v", code, bad)
	}
	if code := s.call("POST", task+"crm/complete", s.token, map[string]string{"note": "done"}, nil); code != http.StatusConflict {
		t.Errorf("completing a webhook by hand: %d, want 409", code)
	}
	if code := s.call("POST", task+"payroll/complete", s.token, map[string]string{"note": "done"}, nil); code != http.StatusNotFound {
		t.Errorf("completing an unknown task: %d, want 404", code)
	}
	const note = "No signed contracts found in the cabinet"
	if code := s.call("POST", task+"paper_archive/complete", s.token, map[string]string{"note": note}, nil); code != http.StatusOK {
		t.Fatalf("completing the manual task: %d", code)
	}
	if code := s.call("POST", task+"paper_archive/complete", s.token, map[string]string{"note": note}, nil); code != http.StatusConflict {
		t.Errorf("completing it twice: %d, want 409", code)
	}

	done := s.waitMail(r.ID, "completed").Text
	s.waitStatus(r.ID, "completed")
	s.recordHistory(r.ID, "subject_request_access_other_systems_local_steps.json")
	for _, want := range []string{"crm: 1 contact record found", "paper_archive: handled by our staff (" + note + ")"} {
		if !strings.Contains(done, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, done)
		}
	}
	z, _ := s.download(done)
	files := readZip(t, z)
	if !strings.Contains(files["report.html"], "loyal customers") || !strings.Contains(files["report.html"], note) {
		t.Errorf("report.html lacks the CRM's records or the manual note")
	}
	var doc struct {
		Others []struct {
			System  string
			Records []map[string]any
		} `json:"other_systems"`
	}
	if err := json.Unmarshal([]byte(files["data.json"]), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Others) != 2 || doc.Others[0].System != "crm" || len(doc.Others[0].Records) != 1 || doc.Others[0].Records[0]["segment"] != "loyal customers" {
		t.Errorf("data.json other_systems: %+v", doc.Others)
	}
	if n := hook.callCount(); n != 2 {
		t.Errorf("the webhook was called %d times in all, want 2", n)
	}
}
