package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Attachment is a file an officer attached to a request: identity
// evidence or correspondence. Sealed holds the content, sealed
// (export.Sealer SealBlob) under AttachmentBlobName; the listing never
// loads it.
type Attachment struct {
	ID          string    `json:"id"`
	RequestID   string    `json:"-"`
	Kind        string    `json:"kind"`
	FileName    string    `json:"file_name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	KeyID       string    `json:"-"`
	Sealed      []byte    `json:"-"`
	AddedBy     string    `json:"added_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// TableName keeps GORM off "attachments".
func (Attachment) TableName() string { return "request_attachments" }

// AttachmentBlobName binds a sealed attachment to its request and id, so
// it cannot be moved to another request or swapped for another file.
func AttachmentBlobName(requestID, id string) string {
	return "request-attachment/" + requestID + "/" + id
}

// AddAttachment stores an attachment and audits it in one transaction.
// The trail names the attachment, its kind, type and size, never its
// file name: names of files name people, and the trail outlives an
// erasure.
func (s *Store) AddAttachment(ctx context.Context, a *Attachment) error {
	a.CreatedAt = a.CreatedAt.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id").Take(&r, "id = ?", a.RequestID).Error; err != nil {
			return err
		}
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: a.RequestID, Actor: a.AddedBy, Action: "attachment_added",
			Detail: "attachment " + a.ID + " (" + a.Kind + ", " + a.ContentType + ", " + strconv.FormatInt(a.Size, 10) + " bytes)",
			At:     a.CreatedAt}).Error
	})
	if err != nil {
		return notFound(err, "request "+a.RequestID)
	}
	return nil
}

// Attachments lists a request's attachments, oldest first, without
// their content.
func (s *Store) Attachments(ctx context.Context, requestID string) ([]Attachment, error) {
	var as []Attachment
	err := s.db.WithContext(ctx).Omit("sealed").Where("request_id = ?", requestID).
		Order("created_at, id").Find(&as).Error
	if err != nil {
		return nil, fmt.Errorf("store: attachments: %w", err)
	}
	return as, nil
}

// AttachmentOf loads one attachment of a request, content included, or
// answers ErrNotFound: an attachment of another request is not found.
func (s *Store) AttachmentOf(ctx context.Context, requestID, id string) (*Attachment, error) {
	var a Attachment
	if err := s.db.WithContext(ctx).Take(&a, "request_id = ? AND id = ?", requestID, id).Error; err != nil {
		return nil, notFound(err, "attachment "+id+" of "+requestID)
	}
	return &a, nil
}
