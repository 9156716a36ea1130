// Package auditchain makes dsar's audit trail tamper-evident. Every entry
// carries a MAC (HMAC-SHA256) over its content, its id, its place in one
// global sequence and the MAC of the entry before it, under a key derived
// from DSAR_SECRET_KEY for this purpose only. Whoever can write to the
// database but does not hold the key cannot change, delete, insert or
// reorder entries without breaking the chain where they did.
//
// The package is pure: the store writes and reads the entries; this
// package computes their MACs and walks the chain.
package auditchain

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// keyLabel is the HKDF info the audit-chain key is derived with. It differs
// from the labels of the payload, package and tombstone keys, so knowing
// this key opens nothing else (and can be handed to an auditor).
const keyLabel = "dsar audit chain v1"

// entryLabel is the first part of every MAC's input, so an entry's MAC can
// never be mistaken for a keyed hash of something else.
const entryLabel = "dsar audit entry v1"

// Algorithm names the MAC, for exports.
const Algorithm = "HMAC-SHA256"

// Key makes and checks entries' MACs.
type Key struct {
	// ID names the key without revealing it: the first four bytes of the
	// key's SHA-256, in hex. Each entry records the ID of its key, so a
	// rotated DSAR_SECRET_KEY (kept in DSAR_SECRET_KEY_PREVIOUS) still
	// checks what it chained.
	ID  string
	key []byte
}

// DevKey chains the entries of a store that was given no key (tests, and
// tools that open the database on their own). It is public, so its MACs
// prove nothing: a verification with real keys reports entries under it
// as unverifiable.
var DevKey = Key{ID: "dev", key: []byte("dsar audit chain: development key, not secret")}

// DeriveKey derives the audit-chain key from an application secret.
func DeriveKey(secret string) (Key, error) {
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, keyLabel, 32)
	if err != nil {
		return Key{}, fmt.Errorf("auditchain: derive key: %w", err)
	}
	sum := sha256.Sum256(k)
	return Key{ID: hex.EncodeToString(sum[:4]), key: k}, nil
}

// Keys derives the keys of the current secret and of the previous ones,
// current first: new entries are chained with the first.
func Keys(secret string, previous ...string) ([]Key, error) {
	var ks []Key
	for _, s := range append([]string{secret}, previous...) {
		k, err := DeriveKey(s)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// Entry is one audit entry as the chain sees it.
type Entry struct {
	ID        int64
	Seq       int64 // place in the chain, from 1; 0 for entries from before it
	RequestID string
	Actor     string
	Action    string
	Detail    string
	At        time.Time
	PrevMAC   string // the MAC of the entry with sequence Seq-1; empty for the first
	MAC       string // hex
	KeyID     string
}

// Canonical is a time as the chain stores and MACs it: UTC, to the
// microsecond (what PostgreSQL keeps).
func Canonical(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// TimeLayout is how an entry's time enters its MAC.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t as it enters a MAC.
func FormatTime(t time.Time) string { return Canonical(t).Format(TimeLayout) }

// Parts are the MAC's input, in order; each enters it preceded by its
// length in bytes as a 4-byte big-endian integer.
func Parts(e Entry) []string {
	return []string{
		entryLabel, e.PrevMAC, strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.Seq, 10),
		e.RequestID, e.Actor, e.Action, e.Detail, FormatTime(e.At),
	}
}

// Sum is e's MAC under k, in hex. e.MAC and e.KeyID do not enter it.
func (k Key) Sum(e Entry) string {
	m := hmac.New(sha256.New, k.key)
	for _, p := range Parts(e) {
		binary.Write(m, binary.BigEndian, uint32(len(p)))
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Genesis is the "previous MAC" of the chain's first entry: where the
// chain starts (after which entry, and how many entries came before it),
// so that the first entry's MAC also covers the start and a moved start
// is found. Migration 0010 writes the same text into the chain's head.
func Genesis(startAfterID, unchained int64) string {
	return fmt.Sprintf("genesis:%d:%d", startAfterID, unchained)
}

// Link is a point of the chain: an entry's sequence and MAC. The head is
// the last entry's.
type Link struct {
	Seq int64  `json:"seq"`
	MAC string `json:"mac"`
}

// ParseLink reads a link written as SEQ:MAC.
func ParseLink(s string) (Link, error) {
	seq, mac, ok := cutLast(s, ':')
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(mac) != 64 {
		return Link{}, fmt.Errorf("%q is not SEQ:MAC (a sequence number and a 64-digit hex MAC)", s)
	}
	if _, err := hex.DecodeString(mac); err != nil {
		return Link{}, fmt.Errorf("%q is not SEQ:MAC (a sequence number and a 64-digit hex MAC)", s)
	}
	return Link{Seq: n, MAC: mac}, nil
}

func (l Link) String() string { return strconv.FormatInt(l.Seq, 10) + ":" + l.MAC }

func cutLast(s string, sep byte) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Kind is what is wrong where the chain breaks.
type Kind string

const (
	// Changed: an entry's request, actor, action, detail, time, id or
	// sequence (or its MAC) is not what was chained.
	Changed Kind = "changed"
	// Deleted: entries are missing from the chain.
	Deleted Kind = "deleted"
	// Inserted: an entry was not appended through the chain.
	Inserted Kind = "inserted"
	// Reordered: entries are out of the order they were chained in.
	Reordered Kind = "reordered"
	// Unverifiable: the entry's MAC was made with a key that is not
	// configured, or with the public development key.
	Unverifiable Kind = "unverifiable"
)

// Break is where and how the chain is broken.
type Break struct {
	Kind Kind
	// EntryID, RequestID and Seq are the entry the chain breaks at; for
	// deletions, the entry after the gap. EntryID is 0 when the break is
	// at the chain's end or among the entries from before it.
	EntryID   int64
	RequestID string
	Seq       int64
	Reason    string
}

func (b *Break) Error() string {
	if b.EntryID == 0 {
		return fmt.Sprintf("%s: %s", b.Kind, b.Reason)
	}
	return fmt.Sprintf("entry %d (request %s, sequence %d): %s: %s", b.EntryID, b.RequestID, b.Seq, b.Kind, b.Reason)
}

func breakAt(e Entry, k Kind, format string, args ...any) *Break {
	return &Break{Kind: k, EntryID: e.ID, RequestID: e.RequestID, Seq: e.Seq, Reason: fmt.Sprintf(format, args...)}
}

// checkMAC checks e's MAC with the key it names.
func checkMAC(keys []Key, e Entry) *Break {
	if e.MAC == "" {
		return breakAt(e, Changed, "it has a place in the chain but no MAC")
	}
	for _, k := range keys {
		if k.ID != e.KeyID {
			continue
		}
		if !hmac.Equal([]byte(k.Sum(e)), []byte(e.MAC)) {
			return breakAt(e, Changed, "its MAC does not match its content: its request, actor, action, detail, time, id or sequence was altered")
		}
		return nil
	}
	if e.KeyID == DevKey.ID {
		return breakAt(e, Unverifiable, "it was chained with the public development key, by a process that had no DSAR_SECRET_KEY; anyone can make such MACs")
	}
	return breakAt(e, Unverifiable, "it was chained with key %s, which is not configured (set the key it was made with in DSAR_SECRET_KEY_PREVIOUS)", e.KeyID)
}

// Check checks one entry on its own: its MAC, and its link to prev, the
// entry with sequence e.Seq-1 (nil if there is none), or for the first
// entry to the chain's genesis. The whole chain is Verifier's job; Check
// serves exports of one request's entries.
func Check(keys []Key, e Entry, prev *Entry, genesis string) *Break {
	if b := checkMAC(keys, e); b != nil {
		return b
	}
	switch {
	case e.Seq == 1 && e.PrevMAC != genesis:
		return breakAt(e, Changed, "it is the chain's first entry, but the chain's recorded start (%s) is not the one it was chained to", genesis)
	case e.Seq > 1 && prev == nil:
		return breakAt(e, Deleted, "the entry before it in the chain (sequence %d) is missing", e.Seq-1)
	case e.Seq > 1 && prev.MAC != e.PrevMAC:
		return breakAt(e, Changed, "the entry before it in the chain (entry %d, sequence %d) is not the one it was chained to", prev.ID, prev.Seq)
	case e.Seq > 1 && prev.ID >= e.ID:
		return breakAt(e, Reordered, "the entry before it in the chain (entry %d) has a higher id", prev.ID)
	}
	return nil
}

// Verifier walks the chain. Give it every chained entry in chain order
// (by sequence, then id) with Add, then call Finish.
type Verifier struct {
	keys     []Key
	genesis  string
	anchors  map[int64]string
	prev     *Entry // the last entry checked
	pending  *Entry // read, waiting for the next to check its order
	verified int
	brk      *Break
}

// NewVerifier checks MACs with keys, from the chain's genesis (see
// Genesis). Anchors are links recorded earlier (printed by an earlier
// verification, say): the chain must still hold each, which catches a
// rewrite of its end by someone who could also rewrite the chain's head.
func NewVerifier(keys []Key, genesis string, anchors ...Link) *Verifier {
	v := &Verifier{keys: keys, genesis: genesis, anchors: map[int64]string{}}
	for _, a := range anchors {
		v.anchors[a.Seq] = a.MAC
	}
	return v
}

// Verified is the number of entries checked so far.
func (v *Verifier) Verified() int { return v.verified }

// Add takes the next entry. It returns the first break found, and keeps
// returning it.
func (v *Verifier) Add(e Entry) *Break {
	if v.brk != nil {
		return v.brk
	}
	if v.pending != nil {
		v.brk = v.check(*v.pending, &e)
	}
	v.pending = &e
	return v.brk
}

// Finish checks the last entry against the chain's head, as recorded
// beside the chain, and returns the first break, or nil.
func (v *Verifier) Finish(head Link) *Break {
	if v.brk != nil {
		return v.brk
	}
	if v.pending != nil {
		if v.brk = v.check(*v.pending, nil); v.brk != nil {
			return v.brk
		}
		v.pending = nil
	}
	last := Entry{MAC: v.genesis}
	if v.prev != nil {
		last = *v.prev
	}
	switch {
	case last.Seq == 0 && head.Seq == 0 && head.MAC != v.genesis:
		v.brk = &Break{Kind: Changed, Reason: "the chain's recorded start does not match its head: audit_chain was edited"}
	case last.Seq < head.Seq && last.Seq+1 == head.Seq:
		v.brk = &Break{Kind: Deleted, Seq: head.Seq, Reason: fmt.Sprintf("the chain's last entry (sequence %d) is missing: the chain head records it", head.Seq)}
	case last.Seq < head.Seq:
		v.brk = &Break{Kind: Deleted, Seq: head.Seq, Reason: fmt.Sprintf("the chain's last %d entries (sequence %d to %d) are missing: the chain head records them", head.Seq-last.Seq, last.Seq+1, head.Seq)}
	case last.Seq > head.Seq:
		v.brk = breakAt(last, Inserted, "it is past the chain head (sequence %d)", head.Seq)
	case last.MAC != head.MAC:
		v.brk = breakAt(last, Changed, "the chain head records another MAC for the last entry")
	}
	if v.brk == nil {
		for seq := range v.anchors {
			if seq > last.Seq {
				v.brk = &Break{Kind: Deleted, Seq: seq, Reason: fmt.Sprintf("the anchor at sequence %d is past the chain's end (sequence %d): entries were deleted and the head rewritten", seq, last.Seq)}
				break
			}
		}
	}
	return v.brk
}

// check checks e, the entry after the last one checked; next is the
// entry after e, if any.
func (v *Verifier) check(e Entry, next *Entry) *Break {
	prev := Entry{MAC: v.genesis} // before the first: sequence 0
	if v.prev != nil {
		prev = *v.prev
	}
	if v.prev != nil && e.Seq <= prev.Seq {
		return breakAt(e, Inserted, "entry %d already has sequence %d", prev.ID, prev.Seq)
	}
	if (v.prev != nil && e.ID <= prev.ID) || (next != nil && next.Seq > e.Seq && next.ID <= e.ID) {
		other := prev
		if next != nil && next.ID <= e.ID {
			other = *next
		}
		return breakAt(e, Reordered, "it and entry %d (sequence %d) are out of the order they were chained in: ids were changed or entries moved", other.ID, other.Seq)
	}
	if b := checkMAC(v.keys, e); b != nil {
		return b
	}
	switch {
	case e.Seq == prev.Seq+2:
		return breakAt(e, Deleted, "the entry before it (sequence %d) is missing", prev.Seq+1)
	case e.Seq > prev.Seq+2:
		return breakAt(e, Deleted, "the %d entries before it (sequence %d to %d) are missing", e.Seq-prev.Seq-1, prev.Seq+1, e.Seq-1)
	case e.Seq == 1 && e.PrevMAC != prev.MAC:
		return breakAt(e, Changed, "it is the chain's first entry, but the chain's recorded start (%s) is not the one it was chained to: audit_chain was edited", v.genesis)
	case e.PrevMAC != prev.MAC:
		return breakAt(e, Inserted, "the entry before it (entry %d) is not the one it was chained to", prev.ID)
	}
	if mac, ok := v.anchors[e.Seq]; ok && mac != e.MAC {
		return breakAt(e, Changed, "the anchor recorded for sequence %d names another MAC: the chain was rewritten from here", e.Seq)
	}
	v.prev = &e
	v.verified++
	return nil
}
