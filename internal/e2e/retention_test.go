package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/workflows"
)

// backupsHolding counts the demo backups whose files mention text.
func (s *system) backupsHolding(text string) int {
	s.t.Helper()
	snaps, err := archive.List(os.Getenv(demo.ArchiveEnv))
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, snap := range snaps {
		files, _ := filepath.Glob(filepath.Join(snap.Dir, "*.jsonl"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				s.t.Fatal(err)
			}
			if strings.Contains(string(b), text) {
				n++
				break
			}
		}
	}
	return n
}

func (s *system) shopCount(query string, args ...any) int {
	s.t.Helper()
	db, _, err := datamap.OpenSQL(s.shop)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// TestDemoDeletionLeavesOnlyWhatTheLawKeeps: the invoices stay for tax,
// with their basis and end date shown to the officer; everything else of
// the person goes, from the live shop and from both nightly backups, and
// a purge waits for the invoices' period to end.
func TestDemoDeletionLeavesOnlyWhatTheLawKeeps(t *testing.T) {
	s := newSystem(t)
	const person = 1 // Alan Turing
	p := demo.PersonAt(person)
	if n := s.backupsHolding(p.Email); n != 2 {
		t.Fatalf("%d demo backups hold Alan, want 2", n)
	}
	invoices := s.shopCount(`SELECT count(*) FROM invoices WHERE id / 10 = $1`, person)
	r, mail := s.run(person, "deletion")

	if n := s.shopCount(`SELECT count(*) FROM invoices WHERE id / 10 = $1 AND order_id IS NULL AND restricted`, person); n != invoices || n == 0 {
		t.Errorf("%d of %d invoices kept restricted", n, invoices)
	}
	for _, want := range []string{"shop / invoices: ", "kept until", "tax law requires keeping invoices for seven years", "shop_backups: removed from 2 backup copies"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, mail)
		}
	}
	if n := s.backupsHolding(p.Email); n != 0 {
		t.Errorf("%d backups still hold Alan's email", n)
	}
	tombs, err := s.app.Store.Tombstones(context.Background(), "shop", time.Time{})
	if err != nil || len(tombs) < 5 {
		t.Errorf("%d tombstones (%v), want one per erased row and the email", len(tombs), err)
	}

	var detail struct {
		Retained []struct {
			Table     string `json:"table"`
			Basis     string `json:"basis"`
			Rows      int    `json:"rows"`
			LastUntil string `json:"last_until"`
		} `json:"retained"`
	}
	s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
	if len(detail.Retained) != 1 || detail.Retained[0].Table != "invoices" || detail.Retained[0].Rows != invoices ||
		!strings.Contains(detail.Retained[0].Basis, "tax") || detail.Retained[0].LastUntil == "" {
		t.Errorf("the officer sees retained %+v", detail.Retained)
	}
	// The purge looked once and sleeps until the invoices' period ends.
	waitFor(t, func() bool {
		d, err := s.app.Temporal.DescribeWorkflowExecution(context.Background(), workflows.RetentionPurgeWorkflowID(r.ID), "")
		return err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
			d.WorkflowExecutionInfo.HistoryLength >= 11 // its first look done, its timer started
	})
	noneInHistory(t, workflows.RetentionPurgeWorkflowID(r.ID), p.Email, p.Name)
	s.recordHistory(r.ID, "subject_request_deletion_retained_fulfilling_first.json")
}

// TestLegalHoldThroughTheAPI: an officer holds the support tickets; a
// deletion erases the rest and tells the requester, in plain words, what
// is held and that they will hear when it ends (never why); releasing the
// hold erases the held part at once, the requester gets exactly one
// email saying what was erased then and what the law still keeps until
// when, and the officer sees the part as erased, not held.
func TestLegalHoldThroughTheAPI(t *testing.T) {
	s := newSystem(t)
	const person = 2
	p := demo.PersonAt(person)
	reason := "Litigation: Example Ltd v Hopper, claim 2026-117"

	var bad struct{ Fields map[string]string }
	if code := s.call("POST", "/api/v1/officer/holds", s.token, map[string]any{"scope": "table", "system": "shop", "table": "nope", "reason": ""}, &bad); code != http.StatusBadRequest || bad.Fields["table"] == "" || bad.Fields["reason"] == "" {
		t.Errorf("a bad hold answered %d %+v", code, bad.Fields)
	}
	var hold struct {
		ID     string `json:"id"`
		Active bool   `json:"active"`
		Covers string `json:"covers"`
	}
	if code := s.call("POST", "/api/v1/officer/holds", s.token, map[string]any{"scope": "table", "system": "shop", "table": "support_tickets", "reason": reason}, &hold); code != http.StatusCreated || !hold.Active {
		t.Fatalf("place hold: %d %+v", code, hold)
	}
	tickets := s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person)
	invoices := s.shopCount(`SELECT count(*) FROM invoices WHERE id / 10 = $1`, person)
	if tickets == 0 || invoices == 0 {
		t.Fatalf("the demo person has %d tickets and %d invoices; the test needs both", tickets, invoices)
	}
	r, mail := s.run(person, "deletion")
	for _, want := range []string{
		fmt.Sprintf("shop / support_tickets: %d kept unchanged for now, because a legal hold covers them (a duty to preserve records for a legal claim or an investigation); we will erase them when the hold ends and write to you then", tickets),
		"shop / orders: ", " deleted",
	} {
		if !strings.Contains(mail, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, mail)
		}
	}
	if strings.Contains(mail, "Litigation") {
		t.Errorf("the completion email says why the hold was placed:\n%s", mail)
	}
	if n := s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person); n != tickets || n == 0 {
		t.Errorf("%d of %d held tickets remain", n, tickets)
	}
	if n := s.shopCount(`SELECT count(*) FROM orders WHERE customer_id = $1`, person); n != 0 {
		t.Errorf("%d orders remain though not held", n)
	}
	type deferredPart struct {
		State   string `json:"state"`
		Summary string `json:"summary"`
	}
	var detail struct {
		Deferred []deferredPart
		Timeline []struct{ Action, Detail string }
	}
	s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
	if len(detail.Deferred) != 1 || detail.Deferred[0].State != "held" || !strings.Contains(detail.Deferred[0].Summary, "wait for legal hold "+hold.ID) {
		t.Errorf("before the release the officer sees %+v", detail.Deferred)
	}

	if code := s.call("DELETE", "/api/v1/officer/holds/"+hold.ID, s.token, nil, &hold); code != http.StatusOK || hold.Active {
		t.Fatalf("release: %d %+v", code, hold)
	}
	waitUntil(t, "the held tickets and customer erased after the release", func() bool {
		return s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person)+
			s.shopCount(`SELECT count(*) FROM customers WHERE id = $1`, person) == 0
	})
	if code := s.call("DELETE", "/api/v1/officer/holds/"+hold.ID, s.token, nil, nil); code != http.StatusConflict {
		t.Errorf("releasing twice answered %d, want 409", code)
	}
	// The requester hears once what went and what the law keeps.
	after := s.waitMail(r.ID, "hold_released")
	if after.Subject != "Your privacy request "+r.ID+": the legal hold has ended" {
		t.Errorf("subject %q", after.Subject)
	}
	for _, want := range []string{
		"That hold has ended, and we have now erased what it kept.",
		fmt.Sprintf("- Support tickets: %d deleted", tickets),
		"- Customers: 1 deleted",
		"What we still keep, because the law requires it, and until when:",
		fmt.Sprintf("- Your invoices (Address, Payment card, Name): %d records, kept until ", invoices),
		"(tax law requires keeping invoices for seven years); we use them for nothing else and erase them then",
	} {
		if !strings.Contains(after.Text, want) {
			t.Errorf("the email after the release lacks %q:\n%s", want, after.Text)
		}
	}
	if strings.Contains(after.Text, "Litigation") || strings.Contains(after.Text, "support_tickets") {
		t.Errorf("the email after the release names the hold's reason or a raw table name:\n%s", after.Text)
	}
	// The timeline and the request's view say so once the purge has
	// recorded it (the rows go first, in the same step).
	waitUntil(t, "the officer's view of the request to show the held part erased", func() bool {
		s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
		resumed := false
		for _, e := range detail.Timeline {
			resumed = resumed || e.Action == "erasure resumed"
		}
		return resumed && len(detail.Deferred) == 1 && detail.Deferred[0].State == "erased"
	})
	if sum := detail.Deferred[0].Summary; !strings.Contains(sum, "erased on ") || !strings.Contains(sum, "after legal hold "+hold.ID+" ended") ||
		!strings.Contains(sum, fmt.Sprintf("support_tickets: %d deleted", tickets)) {
		t.Errorf("after the release the officer reads %q", sum)
	}

	// A worker restart replays the purge, and another release wakes it
	// to look again: neither sends the email a second time.
	s.restartWorker()
	looks := s.aftercareLooks(r.ID)
	if err := s.app.Temporal.SignalWorkflow(context.Background(), workflows.RetentionPurgeWorkflowID(r.ID), "", workflows.SignalHoldReleased, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the purge to look again after a second signal", func() bool { return s.aftercareLooks(r.ID) > looks })
	if n := countMails(s, r.ID, "hold_released"); n != 1 {
		t.Errorf("%d emails say the hold ended, want exactly 1: %v", n, steps(s.sendgrid.Mails()))
	}
	noneInHistory(t, workflows.RetentionPurgeWorkflowID(r.ID), reason, p.Email, p.Name)
	s.recordWorkflowHistory(workflows.RetentionPurgeWorkflowID(r.ID), "retention_purge_hold_released_emailed.json")
}

// aftercareLooks counts the purge's finished looks (Aftercare activities
// completed) in its current run.
func (s *system) aftercareLooks(requestID string) int {
	s.t.Helper()
	it := s.app.Temporal.GetWorkflowHistory(context.Background(), workflows.RetentionPurgeWorkflowID(requestID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]bool{}
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "Aftercare" {
			scheduled[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] {
			n++
		}
	}
	return n
}

func countMails(s *system, requestID, step string) int {
	n := 0
	for _, m := range s.sendgrid.Mails() {
		if m.RequestID == requestID && m.Step == step {
			n++
		}
	}
	return n
}

// waitUntil waits, at most 30 seconds, until ok, and fails saying what
// did not happen.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("waited 30 seconds for %s", what)
}
