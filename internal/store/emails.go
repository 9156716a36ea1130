package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// SentEmail records that a request's workflow sent the email for one step.
type SentEmail struct {
	RequestID  string `gorm:"primaryKey"`
	Step       string `gorm:"primaryKey"`
	ProviderID string
	SentAt     time.Time
}

// EmailSent reports whether the email for a request's step went out already.
func (s *Store) EmailSent(ctx context.Context, requestID, step string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&SentEmail{}).
		Where("request_id = ? AND step = ?", requestID, step).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("store: email sent: %w", err)
	}
	return n > 0, nil
}

// EmailsToAddress counts the emails of the given steps sent since a time
// to any request from an address. A step ending in % names every step
// that starts with what comes before it.
func (s *Store) EmailsToAddress(ctx context.Context, email string, steps []string, since time.Time) (int64, error) {
	var exact []string
	match := s.db.Where("1 = 0")
	for _, st := range steps {
		if strings.HasSuffix(st, "%") {
			match = match.Or("sent_emails.step LIKE ?", st)
		} else {
			exact = append(exact, st)
		}
	}
	if len(exact) > 0 {
		match = match.Or("sent_emails.step IN ?", exact)
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&SentEmail{}).
		Joins("JOIN requests ON requests.id = sent_emails.request_id").
		Where("requests.email = ? AND sent_emails.sent_at >= ?", email, since.UTC()).
		Where(match).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: emails to address: %w", err)
	}
	return n, nil
}

// RecordEmailSent notes that a step's email went out. Recording twice keeps
// the first record.
func (s *Store) RecordEmailSent(ctx context.Context, e SentEmail) error {
	e.SentAt = e.SentAt.UTC()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&e).Error
	if err != nil {
		return fmt.Errorf("store: record email sent: %w", err)
	}
	return nil
}

// OutboxMessage is an email kept in the database instead of delivered.
type OutboxMessage struct {
	ID        int64     `json:"id"`
	RequestID string    `json:"request_id,omitempty"`
	Step      string    `json:"step,omitempty"`
	Recipient string    `json:"to"`
	Subject   string    `json:"subject"`
	TextBody  string    `json:"text"`
	HTMLBody  string    `json:"html"`
	CreatedAt time.Time `json:"created_at"`
}

// AddOutboxMessage stores an email in the outbox.
func (s *Store) AddOutboxMessage(ctx context.Context, m *OutboxMessage) error {
	m.CreatedAt = m.CreatedAt.UTC()
	if err := s.db.WithContext(ctx).Create(m).Error; err != nil {
		return fmt.Errorf("store: add outbox message: %w", err)
	}
	return nil
}

// OutboxMessages lists the newest outbox messages first.
func (s *Store) OutboxMessages(ctx context.Context, limit int) ([]OutboxMessage, error) {
	var ms []OutboxMessage
	if err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return ms, nil
}

// EmailsOfRequest counts a request's emails sent since a time whose step
// starts with prefix.
func (s *Store) EmailsOfRequest(ctx context.Context, requestID, prefix string, since time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&SentEmail{}).
		Where("request_id = ? AND step LIKE ? AND sent_at >= ?", requestID, prefix+"%", since.UTC()).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: emails of request: %w", err)
	}
	return n, nil
}
