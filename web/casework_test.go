package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// submitted stores a request through the public API and answers its id.
func (h *harness) submitted(name string) string {
	h.t.Helper()
	r := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"`+strings.ToLower(name)+`@example.com","name":"`+name+`"}`)
	if r.code != http.StatusCreated {
		h.t.Fatalf("submit: %d %s", r.code, r.body)
	}
	var got requestCreated
	r.json(h.t, &got)
	return got.ID
}

func (h *harness) trail(id string) string {
	h.t.Helper()
	es, err := h.store.Timeline(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s %s\n", e.Actor, e.Action, e.Detail)
	}
	return b.String()
}

func TestNotesAPI(t *testing.T) {
	h := newHarness(t, false)
	id := h.submitted("Ada")
	path := "/api/v1/officer/requests/" + id + "/notes"

	for _, tc := range []struct {
		role store.Role
		body string
		code int
	}{
		{store.RoleViewer, `{"body":"viewers may not write"}`, http.StatusForbidden},
		{store.RoleOfficer, `{"body":"   "}`, http.StatusBadRequest},
		{store.RoleOfficer, `{"body":"` + strings.Repeat("x", 5001) + `"}`, http.StatusBadRequest},
		{store.RoleOfficer, `{"text":"misspelt field"}`, http.StatusBadRequest},
	} {
		if r := h.officer(tc.role, "POST", path, tc.body); r.code != tc.code {
			t.Errorf("%s adding %.30s: %d %s", tc.role, tc.body, r.code, r.body)
		}
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/DSR-NOPE000000/notes", `{"body":"x"}`); r.code != http.StatusNotFound {
		t.Errorf("note on no request: %d %s", r.code, r.body)
	}
	if strings.Contains(h.trail(id), "note_added") {
		t.Fatal("a refused note was audited")
	}

	for _, body := range []string{"Called back; she will post a passport copy.", "Passport copy received."} {
		r := h.officer(store.RoleOfficer, "POST", path, `{"body":"`+body+`"}`)
		if r.code != http.StatusCreated || !strings.Contains(r.body, `"author":"officer@example.org"`) {
			t.Fatalf("adding a note: %d %s", r.code, r.body)
		}
	}
	var list struct{ Notes []store.Note }
	r := h.officer(store.RoleViewer, "GET", path, "")
	r.json(t, &list)
	if r.code != 200 || len(list.Notes) != 2 || list.Notes[0].Body != "Called back; she will post a passport copy." {
		t.Errorf("viewer reading notes: %d %s", r.code, r.body)
	}
	var one officerRequest
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+id, "").json(t, &one)
	if len(one.Notes) != 2 || one.Notes[1].Author != "officer@example.org" {
		t.Errorf("request detail notes: %+v", one.Notes)
	}
	if trail := h.trail(id); strings.Count(trail, "officer@example.org note_added note ") != 2 || strings.Contains(trail, "passport") {
		t.Errorf("trail:\n%s", trail)
	}
	if strings.Contains(h.logs.String(), "passport") {
		t.Error("a note's text reached the log")
	}
}

func TestAssignAPI(t *testing.T) {
	h := newHarness(t, false)
	a, b, c := h.submitted("Ada"), h.submitted("Bea"), h.submitted("Cal")
	assignee := func(id string) string {
		t.Helper()
		var one officerRequest
		h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+id, "").json(t, &one)
		return one.Assignee
	}

	// Refused, and nothing changes.
	for _, tc := range []struct {
		role       store.Role
		path, body string
		code       int
		want       string
	}{
		{store.RoleViewer, a + "/assign", `{"assignee":"me"}`, http.StatusForbidden, ""},
		{store.RoleOfficer, a + "/assign", `{"assignee":"nobody@example.org"}`, http.StatusBadRequest, "no officer has this email"},
		{store.RoleOfficer, a + "/assign", `{"assignee":"viewer@example.org"}`, http.StatusBadRequest, "may not act"},
		{store.RoleOfficer, "DSR-NOPE000000/assign", `{"assignee":"me"}`, http.StatusNotFound, "DSR-NOPE000000"},
		{store.RoleOfficer, "assign", `{"ids":[],"assignee":"me"}`, http.StatusBadRequest, "at least one"},
		{store.RoleOfficer, "assign", `{"ids":[` + strings.Repeat(`"`+a+`",`, 500) + `"` + b + `"],"assignee":"me"}`, http.StatusBadRequest, "at most 500"},
		{store.RoleOfficer, "assign", `{"ids":["` + a + `","DSR-NOPE000002","` + b + `","DSR-NOPE000001"],"assignee":"me"}`, http.StatusNotFound, "DSR-NOPE000001, DSR-NOPE000002; nothing was assigned"},
		{store.RoleViewer, "assign", `{"ids":["` + a + `"],"assignee":"officer@example.org"}`, http.StatusForbidden, ""},
	} {
		r := h.officer(tc.role, "POST", "/api/v1/officer/requests/"+tc.path, tc.body)
		if r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s POST %s %.60s: %d %s", tc.role, tc.path, tc.body, r.code, r.body)
		}
	}
	for _, id := range []string{a, b, c} {
		if got := assignee(id); got != "" || strings.Contains(h.trail(id), "assigned") {
			t.Fatalf("a refused assignment assigned %s to %q", id, got)
		}
	}

	r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/assign", `{"ids":["`+a+`","`+b+`","`+a+`"],"assignee":"me"}`)
	if r.code != 200 || !strings.Contains(r.body, `"changed":2`) {
		t.Fatalf("bulk assign: %d %s", r.code, r.body)
	}
	if assignee(a) != "officer@example.org" || assignee(b) != "officer@example.org" || assignee(c) != "" {
		t.Errorf("assignees: %q %q %q", assignee(a), assignee(b), assignee(c))
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+b+"/assign", `{"assignee":""}`); r.code != 200 || assignee(b) != "" {
		t.Errorf("clearing: %d %s", r.code, r.body)
	}
	if trail := h.trail(b); !strings.Contains(trail, "officer@example.org assigned to officer@example.org") || !strings.Contains(trail, "officer@example.org unassigned") {
		t.Errorf("trail:\n%s", trail)
	}

	list := func(query string) (int, []string) {
		t.Helper()
		r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests?"+query, "")
		var l requestList
		r.json(t, &l)
		var out []string
		for _, x := range l.Requests {
			out = append(out, x.ID+"="+x.Assignee)
		}
		return r.code, out
	}
	if code, got := list("assignee=me"); code != 200 || len(got) != 1 || got[0] != a+"=officer@example.org" {
		t.Errorf("assignee=me: %d %v", code, got)
	}
	if code, got := list("assignee=Officer@Example.org"); code != 200 || len(got) != 1 {
		t.Errorf("assignee by email: %d %v", code, got)
	}
	if code, got := list("assignee=none"); code != 200 || len(got) != 2 {
		t.Errorf("assignee=none: %d %v", code, got)
	}
	if r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests?assignee=nobody@example.org", ""); r.code != 400 || !strings.Contains(r.body, `"assignee"`) {
		t.Errorf("unknown assignee filter: %d %s", r.code, r.body)
	}
}

func TestLogRequestAPI(t *testing.T) {
	h := newHarness(t, false)
	path := "/api/v1/officer/requests"
	received := testNow.AddDate(0, 0, -10)
	letter := `{"type":"deletion","name":"Ada Lovelace","channel":"letter","received_at":"` + received.Format(time.RFC3339) + `"`

	before := h.count()
	for _, tc := range []struct {
		role       store.Role
		body, want string
		code       int
	}{
		{store.RoleViewer, letter + `,"evidence":"signature matches"}`, "", http.StatusForbidden},
		{store.RoleOfficer, letter + `}`, "evidence", http.StatusBadRequest},
		{store.RoleOfficer, letter + `,"email":"ada@example.com","evidence":"seen in person"}`, "evidence", http.StatusBadRequest},
		{store.RoleOfficer, strings.Replace(letter, "letter", "fax", 1) + `,"evidence":"x"}`, "channel", http.StatusBadRequest},
		{store.RoleOfficer, `{"type":"deletion","name":"Ada","channel":"letter","evidence":"x","received_at":"` + testNow.AddDate(0, 0, 1).Format(time.RFC3339) + `"}`, "future", http.StatusBadRequest},
		{store.RoleOfficer, `{"type":"deletion","name":"Ada","channel":"letter","evidence":"x","received_at":"` + testNow.AddDate(0, 0, -31).Format(time.RFC3339) + `"}`, "period", http.StatusBadRequest},
		{store.RoleOfficer, `{"type":"opt_out","name":"Ada","channel":"phone","evidence":"x"}`, "opt-out", http.StatusBadRequest},
		{store.RoleOfficer, `{"type":"access","name":"Ada","channel":"phone","evidence":"x","received_at":"yesterday"}`, "RFC 3339", http.StatusBadRequest},
	} {
		r := h.officer(tc.role, "POST", path, tc.body)
		if r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s logging %s: %d %s", tc.role, tc.body, r.code, r.body)
		}
	}
	if h.count() != before {
		t.Fatal("a refused request was stored")
	}

	r := h.officer(store.RoleOfficer, "POST", path, letter+`,"evidence":"signature matches the customer record"}`)
	if r.code != http.StatusCreated {
		t.Fatalf("logging a letter: %d %s", r.code, r.body)
	}
	var got officerRequest
	r.json(t, &got)
	if got.Channel != domain.ChannelLetter || got.LoggedBy != "officer@example.org" || got.Email != "" ||
		!got.ReceivedAt.Equal(received) || !got.DueAt.Equal(received.AddDate(0, 0, 30)) || got.VerifiedBy != "officer@example.org" {
		t.Errorf("logged: %s", r.body)
	}
	trail := h.trail(got.ID)
	if !strings.Contains(trail, "officer@example.org received deletion request received by letter, logged by an officer") ||
		!strings.Contains(trail, "officer@example.org identity_verified signature matches the customer record") {
		t.Errorf("trail:\n%s", trail)
	}

	// With an address: verified by email as usual, and a web request
	// shows its channel too.
	r = h.officer(store.RoleOfficer, "POST", path, `{"type":"access","name":"Bea","email":"bea@example.com","channel":"phone"}`)
	got = officerRequest{}
	r.json(t, &got)
	if r.code != http.StatusCreated || got.Channel != domain.ChannelPhone || got.VerifiedAt != nil || !got.ReceivedAt.Equal(testNow) {
		t.Errorf("logging a call: %d %s", r.code, r.body)
	}
	// A letter from Bea dated ten days ago is not the call logged now,
	// however alike: each keeps its own clock.
	r = h.officer(store.RoleOfficer, "POST", path, `{"type":"access","name":"Bea","email":"bea@example.com","channel":"letter","received_at":"`+received.Format(time.RFC3339)+`"}`)
	var earlier officerRequest
	r.json(t, &earlier)
	if r.code != http.StatusCreated || earlier.ID == got.ID || !earlier.ReceivedAt.Equal(received) {
		t.Errorf("an earlier letter folded into a later call: %d %s", r.code, r.body)
	}
	var web officerRequest
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+h.submitted("Cal"), "").json(t, &web)
	if web.Channel != domain.ChannelWeb || web.LoggedBy != "" {
		t.Errorf("a submitted request: channel %q, logged by %q", web.Channel, web.LoggedBy)
	}
	if strings.Contains(h.logs.String(), "Lovelace") || strings.Contains(h.logs.String(), "bea@example.com") {
		t.Error("personal data in the log")
	}
}
