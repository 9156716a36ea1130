package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
)

// TestDuplicateClosesTheRequest: an officer closes a request in review as
// a duplicate of another; bad closings before it are refused. The request ends duplicate, names the other,
// and the requester is emailed once.
func TestDuplicateClosesTheRequest(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	dup := func(d time.Duration, c CloseDuplicate) *answer[CloseDuplicateResult] {
		return updateAt[CloseDuplicateResult](h, d, UpdateCloseDuplicate, c)
	}
	self := dup(2*time.Hour, CloseDuplicate{Of: h.id, Actor: "grace@example.org"})
	noOther := dup(2*time.Hour+time.Minute, CloseDuplicate{Actor: "grace@example.org"})
	anonymous := dup(2*time.Hour+2*time.Minute, CloseDuplicate{Of: "DSR-OTHER00001"})
	closing := dup(3*time.Hour, CloseDuplicate{Of: "DSR-OTHER00001", Actor: "grace@example.org"})

	res := h.run()
	if res.Status != domain.StatusDuplicate || !closing.done || closing.result.Status != domain.StatusDuplicate {
		t.Fatalf("result %+v, closing %+v", res, closing)
	}
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"itself":     {self.rejected, "duplicate of itself"},
		"no other":   {noOther.rejected, "request that continues is required"},
		"no officer": {anonymous.rejected, "officer is required"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: rejected with %v, want %q", name, c.err, c.want)
		}
	}
	r := h.stored()
	if r.Status != domain.StatusDuplicate || r.DuplicateOf != "DSR-OTHER00001" || r.ClosedAt == nil {
		t.Errorf("stored %s, of %q, closed %v", r.Status, r.DuplicateOf, r.ClosedAt)
	}
	h.wantSteps("acknowledgement", "verification", "verified", "duplicate")
	if m, ok := h.mail.message("duplicate"); !ok || !strings.Contains(m.Text, "DSR-OTHER00001") {
		t.Errorf("the duplicate email does not name the request that continues:\n%s", m.Text)
	}
}

// TestDuplicateRefusedOnceApproved: a closing that arrives after the
// decision is refused; the request completes as approved.
func TestDuplicateRefusedOnceApproved(t *testing.T) {
	h := newHarness(t, "")
	h.verifyAt(time.Hour)
	h.decideAt(2*time.Hour, ReviewDecision{Decision: Approve, Actor: "grace@example.org"})
	closing := updateAt[CloseDuplicateResult](h, 2*time.Hour, UpdateCloseDuplicate, CloseDuplicate{Of: "DSR-OTHER00001", Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusCompleted {
		t.Fatalf("result %+v", res)
	}
	if closing.rejected == nil || !strings.Contains(closing.rejected.Error(), "can no longer be closed as a duplicate") {
		t.Errorf("closing after the approval: rejected with %v", closing.rejected)
	}
	h.wantSteps("acknowledgement", "verification", "verified", "completed")
}

// TestDuplicateWhileVerifying: a request still waiting for its address
// to be confirmed can be closed; it ends at once, without reminder.
func TestDuplicateWhileVerifying(t *testing.T) {
	h := newHarness(t, "")
	closing := updateAt[CloseDuplicateResult](h, time.Hour, UpdateCloseDuplicate, CloseDuplicate{Of: "DSR-OTHER00001", Actor: "grace@example.org"})
	if res := h.run(); res.Status != domain.StatusDuplicate || closing.result.Status != domain.StatusDuplicate {
		t.Fatalf("result %+v, closing %+v", res, closing)
	}
	h.wantSteps("acknowledgement", "verification", "duplicate")
}
