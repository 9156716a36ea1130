package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Task is one system's share of an approved request that dsar does not
// carry out itself: a webhook call or a manual task.
type Task struct {
	RequestID    string     `gorm:"primaryKey" json:"-"`
	System       string     `gorm:"primaryKey" json:"system"`
	Kind         string     `json:"kind"` // webhook or manual
	Instructions string     `json:"instructions,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	DoneAt       *time.Time `json:"done_at,omitempty"`
	DoneBy       string     `json:"done_by,omitempty"`
	Note         string     `json:"note,omitempty"`
	// Answer is a webhook's answer, sealed (it may hold personal data)
	// under the key AnswerKey names.
	AnswerKey string `json:"-"`
	Answer    []byte `json:"-"`
}

func (Task) TableName() string { return "request_tasks" }

// ErrTaskDone means a task was already completed.
var ErrTaskDone = errors.New("task already completed")

// EnsureTasks creates a request's tasks that do not exist yet, keeping
// the ones that do (and whatever was done in them), and returns them all.
func (s *Store) EnsureTasks(ctx context.Context, requestID string, tasks []Task, now time.Time) ([]Task, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := range tasks {
			tasks[i].RequestID, tasks[i].CreatedAt = requestID, now.UTC()
		}
		if len(tasks) > 0 {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&tasks).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: ensure tasks: %w", err)
	}
	return s.Tasks(ctx, requestID)
}

// Tasks lists a request's tasks by system.
func (s *Store) Tasks(ctx context.Context, requestID string) ([]Task, error) {
	var ts []Task
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("system").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: tasks: %w", err)
	}
	return ts, nil
}

// CompleteTask records a task as done, by whom, with a note and (for a
// webhook) its sealed answer, and audits it, in one transaction. A task
// already done is left as it is: ErrTaskDone.
func (s *Store) CompleteTask(ctx context.Context, t Task, now time.Time) error {
	now = now.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Task{}).Where("request_id = ? AND system = ? AND done_at IS NULL", t.RequestID, t.System).
			Updates(map[string]any{"done_at": now, "done_by": t.DoneBy, "note": t.Note, "answer_key": t.AnswerKey, "answer": t.Answer})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&Task{}).Where("request_id = ? AND system = ?", t.RequestID, t.System).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			return ErrTaskDone
		}
		detail := t.System
		if t.Note != "" {
			detail += ": " + t.Note
		}
		return tx.Create(&AuditEvent{RequestID: t.RequestID, Actor: t.DoneBy, Action: "task_completed", Detail: detail, At: now}).Error
	})
	if err != nil {
		return fmt.Errorf("store: complete task %s: %w", t.System, err)
	}
	return nil
}
