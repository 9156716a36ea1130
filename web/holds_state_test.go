package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestRequestShowsWhatAHoldDeferredAndItsFinalState: while a hold
// stops part of a deletion the officer reads that it waits; once the
// hold ended and the part was erased, the request's page and the API
// say when it was erased, after which hold, and what went, not "held".
func TestRequestShowsWhatAHoldDeferredAndItsFinalState(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	r := &store.Request{ID: "DSR-00000000H", Type: domain.TypeDeletion, Status: domain.StatusCompleted, Email: "grace@example.com", Name: "Grace",
		ReceivedAt: testNow.AddDate(0, 0, -40), DueAt: testNow.AddDate(0, 0, -10), Regime: "default"}
	if err := h.store.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	f := domain.Fulfilment{Complete: true, Erased: []domain.ErasedTable{{System: "shop", Table: "support_tickets", Held: 2}}}
	if err := h.store.SaveFulfilment(ctx, r.ID, f, testNow.AddDate(0, 0, -12)); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Defer(ctx, store.DeferredErasure{RequestID: r.ID, SystemName: "shop", HoldIDs: []string{"HLD-LITIGATION"},
		Tables: []string{"support_tickets"}, DeferredAt: testNow.AddDate(0, 0, -12)}); err != nil {
		t.Fatal(err)
	}
	o := h.addOfficer("grace.officer@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn(o.Email, officerPassword)
	page := func() string {
		resp := b.get("/officer/requests/" + r.ID)
		if resp.code != http.StatusOK {
			t.Fatalf("request page: %d", resp.code)
		}
		return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(resp.body, "")) // the text the officer reads
	}
	type part struct {
		State   string     `json:"state"`
		Summary string     `json:"summary"`
		Resumed *time.Time `json:"resumed_at"`
		Outcome *struct {
			Tables []domain.ErasedTable `json:"tables"`
		} `json:"outcome"`
	}
	api := func() []part {
		resp := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+r.ID, "")
		var out struct{ Deferred []part }
		if err := json.Unmarshal([]byte(resp.body), &out); resp.code != http.StatusOK || err != nil {
			t.Fatalf("API: %d %s (%v)", resp.code, resp.body, err)
		}
		return out.Deferred
	}

	if p := page(); !strings.Contains(p, "support_tickets, with the rows they refer to, wait for HLD-LITIGATION; erasure resumes when released") {
		t.Errorf("while held the page lacks what waits:\n%s", p)
	}
	if d := api(); len(d) != 1 || d[0].State != "held" || !strings.Contains(d[0].Summary, "wait for legal hold HLD-LITIGATION") {
		t.Errorf("while held the API says %+v", d)
	}

	erased := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if err := h.store.SaveOutcome(ctx, r.ID, "shop", []domain.ErasedTable{{System: "shop", Table: "support_tickets", Deleted: 2}, {System: "shop", Table: "customers", Deleted: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Resumed(ctx, r.ID, "shop", erased); err != nil {
		t.Fatal(err)
	}
	p := page()
	for _, want := range []string{
		"support_tickets, with the rows they refer to, erased on 30 November 2026 after legal hold HLD-LITIGATION ended (support_tickets: 2 deleted; customers: 1 deleted)",
		"2, erased 30 November 2026",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("after the hold the page lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "erasure resumes when released") {
		t.Errorf("after the hold the page still says the part waits:\n%s", p)
	}
	d := api()
	if len(d) != 1 || d[0].State != "erased" || d[0].Resumed == nil || !d[0].Resumed.Equal(erased) || d[0].Outcome == nil || len(d[0].Outcome.Tables) != 2 ||
		!strings.Contains(d[0].Summary, "erased on 30 November 2026 after legal hold HLD-LITIGATION ended") {
		t.Errorf("after the hold the API says %+v", d)
	}
}
