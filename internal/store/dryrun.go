package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DryRun is the latest dry run of a request's deletion or correction,
// sealed (export.Sealer SealBlob under DryRunBlobName): the plan lists
// values, which are personal data.
type DryRun struct {
	RequestID   string `gorm:"primaryKey"`
	ID          string
	KeyID       string
	Sealed      []byte
	CreatedAt   time.Time
	CreatedBy   string
	ConfirmedAt *time.Time
	ConfirmedBy string
}

func (DryRun) TableName() string { return "dry_runs" }

// DryRunBlobName binds a sealed dry run to its request and ID.
func DryRunBlobName(requestID, id string) string { return "dry-run/" + requestID + "/" + id }

// SaveDryRun stores a request's dry run in place of the one before, and
// audits it with summary (counts, never values). Saving the same ID again
// (a retried activity) changes nothing.
func (s *Store) SaveDryRun(ctx context.Context, d DryRun, summary string) error {
	d.CreatedAt = d.CreatedAt.UTC()
	d.ConfirmedAt, d.ConfirmedBy = nil, ""
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old DryRun
		err := tx.Take(&old, "request_id = ?", d.RequestID).Error
		switch {
		case err == nil && old.ID == d.ID:
			return nil
		case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "request_id"}}, UpdateAll: true}).Create(&d).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: d.RequestID, Actor: d.CreatedBy, Action: "dry_run",
			Detail: "dry run " + d.ID + ": " + summary, At: d.CreatedAt}).Error
	})
	if err != nil {
		return fmt.Errorf("store: save dry run: %w", err)
	}
	return nil
}

// GetDryRun reads a request's latest dry run, ErrNotFound when none was
// made.
func (s *Store) GetDryRun(ctx context.Context, requestID string) (*DryRun, error) {
	var d DryRun
	if err := s.db.WithContext(ctx).Take(&d, "request_id = ?", requestID).Error; err != nil {
		return nil, notFound(err, "dry run of request "+requestID)
	}
	return &d, nil
}

// ConfirmDryRun records that an officer confirmed the dry run with the
// ID, and audits it, once.
func (s *Store) ConfirmDryRun(ctx context.Context, requestID, id, actor string, at time.Time) error {
	at = at.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&DryRun{}).Where("request_id = ? AND id = ? AND confirmed_at IS NULL", requestID, id).
			Updates(map[string]any{"confirmed_at": at, "confirmed_by": actor})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Create(&AuditEvent{RequestID: requestID, Actor: actor, Action: "dry_run_confirmed",
			Detail: "dry run " + id + " confirmed", At: at}).Error
	})
	if err != nil {
		return fmt.Errorf("store: confirm dry run: %w", err)
	}
	return nil
}
