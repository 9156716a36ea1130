package office

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// Limits on what officers write.
const (
	// MaxEvidenceLen bounds the note on how an officer verified someone.
	MaxEvidenceLen = 1000
	// MaxTaskNoteLen bounds the note on a completed manual task, which
	// the requester reads in the completion email.
	MaxTaskNoteLen = 1000
)

func invalid(field, problem string) error {
	return &domain.ValidationError{Fields: map[string]string{field: problem}}
}

// closedRequest is the refusal for an Update to a request whose workflow
// no longer runs.
func closedRequest(r *store.Request) func() error {
	return func() error { return refused("request %s is %s and no longer open", r.ID, r.Status) }
}

// Decide carries out an officer's decision through the request's
// workflow and answers the status it led to: completed or denied, or
// fulfilling when it waits on other systems. A denial needs a reason,
// which the requester reads.
func (s *Service) Decide(ctx context.Context, requestID string, approve bool, reason, actor string) (domain.Status, error) {
	reason = strings.TrimSpace(reason)
	d := workflows.ReviewDecision{Decision: workflows.Approve, Actor: actor}
	if !approve {
		if reason == "" {
			return "", invalid("reason", "a denial needs a reason; the requester will read it")
		}
		d = workflows.ReviewDecision{Decision: workflows.Deny, Reason: reason, Actor: actor}
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return "", err
	}
	res, err := update[workflows.ReviewResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateReview, d, closedRequest(r))
	return res.Status, err
}

// Extend extends a request's deadline once, with a reason the requester
// reads, and answers the new due date.
func (s *Service) Extend(ctx context.Context, requestID, reason, actor string) (time.Time, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return time.Time{}, invalid("reason", "an extension needs a reason; the requester will read it")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return time.Time{}, err
	}
	res, err := update[workflows.ExtensionResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateExtend,
		workflows.Extension{Reason: reason, Actor: actor}, closedRequest(r))
	return res.DueAt, err
}

// VerifyByOfficer records that an officer proved the requester's
// identity by other means, with how, then tells the workflow. The
// verification is stored first: a lost signal is resent by Recover.
func (s *Service) VerifyByOfficer(ctx context.Context, requestID, evidence, actor string) error {
	evidence = strings.TrimSpace(evidence)
	switch {
	case evidence == "":
		return invalid("evidence", "say how you verified the requester's identity; it goes in the audit trail")
	case utf8.RuneCountInString(evidence) > MaxEvidenceLen:
		return invalid("evidence", "at most "+strconv.Itoa(MaxEvidenceLen)+" characters")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return err
	}
	changed, err := s.Store.VerifyByOfficer(ctx, r.ID, actor, evidence, s.Now())
	if errors.Is(err, store.ErrInvalidTransition) {
		return refused("request %s is not waiting for identity verification (%s)", r.ID, r.Status.OfficerLabel())
	}
	if err != nil {
		return err
	}
	if !changed {
		return refused("the identity behind request %s was already verified", r.ID)
	}
	s.TellVerified(ctx, r.ID, actor)
	return nil
}

// CompleteTask records that an officer did a request's manual task in a
// system, with a note the requester reads, then tells the workflow; a
// lost signal is made up for by the workflow's own periodic check.
func (s *Service) CompleteTask(ctx context.Context, requestID, system, note, actor string) error {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return invalid("note", "say what you did in "+system+"; the requester reads it")
	case utf8.RuneCountInString(note) > MaxTaskNoteLen:
		return invalid("note", "at most "+strconv.Itoa(MaxTaskNoteLen)+" characters")
	}
	tasks, err := s.Store.Tasks(ctx, requestID)
	if err != nil {
		return err
	}
	kind := ""
	for _, t := range tasks {
		if t.System == system {
			kind = t.Kind
		}
	}
	switch kind {
	case "":
		return &NotFoundError{What: "request " + requestID + " has no task for " + system}
	case "webhook":
		return refused("%s is a webhook; dsar completes it when the system answers", system)
	}
	err = s.Store.CompleteTask(ctx, store.Task{RequestID: requestID, System: system, DoneBy: actor, Note: note}, s.Now())
	if errors.Is(err, store.ErrTaskDone) {
		return refused("the task in %s was already completed", system)
	}
	if err != nil {
		return err
	}
	if err := s.SignalTaskCompleted(ctx, requestID, system); err != nil {
		s.Log.Warn("task completion stored; the workflow will find it at its next check", "request_id", requestID, "error", err)
	}
	return nil
}

// Resent is what ResendEmail answers: the steps sent, and those the
// provider refused again.
type Resent struct {
	Sent    []string `json:"sent"`
	Refused []string `json:"refused"`
}

// ResendEmail sends again the emails of a request that the provider
// refused, after correcting the requester's address when newEmail is
// given. Only a request with a refused email can have its address
// changed, and only while it is open.
func (s *Service) ResendEmail(ctx context.Context, requestID, newEmail, actor string) (Resent, error) {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return Resent{}, err
	}
	if r.MailFailedStep == "" {
		return Resent{}, refused("no email of request %s was refused; there is nothing to send again", r.ID)
	}
	if r.MailFailedEvent != "" {
		// The workflow knows only of sends the provider refused; a later
		// bounce is not its to send again, so the address stays as it is.
		return Resent{}, refused("the %s email of request %s was accepted by the provider and later reported %s; it cannot be sent again from dsar yet: reach the requester another way", r.MailFailedStep, r.ID, r.MailFailedEvent)
	}
	if newEmail = strings.TrimSpace(newEmail); newEmail != "" {
		email, err := domain.NormalizeEmail(newEmail)
		if err != nil {
			return Resent{}, invalid("email", err.Error())
		}
		if email != r.Email {
			err := s.Store.CorrectEmail(ctx, r.ID, email, actor, s.Now())
			if errors.Is(err, store.ErrNoMailFailure) {
				return Resent{}, refused("%s", err.Error())
			}
			if err != nil {
				return Resent{}, err
			}
		}
	}
	res, err := update[workflows.ResendResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateResendEmail,
		workflows.ResendEmail{Actor: actor}, closedRequest(r))
	return Resent{Sent: res.Sent, Refused: res.Refused}, err
}
