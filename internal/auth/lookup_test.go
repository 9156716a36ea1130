package auth_test

import (
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/auth"
)

func TestEmailHash(t *testing.T) {
	ks, err := auth.LookupKeys(strings.Repeat("a", 32), strings.Repeat("b", 32))
	if err != nil {
		t.Fatal(err)
	}
	cur, prev := ks[0], ks[1]
	h := cur.EmailHash("Ada@Example.com")
	if h != cur.EmailHash(" ada@example.COM ") {
		t.Error("the hash depends on case or surrounding space")
	}
	if !strings.HasPrefix(h, cur.Prefix()) || strings.Contains(h, "ada") {
		t.Errorf("hash %q: want the key's prefix and nothing of the address", h)
	}
	if h == prev.EmailHash("ada@example.com") || h == auth.DevLookupKey.EmailHash("ada@example.com") {
		t.Error("two keys give the same hash")
	}
	if h == cur.EmailHash("bea@example.com") {
		t.Error("two addresses give the same hash")
	}
}
