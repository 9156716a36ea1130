// Package drp reads the messages of the Data Rights Protocol 1.0, the
// open protocol through which an authorized agent exercises a person's
// data rights with a covered business (docs/drp.md). A message is a JSON
// object with the agent's Ed25519 signature prepended, base64-encoded;
// this package opens it, checks the claims the protocol requires and
// answers refusals as the protocol's error states. It does no I/O: the
// agent's key, the replay record and the request itself belong to the
// callers.
package drp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
)

// Version is the protocol version dsar speaks.
const Version = "1.0"

// Limits on what an agent may send.
const (
	// MaxBody is the largest signed message accepted: a request's claims
	// are a few hundred bytes.
	MaxBody = 16 << 10
	// MaxLifetime is the longest a message may be valid: the protocol
	// recommends ten minutes, and dsar remembers each message it accepted
	// until it expires, so a replay is refused.
	MaxLifetime = time.Hour
	// ClockSkew is how far an agent's clock may run ahead of dsar's.
	ClockSkew = time.Minute
	// MaxIDLen bounds agent IDs and the agent's own request ID.
	MaxIDLen = 200
	// MaxReasonLen bounds the reason given for revoking a request.
	MaxReasonLen = 1000
)

// Error is a refusal, answered as the protocol's error state: the HTTP
// status, a message for the agent's developers, and whether retrying the
// same message can ever succeed (Fatal: it cannot).
type Error struct {
	Status  int
	Message string
	Fatal   bool
}

func (e *Error) Error() string { return e.Message }

func malformed(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Fatal: true}
}

func forbidden(fatal bool, format string, args ...any) error {
	return &Error{Status: http.StatusForbidden, Message: fmt.Sprintf(format, args...), Fatal: fatal}
}

// ErrBadSignature: the message was not signed by the agent's key.
var ErrBadSignature = &Error{Status: http.StatusForbidden, Message: "the signature does not verify against the agent's key"}

// Open decodes a signed message (base64 of the signature followed by the
// JSON it signs) and verifies the signature with the agent's key. It
// answers the signed JSON; nothing in it may be trusted before Open.
func Open(body []byte, key ed25519.PublicKey) ([]byte, error) {
	if len(body) > MaxBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("a signed message is at most %d bytes", MaxBody)}
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(body)))
	if err != nil {
		return nil, malformed("the body must be a base64-encoded signed message")
	}
	if len(raw) <= ed25519.SignatureSize {
		return nil, malformed("the body is shorter than an Ed25519 signature and a message")
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, ErrBadSignature
	}
	sig, msg := raw[:ed25519.SignatureSize], raw[ed25519.SignatureSize:]
	if !ed25519.Verify(key, msg, sig) {
		return nil, ErrBadSignature
	}
	return msg, nil
}

// Sign makes a signed message as an agent does: the signature prepended
// to the message, base64-encoded. dsar signs nothing; tests and the
// documentation's examples use it.
func Sign(key ed25519.PrivateKey, msg []byte) []byte {
	signed := append(ed25519.Sign(key, msg), msg...)
	return []byte(base64.StdEncoding.EncodeToString(signed))
}

// ParseVerifyKey reads an agent's verify key as the protocol's agent
// directory publishes it: base64 of the 32-byte Ed25519 public key.
func ParseVerifyKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(s))
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("must be a base64-encoded Ed25519 public key (32 bytes)")
	}
	return ed25519.PublicKey(b), nil
}

// Time is a timestamp in a message. The protocol says ISO 8601; dsar
// reads RFC 3339 (with or without fractions of a second) and, as UTC, the
// same without a zone, which some agents' libraries write.
type Time struct{ time.Time }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// UnmarshalJSON reads a timestamp string.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a timestamp must be an ISO 8601 string")
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not an ISO 8601 timestamp such as 2026-05-04T09:30:00Z", s)
}

// MarshalJSON writes a timestamp in RFC 3339, UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// Envelope holds the claims every signed message carries: who sends it,
// to whom, and when it is valid.
type Envelope struct {
	AgentID    string `json:"agent-id"`
	BusinessID string `json:"business-id"`
	IssuedAt   Time   `json:"issued-at"`
	ExpiresAt  Time   `json:"expires-at"`
	Version    string `json:"drp.version"`
}

// Check validates the envelope in the protocol's order (section 3.07):
// the agent it names is the one whose key signed it, the business is
// this one, and now lies between its issue and its expiry. It also
// refuses a message valid for longer than MaxLifetime, which dsar could
// not remember long enough to refuse its replay.
func (e *Envelope) Check(agentID, businessID string, now time.Time) error {
	switch {
	case e.AgentID != agentID:
		return forbidden(true, "agent-id does not name the agent whose key signed the message")
	case e.BusinessID != businessID:
		return forbidden(true, "business-id does not name this covered business")
	case e.IssuedAt.IsZero() || e.ExpiresAt.IsZero():
		return malformed("issued-at and expires-at are required")
	case e.IssuedAt.After(now.Add(ClockSkew)):
		return forbidden(false, "issued-at is in the future: check the agent's clock")
	case !now.Before(e.ExpiresAt.Time):
		return forbidden(true, "the message expired at %s", e.ExpiresAt.UTC().Format(time.RFC3339))
	case e.ExpiresAt.Sub(e.IssuedAt.Time) > MaxLifetime:
		return malformed("a message may be valid for at most %s (expires-at minus issued-at)", MaxLifetime)
	}
	return nil
}

func (e *Envelope) checkVersion() error {
	if e.Version != Version {
		return malformed("drp.version must be %q", Version)
	}
	return nil
}

// decode reads a message's JSON object; claims of the wrong type are
// malformed, claims dsar does not know are ignored (the protocol allows
// any other JWT claim).
func decode(msg []byte, v any) error {
	if !utf8.Valid(msg) {
		return malformed("the signed message is not UTF-8 JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return malformed("claim %s has the wrong type: %s is not a %s", te.Field, te.Value, te.Type)
		}
		return malformed("the signed message is not a JSON object: %v", err)
	}
	if dec.More() {
		return malformed("the signed message has data after its JSON object")
	}
	return nil
}

// ParseSetup reads a pairwise key setup message (section 2.05).
func ParseSetup(msg []byte) (*Envelope, error) {
	var e Envelope
	if err := decode(msg, &e); err != nil {
		return nil, err
	}
	if err := e.checkVersion(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Address is the OpenID Connect address claim.
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// String is the address on one line, empty parts left out.
func (a *Address) String() string {
	if a == nil {
		return ""
	}
	if a.Formatted != "" {
		return strings.Join(strings.Fields(a.Formatted), " ")
	}
	var parts []string
	for _, p := range []string{a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, strings.Join(strings.Fields(p), " "))
		}
	}
	return strings.Join(parts, ", ")
}

// Identity is the person the request is about, as the agent vouches
// for them (section 3.04).
type Identity struct {
	Name                string   `json:"name"`
	Email               string   `json:"email"`
	EmailVerified       bool     `json:"email_verified"`
	PhoneNumber         string   `json:"phone_number"`
	PhoneNumberVerified bool     `json:"phone_number_verified"`
	Address             *Address `json:"address"`
	AddressVerified     bool     `json:"address_verified"`
	PowerOfAttorney     string   `json:"power_of_attorney"`
}

// Exercise is a data rights request (section 2.01).
type Exercise struct {
	Envelope
	AgentRequestID string   `json:"agent-request-id"`
	Exercise       string   `json:"exercise"`
	Regime         string   `json:"regime"`
	Relationships  []string `json:"relationships"`
	StatusCallback string   `json:"status_callback"`
	Identity
}

// Actions are the rights dsar accepts, in the protocol's spelling, with
// the request type each becomes. Opting out of sale and of sharing are
// one dsar opt-out, which stops both. The underscore spellings are those
// of drafts before 1.0, still sent by some agents.
var Actions = []Action{
	{"access", domain.TypeAccess},
	{"deletion", domain.TypeDeletion},
	{"sale:opt-out", domain.TypeOptOut},
	{"sharing:opt-out", domain.TypeOptOut},
}

var legacyActions = map[string]string{"sale:opt_out": "sale:opt-out", "sharing:opt_out": "sharing:opt-out"}

// Action is one right an agent may exercise.
type Action struct {
	Name string
	Type domain.RequestType
}

// ActionNames lists the actions in the protocol's spelling, for the
// discovery document.
func ActionNames() []string {
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = a.Name
	}
	return names
}

// RequestType is the dsar request type an exercise becomes.
func RequestType(exercise string) (domain.RequestType, bool) {
	if n, ok := legacyActions[exercise]; ok {
		exercise = n
	}
	for _, a := range Actions {
		if a.Name == exercise {
			return a.Type, true
		}
	}
	return "", false
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// ParseExercise reads a data rights request and checks its claims: the
// version, a supported action under a supported regime, and identity
// claims dsar can act on (a name and an email address at least).
func ParseExercise(msg []byte) (*Exercise, error) {
	var x Exercise
	if err := decode(msg, &x); err != nil {
		return nil, err
	}
	if err := x.checkVersion(); err != nil {
		return nil, err
	}
	if _, ok := RequestType(x.Exercise); !ok {
		return nil, malformed("Unsupported rights actions submitted: exercise must be one of %s", strings.Join(ActionNames(), ", "))
	}
	if _, err := x.DeadlineRegime(); err != nil {
		return nil, err
	}
	if err := x.checkClaims(); err != nil {
		return nil, err
	}
	return &x, nil
}

// DeadlineRegime is the clock the request runs on: CCPA's when the agent
// names it, the organisation's default for a voluntary request.
func (x *Exercise) DeadlineRegime() (deadline.Regime, error) {
	switch x.Regime {
	case "":
		return "", nil
	case "ccpa":
		return deadline.CCPA, nil
	}
	return "", malformed("regime must be \"ccpa\" or left out (a voluntary request)")
}

func (x *Exercise) checkClaims() error {
	line := func(claim, v string, max int) error {
		if domain.CheckLine(v) != nil {
			return malformed("claim %s must be one line of text", claim)
		}
		if utf8.RuneCountInString(v) > max {
			return malformed("claim %s is longer than %d characters", claim, max)
		}
		return nil
	}
	switch {
	case strings.TrimSpace(x.Name) == "":
		return malformed("identity claim name is required")
	case strings.TrimSpace(x.Email) == "":
		return malformed("identity claim email is required: dsar answers the person at their address")
	case x.PhoneNumber != "" && !e164.MatchString(x.PhoneNumber):
		return malformed("identity claim phone_number must be in E.164 form, such as +14155550100")
	case x.StatusCallback != "" && !httpsURL(x.StatusCallback):
		return malformed("status_callback must be an https URL")
	case len(x.Relationships) > 20:
		return malformed("relationships lists at most 20 hints")
	}
	for claim, v := range map[string]string{"name": x.Name, "email": x.Email, "agent-request-id": x.AgentRequestID, "power_of_attorney": x.PowerOfAttorney} {
		if err := line(claim, v, MaxIDLen); err != nil {
			return err
		}
	}
	if x.Address != nil {
		a := x.Address
		for claim, v := range map[string]string{"formatted": a.Formatted, "street_address": a.StreetAddress, "locality": a.Locality, "region": a.Region, "postal_code": a.PostalCode, "country": a.Country} {
			if domain.CheckText(v) != nil || utf8.RuneCountInString(v) > MaxIDLen {
				return malformed("identity claim address.%s must be text of at most %d characters", claim, MaxIDLen)
			}
		}
	}
	for _, r := range x.Relationships {
		if err := line("relationships", r, 100); err != nil {
			return err
		}
	}
	return nil
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && len(s) <= 2000
}

// Revoke is a request to cancel a data rights request (section 2.04).
// dsar requires the envelope's claims in it too, as section 3.07 does of
// every signed message, so a revocation cannot be replayed or sent to
// another business.
type Revoke struct {
	Envelope
	Reason string `json:"reason"`
}

// ParseRevoke reads a revocation.
func ParseRevoke(msg []byte) (*Revoke, error) {
	var r Revoke
	if err := decode(msg, &r); err != nil {
		return nil, err
	}
	if r.Version != "" && r.Version != Version {
		return nil, malformed("drp.version must be %q or left out", Version)
	}
	if domain.CheckText(r.Reason) != nil || utf8.RuneCountInString(r.Reason) > MaxReasonLen {
		return nil, malformed("reason must be text of at most %d characters", MaxReasonLen)
	}
	return &r, nil
}

// The protocol's request states (section 3.02) and the reasons dsar uses.
const (
	StateOpen       = "open"
	StateInProgress = "in_progress"
	StateFulfilled  = "fulfilled"
	StateRevoked    = "revoked"
	StateDenied     = "denied"
	StateExpired    = "expired"

	ReasonNeedUserVerification = "need_user_verification"
	ReasonInsufVerification    = "insuf_verification"
	ReasonOther                = "other"
)

// State is where a dsar request stands in the protocol's terms
// (docs/drp.md has the table): verified tells whether the person's
// identity is established, revoked whether the agent revoked it.
func State(s domain.Status, verified, revoked bool) (state, reason string) {
	switch s {
	case domain.StatusReceived:
		return StateOpen, ""
	case domain.StatusVerifying:
		if verified {
			return StateInProgress, ""
		}
		return StateInProgress, ReasonNeedUserVerification
	case domain.StatusInReview, domain.StatusFulfilling:
		return StateInProgress, ""
	case domain.StatusCompleted:
		return StateFulfilled, ""
	case domain.StatusExpiredUnverified:
		return StateDenied, ReasonInsufVerification
	case domain.StatusDuplicate:
		return StateDenied, ReasonOther
	case domain.StatusDenied:
		if revoked {
			return StateRevoked, ""
		}
		return StateDenied, ReasonOther
	}
	return StateOpen, ""
}
