package drp

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/domain"
)

// fuzzKey is a fixed agent key, so the seeds' signatures stay valid.
var fuzzKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

// FuzzOpenExercise feeds any body to what the exercise endpoint runs
// before anything is stored: Open, then ParseExercise on what a valid
// signature covers. A refusal is always an *Error with a status; what is
// accepted carries a supported action, one-line name and address, and a
// signature that covers exactly the JSON parsed.
func FuzzOpenExercise(f *testing.F) {
	for _, msg := range [][]byte{
		exercise(nil),
		exercise(map[string]any{"exercise": "sale:opt-out", "regime": nil, "email_verified": false}),
		exercise(map[string]any{"address": map[string]any{"formatted": "1 Main St\nOakland"}, "phone_number": "+14155550100"}),
		exercise(map[string]any{"exercise": "sale:opt-in"}),
		exercise(map[string]any{"email": "ada\u0000@example.org"}),
		[]byte(`{"drp.version":"1.0","exercise":"access","name":"x","email":"y","issued-at":"2026-01-01T00:00:00"}`),
		[]byte(`{}`), []byte(`null`), []byte(`{"a":1}{"b":2}`), []byte("\xff\xfe"),
	} {
		f.Add(Sign(fuzzKey, msg), true)
		f.Add(msg, false)
	}
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 80))), false)
	f.Add([]byte("   "), false)
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte, signNow bool) {
		if signNow {
			// Sign the fuzzed bytes as a message, so parsing is reached
			// with any JSON a valid signature could cover.
			if len(body) > MaxBody/2 {
				return
			}
			body = Sign(fuzzKey, body)
		}
		msg, err := Open(body, pub)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Status < 400 || de.Message == "" {
				t.Fatalf("Open refused with %T %v", err, err)
			}
			return
		}
		x, err := ParseExercise(msg)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Status != 400 || de.Message == "" {
				t.Fatalf("ParseExercise refused with %T %v", err, err)
			}
			return
		}
		if _, ok := RequestType(x.Exercise); !ok {
			t.Fatalf("accepted action %q", x.Exercise)
		}
		if x.Version != Version || domain.CheckLine(x.Name) != nil || domain.CheckLine(x.Email) != nil || !utf8.ValidString(x.AgentRequestID) {
			t.Fatalf("accepted claims %+v", x)
		}
		_ = x.Check("AGENT_A", "SHOP", now)
	})
}
