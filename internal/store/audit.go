package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/auditchain"
)

// The audit trail is one keyed hash chain (internal/auditchain). Every
// AuditEvent created through GORM, wherever in the store, is chained by
// two callbacks on the create: before the INSERT, linkAudit locks the
// chain's head (one row of audit_chain; SELECT ... FOR UPDATE on
// PostgreSQL, and SQLite's writers are serialised anyway) and gives the
// entry the next sequence number; after it, sealAudit computes the MAC,
// which covers the id the INSERT assigned, and moves the head. Both run
// in the create's transaction (the caller's, or GORM's own), so an entry
// and its link commit together and concurrent writers queue on the head.

const (
	auditTable = "audit_events"
	headKey    = "dsar:audit_chain_head"
)

// auditKeys are the keys the chain is made and checked with, current
// first; nil until SetAuditKeys.
type auditKeys struct {
	mu   sync.RWMutex
	keys []auditchain.Key
}

// SetAuditKeys sets the keys of the audit chain: new entries are chained
// with the first, and verification accepts all of them. internal/app sets
// them from DSAR_SECRET_KEY and DSAR_SECRET_KEY_PREVIOUS. A store given
// none (tests, tools that open the database on their own) chains with
// auditchain.DevKey, which verification with real keys reports.
func (s *Store) SetAuditKeys(keys ...auditchain.Key) {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	s.audit.keys = append([]auditchain.Key(nil), keys...)
}

func (s *Store) chainKeys() []auditchain.Key {
	s.audit.mu.RLock()
	defer s.audit.mu.RUnlock()
	if len(s.audit.keys) == 0 {
		return []auditchain.Key{auditchain.DevKey}
	}
	return s.audit.keys
}

// registerAuditChain installs the callbacks that chain audit entries.
func (s *Store) registerAuditChain() error {
	cb := s.db.Callback().Create()
	if err := cb.Before("gorm:create").Register("dsar:audit_chain_link", s.linkAudit); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := cb.After("gorm:create").Before("gorm:after_create").Register("dsar:audit_chain_seal", s.sealAudit); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// chainHead is the locked head, carried from linkAudit to sealAudit.
type chainHead struct {
	seq int64
	mac string
	key auditchain.Key
}

func isAudit(db *gorm.DB) bool {
	if db.Statement.Schema != nil {
		return db.Statement.Schema.Table == auditTable
	}
	return db.Statement.Table == auditTable
}

// auditEntries are the entries a create writes, in order.
func auditEntries(db *gorm.DB) ([]*AuditEvent, error) {
	errShape := errors.New("store: audit entries are created from *AuditEvent values, so that they are chained")
	if db.Statement.Schema == nil {
		return nil, errShape
	}
	rv := reflect.Indirect(db.Statement.ReflectValue)
	var out []*AuditEvent
	add := func(v reflect.Value) error {
		v = reflect.Indirect(v)
		if !v.CanAddr() {
			return errShape
		}
		e, ok := v.Addr().Interface().(*AuditEvent)
		if !ok {
			return errShape
		}
		out = append(out, e)
		return nil
	}
	switch rv.Kind() {
	case reflect.Struct:
		if err := add(rv); err != nil {
			return nil, err
		}
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			if err := add(rv.Index(i)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errShape
	}
	return out, nil
}

// linkAudit runs before an audit entry's INSERT: it locks the chain's
// head and numbers the entries.
func (s *Store) linkAudit(db *gorm.DB) {
	if db.Error != nil || !isAudit(db) {
		return
	}
	es, err := auditEntries(db)
	if err != nil {
		db.AddError(err)
		return
	}
	if _, ok := db.Statement.ConnPool.(gorm.TxCommitter); !ok {
		db.AddError(errors.New("store: audit entries are chained inside a transaction"))
		return
	}
	q := `SELECT seq, mac FROM audit_chain WHERE id = 1`
	if s.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	head := chainHead{key: s.chainKeys()[0]}
	if err := db.Session(&gorm.Session{NewDB: true}).Raw(q).Row().Scan(&head.seq, &head.mac); err != nil {
		db.AddError(fmt.Errorf("store: lock the audit chain (is the database migrated?): %w", err))
		return
	}
	for i, e := range es {
		e.At = auditchain.Canonical(e.At)
		e.Seq = head.seq + int64(i) + 1
		e.KeyID = head.key.ID
		e.PrevMAC, e.MAC = "", ""
	}
	db.InstanceSet(headKey, head)
}

// sealAudit runs after the INSERT, in the same transaction: it MACs each
// entry, now that it has its id, and moves the head.
func (s *Store) sealAudit(db *gorm.DB) {
	if db.Error != nil || !isAudit(db) {
		return
	}
	v, ok := db.InstanceGet(headKey)
	head, _ := v.(chainHead)
	if !ok {
		db.AddError(errors.New("store: audit entry created without its chain link"))
		return
	}
	es, err := auditEntries(db)
	if err != nil {
		db.AddError(err)
		return
	}
	conn := db.Session(&gorm.Session{NewDB: true})
	prev := head.mac
	for _, e := range es {
		if e.ID == 0 {
			db.AddError(errors.New("store: audit entry created without an id"))
			return
		}
		e.PrevMAC = prev
		e.MAC = head.key.Sum(chainEntry(*e))
		if err := conn.Exec(`UPDATE audit_events SET prev_mac = ?, mac = ? WHERE id = ?`, e.PrevMAC, e.MAC, e.ID).Error; err != nil {
			db.AddError(fmt.Errorf("store: seal audit entry: %w", err))
			return
		}
		prev = e.MAC
	}
	if len(es) > 0 {
		last := es[len(es)-1]
		if err := conn.Exec(`UPDATE audit_chain SET seq = ?, mac = ? WHERE id = 1`, last.Seq, last.MAC).Error; err != nil {
			db.AddError(fmt.Errorf("store: move the audit chain's head: %w", err))
		}
	}
}

func chainEntry(e AuditEvent) auditchain.Entry {
	return auditchain.Entry{
		ID: e.ID, Seq: e.Seq, RequestID: e.RequestID, Actor: e.Actor, Action: e.Action, Detail: e.Detail,
		At: e.At, PrevMAC: e.PrevMAC, MAC: e.MAC, KeyID: e.KeyID,
	}
}

// AuditChain is the head of the audit chain and where it starts.
type AuditChain struct {
	Head auditchain.Link
	// StartAfterID is the last entry from before the chain: entries up
	// to it are not chained. Unchained is how many there were.
	StartAfterID int64
	Unchained    int64
	StartedAt    time.Time
	// KeyID names the key new entries are chained with.
	KeyID string
}

// Genesis is the first entry's "previous MAC": the chain's start.
func (c *AuditChain) Genesis() string { return auditchain.Genesis(c.StartAfterID, c.Unchained) }

// AuditChainHead reads the chain's head.
func (s *Store) AuditChainHead(ctx context.Context) (*AuditChain, error) {
	return s.chainHead(s.db.WithContext(ctx))
}

func (s *Store) chainHead(db *gorm.DB) (*AuditChain, error) {
	var row struct {
		Seq          int64
		MAC          string `gorm:"column:mac"`
		StartAfterID int64
		Unchained    int64
		StartedAt    time.Time
	}
	res := db.Raw(`SELECT seq, mac, start_after_id, unchained, started_at FROM audit_chain WHERE id = 1`).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("store: read the audit chain's head (is the database migrated?): %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, errors.New("store: the audit chain's head is missing: its row in audit_chain was deleted")
	}
	return &AuditChain{
		Head:         auditchain.Link{Seq: row.Seq, MAC: row.MAC},
		StartAfterID: row.StartAfterID, Unchained: row.Unchained, StartedAt: row.StartedAt.UTC(),
		KeyID: s.chainKeys()[0].ID,
	}, nil
}

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	AuditChain
	// Verified is how many chained entries checked before the first
	// break (all of them, without one).
	Verified int
	// Break is the first broken link, nil if the chain is whole.
	Break *auditchain.Break
}

// verifyBatch is how many entries VerifyAudit reads at a time.
const verifyBatch = 1000

// VerifyAudit walks the whole audit chain, up to the head as it was when
// the walk began (entries appended meanwhile are left to the next walk),
// and reports the first broken link. Anchors are links recorded earlier
// that the chain must still hold. Entries from before the chain are
// counted, not checked; one without a MAC written after the chain began
// is a break.
func (s *Store) VerifyAudit(ctx context.Context, anchors ...auditchain.Link) (*AuditReport, error) {
	db := s.db.WithContext(ctx)
	chain, err := s.chainHead(db)
	if err != nil {
		return nil, err
	}
	rep := &AuditReport{AuditChain: *chain}
	v := auditchain.NewVerifier(s.chainKeys(), chain.Genesis(), anchors...)
	var lastSeq, lastID int64
	for rep.Break == nil {
		var batch []AuditEvent
		err := db.Where("seq > 0 AND seq <= ? AND (seq > ? OR (seq = ? AND id > ?))", chain.Head.Seq, lastSeq, lastSeq, lastID).
			Order("seq, id").Limit(verifyBatch).Find(&batch).Error
		if err != nil {
			return nil, fmt.Errorf("store: verify audit: %w", err)
		}
		for _, e := range batch {
			if rep.Break = v.Add(chainEntry(e)); rep.Break != nil {
				break
			}
		}
		if len(batch) < verifyBatch {
			break
		}
		lastSeq, lastID = batch[len(batch)-1].Seq, batch[len(batch)-1].ID
	}
	if rep.Break == nil {
		rep.Break = v.Finish(chain.Head)
	}
	rep.Verified = v.Verified()
	if rep.Break != nil {
		return rep, nil
	}

	// Entries outside the chain: no MAC after it started, or numbered
	// past its head even after the walk.
	var stray []AuditEvent
	if err := db.Where("seq < 0 OR (seq = 0 AND id > ?)", chain.StartAfterID).Order("id").Limit(1).Find(&stray).Error; err != nil {
		return nil, fmt.Errorf("store: verify audit: %w", err)
	}
	if len(stray) > 0 {
		e := stray[0]
		rep.Break = &auditchain.Break{Kind: auditchain.Inserted, EntryID: e.ID, RequestID: e.RequestID, Seq: e.Seq,
			Reason: "it has no MAC but was written after the chain started: by hand, or by a process of a release from before the chain"}
		return rep, nil
	}
	after, err := s.chainHead(db)
	if err != nil {
		return nil, err
	}
	if err := db.Where("seq > ?", after.Head.Seq).Order("seq, id").Limit(1).Find(&stray).Error; err != nil {
		return nil, fmt.Errorf("store: verify audit: %w", err)
	}
	if len(stray) > 0 {
		e := stray[0]
		rep.Break = &auditchain.Break{Kind: auditchain.Inserted, EntryID: e.ID, RequestID: e.RequestID, Seq: e.Seq,
			Reason: fmt.Sprintf("it is numbered past the chain head (sequence %d)", after.Head.Seq)}
		return rep, nil
	}
	var unchained int64
	if err := db.Model(&AuditEvent{}).Where("seq = 0 AND id <= ?", chain.StartAfterID).Count(&unchained).Error; err != nil {
		return nil, fmt.Errorf("store: verify audit: %w", err)
	}
	if unchained != chain.Unchained {
		kind := auditchain.Deleted
		if unchained > chain.Unchained {
			kind = auditchain.Inserted
		}
		rep.Break = &auditchain.Break{Kind: kind, Reason: fmt.Sprintf(
			"%d entries from before the chain remain, but there were %d when it started", unchained, chain.Unchained)}
	}
	return rep, nil
}

// TrailEntry is one of a request's audit entries with what checking it
// on its own found.
type TrailEntry struct {
	AuditEvent
	// Unchained: the entry is from before the chain and cannot be checked.
	Unchained bool
	// Problem is what is wrong with the entry's MAC or its link to the
	// entry before it in the chain; nil if both check.
	Problem *auditchain.Break
}

// AuditTrail is one request's audit entries with their links, for an
// export: each entry's MAC is checked, and its link to the entry before
// it in the chain (usually another request's). The whole chain is
// VerifyAudit's to walk.
func (s *Store) AuditTrail(ctx context.Context, requestID string) ([]TrailEntry, *AuditChain, error) {
	db := s.db.WithContext(ctx)
	chain, err := s.chainHead(db)
	if err != nil {
		return nil, nil, err
	}
	es, err := s.Timeline(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	var want []int64
	for _, e := range es {
		if e.Seq > 1 {
			want = append(want, e.Seq-1)
		}
	}
	prevs := map[int64]auditchain.Entry{}
	for len(want) > 0 {
		n := min(len(want), 500)
		var batch []AuditEvent
		if err := db.Where("seq IN ?", want[:n]).Order("seq, id").Find(&batch).Error; err != nil {
			return nil, nil, fmt.Errorf("store: audit trail: %w", err)
		}
		for _, p := range batch {
			if _, dup := prevs[p.Seq]; !dup {
				prevs[p.Seq] = chainEntry(p)
			}
		}
		want = want[n:]
	}
	keys := s.chainKeys()
	out := make([]TrailEntry, len(es))
	for i, e := range es {
		out[i].AuditEvent = e
		switch {
		case e.Seq == 0 && e.ID <= chain.StartAfterID:
			out[i].Unchained = true
		case e.Seq <= 0:
			out[i].Problem = &auditchain.Break{Kind: auditchain.Inserted, EntryID: e.ID, RequestID: e.RequestID, Seq: e.Seq,
				Reason: "it has no MAC but was written after the chain started"}
		default:
			var prev *auditchain.Entry
			if p, ok := prevs[e.Seq-1]; ok {
				prev = &p
			}
			out[i].Problem = auditchain.Check(keys, chainEntry(e), prev, chain.Genesis())
		}
	}
	return out, chain, nil
}
