package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/mail"
)

func sign(t *testing.T, k *ecdsa.PrivateKey, ts string, body []byte) string {
	t.Helper()
	h := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestVerifyEvents(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	body := []byte(`[{"event":"delivered"}]`)
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)
	for _, c := range []struct {
		name     string
		sig, ts  string
		body     []byte
		want     error
		wantNone bool
	}{
		{name: "good", sig: sign(t, key, ts, body), ts: ts, body: body, wantNone: true},
		{name: "no signature", ts: ts, body: body, want: mail.ErrEventUnsigned},
		{name: "no timestamp", sig: sign(t, key, ts, body), body: body, want: mail.ErrEventUnsigned},
		{name: "body changed", sig: sign(t, key, ts, body), ts: ts, body: []byte(`[{"event":"bounce"}]`), want: mail.ErrEventSignature},
		{name: "timestamp changed", sig: sign(t, key, ts, body), ts: strconv.FormatInt(now.Unix()-1, 10), body: body, want: mail.ErrEventSignature},
		{name: "another key", sig: sign(t, other, ts, body), ts: ts, body: body, want: mail.ErrEventSignature},
		{name: "not base64", sig: "%%%", ts: ts, body: body, want: mail.ErrEventSignature},
		{name: "old, correctly signed", sig: sign(t, key, old, body), ts: old, body: body, want: mail.ErrEventStale},
		{name: "timestamp not a number", sig: sign(t, key, "soon", body), ts: "soon", body: body, want: mail.ErrEventStale},
	} {
		err := mail.VerifyEvents(&key.PublicKey, c.sig, c.ts, c.body, now)
		if c.wantNone && err != nil || !c.wantNone && !errors.Is(err, c.want) {
			t.Errorf("%s: VerifyEvents = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParseEvents(t *testing.T) {
	body := []byte(`[
	 {"email":"ada@example.com","timestamp":1777886400,"event":"processed","sg_event_id":"p1","request_id":"DSR-1","step":"verification"},
	 {"email":"ada@example.com","timestamp":1777886401,"event":"delivered","sg_event_id":"d1","request_id":"DSR-1","step":"verification","response":"250 OK"},
	 {"email":"bob@example.com","timestamp":1777886402,"event":"bounce","sg_event_id":"b1","request_id":"DSR-2","step":"verification","reason":"550 5.1.1 no such user","type":"bounce"},
	 {"email":"eve@example.com","timestamp":1777886403,"event":"dropped","sg_event_id":"x1","reason":"Bounced Address"},
	 {"email":"eve@example.com","timestamp":"yesterday","event":"dropped","sg_event_id":"x2","request_id":"DSR-3","step":"acknowledgement"}
	]`)
	got, err := mail.ParseEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "d1" || got[1].Kind != "bounce" || got[1].Reason != "550 5.1.1 no such user" || got[1].RequestID != "DSR-2" || got[1].At.Unix() != 1777886402 {
		t.Errorf("ParseEvents = %+v, want the delivery and the bounce", got)
	}
	for _, bad := range []string{``, `{}`, `[{"event":`, `"text"`} {
		if _, err := mail.ParseEvents([]byte(bad)); !errors.Is(err, mail.ErrEventMalformed) {
			t.Errorf("ParseEvents(%q) = %v, want ErrEventMalformed", bad, err)
		}
	}
}
