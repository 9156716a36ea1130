package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestDeletionApprovalConfirmsTheCurrentDryRun: a deletion started with
// dry runs is approved only by confirming the latest dry run, which
// showed what then went; refused approvals change nothing.
func TestDeletionApprovalConfirmsTheCurrentDryRun(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	const officer = "grace@example.org"
	unconfirmed := h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: officer})
	first := updateAt[DryRunResult](h, 3*time.Hour, UpdateDryRun, DryRun{ID: "d1", Actor: officer})
	var planned *domain.DryRun
	h.env.RegisterDelayedCallback(func() {
		planned = h.openDryRun()
		if n := h.shopCount(`SELECT count(*) FROM customers WHERE email = ?`, "ada@example.com"); n != 1 {
			t.Errorf("after the dry run Ada has %d customer rows, want 1: a dry run must not erase", n)
		}
	}, 3*time.Hour+time.Minute)
	noID := h.decideAt(3*time.Hour+2*time.Minute, ReviewDecision{Decision: Approve, Actor: officer})
	updateAt[DryRunResult](h, 4*time.Hour, UpdateDryRun, DryRun{ID: "d2", Actor: officer})
	stale := h.decideAt(5*time.Hour, ReviewDecision{Decision: Approve, Actor: officer, DryRunID: "d1"})
	noOfficer := updateAt[DryRunResult](h, 5*time.Hour+time.Minute, UpdateDryRun, DryRun{ID: "d3"})
	approval := h.decideAt(6*time.Hour, ReviewDecision{Decision: Approve, Actor: officer, DryRunID: "d2"})

	h.env.ExecuteWorkflow(SubjectRequest, SubjectRequestInput{RequestID: h.id, Type: domain.TypeDeletion, VerifyTTL: ttl})
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	if first.result.ID != "d1" || approval.result.Status != domain.StatusCompleted {
		t.Fatalf("dry run answered %+v, approval %+v", first, approval)
	}
	for name, c := range map[string]struct {
		rejected error
		want     string
	}{
		"approval before any dry run":  {unconfirmed.rejected, "needs its dry run confirmed: make a dry run"},
		"approval naming no dry run":   {noID.rejected, "give the ID of the current dry run (d1)"},
		"approval naming an older one": {stale.rejected, "dry run d1 is not the current one; a newer dry run (d2)"},
		"dry run without an officer":   {noOfficer.rejected, "officer is required"},
	} {
		if c.rejected == nil || !strings.Contains(c.rejected.Error(), c.want) {
			t.Errorf("%s: rejected with %v, want %q", name, c.rejected, c.want)
		}
	}
	// What the dry run showed is what the erasure did.
	var f domain.Fulfilment
	if _, err := h.store.Fulfilment(context.Background(), h.id, &f); err != nil {
		t.Fatal(err)
	}
	if planned == nil || len(planned.Tables) == 0 {
		t.Fatalf("dry run %+v, want tables", planned)
	}
	got, _ := json.Marshal(planned.Tables)
	want, _ := json.Marshal(f.Erased)
	if string(got) != string(want) {
		t.Errorf("dry run showed %s\nerasure did %s", got, want)
	}
	d, err := h.store.GetDryRun(context.Background(), h.id)
	if err != nil || d.ID != "d2" || d.ConfirmedAt == nil || d.ConfirmedBy != officer {
		t.Errorf("stored dry run %+v, %v; want d2 confirmed by %s", d, err, officer)
	}
	timeline, err := h.store.Timeline(context.Background(), h.id)
	if err != nil {
		t.Fatal(err)
	}
	var confirmedAt, erasedAt int
	for i, e := range timeline {
		switch e.Action {
		case "dry_run_confirmed":
			confirmedAt = i
		case "fulfilled":
			erasedAt = i
		}
	}
	if confirmedAt == 0 || erasedAt < confirmedAt {
		t.Errorf("audit trail: confirmation at %d, erasure at %d; want the confirmation first", confirmedAt, erasedAt)
	}
}

// openDryRun opens the request's stored dry run.
func (h *harness) openDryRun() *domain.DryRun {
	h.t.Helper()
	d, err := h.store.GetDryRun(context.Background(), h.id)
	if err != nil {
		h.t.Error(err)
		return nil
	}
	plain, err := h.fulfil.Sealer.OpenBlob(d.KeyID, store.DryRunBlobName(h.id, d.ID), d.Sealed)
	if err != nil {
		h.t.Error(err)
		return nil
	}
	var out domain.DryRun
	if err := json.Unmarshal(plain, &out); err != nil {
		h.t.Error(err)
	}
	return &out
}
