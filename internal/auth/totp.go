package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP per RFC 6238 with the parameters every authenticator app accepts:
// 30-second steps, six digits, HMAC-SHA1. A code of the step before or
// after the current one is accepted too, for clocks a little apart.
const (
	TOTPPeriod = 30
	TOTPSkew   = 1
	// RecoveryCodeCount is how many recovery codes an officer is given.
	RecoveryCodeCount = 10
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPKey makes a new random TOTP secret (160 bits, as RFC 4226
// recommends) for an account, with its otpauth:// URI.
func NewTOTPKey(issuer, account string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: TOTPPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: new TOTP key: %w", err)
	}
	return k, nil
}

// TOTPKey rebuilds the key (URI, QR image) of a secret made by NewTOTPKey.
func TOTPKey(issuer, account, secret string) (*otp.Key, error) {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("period", strconv.Itoa(TOTPPeriod))
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return otp.NewKeyFromURL(u.String())
}

// TOTPStep is the time step a moment falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode is the code of a secret for a time step, as an authenticator
// shows it.
func TOTPCode(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totpOpts)
}

// MatchTOTP reports which time step, of the current one and TOTPSkew
// either side, code is the code of; ok is false if none. The caller must
// still refuse a step already used (the store remembers the last).
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if !ValidTOTPShape(code) {
		return 0, false
	}
	cur := TOTPStep(now)
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		want, err := TOTPCode(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(code), []byte(want)) == 1 {
			step, ok = s, true // the latest match wins
		}
	}
	return step, ok
}

// ValidTOTPShape reports whether s looks like a TOTP code: six digits.
func ValidTOTPShape(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Recovery codes are 16 characters of Crockford base32 (80 random bits)
// shown in groups of four. That is too much to guess even from a stolen
// hash, so a fast hash (HashToken) is enough, as for API tokens.
const recoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewRecoveryCodes makes n recovery codes to show once and the hashes to
// store.
func NewRecoveryCodes(n int) (codes, hashes []string, err error) {
	for range n {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("auth: random recovery code: %w", err)
		}
		for i := range b {
			b[i] = recoveryAlphabet[b[i]&31]
		}
		c := string(b)
		codes = append(codes, c[0:4]+"-"+c[4:8]+"-"+c[8:12]+"-"+c[12:16])
		hashes = append(hashes, HashToken(c))
	}
	return codes, hashes, nil
}

// RecoveryCodeHash is the stored form of a typed recovery code: case,
// spaces and dashes do not matter, and the letters people misread are
// read as Crockford does (O as 0, I and L as 1). ok is false for text
// that cannot be a recovery code.
func RecoveryCodeHash(typed string) (hash string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != 16 {
		return "", false
	}
	return HashToken(b.String()), true
}
