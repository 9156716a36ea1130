package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// CodeDigits is the length of a verification code.
const CodeDigits = 6

// codeKeyLabel is the HKDF info verification-code keys are derived with;
// it differs from every other key's label, so the keys are unrelated.
const codeKeyLabel = "dsar verification codes v1"

// DevCodeKey hashes codes for a store given no key (tests, tools). It is
// public: production derives its key from DSAR_SECRET_KEY.
var DevCodeKey = []byte("dsar development verification code key")

// NewCode returns a verification code: six decimal digits, uniformly
// random, leading zeros kept.
func NewCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("auth: random code: %w", err)
	}
	return fmt.Sprintf("%0*d", CodeDigits, n.Int64()), nil
}

// NormalizeCode turns what a person typed into a code: spaces and dashes
// are dropped (people copy "123 456"); ok is false unless exactly six
// ASCII digits remain.
func NormalizeCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
		if b.Len() > CodeDigits {
			return "", false
		}
	}
	if b.Len() != CodeDigits {
		return "", false
	}
	return b.String(), true
}

// CodeKeys derives the keys codes are hashed with from the secret key and
// any previous ones, current first.
func CodeKeys(secret string, previous ...string) ([][]byte, error) {
	var keys [][]byte
	for _, s := range append([]string{secret}, previous...) {
		k, err := hkdf.Key(sha256.New, []byte(s), nil, codeKeyLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("auth: code key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// HashCode is the stored form of a code. A million codes are quickly
// tried against a plain hash, so it is an HMAC under a key the database
// does not hold, and covers the request ID, so equal codes of two
// requests differ.
func HashCode(key []byte, requestID, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(requestID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}
