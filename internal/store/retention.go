package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dsar-project/dsar/internal/domain"
)

// LegalHold stops erasure of what it covers until it is released or ends.
type LegalHold struct {
	ID         string           `json:"id"`
	Scope      domain.HoldScope `json:"scope"`
	Email      string           `json:"email,omitempty"`
	SystemName string           `json:"system,omitempty"`
	TableName  string           `json:"table,omitempty"`
	Reason     string           `json:"reason"`
	EndsAt     *time.Time       `json:"ends_at,omitempty"`
	PlacedBy   string           `json:"placed_by"`
	PlacedAt   time.Time        `json:"placed_at"`
	ReleasedAt *time.Time       `json:"released_at,omitempty"`
	ReleasedBy string           `json:"released_by,omitempty"`
}

// Active reports whether the hold still stops erasure at now.
func (h *LegalHold) Active(now time.Time) bool {
	return h.ReleasedAt == nil && (h.EndsAt == nil || now.Before(*h.EndsAt))
}

// Covers reports whether the hold covers the person's data in a table.
func (h *LegalHold) Covers(email, system, table string) bool {
	return domain.HoldCovers(h.Scope, h.Email, h.SystemName, h.TableName, email, system, table)
}

// Describe names what the hold covers, without its reason.
func (h *LegalHold) Describe() string {
	switch h.Scope {
	case domain.HoldPerson:
		return "everything about " + h.Email
	case domain.HoldSystem:
		return "system " + h.SystemName
	}
	return "table " + h.SystemName + "." + h.TableName
}

// ErrHoldReleased is returned when releasing a hold already released.
var ErrHoldReleased = errors.New("the hold was already released")

// PlaceHold records a new hold.
func (s *Store) PlaceHold(ctx context.Context, h *LegalHold) error {
	h.PlacedAt = h.PlacedAt.UTC()
	if err := s.db.WithContext(ctx).Create(h).Error; err != nil {
		return fmt.Errorf("store: place hold: %w", err)
	}
	return nil
}

// Hold returns one hold.
func (s *Store) Hold(ctx context.Context, id string) (*LegalHold, error) {
	var h LegalHold
	if err := s.db.WithContext(ctx).Take(&h, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "hold")
	}
	return &h, nil
}

// Holds lists holds, newest first; with active set, only those still in
// force at now.
func (s *Store) Holds(ctx context.Context, activeOnly bool, now time.Time) ([]LegalHold, error) {
	q := s.db.WithContext(ctx).Order("placed_at DESC, id")
	if activeOnly {
		q = q.Where("released_at IS NULL AND (ends_at IS NULL OR ends_at > ?)", now.UTC())
	}
	var hs []LegalHold
	if err := q.Find(&hs).Error; err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	return hs, nil
}

// ReleaseHold ends a hold now.
func (s *Store) ReleaseHold(ctx context.Context, id, by string, at time.Time) (*LegalHold, error) {
	var h LegalHold
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.forUpdate(tx).Take(&h, "id = ?", id).Error; err != nil {
			return notFound(err, "hold")
		}
		if h.ReleasedAt != nil {
			return ErrHoldReleased
		}
		at := at.UTC()
		h.ReleasedAt, h.ReleasedBy = &at, by
		return tx.Model(&h).Updates(map[string]any{"released_at": at, "released_by": by}).Error
	})
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// RetainedRow is a row kept for its retention period, erased by the
// request's purge when the period ends.
type RetainedRow struct {
	ID         int64      `json:"-"`
	RequestID  string     `json:"-"`
	SystemName string     `json:"system"`
	TableName  string     `json:"table"`
	RowKey     string     `json:"key"` // the primary key, as a JSON array
	Basis      string     `json:"basis"`
	Until      time.Time  `json:"until"`
	PurgedAt   *time.Time `json:"purged_at,omitempty"`
}

// RetainRows records rows kept for their retention period. A row already
// recorded keeps its first record, so a retried erasure adds nothing.
func (s *Store) RetainRows(ctx context.Context, rows []RetainedRow) error {
	if len(rows) == 0 {
		return nil
	}
	for i := range rows {
		rows[i].Until = rows[i].Until.UTC()
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 500).Error
	if err != nil {
		return fmt.Errorf("store: retain rows: %w", err)
	}
	return nil
}

// RetainedRows lists a request's retained rows, purged or not.
func (s *Store) RetainedRows(ctx context.Context, requestID string) ([]RetainedRow, error) {
	var rs []RetainedRow
	err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("system_name, table_name, until, id").Find(&rs).Error
	if err != nil {
		return nil, fmt.Errorf("store: retained rows: %w", err)
	}
	return rs, nil
}

// MarkPurged records that retained rows were erased.
func (s *Store) MarkPurged(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&RetainedRow{}).Where("id IN ?", ids).Update("purged_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("store: mark purged: %w", err)
	}
	return nil
}

// DeferredErasure is the part of a deletion in one system that legal
// holds stopped; it resumes when they no longer apply.
type DeferredErasure struct {
	RequestID  string     `gorm:"primaryKey" json:"-"`
	SystemName string     `gorm:"primaryKey" json:"system"`
	HoldIDs    []string   `gorm:"serializer:json" json:"hold_ids"`
	Tables     []string   `gorm:"serializer:json" json:"tables"` // the held tables
	DeferredAt time.Time  `json:"deferred_at"`
	ResumedAt  *time.Time `json:"resumed_at,omitempty"`
	// Outcome is what erasing the held part did once the holds ended,
	// added up over each resumption; nil while nothing was resumed (or
	// for an erasure resumed before dsar recorded it).
	Outcome *ResumedOutcome `gorm:"serializer:json" json:"outcome,omitempty"`
}

// ResumedOutcome is what a resumed erasure did, table by table.
type ResumedOutcome struct {
	Tables []domain.ErasedTable `json:"tables"`
}

// Add adds one resumption's tables to the outcome. Rows still held are
// not an outcome: they wait for the next resumption.
func (o *ResumedOutcome) Add(tables []domain.ErasedTable) {
	for _, t := range tables {
		if t.Deleted+t.Masked+t.Kept+t.Retained == 0 {
			continue
		}
		i := slices.IndexFunc(o.Tables, func(e domain.ErasedTable) bool { return e.System == t.System && e.Table == t.Table })
		if i < 0 {
			o.Tables = append(o.Tables, domain.ErasedTable{System: t.System, Table: t.Table})
			i = len(o.Tables) - 1
		}
		e := &o.Tables[i]
		e.Deleted += t.Deleted
		e.Masked += t.Masked
		e.Kept += t.Kept
		e.Retained += t.Retained
		if t.RetainedUntil.After(e.RetainedUntil) {
			e.RetainedUntil = t.RetainedUntil
		}
		if t.Basis != "" {
			e.Basis = t.Basis
		}
	}
}

// Defer records (or refreshes) a system's deferred erasure.
func (s *Store) Defer(ctx context.Context, d DeferredErasure) error {
	d.DeferredAt = d.DeferredAt.UTC()
	d.ResumedAt = nil
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "request_id"}, {Name: "system_name"}},
		DoUpdates: clause.AssignmentColumns([]string{"hold_ids", "tables", "resumed_at"}),
	}).Create(&d).Error
	if err != nil {
		return fmt.Errorf("store: defer erasure: %w", err)
	}
	return nil
}

// Deferred lists a request's deferred erasures still waiting.
func (s *Store) Deferred(ctx context.Context, requestID string) ([]DeferredErasure, error) {
	var ds []DeferredErasure
	err := s.db.WithContext(ctx).Where("request_id = ? AND resumed_at IS NULL", requestID).Order("system_name").Find(&ds).Error
	if err != nil {
		return nil, fmt.Errorf("store: deferred erasures: %w", err)
	}
	return ds, nil
}

// Resumed records that a deferred erasure was carried out.
func (s *Store) Resumed(ctx context.Context, requestID, system string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&DeferredErasure{}).
		Where("request_id = ? AND system_name = ?", requestID, system).Update("resumed_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("store: resume erasure: %w", err)
	}
	return nil
}

// SaveOutcome records what resuming a system's deferred erasure did,
// added to what earlier resumptions of it did.
func (s *Store) SaveOutcome(ctx context.Context, requestID, system string, tables []domain.ErasedTable) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var d DeferredErasure
		if err := s.forUpdate(tx).Take(&d, "request_id = ? AND system_name = ?", requestID, system).Error; err != nil {
			return notFound(err, "deferred erasure")
		}
		if d.Outcome == nil {
			d.Outcome = &ResumedOutcome{Tables: []domain.ErasedTable{}}
		}
		d.Outcome.Add(tables)
		if err := tx.Model(&d).Select("outcome").Updates(&d).Error; err != nil {
			return fmt.Errorf("store: save outcome: %w", err)
		}
		return nil
	})
}

// DeferredAll lists a request's deferred erasures, waiting or resumed.
func (s *Store) DeferredAll(ctx context.Context, requestID string) ([]DeferredErasure, error) {
	var ds []DeferredErasure
	err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("system_name").Find(&ds).Error
	if err != nil {
		return nil, fmt.Errorf("store: deferred erasures: %w", err)
	}
	return ds, nil
}

// RequestsDeferredBy lists the requests a hold deferred that still wait.
func (s *Store) RequestsDeferredBy(ctx context.Context, holdID string) ([]string, error) {
	var ds []DeferredErasure
	if err := s.db.WithContext(ctx).Where("resumed_at IS NULL").Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("store: deferred erasures: %w", err)
	}
	var ids []string
	for _, d := range ds {
		if slices.Contains(d.HoldIDs, holdID) && !slices.Contains(ids, d.RequestID) {
			ids = append(ids, d.RequestID)
		}
	}
	return ids, nil
}

// Tombstone says a row was erased, by keyed hashes only, so a restored
// backup can drop (or mask) it again. Kind is "key" for a row's primary
// key, or an identity type such as "email".
type Tombstone struct {
	ID         int64
	RequestID  string
	SystemName string
	TableName  string
	Kind       string
	Hash       string
	Action     string // delete, mask or opt_out
	CreatedAt  time.Time
}

// Tombstone actions.
const (
	TombstoneDelete = "delete"
	TombstoneMask   = "mask"
	// TombstoneOptOut marks a row an opt-out changed (kind "opt_out"): a
	// restore applies the table's opt-out action to it again.
	TombstoneOptOut = "opt_out"
)

// AddTombstones records tombstones. One already there for the same row
// takes the new one's time, request and action: a person who opted out,
// subscribed again and opted out again must be opted out of a backup
// taken between the two, which a restore asks by the tombstone's time.
func (s *Store) AddTombstones(ctx context.Context, ts []Tombstone) error {
	if len(ts) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "system_name"}, {Name: "table_name"}, {Name: "kind"}, {Name: "hash"}},
		DoUpdates: clause.AssignmentColumns([]string{"created_at", "request_id", "action"}),
	}).CreateInBatches(ts, 500).Error
	if err != nil {
		return fmt.Errorf("store: tombstones: %w", err)
	}
	return nil
}

// Tombstones returns a system's tombstones made after since, by table,
// kind and hash: what a backup taken at since must forget.
func (s *Store) Tombstones(ctx context.Context, system string, since time.Time) (map[string]string, error) {
	var ts []Tombstone
	if err := s.db.WithContext(ctx).Where("system_name = ? AND created_at > ?", system, since.UTC()).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: tombstones: %w", err)
	}
	out := make(map[string]string, len(ts))
	for _, t := range ts {
		out[t.TableName+"/"+t.Kind+"/"+t.Hash] = t.Action
	}
	return out, nil
}

// RowKeyJSON writes a primary key as RetainedRow.RowKey stores it.
func RowKeyJSON(key []any) string {
	b, _ := json.Marshal(key)
	return string(b)
}

// RetainedGroup sums up a request's retained rows of one table on one
// basis, as the officer sees them.
type RetainedGroup struct {
	System string    `json:"system"`
	Table  string    `json:"table"`
	Basis  string    `json:"basis"`
	Rows   int       `json:"rows"`
	Purged int       `json:"purged"`
	First  time.Time `json:"first_until"` // the first period to end
	Last   time.Time `json:"last_until"`  // the last period to end
}

// OneDate reports whether every row's period ends on the same day.
func (g RetainedGroup) OneDate() bool {
	return g.First.UTC().Format(time.DateOnly) == g.Last.UTC().Format(time.DateOnly)
}

// RetainedSummary groups a request's retained rows by table and basis.
func (s *Store) RetainedSummary(ctx context.Context, requestID string) ([]RetainedGroup, error) {
	rows, err := s.RetainedRows(ctx, requestID)
	if err != nil {
		return nil, err
	}
	var out []RetainedGroup
	for _, r := range rows {
		i := slices.IndexFunc(out, func(g RetainedGroup) bool {
			return g.System == r.SystemName && g.Table == r.TableName && g.Basis == r.Basis
		})
		if i < 0 {
			out = append(out, RetainedGroup{System: r.SystemName, Table: r.TableName, Basis: r.Basis, First: r.Until, Last: r.Until})
			i = len(out) - 1
		}
		g := &out[i]
		g.Rows++
		if r.PurgedAt != nil {
			g.Purged++
		}
		if r.Until.Before(g.First) {
			g.First = r.Until
		}
		if r.Until.After(g.Last) {
			g.Last = r.Until
		}
	}
	return out, nil
}

// RecordedCorrection is a corrected value kept so a restored backup gets
// it again: the row by keyed hash, the value sealed.
type RecordedCorrection struct {
	ID          int64
	RequestID   string
	SystemName  string
	TableName   string
	KeyHash     string
	ColumnName  string
	KeyID       string // the key the value is sealed with
	Value       []byte
	CorrectedAt time.Time
}

// RecordCorrections keeps corrected values for restores.
func (s *Store) RecordCorrections(ctx context.Context, cs []RecordedCorrection) error {
	if len(cs) == 0 {
		return nil
	}
	if err := s.db.WithContext(ctx).CreateInBatches(cs, 500).Error; err != nil {
		return fmt.Errorf("store: record corrections: %w", err)
	}
	return nil
}

// RecordedCorrections lists a system's corrections made after since,
// oldest first, so a later correction of the same column wins.
func (s *Store) RecordedCorrections(ctx context.Context, system string, since time.Time) ([]RecordedCorrection, error) {
	var cs []RecordedCorrection
	if err := s.db.WithContext(ctx).Where("system_name = ? AND corrected_at > ?", system, since.UTC()).Order("id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("store: recorded corrections: %w", err)
	}
	return cs, nil
}

// HasAftercare reports whether a deletion left rows to purge or parts
// deferred by a hold.
func (s *Store) HasAftercare(ctx context.Context, requestID string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&RetainedRow{}).Where("request_id = ? AND purged_at IS NULL", requestID).Count(&n).Error; err != nil {
		return false, fmt.Errorf("store: aftercare: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	if err := s.db.WithContext(ctx).Model(&DeferredErasure{}).Where("request_id = ? AND resumed_at IS NULL", requestID).Count(&n).Error; err != nil {
		return false, fmt.Errorf("store: aftercare: %w", err)
	}
	return n > 0, nil
}

// RequestsWithAftercare lists the requests with rows retained or parts
// deferred still waiting, for waking their purges when a hold is released.
func (s *Store) RequestsWithAftercare(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT request_id FROM retained_rows WHERE purged_at IS NULL
		UNION SELECT request_id FROM deferred_erasures WHERE resumed_at IS NULL`).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: aftercare: %w", err)
	}
	return ids, nil
}
