package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dsar-project/dsar/internal/domain"
)

// Errors of the request clock.
var (
	ErrAlreadyExtended = errors.New("the request was already extended once")
	ErrExtensionLate   = errors.New("the first period has ended; an extension must be announced within it")
)

// Overdue reports whether the request is open past its due date.
func (r *Request) Overdue(now time.Time) bool {
	return !r.Status.Final() && now.After(r.DueAt)
}

// NoticeBy is the last moment an extension may be announced: the end of
// the first period (the original due date for requests stored before
// regimes).
func (r *Request) NoticeBy() time.Time {
	if r.ExtensionNoticeBy != nil {
		return *r.ExtensionNoticeBy
	}
	return r.DueAt
}

// forUpdate locks the rows a transaction reads until it ends, so two
// changes to one request's clock (an extension and a pause) apply one
// after the other instead of one overwriting the other. SQLite has no row
// locks and needs none: it lets one writer at a time.
func (s *Store) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.dialect == Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// Extension moves a request's due date to the furthest its regime allows.
type Extension struct {
	RequestID string
	Reason    string
	Actor     string
	At        time.Time
}

// ExtendRequest extends a request once, inside its first period, and
// audits the change with its reason. Repeating the same extension returns
// the request unchanged, so a retried activity does no harm.
func (s *Store) ExtendRequest(ctx context.Context, e Extension) (*Request, error) {
	at := e.At.UTC()
	var r Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.forUpdate(tx).Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return err
		}
		switch {
		case r.ExtendedAt != nil && r.ExtensionReason == e.Reason:
			return nil
		case r.ExtendedAt != nil:
			return ErrAlreadyExtended
		case r.Status.Final():
			return fmt.Errorf("%w: request is %s", ErrInvalidTransition, r.Status)
		case at.After(r.NoticeBy()):
			return ErrExtensionLate
		}
		from := r.DueAt
		to := from.AddDate(0, 0, 30)
		if r.ExtendedDueAt != nil {
			to = *r.ExtendedDueAt
		}
		res := tx.Model(&Request{}).Where("id = ? AND extended_at IS NULL", r.ID).Updates(map[string]any{
			"due_at": to, "extended_at": at, "extension_reason": e.Reason, "updated_at": at,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrAlreadyExtended
		}
		r.DueAt, r.ExtendedAt, r.ExtensionReason = to, &at, e.Reason
		return tx.Create(&AuditEvent{RequestID: r.ID, Actor: e.Actor, Action: "extended",
			Detail: "due " + from.Format(time.DateOnly) + " → " + to.Format(time.DateOnly) + ": " + e.Reason, At: at}).Error
	})
	if err != nil {
		if errors.Is(err, ErrAlreadyExtended) || errors.Is(err, ErrExtensionLate) || errors.Is(err, ErrInvalidTransition) {
			return nil, fmt.Errorf("store: %w", err)
		}
		return nil, notFound(err, "extend request "+e.RequestID)
	}
	return &r, nil
}

// PauseClock moves a request's dates later by the time between from and
// to, with the reason in the audit trail. A request's clock is paused at
// most once (for the wait on identity proof), so a retry does nothing.
func (s *Store) PauseClock(ctx context.Context, requestID string, from, to time.Time, reason string) (*Request, error) {
	var r Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.forUpdate(tx).Take(&r, "id = ?", requestID).Error; err != nil {
			return err
		}
		var done int64
		if err := tx.Model(&AuditEvent{}).Where("request_id = ? AND action = ?", requestID, "clock_paused").Count(&done).Error; err != nil {
			return err
		}
		by := to.Sub(from).Truncate(time.Second)
		if done > 0 || by <= 0 {
			return nil
		}
		r.DueAt = r.DueAt.Add(by).UTC()
		updates := map[string]any{"due_at": r.DueAt, "updated_at": to.UTC()}
		for col, t := range map[string]**time.Time{"extension_notice_by": &r.ExtensionNoticeBy, "extended_due_at": &r.ExtendedDueAt} {
			if *t != nil {
				moved := (*t).Add(by).UTC()
				*t = &moved
				updates[col] = moved
			}
		}
		if err := tx.Model(&Request{}).Where("id = ?", r.ID).Updates(updates).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: r.ID, Actor: ActorSystem, Action: "clock_paused",
			Detail: fmt.Sprintf("%s; due %s", reason, r.DueAt.Format(time.DateOnly)), At: to.UTC()}).Error
	})
	if err != nil {
		return nil, notFound(err, "pause clock of "+requestID)
	}
	return &r, nil
}

// MarkOverdue records that a request passed its due date while open. It
// reports whether this call made the record (false when it was already
// marked or is closed).
func (s *Store) MarkOverdue(ctx context.Context, requestID string, at time.Time) (bool, error) {
	marked := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Request{}).
			Where("id = ? AND overdue_at IS NULL AND status IN ?", requestID, domain.OpenStatuses()).
			Update("overdue_at", at.UTC())
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		marked = true
		return tx.Create(&AuditEvent{RequestID: requestID, Actor: ActorSystem, Action: "overdue",
			Detail: "past its due date; escalated to the officers", At: at.UTC()}).Error
	})
	if err != nil {
		return false, fmt.Errorf("store: mark overdue: %w", err)
	}
	return marked, nil
}

// DueBy lists open requests due before by (overdue ones included), soonest
// first, for the deadline monitor's digest.
//
// The rows are scanned by hand into the eight columns read: gorm's
// reflection over the whole Request per row was half the query's time in
// make bench (deadline_monitor).
func (s *Store) DueBy(ctx context.Context, by time.Time, limit int) ([]Request, error) {
	rows, err := s.db.WithContext(ctx).Model(&Request{}).
		Select("id", "type", "status", "regime", "received_at", "due_at", "extended_at", "overdue_at").
		Where("status IN ? AND due_at < ?", domain.OpenStatuses(), by.UTC()).
		Order("due_at").Limit(limit).Rows()
	if err != nil {
		return nil, fmt.Errorf("store: due by: %w", err)
	}
	defer rows.Close()
	rs := make([]Request, 0, min(limit, 256))
	for rows.Next() {
		var r Request
		if err := rows.Scan(&r.ID, &r.Type, &r.Status, &r.Regime, &r.ReceivedAt, &r.DueAt, &r.ExtendedAt, &r.OverdueAt); err != nil {
			return nil, fmt.Errorf("store: due by: %w", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: due by: %w", err)
	}
	return rs, nil
}

// SentAlert records one officer's copy of an alert (a reminder, an
// escalation, a digest) under a key naming what it is about and whom, so
// it goes out once.
type SentAlert struct {
	Key    string `gorm:"primaryKey"`
	SentAt time.Time
}

// AlertSent reports whether the alert with this key went out already.
func (s *Store) AlertSent(ctx context.Context, key string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&SentAlert{}).Where("key = ?", key).Count(&n).Error; err != nil {
		return false, fmt.Errorf("store: alert sent: %w", err)
	}
	return n > 0, nil
}

// RecordAlert notes that an alert went out; recording twice keeps the first.
func (s *Store) RecordAlert(ctx context.Context, a SentAlert) error {
	a.SentAt = a.SentAt.UTC()
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&a).Error; err != nil {
		return fmt.Errorf("store: record alert: %w", err)
	}
	return nil
}

// ActingOfficers lists the active officers who may act on requests
// (admins and officers): the people alerts go to.
func (s *Store) ActingOfficers(ctx context.Context) ([]Officer, error) {
	var os []Officer
	err := s.db.WithContext(ctx).Where("disabled_at IS NULL AND role IN ?", []Role{RoleAdmin, RoleOfficer}).
		Order("email").Find(&os).Error
	if err != nil {
		return nil, fmt.Errorf("store: acting officers: %w", err)
	}
	return os, nil
}
