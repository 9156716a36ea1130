package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Message is one message between the privacy team and a requester, its
// text sealed (export.Sealer SealBlob under MessageBlobName).
type Message struct {
	ID            int64
	RequestID     string
	FromRequester bool
	// Author is ActorRequester or the officer's email.
	Author    string
	KeyID     string
	Sealed    []byte
	CreatedAt time.Time
}

// TableName keeps GORM off "messages".
func (Message) TableName() string { return "request_messages" }

// MessageBlobName binds a sealed message to its request, so it cannot be
// moved to another request's thread.
func MessageBlobName(requestID string) string { return "message/" + requestID }

// AddMessage stores a sealed message and audits it, in one transaction.
// The trail names the message by number and direction, never its text.
func (s *Store) AddMessage(ctx context.Context, m *Message) error {
	m.CreatedAt = m.CreatedAt.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id").Take(&r, "id = ?", m.RequestID).Error; err != nil {
			return err
		}
		if err := tx.Create(m).Error; err != nil {
			return err
		}
		action := "message_to_requester"
		if m.FromRequester {
			action = "message_from_requester"
		}
		return tx.Create(&AuditEvent{RequestID: m.RequestID, Actor: m.Author, Action: action,
			Detail: "message " + strconv.FormatInt(m.ID, 10), At: m.CreatedAt}).Error
	})
	if err != nil {
		return notFound(err, "request "+m.RequestID)
	}
	return nil
}

// Messages lists a request's messages, oldest first.
func (s *Store) Messages(ctx context.Context, requestID string) ([]Message, error) {
	var ms []Message
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("created_at, id").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return ms, nil
}

// MessagesFromRequesterSince counts the messages a request's requester
// wrote since a time, for the daily limit.
func (s *Store) MessagesFromRequesterSince(ctx context.Context, requestID string, since time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Message{}).
		Where("request_id = ? AND from_requester AND created_at >= ?", requestID, since.UTC()).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: count messages: %w", err)
	}
	return n, nil
}

// WithdrawalBlobName binds a sealed withdrawal reason to its request.
func WithdrawalBlobName(requestID string) string { return "withdrawal-reason/" + requestID }

// SetWithdrawalReason stores the sealed reason a requester gave for
// withdrawing, once, and audits that one was given (not what it says).
func (s *Store) SetWithdrawalReason(ctx context.Context, requestID, keyID string, sealed []byte, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Request{}).Where("id = ? AND withdrawal_reason IS NULL", requestID).
			Updates(map[string]any{"withdrawal_key_id": keyID, "withdrawal_reason": sealed})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Create(&AuditEvent{RequestID: requestID, Actor: ActorRequester, Action: "withdrawal_reason",
			Detail: "the requester gave a reason for withdrawing", At: at.UTC()}).Error
	})
	if err != nil {
		return fmt.Errorf("store: withdrawal reason: %w", err)
	}
	return nil
}
