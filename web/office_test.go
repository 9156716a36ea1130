package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// fakeOffice answers the commands that go to Temporal as a test says,
// once switched on; otherwise the real service answers.
type fakeOffice struct {
	Office

	mu     sync.Mutex
	on     bool
	answer error
	status domain.Status
	calls  []string
}

// answerWith switches the fake on: every Temporal command answers err
// (nil: success, with status for decisions).
func (f *fakeOffice) answerWith(err error, status domain.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on, f.answer, f.status = true, err, status
}

func (f *fakeOffice) take(call string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.on, f.answer
}

func (f *fakeOffice) Decide(ctx context.Context, id string, approve bool, reason, actor string) (domain.Status, error) {
	if on, err := f.take("Decide"); on {
		return f.status, err
	}
	return f.Office.Decide(ctx, id, approve, reason, actor)
}

func (f *fakeOffice) MakeDryRun(ctx context.Context, id, actor string) (*domain.DryRun, error) {
	if on, err := f.take("MakeDryRun"); on {
		return &domain.DryRun{ID: "d1", RequestID: id, Type: domain.TypeDeletion}, err
	}
	return f.Office.MakeDryRun(ctx, id, actor)
}

func (f *fakeOffice) Confirm(ctx context.Context, id, dryRunID, actor string) (domain.Status, error) {
	if on, err := f.take("Confirm " + dryRunID); on {
		return f.status, err
	}
	return f.Office.Confirm(ctx, id, dryRunID, actor)
}

func (f *fakeOffice) Extend(ctx context.Context, id, reason, actor string) (time.Time, error) {
	if on, err := f.take("Extend"); on {
		return testNow.AddDate(0, 2, 0), err
	}
	return f.Office.Extend(ctx, id, reason, actor)
}

func (f *fakeOffice) ResendEmail(ctx context.Context, id, email, actor string) (office.Resent, error) {
	if on, err := f.take("ResendEmail"); on {
		return office.Resent{Sent: []string{"verification"}}, err
	}
	return f.Office.ResendEmail(ctx, id, email, actor)
}

func (f *fakeOffice) ApproveNotice(ctx context.Context, id, subject, text, actor string) error {
	if on, err := f.take("ApproveNotice"); on {
		return err
	}
	return f.Office.ApproveNotice(ctx, id, subject, text, actor)
}

func (f *fakeOffice) RecordAuthority(ctx context.Context, id string, n office.AuthorityNotification, actor string) error {
	if on, err := f.take("RecordAuthority"); on {
		return err
	}
	return f.Office.RecordAuthority(ctx, id, n, actor)
}

func (f *fakeOffice) ResolveUncertain(ctx context.Context, id string, resend bool, actor string) error {
	if on, err := f.take("ResolveUncertain"); on {
		return err
	}
	return f.Office.ResolveUncertain(ctx, id, resend, actor)
}

// TestCommandAnswersAsTheAPIDocumentSays: every command that goes to a
// workflow answers 200 when carried out, 202 while still being carried
// out, 409 with the reason when refused and 503 when the workflow
// service is down, as openapi.json lists.
func TestCommandAnswersAsTheAPIDocumentSays(t *testing.T) {
	commands := []struct{ path, body string }{
		{"/api/v1/officer/requests/DSR-00000000A/approve", ""},
		{"/api/v1/officer/requests/DSR-00000000A/approve", `{"dry_run_id":"d1"}`},
		{"/api/v1/officer/requests/DSR-00000000A/dry-run", ""},
		{"/api/v1/officer/requests/DSR-00000000A/deny", `{"reason":"not ours"}`},
		{"/api/v1/officer/requests/DSR-00000000A/extend", `{"reason":"complex"}`},
		{"/api/v1/officer/requests/DSR-00000000A/resend-email", `{}`},
		{"/api/v1/officer/breaches/BRE-0000000000/notice", `{"subject":"s","text":"t"}`},
		{"/api/v1/officer/breaches/BRE-0000000000/authority", `{"authority":"ICO","reference":"1"}`},
		{"/api/v1/officer/breaches/BRE-0000000000/uncertain", `{"resend":true}`},
	}
	answers := []struct {
		name string
		err  error
		code int
		body string
	}{
		{"carried out", nil, http.StatusOK, `"id"`},
		{"still processing", office.ErrStillProcessing, http.StatusAccepted, `"processing"`},
		{"refused", &office.RefusedError{Reason: "request is completed and no longer open"}, http.StatusConflict, "no longer open"},
		{"unavailable", office.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
		{"not found", &office.NotFoundError{What: "no such thing"}, http.StatusNotFound, "no such thing"},
	}
	h := newHarness(t, false)
	for _, a := range answers {
		h.office.answerWith(a.err, domain.StatusCompleted)
		for _, c := range commands {
			r := h.officer(store.RoleOfficer, "POST", c.path, c.body)
			if r.code != a.code || !strings.Contains(r.body, a.body) {
				t.Errorf("%s, %s: %d %s; want %d with %s", a.name, c.path, r.code, r.body, a.code, a.body)
			}
		}
	}
	// An approval naming a dry run confirms it; one without approves
	// as before.
	h.office.mu.Lock()
	calls := strings.Join(h.office.calls, ",")
	h.office.mu.Unlock()
	if !strings.Contains(calls, "Decide,Confirm d1,MakeDryRun") {
		t.Errorf("office calls %s; want approve, approve with a dry run, dry run in turn", calls)
	}
	if r := h.officer(store.RoleOfficer, "POST", commands[0].path, `{"dry_run":"d1"}`); r.code != http.StatusBadRequest || !strings.Contains(r.body, "dry_run") {
		t.Errorf("an approval with an unknown field: %d %s; want 400 naming it", r.code, r.body)
	}
	// Viewers may not act, whatever the office would say.
	if r := h.officer(store.RoleViewer, "POST", commands[0].path, ""); r.code != http.StatusForbidden {
		t.Errorf("a viewer approving: %d, want 403", r.code)
	}
}
