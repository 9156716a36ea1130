package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestDryRunRefusesACorrectionThatCannotBeWritten: a correction stored
// before values were checked (or under another DSAR_PHONE_REGION) is
// refused when the officer asks for its dry run, 400 naming the field,
// before the workflow is asked (here it could not be reached).
func TestDryRunRefusesACorrectionThatCannotBeWritten(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	r := &store.Request{ID: "DSR-00000000C", Type: domain.TypeCorrection, Status: domain.StatusInReview, Email: "grace@example.com", Name: "Grace",
		Corrections: []domain.Correction{{Field: "name", Value: "Grace Hopper"}, {Field: "phone", Value: "06 1234 5678"}},
		ReceivedAt:  testNow.AddDate(0, 0, -2), DueAt: testNow.AddDate(0, 0, 28), Regime: "default"}
	if err := h.store.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	resp := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+r.ID+"/dry-run", "")
	if resp.code != http.StatusBadRequest || !strings.Contains(resp.body, `"corrections[1].value"`) || !strings.Contains(resp.body, "international form") {
		t.Errorf("dry run of an unwritable phone number: %d %s; want 400 on corrections[1].value", resp.code, resp.body)
	}
	if _, err := h.store.GetDryRun(ctx, r.ID); err == nil {
		t.Error("a dry run was stored")
	}
	// None was made, so there is none to read.
	resp = h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/"+r.ID+"/dry-run", "")
	if resp.code != http.StatusNotFound || !strings.Contains(resp.body, "no dry run was made") {
		t.Errorf("GET dry-run before any: %d %s", resp.code, resp.body)
	}
}
