package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
)

// Request is a data-subject request as stored.
type Request struct {
	ID          string
	Type        domain.RequestType
	Status      domain.Status
	Email       string
	Name        string
	Details     string
	Corrections []domain.Correction `gorm:"serializer:json"`
	ReceivedAt  time.Time
	DueAt       time.Time
	// Regime is the law whose clock the request runs on; the dates below
	// are that clock's (nil for requests stored before regimes).
	Regime            deadline.Regime
	AckDueAt          *time.Time
	ExtensionNoticeBy *time.Time
	ExtendedDueAt     *time.Time
	// ExtendedAt and ExtensionReason record the one extension a request
	// may have; DueAt is then the extended date.
	ExtendedAt      *time.Time
	ExtensionReason string
	// OverdueAt is when the workflow found the request past its due date
	// and escalated it to the officers.
	OverdueAt  *time.Time
	VerifiedAt *time.Time
	VerifiedBy string
	// VerifyCodeFailures counts wrong verification codes typed for the
	// request; at MaxCodeFailures its codes stop working (codes.go).
	VerifyCodeFailures int
	// GPC is true when the browser sent the Global Privacy Control
	// signal (Sec-GPC: 1) with the request.
	GPC bool `gorm:"column:gpc"`
	// Language is the requester's language (i18n.Lang), used for every
	// page and email to them; "en" for requests stored before languages.
	Language          string
	ClosedAt          *time.Time
	DecisionReason    string
	WorkflowStartedAt *time.Time
	// MailFailedStep is the last email step the provider refused for
	// good, MailFailure why and MailFailedAt when; cleared once it goes
	// out.
	MailFailedStep string
	MailFailure    string
	MailFailedAt   *time.Time
	// MailFailedEvent is the provider's later report (bounce, dropped)
	// behind MailFailedStep, empty when it refused the send itself.
	MailFailedEvent string
	UpdatedAt       time.Time
	// EmailHash is the keyed hash of Email (auth.LookupKey) that finds a
	// request by address without reading addresses in clear; the store
	// sets it.
	EmailHash string
	// Channel is how the request arrived (web when empty); LoggedBy is
	// the officer who logged a request that came another way. Email is
	// empty for a logged request whose requester gave none.
	Channel  domain.Channel
	LoggedBy string
	// AssigneeID is the officer working on the request, if any.
	AssigneeID *int64
	// WithdrawalReason is the reason the requester gave for withdrawing,
	// sealed (WithdrawalBlobName) under WithdrawalKeyID; nil when none.
	WithdrawalKeyID  string
	WithdrawalReason []byte
	// ReleasedAt and ReleasedBy record the officer who released an
	// access or export package after previewing it.
	ReleasedAt *time.Time
	ReleasedBy string
	// DuplicateOf is the request that continues when an officer closed
	// this one as its duplicate (status duplicate).
	DuplicateOf string
}

// AuditEvent is one line of a request's history.
type AuditEvent struct {
	ID        int64     `json:"-"`
	RequestID string    `json:"-"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
	// The entry's link in the audit chain (audit.go): its place, the MAC
	// of the entry before it, its own MAC and the key's ID. Set when the
	// entry is created; empty for entries from before the chain.
	Seq     int64  `json:"-"`
	PrevMAC string `json:"-" gorm:"column:prev_mac"`
	MAC     string `json:"-" gorm:"column:mac"`
	KeyID   string `json:"-" gorm:"column:key_id"`
}

// Actors that are not officers.
const (
	ActorRequester = "requester"
	ActorSystem    = "system"
)

// CreateRequest stores a new request with its first audit entry and the
// status link token handed to the requester on the receipt.
func (s *Store) CreateRequest(ctx context.Context, r *Request, statusToken *RequestToken) error {
	return s.createRequest(ctx, r, statusToken, "", nil, true)
}

// CreateSubmittedRequest is CreateRequest for a request its requester
// submitted, whose workflow is started next: its "received" audit entry
// is written when the start is recorded (MarkWorkflowStarted, by the
// workflow's first activity or by recovery), so the requester's path
// takes no lock on the audit chain, whose head every audited write
// queues on.
func (s *Store) CreateSubmittedRequest(ctx context.Context, r *Request, statusToken *RequestToken) error {
	return s.createRequest(ctx, r, statusToken, "", nil, false)
}

// CreateLoggedRequest stores a request an officer logged (r.LoggedBy)
// with its first audit entries. With evidence, the officer verified the
// requester's identity as they logged it (r.VerifiedAt and VerifiedBy
// set): the verification is stored and audited in the same transaction,
// so a request without an address is never left waiting for a link
// nobody can send.
func (s *Store) CreateLoggedRequest(ctx context.Context, r *Request, statusToken *RequestToken, evidence string) error {
	if r.LoggedBy == "" || (evidence != "") != (r.VerifiedAt != nil) {
		return errors.New("store: a logged request names its officer, and evidence goes with a verification")
	}
	return s.createRequest(ctx, r, statusToken, evidence, nil, true)
}

// createRequest stores a request with its status token and, if audit,
// its first audit entries in one transaction: with evidence, the
// officer's verification; with msg, the sealed email it arrived as; more
// writes what else belongs with the request (and may reword its first
// audit entry) in the same transaction.
func (s *Store) createRequest(ctx context.Context, r *Request, statusToken *RequestToken, evidence string, msg *InboundMessage, audit bool, more ...func(tx *gorm.DB, received *AuditEvent) error) error {
	s.prepareRequest(r)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(r).Error; err != nil {
			return err
		}
		if statusToken != nil {
			statusToken.RequestID = r.ID
			if err := tx.Create(statusToken).Error; err != nil {
				return err
			}
		}
		if !audit {
			return nil
		}
		received := receivedEntry(r)
		if r.LoggedBy != "" {
			received.Actor = r.LoggedBy
			received.Detail = fmt.Sprintf("%s request received by %s, logged by an officer", r.Type, strings.ToLower(r.Channel.Label()))
		}
		if msg != nil {
			msg.RequestID, msg.ReceivedAt = r.ID, r.ReceivedAt
			if err := tx.Create(msg).Error; err != nil {
				return err
			}
			received.Detail = string(r.Type) + " request received by email"
		}
		for _, m := range more {
			if err := m(tx, &received); err != nil {
				return err
			}
		}
		if err := tx.Create(&received).Error; err != nil {
			return err
		}
		if evidence == "" {
			return nil
		}
		return tx.Create(&AuditEvent{RequestID: r.ID, Actor: r.VerifiedBy, Action: "identity_verified", Detail: evidence, At: r.VerifiedAt.UTC()}).Error
	})
	if err != nil {
		return notFound(err, "create request")
	}
	return nil
}

// prepareRequest fills a new request's defaults and its email hash.
func (s *Store) prepareRequest(r *Request) {
	if r.Channel == "" {
		r.Channel = domain.ChannelWeb
	}
	r.ReceivedAt = r.ReceivedAt.UTC()
	r.DueAt = r.DueAt.UTC()
	r.UpdatedAt = r.ReceivedAt
	if r.Regime == "" {
		r.Regime = deadline.Default
	}
	if r.Language == "" {
		r.Language = "en"
	}
	for _, t := range []*time.Time{r.AckDueAt, r.ExtensionNoticeBy, r.ExtendedDueAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	if r.Corrections == nil {
		r.Corrections = []domain.Correction{}
	}
	r.EmailHash = s.lookupKeys()[0].EmailHash(r.Email)
}

// CreateRequests stores many requests at once, in batches of 500 rows,
// each with its defaults and email hash, and nothing else: no status
// link, no audit entry, no workflow. It is for loading a volume of
// requests (tests and benchmarks of the list at thousands of requests,
// an import of past requests); a request a person makes goes through
// CreateRequest.
func (s *Store) CreateRequests(ctx context.Context, rs []Request) error {
	for i := range rs {
		s.prepareRequest(&rs[i])
	}
	if err := s.db.WithContext(ctx).CreateInBatches(rs, 500).Error; err != nil {
		return fmt.Errorf("store: create requests: %w", err)
	}
	return nil
}

// GetRequest loads one request.
func (s *Store) GetRequest(ctx context.Context, id string) (*Request, error) {
	var r Request
	if err := s.db.WithContext(ctx).Take(&r, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "request "+id)
	}
	return &r, nil
}

// receivedEntry is a request's first audit entry: it was received.
func receivedEntry(r *Request) AuditEvent {
	return AuditEvent{RequestID: r.ID, Actor: ActorRequester, Action: "received",
		Detail: string(r.Type) + " request submitted", At: r.ReceivedAt}
}

// MarkWorkflowStarted records that the request's workflow exists, so the
// start is not retried, and writes the request's "received" audit entry
// if intake left it (CreateRequest). Only the call that records the start
// writes it, so racing callers (the first activity, recovery) write it
// once.
func (s *Store) MarkWorkflowStarted(ctx context.Context, id string, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Request{}).Where("id = ? AND workflow_started_at IS NULL", id).
			Update("workflow_started_at", at.UTC())
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		var r Request
		if err := tx.Take(&r, "id = ?", id).Error; err != nil {
			return err
		}
		var entries int64
		if err := tx.Model(&AuditEvent{}).Where("request_id = ? AND action = ?", id, "received").Count(&entries).Error; err != nil {
			return err
		}
		if entries > 0 {
			return nil
		}
		received := receivedEntry(&r)
		return tx.Create(&received).Error
	})
	if err != nil {
		return fmt.Errorf("store: mark workflow started: %w", err)
	}
	return nil
}

// UnstartedRequests lists stored requests whose workflow was never started
// (Temporal was unreachable at intake), oldest first. Unclassified
// requests wait for an officer, not for Temporal, and are not listed.
func (s *Store) UnstartedRequests(ctx context.Context, limit int) ([]Request, error) {
	var rs []Request
	err := s.db.WithContext(ctx).Where("workflow_started_at IS NULL AND type <> ?", domain.TypeUnclassified).
		Order("received_at").Limit(limit).Find(&rs).Error
	if err != nil {
		return nil, fmt.Errorf("store: unstarted requests: %w", err)
	}
	return rs, nil
}

// MarkMailFailed records that the provider refused a step's email for
// good.
func (s *Store) MarkMailFailed(ctx context.Context, id, step, failure string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Request{}).Where("id = ?", id).Updates(map[string]any{
		"mail_failed_step": step, "mail_failure": failure, "mail_failed_at": at.UTC(), "mail_failed_event": "", "updated_at": at.UTC(),
	}).Error
	if err != nil {
		return fmt.Errorf("store: mark mail failed: %w", err)
	}
	return nil
}

// ClearMailFailure forgets a refused step once its email went out.
func (s *Store) ClearMailFailure(ctx context.Context, id, step string) error {
	err := s.db.WithContext(ctx).Model(&Request{}).Where("id = ? AND mail_failed_step = ?", id, step).Updates(map[string]any{
		"mail_failed_step": "", "mail_failure": "", "mail_failed_at": nil, "mail_failed_event": "",
	}).Error
	if err != nil {
		return fmt.Errorf("store: clear mail failure: %w", err)
	}
	return nil
}

// ErrNoMailFailure refuses an address correction on a request whose
// emails all went out.
var ErrNoMailFailure = errors.New("no email of this request was refused; its address is the one the requester proved")

// CorrectEmail changes the address of an open request whose email the
// provider refused, and audits who did it. The new address is not in the
// audit detail: the trail outlives an erasure.
func (s *Store) CorrectEmail(ctx context.Context, id, email, actor string, at time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Where("id = ?", id).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return fmt.Errorf("store: correct email: %w", err)
		}
		if r.MailFailedStep == "" || r.Status.Final() {
			return ErrNoMailFailure
		}
		if err := tx.Model(&Request{}).Where("id = ?", id).Updates(map[string]any{
			"email": email, "email_hash": s.lookupKeys()[0].EmailHash(email), "updated_at": at.UTC(),
		}).Error; err != nil {
			return fmt.Errorf("store: correct email: %w", err)
		}
		return tx.Create(&AuditEvent{RequestID: id, Actor: actor, Action: "email_corrected",
			Detail: "the requester's address, after the provider refused " + r.MailFailedStep, At: at.UTC()}).Error
	})
}

// RecentByEmail lists the requests from an address received at or after
// since, oldest first.
func (s *Store) RecentByEmail(ctx context.Context, email string, since time.Time) ([]Request, error) {
	var rs []Request
	err := s.db.WithContext(ctx).Where("email = ? AND received_at >= ?", email, since.UTC()).
		Order("received_at").Limit(100).Find(&rs).Error
	if err != nil {
		return nil, fmt.Errorf("store: recent requests by email: %w", err)
	}
	return rs, nil
}

// CountUnstarted counts stored requests whose workflow has not started,
// unclassified ones aside: they wait for an officer.
func (s *Store) CountUnstarted(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Request{}).Where("workflow_started_at IS NULL AND type <> ?", domain.TypeUnclassified).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: count unstarted requests: %w", err)
	}
	return n, nil
}

// Transition is one status change with who made it and why.
type Transition struct {
	RequestID string
	To        domain.Status
	Actor     string
	Reason    string // kept as the decision reason when To is denied
	// DuplicateOf is the request that continues, when To is duplicate;
	// it is kept with the request and audited.
	DuplicateOf string
	At          time.Time
}

// Transition moves a request to a new status and audits it. Repeating a
// transition already made is a no-op that reports changed=false, so a
// retried activity does no harm. A move the rules forbid returns
// ErrInvalidTransition.
func (s *Store) Transition(ctx context.Context, t Transition) (changed bool, err error) {
	at := t.At.UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Request
		if err := tx.Select("id", "status").Take(&r, "id = ?", t.RequestID).Error; err != nil {
			return err
		}
		if r.Status == t.To {
			return nil
		}
		if !domain.CanTransition(r.Status, t.To) {
			return fmt.Errorf("%w: %s to %s", ErrInvalidTransition, r.Status, t.To)
		}
		updates := map[string]any{"status": t.To, "updated_at": at}
		if t.To.Final() {
			updates["closed_at"] = at
		}
		if t.To == domain.StatusDenied {
			updates["decision_reason"] = t.Reason
		}
		if t.To == domain.StatusDuplicate {
			if t.DuplicateOf == "" {
				return fmt.Errorf("%w: a duplicate needs the request that continues", ErrInvalidTransition)
			}
			updates["duplicate_of"] = t.DuplicateOf
		}
		// The status condition makes a concurrent change lose cleanly.
		res := tx.Model(&Request{}).Where("id = ? AND status = ?", r.ID, r.Status).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			// If the concurrent change was this very one (a retried
			// activity racing its first attempt), it is a repeat, not an error.
			var current Request
			if err := tx.Select("status").Take(&current, "id = ?", r.ID).Error; err == nil && current.Status == t.To {
				return nil
			}
			return fmt.Errorf("%w: %s changed concurrently", ErrInvalidTransition, r.ID)
		}
		changed = true
		detail := string(r.Status) + " → " + string(t.To)
		if err := tx.Create(&AuditEvent{RequestID: r.ID, Actor: t.Actor, Action: "status", Detail: detail, At: at}).Error; err != nil {
			return err
		}
		if t.To == domain.StatusDuplicate {
			return tx.Create(&AuditEvent{RequestID: r.ID, Actor: t.Actor, Action: "closed_as_duplicate", Detail: "of " + t.DuplicateOf, At: at}).Error
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrInvalidTransition) {
			return false, fmt.Errorf("store: %w", err)
		}
		return false, notFound(err, "transition request "+t.RequestID)
	}
	return changed, nil
}

// Audit appends an entry to a request's history.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	e.At = e.At.UTC()
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// Timeline returns a request's audit entries, oldest first.
func (s *Store) Timeline(ctx context.Context, requestID string) ([]AuditEvent, error) {
	var es []AuditEvent
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	return es, nil
}

// StatusCount is the number of requests of one type in one status.
type StatusCount struct {
	Type   domain.RequestType
	Status domain.Status
	Count  int64
}

// CountRequests counts requests by type and status, for metrics.
func (s *Store) CountRequests(ctx context.Context) ([]StatusCount, error) {
	var cs []StatusCount
	err := s.db.WithContext(ctx).Model(&Request{}).Select("type, status, COUNT(*) AS count").
		Group("type, status").Order("type, status").Scan(&cs).Error
	if err != nil {
		return nil, fmt.Errorf("store: count requests: %w", err)
	}
	return cs, nil
}

// CountOverdue counts open requests past their due date, by type.
func (s *Store) CountOverdue(ctx context.Context, now time.Time) (map[domain.RequestType]int64, error) {
	var rows []StatusCount
	err := s.db.WithContext(ctx).Model(&Request{}).Select("type, COUNT(*) AS count").
		Where("status IN ? AND due_at < ?", domain.OpenStatuses(), now.UTC()).Group("type").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: count overdue: %w", err)
	}
	out := map[domain.RequestType]int64{}
	for _, r := range rows {
		out[r.Type] = r.Count
	}
	return out, nil
}

// VerifiedButWaiting lists requests verified before `before` whose workflow
// still waits for verification: the signal from the verification page was
// lost and must be sent again.
func (s *Store) VerifiedButWaiting(ctx context.Context, before time.Time, limit int) ([]Request, error) {
	var rs []Request
	err := s.db.WithContext(ctx).Where("status = ? AND verified_at IS NOT NULL AND verified_at < ?", domain.StatusVerifying, before.UTC()).
		Order("verified_at").Limit(limit).Find(&rs).Error
	if err != nil {
		return nil, fmt.Errorf("store: verified but waiting: %w", err)
	}
	return rs, nil
}

// RequestTimes are the dates the dashboard's metrics are computed from.
type RequestTimes struct {
	Type       domain.RequestType
	Status     domain.Status
	ReceivedAt time.Time
	DueAt      time.Time
	ClosedAt   *time.Time
}

// RequestTimesSince lists the dates of requests received at or after
// since, oldest first. It reads four columns, not whole requests.
func (s *Store) RequestTimesSince(ctx context.Context, since time.Time) ([]RequestTimes, error) {
	var out []RequestTimes
	err := s.db.WithContext(ctx).Model(&Request{}).Select("type, status, received_at, due_at, closed_at").
		Where("received_at >= ?", since.UTC()).Order("received_at").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: request times: %w", err)
	}
	return out, nil
}
