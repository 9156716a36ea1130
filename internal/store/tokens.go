package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/domain"
)

// TokenPurpose says what a requester's link does.
type TokenPurpose string

const (
	PurposeVerify   TokenPurpose = "verify"   // single use: proves the requester reads the mailbox
	PurposeStatus   TokenPurpose = "status"   // reusable until it expires: shows the request's status
	PurposeDownload TokenPurpose = "download" // reusable until the package expires or its downloads run out
)

// RequestToken is a link sent to a requester. Only the SHA-256 of the token
// is stored; the token itself exists only in the email or receipt.
type RequestToken struct {
	ID        int64
	RequestID string
	Purpose   TokenPurpose
	Hash      string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// AddToken stores a token.
func (s *Store) AddToken(ctx context.Context, t *RequestToken) error {
	t.ExpiresAt, t.CreatedAt = t.ExpiresAt.UTC(), t.CreatedAt.UTC()
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return notFound(err, "add token")
	}
	return nil
}

// RequestByToken finds the request a reusable token belongs to, checking
// that it has not expired.
func (s *Store) RequestByToken(ctx context.Context, purpose TokenPurpose, hash string, now time.Time) (*Request, error) {
	var t RequestToken
	if err := s.db.WithContext(ctx).Take(&t, "hash = ? AND purpose = ?", hash, purpose).Error; err != nil {
		return nil, notFound(err, "token")
	}
	if !now.Before(t.ExpiresAt) {
		return nil, fmt.Errorf("store: token: %w", ErrTokenExpired)
	}
	return s.GetRequest(ctx, t.RequestID)
}

// VerifyByToken uses a verification token once: it marks the token used,
// records the request as verified by the requester and audits it, all in
// one transaction. It returns the request. A used or expired token changes
// nothing and returns ErrTokenUsed or ErrTokenExpired.
func (s *Store) VerifyByToken(ctx context.Context, hash string, now time.Time) (*Request, error) {
	now = now.UTC()
	var r Request
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t RequestToken
		if err := tx.Take(&t, "hash = ? AND purpose = ?", hash, PurposeVerify).Error; err != nil {
			return err
		}
		switch {
		case t.UsedAt != nil:
			return ErrTokenUsed
		case !now.Before(t.ExpiresAt):
			return ErrTokenExpired
		}
		// The used_at condition makes two concurrent clicks count once.
		res := tx.Model(&RequestToken{}).Where("id = ? AND used_at IS NULL", t.ID).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrTokenUsed
		}
		if err := s.markVerified(tx, t.RequestID, ActorRequester, now); err != nil {
			return err
		}
		return tx.Take(&r, "id = ?", t.RequestID).Error
	})
	if err != nil {
		return nil, notFound(err, "verify")
	}
	return &r, nil
}

// MarkVerified records that an officer proved the requester's identity by
// other means. Verifying twice keeps the first record.
func (s *Store) MarkVerified(ctx context.Context, requestID, actor string, now time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return s.markVerified(tx, requestID, actor, now.UTC())
	})
	if err != nil {
		return notFound(err, "mark verified")
	}
	return nil
}

func (s *Store) markVerified(tx *gorm.DB, requestID, actor string, now time.Time) error {
	res := tx.Model(&Request{}).Where("id = ? AND verified_at IS NULL", requestID).
		Updates(map[string]any{"verified_at": now, "verified_by": actor, "updated_at": now})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	return tx.Create(&AuditEvent{RequestID: requestID, Actor: actor, Action: "identity_verified", At: now}).Error
}

// VerifyByOfficer records that an officer proved the requester's identity
// by other means (an ID document, say), with what they checked in the
// audit trail. Only a request waiting for verification can be verified;
// verifying twice keeps the first record and reports false.
func (s *Store) VerifyByOfficer(ctx context.Context, requestID, officer, evidence string, now time.Time) (bool, error) {
	verified := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id", "status", "verified_at").Take(&r, "id = ?", requestID).Error; err != nil {
			return err
		}
		if r.VerifiedAt != nil {
			return nil
		}
		if r.Status != domain.StatusVerifying {
			return fmt.Errorf("%w: %s is %s, not waiting for verification", ErrInvalidTransition, requestID, r.Status)
		}
		at := now.UTC()
		res := tx.Model(&Request{}).Where("id = ? AND verified_at IS NULL", requestID).
			Updates(map[string]any{"verified_at": at, "verified_by": officer, "updated_at": at})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		verified = true
		return tx.Create(&AuditEvent{RequestID: requestID, Actor: officer, Action: "identity_verified", Detail: evidence, At: at}).Error
	})
	if err != nil {
		if errors.Is(err, ErrInvalidTransition) {
			return false, fmt.Errorf("store: %w", err)
		}
		return false, notFound(err, "verify by officer")
	}
	return verified, nil
}
