package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
)

// UpdateWithdraw ends a request its requester no longer wants, before
// fulfilment starts: the request is recorded as withdrawn, the requester
// is emailed a confirmation and the workflow ends. It answers the final
// status, or refuses through the validator (an approved request, a
// closed one). The requester's reason never travels through the
// workflow: the office stores it sealed in dsar's database.
const UpdateWithdraw = "withdraw"

// changeWithdraw: the requester may withdraw a request from the status
// page, and ask for the verification email again (UpdateResendEmail
// with Verification set).
const changeWithdraw = "withdraw"

// Withdrawal is the argument of UpdateWithdraw.
type Withdrawal struct {
	Actor string // store.ActorRequester, for the audit trail
}

// WithdrawResult is what UpdateWithdraw answers once the withdrawal is
// recorded and the requester emailed.
type WithdrawResult struct {
	Status domain.Status
}

// ResendVerificationStep is the email step of the n-th verification
// email a requester asked for again (n from 1); the daily caps count
// these steps with the first verification email and its reminder.
func ResendVerificationStep(n int) string {
	return activities.VerificationResendPrefix + strconv.Itoa(n)
}

// selfService is the part of a request's state that its requester
// changes from the status page.
type selfService struct {
	// enabled is false in workflows started before requesters could
	// withdraw or ask for the verification email again.
	enabled bool
	// withdrawal is set once a withdrawal is accepted; the main flow
	// carries it out at its next step and ends.
	withdrawal *Withdrawal
	// wake tells the main flow, waiting for the requester's proof, that
	// a withdrawal arrived.
	wake workflow.Channel
	// verifyBy is when the verification link and code expire; a link
	// sent again expires then too.
	verifyBy time.Time
	// verificationResends counts the verification emails sent again.
	verificationResends int
}

func (w *subjectRequest) registerWithdraw(ctx workflow.Context) error {
	w.self.wake = workflow.NewChannel(ctx)
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateWithdraw, w.withdraw, workflow.UpdateHandlerOptions{
		Validator: w.validateWithdraw,
	})
}

func (w *subjectRequest) validateWithdraw(wd Withdrawal) error {
	switch {
	case !w.self.enabled:
		return errors.New("this request started before requests could be withdrawn online; write to the privacy team to withdraw it")
	case w.self.withdrawal != nil:
		return errors.New("the request is being withdrawn already")
	case w.duplicate != nil:
		return errors.New("the request is being closed as a duplicate of another of yours")
	case w.status.Final():
		return fmt.Errorf("the request is %s and no longer open", w.status)
	case w.decision != nil || !w.status.Withdrawable(),
		w.in.Type == domain.TypeOptOut && w.verified != nil:
		return errors.New("the request was approved and is being carried out; it can no longer be withdrawn")
	case wd.Actor == "":
		return errors.New("who withdraws the request is required")
	}
	return nil
}

// withdraw accepts the withdrawal, wakes the main flow, and answers once
// the request is closed.
func (w *subjectRequest) withdraw(ctx workflow.Context, wd Withdrawal) (WithdrawResult, error) {
	w.self.withdrawal = &wd
	w.self.wake.SendAsync(true)
	if err := workflow.Await(ctx, func() bool { return w.status.Final() }); err != nil {
		return WithdrawResult{}, err
	}
	return WithdrawResult{Status: w.status}, nil
}

// withdrawn reports whether the requester withdrew the request; the main
// flow then calls endWithdrawn and stops.
func (w *subjectRequest) withdrawn() bool { return w.self.withdrawal != nil }

// endWithdrawn records the withdrawal and emails the requester its
// confirmation. The clock watcher stops with the final status.
func (w *subjectRequest) endWithdrawn(ctx workflow.Context) error {
	if err := w.setStatus(ctx, domain.StatusWithdrawn, w.self.withdrawal.Actor, ""); err != nil {
		return err
	}
	return w.email(ctx, mail.KindWithdrawn, time.Time{})
}

func (w *subjectRequest) validateResendVerification(r ResendEmail) error {
	switch {
	case !w.self.enabled:
		return errors.New("this request started before the verification email could be sent again")
	case w.status != domain.StatusVerifying || w.verified != nil:
		return errors.New("the request is not waiting for its email address to be confirmed")
	case w.withdrawn():
		return errors.New("the request is being withdrawn")
	case w.duplicate != nil:
		return errors.New("the request is being closed as a duplicate")
	case w.resending:
		return errors.New("the verification email is being sent again already")
	case r.Actor == "":
		return errors.New("who asks for the email is required")
	}
	return nil
}

// resendVerification sends the verification email again with a fresh
// link and code that expire when the first ones do: asking again never
// gives more time. The per-address daily cap applies (SendEmail).
func (w *subjectRequest) resendVerification(ctx workflow.Context) (ResendResult, error) {
	w.resending = true
	defer func() { w.resending = false }()
	w.self.verificationResends++
	step := ResendVerificationStep(w.self.verificationResends)
	e := activities.Email{RequestID: w.in.RequestID, Kind: mail.KindVerification, Step: step, VerifyLinkExpires: w.self.verifyBy}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, emailActivity), requests.SendEmail, e).Get(ctx, nil)
	switch {
	case err == nil:
		return ResendResult{Sent: []string{step}}, nil
	case isAppError(err, activities.ErrTypeMailRejected):
		return ResendResult{Refused: []string{step}}, nil
	}
	return ResendResult{}, err
}
