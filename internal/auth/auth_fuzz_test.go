package auth_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/dsar-project/dsar/internal/auth"
)

// Fuzz targets for what arrives from outside: tokens in link paths and
// bearer headers, and the encoded password hashes read back from the
// database. go test runs the seeds; docs/fuzzing.md says how to fuzz.

var (
	hexHash   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	requestID = regexp.MustCompile(`^DSR-[0-9A-HJKMNP-TV-Z]{10}$`)
)

// FuzzTokenShape: ValidTokenShape never panics, accepts only 43
// URL-safe characters that decode to 32 bytes, and HashToken is always 64
// lower-case hex digits, the same for the same token.
func FuzzTokenShape(f *testing.F) {
	good, _, err := auth.NewToken()
	if err != nil {
		f.Fatal(err)
	}
	id, err := auth.NewRequestID()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good, good[:42], good + "A", good[:42] + "=", strings.Repeat("A", 42) + "E", strings.Repeat("_", 43),
		strings.Repeat("+", 43), strings.Repeat("/", 43), strings.Repeat("A", 42) + " ", strings.Repeat("A", 42) + "\x00",
		"' OR 1=1 --" + strings.Repeat("A", 32), strings.Repeat("é", 21) + "A", "../../etc/passwd", "%00", "", id,
		strings.Repeat("A", 42) + "\xff", good[:21] + "\n" + good[22:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := auth.HashToken(s)
		if !hexHash.MatchString(h) || h != auth.HashToken(s) {
			t.Fatalf("HashToken(%q) = %q, not a stable 64-digit hex hash", s, h)
		}
		if requestID.MatchString(s) && auth.ValidTokenShape(s) {
			t.Fatalf("%q has both a request ID's and a token's shape", s)
		}
		if !auth.ValidTokenShape(s) {
			return
		}
		if len(s) != 43 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("ValidTokenShape(%q) = true for characters outside the URL-safe alphabet", s)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("ValidTokenShape(%q) = true but it decodes to %d bytes, %v", s, len(b), err)
		}
	})
}

// FuzzNewRequestIDShape checks generated references against their
// documented shape; the input only varies how many are drawn.
func FuzzNewRequestIDShape(f *testing.F) {
	f.Add(uint8(1))
	f.Add(uint8(50))
	f.Fuzz(func(t *testing.T, n uint8) {
		for range int(n%64) + 1 {
			id, err := auth.NewRequestID()
			if err != nil {
				t.Fatal(err)
			}
			if !requestID.MatchString(id) || auth.ValidTokenShape(id) {
				t.Fatalf("NewRequestID() = %q, want DSR- and 10 Crockford base32 characters", id)
			}
		}
	})
}

// Largest cost parameters the fuzz target lets CheckPassword run with,
// so one input cannot take seconds or gigabytes.
const (
	fuzzMaxMemoryKiB = 256
	fuzzMaxTime      = 3
)

// FuzzCheckPassword: an encoded hash as read back from the database (a
// corrupted row, a hand-edited one) never panics CheckPassword, never
// matches a password it was not made from, and a hash made with any
// password checks against that password.
func FuzzCheckPassword(f *testing.F) {
	good, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, "$")
	join := func(p ...string) string { return strings.Join(p, "$") }
	cheap := join("", "argon2id", "v=19", "m=64,t=1,p=1", parts[4], parts[5])
	for _, enc := range []string{
		good, cheap, "", "x", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		join("", "argon2i", "v=19", "m=64,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=16", "m=64,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=x,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=64,t=0,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=64,t=1,p=0", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=0,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=64,t=1,p=256", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", "", parts[5]),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", parts[4], ""),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", parts[4], "AA"),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!", parts[5]),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", parts[4], parts[5], ""),
	} {
		f.Add(enc, "correct horse battery staple")
		f.Add(enc, "")
	}
	f.Add(cheap, "\x00\xff multi\nline 😀")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		if !cheapEnough(encoded) {
			return
		}
		err := auth.CheckPassword(encoded, password)
		if err == nil {
			// A match needs a well-formed hash with a key to compare.
			p := strings.Split(encoded, "$")
			if len(p) != 6 || p[5] == "" {
				t.Fatalf("CheckPassword(%q, %q) matched a hash without a key", encoded, password)
			}
		}
		// A hash made from this password, with the parameters written
		// the way HashPassword writes them, checks.
		salt := []byte("fuzz-salt-16byte")
		key := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
		b64 := base64.RawStdEncoding
		made := fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
		if err := auth.CheckPassword(made, password); err != nil {
			t.Fatalf("CheckPassword refuses a hash of %q: %v", password, err)
		}
		if err := auth.CheckPassword(made, password+"x"); !errors.Is(err, auth.ErrMismatch) {
			t.Fatalf("CheckPassword(hash of %q, another password) = %v, want ErrMismatch", password, err)
		}
	})
}

// cheapEnough reports whether checking against encoded stays within the
// fuzz target's cost limits; what does not parse is cheap (refused).
func cheapEnough(encoded string) bool {
	p := strings.Split(encoded, "$")
	if len(p) != 6 {
		return true
	}
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(p[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return true
	}
	return memory <= fuzzMaxMemoryKiB && time <= fuzzMaxTime && len(p[5]) <= 4096 && uint32(threads)*8 <= fuzzMaxMemoryKiB*4
}
