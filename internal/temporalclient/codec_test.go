package temporalclient_test

import (
	"bytes"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/dsar-project/dsar/internal/temporalclient"
)

const (
	secret      = "k3y-f0r-t3sts-0nly-0123456789abcdef0123"
	otherSecret = "another-k3y-f0r-t3sts-0nly-0123456789ab"
)

// denial is the kind of value that travels through Temporal: it must never
// be stored in clear.
type denial struct {
	RequestID string
	Email     string
	Reason    string
}

var adaDenial = denial{RequestID: "DSR-7K3M9Q2XHD", Email: "ada@example.com", Reason: "Ada Lovelace's request is manifestly unfounded"}

func newCodec(t *testing.T, s string) *temporalclient.Codec {
	t.Helper()
	c, err := temporalclient.NewCodec(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func plainPayloads(t *testing.T, values ...any) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(values...)
	if err != nil {
		t.Fatal(err)
	}
	return ps.Payloads
}

func TestCodecRoundTrip(t *testing.T) {
	c := newCodec(t, secret)
	plain := plainPayloads(t, adaDenial, "ada@example.com", 42, nil)
	originals := make([]*commonpb.Payload, len(plain))
	for i, p := range plain {
		originals[i] = proto.Clone(p).(*commonpb.Payload)
	}

	enc, err := c.Encode(plain)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if len(enc) != len(plain) {
		t.Fatalf("Encode returned %d payloads for %d", len(enc), len(plain))
	}
	for i, p := range enc {
		if got := string(p.Metadata[converter.MetadataEncoding]); got != "binary/encrypted" {
			t.Errorf("payload %d encoding = %q, want binary/encrypted", i, got)
		}
		if len(p.Metadata["encryption-key-id"]) == 0 {
			t.Errorf("payload %d carries no key ID", i)
		}
		// Encode must not touch its input.
		if !proto.Equal(plain[i], originals[i]) {
			t.Errorf("Encode changed input payload %d", i)
		}
	}

	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	for i := range plain {
		if !proto.Equal(dec[i], originals[i]) {
			t.Errorf("payload %d: decoded %v, want %v", i, dec[i], originals[i])
		}
	}

	// A second codec from the same secret (another process) decodes too.
	dec2, err := newCodec(t, secret).Decode(enc)
	if err != nil {
		t.Fatalf("Decode with a codec from the same secret: %v", err)
	}
	if !proto.Equal(dec2[0], originals[0]) {
		t.Error("a codec from the same secret decoded a different value")
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	dc := newCodec(t, secret).DataConverter()
	p, err := dc.ToPayload(adaDenial)
	if err != nil {
		t.Fatal(err)
	}
	var got denial
	if err := dc.FromPayload(p, &got); err != nil {
		t.Fatalf("FromPayload: %v", err)
	}
	if got != adaDenial {
		t.Errorf("round trip gave %+v, want %+v", got, adaDenial)
	}
}

func TestEncodedPayloadHidesPlaintext(t *testing.T) {
	dc := newCodec(t, secret).DataConverter()
	p, err := dc.ToPayload(adaDenial)
	if err != nil {
		t.Fatal(err)
	}
	// Everything Temporal would store: metadata and data.
	wire, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"ada@example.com", "Ada Lovelace", "DSR-7K3M9Q2XHD", "manifestly", "json/plain", "RequestID"} {
		if bytes.Contains(wire, []byte(clear)) {
			t.Errorf("encoded payload contains %q in clear", clear)
		}
	}
	if strings.Contains(p.String(), "ada@example.com") {
		t.Error("payload's text form shows the email address")
	}
}

func TestEncodeUsesFreshNonces(t *testing.T) {
	c := newCodec(t, secret)
	a, err := c.Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[0].Data, b[0].Data) {
		t.Error("the same value encrypted twice gives the same bytes; nonces are reused")
	}
}

func TestDecodeWithAnotherSecretFails(t *testing.T) {
	enc, err := newCodec(t, secret).Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	other := newCodec(t, otherSecret)
	_, err = other.Decode(enc)
	if err == nil {
		t.Fatal("a codec with another secret decoded the payload")
	}
	if !strings.Contains(err.Error(), "DSAR_SECRET_KEY") {
		t.Errorf("error %q does not point the operator at DSAR_SECRET_KEY", err)
	}

	// Even with the key ID forged to match, the wrong key cannot open it.
	probe, err := other.Encode(plainPayloads(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	forged := proto.Clone(enc[0]).(*commonpb.Payload)
	forged.Metadata["encryption-key-id"] = probe[0].Metadata["encryption-key-id"]
	if _, err := other.Decode([]*commonpb.Payload{forged}); err == nil {
		t.Error("a forged key ID let another secret decrypt the payload")
	}
}

func TestDecodeRejectsTampering(t *testing.T) {
	c := newCodec(t, secret)
	enc, err := c.Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	n := len(enc[0].Data)
	for _, tc := range []struct {
		name   string
		tamper func(p *commonpb.Payload)
	}{
		{"flipped nonce byte", func(p *commonpb.Payload) { p.Data[0] ^= 1 }},
		{"flipped ciphertext byte", func(p *commonpb.Payload) { p.Data[n/2] ^= 0x80 }},
		{"flipped tag byte", func(p *commonpb.Payload) { p.Data[n-1] ^= 1 }},
		{"truncated", func(p *commonpb.Payload) { p.Data = p.Data[:n-1] }},
		{"shorter than a nonce", func(p *commonpb.Payload) { p.Data = p.Data[:5] }},
		{"empty", func(p *commonpb.Payload) { p.Data = nil }},
		{"appended byte", func(p *commonpb.Payload) { p.Data = append(p.Data, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proto.Clone(enc[0]).(*commonpb.Payload)
			tc.tamper(p)
			if out, err := c.Decode([]*commonpb.Payload{p}); err == nil {
				t.Errorf("Decode accepted a tampered payload: %v", out)
			}
		})
	}
	// The untouched payload still decodes: the failures above are the
	// tampering's doing.
	if _, err := c.Decode(enc); err != nil {
		t.Errorf("Decode(untampered) = %v", err)
	}
}

func TestDecodePassesUnencryptedPayloadsThrough(t *testing.T) {
	// Histories written before encryption, or by other clients, still read.
	c := newCodec(t, secret)
	plain := plainPayloads(t, "DSR-7K3M9Q2XHD")
	out, err := c.Decode(plain)
	if err != nil {
		t.Fatalf("Decode(plain) = %v", err)
	}
	if !proto.Equal(out[0], plain[0]) {
		t.Errorf("Decode changed a plain payload: %v", out[0])
	}
}

// TestRotationKeepsOpenRequestsReadable: after DSAR_SECRET_KEY changes with
// the old key kept in DSAR_SECRET_KEY_PREVIOUS, payloads sealed before the
// rotation still open, and new ones are sealed with the new key only.
func TestRotationKeepsOpenRequestsReadable(t *testing.T) {
	before, err := newCodec(t, secret).Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := temporalclient.NewCodec(otherSecret, secret)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := rotated.Decode(before)
	if err != nil {
		t.Fatalf("a payload sealed before the rotation: %v", err)
	}
	var got denial
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &got); err != nil || got != adaDenial {
		t.Errorf("decoded %+v, %v", got, err)
	}
	after, err := rotated.Encode(plainPayloads(t, adaDenial))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newCodec(t, secret).Decode(after); err == nil {
		t.Error("a payload sealed after the rotation opened with the retired key")
	}
	if _, err := newCodec(t, otherSecret).Decode(after); err != nil {
		t.Errorf("the new key alone cannot open a new payload: %v", err)
	}
}
