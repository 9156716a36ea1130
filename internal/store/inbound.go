package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/domain"
)

// InboundMessage is the email a request arrived as, sealed (export.Sealer
// SealBlob, under InboundBlobName(RequestID)).
type InboundMessage struct {
	RequestID string `gorm:"primaryKey"`
	// MessageHash is a keyed hash of the post, so a post delivered again
	// is recognised.
	MessageHash string
	KeyID       string
	Sealed      []byte
	Size        int64
	ReceivedAt  time.Time
}

// InboundBlobName binds a sealed message to its request, so it cannot be
// moved to another.
func InboundBlobName(requestID string) string { return "inbound-message/" + requestID }

// CreateInboundRequest stores a request with the email it arrived as, in
// one transaction: neither is kept without the other.
func (s *Store) CreateInboundRequest(ctx context.Context, r *Request, statusToken *RequestToken, msg *InboundMessage) error {
	return s.createRequest(ctx, r, statusToken, "", msg, true)
}

// InboundByHash answers the request an email with this hash became, or
// ErrNotFound.
func (s *Store) InboundByHash(ctx context.Context, hashes ...string) (*Request, error) {
	var m InboundMessage
	if err := s.db.WithContext(ctx).Where("message_hash IN ?", hashes).Take(&m).Error; err != nil {
		return nil, notFound(err, "inbound message")
	}
	return s.GetRequest(ctx, m.RequestID)
}

// InboundMessageOf loads the sealed email a request arrived as.
func (s *Store) InboundMessageOf(ctx context.Context, requestID string) (*InboundMessage, error) {
	var m InboundMessage
	if err := s.db.WithContext(ctx).Take(&m, "request_id = ?", requestID).Error; err != nil {
		return nil, notFound(err, "inbound message of "+requestID)
	}
	return &m, nil
}

// ErrClassified refuses classifying a request that is not (or no longer)
// unclassified.
var ErrClassified = errors.New("the request is not waiting for classification")

// Classification is an officer's decision on what an email asks for, with
// the clock of that type counted from the email's receipt.
type Classification struct {
	RequestID         string
	Type              domain.RequestType
	DueAt             time.Time
	AckDueAt          *time.Time
	ExtensionNoticeBy *time.Time
	ExtendedDueAt     *time.Time
	Actor             string
	At                time.Time
}

// Classify gives an unclassified request its type and that type's dates,
// and audits who did it. Only an unclassified request whose workflow has
// not started can be classified, once.
func (s *Store) Classify(ctx context.Context, c Classification) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		utc := func(t *time.Time) *time.Time {
			if t == nil {
				return nil
			}
			u := t.UTC()
			return &u
		}
		res := tx.Model(&Request{}).
			Where("id = ? AND type = ? AND workflow_started_at IS NULL", c.RequestID, domain.TypeUnclassified).
			Updates(map[string]any{
				"type": c.Type, "due_at": c.DueAt.UTC(), "ack_due_at": utc(c.AckDueAt),
				"extension_notice_by": utc(c.ExtensionNoticeBy), "extended_due_at": utc(c.ExtendedDueAt),
				"updated_at": c.At.UTC(),
			})
		if res.Error != nil {
			return fmt.Errorf("store: classify: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			var n int64
			if err := tx.Model(&Request{}).Where("id = ?", c.RequestID).Count(&n).Error; err != nil {
				return fmt.Errorf("store: classify: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("store: classify %s: %w", c.RequestID, ErrNotFound)
			}
			return ErrClassified
		}
		return tx.Create(&AuditEvent{RequestID: c.RequestID, Actor: c.Actor, Action: "classified",
			Detail: "unclassified → " + string(c.Type), At: c.At.UTC()}).Error
	})
}

// MailEvent is what the provider reported about one email step after
// accepting it.
type MailEvent struct {
	ID        int64     `json:"-"`
	EventID   string    `json:"-"`
	RequestID string    `json:"-"`
	Step      string    `json:"step"`
	Event     string    `json:"event"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// Provider events recorded against email steps.
const (
	MailDelivered = "delivered"
	MailBounced   = "bounce"
	MailDropped   = "dropped"
)

// RecordMailEvent stores a provider's event once per event ID and
// answers whether it was new. A bounce or drop of an email sent to the
// request's own address (to, compared without regard to case) is set on
// the request as its mail failure, as a refused send is, and audited; one
// to anyone else (an officer's alert) is only recorded. Neither the
// address nor the reason goes in the audit trail: it outlives an erasure.
func (s *Store) RecordMailEvent(ctx context.Context, e MailEvent, to string) (bool, error) {
	e.At = e.At.UTC()
	recorded := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id", "email", "status").Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&MailEvent{}).Where("event_id = ?", e.EventID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		recorded = true
		if e.Event == MailDelivered || !strings.EqualFold(r.Email, to) || r.Status.Final() {
			return nil
		}
		failure := "the provider reported it " + map[string]string{MailBounced: "bounced", MailDropped: "dropped"}[e.Event]
		if e.Reason != "" {
			failure += ": " + e.Reason
		}
		if err := tx.Model(&Request{}).Where("id = ?", r.ID).Updates(map[string]any{
			"mail_failed_step": e.Step, "mail_failure": failure, "mail_failed_at": e.At,
			"mail_failed_event": e.Event, "updated_at": e.At,
		}).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: r.ID, Actor: ActorSystem, Action: map[string]string{MailBounced: "email_bounced", MailDropped: "email_dropped"}[e.Event],
			Detail: e.Step + " email not delivered (" + e.Event + ")", At: e.At}).Error
	})
	if err != nil {
		return false, notFound(err, "record mail event")
	}
	return recorded, nil
}

// MailEvents lists a request's provider events, oldest first.
func (s *Store) MailEvents(ctx context.Context, requestID string) ([]MailEvent, error) {
	var es []MailEvent
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Limit(500).Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: mail events: %w", err)
	}
	return es, nil
}

// NeedingAttention lists open requests an officer must act on besides
// their deadline: unclassified emails, and emails the provider reported
// undelivered after accepting them. Oldest first.
func (s *Store) NeedingAttention(ctx context.Context, limit int) ([]Request, error) {
	var rs []Request
	err := s.db.WithContext(ctx).Select("id", "type", "status", "received_at", "due_at", "mail_failed_step", "mail_failed_event").
		Where("status IN ? AND (type = ? OR mail_failed_event <> '')", domain.OpenStatuses(), domain.TypeUnclassified).
		Order("received_at").Limit(limit).Find(&rs).Error
	if err != nil {
		return nil, fmt.Errorf("store: requests needing attention: %w", err)
	}
	return rs, nil
}
