package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/auth"
)

const adaPassword = "correct horse battery staple"

func TestPasswordRoundTrip(t *testing.T) {
	hash, err := auth.HashPassword(adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hash, adaPassword) {
		t.Fatalf("hash %q contains the password", hash)
	}
	// PHC string: parameters travel with the hash.
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(hash) {
		t.Errorf("hash %q is not an argon2id PHC string with OWASP parameters", hash)
	}
	if err := auth.CheckPassword(hash, adaPassword); err != nil {
		t.Errorf("CheckPassword(right password) = %v, want nil", err)
	}
	for _, wrong := range []string{
		"correct horse battery stapl",
		"Correct horse battery staple",
		adaPassword + " ",
		"",
	} {
		if err := auth.CheckPassword(hash, wrong); !errors.Is(err, auth.ErrMismatch) {
			t.Errorf("CheckPassword(%q) = %v, want ErrMismatch", wrong, err)
		}
	}
}

func TestHashPasswordSalts(t *testing.T) {
	a, err := auth.HashPassword(adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.HashPassword(adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two hashes of one password are equal; want a fresh salt each time")
	}
	for _, h := range []string{a, b} {
		if err := auth.CheckPassword(h, adaPassword); err != nil {
			t.Errorf("CheckPassword(%q) = %v", h, err)
		}
	}
}

func TestHashPasswordRefusesShortPasswords(t *testing.T) {
	if _, err := auth.HashPassword(strings.Repeat("a", auth.MinPasswordLen-1)); err == nil {
		t.Errorf("HashPassword accepted a %d-character password", auth.MinPasswordLen-1)
	} else if !strings.Contains(err.Error(), "at least 12 characters") {
		t.Errorf("error %q does not say how long a password must be", err)
	}
	if _, err := auth.HashPassword(strings.Repeat("a", auth.MinPasswordLen)); err != nil {
		t.Errorf("HashPassword(%d characters) = %v, want nil", auth.MinPasswordLen, err)
	}
}

func TestCheckPasswordRejectsMalformedHashes(t *testing.T) {
	good, err := auth.HashPassword(adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	join := func(p ...string) string { return strings.Join(p, "$") }
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join(parts[0], "argon2i", parts[2], parts[3], parts[4], parts[5])},
		{"other version", join(parts[0], parts[1], "v=16", parts[3], parts[4], parts[5])},
		{"bad params", join(parts[0], parts[1], parts[2], "m=x,t=2,p=1", parts[4], parts[5])},
		{"bad salt", join(parts[0], parts[1], parts[2], parts[3], "!!!", parts[5])},
		{"bad key", join(parts[0], parts[1], parts[2], parts[3], parts[4], "!!!")},
		{"too few parts", join(parts[0], parts[1], parts[2], parts[3], parts[4])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.CheckPassword(tc.hash, adaPassword)
			if err == nil {
				t.Fatal("CheckPassword accepted a malformed hash")
			}
			if errors.Is(err, auth.ErrMismatch) {
				t.Errorf("CheckPassword = %v; a malformed hash is not a wrong password", err)
			}
		})
	}
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		token, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !auth.ValidTokenShape(token) {
			t.Errorf("NewToken gave %q, which ValidTokenShape refuses", token)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(token) {
			t.Errorf("token %q is not 43 URL-safe characters", token)
		}
		if hash != auth.HashToken(token) {
			t.Errorf("NewToken hash %q != HashToken(token) %q", hash, auth.HashToken(token))
		}
		sum := sha256.Sum256([]byte(token))
		if hash != hex.EncodeToString(sum[:]) {
			t.Errorf("hash %q is not the hex SHA-256 of the token", hash)
		}
		if strings.Contains(hash, token) {
			t.Errorf("hash %q contains the token", hash)
		}
		if seen[token] {
			t.Fatalf("NewToken repeated %q", token)
		}
		seen[token] = true
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), a published test vector.
	if got, want := auth.HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
	if auth.HashToken("a") == auth.HashToken("b") {
		t.Error("different tokens hash alike")
	}
}

func TestValidTokenShape(t *testing.T) {
	good, _, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		want  bool
	}{
		{"from NewToken", good, true},
		{"url-safe alphabet", strings.Repeat("A", 42) + "E", true},
		{"empty", "", false},
		{"one short", good[:42], false},
		{"one long", good + "A", false},
		{"padded", good[:42] + "=", false},
		{"standard base64 plus", strings.Repeat("+", 43), false},
		{"standard base64 slash", strings.Repeat("/", 43), false},
		{"space", strings.Repeat("A", 42) + " ", false},
		{"sql", "' OR 1=1 --" + strings.Repeat("A", 32), false},
		{"non-ascii", strings.Repeat("é", 21) + "A", false},
	} {
		if got := auth.ValidTokenShape(tc.token); got != tc.want {
			t.Errorf("%s: ValidTokenShape(%q) = %v, want %v", tc.name, tc.token, got, tc.want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	shape := regexp.MustCompile(`^DSR-[0-9A-HJKMNP-TV-Z]{10}$`) // Crockford base32: no I, L, O, U
	seen := map[string]bool{}
	for range 1000 {
		id, err := auth.NewRequestID()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(id) {
			t.Fatalf("NewRequestID() = %q, want DSR- and 10 Crockford base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID repeated %q", id)
		}
		seen[id] = true
	}
}
