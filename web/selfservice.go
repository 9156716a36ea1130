package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// step is one stage of a request as its status page lists it, with when
// it was reached or done.
type step struct {
	// Label is its catalogue ID.
	Label string
	// State is done, current, todo or skipped.
	State string
	At    *time.Time
}

// reached finds, in a request's trail, when it first entered each
// status.
func reached(trail []store.AuditEvent) map[domain.Status]time.Time {
	at := map[domain.Status]time.Time{}
	for _, e := range trail {
		if e.Action != "status" {
			continue
		}
		_, to, ok := strings.Cut(e.Detail, " → ")
		if !ok {
			continue
		}
		if _, seen := at[domain.Status(to)]; !seen {
			at[domain.Status(to)] = e.At
		}
	}
	return at
}

// stepsOf lays out a request's stages: received, address confirmed,
// review (not for an opt-out, which needs none), fulfilment and the
// answer, each done, under way, to come, or skipped by how it ended.
func stepsOf(r *store.Request, trail []store.AuditEvent) []step {
	at := reached(trail)
	when := func(s domain.Status) *time.Time {
		if t, ok := at[s]; ok {
			return &t
		}
		return nil
	}
	steps := []step{{Label: "status.step.received", State: "done", At: &r.ReceivedAt}}

	confirm := step{Label: "status.step.confirmed", State: "todo"}
	switch {
	case r.VerifiedAt != nil:
		confirm.State, confirm.At = "done", r.VerifiedAt
	case r.Status == domain.StatusReceived || r.Status == domain.StatusVerifying:
		confirm.State = "current"
	default:
		confirm.State = "skipped"
	}
	steps = append(steps, confirm)

	decided := when(domain.StatusFulfilling)
	if decided == nil {
		decided = when(domain.StatusDenied)
	}
	if decided == nil && r.Status == domain.StatusCompleted {
		decided = when(domain.StatusCompleted)
	}
	if r.Type != domain.TypeOptOut {
		review := step{Label: "status.step.review", State: "todo"}
		switch {
		case decided != nil:
			review.State, review.At = "done", decided
		case r.Status == domain.StatusInReview:
			review.State, review.At = "current", when(domain.StatusInReview)
		case r.Status.Final():
			review.State = "skipped"
		}
		steps = append(steps, review)
	}

	fulfil := step{Label: "status.step.fulfilment", State: "todo"}
	switch r.Status {
	case domain.StatusCompleted:
		fulfil.State, fulfil.At = "done", r.ClosedAt
	case domain.StatusFulfilling:
		fulfil.State, fulfil.At = "current", when(domain.StatusFulfilling)
	case domain.StatusDenied, domain.StatusWithdrawn, domain.StatusDuplicate, domain.StatusExpiredUnverified:
		fulfil.State = "skipped"
	}
	steps = append(steps, fulfil)

	end := step{Label: "status.step.answer", State: "todo"}
	if r.Status.Final() {
		end = step{Label: "status.step." + string(r.Status), State: "done", At: r.ClosedAt}
	}
	return append(steps, end)
}

// statusView is what the status page shows besides the request: its
// steps, the message thread, and what the requester may do.
type statusView struct {
	Steps    []step
	Messages []office.Message
	// Notice is a catalogue ID confirming what was just done.
	Notice string
	// ResendError, MessageError and WithdrawError say, in the
	// requester's words, why that action was refused.
	ResendError   string
	MessageError  string
	WithdrawError string
	// Message is the text kept after a refused message.
	Message string
	// ConfirmWithdraw shows the withdrawal's confirmation form.
	ConfirmWithdraw bool
	Reason          string
}

// Withdrawable reports whether the page offers to withdraw the request.
func (p statusPage) Withdrawable() bool { return p.Request.Status.Withdrawable() }

// CanResend reports whether the page offers to send the verification
// email again.
func (p statusPage) CanResend() bool {
	r := p.Request
	return r.Status == domain.StatusVerifying && r.VerifiedAt == nil && r.Email != ""
}

// CanWrite reports whether the requester may write to the privacy team:
// while the request is open, or has been answered (not expired or
// withdrawn, where nobody reads on).
func (p statusPage) CanWrite() bool {
	s := p.Request.Status
	return s != domain.StatusExpiredUnverified && s != domain.StatusWithdrawn
}

// statusPageOf loads what the status page shows of a request.
func (s *Server) statusPageOf(c echo.Context, r *store.Request) (statusPage, error) {
	ctx := c.Request().Context()
	trail, err := s.store.Timeline(ctx, r.ID)
	if err != nil {
		return statusPage{}, err
	}
	msgs, err := s.office.Messages(ctx, r.ID)
	if err != nil {
		return statusPage{}, err
	}
	return statusPage{Request: r, Token: c.Param("token"), statusView: statusView{Steps: stepsOf(r, trail), Messages: msgs}}, nil
}

// renderStatus shows the status page again after an action, the request
// read afresh.
func (s *Server) renderStatus(c echo.Context, code int, id string, view func(*statusPage)) error {
	r, err := s.store.GetRequest(c.Request().Context(), id)
	if err != nil {
		return err
	}
	page, err := s.statusPageOf(c, r)
	if err != nil {
		return err
	}
	view(&page)
	return s.renderPublic(c, code, "status", requestLang(r), page)
}

// resendVerification sends the verification email again at the
// requester's word, within the daily caps.
func (s *Server) resendVerification(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	p := s.catalogue.Printer(requestLang(r))
	err = s.office.ResendVerification(c.Request().Context(), r.ID)
	var limit *office.LimitError
	var refusedErr *office.RefusedError
	switch {
	case errors.As(err, &limit) && limit.PerAddress:
		return s.renderStatus(c, http.StatusTooManyRequests, r.ID, func(pg *statusPage) { pg.ResendError = p.MustT("status.resend.limit_address", nil) })
	case errors.As(err, &limit):
		return s.renderStatus(c, http.StatusTooManyRequests, r.ID, func(pg *statusPage) {
			pg.ResendError = p.MustT("status.resend.limit", map[string]any{"Max": office.MaxVerificationResendsPerDay})
		})
	case errors.As(err, &refusedErr):
		return s.renderStatus(c, http.StatusConflict, r.ID, func(pg *statusPage) { pg.ResendError = p.MustT("status.resend.refused", nil) })
	case err != nil && !errors.Is(err, office.ErrStillProcessing):
		return err
	}
	return s.renderStatus(c, http.StatusOK, r.ID, func(pg *statusPage) { pg.Notice = "status.resend.sent" })
}

// showWithdraw asks the requester to confirm a withdrawal. It changes
// nothing: only the confirmation's POST withdraws.
func (s *Server) showWithdraw(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	return s.renderStatus(c, http.StatusOK, r.ID, func(pg *statusPage) { pg.ConfirmWithdraw = pg.Withdrawable() })
}

// withdraw withdraws the request once the requester confirmed it (the
// form's confirm=yes), with an optional reason. The status link's token
// in the path is what keeps another site from posting it, as for the
// code.
func (s *Server) withdraw(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	p := s.catalogue.Printer(requestLang(r))
	reason := c.Request().PostFormValue("reason")
	if c.Request().PostFormValue("confirm") != "yes" {
		return s.renderStatus(c, http.StatusBadRequest, r.ID, func(pg *statusPage) {
			pg.ConfirmWithdraw, pg.Reason = pg.Withdrawable(), reason
			pg.WithdrawError = p.MustT("status.withdraw.error.confirm", nil)
		})
	}
	_, err = s.office.Withdraw(c.Request().Context(), r.ID, reason)
	var verr *domain.ValidationError
	var refusedErr *office.RefusedError
	switch {
	case errors.As(err, &verr):
		return s.renderStatus(c, http.StatusBadRequest, r.ID, func(pg *statusPage) {
			pg.ConfirmWithdraw, pg.Reason = pg.Withdrawable(), reason
			pg.WithdrawError = formMessage(p, "reason", verr.Fields["reason"])
		})
	case errors.As(err, &refusedErr):
		return s.renderStatus(c, http.StatusConflict, r.ID, func(pg *statusPage) { pg.WithdrawError = p.MustT("status.withdraw.error.too_late", nil) })
	case err != nil && !errors.Is(err, office.ErrStillProcessing):
		return err
	}
	return s.renderStatus(c, http.StatusOK, r.ID, func(pg *statusPage) { pg.Notice = "status.withdraw.done" })
}

// writeMessage takes what the requester writes to the privacy team.
func (s *Server) writeMessage(c echo.Context) error {
	r, err := s.requestByStatusLink(c)
	if err != nil {
		return err
	}
	p := s.catalogue.Printer(requestLang(r))
	body := c.Request().PostFormValue("body")
	if !(statusPage{Request: r}).CanWrite() {
		return s.renderStatus(c, http.StatusConflict, r.ID, func(pg *statusPage) { pg.MessageError = p.MustT("status.messages.error.closed", nil) })
	}
	_, err = s.office.RequesterMessage(c.Request().Context(), r.ID, body)
	var verr *domain.ValidationError
	var limit *office.LimitError
	switch {
	case errors.As(err, &verr):
		msg := verr.Fields["body"]
		if msg == "write the message" {
			msg = p.MustT("status.messages.error.empty", nil)
		} else {
			msg = formMessage(p, "body", msg)
		}
		return s.renderStatus(c, http.StatusBadRequest, r.ID, func(pg *statusPage) { pg.MessageError, pg.Message = msg, body })
	case errors.As(err, &limit):
		return s.renderStatus(c, http.StatusTooManyRequests, r.ID, func(pg *statusPage) {
			pg.MessageError, pg.Message = p.MustT("status.messages.error.limit", nil), body
		})
	case err != nil:
		return err
	}
	return s.renderStatus(c, http.StatusOK, r.ID, func(pg *statusPage) { pg.Notice = "status.messages.sent" })
}
