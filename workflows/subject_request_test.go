package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

// These tests run SubjectRequest in Temporal's test environment, whose
// clock skips ahead, so a week of waiting takes milliseconds. The
// activities are the real ones, on a real (embedded SQLite) database, with
// email kept in the outbox: the tests read what a requester would receive
// and what the dashboard would show.

const ttl = 7 * 24 * time.Hour

var received = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store *store.Store
	mail  *recordingSender
	shop  string // the demo organisation's database
	id    string
	// requests are the registered request activities; tests may change
	// their settings before run.
	requests *activities.Requests
	systems  *datamap.Systems
	fulfil   *activities.Fulfilment
	purges   []string // the requests whose RetentionPurge was started
}

// recordingSender keeps what was sent and can refuse one step's email as
// a provider would refuse a bad address.
type recordingSender struct {
	outbox *mail.Outbox
	refuse string // step to refuse permanently

	mu   sync.Mutex
	sent []mail.Message
}

func (r *recordingSender) Send(ctx context.Context, m mail.Message) (string, error) {
	r.mu.Lock()
	if m.Step == r.refuse {
		r.mu.Unlock()
		return "", fmt.Errorf("%w: sendgrid answered 400: invalid address", mail.ErrPermanent)
	}
	r.sent = append(r.sent, m)
	r.mu.Unlock()
	return r.outbox.Send(ctx, m)
}

// accept stops refusing: the address was corrected.
func (r *recordingSender) accept() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse = ""
}

func (r *recordingSender) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent {
		out = append(out, m.Step)
	}
	return out
}

func (r *recordingSender) message(step string) (mail.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.sent {
		if m.Step == step {
			return m, true
		}
	}
	return mail.Message{}, false
}

func newHarness(t *testing.T, refuse string) *harness {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	clock, err := deadline.For(deadline.Default, received, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Request{
		ID: "DSR-TESTTEST01", Type: domain.TypeDeletion, Status: domain.StatusReceived,
		Email: "ada@example.com", Name: "Ada Lovelace", Details: "my account",
		ReceivedAt: received, DueAt: clock.DueAt, Regime: deadline.Default,
		ExtensionNoticeBy: &clock.ExtensionNoticeBy, ExtendedDueAt: &clock.ExtendedDueAt,
	}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(received)
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	sender := &recordingSender{outbox: &mail.Outbox{Store: st, Now: env.Now}, refuse: refuse}
	// The demo organisation, with Ada as its first customer.
	shop := "sqlite:" + filepath.Join(t.TempDir(), "shop.db")
	dataMap, err := demo.Prepare(ctx, shop, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := export.NewSealer(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	fulfil := &activities.Fulfilment{
		Store: st, Systems: datamap.NewSystems(dataMap), Sealer: sealer, Organisation: "Example Ltd", DownloadTTL: 14 * 24 * time.Hour,
		Now: env.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	t.Cleanup(fulfil.Systems.Close)
	env.RegisterActivity(fulfil)
	env.RegisterActivity(&activities.Tasks{Store: st, Systems: fulfil.Systems, Sealer: sealer, Now: env.Now})
	// The purge a deletion starts outlives the request by years; here
	// the test notes it started and runs it on its own (retention_test).
	h := &harness{t: t, env: env, store: st, mail: sender, shop: shop, id: r.ID, systems: fulfil.Systems, fulfil: fulfil}
	env.RegisterWorkflow(RetentionPurge)
	env.OnWorkflow(RetentionPurge, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in RetentionPurgeInput) error {
		h.purges = append(h.purges, in.RequestID)
		return nil
	})
	reqs := &activities.Requests{
		Store: st, Mail: sender, Templates: renderer, Metrics: metrics.NewEmail(prometheus.NewRegistry()),
		BaseURL: "https://privacy.example.org", Organisation: "Example Ltd", Now: env.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Systems: fulfil.Systems,
	}
	env.RegisterActivity(reqs)
	h.requests = reqs
	return h
}

func (h *harness) run() SubjectRequestResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(SubjectRequest, SubjectRequestInput{RequestID: h.id, VerifyTTL: ttl})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	var res SubjectRequestResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// verifyAt records the verification as the verification page does, then
// signals, after d.
func (h *harness) verifyAt(d time.Duration) {
	h.env.RegisterDelayedCallback(func() {
		if err := h.store.MarkVerified(context.Background(), h.id, store.ActorRequester, h.env.Now()); err != nil {
			h.t.Error(err)
		}
		h.env.SignalWorkflow(SignalIdentityVerified, IdentityVerified{Actor: store.ActorRequester})
	}, d)
}

// answer is what an Update sent by a test answered.
type answer[T any] struct {
	rejected error
	result   T
	done     bool
}

// updateAt sends an Update after d and records its answer.
func updateAt[T any](h *harness, d time.Duration, name string, arg any) *answer[T] {
	a := &answer[T]{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, fmt.Sprint(name, d), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { a.rejected, a.done = err, true },
			OnComplete: func(v interface{}, err error) {
				a.done = true
				if err != nil {
					h.t.Errorf("%s failed: %v", name, err)
					return
				}
				if v != nil {
					a.result = v.(T)
				}
			},
		}, arg)
	}, d)
	return a
}

// decideAt sends an officer's decision after d.
func (h *harness) decideAt(d time.Duration, decision ReviewDecision) *answer[ReviewResult] {
	return updateAt[ReviewResult](h, d, UpdateReview, decision)
}

func (h *harness) stored() *store.Request {
	h.t.Helper()
	r, err := h.store.GetRequest(context.Background(), h.id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) wantSteps(want ...string) {
	h.t.Helper()
	if got := h.mail.steps(); strings.Join(got, ",") != strings.Join(want, ",") {
		h.t.Errorf("emails sent: %v, want %v", got, want)
	}
}

func TestApprovedRequestCompletes(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	approval := h.decideAt(3*24*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})

	res := h.run()
	if res.Status != domain.StatusCompleted || !approval.done || approval.result.Status != domain.StatusCompleted {
		t.Fatalf("result %+v, update %+v", res, approval)
	}
	r := h.stored()
	if r.Status != domain.StatusCompleted || r.ClosedAt == nil || !r.ClosedAt.Equal(received.Add(3*24*time.Hour)) {
		t.Errorf("stored %s closed %v", r.Status, r.ClosedAt)
	}
	// Verified within the hour: no reminder.
	h.wantSteps("acknowledgement", "verification", "verified", "completed")

	verification, _ := h.mail.message("verification")
	if !strings.Contains(verification.Text, "https://privacy.example.org/verify/") || !strings.Contains(verification.Text, "11 May 2026, 09:00 UTC") {
		t.Errorf("verification email lacks its link or its expiry (received + 7 days):\n%s", verification.Text)
	}
	timeline, err := h.store.Timeline(context.Background(), h.id)
	if err != nil {
		t.Fatal(err)
	}
	var approvedBy string
	for _, e := range timeline {
		if strings.HasPrefix(e.Detail, "in_review → ") {
			approvedBy = e.Actor
		}
	}
	if approvedBy != "grace@example.org" {
		t.Errorf("the audit trail does not name the approving officer: %+v", timeline)
	}
}

// shopCount counts rows in the demo organisation's database.
func (h *harness) shopCount(query string, args ...any) int {
	h.t.Helper()
	db, _, err := datamap.OpenSQL(h.shop)
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestApprovedDeletionErasesAndSaysWhat: discovery runs once the
// requester is verified, so the officer reviews findings; approval
// erases, and the completion email says what went.
func TestApprovedDeletionErasesAndSaysWhat(t *testing.T) {
	h := newHarness(t, "")
	others := h.shopCount(`SELECT count(*) FROM customers WHERE email <> ?`, "ada@example.com")
	h.verifyAt(time.Hour)
	var findings []store.Finding
	h.env.RegisterDelayedCallback(func() {
		var err error
		if findings, err = h.store.Findings(context.Background(), h.id); err != nil {
			t.Error(err)
		}
		if n := h.shopCount(`SELECT count(*) FROM customers WHERE email = ?`, "ada@example.com"); n != 1 {
			t.Errorf("before approval Ada has %d customer rows, want 1: discovery must not erase", n)
		}
	}, 2*time.Hour)
	h.decideAt(3*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	tables := map[string]int{}
	for _, f := range findings {
		tables[f.Table] = f.OwnedRows
	}
	if tables["customers"] != 1 || tables["orders"] == 0 || tables["web_logs"] == 0 {
		t.Errorf("findings before review: %+v", findings)
	}
	if n := h.shopCount(`SELECT count(*) FROM customers WHERE email = ?`, "ada@example.com"); n != 0 {
		t.Errorf("Ada still has %d customer rows", n)
	}
	if n := h.shopCount(`SELECT count(*) FROM customers WHERE email <> ?`, "ada@example.com"); n != others {
		t.Errorf("%d other customers remain, want %d", n, others)
	}
	m, _ := h.mail.message("completed")
	for _, want := range []string{"shop / customers: 1 deleted", "shop / orders:", "anonymised"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("completion email lacks %q:\n%s", want, m.Text)
		}
	}
}

func TestDeniedRequestTellsReasonAndRightToComplain(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	const reason = "We must keep your invoices for seven years under tax law."
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Deny, Reason: reason, Actor: "grace@example.org"})

	if res := h.run(); res.Status != domain.StatusDenied {
		t.Fatalf("result %+v", res)
	}
	if r := h.stored(); r.Status != domain.StatusDenied || r.DecisionReason != reason {
		t.Errorf("stored %s, reason %q", r.Status, r.DecisionReason)
	}
	h.wantSteps("acknowledgement", "verification", "verified", "denied")
	m, _ := h.mail.message("denied")
	for _, part := range []string{m.Text, m.HTML} {
		if !strings.Contains(part, "seven years under tax law") || !strings.Contains(strings.ToLower(part), "supervisory authority") {
			t.Errorf("denial email lacks the reason or the right to complain:\n%s", part)
		}
	}
}

func TestReviewValidatorRefusesBadDecisions(t *testing.T) {
	h := newHarness(t, "")
	early := h.decideAt(time.Minute, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.verifyAt(time.Hour)
	noReason := h.decideAt(2*time.Hour, ReviewDecision{Decision: Deny, Actor: "grace@example.org"})
	unknown := h.decideAt(2*time.Hour+time.Minute, ReviewDecision{Decision: "maybe", Actor: "grace@example.org"})
	anonymous := h.decideAt(2*time.Hour+2*time.Minute, ReviewDecision{Decision: Approve})
	tooLong := h.decideAt(2*time.Hour+3*time.Minute, ReviewDecision{Decision: Deny, Reason: strings.Repeat("x", MaxReasonLen+1), Actor: "grace@example.org"})
	h.decideAt(3*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})

	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	for name, c := range map[string]struct {
		a    *answer[ReviewResult]
		want string
	}{
		"before verification": {early, "not awaiting review"},
		"deny without reason": {noReason, "needs a reason"},
		"unknown decision":    {unknown, "must be"},
		"no officer":          {anonymous, "officer is required"},
		"reason too long":     {tooLong, "longer than"},
	} {
		if c.a.rejected == nil || !strings.Contains(c.a.rejected.Error(), c.want) {
			t.Errorf("%s: rejected with %v, want %q", name, c.a.rejected, c.want)
		}
	}
	// Refused decisions changed nothing and sent nothing.
	h.wantSteps("acknowledgement", "verification", "verified", "completed")
}

func TestUnverifiedRequestExpiresAfterAWeekWithOneReminder(t *testing.T) {
	h := newHarness(t, "")
	res := h.run()
	if res.Status != domain.StatusExpiredUnverified {
		t.Fatalf("result %+v", res)
	}
	r := h.stored()
	if r.Status != domain.StatusExpiredUnverified || r.ClosedAt == nil || !r.ClosedAt.Equal(received.Add(ttl)) {
		t.Errorf("stored %s closed %v, want expired at received + 7 days", r.Status, r.ClosedAt)
	}
	h.wantSteps("acknowledgement", "verification", "verification_reminder", "expired_unverified")

	out, err := h.store.OutboxMessages(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out {
		if m.Step == "verification_reminder" && !m.CreatedAt.Equal(received.Add(5*24*time.Hour)) {
			t.Errorf("reminder sent at %v, want two days before the link expires", m.CreatedAt)
		}
	}
	reminder, _ := h.mail.message("verification_reminder")
	if !strings.Contains(reminder.Text, "/verify/") {
		t.Errorf("the reminder carries no fresh link:\n%s", reminder.Text)
	}
}

// TestLostSignalDoesNotExpireAVerifiedRequest: the verification page
// stored the verification but its signal never arrived. At the deadline
// the workflow asks the database and carries on.
func TestLostSignalDoesNotExpireAVerifiedRequest(t *testing.T) {
	h := newHarness(t, "")
	h.env.RegisterDelayedCallback(func() {
		if err := h.store.MarkVerified(context.Background(), h.id, store.ActorRequester, h.env.Now()); err != nil {
			t.Error(err)
		}
	}, 6*24*time.Hour)
	h.decideAt(8*24*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	h.wantSteps("acknowledgement", "verification", "verification_reminder", "verified", "completed")
}

func TestRefusedEmailDoesNotStopTheRequest(t *testing.T) {
	h := newHarness(t, "acknowledgement")
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	h.wantSteps("verification", "verified", "completed")
	timeline, _ := h.store.Timeline(context.Background(), h.id)
	found := false
	for _, e := range timeline {
		found = found || (e.Action == "email_failed" && strings.HasPrefix(e.Detail, "acknowledgement"))
	}
	if !found {
		t.Errorf("the refused email is not in the audit trail: %+v", timeline)
	}
}

// TestRefusedVerificationEmailIsSentAgainOnAnOfficersWord: the officer
// sees the refusal on the request, corrects the address, and the
// workflow sends the verification email again; with nothing refused any
// more, a second resend is refused.
func TestRefusedVerificationEmailIsSentAgainOnAnOfficersWord(t *testing.T) {
	h := newHarness(t, "verification")
	h.env.RegisterDelayedCallback(func() {
		if r := h.stored(); r.MailFailedStep != "verification" || !strings.Contains(r.MailFailure, "invalid address") {
			t.Errorf("the refusal is not on the request: step %q, failure %q", r.MailFailedStep, r.MailFailure)
		}
		h.mail.accept()
	}, time.Hour)
	again := updateAt[ResendResult](h, time.Hour+time.Minute, UpdateResendEmail, ResendEmail{Actor: "grace@example.org"})
	twice := updateAt[ResendResult](h, time.Hour+2*time.Minute, UpdateResendEmail, ResendEmail{Actor: "grace@example.org"})
	h.verifyAt(2 * time.Hour)
	h.decideAt(3*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	if again.rejected != nil || fmt.Sprint(again.result.Sent) != "[verification]" {
		t.Errorf("resend answered %+v (rejected: %v), want the verification sent", again.result, again.rejected)
	}
	if twice.rejected == nil || !strings.Contains(twice.rejected.Error(), "nothing to send again") {
		t.Errorf("a second resend was not refused: %v", twice.rejected)
	}
	h.wantSteps("acknowledgement", "verification", "verified", "completed")
	if m, _ := h.mail.message("verification"); !strings.Contains(m.Text, "/verify/") {
		t.Errorf("the resent verification email has no link:\n%s", m.Text)
	}
	if r := h.stored(); r.MailFailedStep != "" {
		t.Errorf("the refusal is still shown after the email went out: %q", r.MailFailedStep)
	}
}

// TestVerificationEmailsToOneAddressAreCapped: the form cannot be used to
// flood someone's inbox; past the daily cap the email is held back and
// the officer sees why.
func TestVerificationEmailsToOneAddressAreCapped(t *testing.T) {
	h := newHarness(t, "")
	ctx := context.Background()
	for i := range activities.MaxVerificationEmailsPerDay {
		id := fmt.Sprintf("DSR-EARLIER%02d", i)
		r := &store.Request{ID: id, Type: domain.TypeAccess, Status: domain.StatusVerifying, Email: "ada@example.com", Name: "Ada",
			ReceivedAt: received.Add(-time.Hour), DueAt: received.AddDate(0, 1, 0), Regime: deadline.Default}
		if err := h.store.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		if err := h.store.RecordEmailSent(ctx, store.SentEmail{RequestID: id, Step: "verification", SentAt: received.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Deny, Reason: "test", Actor: "grace@example.org"})
	h.run()
	h.wantSteps("acknowledgement", "verified", "denied")
	if r := h.stored(); r.MailFailedStep != "verification" || !strings.Contains(r.MailFailure, "last 24 hours") {
		t.Errorf("the held-back email is not on the request: %q %q", r.MailFailedStep, r.MailFailure)
	}
}

// TestActivitiesCarryNoPersonalData: what the workflow hands its
// activities (and so what Temporal stores) holds IDs, never the
// requester's name, address or words.
func TestActivitiesCarryNoPersonalData(t *testing.T) {
	h := newHarness(t, "")
	var mu sync.Mutex
	var calls []string
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var raw json.RawMessage
		if err := args.Get(&raw); err != nil {
			t.Errorf("%s: %v", info.ActivityType.Name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, info.ActivityType.Name+" "+string(raw))
	})
	// The short database steps run as local activities, whose arguments
	// are recorded in history as well (changeLocalSteps).
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
		raw, err := json.Marshal(args)
		if err != nil {
			t.Errorf("%s: %v", info.ActivityType.Name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, info.ActivityType.Name+" "+string(raw))
	})
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	h.run()
	if len(calls) < 6 {
		t.Fatalf("saw %d activity calls: %v", len(calls), calls)
	}
	for _, call := range calls {
		if !strings.Contains(call, h.id) {
			t.Errorf("activity call without the request ID: %s", call)
		}
		for _, secret := range []string{"ada@example.com", "Ada Lovelace", "my account"} {
			if strings.Contains(call, secret) {
				t.Errorf("activity call holds %q: %s", secret, call)
			}
		}
	}
}

// TestApprovalIsFulfillingBeforeAnySystemIsTouched: once an officer
// approves, the request shows as being carried out before the first row
// is erased, so a crash mid-erasure never leaves it "in review" with
// Approve offered; and the long steps heartbeat, so a worker that dies
// costs seconds before another retries, not the step's hour.
func TestApprovalIsFulfillingBeforeAnySystemIsTouched(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	var statusAtFulfil domain.Status
	heartbeats := map[string]time.Duration{}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, ctx context.Context, _ converter.EncodedValues) {
		heartbeats[info.ActivityType.Name] = info.HeartbeatTimeout
		if info.ActivityType.Name == "Fulfil" {
			r, err := h.store.GetRequest(ctx, h.id)
			if err != nil {
				t.Error(err)
				return
			}
			statusAtFulfil = r.Status
		}
	})
	approval := h.decideAt(3*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	if statusAtFulfil != domain.StatusFulfilling {
		t.Errorf("status when erasure began: %q, want %q", statusAtFulfil, domain.StatusFulfilling)
	}
	if approval.result.Status != domain.StatusCompleted {
		t.Errorf("the approval answered %q, want it to wait for completion", approval.result.Status)
	}
	for _, name := range []string{"Discover", "Fulfil", "SendEmail"} {
		if hb := heartbeats[name]; hb <= 0 || hb > time.Minute {
			t.Errorf("%s runs with heartbeat timeout %v; want one of at most a minute", name, hb)
		}
	}
}
