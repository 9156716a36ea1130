package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Finding is what discovery found in one table for a request: counts and
// primary keys, never the rows.
type Finding struct {
	RequestID  string   `gorm:"primaryKey" json:"-"`
	System     string   `gorm:"primaryKey" json:"system"`
	Table      string   `gorm:"primaryKey;column:table_name" json:"table"`
	Categories []string `gorm:"serializer:json" json:"categories"`
	// OwnedRows are the person's own; LinkedRows are rows their rows
	// point at (an address), which may be shared with others.
	OwnedRows  int       `json:"owned_rows"`
	LinkedRows int       `json:"linked_rows"`
	RowKeys    [][]any   `gorm:"serializer:json" json:"row_keys"`
	FoundAt    time.Time `json:"found_at"`
}

func (Finding) TableName() string { return "request_findings" }

// SaveFindings replaces a request's findings with a new discovery's.
func (s *Store) SaveFindings(ctx context.Context, requestID string, fs []Finding, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("request_id = ?", requestID).Delete(&Finding{}).Error; err != nil {
			return err
		}
		for i := range fs {
			fs[i].RequestID, fs[i].FoundAt = requestID, at.UTC()
			if fs[i].Categories == nil {
				fs[i].Categories = []string{}
			}
		}
		if len(fs) == 0 {
			return nil
		}
		return tx.CreateInBatches(fs, 200).Error
	})
	if err != nil {
		return fmt.Errorf("store: save findings: %w", err)
	}
	return nil
}

// Findings lists a request's findings by system and table.
func (s *Store) Findings(ctx context.Context, requestID string) ([]Finding, error) {
	var fs []Finding
	err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("system, table_name").Find(&fs).Error
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	return fs, nil
}

type fulfilmentRow struct {
	RequestID   string `gorm:"primaryKey"`
	Summary     string
	FulfilledAt time.Time
}

func (fulfilmentRow) TableName() string { return "request_fulfilments" }

// SaveFulfilment records what fulfilling a request did, as JSON.
func (s *Store) SaveFulfilment(ctx context.Context, requestID string, summary any, at time.Time) error {
	b, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("store: fulfilment summary: %w", err)
	}
	row := fulfilmentRow{RequestID: requestID, Summary: string(b), FulfilledAt: at.UTC()}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("store: save fulfilment: %w", err)
	}
	return nil
}

// Fulfilment reads a request's fulfilment summary into v; ok is false
// when the request has not been fulfilled.
func (s *Store) Fulfilment(ctx context.Context, requestID string, v any) (ok bool, err error) {
	var row fulfilmentRow
	err = s.db.WithContext(ctx).Take(&row, "request_id = ?", requestID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: fulfilment: %w", err)
	}
	return true, json.Unmarshal([]byte(row.Summary), v)
}

// ErrDownloadsUsed means a package's downloads ran out.
var ErrDownloadsUsed = errors.New("no downloads left")

// Package is an encrypted file for a requester: an access report or an
// export.
type Package struct {
	ID            string
	RequestID     string
	FileName      string
	ContentType   string
	Size          int64
	Chunks        int
	KeyID         string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	DownloadsLeft int
	CompletedAt   *time.Time
	RemovedAt     *time.Time
}

type packageChunk struct {
	PackageID string `gorm:"primaryKey"`
	Seq       int    `gorm:"primaryKey"`
	Data      []byte
}

func (packageChunk) TableName() string { return "package_chunks" }

// CreatePackage starts a package; its chunks follow, then CompletePackage.
func (s *Store) CreatePackage(ctx context.Context, p *Package) error {
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	if err := s.db.WithContext(ctx).Create(p).Error; err != nil {
		return notFound(err, "create package")
	}
	return nil
}

// PutPackageChunk stores one sealed chunk.
func (s *Store) PutPackageChunk(ctx context.Context, packageID string, seq int, data []byte) error {
	err := s.copyChunk(ctx, packageID, seq, data)
	if errors.Is(err, errNoCopy) {
		err = s.db.WithContext(ctx).Create(&packageChunk{PackageID: packageID, Seq: seq, Data: data}).Error
	}
	if err != nil {
		return fmt.Errorf("store: package chunk: %w", err)
	}
	return nil
}

// errNoCopy says the database is not PostgreSQL through pgx.
var errNoCopy = errors.New("no COPY")

// copyChunk stores a chunk on PostgreSQL with COPY in binary format,
// streamed from data through pgx's pooled 64 KiB buffer. An INSERT's
// parameter is encoded by pgx into a new buffer, then into a new message,
// both let go after each statement: for a large export, a few MiB of
// garbage for each MiB stored (docs/benchmarks.md).
func (s *Store) copyChunk(ctx context.Context, packageID string, seq int, data []byte) error {
	if s.dialect != Postgres {
		return errNoCopy
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNoCopy
		}
		// PGCOPY's header, one row of three fields (text, int4, bytea),
		// the end mark.
		head := append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0)
		head = binary.BigEndian.AppendUint16(head, 3)
		head = binary.BigEndian.AppendUint32(head, uint32(len(packageID)))
		head = append(head, packageID...)
		head = binary.BigEndian.AppendUint32(head, 4)
		head = binary.BigEndian.AppendUint32(head, uint32(int32(seq)))
		head = binary.BigEndian.AppendUint32(head, uint32(len(data)))
		r := io.MultiReader(bytes.NewReader(head), bytes.NewReader(data), bytes.NewReader([]byte{0xff, 0xff}))
		_, err := pc.Conn().PgConn().CopyFrom(ctx, r, "COPY package_chunks (package_id, seq, data) FROM STDIN (FORMAT binary)")
		return err
	})
}

// CompletePackage marks a package whole and downloadable.
func (s *Store) CompletePackage(ctx context.Context, id string, size int64, chunks int, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Package{}).Where("id = ?", id).
		Updates(map[string]any{"size": size, "chunks": chunks, "completed_at": at.UTC()}).Error
	if err != nil {
		return fmt.Errorf("store: complete package: %w", err)
	}
	return nil
}

// PackageChunk reads one sealed chunk.
func (s *Store) PackageChunk(ctx context.Context, packageID string, seq int) ([]byte, error) {
	var c packageChunk
	if err := s.db.WithContext(ctx).Take(&c, "package_id = ? AND seq = ?", packageID, seq).Error; err != nil {
		return nil, notFound(err, "package chunk")
	}
	return c.Data, nil
}

// RequestPackage returns a request's newest package that is complete and
// not removed.
func (s *Store) RequestPackage(ctx context.Context, requestID string) (*Package, error) {
	var p Package
	err := s.db.WithContext(ctx).Where("request_id = ? AND completed_at IS NOT NULL AND removed_at IS NULL", requestID).
		Order("created_at DESC").Take(&p).Error
	if err != nil {
		return nil, notFound(err, "package")
	}
	return &p, nil
}

// DiscardIncompletePackages removes packages of a request that were never
// completed (a build cut off by a crash), so a retry starts clean.
func (s *Store) DiscardIncompletePackages(ctx context.Context, requestID string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Model(&Package{}).Where("request_id = ? AND completed_at IS NULL", requestID).Pluck("id", &ids).Error; err != nil {
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

// DeletePackage removes a package and its chunks outright.
func (s *Store) DeletePackage(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("package_id = ?", id).Delete(&packageChunk{}).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", id).Delete(&Package{}).Error
	})
}

// TakeDownload counts one download of a package. It fails with
// ErrTokenExpired once the package expired or was removed, and with
// ErrDownloadsUsed when no downloads are left.
func (s *Store) TakeDownload(ctx context.Context, id string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&Package{}).
		Where("id = ? AND downloads_left > 0 AND expires_at > ? AND removed_at IS NULL AND completed_at IS NOT NULL", id, now.UTC()).
		Update("downloads_left", gorm.Expr("downloads_left - 1"))
	if res.Error != nil {
		return fmt.Errorf("store: take download: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var p Package
	if err := s.db.WithContext(ctx).Take(&p, "id = ?", id).Error; err != nil {
		return notFound(err, "package")
	}
	if p.DownloadsLeft <= 0 && p.RemovedAt == nil && now.Before(p.ExpiresAt) {
		return fmt.Errorf("store: package: %w", ErrDownloadsUsed)
	}
	return fmt.Errorf("store: package: %w", ErrTokenExpired)
}

// RemoveExpiredPackages deletes the contents of packages past their
// expiry, keeping the row as a record that the package existed.
func (s *Store) RemoveExpiredPackages(ctx context.Context, now time.Time) (int, error) {
	removed := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Model(&Package{}).Where("removed_at IS NULL AND expires_at <= ?", now.UTC()).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Where("package_id IN ?", ids).Delete(&packageChunk{}).Error; err != nil {
			return err
		}
		removed = len(ids)
		return tx.Model(&Package{}).Where("id IN ?", ids).Update("removed_at", now.UTC()).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: remove expired packages: %w", err)
	}
	return removed, nil
}

// ReturnDownload gives back a download taken for a transfer that failed
// part-way, so a broken connection does not use up the requester's
// downloads.
func (s *Store) ReturnDownload(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&Package{}).Where("id = ?", id).
		Update("downloads_left", gorm.Expr("downloads_left + 1")).Error
	if err != nil {
		return fmt.Errorf("store: return download: %w", err)
	}
	return nil
}
