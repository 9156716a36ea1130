package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is an officer's signed-in dashboard session. The cookie carries a
// random token; the database keeps its hash.
type Session struct {
	ID         int64
	OfficerID  int64
	TokenHash  string
	CSRFToken  string `gorm:"column:csrf_token"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// TableName keeps the table named for what it holds.
func (Session) TableName() string { return "officer_sessions" }

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, ses *Session) error {
	ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = ses.CreatedAt.UTC(), ses.LastSeenAt.UTC(), ses.ExpiresAt.UTC()
	if err := s.db.WithContext(ctx).Create(ses).Error; err != nil {
		return notFound(err, "create session")
	}
	return nil
}

// SessionByTokenHash finds a live session and its officer. Expired
// sessions and disabled officers are ErrNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, hash string, now time.Time) (*Session, *Officer, error) {
	var ses Session
	err := s.db.WithContext(ctx).Take(&ses, "token_hash = ? AND expires_at > ?", hash, now.UTC()).Error
	if err != nil {
		return nil, nil, notFound(err, "session")
	}
	var o Officer
	if err := s.db.WithContext(ctx).Take(&o, "id = ? AND disabled_at IS NULL", ses.OfficerID).Error; err != nil {
		return nil, nil, notFound(err, "session officer")
	}
	return &ses, &o, nil
}

// TouchSession slides a session's expiry forward.
func (s *Store) TouchSession(ctx context.Context, id int64, seen, expires time.Time) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).
		Updates(map[string]any{"last_seen_at": seen.UTC(), "expires_at": expires.UTC()}).Error
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session; ending one already gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Delete(&Session{}).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and reports how
// many went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", now.UTC()).Delete(&Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}
