package auth

import (
	"strings"
	"testing"
)

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := NormalizeCode(c); !ok || got != c {
			t.Fatalf("NewCode() = %q, not six digits", c)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Errorf("200 codes held only %d different ones", len(seen))
	}
}

func TestNormalizeCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"012345", "012345", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false}, // full-width digits are not ASCII
		{"", "", false},
		{strings.Repeat("1", 1000), "", false},
	} {
		got, ok := NormalizeCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHashCode(t *testing.T) {
	keys, err := CodeKeys(strings.Repeat("s", 32), strings.Repeat("p", 32))
	if err != nil || len(keys) != 2 {
		t.Fatalf("CodeKeys: %d keys, %v", len(keys), err)
	}
	a := HashCode(keys[0], "DSR-A", "123456")
	for name, other := range map[string]string{
		"another request": HashCode(keys[0], "DSR-B", "123456"),
		"another code":    HashCode(keys[0], "DSR-A", "123457"),
		"another key":     HashCode(keys[1], "DSR-A", "123456"),
		"a shifted split": HashCode(keys[0], "DSR-A1", "23456"),
	} {
		if other == a {
			t.Errorf("%s hashes the same", name)
		}
	}
	if HashCode(keys[0], "DSR-A", "123456") != a {
		t.Error("HashCode is not deterministic")
	}
}
