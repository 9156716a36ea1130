package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// ErrTypeExtensionRefused marks an extension the request's clock does not
// allow (a second one, or one after the first period).
const ErrTypeExtensionRefused = "ExtensionRefused"

// Clock is a request's legal clock as its workflow sees it: dates and
// flags, no personal data.
type Clock struct {
	DueAt time.Time
	// NoticeBy is the last moment an extension may be announced.
	NoticeBy time.Time
	Extended bool
}

func clockOf(r *store.Request) Clock {
	return Clock{DueAt: r.DueAt, NoticeBy: r.NoticeBy(), Extended: r.ExtendedAt != nil}
}

// Clock loads a request's clock. It is a new workflow's first activity,
// so it also records that the workflow runs and, for a submitted request,
// writes its "received" audit entry (store.MarkWorkflowStarted): intake
// leaves both to it, so the requester's path writes once and takes no
// lock on the audit chain. A request not yet marked is at worst started
// again by recovery, which finds the workflow there.
func (a *Requests) Clock(ctx context.Context, requestID string) (Clock, error) {
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return Clock{}, classify(err)
	}
	if r.WorkflowStartedAt == nil {
		if err := a.Store.MarkWorkflowStarted(ctx, requestID, a.Now()); err != nil {
			return Clock{}, err
		}
	}
	return clockOf(r), nil
}

// Extend is an officer's extension of a request's deadline.
type Extend struct {
	RequestID string
	Reason    string // required; the requester reads it
	Actor     string
}

// Extend moves the request's due date to the furthest its regime allows
// and records why. Repeating it does nothing more.
func (a *Requests) Extend(ctx context.Context, e Extend) (Clock, error) {
	r, err := a.Store.ExtendRequest(ctx, store.Extension{RequestID: e.RequestID, Reason: e.Reason, Actor: e.Actor, At: a.Now()})
	if errors.Is(err, store.ErrAlreadyExtended) || errors.Is(err, store.ErrExtensionLate) {
		return Clock{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeExtensionRefused, err)
	}
	if err != nil {
		return Clock{}, classify(err)
	}
	return clockOf(r), nil
}

// Pause asks for a request's clock to stand still over the wait for
// identity proof.
type Pause struct {
	RequestID string
	From, To  time.Time
}

// PauseClock moves the request's dates later by the wait for identity
// proof, if its regime is one whose clock pauses (PausingRegimes), and
// answers the clock either way.
func (a *Requests) PauseClock(ctx context.Context, p Pause) (Clock, error) {
	r, err := a.Store.GetRequest(ctx, p.RequestID)
	if err != nil {
		return Clock{}, classify(err)
	}
	if !slices.Contains(a.PausingRegimes, r.Regime) {
		return clockOf(r), nil
	}
	reason := fmt.Sprintf("the %s clock paused while waiting for identity proof (%s)", r.Regime, p.To.Sub(p.From).Round(time.Minute))
	r, err = a.Store.PauseClock(ctx, p.RequestID, p.From, p.To, reason)
	if err != nil {
		return Clock{}, classify(err)
	}
	return clockOf(r), nil
}

// Alert asks for one alert about a request to every acting officer.
type Alert struct {
	RequestID string
	Kind      mail.Kind // KindOfficerReminder or KindOfficerOverdue
	// Key names the alert (say "reminder/7d/2026-06-03"); each officer
	// receives each key once.
	Key string
}

// AlertOfficers emails an alert about a request, once to each officer it
// is for, and notes it in the request's history. An overdue alert also
// flags the request as overdue. A reminder goes to the request's
// assignee alone when one is assigned who may act, otherwise to every
// active admin and officer; an overdue escalation goes to the assignee
// first, then to every other acting officer. Who is assigned is read
// here, when the alert is due, so the workflow does not need to know.
func (a *Requests) AlertOfficers(ctx context.Context, al Alert) error {
	defer keepAlive(ctx)()
	r, err := a.Store.GetRequest(ctx, al.RequestID)
	if err != nil {
		return classify(err)
	}
	now := a.Now()
	if al.Kind == mail.KindOfficerOverdue {
		if _, err := a.Store.MarkOverdue(ctx, r.ID, now); err != nil {
			return err
		}
	}
	if r.Status.Final() && al.Kind != mail.KindOfficerMessage {
		return nil // answered meanwhile: nothing to remind of
	}
	data := mail.Data{
		Organisation: a.Organisation, RequestID: r.ID, TypeLabel: r.Type.Label(),
		DueAt: formatTime(r.DueAt), DueIn: DueIn(now, r.DueAt), StatusLabel: r.Status.OfficerLabel(),
		Regime: string(r.Regime), DashboardLink: a.BaseURL + "/officer/requests/" + r.ID,
	}
	sent, err := a.alert(ctx, al.Kind, "request/"+r.ID+"/"+al.Key, r.ID, data, r.AssigneeID)
	if err != nil || sent == 0 {
		return err
	}
	return a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem,
		Action: "officers_alerted", Detail: fmt.Sprintf("%s (%s)", al.Kind, al.Key), At: now})
}

// recipients orders the acting officers for an alert: the assignee
// first, if they may act, and alone for a reminder.
func recipients(officers []store.Officer, kind mail.Kind, assigneeID *int64) []store.Officer {
	if assigneeID == nil {
		return officers
	}
	i := slices.IndexFunc(officers, func(o store.Officer) bool { return o.ID == *assigneeID })
	if i < 0 {
		return officers // disabled, or no longer allowed to act: everyone
	}
	if kind == mail.KindOfficerReminder || kind == mail.KindOfficerMessage {
		return officers[i : i+1]
	}
	out := append([]store.Officer{officers[i]}, officers[:i]...)
	return append(out, officers[i+1:]...)
}

// alert sends one alert to every acting officer who has not had it (the
// assignee first, or alone: recipients), and reports how many it sent
// now. Each officer's copy is recorded on its own, so a retry after a
// partial failure sends only the missing ones.
func (a *Requests) alert(ctx context.Context, kind mail.Kind, key, requestID string, data mail.Data, assigneeID *int64) (int, error) {
	officers, err := a.Store.ActingOfficers(ctx)
	if err != nil {
		return 0, err
	}
	officers = recipients(officers, kind, assigneeID)
	if len(officers) == 0 {
		a.Log.Warn("no active officer to alert", "kind", kind, "key", key)
		return 0, nil
	}
	subject, text, html, err := a.Templates.Render(kind, data)
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMailRejected, err)
	}
	sent := 0
	for _, o := range officers {
		okey := key + "/" + strconv.FormatInt(o.ID, 10)
		done, err := a.Store.AlertSent(ctx, okey)
		if err != nil {
			return sent, err
		}
		if done {
			continue
		}
		if _, err := a.Mail.Send(ctx, mail.Message{To: o.Email, Subject: subject, Text: text, HTML: html, RequestID: requestID, Step: string(kind)}); err != nil {
			if errors.Is(err, mail.ErrPermanent) {
				a.Log.Warn("officer alert refused", "kind", kind, "officer_id", o.ID, "error", err)
				continue // one bad address must not keep the others waiting
			}
			return sent, err
		}
		a.Metrics.Sent.WithLabelValues(string(kind)).Inc()
		if err := a.Store.RecordAlert(ctx, store.SentAlert{Key: okey, SentAt: a.Now()}); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// DueIn says how long is left until due, in whole days rounded up, as
// officers read it.
func DueIn(now, due time.Time) string {
	left := due.Sub(now)
	switch {
	case left <= 0:
		return "no time: it is overdue"
	case left < 24*time.Hour:
		return "less than a day"
	}
	days := int(math.Ceil(left.Hours() / 24))
	return strconv.Itoa(days) + " " + plural(days, "day", "days")
}
