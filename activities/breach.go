package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// ErrTypeBreachRefused marks a breach step the record already rules out
// (a second, different notice or authority notification).
const ErrTypeBreachRefused = "BreachRefused"

// FanOutLanes is how many batches a fan-out sends at once: enough to
// overlap one batch's database work with another's call to SendGrid.
const FanOutLanes = 4

// Breaches are the activities of the Breach workflow.
type Breaches struct {
	Requests *Requests        // store, templates, officer alerts, clock
	Systems  *datamap.Systems // nil: no data map, no one can be found
	Batch    mail.BatchSender
	// BatchSize is how many people one send carries (at most
	// mail.MaxBatch); Lanes is how many batches are sent at once (0 is
	// one); Rate caps people emailed per second, all lanes together (0:
	// no cap).
	BatchSize int
	Lanes     int
	Rate      float64
	// SendRetry is the first wait before a batch the provider did not
	// take is sent again, doubling to maxSendRetry (0: a second).
	SendRetry time.Duration
}

// maxSendRetry caps the wait between sends of a batch the provider keeps
// refusing for now.
const maxSendRetry = 30 * time.Second

// BreachState is what the Breach workflow needs to know of its record:
// times and flags, no personal data.
type BreachState struct {
	AwareAt, DeadlineAt time.Time
	Risk                domain.Risk
	NoticeApproved      bool
	AuthorityNotified   bool
	FanOutDone          bool
}

func breachState(b *store.Breach) BreachState {
	return BreachState{
		AwareAt: b.AwareAt, DeadlineAt: b.DeadlineAt, Risk: b.Risk,
		NoticeApproved: b.NoticeApprovedAt != nil, AuthorityNotified: b.AuthorityNotifiedAt != nil,
		FanOutDone: b.FanoutDoneAt != nil,
	}
}

// LoadBreach loads a breach's state.
func (a *Breaches) LoadBreach(ctx context.Context, id string) (BreachState, error) {
	b, err := a.Requests.Store.GetBreach(ctx, id)
	if err != nil {
		return BreachState{}, classify(err)
	}
	return breachState(b), nil
}

// Affected is how many people and records a breach touched.
type Affected struct {
	People, Records int
	// Unreached are breached tables from which no email address can be
	// reached through the data map; an officer assesses them by hand.
	Unreached []string
	// Invalid counts rows whose email address is not one (they cannot
	// be emailed and are not among People).
	Invalid int
}

// FindAffected searches the breached systems for the people affected and
// stores them, once, in a stable order (by email address), so a fan-out
// can resume where it stopped.
func (a *Breaches) FindAffected(ctx context.Context, id string) (Affected, error) {
	defer keepAlive(ctx)()
	st := a.Requests.Store
	b, err := st.GetBreach(ctx, id)
	if err != nil {
		return Affected{}, classify(err)
	}
	if b.AffectedPeople != nil {
		return Affected{People: *b.AffectedPeople, Records: *b.AffectedRecords}, nil
	}
	if a.Systems == nil {
		return Affected{}, temporal.NewNonRetryableApplicationError("no data map configured", ErrTypeNoDataMap, nil)
	}
	conns, err := a.Systems.Connectors()
	if err != nil {
		return Affected{}, err
	}
	people := map[string]*store.BreachRecipient{}
	var res Affected
	for _, c := range conns {
		if !slices.Contains(b.Systems, c.System().Name) {
			continue
		}
		unreached, err := c.Affected(ctx, c.System().BreachedTables(b.Categories), func(p datamap.AffectedPerson) {
			email, err := domain.NormalizeEmail(p.Email)
			if err != nil {
				res.Invalid++ // cannot be emailed; counted for the officers
				return
			}
			p.Email = email
			key := strings.ToLower(p.Email)
			r, ok := people[key]
			if !ok {
				r = &store.BreachRecipient{Email: p.Email, Name: p.Name}
				people[key] = r
			}
			r.Records += p.Records
			if r.Name == "" {
				r.Name = p.Name
			}
		})
		if err != nil {
			return Affected{}, err
		}
		for _, t := range unreached {
			res.Unreached = append(res.Unreached, c.System().Name+"."+t)
		}
		activity.RecordHeartbeat(ctx, c.System().Name)
	}
	list := make([]store.BreachRecipient, 0, len(people))
	for _, k := range slices.Sorted(maps.Keys(people)) {
		list = append(list, *people[k])
	}
	res.People, res.Records, err = st.SetAffected(ctx, id, list, a.Requests.Now())
	if err != nil {
		return Affected{}, err
	}
	if len(res.Unreached) > 0 {
		err = st.AddBreachEvent(ctx, store.BreachEvent{BreachID: id, Actor: store.ActorSystem, Action: "unreached",
			Detail: "no email reachable from " + strings.Join(res.Unreached, ", ") + "; assess by hand", At: a.Requests.Now()})
	}
	if err == nil && res.Invalid > 0 {
		err = st.AddBreachEvent(ctx, store.BreachEvent{BreachID: id, Actor: store.ActorSystem, Action: "invalid_addresses",
			Detail: fmt.Sprintf("%d rows hold no valid email address; those people cannot be emailed", res.Invalid), At: a.Requests.Now()})
	}
	return res, err
}

// Notice is an officer's approval of the notice to the people affected.
type Notice struct {
	BreachID, Subject, Text, Actor string
}

// ApproveNotice records the approved notice.
func (a *Breaches) ApproveNotice(ctx context.Context, n Notice) error {
	err := a.Requests.Store.ApproveNotice(ctx, n.BreachID, n.Subject, n.Text, n.Actor, a.Requests.Now())
	if errors.Is(err, store.ErrNoticeApproved) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBreachRefused, err)
	}
	return classify(err)
}

// AuthorityNotified is the record of the authority's notification.
type AuthorityNotified struct {
	BreachID, Authority, Reference, Actor, DelayReason string
	NotifiedAt                                         time.Time
}

// RecordAuthority records the authority's notification.
func (a *Breaches) RecordAuthority(ctx context.Context, n AuthorityNotified) error {
	err := a.Requests.Store.RecordAuthority(ctx, store.AuthorityNotice{
		BreachID: n.BreachID, Authority: n.Authority, Reference: n.Reference, NotifiedAt: n.NotifiedAt,
		Actor: n.Actor, DelayReason: n.DelayReason, At: a.Requests.Now(),
	})
	if errors.Is(err, store.ErrAuthorityNotified) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBreachRefused, err)
	}
	return classify(err)
}

// FanOut emails the approved notice to every affected person not yet
// emailed, in batches of BatchSize (one SendGrid call each), Lanes batches
// at a time, at most Rate people a second, heartbeating its progress. Each
// batch is claimed in the database before it is sent and marked sent
// after, with neither step cancelled by a stopping worker, so a stop
// between batches resumes at the next one and no one is emailed twice. A
// batch whose send was cut off by a crash stays "uncertain" in the
// progress rather than being sent again.
func (a *Breaches) FanOut(ctx context.Context, id string) (store.FanOutProgress, error) {
	st := a.Requests.Store
	b, err := st.GetBreach(ctx, id)
	if err != nil {
		return store.FanOutProgress{}, classify(err)
	}
	if b.NoticeApprovedAt == nil {
		return store.FanOutProgress{}, temporal.NewNonRetryableApplicationError("no approved notice", ErrTypeBreachRefused, nil)
	}
	subject, text, html, err := a.Requests.Templates.Render(mail.KindBreachNotice, mail.Data{
		Organisation: a.Requests.Organisation, Contact: a.Requests.Contact, RequestID: b.ID, Name: mail.NamePlaceholder,
		Reason: b.NoticeSubject, Notice: b.NoticeText,
	})
	if err != nil {
		return store.FanOutProgress{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMailRejected, err)
	}
	html = strings.ReplaceAll(html, mail.NamePlaceholder, mail.NameHTMLPlaceholder)
	size := min(max(a.BatchSize, 1), mail.MaxBatch)
	if a.BatchSize == 0 {
		size = mail.MaxBatch
	}
	// Heartbeat on a clock, not per batch: a slow provider call or a
	// rate-limit wait must never look like a dead worker, or Temporal
	// would start a second fan-out beside this one.
	defer keepAlive(ctx)()
	pace := rate.NewLimiter(rate.Inf, size)
	if a.Rate > 0 {
		pace = rate.NewLimiter(rate.Limit(a.Rate), size)
	}
	// Lanes send side by side, so the database's claims and marks and
	// the provider's calls overlap. The first lane to fail stops the
	// others between batches; a batch under way is finished.
	g, gctx := errgroup.WithContext(ctx)
	for range max(a.Lanes, 1) {
		g.Go(func() (err error) {
			// A panic in a lane fails this attempt as one in the activity
			// itself would (the SDK recovers only its own goroutine's):
			// the batch the lane held stays claimed, and the next attempt
			// finds it uncertain.
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("fan-out lane panicked: %v", r)
				}
			}()
			return a.sendBatches(gctx, b.ID, pace, size, mail.Batch{Subject: subject, Text: text, HTML: html,
				Ref: b.ID, Step: string(mail.KindBreachNotice)})
		})
	}
	if err := g.Wait(); err != nil {
		return store.FanOutProgress{}, err
	}
	// This attempt's batches are all settled; anything still claimed was
	// claimed by an attempt that died mid-send.
	if err := st.OrphanedToUncertain(ctx, id); err != nil {
		return store.FanOutProgress{}, err
	}
	p, err := st.Progress(ctx, id)
	if err != nil || p.Uncertain > 0 {
		return p, err // an officer settles the uncertain ones first
	}
	_, err = st.SetBreachTime(ctx, id, "fanout_done_at", store.ActorSystem,
		fmt.Sprintf("notice sent to %d of %d people", p.Sent, p.Total), a.Requests.Now())
	return p, err
}

// sendBatches is one lane of a fan-out: it claims, sends and records
// batches of the notice until no one is left to claim.
func (a *Breaches) sendBatches(ctx context.Context, id string, pace *rate.Limiter, size int, notice mail.Batch) error {
	st := a.Requests.Store
	for {
		if err := ctx.Err(); err != nil {
			return err // stopping: the next attempt resumes here
		}
		if err := pace.WaitN(ctx, size); err != nil {
			return err
		}
		// From here to the mark, a stopping worker does not cut in.
		keep := context.WithoutCancel(ctx)
		batch, rs, err := st.ClaimBatch(keep, id, size)
		if err != nil || len(rs) == 0 {
			return err
		}
		to := make([]mail.Recipient, len(rs))
		for i, r := range rs {
			to[i] = mail.Recipient{Email: r.Email, Name: cmpName(r.Name)}
		}
		send := notice
		send.To = to
		err = a.send(ctx, id, send)
		if errors.Is(err, mail.ErrPermanent) {
			// Refused for good (a malformed address in the batch, say):
			// recorded for the officers, and the others go on.
			a.Requests.Log.Warn("breach notice batch refused", "breach_id", id, "batch", batch, "error", err)
			if ferr := st.FailBatch(keep, id, batch, err.Error(), a.Requests.Now()); ferr != nil {
				return ferr
			}
			continue
		}
		if errors.Is(err, mail.ErrNoAnswer) {
			// Sent, maybe accepted: the batch stays claimed, and becomes
			// uncertain for an officer to settle rather than be sent twice.
			return err
		}
		if err != nil {
			// An answer other than acceptance means nothing was sent.
			if rerr := st.ReleaseBatch(keep, id, batch); rerr != nil {
				return rerr
			}
			return err
		}
		if err := st.MarkBatchSent(keep, id, batch, a.Requests.Now()); err != nil {
			return err
		}
		a.Requests.Metrics.Sent.WithLabelValues(string(mail.KindBreachNotice)).Add(float64(len(rs)))
	}
}

// send sends one claimed batch, waiting for its answer even if the
// worker is stopping. An answer that says nothing was sent (a 5xx, a 429,
// no connection) is tried again here, after a wait that doubles from
// SendRetry to maxSendRetry: a provider's bad minute costs the fan-out
// that minute, instead of failing the activity's attempt, whose retries
// back off further with each failure over the whole fan-out. A stopping
// worker ends the wait; what the last send answered is returned.
func (a *Breaches) send(ctx context.Context, id string, b mail.Batch) error {
	wait := a.SendRetry
	if wait <= 0 {
		wait = time.Second
	}
	for {
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mail.SendTimeout)
		err := a.Batch.SendBatch(sendCtx, b)
		cancel()
		if err == nil || errors.Is(err, mail.ErrPermanent) || errors.Is(err, mail.ErrNoAnswer) {
			return err
		}
		a.Requests.Log.Warn("breach notice batch not taken; sending it again", "breach_id", id, "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(wait*2, maxSendRetry)
	}
}

// cmpName is how a notice greets someone whose name the map does not know.
func cmpName(name string) string {
	if strings.TrimSpace(name) == "" {
		return "customer"
	}
	return name
}

// Uncertain is an officer's decision on the recipients whose send a crash
// left unknown.
type Uncertain struct {
	BreachID string
	Resend   bool
	Actor    string
}

// ResolveUncertain carries out the decision.
func (a *Breaches) ResolveUncertain(ctx context.Context, u Uncertain) (int, error) {
	return a.Requests.Store.ResolveUncertain(ctx, u.BreachID, u.Resend, u.Actor, a.Requests.Now())
}

// BreachAlert asks for one alert about a breach to every acting officer.
type BreachAlert struct {
	BreachID string
	Kind     mail.Kind // KindOfficerBreachReminder or KindOfficerBreachOverdue
	Key      string
	// Urgent marks an escalation: the breach is flagged escalated.
	Urgent bool
}

// AlertBreach emails a breach alert to every acting officer, once each.
func (a *Breaches) AlertBreach(ctx context.Context, al BreachAlert) error {
	defer keepAlive(ctx)()
	r := a.Requests
	b, err := r.Store.GetBreach(ctx, al.BreachID)
	if err != nil {
		return classify(err)
	}
	now := r.Now()
	if b.AuthorityNotifiedAt != nil {
		return nil // notified meanwhile
	}
	if al.Urgent || al.Kind == mail.KindOfficerBreachOverdue {
		if _, err := r.Store.SetBreachTime(ctx, b.ID, "escalated_at", store.ActorSystem, "escalated to the officers: "+al.Key, now); err != nil {
			return err
		}
	}
	state := "authority not notified"
	switch {
	case b.NoticeApprovedAt == nil && b.NotifiesSubjects():
		state += "; notice to the people affected not yet approved"
	case b.NoticeApprovedAt != nil:
		state += "; notice approved"
	}
	if b.AffectedPeople != nil {
		state += fmt.Sprintf("; %d people affected", *b.AffectedPeople)
	}
	data := mail.Data{
		Organisation: r.Organisation, RequestID: b.ID, TypeLabel: b.Title,
		DueAt: formatTime(b.DeadlineAt), DueIn: hoursLeft(now, b.DeadlineAt), StatusLabel: state,
		DashboardLink: r.BaseURL + "/officer/breaches/" + b.ID,
	}
	if al.Urgent {
		data.Reason = "urgent"
	}
	sent, err := r.alert(ctx, al.Kind, "breach/"+b.ID+"/"+al.Key, "", data, nil)
	if err != nil || sent == 0 {
		return err
	}
	return r.Store.AddBreachEvent(ctx, store.BreachEvent{BreachID: b.ID, Actor: store.ActorSystem,
		Action: "officers_alerted", Detail: fmt.Sprintf("%s (%s)", al.Kind, al.Key), At: now})
}

// hoursLeft says how long is left in hours, as breach alerts count.
func hoursLeft(now, due time.Time) string {
	left := due.Sub(now)
	switch {
	case left <= 0:
		return "no time: it is overdue"
	case left < time.Hour:
		return "less than an hour"
	}
	h := int(left.Round(time.Hour).Hours())
	return fmt.Sprintf("%d %s", h, plural(h, "hour", "hours"))
}

// CloseBreach marks a breach closed: the authority notified and everyone to be
// told, told.
func (a *Breaches) CloseBreach(ctx context.Context, id string) error {
	_, err := a.Requests.Store.SetBreachTime(ctx, id, "closed_at", store.ActorSystem, "notifications complete", a.Requests.Now())
	return err
}
