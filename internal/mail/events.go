package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Headers of a signed SendGrid Event Webhook post.
const (
	EventSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	EventTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// EventMaxAge is how far a signed post's timestamp may be from now, either
// way. SendGrid signs each post when it sends it; an older one is a replay.
const EventMaxAge = 10 * time.Minute

// Why an Event Webhook post is refused.
var (
	ErrEventUnsigned   = errors.New("the post carries no signature or timestamp")
	ErrEventStale      = errors.New("the post's timestamp is missing, malformed or too far from now")
	ErrEventSignature  = errors.New("the post's signature does not verify with the configured public key")
	ErrEventMalformed  = errors.New("the post is not a JSON array of events")
	maxEventReasonRune = 500
)

// VerifyEvents checks a SendGrid Event Webhook post: an ECDSA P-256
// signature (base64 of ASN.1 DER) over the timestamp header followed by
// the raw body, with SendGrid's public key, and a timestamp (Unix
// seconds) within EventMaxAge of now.
func VerifyEvents(key *ecdsa.PublicKey, signature, timestamp string, body []byte, now time.Time) error {
	if signature == "" || timestamp == "" {
		return ErrEventUnsigned
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrEventStale
	}
	if d := now.Sub(time.Unix(secs, 0)); d > EventMaxAge || d < -EventMaxAge {
		return ErrEventStale
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return ErrEventSignature
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	if !ecdsa.VerifyASN1(key, h.Sum(nil), sig) {
		return ErrEventSignature
	}
	return nil
}

// Event is one SendGrid event about an email dsar sent, with the custom
// args Send set (request_id, step).
type Event struct {
	ID        string // sg_event_id
	Kind      string // delivered, bounce, dropped, ...
	Email     string
	Reason    string
	At        time.Time
	RequestID string
	Step      string
}

// ParseEvents reads a post's events. Custom args arrive as top-level
// members of each event. Events of other kinds, or without an ID, a
// request or a step, are left out: dsar records only what it can put on
// a request's step.
func ParseEvents(body []byte) ([]Event, error) {
	var raw []map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEventMalformed, err)
	}
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			return ""
		}
		return s
	}
	var out []Event
	for _, m := range raw {
		e := Event{ID: str(m, "sg_event_id"), Kind: str(m, "event"), Email: str(m, "email"),
			RequestID: str(m, "request_id"), Step: str(m, "step")}
		switch e.Kind {
		case "delivered", "bounce", "dropped":
		default:
			continue
		}
		if e.ID == "" || e.RequestID == "" || e.Step == "" || len(e.ID) > 100 || len(e.RequestID) > 64 || len(e.Step) > 100 {
			continue
		}
		var ts int64
		if json.Unmarshal(m["timestamp"], &ts) != nil || ts <= 0 {
			continue
		}
		e.At = time.Unix(ts, 0).UTC()
		e.Reason = strings.TrimSpace(str(m, "reason"))
		if r := []rune(e.Reason); len(r) > maxEventReasonRune {
			e.Reason = string(r[:maxEventReasonRune]) + "…"
		}
		if !utf8.ValidString(e.Reason) {
			e.Reason = strings.ToValidUTF8(e.Reason, "�")
		}
		out = append(out, e)
	}
	return out, nil
}
