package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestTOTP(t *testing.T) {
	k, err := NewTOTPKey("dsar", "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.URL(), "otpauth://totp/dsar:grace@example.com?") || k.Period() != 30 || len(k.Secret()) != 32 {
		t.Fatalf("key %s", k.URL())
	}
	again, err := TOTPKey("dsar", "grace@example.com", k.Secret())
	if err != nil || again.Secret() != k.Secret() || again.Issuer() != "dsar" || again.AccountName() != "grace@example.com" || again.Period() != 30 {
		t.Fatalf("TOTPKey = %v, %v", again, err)
	}

	now := time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)
	code, err := totp.GenerateCode(k.Secret(), now) // what an authenticator shows
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		code   string
		at     time.Time
		ok     bool
		offset int64
	}{
		{"now", code, now, true, 0},
		{"a step late", code, now.Add(30 * time.Second), true, -1},
		{"a step early", code, now.Add(-30 * time.Second), true, 1},
		{"two steps late", code, now.Add(60 * time.Second), false, 0},
		{"spaces around", " " + code + " ", now, true, 0},
		{"five digits", code[:5], now, false, 0},
		{"letters", "abcdef", now, false, 0},
		{"empty", "", now, false, 0},
	} {
		step, ok := MatchTOTP(k.Secret(), tc.code, tc.at)
		if ok != tc.ok || (ok && step != TOTPStep(tc.at)+tc.offset) {
			t.Errorf("%s: MatchTOTP = %d, %v; want ok %v", tc.name, step, ok, tc.ok)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes(RecoveryCodeCount)
	if err != nil || len(codes) != 10 || len(hashes) != 10 {
		t.Fatalf("NewRecoveryCodes = %d, %d, %v", len(codes), len(hashes), err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 19 || seen[c] {
			t.Errorf("code %q", c)
		}
		seen[c] = true
		for _, typed := range []string{c, strings.ToLower(c), strings.ReplaceAll(c, "-", " "), strings.ReplaceAll(c, "-", "")} {
			if h, ok := RecoveryCodeHash(typed); !ok || h != hashes[i] {
				t.Errorf("RecoveryCodeHash(%q) does not match", typed)
			}
		}
	}
	if h, ok := RecoveryCodeHash("oooo-iiii-llll-0000"); !ok || h != HashToken("0000111111110000") {
		t.Error("misread letters are not read as digits")
	}
	for _, bad := range []string{"", "123456", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQRST", "ABCD-EFGH-JKMN-PQR\x00", "ABCD-EFGH-JKMN-PQRU"} {
		if _, ok := RecoveryCodeHash(bad); ok {
			t.Errorf("RecoveryCodeHash(%q) accepted", bad)
		}
	}
}
