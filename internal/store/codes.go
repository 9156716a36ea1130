package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/auth"
)

// PurposeVerifyCode is a verification email's six-digit code, typed on the
// status page instead of opening the link. Its hash is an HMAC (auth.HashCode).
const PurposeVerifyCode TokenPurpose = "verify_code"

// MaxCodeFailures is how many wrong codes a request takes before its codes
// stop working: with a million codes, five tries leave a guesser one
// chance in 200,000. The link in the email still works.
const MaxCodeFailures = 5

// Errors of VerifyByCode, besides ErrTokenUsed (already verified) and
// ErrTokenExpired (no code that still works).
var ErrCodeLocked = errors.New("too many wrong codes")

// WrongCodeError is a code that matches none of the request's; Left is how
// many tries remain before the codes lock.
type WrongCodeError struct{ Left int }

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("wrong code; %d tries left", e.Left)
}

// codeKeys are the keys codes are hashed with, current first.
type codeKeys struct {
	mu   sync.RWMutex
	keys [][]byte
}

// SetCodeKeys sets the keys verification codes are hashed with: new codes
// with the first, and a typed code is checked against all, so a rotated
// secret does not void the codes in emails already sent. internal/app
// derives them from DSAR_SECRET_KEY and DSAR_SECRET_KEY_PREVIOUS; a store
// given none uses auth.DevCodeKey.
func (s *Store) SetCodeKeys(keys ...[]byte) {
	s.codes.mu.Lock()
	defer s.codes.mu.Unlock()
	s.codes.keys = append([][]byte(nil), keys...)
}

func (s *Store) codeKeyList() [][]byte {
	s.codes.mu.RLock()
	defer s.codes.mu.RUnlock()
	if len(s.codes.keys) == 0 {
		return [][]byte{auth.DevCodeKey}
	}
	return s.codes.keys
}

// AddVerifyCode stores a verification code (hashed) that expires when the
// link sent with it does.
func (s *Store) AddVerifyCode(ctx context.Context, requestID, code string, expires, now time.Time) error {
	return s.AddToken(ctx, &RequestToken{
		RequestID: requestID, Purpose: PurposeVerifyCode,
		Hash:      auth.HashCode(s.codeKeyList()[0], requestID, code),
		ExpiresAt: expires, CreatedAt: now,
	})
}

// VerifyByCode checks a code typed for a request. The right code is used
// once: it is marked used and the request verified by the requester and
// audited, in one transaction, as the link does. A wrong code verifies
// nothing; it is counted and audited, and answers a *WrongCodeError. A
// request already verified answers ErrTokenUsed; one whose codes are all
// expired (or that has none) ErrTokenExpired; one locked by wrong codes
// ErrCodeLocked, before the code is even compared.
func (s *Store) VerifyByCode(ctx context.Context, requestID, code string, now time.Time) (*Request, error) {
	now = now.UTC()
	var r Request
	var wrong *WrongCodeError
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The lock queues concurrent guesses, so a burst of them cannot
		// all be compared before the first failures are counted.
		if err := s.forUpdate(tx).Take(&r, "id = ?", requestID).Error; err != nil {
			return err
		}
		switch {
		case r.VerifiedAt != nil:
			return ErrTokenUsed
		case r.VerifyCodeFailures >= MaxCodeFailures:
			return ErrCodeLocked
		}
		var live []RequestToken
		if err := tx.Where("request_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			requestID, PurposeVerifyCode, now).Find(&live).Error; err != nil {
			return err
		}
		if len(live) == 0 {
			return ErrTokenExpired
		}
		var match *RequestToken
		for _, key := range s.codeKeyList() {
			h := auth.HashCode(key, requestID, code)
			for i := range live {
				if subtle.ConstantTimeCompare([]byte(h), []byte(live[i].Hash)) == 1 {
					match = &live[i]
				}
			}
		}
		if match == nil {
			failures := r.VerifyCodeFailures + 1
			if err := tx.Model(&Request{}).Where("id = ?", requestID).
				Update("verify_code_failures", failures).Error; err != nil {
				return err
			}
			detail := fmt.Sprintf("wrong code (%d of %d)", failures, MaxCodeFailures)
			if failures >= MaxCodeFailures {
				detail += "; codes locked, the link still works"
			}
			wrong = &WrongCodeError{Left: MaxCodeFailures - failures}
			return tx.Create(&AuditEvent{RequestID: requestID, Actor: ActorRequester, Action: "verification_code_failed", Detail: detail, At: now}).Error
		}
		res := tx.Model(&RequestToken{}).Where("id = ? AND used_at IS NULL", match.ID).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrTokenUsed
		}
		if err := s.markVerified(tx, requestID, ActorRequester, now); err != nil {
			return err
		}
		return tx.Take(&r, "id = ?", requestID).Error
	})
	if err != nil {
		return nil, notFound(err, "verify by code")
	}
	if wrong != nil {
		return nil, fmt.Errorf("store: verify by code: %w", wrong)
	}
	return &r, nil
}

// CheckVerifyToken reports what using a verification link would do,
// changing nothing: the request it would verify, or ErrTokenUsed,
// ErrTokenExpired or ErrNotFound. The page a link opens calls it, so a
// mail scanner fetching the link verifies nothing.
func (s *Store) CheckVerifyToken(ctx context.Context, hash string, now time.Time) (*Request, error) {
	var t RequestToken
	if err := s.db.WithContext(ctx).Take(&t, "hash = ? AND purpose = ?", hash, PurposeVerify).Error; err != nil {
		return nil, notFound(err, "verification link")
	}
	switch {
	case t.UsedAt != nil:
		return nil, fmt.Errorf("store: verification link: %w", ErrTokenUsed)
	case !now.Before(t.ExpiresAt):
		return nil, fmt.Errorf("store: verification link: %w", ErrTokenExpired)
	}
	return s.GetRequest(ctx, t.RequestID)
}
