package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PasswordReset is a single-use link to choose a new password, stored
// hashed.
type PasswordReset struct {
	ID        int64
	OfficerID int64
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// TableName is the table of password resets.
func (PasswordReset) TableName() string { return "officer_password_resets" }

// CreatePasswordReset stores a reset link's hash for an officer, in place
// of any earlier link of theirs not yet used.
func (s *Store) CreatePasswordReset(ctx context.Context, officerID int64, hash string, now, expires time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("officer_id = ? AND used_at IS NULL", officerID).Delete(&PasswordReset{}).Error; err != nil {
			return fmt.Errorf("store: password reset: %w", err)
		}
		r := &PasswordReset{OfficerID: officerID, Hash: hash, CreatedAt: now.UTC(), ExpiresAt: expires.UTC()}
		if err := tx.Create(r).Error; err != nil {
			return fmt.Errorf("store: password reset: %w", err)
		}
		return nil
	})
}

// PasswordResetFor finds the active officer an unused, unexpired reset
// link belongs to; ErrNotFound otherwise. It changes nothing.
func (s *Store) PasswordResetFor(ctx context.Context, hash string, now time.Time) (*Officer, error) {
	var o Officer
	err := s.db.WithContext(ctx).Joins("JOIN officer_password_resets r ON r.officer_id = officers.id").
		Where("r.hash = ? AND r.used_at IS NULL AND r.expires_at > ? AND officers.disabled_at IS NULL", hash, now.UTC()).
		Take(&o).Error
	if err != nil {
		return nil, notFound(err, "password reset")
	}
	return &o, nil
}

// UsePasswordReset sets a new password with a reset link, once: the link
// is spent, every session of the officer ends (whoever held one must
// sign in again), and the change joins the officer's account trail.
// Two-factor sign-in, if on, stays on.
func (s *Store) UsePasswordReset(ctx context.Context, hash, passwordHash string, now time.Time) (*Officer, error) {
	now = now.UTC()
	var o *Officer
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r PasswordReset
		if err := tx.Where("hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).Take(&r).Error; err != nil {
			return notFound(err, "password reset")
		}
		res := tx.Model(&PasswordReset{}).Where("id = ? AND used_at IS NULL", r.ID).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: password reset: %w", ErrNotFound) // spent by a racing request
		}
		var err error
		if o, err = s.officerIn(tx, r.OfficerID); err != nil {
			return err
		}
		if !o.Active() {
			return fmt.Errorf("store: password reset: %w", ErrNotFound)
		}
		if err := tx.Model(&Officer{}).Where("id = ?", o.ID).Update("password_hash", passwordHash).Error; err != nil {
			return err
		}
		if err := tx.Where("officer_id = ?", o.ID).Delete(&Session{}).Error; err != nil {
			return err
		}
		return tx.Create(&OfficerEvent{OfficerID: &o.ID, Actor: o.Email, Action: EventPasswordReset, Detail: "by a link emailed to the officer", At: now}).Error
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("store: password reset: %w", err)
	}
	return o, nil
}
