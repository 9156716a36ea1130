package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// purge runs the request's RetentionPurge from start in simulated time,
// through every continue-as-new, as Temporal would, and returns when it
// finished and how many runs it took. during, if set, is called on each
// run's environment before it starts, with the run's start.
func (h *harness) purge(start time.Time, during func(env *testsuite.TestWorkflowEnvironment, start time.Time)) (time.Time, int) {
	h.t.Helper()
	for run := 1; run <= 200; run++ {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		a := *h.fulfil
		a.Now = env.Now
		env.RegisterActivity(&a)
		reqs := *h.requests
		reqs.Now = env.Now
		env.RegisterActivity(&reqs)
		if during != nil {
			during(env, start)
		}
		env.ExecuteWorkflow(RetentionPurge, RetentionPurgeInput{RequestID: h.id})
		if !env.IsWorkflowCompleted() {
			h.t.Fatal("the purge did not complete")
		}
		var next *workflow.ContinueAsNewError
		err := env.GetWorkflowError()
		if errors.As(err, &next) {
			start = env.Now()
			continue
		}
		if err != nil {
			h.t.Fatalf("purge: %v", err)
		}
		return env.Now(), run
	}
	h.t.Fatal("the purge never ended")
	return time.Time{}, 0
}

func (h *harness) shopTimes(query string, args ...any) []time.Time {
	h.t.Helper()
	db, _, err := datamap.OpenSQL(h.shop)
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var ts time.Time
		if err := rows.Scan(&ts); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, ts)
	}
	return out
}

func (h *harness) audit(action string) []store.AuditEvent {
	h.t.Helper()
	events, err := h.store.Timeline(context.Background(), h.id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestDeletionKeepsInvoicesForTaxAndPurgesThemSevenYearsLater(t *testing.T) {
	h := newHarness(t, "")
	invoices := h.shopCount(`SELECT count(*) FROM invoices WHERE billing_name = ?`, "Ada Lovelace")
	if invoices == 0 {
		t.Fatal("Ada has no invoices in the demo data")
	}
	var lastIssued time.Time
	for _, ts := range h.shopTimes(`SELECT issued_at FROM invoices WHERE billing_name = ?`, "Ada Lovelace") {
		if ts.After(lastIssued) {
			lastIssued = ts
		}
	}
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	// The invoices stay, restricted, and nothing else of Ada does.
	if n := h.shopCount(`SELECT count(*) FROM invoices WHERE billing_name = ? AND restricted AND order_id IS NULL`, "Ada Lovelace"); n != invoices {
		t.Errorf("%d of %d invoices kept restricted", n, invoices)
	}
	if n := h.shopCount(`SELECT count(*) FROM customers WHERE email = ?`, "ada@example.com"); n != 0 {
		t.Errorf("Ada's customer row remains")
	}
	m, _ := h.mail.message("completed")
	until := lastIssued.AddDate(7, 0, 0)
	for _, want := range []string{fmt.Sprintf("shop / invoices: %d kept until", invoices), "tax law requires keeping invoices for seven years", until.Format("2 January 2006")} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("completion email lacks %q:\n%s", want, m.Text)
		}
	}
	if len(h.purges) != 1 || h.purges[0] != h.id {
		t.Errorf("purges started: %v, want one for %s", h.purges, h.id)
	}
	retained, err := h.store.RetainedRows(context.Background(), h.id)
	if err != nil || len(retained) != invoices {
		t.Fatalf("retained rows = %d, %v; want %d", len(retained), err, invoices)
	}

	// Seven years on, to the day of the last invoice's period, they go.
	end, runs := h.purge(received.Add(3*time.Hour), nil)
	if n := h.shopCount(`SELECT count(*) FROM invoices WHERE billing_name = ?`, "Ada Lovelace"); n != 0 {
		t.Errorf("%d invoices remain after their period", n)
	}
	if end.Before(until) || end.After(until.Add(time.Minute)) {
		t.Errorf("purge finished %s, want when the last period ends, %s", end, until)
	}
	if runs < 2 {
		t.Errorf("a wait of years ran in %d run; want continue-as-new along the way", runs)
	}
	purged := h.audit("retained rows purged")
	if len(purged) == 0 || purged[0].At.Before(retained[0].Until) {
		t.Errorf("purge audit %+v; first period ends %s", purged, retained[0].Until)
	}
}

func TestLegalHoldDefersDeletionUntilReleased(t *testing.T) {
	h := newHarness(t, "")
	ctx := context.Background()
	hold := &store.LegalHold{ID: "hold-1", Scope: domain.HoldTable, SystemName: "shop", TableName: "support_tickets",
		Reason: "Litigation: Lovelace v Example Ltd", PlacedBy: "grace@example.org", PlacedAt: received}
	if err := h.store.PlaceHold(ctx, hold); err != nil {
		t.Fatal(err)
	}
	tickets := h.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = 0`)
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	// The tickets are held, with the customer and address they point at;
	// the rest is gone.
	if n := h.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = 0`); n != tickets {
		t.Errorf("%d of %d held tickets remain", n, tickets)
	}
	if n := h.shopCount(`SELECT count(*) FROM orders WHERE customer_id = 0`); n != 0 {
		t.Errorf("%d orders remain though not held", n)
	}
	m, _ := h.mail.message("completed")
	if !strings.Contains(m.Text, "legal hold") || strings.Contains(m.Text, "Litigation") {
		t.Errorf("completion email must say what is held, without the reason:\n%s", m.Text)
	}

	released := received.Add(10 * 24 * time.Hour)
	var afterRelease int
	h.purge(received.Add(3*time.Hour), func(env *testsuite.TestWorkflowEnvironment, start time.Time) {
		if start.After(released) {
			return
		}
		env.RegisterDelayedCallback(func() {
			if n := h.shopCount(`SELECT count(*) FROM customers WHERE id = 0`); n != 1 {
				t.Errorf("held customer row gone before release")
			}
			if _, err := h.store.ReleaseHold(ctx, hold.ID, "grace@example.org", env.Now()); err != nil {
				t.Error(err)
			}
			env.SignalWorkflow(SignalHoldReleased, nil)
		}, released.Sub(start))
		env.RegisterDelayedCallback(func() {
			afterRelease = h.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = 0`) +
				h.shopCount(`SELECT count(*) FROM customers WHERE id = 0`)
		}, released.Sub(start)+time.Minute)
	})
	if afterRelease != 0 {
		t.Errorf("a minute after the release %d held rows remain", afterRelease)
	}
	if len(h.audit("erasure resumed")) != 1 {
		t.Errorf("erasure resumed %d times, want once", len(h.audit("erasure resumed")))
	}
	// Ada is told once, in plain words, what went and what the law keeps
	// (her invoices, for years after every later look of the purge).
	if n := countSteps(h.mail.steps(), "hold_released"); n != 1 {
		t.Fatalf("%d emails saying the hold ended, want 1: %v", n, h.mail.steps())
	}
	m, _ = h.mail.message("hold_released")
	for _, want := range []string{"the legal hold has ended", "Support tickets: ", " deleted", "What we still keep, because the law requires it",
		"Your invoices (", "tax law requires keeping invoices for seven years"} {
		if !strings.Contains(m.Subject+"\n"+m.Text, want) {
			t.Errorf("the email after the hold lacks %q:\n%s\n%s", want, m.Subject, m.Text)
		}
	}
	if strings.Contains(m.Text, "Litigation") || strings.Contains(m.Text, "support_tickets") {
		t.Errorf("the email after the hold names the hold's reason or a table's raw name:\n%s", m.Text)
	}
}

// TestRefusedHoldEndedEmailIsNotSentAgain: the provider refuses the
// email saying the hold ended; the officer sees the refusal and the
// purge goes on without trying it at every later look.
func TestRefusedHoldEndedEmailIsNotSentAgain(t *testing.T) {
	h := newHarness(t, "hold_released")
	ctx := context.Background()
	hold := &store.LegalHold{ID: "hold-1", Scope: domain.HoldTable, SystemName: "shop", TableName: "support_tickets",
		Reason: "Litigation", PlacedBy: "grace@example.org", PlacedAt: received}
	if err := h.store.PlaceHold(ctx, hold); err != nil {
		t.Fatal(err)
	}
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	if _, err := h.store.ReleaseHold(ctx, hold.ID, "grace@example.org", received.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.purge(received.Add(4*time.Hour), nil)
	if n := countSteps(h.mail.steps(), "hold_released"); n != 0 {
		t.Errorf("%d refused emails recorded as sent", n)
	}
	r, err := h.store.GetRequest(ctx, h.id)
	if err != nil || r.MailFailedStep != "hold_released" {
		t.Errorf("the officer sees mail failure %q (%v), want hold_released", r.MailFailedStep, err)
	}
	if n := len(h.audit("email_failed")); n != 1 {
		t.Errorf("the refused email was tried %d times, want once", n)
	}
}

func countSteps(steps []string, step string) int {
	n := 0
	for _, s := range steps {
		if s == step {
			n++
		}
	}
	return n
}

func TestPurgeWaitsForAHoldPlacedAfterTheDeletion(t *testing.T) {
	h := newHarness(t, "")
	ctx := context.Background()
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	// Years later a dispute about Ada's invoices: a hold on the person.
	if err := h.store.PlaceHold(ctx, &store.LegalHold{ID: "hold-ada", Scope: domain.HoldPerson, Email: "ada@example.com",
		Reason: "Tax audit 2029", PlacedBy: "grace@example.org", PlacedAt: received}); err != nil {
		t.Fatal(err)
	}
	release := received.AddDate(9, 0, 0)
	var beforeRelease int
	end, _ := h.purge(received.Add(3*time.Hour), func(env *testsuite.TestWorkflowEnvironment, start time.Time) {
		if start.After(release) {
			return
		}
		env.RegisterDelayedCallback(func() {
			beforeRelease = h.shopCount(`SELECT count(*) FROM invoices WHERE billing_name = ?`, "Ada Lovelace")
			if _, err := h.store.ReleaseHold(ctx, "hold-ada", "grace@example.org", env.Now()); err != nil {
				t.Error(err)
			}
		}, release.Sub(start))
	})
	if beforeRelease == 0 {
		t.Error("the held invoices were purged while the hold was in force")
	}
	if n := h.shopCount(`SELECT count(*) FROM invoices WHERE billing_name = ?`, "Ada Lovelace"); n != 0 {
		t.Errorf("%d invoices remain after the hold's release", n)
	}
	if end.Before(release) || end.After(release.Add(25*time.Hour)) {
		t.Errorf("purge finished %s; the hold was released %s and the purge looks daily", end, release)
	}
}
