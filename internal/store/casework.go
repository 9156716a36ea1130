package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Note is an officer's internal note on a request: read by officers only,
// never emailed.
type Note struct {
	ID        int64     `json:"id"`
	RequestID string    `json:"-"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName keeps GORM off "notes".
func (Note) TableName() string { return "request_notes" }

// AddNote stores a note and audits that it was added. The trail names the
// note, not its text: notes may name people, and the trail outlives an
// erasure.
func (s *Store) AddNote(ctx context.Context, n *Note) error {
	n.CreatedAt = n.CreatedAt.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id").Take(&r, "id = ?", n.RequestID).Error; err != nil {
			return err
		}
		if err := tx.Create(n).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEvent{RequestID: n.RequestID, Actor: n.Author, Action: "note_added",
			Detail: "note " + strconv.FormatInt(n.ID, 10), At: n.CreatedAt}).Error
	})
	if err != nil {
		return notFound(err, "request "+n.RequestID)
	}
	return nil
}

// Notes lists a request's notes, oldest first.
func (s *Store) Notes(ctx context.Context, requestID string) ([]Note, error) {
	var ns []Note
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("created_at, id").Find(&ns).Error; err != nil {
		return nil, fmt.Errorf("store: notes: %w", err)
	}
	return ns, nil
}

// UnknownRequestsError names the requests of a bulk command that do not
// exist; nothing was changed.
type UnknownRequestsError struct{ IDs []string }

func (e *UnknownRequestsError) Error() string {
	return "no such request: " + strings.Join(e.IDs, ", ")
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *UnknownRequestsError) Is(target error) bool { return target == ErrNotFound }

// Assignment gives requests to an officer, or takes them from whoever
// has them when Assignee is nil.
type Assignment struct {
	RequestIDs []string
	Assignee   *Officer
	Actor      string
	At         time.Time
}

// Assign sets the assignee of every request named, in one transaction:
// if any request does not exist, it answers *UnknownRequestsError and
// changes nothing. Each request whose assignee changes gets an audit
// entry; one already so assigned is left alone. It answers how many
// changed.
func (s *Store) Assign(ctx context.Context, a Assignment) (int, error) {
	ids := slices.Clone(a.RequestIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var to *int64
	action, detail := "unassigned", "no one is assigned"
	if a.Assignee != nil {
		to = &a.Assignee.ID
		action, detail = "assigned", "to "+a.Assignee.Email
	}
	changed := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rs []Request
		// In chunks: an IN list has limits of its own in some databases.
		for chunk := range slices.Chunk(ids, 250) {
			var part []Request
			if err := tx.Select("id", "assignee_id").Where("id IN ?", chunk).Find(&part).Error; err != nil {
				return err
			}
			rs = append(rs, part...)
		}
		if len(rs) != len(ids) {
			found := map[string]bool{}
			for _, r := range rs {
				found[r.ID] = true
			}
			var missing []string
			for _, id := range ids {
				if !found[id] {
					missing = append(missing, id)
				}
			}
			return &UnknownRequestsError{IDs: missing}
		}
		at := a.At.UTC()
		for _, r := range rs {
			if (r.AssigneeID == nil && to == nil) || (r.AssigneeID != nil && to != nil && *r.AssigneeID == *to) {
				continue
			}
			if err := tx.Model(&Request{}).Where("id = ?", r.ID).
				Updates(map[string]any{"assignee_id": to, "updated_at": at}).Error; err != nil {
				return err
			}
			if err := tx.Create(&AuditEvent{RequestID: r.ID, Actor: a.Actor, Action: action, Detail: detail, At: at}).Error; err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	var unknown *UnknownRequestsError
	if errors.As(err, &unknown) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("store: assign: %w", err)
	}
	return changed, nil
}
