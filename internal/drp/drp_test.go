package drp

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
)

var now = time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)

func keyPair(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func exercise(over map[string]any) []byte {
	m := map[string]any{
		"agent-id": "AGENT_A", "business-id": "SHOP", "issued-at": now.Format(time.RFC3339),
		"expires-at": now.Add(10 * time.Minute).Format(time.RFC3339), "drp.version": "1.0",
		"exercise": "deletion", "regime": "ccpa", "name": "Ada Lovelace", "email": "ada@example.org",
		"email_verified": true,
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func refusal(t *testing.T, err error, status int) {
	t.Helper()
	var de *Error
	if !errors.As(err, &de) || de.Status != status {
		t.Fatalf("got %v, want a %d refusal", err, status)
	}
}

func TestOpenVerifiesTheSignature(t *testing.T) {
	pub, priv := keyPair(t)
	msg := exercise(nil)
	got, err := Open(Sign(priv, msg), pub)
	if err != nil || string(got) != string(msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := keyPair(t)
	if _, err := Open(Sign(priv, msg), other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another agent's key: %v", err)
	}
	// One byte of the message changed after signing.
	raw, _ := base64.StdEncoding.DecodeString(string(Sign(priv, msg)))
	raw[len(raw)-2] ^= 1
	if _, err := Open([]byte(base64.StdEncoding.EncodeToString(raw)), pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered message: %v", err)
	}
	refusal(t, func() error { _, err := Open([]byte("not base64!"), pub); return err }(), http.StatusBadRequest)
	refusal(t, func() error {
		_, err := Open([]byte(base64.StdEncoding.EncodeToString(make([]byte, 64))), pub)
		return err
	}(), http.StatusBadRequest)
	refusal(t, func() error { _, err := Open([]byte(strings.Repeat("A", MaxBody+4)), pub); return err }(), http.StatusRequestEntityTooLarge)
}

func TestEnvelopeCheck(t *testing.T) {
	x, err := ParseExercise(exercise(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Check("AGENT_A", "SHOP", now.Add(time.Minute)); err != nil {
		t.Fatalf("a fresh message: %v", err)
	}
	cases := []struct {
		name       string
		agent, biz string
		at         time.Time
		status     int
		fatal      bool
	}{
		{"another agent's message", "AGENT_B", "SHOP", now, http.StatusForbidden, true},
		{"sent to another business", "AGENT_A", "OTHER", now, http.StatusForbidden, true},
		{"issued in the future", "AGENT_A", "SHOP", now.Add(-2 * time.Minute), http.StatusForbidden, false},
		{"expired", "AGENT_A", "SHOP", now.Add(10 * time.Minute), http.StatusForbidden, true},
	}
	for _, c := range cases {
		err := x.Check(c.agent, c.biz, c.at)
		var de *Error
		if !errors.As(err, &de) || de.Status != c.status || de.Fatal != c.fatal {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	long, _ := ParseExercise(exercise(map[string]any{"expires-at": now.Add(2 * time.Hour).Format(time.RFC3339)}))
	refusal(t, long.Check("AGENT_A", "SHOP", now), http.StatusBadRequest)
}

func TestParseExerciseRefusesWhatDSARCannotActOn(t *testing.T) {
	for name, over := range map[string]map[string]any{
		"unsupported action":   {"exercise": "sale:opt-in"},
		"unknown action":       {"exercise": "everything"},
		"other version":        {"drp.version": "0.9"},
		"unknown regime":       {"regime": "gdpr"},
		"no email":             {"email": nil},
		"no name":              {"name": " "},
		"email not a string":   {"email": 42},
		"verified not a bool":  {"email_verified": "yes"},
		"address not a object": {"address": "1 Main St"},
		"phone not E.164":      {"phone_number": "555-0100"},
		"name of two lines":    {"name": "Ada\nBcc: x@example.org"},
		"callback not https":   {"status_callback": "http://agent.example/cb"},
		"bad timestamp":        {"issued-at": "yesterday"},
	} {
		if _, err := ParseExercise(exercise(over)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			refusal(t, err, http.StatusBadRequest)
		}
	}
	if _, err := ParseExercise([]byte(`["not", "an", "object"]`)); err == nil {
		t.Error("an array was accepted")
	}
	x, err := ParseExercise(exercise(map[string]any{"exercise": "sale:opt_out", "regime": nil, "phone_number": "+14155550100",
		"address": map[string]any{"street_address": "1 Main St", "locality": "Oakland", "country": "US"}, "custom_claim": true}))
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := RequestType(x.Exercise); typ != domain.TypeOptOut {
		t.Errorf("sale:opt_out is %q", typ)
	}
	if r, _ := x.DeadlineRegime(); r != "" {
		t.Errorf("no regime: %q", r)
	}
	if got := x.Address.String(); got != "1 Main St, Oakland, US" {
		t.Errorf("address %q", got)
	}
}

func TestActionsBecomeRequestTypes(t *testing.T) {
	for action, want := range map[string]domain.RequestType{
		"access": domain.TypeAccess, "deletion": domain.TypeDeletion,
		"sale:opt-out": domain.TypeOptOut, "sharing:opt-out": domain.TypeOptOut,
		"sale:opt_out": domain.TypeOptOut, "sharing:opt_out": domain.TypeOptOut,
	} {
		if got, ok := RequestType(action); !ok || got != want {
			t.Errorf("%s: %q %v", action, got, ok)
		}
	}
	for _, action := range []string{"sale:opt-in", "access:categories", "access:specific", ""} {
		if _, ok := RequestType(action); ok {
			t.Errorf("%s accepted", action)
		}
	}
}

func TestState(t *testing.T) {
	cases := []struct {
		status            domain.Status
		verified, revoked bool
		state, reason     string
	}{
		{domain.StatusReceived, false, false, StateOpen, ""},
		{domain.StatusVerifying, false, false, StateInProgress, ReasonNeedUserVerification},
		{domain.StatusVerifying, true, false, StateInProgress, ""},
		{domain.StatusInReview, true, false, StateInProgress, ""},
		{domain.StatusFulfilling, true, false, StateInProgress, ""},
		{domain.StatusCompleted, true, false, StateFulfilled, ""},
		{domain.StatusExpiredUnverified, false, false, StateDenied, ReasonInsufVerification},
		{domain.StatusDenied, true, false, StateDenied, ReasonOther},
		{domain.StatusDenied, true, true, StateRevoked, ""},
	}
	for _, c := range cases {
		state, reason := State(c.status, c.verified, c.revoked)
		if state != c.state || reason != c.reason {
			t.Errorf("%s verified=%v revoked=%v: %s/%s, want %s/%s", c.status, c.verified, c.revoked, state, reason, c.state, c.reason)
		}
	}
	// Every status has a state.
	for _, s := range domain.Statuses {
		if state, _ := State(s, false, false); state == "" {
			t.Errorf("%s has no DRP state", s)
		}
	}
}

func TestParseRevoke(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"agent-id": "AGENT_A", "business-id": "SHOP", "issued-at": now.Format(time.RFC3339),
		"expires-at": now.Add(time.Minute).Format(time.RFC3339), "reason": "I changed my mind"})
	r, err := ParseRevoke(b)
	if err != nil || r.Reason != "I changed my mind" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := ParseRevoke([]byte(`{"reason": 7}`)); err == nil {
		t.Error("a number as reason was accepted")
	}
}

func TestParseVerifyKey(t *testing.T) {
	pub, _ := keyPair(t)
	k, err := ParseVerifyKey(base64.StdEncoding.EncodeToString(pub))
	if err != nil || !k.Equal(pub) {
		t.Fatalf("%v", err)
	}
	for _, bad := range []string{"", "abc", base64.StdEncoding.EncodeToString(make([]byte, 31)), strings.Repeat("A", 100)} {
		if _, err := ParseVerifyKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
