package office

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// startTimeout bounds how long a requester waits on Temporal at intake;
// past it the request is kept and started by recovery.
const startTimeout = 5 * time.Second

// Service stores and starts requests.
type Service struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	VerifyTTL time.Duration
	// Regime is the clock of requests that name none; Location the zone
	// their calendar days are counted in.
	Regime   deadline.Regime
	Location *time.Location
	// OptOutWithin is when an opt-out is due where the law says "without
	// delay"; zero means config.DefaultOptOutWithin.
	OptOutWithin time.Duration
	// Reminders are how long before a due date officers are reminded;
	// nil means the workflow's defaults.
	Reminders []time.Duration
	// Sealer seals the emails requests arrive as, the files officers
	// attach, messages and withdrawal reasons (nil: none of them).
	Sealer *export.Sealer
	// AttachmentMax is the largest file a request may carry; zero means
	// DefaultAttachmentMax.
	AttachmentMax int64
	// DRPBusinessID is this business's ID in the Data Rights Protocol
	// network: signed messages must name it (empty: DRP is off).
	DRPBusinessID string
	// Mailer emails requesters about messages and alerts officers to
	// theirs (nil: no such email).
	Mailer Mailer
	// PhoneRegion is the region a corrected phone number without a
	// country code is read in (DSAR_PHONE_REGION); empty: it needs one.
	PhoneRegion string
	Now         func() time.Time
	Log         *slog.Logger

	retry retrier
}

// Retry backoff for starts and verification signals that failed: the
// first retry comes quickly, later ones at most every retryMax, so a
// request moves on within seconds of Temporal answering again.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 10 * time.Second
)

// retrier starts, with backoff, the workflows of requests whose start
// failed at intake, and tells workflows the verifications they missed. It
// runs only while something is pending and stops at Close; Recover, run
// by every web process and by the deadline monitor, stays the last resort
// for what a stopped process left.
type retrier struct {
	mu      sync.Mutex
	pending map[string]owed
	running bool
	stop    chan struct{}
	done    sync.WaitGroup
	closed  bool
}

// Receipt is what the requester is shown after submitting.
type Receipt struct {
	Request     *store.Request
	StatusToken string // for the status link on the receipt page
	// Duplicate is set when the submission repeated an open request
	// received within DuplicateWindow: Request is that first one, and no
	// status link is handed out (whoever repeats a request may not be
	// the person who made it; the link is in their email).
	Duplicate bool
}

// DuplicateWindow is how long an identical submission (same address,
// type, name, details, corrections and regime) returns the first request
// instead of making another: a double click, a reload, a script.
const DuplicateWindow = 15 * time.Minute

// Submit validates and stores a request, then starts its workflow. A
// *domain.ValidationError means nothing was stored. If Temporal cannot be
// reached the request is still stored and the receipt returned; its start
// is retried in the background within seconds.
func (s *Service) Submit(ctx context.Context, nr domain.NewRequest) (*Receipt, error) {
	return s.SubmitReceived(ctx, nr, s.Now())
}

// SubmitReceived is Submit for a request received at a given time: the
// demo organisation's requests arrived days ago.
func (s *Service) SubmitReceived(ctx context.Context, nr domain.NewRequest, received time.Time) (*Receipt, error) {
	if err := nr.Normalize(); err != nil {
		return nil, err
	}
	// A value the correction could not be written as (a phone number
	// that is none) is refused now, not when the officer approves.
	if err := domain.CheckCorrectionValues(nr.Corrections, s.PhoneRegion); err != nil {
		return nil, err
	}
	return s.submit(ctx, nr, received, intake{})
}

// intake is how a request came in when it did not come through the form
// or the API: logged by an officer, or by email; zero for one the
// requester submitted.
type intake struct {
	channel  domain.Channel
	officer  string
	evidence string    // how the officer verified a request without an address
	at       time.Time // when the officer logged it
	// id and msg: a request that arrived by email, with its ID chosen
	// beforehand (the sealed message is bound to it).
	id  string
	msg *store.InboundMessage
	// drp: a request an authorized agent sent (drp.go).
	drp *drpIntake
}

// submit stores a normalised request and starts its workflow, unless it
// waits for an officer to classify it.
func (s *Service) submit(ctx context.Context, nr domain.NewRequest, received time.Time, in intake) (*Receipt, error) {
	id := in.id
	if id == "" {
		var err error
		if id, err = auth.NewRequestID(); err != nil {
			return nil, err
		}
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	now := received.UTC().Truncate(time.Second)
	regime := cmp.Or(nr.Regime, s.Regime, deadline.Default)
	// Two emails are one request only when they are one post (the
	// message hash, checked before), so no email is folded here.
	if nr.Email != "" && in.msg == nil && in.drp == nil {
		if first, err := s.duplicateOf(ctx, nr, regime, now); err != nil || first != nil {
			if err != nil {
				return nil, fmt.Errorf("office: %w", err)
			}
			return &Receipt{Request: first, Duplicate: true}, nil
		}
	}
	clock, err := s.clockFor(nr.Type, regime, now)
	if err != nil {
		return nil, err
	}
	r := &store.Request{
		ID: id, Type: nr.Type, Status: domain.StatusReceived,
		Email: nr.Email, Name: nr.Name, Details: nr.Details, Corrections: nr.Corrections, GPC: nr.GPC,
		Language:   string(i18n.Lang(nr.Language).OrEnglish()),
		ReceivedAt: now, DueAt: clock.DueAt, Regime: regime, AckDueAt: clock.AckDueAt,
		ExtensionNoticeBy: &clock.ExtensionNoticeBy, ExtendedDueAt: &clock.ExtendedDueAt,
		Channel: in.channel, LoggedBy: in.officer,
	}
	if in.msg != nil {
		r.Channel = domain.ChannelEmail
	}
	issued := now
	if !in.at.IsZero() {
		issued = in.at
	}
	statusToken := &store.RequestToken{
		Purpose: store.PurposeStatus, Hash: hash,
		ExpiresAt: issued.Add(activities.StatusLinkLifetime), CreatedAt: issued,
	}
	switch {
	case in.drp != nil:
		err = s.drpStore(ctx, r, statusToken, in.drp)
	case in.msg != nil:
		err = s.Store.CreateInboundRequest(ctx, r, statusToken, in.msg)
	case in.officer != "":
		if in.evidence != "" {
			r.VerifiedAt, r.VerifiedBy = &in.at, in.officer
		}
		err = s.Store.CreateLoggedRequest(ctx, r, statusToken, in.evidence)
	default:
		err = s.Store.CreateSubmittedRequest(ctx, r, statusToken)
	}
	if err != nil {
		if errors.Is(err, store.ErrReplayed) {
			return nil, err
		}
		return nil, fmt.Errorf("office: %w", err)
	}
	if r.Type == domain.TypeUnclassified {
		return &Receipt{Request: r, StatusToken: token}, nil // started once classified
	}
	// The workflow's first activity records the start (activities.Clock).
	if err := s.start(ctx, r); err != nil {
		s.Log.Warn("request stored; workflow start retried in the background", "request_id", r.ID, "error", err)
		s.owe(r.ID, owedStart|owedVerified)
		return &Receipt{Request: r, StatusToken: token}, nil
	}
	if r.VerifiedAt != nil {
		// Verified as it was logged: the workflow, which sends this
		// request no email, moves it to review on this signal.
		s.TellVerified(ctx, r.ID, r.VerifiedBy)
	}
	return &Receipt{Request: r, StatusToken: token}, nil
}

// duplicateOf finds an open request identical to nr received within
// DuplicateWindow before now.
func (s *Service) duplicateOf(ctx context.Context, nr domain.NewRequest, regime deadline.Regime, now time.Time) (*store.Request, error) {
	recent, err := s.Store.RecentByEmail(ctx, nr.Email, now.Add(-DuplicateWindow))
	if err != nil {
		return nil, err
	}
	for i := range recent {
		r := &recent[i]
		// Only requests received near this one: a letter logged with an
		// earlier date is not the web request made since.
		if r.ReceivedAt.After(now.Add(DuplicateWindow)) {
			continue
		}
		if !r.Status.Final() && r.Type == nr.Type && r.Name == nr.Name && r.Details == nr.Details &&
			r.Regime == regime && slices.Equal(r.Corrections, nr.Corrections) {
			return r, nil
		}
	}
	return nil, nil
}

// owed is what the retrier still owes a request's workflow.
type owed uint8

const (
	// owedStart: the workflow's start failed.
	owedStart owed = 1 << iota
	// owedVerified: a verification is stored and the workflow, still
	// waiting for it, may not have been told.
	owedVerified
)

// owe keeps trying to do what a request's workflow is owed until it is
// done or the service closes.
func (s *Service) owe(id string, what owed) {
	rt := &s.retry
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return
	}
	if rt.pending == nil {
		rt.pending, rt.stop = map[string]owed{}, make(chan struct{})
	}
	rt.pending[id] |= what
	if rt.running {
		return
	}
	rt.running = true
	rt.done.Add(1)
	go s.retryLoop()
}

// pay does what a request's workflow is owed: its start, then the
// verification it waits for. A request gone, or past verification, is
// owed nothing.
func (s *Service) pay(ctx context.Context, id string, what owed) error {
	r, err := s.Store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if what&owedStart != 0 && r.WorkflowStartedAt == nil {
		if err := s.Start(ctx, r); err != nil {
			return err
		}
	}
	// Received too: the link can be used before the workflow, which sends
	// it, has recorded that it waits (and the signal waits in the
	// workflow until it does).
	waiting := r.Status == domain.StatusReceived || r.Status == domain.StatusVerifying
	if what&owedVerified != 0 && waiting && r.VerifiedAt != nil {
		return s.SignalVerified(ctx, r.ID, r.VerifiedBy)
	}
	return nil
}

func (s *Service) retryLoop() {
	rt := &s.retry
	defer rt.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-rt.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := retryFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		rt.mu.Lock()
		work := maps.Clone(rt.pending)
		rt.mu.Unlock()
		started := 0
		for id, what := range work {
			if err := s.pay(ctx, id, what); err != nil {
				break // Temporal or the database still down: back off
			}
			started++
			rt.mu.Lock()
			if rt.pending[id] == what {
				delete(rt.pending, id)
			} else {
				rt.pending[id] &^= what // owed more meanwhile
			}
			rt.mu.Unlock()
		}
		if started > 0 {
			s.Log.Info("moved deferred requests on", "count", started)
			wait = retryFirst
		} else {
			wait = min(wait*2, retryMax)
		}
		rt.mu.Lock()
		if len(rt.pending) == 0 {
			rt.running = false
			rt.mu.Unlock()
			return
		}
		rt.mu.Unlock()
	}
}

// Close stops retrying starts; what is left is started by Recover.
func (s *Service) Close() {
	rt := &s.retry
	rt.mu.Lock()
	if !rt.closed {
		rt.closed = true
		if rt.stop != nil {
			close(rt.stop)
		}
	}
	rt.mu.Unlock()
	rt.done.Wait()
}

// Start starts a stored request's workflow and records the start.
// Starting twice is harmless: the workflow ID is the request's, and an
// existing workflow counts as started.
func (s *Service) Start(ctx context.Context, r *store.Request) error {
	if err := s.start(ctx, r); err != nil {
		return err
	}
	return s.Store.MarkWorkflowStarted(ctx, r.ID, s.Now())
}

// start starts a stored request's workflow, leaving the record of the
// start to the workflow's first activity.
func (s *Service) start(ctx context.Context, r *store.Request) error {
	if r.Type == domain.TypeUnclassified {
		// The workflow runs a type; an email waits for an officer's.
		return refused("request %s waits for an officer to classify it", r.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.SubjectRequestWorkflowID(r.ID),
		TaskQueue:                s.TaskQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A worker of this process, when there is one with a free slot,
		// runs the first workflow task straight from the server's answer
		// instead of polling for it; otherwise the start is as usual.
		EnableEagerStart: true,
	}, workflows.SubjectRequest, workflows.SubjectRequestInput{RequestID: r.ID, Type: r.Type, VerifyTTL: s.VerifyTTL, Reminders: s.Reminders})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("office: start workflow: %w", err)
	}
	return nil
}

// TellVerified tells a request's workflow that its identity was verified,
// as stored in the database; if Temporal cannot be told now, it is told
// within seconds of answering again (and by Recover, should this process
// stop first).
func (s *Service) TellVerified(ctx context.Context, requestID, actor string) {
	if err := s.SignalVerified(ctx, requestID, actor); err != nil {
		s.Log.Warn("verification stored; signal retried in the background", "request_id", requestID, "error", err)
		s.owe(requestID, owedVerified)
	}
}

// SignalVerified tells a request's workflow that its identity was verified.
// The verification is already in the database; a lost signal is resent by
// Recover.
func (s *Service) SignalVerified(ctx context.Context, requestID, actor string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	err := s.Temporal.SignalWorkflow(ctx, workflows.SubjectRequestWorkflowID(requestID), "",
		workflows.SignalIdentityVerified, workflows.IdentityVerified{Actor: actor})
	if err != nil {
		return fmt.Errorf("office: signal verified: %w", err)
	}
	return nil
}

// SignalTaskCompleted tells a request's workflow that an officer
// completed a manual task, already recorded in the database; a lost signal
// is made up for by the workflow's own periodic check.
func (s *Service) SignalTaskCompleted(ctx context.Context, requestID, system string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	err := s.Temporal.SignalWorkflow(ctx, workflows.SubjectRequestWorkflowID(requestID), "",
		workflows.SignalTaskCompleted, workflows.TaskCompleted{System: system})
	if err != nil {
		return fmt.Errorf("office: signal task completed: %w", err)
	}
	return nil
}

// Recover starts the workflows of stored requests and breaches that have none and
// re-sends verification signals that did not arrive. It returns how many
// requests it moved on.
func (s *Service) Recover(ctx context.Context) (int, error) {
	moved := 0
	unstarted, err := s.Store.UnstartedRequests(ctx, 500)
	if err != nil {
		return 0, err
	}
	for i := range unstarted {
		if err := s.Start(ctx, &unstarted[i]); err != nil {
			return moved, err // Temporal still down: try again next round
		}
		moved++
	}
	breaches, err := s.Store.UnstartedBreaches(ctx, 100)
	if err != nil {
		return moved, err
	}
	for _, b := range breaches {
		if err := s.StartBreach(ctx, b.ID); err != nil {
			return moved, err
		}
		moved++
	}
	waiting, err := s.Store.VerifiedButWaiting(ctx, s.Now().Add(-time.Minute), 500)
	if err != nil {
		return moved, err
	}
	for _, r := range waiting {
		if err := s.SignalVerified(ctx, r.ID, r.VerifiedBy); err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// RunRecovery calls Recover every interval until ctx ends.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Recover(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.Log.Warn("recovery incomplete; will retry", "error", err, "recovered", n)
		case n > 0:
			s.Log.Info("recovered requests", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
