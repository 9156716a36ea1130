package e2e

import (
	"context"
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
// deletion erases the rest and tells the requester what is held (never
// why); releasing the hold erases the held part at once.
func TestLegalHoldThroughTheAPI(t *testing.T) {
	s := newSystem(t)
	const person = 2
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
	r, mail := s.run(person, "deletion")
	if !strings.Contains(mail, "held under a legal hold") || strings.Contains(mail, "Litigation") {
		t.Errorf("the completion email must say what is held, never why:\n%s", mail)
	}
	if n := s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person); n != tickets || n == 0 {
		t.Errorf("%d of %d held tickets remain", n, tickets)
	}
	if n := s.shopCount(`SELECT count(*) FROM orders WHERE customer_id = $1`, person); n != 0 {
		t.Errorf("%d orders remain though not held", n)
	}

	if code := s.call("DELETE", "/api/v1/officer/holds/"+hold.ID, s.token, nil, &hold); code != http.StatusOK || hold.Active {
		t.Fatalf("release: %d %+v", code, hold)
	}
	waitFor(t, func() bool {
		return s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person)+
			s.shopCount(`SELECT count(*) FROM customers WHERE id = $1`, person) == 0
	})
	if code := s.call("DELETE", "/api/v1/officer/holds/"+hold.ID, s.token, nil, nil); code != http.StatusConflict {
		t.Errorf("releasing twice answered %d, want 409", code)
	}
	// The timeline says so once the purge has recorded it (the rows go
	// first, in the same step).
	waitFor(t, func() bool {
		var detail struct {
			Timeline []struct{ Action, Detail string }
		}
		s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
		for _, e := range detail.Timeline {
			if e.Action == "erasure resumed" {
				return true
			}
		}
		return false
	})
	noneInHistory(t, workflows.RetentionPurgeWorkflowID(r.ID), reason)
	s.recordWorkflowHistory(workflows.RetentionPurgeWorkflowID(r.ID), "retention_purge_hold_released.json")
}
