package office

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// Limits of what a requester does from the status page, and of the
// messages between them and the privacy team.
const (
	// MaxWithdrawalReasonLen bounds the reason a requester gives for
	// withdrawing.
	MaxWithdrawalReasonLen = 1000
	// MaxMessageLen bounds one message, either way.
	MaxMessageLen = 5000
	// MaxVerificationResendsPerDay is how often a requester may ask for
	// the verification email again in 24 hours; the per-address cap
	// (activities.MaxVerificationEmailsPerDay) applies as well.
	MaxVerificationResendsPerDay = 3
	// MaxRequesterMessagesPerDay is how many messages a requester may
	// write about one request in 24 hours.
	MaxRequesterMessagesPerDay = 10
)

// Mailer sends what a request needs outside its workflow: the email
// telling a requester the privacy team wrote to them, and the alert
// telling officers a requester wrote. *activities.Requests is the real
// one: the same rendering, links, once-per-step record and audit as the
// workflow's emails.
type Mailer interface {
	SendEmail(ctx context.Context, e activities.Email) error
	AlertOfficers(ctx context.Context, a activities.Alert) error
}

// LimitError: a daily limit was reached; nothing was done. The web
// answers 429. PerAddress says the limit is the address's, over all its
// requests, rather than this request's.
type LimitError struct {
	Reason     string
	PerAddress bool
}

func (e *LimitError) Error() string { return e.Reason }

// Withdraw ends a request at its requester's word, before fulfilment
// starts, through the request's workflow (which records the status
// withdrawn, stops the clock and emails a confirmation), and answers the
// status it led to. The reason, optional, is stored sealed once the
// workflow accepted the withdrawal. A request an officer approved is
// refused: systems may already have been changed or data sent.
func (s *Service) Withdraw(ctx context.Context, requestID, reason string) (domain.Status, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case domain.CheckText(reason) != nil:
		return "", invalid("reason", domain.CheckText(reason).Error())
	case utf8.RuneCountInString(reason) > MaxWithdrawalReasonLen:
		return "", invalid("reason", "at most "+strconv.Itoa(MaxWithdrawalReasonLen)+" characters")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return "", err
	}
	switch {
	case r.Status == domain.StatusWithdrawn:
		return "", refused("request %s was withdrawn already", r.ID)
	case r.Status.Final():
		return "", refused("request %s is closed (%s); there is nothing to withdraw", r.ID, r.Status)
	case !r.Status.Withdrawable():
		return "", refused("request %s was approved and is being carried out; it can no longer be withdrawn", r.ID)
	case r.WorkflowStartedAt == nil:
		return "", refused("request %s is still being registered; try again in a minute", r.ID)
	}
	res, err := update[workflows.WithdrawResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateWithdraw,
		workflows.Withdrawal{Actor: store.ActorRequester}, closedRequest(r))
	if (err == nil || errors.Is(err, ErrStillProcessing)) && reason != "" && s.Sealer != nil {
		keyID, sealed := s.Sealer.SealBlob(store.WithdrawalBlobName(r.ID), []byte(reason))
		if serr := s.Store.SetWithdrawalReason(ctx, r.ID, keyID, sealed, s.Now()); serr != nil {
			return res.Status, serr
		}
	}
	return res.Status, err
}

// WithdrawalReason opens the reason a requester gave for withdrawing;
// empty when none was given.
func (s *Service) WithdrawalReason(r *store.Request) (string, error) {
	if len(r.WithdrawalReason) == 0 || s.Sealer == nil {
		return "", nil
	}
	plain, err := s.Sealer.OpenBlob(r.WithdrawalKeyID, store.WithdrawalBlobName(r.ID), r.WithdrawalReason)
	return string(plain), err
}

// ResendVerification sends a requester still confirming their address
// the verification email again, with a fresh link and code that expire
// when the first ones do. It is capped per request
// (MaxVerificationResendsPerDay) and per address
// (activities.MaxVerificationEmailsPerDay): past either it answers a
// *LimitError and sends nothing.
func (s *Service) ResendVerification(ctx context.Context, requestID string) error {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return err
	}
	if r.Status != domain.StatusVerifying || r.VerifiedAt != nil || r.Email == "" {
		return refused("request %s is not waiting for its email address to be confirmed", r.ID)
	}
	since := s.Now().Add(-24 * time.Hour)
	n, err := s.Store.EmailsOfRequest(ctx, r.ID, activities.VerificationResendPrefix, since)
	if err != nil {
		return err
	}
	if n >= MaxVerificationResendsPerDay {
		return &LimitError{Reason: "the verification email of request " + r.ID + " was sent again " + strconv.Itoa(int(n)) + " times in the last 24 hours"}
	}
	n, err = activities.VerificationEmailsToAddress(ctx, s.Store, r.Email, since)
	if err != nil {
		return err
	}
	if n >= activities.MaxVerificationEmailsPerDay {
		return &LimitError{PerAddress: true, Reason: strconv.Itoa(int(n)) + " verification emails went to this address in the last 24 hours"}
	}
	res, err := update[workflows.ResendResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateResendEmail,
		workflows.ResendEmail{Actor: store.ActorRequester, Verification: true}, closedRequest(r))
	if err != nil {
		return err
	}
	if len(res.Refused) > 0 {
		return refused("the verification email of request %s could not be sent; the privacy team sees why", r.ID)
	}
	return nil
}

// Message is one message of a request's thread, opened.
type Message struct {
	ID int64 `json:"id"`
	// From is "requester" or "officer".
	From string `json:"from"`
	// Author is "requester" or the officer's email.
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Message directions.
const (
	FromRequester = "requester"
	FromOfficer   = "officer"
)

func messageProblem(body string) error {
	switch {
	case body == "":
		return invalid("body", "write the message")
	case domain.CheckText(body) != nil:
		return invalid("body", domain.CheckText(body).Error())
	case utf8.RuneCountInString(body) > MaxMessageLen:
		return invalid("body", "at most "+strconv.Itoa(MaxMessageLen)+" characters")
	}
	return nil
}

// SendMessage stores an officer's message to a requester, sealed, and
// emails the requester that it waits on their status page. The email
// carries no text of the message: it is read on the status page, behind
// the requester's link. A refused email is on the request's trail, as
// any refused email is; the message stays in the thread.
func (s *Service) SendMessage(ctx context.Context, requestID, body, actor string) (*Message, error) {
	body = strings.TrimSpace(body)
	if err := messageProblem(body); err != nil {
		return nil, err
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if r.Email == "" {
		return nil, refused("the requester of %s gave no email address; answer them by %s", r.ID, strings.ToLower(r.Channel.Label()))
	}
	m, err := s.addMessage(ctx, r.ID, false, actor, body)
	if err != nil {
		return nil, err
	}
	if s.Mailer != nil {
		err := s.Mailer.SendEmail(ctx, activities.Email{RequestID: r.ID, Kind: mail.KindMessage, Step: "message/" + strconv.FormatInt(m.ID, 10)})
		if err != nil {
			s.Log.Warn("message stored; email to the requester not sent", "request_id", r.ID, "message_id", m.ID, "error", err)
		}
	}
	return m, nil
}

// RequesterMessage stores what a requester wrote to the privacy team
// from the status page, sealed, and alerts the officers: the assignee
// alone when there is one who may act, otherwise every acting officer.
// At most MaxRequesterMessagesPerDay a day per request (*LimitError).
func (s *Service) RequesterMessage(ctx context.Context, requestID, body string) (*Message, error) {
	body = strings.TrimSpace(body)
	if err := messageProblem(body); err != nil {
		return nil, err
	}
	n, err := s.Store.MessagesFromRequesterSince(ctx, requestID, s.Now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	if n >= MaxRequesterMessagesPerDay {
		return nil, &LimitError{Reason: strconv.Itoa(int(n)) + " messages were written about request " + requestID + " in the last 24 hours"}
	}
	m, err := s.addMessage(ctx, requestID, true, store.ActorRequester, body)
	if err != nil {
		return nil, err
	}
	if s.Mailer != nil {
		err := s.Mailer.AlertOfficers(ctx, activities.Alert{RequestID: requestID, Kind: mail.KindOfficerMessage, Key: "message/" + strconv.FormatInt(m.ID, 10)})
		if err != nil {
			s.Log.Warn("message stored; officers not alerted", "request_id", requestID, "message_id", m.ID, "error", err)
		}
	}
	return m, nil
}

func (s *Service) addMessage(ctx context.Context, requestID string, fromRequester bool, author, body string) (*Message, error) {
	if s.Sealer == nil {
		return nil, errors.New("office: messages need a sealer")
	}
	keyID, sealed := s.Sealer.SealBlob(store.MessageBlobName(requestID), []byte(body))
	sm := &store.Message{RequestID: requestID, FromRequester: fromRequester, Author: author, KeyID: keyID, Sealed: sealed, CreatedAt: s.Now()}
	if err := s.Store.AddMessage(ctx, sm); err != nil {
		return nil, err
	}
	return s.openMessage(sm)
}

func (s *Service) openMessage(sm *store.Message) (*Message, error) {
	plain, err := s.Sealer.OpenBlob(sm.KeyID, store.MessageBlobName(sm.RequestID), sm.Sealed)
	if err != nil {
		return nil, err
	}
	m := &Message{ID: sm.ID, From: FromOfficer, Author: sm.Author, Body: string(plain), CreatedAt: sm.CreatedAt.UTC()}
	if sm.FromRequester {
		m.From = FromRequester
	}
	return m, nil
}

// Messages lists a request's thread, oldest first, opened.
func (s *Service) Messages(ctx context.Context, requestID string) ([]Message, error) {
	if s.Sealer == nil {
		return nil, nil
	}
	sms, err := s.Store.Messages(ctx, requestID)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(sms))
	for i := range sms {
		m, err := s.openMessage(&sms[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, nil
}
