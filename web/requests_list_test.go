package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// seedRequests stores n requests through the store, received in groups
// of ten sharing a time, so paging meets ties; request i's address is
// person<i>@example.com. It answers the ids.
func (h *harness) seedRequests(n int) []string {
	h.t.Helper()
	ctx := context.Background()
	types := domain.RequestTypes
	var ids []string
	for i := range n {
		received := testNow.Add(-time.Duration(i/10) * time.Hour)
		r := &store.Request{ID: fmt.Sprintf("DSR-P%09d", i), Type: types[i%len(types)], Status: domain.StatusReceived,
			Email: fmt.Sprintf("person%d@example.com", i), Name: fmt.Sprintf("Person %d", i),
			ReceivedAt: received, DueAt: received.AddDate(0, 0, 30)}
		if err := h.store.CreateRequest(ctx, r, nil); err != nil {
			h.t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestAPIPagesPastFiveHundred: 1,200 requests are read in pages of 500 by
// following next: each once, none missing, with the total on every page.
func TestAPIPagesPastFiveHundred(t *testing.T) {
	h := newHarness(t, false)
	all := h.seedRequests(1200)

	for _, sort := range []string{"due", "-received"} {
		var got []string
		path := "/api/v1/officer/requests?limit=500&sort=" + sort
		for page := 0; ; page++ {
			if page > 3 {
				t.Fatalf("sort %s: more than 3 pages of 500 for 1,200 requests", sort)
			}
			r := h.officer(store.RoleViewer, "GET", path, "")
			if r.code != http.StatusOK {
				t.Fatalf("sort %s page %d: %d %s", sort, page, r.code, r.body)
			}
			var list requestList
			r.json(t, &list)
			if list.Total != 1200 {
				t.Fatalf("sort %s page %d: total %d, want 1200", sort, page, list.Total)
			}
			if want := []int{500, 500, 200}[page]; len(list.Requests) != want {
				t.Fatalf("sort %s page %d has %d requests, want %d", sort, page, len(list.Requests), want)
			}
			if (page > 0) != (list.Prev != "") {
				t.Errorf("sort %s page %d: prev %q", sort, page, list.Prev)
			}
			for _, r := range list.Requests {
				got = append(got, r.ID)
			}
			if list.Next == "" {
				break
			}
			path = "/api/v1/officer/requests?limit=500&sort=" + sort + "&cursor=" + url.QueryEscape(list.Next)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("sort %s: %s came twice", sort, id)
			}
			seen[id] = true
		}
		for _, id := range all {
			if !seen[id] {
				t.Fatalf("sort %s: %s never came", sort, id)
			}
		}
		// Ties on the date are ordered by reference, in the sort's direction.
		if sort == "due" && !slices.IsSorted(got[:10]) {
			t.Errorf("sort due: the first ten (same date) are not by reference: %v", got[:10])
		}
	}

	// The default page is 100.
	var first requestList
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests", "").json(t, &first)
	if len(first.Requests) != 100 || first.Total != 1200 || first.Next == "" || first.Prev != "" {
		t.Errorf("default page: %d requests, total %d, next %q, prev %q", len(first.Requests), first.Total, first.Next, first.Prev)
	}
}

func TestAPIListRefusesBadInput(t *testing.T) {
	h := newHarness(t, false)
	h.seedRequests(3)
	var page requestList
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?limit=1", "").json(t, &page)
	if page.Next == "" {
		t.Fatal("no next cursor")
	}
	for _, tc := range []struct{ query, field string }{
		{"limit=501", "limit"},
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=abc", "limit"},
		{"limit=", ""}, // empty means the default
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=" + url.QueryEscape(page.Next) + "x", "cursor"},
		{"cursor=" + url.QueryEscape(page.Next) + "&sort=received", "cursor"},
		{"offset=100", "offset"},
		{"sort=name", "sort"},
		{"status=lost", "status"},
		{"type=everything", "type"},
		{"regime=mars", "regime"},
		{"overdue=maybe", "overdue"},
		{"received_from=yesterday", "received_from"},
		{"received_to=2026-02-30", "received_to"},
		{"received_from=2026-03-02&received_to=2026-03-01", "received_to"},
		{"q=" + strings.Repeat("a", 201), "q"},
	} {
		r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?"+tc.query, "")
		if tc.field == "" {
			if r.code != http.StatusOK {
				t.Errorf("%s: %d %s", tc.query, r.code, r.body)
			}
			continue
		}
		var e apiError
		r.json(t, &e)
		if r.code != http.StatusBadRequest || e.Fields[tc.field] == "" {
			t.Errorf("%s: %d %s; want 400 naming %s", tc.query, r.code, r.body, tc.field)
		}
		// The CSV refuses the same.
		if r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests.csv?"+tc.query, ""); tc.field != "cursor" && tc.field != "offset" && tc.field != "limit" && r.code != http.StatusBadRequest {
			t.Errorf("CSV %s: %d", tc.query, r.code)
		}
	}
}

// TestFindOneRequestByEmailAmongMany: the exact address, in any case,
// finds its one request among 1,200, through the API and the dashboard.
func TestFindOneRequestByEmailAmongMany(t *testing.T) {
	h := newHarness(t, false)
	h.seedRequests(1200)
	var list requestList
	r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?q="+url.QueryEscape("Person777@Example.COM"), "")
	r.json(t, &list)
	if list.Total != 1 || len(list.Requests) != 1 || list.Requests[0].ID != "DSR-P000000777" || list.Next != "" {
		t.Fatalf("search by email: %d %s", r.code, r.body)
	}
	// Part of a name, filters and the date range narrow as they say.
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?q=person+119&type=export&limit=500", "").json(t, &list)
	for _, r := range list.Requests {
		if !strings.HasPrefix(r.Name, "Person 119") || r.Type != domain.TypeExport {
			t.Errorf("q=person 119&type=export listed %s %s", r.Name, r.Type)
		}
	}
	if list.Total != int64(len(list.Requests)) || list.Total == 0 {
		t.Errorf("q=person 119&type=export: total %d for %d listed", list.Total, len(list.Requests))
	}
	day := testNow.Format(time.DateOnly)
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?received_from="+day+"&received_to="+day+"&limit=500", "").json(t, &list)
	if list.Total != 110 { // received at 10:00, 09:00, ... 00:00 on 2 March, ten at each
		t.Errorf("received on %s: %d", day, list.Total)
	}
	h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?overdue=true", "").json(t, &list)
	for _, r := range list.Requests {
		if !r.Overdue {
			t.Errorf("overdue=true listed %s, not overdue", r.ID)
		}
	}

	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/requests?q=" + url.QueryEscape("PERSON777@example.com"))
	if page.code != http.StatusOK || !strings.Contains(page.body, "DSR-P000000777") || !strings.Contains(page.body, "1 request matches") ||
		strings.Contains(page.body, "DSR-P000000778") {
		t.Errorf("dashboard search by email: %d\n%s", page.code, page.body)
	}
}

var pagerLink = regexp.MustCompile(`<a href="([^"]+)" rel="(next|prev)">`)

// TestDashboardPagesWithNextAndPrevious: the list shows the total, and
// next and previous links that keep the filters.
func TestDashboardPagesWithNextAndPrevious(t *testing.T) {
	h := newHarness(t, false)
	h.seedRequests(250)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)

	links := func(body string) map[string]string {
		out := map[string]string{}
		for _, m := range pagerLink.FindAllStringSubmatch(body, -1) {
			out[m[2]] = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		return out
	}
	page := b.get("/officer/requests?sort=-received")
	if !strings.Contains(page.body, "250 requests match") || !strings.Contains(page.body, "DSR-P000000000") {
		t.Fatalf("first page:\n%s", page.body)
	}
	l := links(page.body)
	if l["prev"] != "" || !strings.Contains(l["next"], "sort=-received") {
		t.Fatalf("first page links: %v", l)
	}
	second := b.get(l["next"])
	if second.code != http.StatusOK || strings.Contains(second.body, "DSR-P000000000<") || !strings.Contains(second.body, "250 requests match") {
		t.Fatalf("second page: %d", second.code)
	}
	l2 := links(second.body)
	if l2["prev"] == "" || l2["next"] == "" {
		t.Fatalf("second page links: %v", l2)
	}
	back := b.get(l2["prev"])
	if !strings.Contains(back.body, "DSR-P000000000") || strings.Count(back.body, `<tr>`) != 101 {
		t.Errorf("previous from the second page is not the first")
	}
	third := b.get(l2["next"])
	if l3 := links(third.body); l3["next"] != "" || l3["prev"] == "" || strings.Count(third.body, `<tr>`) != 51 {
		t.Errorf("last page: links %v, %d rows", l3, strings.Count(third.body, `<tr>`)-1)
	}

	bad := b.get("/officer/requests?limit=501")
	if bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "limit: a whole number from 1 to 500") {
		t.Errorf("limit=501 on the dashboard: %d", bad.code)
	}
	if bad := b.get("/officer/requests?cursor=nonsense"); bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "cursor:") {
		t.Errorf("a bad cursor on the dashboard: %d", bad.code)
	}
	if !strings.Contains(page.body, `href="/officer/requests.csv?sort=-received"`) {
		t.Error("no CSV link keeping the filters")
	}
}

// TestCSVExportOfTheFilteredList: every matching request, not one page,
// with text that starts like a formula made harmless.
func TestCSVExportOfTheFilteredList(t *testing.T) {
	h := newHarness(t, false)
	h.seedRequests(620)
	ctx := context.Background()
	evil := &store.Request{ID: "DSR-EVIL000001", Type: domain.TypeDeletion, Status: domain.StatusReceived,
		Email: "evil@example.com", Name: `=HYPERLINK("http://evil.example","click")`, ReceivedAt: testNow, DueAt: testNow.AddDate(0, 0, 30)}
	if err := h.store.CreateRequest(ctx, evil, nil); err != nil {
		t.Fatal(err)
	}
	r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests.csv?limit=1", "")
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", r.code, r.header.Get("Content-Type"))
	}
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 622 || !slices.Equal(records[0], csvHeader) {
		t.Fatalf("CSV has %d records (want a header and 621), header %v", len(records), records[0])
	}
	seen := map[string]bool{}
	for _, rec := range records[1:] {
		if seen[rec[0]] {
			t.Fatalf("%s twice", rec[0])
		}
		seen[rec[0]] = true
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("a cell starts like a formula: %q", cell)
			}
		}
		if rec[0] == "DSR-EVIL000001" && rec[8] != `'=HYPERLINK("http://evil.example","click")` {
			t.Errorf("the formula name is %q", rec[8])
		}
	}

	// Filtered, and from the dashboard.
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	d := b.get("/officer/requests.csv?q=evil%40example.com")
	if records, err := csv.NewReader(strings.NewReader(d.body)).ReadAll(); err != nil || len(records) != 2 || records[1][0] != "DSR-EVIL000001" {
		t.Errorf("dashboard CSV filtered by email: %d, %v, %v", d.code, err, records)
	}
	if strings.Contains(h.logs.String(), "evil@example.com") || strings.Contains(h.logs.String(), "HYPERLINK") {
		t.Error("the log holds a requester's data")
	}
}
