package auditchain

import (
	"strings"
	"testing"
	"time"
)

func testKey(t *testing.T) Key {
	t.Helper()
	k, err := DeriveKey("an-audit-chain-test-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chain makes n entries chained with k.
func chain(k Key, n int) []Entry {
	var es []Entry
	prev := Genesis(9, 0)
	for i := range n {
		e := Entry{ID: int64(10 + i), Seq: int64(i + 1), RequestID: "DSR-0000000001", Actor: "system", Action: "note",
			Detail: "entry", At: time.Date(2026, 3, 2, 10, i, 0, 999, time.UTC), PrevMAC: prev, KeyID: k.ID}
		e.MAC = k.Sum(e)
		prev = e.MAC
		es = append(es, e)
	}
	return es
}

func verify(k Key, es []Entry, head Link) *Break {
	v := NewVerifier([]Key{k}, Genesis(9, 0))
	for _, e := range es {
		if b := v.Add(e); b != nil {
			return b
		}
	}
	return v.Finish(head)
}

// TestMACIsStable pins the MAC's input: exports tell regulators how to
// recompute it, so it must not change unnoticed.
func TestMACIsStable(t *testing.T) {
	k := testKey(t)
	e := Entry{ID: 7, Seq: 3, RequestID: "DSR-ABCDEFGHJK", Actor: "officer@example.org", Action: "status",
		Detail: "received → verifying", At: time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)), PrevMAC: strings.Repeat("ab", 32)}
	if got := FormatTime(e.At); got != "2026-03-02T09:00:00.123456Z" {
		t.Errorf("FormatTime = %s", got)
	}
	const want = "f06e6964b6c156a05de3bb554d2bc1809d2880c666daba6f0d6e88d5c40e9176"
	if got := k.Sum(e); got != want {
		t.Errorf("Sum = %s, want %s: change the MAC's input only on purpose, with a new entryLabel", got, want)
	}
	if again := k.Sum(e); again != want || len(again) != 64 {
		t.Error("Sum is not a stable 64-digit hex MAC")
	}
	other, _ := DeriveKey("another-audit-chain-test-secret-01234")
	if other.Sum(e) == k.Sum(e) || other.ID == k.ID {
		t.Error("two secrets give the same MAC or key ID")
	}
}

func TestVerifierFindsEachKindOfBreak(t *testing.T) {
	k := testKey(t)
	es := chain(k, 5)
	head := Link{Seq: 5, MAC: es[4].MAC}
	if b := verify(k, es, head); b != nil {
		t.Fatalf("whole chain: %v", b)
	}
	for _, c := range []struct {
		name  string
		edit  func([]Entry) []Entry
		kind  Kind
		entry int64
	}{
		{"changed", func(es []Entry) []Entry { es[2].Detail = "other"; return es }, Changed, 12},
		{"deleted", func(es []Entry) []Entry { return append(es[:1], es[2:]...) }, Deleted, 12},
		{"inserted", func(es []Entry) []Entry {
			forged := es[2]
			forged.ID = 100
			return append(es[:3], append([]Entry{forged}, es[3:]...)...)
		}, Inserted, 100},
		{"reordered by id", func(es []Entry) []Entry { es[1].ID, es[2].ID = es[2].ID, es[1].ID; return es }, Reordered, 12},
		{"reordered by sequence", func(es []Entry) []Entry {
			es[1].Seq, es[2].Seq = es[2].Seq, es[1].Seq
			es[1], es[2] = es[2], es[1]
			return es
		}, Reordered, 12},
		{"unknown key", func(es []Entry) []Entry { es[0].KeyID = "00000000"; return es }, Unverifiable, 10},
		{"development key", func(es []Entry) []Entry { es[0].KeyID = DevKey.ID; return es }, Unverifiable, 10},
		{"end cut off", func(es []Entry) []Entry { return es[:3] }, Deleted, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := verify(k, c.edit(chain(k, 5)), head)
			if b == nil || b.Kind != c.kind || b.EntryID != c.entry {
				t.Errorf("break %v, want %s at entry %d", b, c.kind, c.entry)
			}
		})
	}
}

// TestStartIsChained: the first entry's MAC covers where the chain
// starts, so a start moved to hide entries is found.
func TestStartIsChained(t *testing.T) {
	k := testKey(t)
	es := chain(k, 2)
	v := NewVerifier([]Key{k}, Genesis(12, 3))
	v.Add(es[0])
	v.Add(es[1])
	if b := v.Finish(Link{Seq: 2, MAC: es[1].MAC}); b == nil || b.Kind != Changed || b.EntryID != 10 {
		t.Errorf("a moved start: %v", b)
	}
	if b := Check([]Key{k}, es[0], nil, Genesis(12, 3)); b == nil || b.Kind != Changed {
		t.Errorf("a moved start, entry by entry: %v", b)
	}
	if b := Check([]Key{k}, es[1], &es[0], Genesis(9, 0)); b != nil {
		t.Errorf("the second entry: %v", b)
	}
	if b := NewVerifier([]Key{k}, Genesis(9, 0)).Finish(Link{MAC: Genesis(9, 1)}); b == nil || b.Kind != Changed {
		t.Errorf("an empty chain whose start was edited: %v", b)
	}
	if b := NewVerifier([]Key{k}, Genesis(9, 0)).Finish(Link{MAC: Genesis(9, 0)}); b != nil {
		t.Errorf("an empty chain: %v", b)
	}
}

func TestAnchors(t *testing.T) {
	k := testKey(t)
	es := chain(k, 5)
	anchor := Link{Seq: 5, MAC: es[4].MAC}
	v := NewVerifier([]Key{k}, Genesis(9, 0), anchor)
	for _, e := range es[:4] {
		v.Add(e)
	}
	if b := v.Finish(Link{Seq: 4, MAC: es[3].MAC}); b == nil || b.Kind != Deleted {
		t.Errorf("an anchor past the end: %v", b)
	}
	l, err := ParseLink(anchor.String())
	if err != nil || l != anchor {
		t.Errorf("ParseLink(%s) = %v, %v", anchor, l, err)
	}
	for _, bad := range []string{"", "5", "x:" + es[0].MAC, "0:" + es[0].MAC, "5:abc", "5:" + strings.Repeat("z", 64)} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) succeeded", bad)
		}
	}
}
