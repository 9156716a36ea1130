package sendgridtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

//go:embed testdata/*.multipart
var fixtures embed.FS

// InboundContentType is the Content-Type of SendGrid's Inbound Parse
// posts, whose boundary the recorded fixtures use.
const InboundContentType = "multipart/form-data; boundary=xYzZY"

// Inbound Parse posts recorded as SendGrid sends them (default settings,
// not the raw MIME option): an "Unsubscribe" from Ada Lovelace
// <ada@example.com>, and a request for data with an attachment from
// Alan Turing <alan@example.com>, both to privacy@example.org.
const (
	InboundUnsubscribe = "inbound_unsubscribe.multipart"
	InboundRequest     = "inbound_request.multipart"
)

// InboundFixture is a recorded Inbound Parse post's body.
func InboundFixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(err) // a test names a fixture that is not there
	}
	return b
}

// EventSigner signs Event Webhook posts as SendGrid does, with a key
// pair a test makes: ECDSA P-256 over the timestamp followed by the
// body, base64 of the ASN.1 signature.
type EventSigner struct {
	key *ecdsa.PrivateKey
}

// NewEventSigner makes a key pair.
func NewEventSigner() (*EventSigner, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &EventSigner{key: k}, nil
}

// PublicKey is the verification key as SendGrid's settings show it (base64
// of the DER), for SENDGRID_WEBHOOK_PUBLIC_KEY.
func (s *EventSigner) PublicKey() string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Sign answers the signature header for a timestamp and body.
func (s *EventSigner) Sign(timestamp string, body []byte) string {
	h := sha256.Sum256(append([]byte(timestamp), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, h[:])
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// Event is an event about a message the server accepted, with the
// custom args it was sent with, as SendGrid posts it.
func Event(m Mail, kind, reason string, at time.Time) map[string]any {
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	e := map[string]any{
		"email": m.To, "timestamp": at.Unix(), "event": kind,
		"sg_event_id": base64.RawURLEncoding.EncodeToString(id), "sg_message_id": hex.EncodeToString(id[:8]) + ".filter0001",
		"smtp-id": "<" + hex.EncodeToString(id[:6]) + "@ismtpd0001p1lon1.sendgrid.net>",
	}
	if m.RequestID != "" {
		e["request_id"] = m.RequestID
	}
	if m.Step != "" {
		e["step"] = m.Step
	}
	switch kind {
	case "bounce":
		e["reason"], e["status"], e["type"] = reason, "5.1.1", "bounce"
	case "dropped":
		e["reason"] = reason
	case "delivered":
		e["response"] = "250 2.0.0 OK"
	}
	return e
}

// Post signs events at a time and posts them to url, as SendGrid's
// Event Webhook does.
func (s *EventSigner) Post(url string, events []map[string]any, at time.Time) (*http.Response, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", s.Sign(ts, body))
	req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	return http.DefaultClient.Do(req)
}
