package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/domain"
)

// Breach is a personal-data breach as recorded, with its notifications.
type Breach struct {
	ID           string      `json:"id"`
	Title        string      `json:"title"`
	Description  string      `json:"description"`
	AwareAt      time.Time   `json:"aware_at"`
	DeadlineAt   time.Time   `json:"deadline_at"`
	Systems      []string    `json:"systems" gorm:"serializer:json"`
	Categories   []string    `json:"categories" gorm:"serializer:json"`
	Risk         domain.Risk `json:"risk"`
	Consequences string      `json:"consequences,omitempty"`
	Measures     string      `json:"measures,omitempty"`
	RecordedBy   string      `json:"recorded_by"`
	CreatedAt    time.Time   `json:"created_at"`
	// AffectedPeople and AffectedRecords are set once the data map has
	// been searched.
	AffectedPeople  *int `json:"affected_people"`
	AffectedRecords *int `json:"affected_records"`
	// The notice to the people affected, once an officer approved it.
	NoticeSubject    string     `json:"notice_subject,omitempty"`
	NoticeText       string     `json:"notice_text,omitempty"`
	NoticeApprovedBy string     `json:"notice_approved_by,omitempty"`
	NoticeApprovedAt *time.Time `json:"notice_approved_at,omitempty"`
	FanoutDoneAt     *time.Time `json:"fanout_done_at,omitempty"`
	// The notification of the supervisory authority.
	Authority           string     `json:"authority,omitempty"`
	AuthorityReference  string     `json:"authority_reference,omitempty"`
	AuthorityNotifiedAt *time.Time `json:"authority_notified_at,omitempty"`
	AuthorityNotifiedBy string     `json:"authority_notified_by,omitempty"`
	// DelayReason explains a notification later than 72 hours.
	DelayReason       string     `json:"delay_reason,omitempty"`
	EscalatedAt       *time.Time `json:"escalated_at,omitempty"`
	ClosedAt          *time.Time `json:"closed_at,omitempty"`
	WorkflowStartedAt *time.Time `json:"-"`
}

// NotifiesSubjects reports whether the people affected are to be told: by
// default for medium and high risk, and whenever an officer approved a
// notice.
func (b *Breach) NotifiesSubjects() bool {
	return b.Risk.NotifiesSubjects() || b.NoticeApprovedAt != nil
}

// Overdue reports whether the authority is still not notified past the
// 72 hours.
func (b *Breach) Overdue(now time.Time) bool {
	return b.AuthorityNotifiedAt == nil && now.After(b.DeadlineAt)
}

// BreachEvent is one line of a breach's history.
type BreachEvent struct {
	ID       int64     `json:"-"`
	BreachID string    `json:"-"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// BreachRecipient is one person a breach affects.
type BreachRecipient struct {
	BreachID string `gorm:"primaryKey"`
	Seq      int    `gorm:"primaryKey"`
	Email    string
	Name     string
	Records  int
	State    string // pending, sending, sent
	Batch    *int
	SentAt   *time.Time
}

// Recipient states.
const (
	RecipientPending = "pending"
	RecipientSending = "sending" // claimed by the batch being sent now
	RecipientSent    = "sent"
	// RecipientUncertain: claimed by a send a crash cut short; whether it
	// went out is unknown until an officer decides.
	RecipientUncertain = "uncertain"
	// RecipientFailed: the provider refused the batch for good (a
	// malformed address, say); not retried.
	RecipientFailed = "failed"
)

// ErrNoticeApproved: a different notice was already approved.
var ErrNoticeApproved = errors.New("a notice was already approved for this breach")

// ErrAuthorityNotified: the authority's notification is already recorded.
var ErrAuthorityNotified = errors.New("the authority's notification is already recorded")

// CreateBreach stores a new breach with its first history line.
func (s *Store) CreateBreach(ctx context.Context, b *Breach) error {
	b.AwareAt, b.CreatedAt = b.AwareAt.UTC(), b.CreatedAt.UTC()
	b.DeadlineAt = b.AwareAt.Add(domain.NotificationWindow)
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(b).Error; err != nil {
			return notFound(err, "create breach")
		}
		return tx.Create(&BreachEvent{BreachID: b.ID, Actor: b.RecordedBy, Action: "recorded",
			Detail: fmt.Sprintf("%s risk; aware %s", b.Risk, b.AwareAt.Format(time.RFC3339)), At: b.CreatedAt}).Error
	})
}

// GetBreach loads one breach.
func (s *Store) GetBreach(ctx context.Context, id string) (*Breach, error) {
	var b Breach
	if err := s.db.WithContext(ctx).Take(&b, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "breach "+id)
	}
	return &b, nil
}

// ListBreaches lists breaches, open ones first, soonest deadline first.
func (s *Store) ListBreaches(ctx context.Context, openOnly bool, limit int) ([]Breach, error) {
	q := s.db.WithContext(ctx).Model(&Breach{})
	if openOnly {
		q = q.Where("closed_at IS NULL")
	}
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var bs []Breach
	err := q.Order("CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END, deadline_at").Limit(limit).Find(&bs).Error
	if err != nil {
		return nil, fmt.Errorf("store: list breaches: %w", err)
	}
	return bs, nil
}

// BreachEvents returns a breach's history, oldest first.
func (s *Store) BreachEvents(ctx context.Context, id string) ([]BreachEvent, error) {
	var es []BreachEvent
	if err := s.db.WithContext(ctx).Where("breach_id = ?", id).Order("id").Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: breach events: %w", err)
	}
	return es, nil
}

// AddBreachEvent appends a line to a breach's history.
func (s *Store) AddBreachEvent(ctx context.Context, e BreachEvent) error {
	e.At = e.At.UTC()
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("store: breach event: %w", err)
	}
	return nil
}

// SetAffected stores the people a breach affects, once: a repeat (a
// retried search) keeps the first list, so a fan-out under way is never
// disturbed. people must be in a stable order; their seq is their place.
func (s *Store) SetAffected(ctx context.Context, id string, people []BreachRecipient, at time.Time) (persons, records int, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var b Breach
		if err := tx.Select("id", "affected_people", "affected_records").Take(&b, "id = ?", id).Error; err != nil {
			return err
		}
		if b.AffectedPeople != nil {
			persons, records = *b.AffectedPeople, *b.AffectedRecords
			return nil
		}
		for i := range people {
			people[i].BreachID, people[i].Seq, people[i].State = id, i+1, RecipientPending
			records += people[i].Records
		}
		persons = len(people)
		if len(people) > 0 {
			if err := tx.CreateInBatches(people, 500).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&Breach{}).Where("id = ?", id).
			Updates(map[string]any{"affected_people": persons, "affected_records": records}).Error; err != nil {
			return err
		}
		return tx.Create(&BreachEvent{BreachID: id, Actor: ActorSystem, Action: "affected_found",
			Detail: fmt.Sprintf("%d people, %d records", persons, records), At: at.UTC()}).Error
	})
	if err != nil {
		return 0, 0, notFound(err, "set affected of breach "+id)
	}
	return persons, records, nil
}

// ApproveNotice records the notice an officer approved for the people
// affected. Approving the same text again does nothing.
func (s *Store) ApproveNotice(ctx context.Context, id, subject, text, actor string, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var b Breach
		if err := tx.Take(&b, "id = ?", id).Error; err != nil {
			return err
		}
		if b.NoticeApprovedAt != nil {
			if b.NoticeText == text && b.NoticeSubject == subject {
				return nil
			}
			return ErrNoticeApproved
		}
		if err := tx.Model(&Breach{}).Where("id = ?", id).Updates(map[string]any{
			"notice_subject": subject, "notice_text": text, "notice_approved_by": actor, "notice_approved_at": at.UTC(),
		}).Error; err != nil {
			return err
		}
		return tx.Create(&BreachEvent{BreachID: id, Actor: actor, Action: "notice_approved", Detail: subject, At: at.UTC()}).Error
	})
	if errors.Is(err, ErrNoticeApproved) {
		return fmt.Errorf("store: %w", err)
	}
	if err != nil {
		return notFound(err, "approve notice of breach "+id)
	}
	return nil
}

// AuthorityNotice records the notification of the supervisory authority.
type AuthorityNotice struct {
	BreachID    string
	Authority   string
	Reference   string
	NotifiedAt  time.Time
	Actor       string
	DelayReason string
	At          time.Time
}

// RecordAuthority records the authority's notification once; the same
// record again does nothing.
func (s *Store) RecordAuthority(ctx context.Context, n AuthorityNotice) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var b Breach
		if err := tx.Take(&b, "id = ?", n.BreachID).Error; err != nil {
			return err
		}
		if b.AuthorityNotifiedAt != nil {
			if b.AuthorityReference == n.Reference && b.Authority == n.Authority {
				return nil
			}
			return ErrAuthorityNotified
		}
		if err := tx.Model(&Breach{}).Where("id = ?", n.BreachID).Updates(map[string]any{
			"authority": n.Authority, "authority_reference": n.Reference, "authority_notified_at": n.NotifiedAt.UTC(),
			"authority_notified_by": n.Actor, "delay_reason": n.DelayReason,
		}).Error; err != nil {
			return err
		}
		detail := n.Authority + ", reference " + n.Reference
		if n.DelayReason != "" {
			detail += "; late: " + n.DelayReason
		}
		return tx.Create(&BreachEvent{BreachID: n.BreachID, Actor: n.Actor, Action: "authority_notified", Detail: detail, At: n.At.UTC()}).Error
	})
	if errors.Is(err, ErrAuthorityNotified) {
		return fmt.Errorf("store: %w", err)
	}
	if err != nil {
		return notFound(err, "record authority for breach "+n.BreachID)
	}
	return nil
}

// SetBreachTime sets one of a breach's milestone times (escalated_at,
// fanout_done_at, closed_at) if unset, with a history line; it reports
// whether this call set it.
func (s *Store) SetBreachTime(ctx context.Context, id, column, actor, detail string, at time.Time) (bool, error) {
	switch column {
	case "escalated_at", "fanout_done_at", "closed_at":
	default:
		return false, fmt.Errorf("store: %s is not a breach milestone", column)
	}
	set := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Breach{}).Where("id = ? AND "+column+" IS NULL", id).Update(column, at.UTC())
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		set = true
		return tx.Create(&BreachEvent{BreachID: id, Actor: actor, Action: column[:len(column)-3], Detail: detail, At: at.UTC()}).Error
	})
	if err != nil {
		return false, fmt.Errorf("store: breach %s: %w", column, err)
	}
	return set, nil
}

// ClaimBatch marks up to size pending recipients, the first by seq, as
// being sent in a new batch and returns them in order. The batch is
// numbered by its first seq, so claiming never scans the whole list.
// Nothing pending returns none. Claims may run side by side: on
// PostgreSQL each takes rows no other claim holds, in one statement.
func (s *Store) ClaimBatch(ctx context.Context, id string, size int) (int, []BreachRecipient, error) {
	if s.dialect != Postgres {
		return s.claimBatchTx(ctx, id, size)
	}
	// SKIP LOCKED passes over rows another claim is taking; a row that
	// claim took is no longer pending when it is read again, so the
	// LIMIT is filled from the rows after it. The CTE is read twice and
	// so evaluated once.
	var rs []BreachRecipient
	err := s.db.WithContext(ctx).Raw(`WITH claim AS (
    SELECT seq FROM breach_recipients
    WHERE breach_id = ? AND state = ?
    ORDER BY seq LIMIT ?
    FOR UPDATE SKIP LOCKED
)
UPDATE breach_recipients r SET state = ?, batch = (SELECT min(seq) FROM claim)
FROM claim WHERE r.breach_id = ? AND r.seq = claim.seq
RETURNING r.*`, id, RecipientPending, size, RecipientSending, id).Scan(&rs).Error
	if err != nil {
		return 0, nil, fmt.Errorf("store: claim batch: %w", err)
	}
	if len(rs) == 0 {
		return 0, nil, nil
	}
	slices.SortFunc(rs, func(a, b BreachRecipient) int { return a.Seq - b.Seq })
	return *rs[0].Batch, rs, nil
}

// claimBatchTx is ClaimBatch where SKIP LOCKED is missing (SQLite, one
// writer at a time).
func (s *Store) claimBatchTx(ctx context.Context, id string, size int) (int, []BreachRecipient, error) {
	var batch int
	var rs []BreachRecipient
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var seqs []int
		if err := tx.Model(&BreachRecipient{}).Where("breach_id = ? AND state = ?", id, RecipientPending).
			Order("seq").Limit(size).Pluck("seq", &seqs).Error; err != nil || len(seqs) == 0 {
			return err
		}
		batch = seqs[0]
		// The pending rows between the first and last seq are exactly
		// those just read, unless another claim took some meanwhile: then
		// this claim gives way and is retried.
		res := tx.Model(&BreachRecipient{}).Where("breach_id = ? AND state = ? AND seq BETWEEN ? AND ?",
			id, RecipientPending, seqs[0], seqs[len(seqs)-1]).
			Updates(map[string]any{"state": RecipientSending, "batch": batch})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(seqs)) {
			return errClaimRaced
		}
		return tx.Where("breach_id = ? AND batch = ? AND state = ?", id, batch, RecipientSending).Order("seq").Find(&rs).Error
	})
	if err != nil {
		return 0, nil, fmt.Errorf("store: claim batch: %w", err)
	}
	return batch, rs, nil
}

// errClaimRaced: another claim took part of the batch; the transaction
// rolls back and the caller tries again.
var errClaimRaced = errors.New("batch claimed concurrently; try again")

// MarkBatchSent records that a batch's emails were accepted.
func (s *Store) MarkBatchSent(ctx context.Context, id string, batch int, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&BreachRecipient{}).
		Where("breach_id = ? AND batch = ? AND state = ?", id, batch, RecipientSending).
		Updates(map[string]any{"state": RecipientSent, "sent_at": at.UTC()}).Error
	if err != nil {
		return fmt.Errorf("store: mark batch sent: %w", err)
	}
	return nil
}

// FailBatch records a batch the provider refused for good; it is not
// retried and counts as failed in the progress.
func (s *Store) FailBatch(ctx context.Context, id string, batch int, reason string, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&BreachRecipient{}).
			Where("breach_id = ? AND batch = ? AND state = ?", id, batch, RecipientSending).
			Update("state", RecipientFailed)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Create(&BreachEvent{BreachID: id, Actor: ActorSystem, Action: "send_failed",
			Detail: fmt.Sprintf("%d notices refused by the provider: %.300s", res.RowsAffected, reason), At: at.UTC()}).Error
	})
	if err != nil {
		return fmt.Errorf("store: fail batch: %w", err)
	}
	return nil
}

// OrphanedToUncertain marks as uncertain every recipient still claimed
// by a send: called by a fan-out once its own batches are settled, so
// what is left was claimed by an attempt that died mid-send.
func (s *Store) OrphanedToUncertain(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&BreachRecipient{}).Where("breach_id = ? AND state = ?", id, RecipientSending).
		Update("state", RecipientUncertain).Error
	if err != nil {
		return fmt.Errorf("store: orphaned sends: %w", err)
	}
	return nil
}

// ReleaseBatch returns a batch that was claimed but certainly not sent
// (SendGrid refused it, or it was never posted) to pending.
func (s *Store) ReleaseBatch(ctx context.Context, id string, batch int) error {
	err := s.db.WithContext(ctx).Model(&BreachRecipient{}).
		Where("breach_id = ? AND batch = ? AND state = ?", id, batch, RecipientSending).
		Updates(map[string]any{"state": RecipientPending, "batch": nil}).Error
	if err != nil {
		return fmt.Errorf("store: release batch: %w", err)
	}
	return nil
}

// FanOutProgress counts a breach's recipients by state.
type FanOutProgress struct {
	Total     int `json:"total"`
	Sent      int `json:"sent"`
	Sending   int `json:"sending"`   // in the batch being sent now
	Uncertain int `json:"uncertain"` // claimed by a send whose outcome a crash lost
	Failed    int `json:"failed"`    // refused by the provider for good
}

// Progress counts a breach's recipients by state.
func (s *Store) Progress(ctx context.Context, id string) (FanOutProgress, error) {
	var rows []struct {
		State string
		N     int
	}
	err := s.db.WithContext(ctx).Model(&BreachRecipient{}).Select("state, COUNT(*) AS n").
		Where("breach_id = ?", id).Group("state").Scan(&rows).Error
	if err != nil {
		return FanOutProgress{}, fmt.Errorf("store: progress: %w", err)
	}
	var p FanOutProgress
	for _, r := range rows {
		p.Total += r.N
		switch r.State {
		case RecipientSent:
			p.Sent = r.N
		case RecipientSending:
			p.Sending = r.N
		case RecipientUncertain:
			p.Uncertain = r.N
		case RecipientFailed:
			p.Failed = r.N
		}
	}
	return p, nil
}

// MarkBreachStarted records that the breach's workflow exists.
func (s *Store) MarkBreachStarted(ctx context.Context, id string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Breach{}).Where("id = ? AND workflow_started_at IS NULL", id).
		Update("workflow_started_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("store: mark breach started: %w", err)
	}
	return nil
}

// UnstartedBreaches lists breaches whose workflow was never started.
func (s *Store) UnstartedBreaches(ctx context.Context, limit int) ([]Breach, error) {
	var bs []Breach
	if err := s.db.WithContext(ctx).Where("workflow_started_at IS NULL").Order("created_at").Limit(limit).Find(&bs).Error; err != nil {
		return nil, fmt.Errorf("store: unstarted breaches: %w", err)
	}
	return bs, nil
}

// ResolveUncertain settles the recipients whose send a crash left
// unknown: back to pending, to be sent again (resend), or recorded as
// sent (an officer found them delivered in SendGrid's activity feed). It
// reports how many it settled.
func (s *Store) ResolveUncertain(ctx context.Context, id string, resend bool, actor string, at time.Time) (int, error) {
	n := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		updates := map[string]any{"state": RecipientSent, "sent_at": at.UTC()}
		detail := "recorded as sent"
		if resend {
			updates = map[string]any{"state": RecipientPending, "batch": nil}
			detail = "to be sent again"
		}
		res := tx.Model(&BreachRecipient{}).Where("breach_id = ? AND state = ?", id, RecipientUncertain).Updates(updates)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		n = int(res.RowsAffected)
		return tx.Create(&BreachEvent{BreachID: id, Actor: actor, Action: "uncertain_resolved",
			Detail: fmt.Sprintf("%d uncertain %s", n, detail), At: at.UTC()}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: resolve uncertain: %w", err)
	}
	return n, nil
}
