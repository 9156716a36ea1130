package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

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
	// State and SentAt are kept only for fan-outs begun before batches
	// were recorded (migration 0027): a person's state is now the
	// state of the batch whose range holds their seq. Batch is the
	// batch a claim put them in.
	State  string
	Batch  *int
	SentAt *time.Time
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

// BreachBatch is one batch of a breach's fan-out: the recipients whose
// seq runs from FirstSeq to LastSeq, all in the batch's State (one of the
// Recipient states). A pending batch was released, or is to be sent
// again after an officer's decision; it is claimed again, whole, before
// the cursor moves on.
type BreachBatch struct {
	BreachID string `gorm:"primaryKey"`
	FirstSeq int    `gorm:"primaryKey"`
	LastSeq  int
	State    string
	SentAt   *time.Time
}

// ClaimBatch claims the next batch of a breach's fan-out and returns its
// recipients in order: a released batch first, whole, else the next size
// recipients by seq, from the cursor on the breach. The batch is numbered
// by its first seq. Nothing left returns none. Claims may run side by
// side: on PostgreSQL each is one statement, which skips released batches
// another claim holds and waits on the cursor's row for a moment.
func (s *Store) ClaimBatch(ctx context.Context, id string, size int) (int, []BreachRecipient, error) {
	size = max(size, 1)
	if s.dialect != Postgres {
		return s.claimBatchTx(ctx, id, size)
	}
	// Either the released batch is reclaimed or, only when there is
	// none, the cursor moves on: the cursor's row lock orders the claims
	// that move it, and FOR UPDATE reads its latest value.
	var rs []BreachRecipient
	err := s.db.WithContext(ctx).Raw(`WITH released AS (
    SELECT first_seq FROM breach_batches
    WHERE breach_id = @id AND state = @pending
    ORDER BY first_seq LIMIT 1
    FOR UPDATE SKIP LOCKED
), reclaimed AS (
    UPDATE breach_batches x SET state = @sending FROM released
    WHERE x.breach_id = @id AND x.first_seq = released.first_seq
    RETURNING x.first_seq, x.last_seq
), cursor AS (
    SELECT claimed_to, COALESCE(affected_people, 0) AS total FROM breaches
    WHERE id = @id AND NOT EXISTS (SELECT 1 FROM released)
    FOR UPDATE
), moved AS (
    UPDATE breaches b SET claimed_to = LEAST(cursor.claimed_to + @size, cursor.total) FROM cursor
    WHERE b.id = @id AND cursor.claimed_to < cursor.total
    RETURNING cursor.claimed_to + 1 AS first_seq, b.claimed_to AS last_seq
), fresh AS (
    INSERT INTO breach_batches (breach_id, first_seq, last_seq, state)
    SELECT @id, first_seq, last_seq, @sending FROM moved
    RETURNING first_seq, last_seq
), claim AS (
    SELECT first_seq, last_seq FROM reclaimed UNION ALL SELECT first_seq, last_seq FROM fresh
)
SELECT r.breach_id, r.seq, r.email, r.name, r.records, claim.first_seq AS batch
FROM claim JOIN breach_recipients r ON r.breach_id = @id AND r.seq BETWEEN claim.first_seq AND claim.last_seq
ORDER BY r.seq`, map[string]any{"id": id, "pending": RecipientPending, "sending": RecipientSending, "size": size}).
		Scan(&rs).Error
	if err != nil {
		return 0, nil, fmt.Errorf("store: claim batch: %w", err)
	}
	if len(rs) == 0 {
		return 0, nil, nil
	}
	return *rs[0].Batch, rs, nil
}

// claimBatchTx is ClaimBatch where SKIP LOCKED is missing (SQLite, one
// writer at a time).
func (s *Store) claimBatchTx(ctx context.Context, id string, size int) (int, []BreachRecipient, error) {
	var batch BreachBatch
	var rs []BreachRecipient
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("breach_id = ? AND state = ?", id, RecipientPending).Order("first_seq").Take(&batch).Error
		switch {
		case err == nil:
			res := tx.Model(&BreachBatch{}).Where("breach_id = ? AND first_seq = ? AND state = ?", id, batch.FirstSeq, RecipientPending).
				Update("state", RecipientSending)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return errClaimRaced
			}
		case errors.Is(err, gorm.ErrRecordNotFound):
			var b struct {
				ClaimedTo      int
				AffectedPeople *int
			}
			if err := tx.Model(&Breach{}).Select("claimed_to", "affected_people").Where("id = ?", id).Take(&b).Error; err != nil {
				return err
			}
			total := 0
			if b.AffectedPeople != nil {
				total = *b.AffectedPeople
			}
			if b.ClaimedTo >= total {
				return nil // everyone claimed
			}
			batch = BreachBatch{BreachID: id, FirstSeq: b.ClaimedTo + 1, LastSeq: min(b.ClaimedTo+size, total), State: RecipientSending}
			res := tx.Model(&Breach{}).Where("id = ? AND claimed_to = ?", id, b.ClaimedTo).Update("claimed_to", batch.LastSeq)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return errClaimRaced
			}
			if err := tx.Create(&batch).Error; err != nil {
				return err
			}
		default:
			return err
		}
		if err := tx.Select("breach_id", "seq", "email", "name", "records").
			Where("breach_id = ? AND seq BETWEEN ? AND ?", id, batch.FirstSeq, batch.LastSeq).Order("seq").Find(&rs).Error; err != nil {
			return err
		}
		for i := range rs {
			rs[i].Batch = &batch.FirstSeq
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("store: claim batch: %w", err)
	}
	return batch.FirstSeq, rs, nil
}

// errClaimRaced: another claim took the batch or moved the cursor; the
// transaction rolls back and the caller tries again.
var errClaimRaced = errors.New("batch claimed concurrently; try again")

// setBatch moves a batch being sent to another state, returning how many
// people it holds (0: it was not being sent).
func setBatch(tx *gorm.DB, id string, batch int, updates map[string]any) (int, error) {
	var b BreachBatch
	res := tx.Model(&b).Clauses(clause.Returning{Columns: []clause.Column{{Name: "first_seq"}, {Name: "last_seq"}}}).
		Where("breach_id = ? AND first_seq = ? AND state = ?", id, batch, RecipientSending).Updates(updates)
	if res.Error != nil || res.RowsAffected == 0 {
		return 0, res.Error
	}
	return b.LastSeq - b.FirstSeq + 1, nil
}

// MarkBatchSent records that a batch's emails were accepted.
func (s *Store) MarkBatchSent(ctx context.Context, id string, batch int, at time.Time) error {
	if _, err := setBatch(s.db.WithContext(ctx), id, batch, map[string]any{"state": RecipientSent, "sent_at": at.UTC()}); err != nil {
		return fmt.Errorf("store: mark batch sent: %w", err)
	}
	return nil
}

// FailBatch records a batch the provider refused for good; it is not
// retried and counts as failed in the progress.
func (s *Store) FailBatch(ctx context.Context, id string, batch int, reason string, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := setBatch(tx, id, batch, map[string]any{"state": RecipientFailed})
		if err != nil || n == 0 {
			return err
		}
		return tx.Create(&BreachEvent{BreachID: id, Actor: ActorSystem, Action: "send_failed",
			Detail: fmt.Sprintf("%d notices refused by the provider: %.300s", n, reason), At: at.UTC()}).Error
	})
	if err != nil {
		return fmt.Errorf("store: fail batch: %w", err)
	}
	return nil
}

// OrphanedToUncertain marks as uncertain every batch still claimed by a
// send: called by a fan-out once its own batches are settled, so what is
// left was claimed by an attempt that died mid-send.
func (s *Store) OrphanedToUncertain(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&BreachBatch{}).Where("breach_id = ? AND state = ?", id, RecipientSending).
		Update("state", RecipientUncertain).Error
	if err != nil {
		return fmt.Errorf("store: orphaned sends: %w", err)
	}
	return nil
}

// ReleaseBatch returns a batch that was claimed but certainly not sent
// (SendGrid refused it, or it was never posted) to pending, to be claimed
// again before anyone new.
func (s *Store) ReleaseBatch(ctx context.Context, id string, batch int) error {
	if _, err := setBatch(s.db.WithContext(ctx), id, batch, map[string]any{"state": RecipientPending}); err != nil {
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

// Progress counts a breach's recipients by state: each batch's people
// by its state; those in no batch yet are pending.
func (s *Store) Progress(ctx context.Context, id string) (FanOutProgress, error) {
	var p FanOutProgress
	var b Breach
	err := s.db.WithContext(ctx).Select("affected_people").Take(&b, "id = ?", id).Error
	if err != nil {
		return p, fmt.Errorf("store: progress: %w", notFound(err, "breach "+id))
	}
	if b.AffectedPeople != nil {
		p.Total = *b.AffectedPeople
	}
	var rows []struct {
		State string
		N     int
	}
	err = s.db.WithContext(ctx).Model(&BreachBatch{}).Select("state, SUM(last_seq - first_seq + 1) AS n").
		Where("breach_id = ?", id).Group("state").Scan(&rows).Error
	if err != nil {
		return FanOutProgress{}, fmt.Errorf("store: progress: %w", err)
	}
	for _, r := range rows {
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
// reports how many people it settled.
func (s *Store) ResolveUncertain(ctx context.Context, id string, resend bool, actor string, at time.Time) (int, error) {
	n := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		updates := map[string]any{"state": RecipientSent, "sent_at": at.UTC()}
		detail := "recorded as sent"
		if resend {
			updates = map[string]any{"state": RecipientPending}
			detail = "to be sent again"
		}
		var settled []BreachBatch
		res := tx.Model(&settled).Clauses(clause.Returning{Columns: []clause.Column{{Name: "first_seq"}, {Name: "last_seq"}}}).
			Where("breach_id = ? AND state = ?", id, RecipientUncertain).Updates(updates)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		for _, b := range settled {
			n += b.LastSeq - b.FirstSeq + 1
		}
		return tx.Create(&BreachEvent{BreachID: id, Actor: actor, Action: "uncertain_resolved",
			Detail: fmt.Sprintf("%d uncertain %s", n, detail), At: at.UTC()}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: resolve uncertain: %w", err)
	}
	return n, nil
}
