package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
)

// milestone is one officer alert on a clock: a request's or a breach's.
type milestone struct {
	at   time.Time
	kind mail.Kind
	key  string
	// urgent alerts go to every officer at once (breaches past 60 hours).
	urgent bool
}

// milestones are a due date's alerts in time order: a reminder at each
// offset before it, then the overdue escalation at the due date itself.
// Keys carry the due date, so an extended request is reminded again for
// its new date.
func milestones(due time.Time, reminders []time.Duration) []milestone {
	day := due.UTC().Format(time.DateOnly)
	var ms []milestone
	for _, off := range reminders {
		if off > 0 {
			ms = append(ms, milestone{at: due.Add(-off), kind: mail.KindOfficerReminder, key: "reminder/" + offsetName(off) + "/" + day})
		}
	}
	ms = append(ms, milestone{at: due, kind: mail.KindOfficerOverdue, key: "overdue/" + day})
	slices.SortStableFunc(ms, func(a, b milestone) int { return a.at.Compare(b.at) })
	return ms
}

func offsetName(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// nextAlert picks what to raise next: of the alerts not yet raised, the
// latest one already due (earlier ones are skipped: a request that
// arrives two days before its due date gets the two-day reminder, not
// the week's), else the earliest still to come.
func (w *subjectRequest) nextAlert(now time.Time) (milestone, bool) {
	reminders := w.in.Reminders
	if reminders == nil { // started without the setting: the defaults
		reminders = DefaultReminders
	}
	var due, next *milestone
	for _, m := range milestones(w.clock.DueAt, reminders) {
		if w.alerted[m.key] {
			continue
		}
		if !m.at.After(now) {
			if due != nil {
				w.alerted[due.key] = true // skipped
			}
			due = &m
		} else if next == nil {
			next = &m
		}
	}
	if due != nil {
		return *due, true
	}
	if next != nil {
		return *next, true
	}
	return milestone{}, false
}

// watchClock runs beside the request for as long as it is open: it
// reminds the officers as the due date nears and escalates when it
// passes, and starts over when the due date moves (an extension, a
// pause).
func (w *subjectRequest) watchClock(ctx workflow.Context) {
	w.alerted = map[string]bool{}
	actx := workflow.WithActivityOptions(ctx, emailActivity)
	for !w.status.Final() {
		due := w.clock.DueAt
		moved := func() bool { return w.status.Final() || !w.clock.DueAt.Equal(due) }
		now := workflow.Now(ctx)
		m, ok := w.nextAlert(now)
		if !ok {
			if workflow.Await(ctx, moved) != nil {
				return
			}
			continue
		}
		if m.at.After(now) {
			interrupted, err := workflow.AwaitWithTimeout(ctx, m.at.Sub(now), moved)
			if err != nil {
				return
			}
			if interrupted {
				continue
			}
		}
		w.alerted[m.key] = true
		err := workflow.ExecuteActivity(actx, requests.AlertOfficers, activities.Alert{
			RequestID: w.in.RequestID, Kind: m.kind, Key: m.key,
		}).Get(ctx, nil)
		if err != nil {
			workflow.GetLogger(ctx).Warn("officer alert failed", "key", m.key, "error", err)
		}
	}
}

// pauseClock stops the request's clock over the wait for identity proof,
// where the regime says so.
func (w *subjectRequest) pauseClock(ctx workflow.Context, since time.Time) error {
	if w.clock == nil {
		return nil
	}
	var clock activities.Clock
	err := w.storeStep(ctx, requests.PauseClock, activities.Pause{
		RequestID: w.in.RequestID, From: since, To: workflow.Now(ctx),
	}).Get(ctx, &clock)
	if err != nil {
		return fmt.Errorf("pause clock: %w", err)
	}
	w.clock = &clock
	return nil
}

func (w *subjectRequest) validateExtend(ctx workflow.Context, e Extension) error {
	if w.clock == nil {
		return errors.New("this request's workflow started before extensions; its deadline cannot be extended here")
	}
	if err := domain.ExtensionRefused(w.in.Type, w.status, w.clock.Extended || w.extending, w.clock.NoticeBy, workflow.Now(ctx)); err != nil {
		return err
	}
	switch {
	case e.Reason == "":
		return errors.New("an extension needs a reason; the requester will read it")
	case reasonProblem(e.Reason) != nil:
		return reasonProblem(e.Reason)
	case e.Actor == "":
		return errors.New("the extending officer is required")
	}
	return nil
}

// extend stores the new due date and emails it, with the reason, to the
// requester; the clock watcher then reminds for the new date.
func (w *subjectRequest) extend(ctx workflow.Context, e Extension) (ExtensionResult, error) {
	w.extending = true
	defer func() { w.extending = false }()
	var clock activities.Clock
	actx := workflow.WithActivityOptions(ctx, storeActivity)
	err := workflow.ExecuteActivity(actx, requests.Extend, activities.Extend{
		RequestID: w.in.RequestID, Reason: e.Reason, Actor: e.Actor,
	}).Get(ctx, &clock)
	if err != nil {
		return ExtensionResult{}, err
	}
	w.clock = &clock
	if err := w.email(ctx, mail.KindExtended, time.Time{}); err != nil {
		return ExtensionResult{}, err
	}
	return ExtensionResult{DueAt: clock.DueAt}, nil
}
