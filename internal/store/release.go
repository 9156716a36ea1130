package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Withhold is what an officer withheld from a request's package before
// releasing it: a whole table, some of its rows or some of its columns,
// with the reason the requester reads in the package.
type Withhold struct {
	ID          string            `json:"id"`
	RequestID   string            `json:"-"`
	SystemName  string            `json:"system"`
	Table       string            `gorm:"column:table_name" json:"table"`
	RowKeys     []json.RawMessage `gorm:"serializer:json" json:"rows,omitempty"`
	ColumnNames []string          `gorm:"serializer:json" json:"columns,omitempty"`
	Reason      string            `json:"reason"`
	Actor       string            `json:"actor"`
	WithheldAt  time.Time         `json:"withheld_at"`
}

func (Withhold) TableName() string { return "package_withholds" }

// AddWithhold records a withholding and audits it, once per ID: a retried
// activity records nothing twice.
func (s *Store) AddWithhold(ctx context.Context, w Withhold) error {
	w.WithheldAt = w.WithheldAt.UTC()
	if w.RowKeys == nil {
		w.RowKeys = []json.RawMessage{}
	}
	if w.ColumnNames == nil {
		w.ColumnNames = []string{}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&w)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Create(&AuditEvent{RequestID: w.RequestID, Actor: w.Actor, Action: "package_withheld", Detail: describeWithhold(w), At: w.WithheldAt}).Error
	})
	if err != nil {
		return fmt.Errorf("store: withhold: %w", err)
	}
	return nil
}

// describeWithhold is a withholding as the audit trail reads it.
func describeWithhold(w Withhold) string {
	what := "whole table"
	switch {
	case len(w.RowKeys) > 0:
		keys := make([]string, len(w.RowKeys))
		for i, k := range w.RowKeys {
			keys[i] = string(k)
		}
		what = "rows " + strings.Join(keys, ", ")
	case len(w.ColumnNames) > 0:
		what = "columns " + strings.Join(w.ColumnNames, ", ")
	}
	return fmt.Sprintf("%s.%s: %s; reason: %s", w.SystemName, w.Table, what, w.Reason)
}

// Withholds lists what was withheld from a request's package, oldest
// first.
func (s *Store) Withholds(ctx context.Context, requestID string) ([]Withhold, error) {
	var ws []Withhold
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("withheld_at, id").Find(&ws).Error; err != nil {
		return nil, fmt.Errorf("store: withholds: %w", err)
	}
	return ws, nil
}

// ReleasePackage records that an officer released a request's package:
// its download period starts now, to expires, and the release is
// audited. Releasing again changes nothing.
func (s *Store) ReleasePackage(ctx context.Context, requestID, packageID, actor string, at, expires time.Time) error {
	at = at.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Request{}).Where("id = ? AND released_at IS NULL", requestID).
			Updates(map[string]any{"released_at": at, "released_by": actor, "updated_at": at})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if err := tx.Model(&Package{}).Where("id = ?", packageID).Update("expires_at", expires.UTC()).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: requestID, Actor: actor, Action: "package_released", Detail: packageID, At: at}).Error
	})
	if err != nil {
		return fmt.Errorf("store: release package: %w", err)
	}
	return nil
}

// DeleteOtherPackages removes every package of a request but keep, with
// its chunks: a package rebuilt after a withholding replaces the one
// that still held what was withheld.
func (s *Store) DeleteOtherPackages(ctx context.Context, requestID, keep string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Model(&Package{}).Where("request_id = ? AND id <> ?", requestID, keep).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Where("package_id IN ?", ids).Delete(&packageChunk{}).Error; err != nil {
			return err
		}
		return tx.Where("id IN ?", ids).Delete(&Package{}).Error
	})
}
