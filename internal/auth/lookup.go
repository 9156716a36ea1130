package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// lookupLabel is the HKDF info of the key that makes lookup hashes; it
// differs from the payload, package, tombstone and audit-chain labels, so
// this key opens nothing else.
const lookupLabel = "dsar lookup v1"

// LookupKey makes keyed hashes (HMAC-SHA256) of identifiers a request is
// found by, such as the requester's email address: equal addresses give
// equal hashes, so the database finds them through an index, and nobody
// without the key can test a guessed address against the table.
type LookupKey struct {
	// ID names the key without revealing it (the first four bytes of its
	// SHA-256, in hex); every hash starts with it, so a hash made before a
	// key rotation is told apart and made again.
	ID  string
	key []byte
}

// DevLookupKey hashes for a store given no key (tests, tools that open the
// database on their own). It is public: its hashes hide nothing.
var DevLookupKey = LookupKey{ID: "dev", key: []byte("dsar lookup: development key, not secret")}

// LookupKeys derives the lookup keys of the current secret and of the
// previous ones, current first.
func LookupKeys(secret string, previous ...string) ([]LookupKey, error) {
	var ks []LookupKey
	for _, s := range append([]string{secret}, previous...) {
		k, err := hkdf.Key(sha256.New, []byte(s), nil, lookupLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("auth: derive lookup key: %w", err)
		}
		sum := sha256.Sum256(k)
		ks = append(ks, LookupKey{ID: hex.EncodeToString(sum[:4]), key: k})
	}
	return ks, nil
}

// EmailHash is the keyed hash of an email address, ignoring case and
// surrounding space, as "ID:hex".
func (k LookupKey) EmailHash(email string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("email\x00"))
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return k.ID + ":" + hex.EncodeToString(m.Sum(nil))
}

// Prefix is what every hash made with this key starts with.
func (k LookupKey) Prefix() string { return k.ID + ":" }
