package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/store"
)

// TestDashboardNotesAndAssignee: on a request's page an officer adds a
// note and assigns the request; both show, in the list too, and a viewer
// sees them without the forms and cannot post them.
func TestDashboardNotesAndAssignee(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("grace@example.org", store.RoleOfficer)
	h.addOfficer("vera@example.org", store.RoleViewer)
	id := h.submitted("Ada")
	b := h.browser()
	b.signIn("grace@example.org", officerPassword)
	page := b.get("/officer/requests/" + id)
	csrf := csrfOf(t, page.body)
	if !strings.Contains(page.body, "Internal notes") || !strings.Contains(page.body, `id="assignee">no one<`) || !strings.Contains(page.body, "Online (form or API)") {
		t.Fatalf("request page:\n%s", page.body)
	}
	if r := b.post("/officer/requests/"+id+"/notes", url.Values{"csrf": {csrf}, "body": {"  "}}); r.code != http.StatusBadRequest || !strings.Contains(r.body, "Write the note") {
		t.Errorf("empty note: %d", r.code)
	}
	r := b.post("/officer/requests/"+id+"/notes", url.Values{"csrf": {csrf}, "body": {"Rang Ada <back> about her ID."}})
	if r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=noted") {
		t.Fatalf("add note: %d %q", r.code, r.header.Get("Location"))
	}
	if r := b.post("/officer/requests/"+id+"/assign", url.Values{"csrf": {csrf}, "assignee": {"vera@example.org"}}); r.code != http.StatusBadRequest {
		t.Errorf("assigning a viewer: %d", r.code)
	}
	if r := b.post("/officer/requests/"+id+"/assign", url.Values{"csrf": {csrf}, "assignee": {"grace@example.org"}}); r.code != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", r.code, r.body)
	}
	page = b.get("/officer/requests/" + id + "?done=assigned")
	if !strings.Contains(page.body, `id="assignee">grace@example.org<`) || !strings.Contains(page.body, html.EscapeString("Rang Ada <back> about her ID.")) ||
		!strings.Contains(page.body, "Assignment saved.") {
		t.Errorf("request page after note and assignment:\n%s", page.body)
	}
	list := b.get("/officer/requests?assignee=me")
	if !strings.Contains(list.body, id) || !strings.Contains(list.body, "<td>grace@example.org</td>") {
		t.Errorf("list of mine:\n%s", list.body)
	}
	if list := b.get("/officer/requests?assignee=none"); strings.Contains(list.body, id) {
		t.Error("an assigned request is listed as assigned to no one")
	}

	v := h.browser()
	v.signIn("vera@example.org", officerPassword)
	page = v.get("/officer/requests/" + id)
	if !strings.Contains(page.body, "about her ID.") || strings.Contains(page.body, `action="/officer/requests/`+id+`/notes"`) || strings.Contains(page.body, `id="assign"`) {
		t.Errorf("viewer's page:\n%s", page.body)
	}
	if r := v.post("/officer/requests/"+id+"/notes", url.Values{"csrf": {csrfOf(t, page.body)}, "body": {"x"}}); r.code != http.StatusForbidden {
		t.Errorf("viewer adding a note: %d", r.code)
	}
	ns, _ := h.store.Notes(context.Background(), id)
	if len(ns) != 1 || ns[0].Author != "grace@example.org" {
		t.Errorf("notes: %+v", ns)
	}
}

// TestDashboardBulkAssign: requests ticked on the list are assigned at
// once; a list naming an unknown one assigns none.
func TestDashboardBulkAssign(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("grace@example.org", store.RoleOfficer)
	a, b2 := h.submitted("Ada"), h.submitted("Bea")
	b := h.browser()
	b.signIn("grace@example.org", officerPassword)
	list := b.get("/officer/requests?type=access")
	if !strings.Contains(list.body, `form="bulk-assign"`) {
		t.Fatalf("no bulk assignment on the list:\n%s", list.body)
	}
	csrf := csrfOf(t, list.body)
	r := b.post("/officer/requests/assign", url.Values{"csrf": {csrf}, "ids": {a, "DSR-NOPE000000"}, "assignee": {"grace@example.org"}, "back": {"/officer/requests?type=access"}})
	if r.code != http.StatusNotFound || !strings.Contains(r.body, "DSR-NOPE000000") {
		t.Errorf("bulk with an unknown reference: %d", r.code)
	}
	if got, _ := h.store.GetRequest(context.Background(), a); got.AssigneeID != nil {
		t.Fatal("a refused bulk assignment assigned a request")
	}
	r = b.post("/officer/requests/assign", url.Values{"csrf": {csrf}, "ids": {a, b2}, "assignee": {"grace@example.org"}, "back": {"/officer/requests?type=access"}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/requests?type=access&done=assigned" {
		t.Fatalf("bulk assign: %d %q", r.code, r.header.Get("Location"))
	}
	list = b.get("/officer/requests?assignee=grace@example.org")
	if n := strings.Count(list.body, "<td>grace@example.org</td>"); n != 2 {
		t.Errorf("%d requests listed as Grace's", n)
	}
}

// TestDashboardLogsALetter: the form logs a letter received days ago
// from a person with no address, verified by the officer; mistakes show
// on the form and store nothing.
func TestDashboardLogsALetter(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("grace@example.org", store.RoleOfficer)
	h.addOfficer("vera@example.org", store.RoleViewer)
	b := h.browser()
	b.signIn("grace@example.org", officerPassword)
	form := b.get("/officer/requests/new")
	if form.code != 200 || !strings.Contains(form.body, "Log a request") {
		t.Fatalf("form: %d", form.code)
	}
	csrf := csrfOf(t, form.body)
	fields := url.Values{"csrf": {csrf}, "channel": {"letter"}, "received_on": {testNow.AddDate(0, 0, -5).Format("2006-01-02")},
		"type": {"access"}, "name": {"Ada Lovelace"}}
	before := h.count()
	r := b.post("/officer/requests", fields)
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "say how you verified") || !strings.Contains(r.body, `value="Ada Lovelace"`) {
		t.Errorf("without evidence: %d\n%s", r.code, r.body)
	}
	future := url.Values{}
	for k, v := range fields {
		future[k] = v
	}
	future.Set("received_on", testNow.AddDate(0, 0, 2).Format("2006-01-02"))
	future.Set("evidence", "x")
	if r := b.post("/officer/requests", future); r.code != http.StatusBadRequest || !strings.Contains(r.body, "cannot be in the future") {
		t.Errorf("received in the future: %d", r.code)
	}
	// A date the form cannot read refuses the whole form: nothing is
	// logged on the wrong date for the officer to log again.
	badDate := url.Values{}
	for k, v := range future {
		badDate[k] = v
	}
	badDate.Set("received_on", "last tuesday")
	if r := b.post("/officer/requests", badDate); r.code != http.StatusBadRequest || !strings.Contains(r.body, "a date such as") {
		t.Errorf("an unreadable date: %d", r.code)
	}
	if h.count() != before {
		t.Fatal("a refused request was stored")
	}
	fields.Set("evidence", "Signed letter matches the customer record")
	r = b.post("/officer/requests", fields)
	if r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=logged") {
		t.Fatalf("log: %d %s", r.code, r.body)
	}
	page := b.get(r.header.Get("Location"))
	if !strings.Contains(page.body, "Letter <span class=\"meta\">(logged by grace@example.org)") || !strings.Contains(page.body, "no email address") ||
		!strings.Contains(page.body, testNow.AddDate(0, 0, 25).Format("2 January 2006")) {
		t.Errorf("logged request's page:\n%s", page.body)
	}

	v := h.browser()
	v.signIn("vera@example.org", officerPassword)
	if r := v.get("/officer/requests/new"); r.code != http.StatusForbidden {
		t.Errorf("viewer opening the form: %d", r.code)
	}
	if list := v.get("/officer/requests"); regexp.MustCompile(`href="/officer/requests/new"`).MatchString(list.body) {
		t.Error("viewer offered to log a request")
	}
}
