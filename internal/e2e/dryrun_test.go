package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/domain"
)

// dryRunOf makes a dry run of a request in review through the API.
func (s *system) dryRunOf(id string) domain.DryRun {
	s.t.Helper()
	var d domain.DryRun
	if code := s.call("POST", "/api/v1/officer/requests/"+id+"/dry-run", s.token, nil, &d); code != http.StatusOK || d.ID == "" {
		s.t.Fatalf("dry run: %d %+v", code, d)
	}
	return d
}

// approveWith approves a request naming a dry run and answers the HTTP
// status and the error or status the API gave.
func (s *system) approveWith(id, dryRunID string) (int, string) {
	s.t.Helper()
	var out struct{ Status, Error string }
	var body any
	if dryRunID != "" {
		body = map[string]string{"dry_run_id": dryRunID}
	}
	code := s.call("POST", "/api/v1/officer/requests/"+id+"/approve", s.token, body, &out)
	return code, out.Status + out.Error
}

// auditActions lists the request's audit trail's actions.
func (s *system) auditActions(id string) []string {
	s.t.Helper()
	trail, err := s.app.Store.Timeline(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range trail {
		out = append(out, e.Action)
	}
	return out
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestCorrectionDryRunShowsTheNormalisedPhoneAndTheConfirmedOneIsWritten:
// a phone number typed with spaces is shown in the dry run as it will be
// written, in E.164; the approval is refused until it confirms the
// current dry run, and then writes exactly that.
func TestCorrectionDryRunShowsTheNormalisedPhoneAndTheConfirmedOneIsWritten(t *testing.T) {
	s := newSystem(t)
	const person = 2 // Grace Hopper
	p := demo.PersonAt(person)

	// A phone number with no country code is refused on submission,
	// naming the field; nothing is stored.
	var refusedSubmit struct {
		Error  string
		Fields map[string]string
	}
	code := s.call("POST", "/api/v1/requests", "", map[string]any{"type": "correction", "email": p.Email, "name": p.Name,
		"corrections": []map[string]string{{"field": "phone", "value": "06 1234 5678"}}}, &refusedSubmit)
	if code != http.StatusBadRequest || !strings.Contains(refusedSubmit.Fields["corrections[0].value"], "international form") {
		t.Fatalf("a phone number without country code: %d %+v, want 400 on corrections[0].value", code, refusedSubmit)
	}

	r := s.reviewed(person, "correction",
		map[string]string{"field": "phone", "value": "+31 6 1234 5678"},
		map[string]string{"field": "email", "value": " Grace.Hopper@Navy.EXAMPLE "})
	path := "/api/v1/officer/requests/" + r.ID

	if code, msg := s.approveWith(r.ID, ""); code != http.StatusConflict || !strings.Contains(msg, "needs its dry run confirmed: make a dry run") {
		t.Errorf("approval before any dry run: %d %q, want 409 asking for a dry run", code, msg)
	}
	var none struct{ Error string }
	if code := s.call("GET", path+"/dry-run", s.token, nil, &none); code != http.StatusNotFound || !strings.Contains(none.Error, "no dry run") {
		t.Errorf("GET dry-run before one was made: %d %+v", code, none)
	}

	before := s.snapshot()
	first := s.dryRunOf(r.ID)
	if after := s.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("the dry run changed the shop's database")
	}
	cols := map[string]domain.DryRunColumn{}
	for _, c := range first.Columns {
		cols[c.Table+"."+c.Column] = c
	}
	phone := cols["customers.phone"]
	if phone.Field != "phone" || phone.Rows != 1 || fmt.Sprint(phone.Before) != fmt.Sprintf("[+3161%07d]", person) || phone.After != "+31612345678" {
		t.Errorf("dry run of customers.phone: %+v, want one row, +3161%07d before, +31612345678 after", phone, person)
	}
	if email := cols["customers.email"]; email.Rows != 1 || fmt.Sprint(email.Before) != "["+p.Email+"]" || email.After != "grace.hopper@navy.example" {
		t.Errorf("dry run of customers.email: %+v, want %s before, the address in lower case after", email, p.Email)
	}

	// Viewing it again shows the same dry run, and is audited.
	var viewed domain.DryRun
	if code := s.call("GET", path+"/dry-run", s.token, nil, &viewed); code != http.StatusOK || viewed.ID != first.ID || len(viewed.Columns) != len(first.Columns) {
		t.Errorf("GET dry-run: %d %+v, want %s", code, viewed, first.ID)
	}

	// Another officer makes a newer dry run: the older one no longer
	// confirms anything.
	second := s.dryRunOf(r.ID)
	if code, msg := s.approveWith(r.ID, first.ID); code != http.StatusConflict || !strings.Contains(msg, "is not the current one") {
		t.Errorf("approval naming the older dry run: %d %q, want 409", code, msg)
	}
	if code, msg := s.approveWith(r.ID, "made-up"); code != http.StatusConflict || !strings.Contains(msg, "not the current one") {
		t.Errorf("approval naming no dry run that was made: %d %q, want 409", code, msg)
	}
	if after := s.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused approval changed the shop's database")
	}

	if code, status := s.approveWith(r.ID, second.ID); code != http.StatusOK || status != "completed" {
		t.Fatalf("approval confirming the current dry run: %d %q", code, status)
	}
	s.waitMail(r.ID, "completed")
	after := s.snapshot()
	unchangedExcept(t, before, after, person)
	if row := after["customers"][person]; !strings.Contains(row, "|+31612345678|") || !strings.Contains(row, "|grace.hopper@navy.example|") {
		t.Errorf("customer row after the correction: %q, want +31612345678 and the address in lower case", row)
	}
	var confirmed domain.DryRun
	if code := s.call("GET", path+"/dry-run", s.token, nil, &confirmed); code != http.StatusOK || confirmed.ID != second.ID || confirmed.ConfirmedAt == nil || confirmed.ConfirmedBy == "" {
		t.Errorf("the dry run after approval: %d %+v, want %s confirmed", code, confirmed, second.ID)
	}
	actions := s.auditActions(r.ID)
	if count(actions, "dry_run") != 2 || count(actions, "dry_run_viewed") < 1 || count(actions, "dry_run_confirmed") != 1 {
		t.Errorf("audit trail %v, want two dry runs, a viewing and one confirmation", actions)
	}
	s.recordHistory(r.ID, "subject_request_correction_dry_run.json")
}

// TestDeletionDryRunListsWhatIsThenErased: the dry run's counts per table
// (deleted, masked, kept by law) are those the erasure reports.
func TestDeletionDryRunListsWhatIsThenErased(t *testing.T) {
	s := newSystem(t)
	const person = 1 // Alan Turing
	before := s.snapshot()
	r := s.reviewed(person, "deletion")
	plan := s.dryRunOf(r.ID)
	if after := s.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("the dry run erased")
	}
	planned := map[string]domain.ErasedTable{}
	for _, tb := range plan.Tables {
		planned[tb.Table] = tb
	}
	owned := countOwned(before, person)
	if got := planned["customers"].Deleted; got != 1 {
		t.Errorf("dry run deletes %d customers rows, want 1", got)
	}
	if got := planned["invoices"]; got.Retained != owned["invoices"] || got.Retained == 0 || got.Basis == "" {
		t.Errorf("dry run of invoices: %+v, want all %d kept by law with the basis", got, owned["invoices"])
	}
	if got := planned["web_logs"].Masked; got != owned["web_logs"] {
		t.Errorf("dry run masks %d web_logs rows, want %d", got, owned["web_logs"])
	}
	if code, status := s.approveWith(r.ID, plan.ID); code != http.StatusOK || status != "completed" {
		t.Fatalf("approve: %d %q", code, status)
	}
	s.waitMail(r.ID, "completed")
	var detail struct{ Fulfilment *domain.Fulfilment }
	if code := s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail); code != http.StatusOK || detail.Fulfilment == nil {
		t.Fatalf("request detail: %d", code)
	}
	if got, want := fmt.Sprintf("%+v", plan.Tables), fmt.Sprintf("%+v", detail.Fulfilment.Erased); got != want {
		t.Errorf("the dry run showed\n%s\nthe erasure did\n%s", got, want)
	}
	unchangedExcept(t, before, s.snapshot(), person)
	s.recordHistory(r.ID, "subject_request_deletion_dry_run.json")
}

// TestBrowserOfficerConfirmsACorrectionsDryRun: on the request page the
// officer makes a dry run, reads each column's value before and after,
// and approves by confirming it on the page, in a second step.
func TestBrowserOfficerConfirmsACorrectionsDryRun(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	const person = 3 // Katherine Johnson
	r := s.reviewed(person, "correction", map[string]string{"field": "mobile", "value": "+44 20 7946 0958"})
	signInAsOfficer(t, ctx, s)
	run(t, ctx, "open the correction in review",
		chromedp.Navigate(s.base+"/officer/requests/"+r.ID),
		chromedp.WaitVisible(`//p[@id="no-dry-run"]`),
	)
	offered, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('button')].some(b => /Approve|Confirm and/.test(b.textContent))`))
	if err != nil || offered {
		t.Errorf("before a dry run the page offers an approval (%v)", err)
	}
	run(t, ctx, "make a dry run",
		chromedp.Click(`//button[text()="Make a dry run"]`),
		chromedp.WaitVisible(chromedp.CSS(`#dry-run-columns`)),
		shot("40-dry-run"),
	)
	checkAxe(t, ctx, "request page with its dry run")
	columns := text(t, ctx, "#dry-run-columns")
	for _, want := range []string{"mobile", "shop / customers.phone", fmt.Sprintf("+3161%07d", person), "+442079460958"} {
		if !strings.Contains(columns, want) {
			t.Errorf("the dry run's columns lack %q:\n%s", want, columns)
		}
	}
	if before := s.snapshot()["customers"][person]; !strings.Contains(before, fmt.Sprintf("|+3161%07d|", person)) {
		t.Fatalf("the dry run changed the customer row: %q", before)
	}
	run(t, ctx, "confirm and correct",
		chromedp.Click(`//button[text()="Confirm and correct…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		shot("41-dry-run-confirm"),
	)
	checkAxe(t, ctx, "dry run's confirmation step")
	if step := text(t, ctx, "#confirm"); !strings.Contains(step, "Write the corrected values as the dry run shows?") || !strings.Contains(step, "correct 1 column in 1 row") {
		t.Errorf("the confirmation step says:\n%s", step)
	}
	if row := s.snapshot()["customers"][person]; strings.Contains(row, "+442079460958") {
		t.Fatal("the correction was written before the officer confirmed it")
	}
	run(t, ctx, "yes",
		chromedp.Click(`//button[text()="Yes, confirm and correct"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("42-dry-run-confirmed"),
	)
	if flash, status := text(t, ctx, ".notice"), text(t, ctx, ".status-label"); !strings.Contains(flash, "Approved") || status != "Completed" {
		t.Errorf("after confirming: notice %q, status %q", flash, status)
	}
	if row := s.snapshot()["customers"][person]; !strings.Contains(row, "|+442079460958|") {
		t.Errorf("customer row after the confirmed correction: %q", row)
	}
}
