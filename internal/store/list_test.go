package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// pageAll follows Next from the first page to the last and returns every
// id in the order the pages gave them, checking each page's total.
func pageAll(t *testing.T, db testDB, f store.RequestFilter, wantTotal int) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("more than 1000 pages of %d: the cursor does not move", f.Limit)
		}
		p, err := db.st.PageRequests(context.Background(), f)
		if err != nil {
			t.Fatalf("PageRequests(%+v): %v", f, err)
		}
		if p.Total != int64(wantTotal) {
			t.Fatalf("page %d: total %d, want %d", pages, p.Total, wantTotal)
		}
		got = append(got, ids(p.Requests)...)
		if p.Next == nil {
			return got
		}
		f.Cursor = p.Next
	}
}

// TestPagingIsStableUnderTies: many requests share a date; paging forward
// in small pages, then back, in every sort, gives each request once, in
// the order of one query over them all.
func TestPagingIsStableUnderTies(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var all []*store.Request
		for i := range 23 {
			// Four received times only: most requests tie with others.
			r := newRequest(fmt.Sprintf("DSR-T%09d", (i*7)%23), domain.TypeAccess, t0.Add(time.Duration(i%4)*time.Hour))
			all = append(all, create(t, db, r))
		}
		for _, r := range all[:5] {
			moveTo(t, db, r.ID, domain.StatusVerifying, domain.StatusExpiredUnverified)
			r.Status = domain.StatusExpiredUnverified
		}
		for _, s := range store.RequestSorts {
			t.Run(string(s), func(t *testing.T) {
				want := expectedOrder(all, s)
				got := pageAll(t, db, store.RequestFilter{Sort: s, Limit: 4}, len(all))
				if !slices.Equal(got, want) {
					t.Fatalf("paged forward:\n got %v\nwant %v", got, want)
				}

				// And back from the last page by Prev.
				f := store.RequestFilter{Sort: s, Limit: 4}
				var last store.RequestPage
				for {
					p, err := db.st.PageRequests(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					last = p
					if p.Next == nil {
						break
					}
					f.Cursor = p.Next
				}
				back := ids(last.Requests)
				for p := last; p.Prev != nil; {
					f.Cursor = p.Prev
					var err error
					if p, err = db.st.PageRequests(ctx, f); err != nil {
						t.Fatal(err)
					}
					if len(p.Requests) != 4 || p.Next == nil {
						t.Fatalf("a previous page has %d rows and next %v; want 4 and a way forward", len(p.Requests), p.Next)
					}
					back = append(ids(p.Requests), back...)
				}
				if !slices.Equal(back, want) {
					t.Fatalf("paged backward:\n got %v\nwant %v", back, want)
				}
			})
		}
	})
}

// expectedOrder is the list's order computed in Go: open first, then the
// date, then the id, in the sort's direction.
func expectedOrder(rs []*store.Request, s store.RequestSort) []string {
	sorted := slices.Clone(rs)
	desc := strings.HasPrefix(string(s), "-")
	key := func(r *store.Request) time.Time {
		if strings.HasSuffix(string(s), "received") {
			return r.ReceivedAt
		}
		return r.DueAt
	}
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Status.Final() != b.Status.Final() {
			return !a.Status.Final()
		}
		if c := key(a).Compare(key(b)); c != 0 {
			return (c < 0) != desc
		}
		return (a.ID < b.ID) != desc
	})
	out := make([]string, len(sorted))
	for i, r := range sorted {
		out[i] = r.ID
	}
	return out
}

func TestListFilters(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		gdpr := newRequest("DSR-GDPR000001", domain.TypeAccess, t0)
		gdpr.Regime = deadline.GDPR
		create(t, db, gdpr)
		create(t, db, newRequest("DSR-LATER00002", domain.TypeExport, t0.AddDate(0, 0, 10)))
		create(t, db, newRequest("DSR-CLOSED0003", domain.TypeAccess, t0.AddDate(0, 0, -40)))
		moveTo(t, db, "DSR-CLOSED0003", domain.StatusVerifying, domain.StatusExpiredUnverified)
		yes, no := true, false
		now := t0.AddDate(0, 0, 35) // past the first two's due dates only for the first
		for _, tc := range []struct {
			name string
			f    store.RequestFilter
			want []string
		}{
			{"regime", store.RequestFilter{Regime: deadline.GDPR}, []string{"DSR-GDPR000001"}},
			{"overdue", store.RequestFilter{Overdue: &yes, Now: now}, []string{"DSR-GDPR000001"}},
			{"not overdue", store.RequestFilter{Overdue: &no, Now: now}, []string{"DSR-LATER00002", "DSR-CLOSED0003"}},
			{"received from", store.RequestFilter{ReceivedFrom: t0}, []string{"DSR-GDPR000001", "DSR-LATER00002"}},
			{"received before", store.RequestFilter{ReceivedBefore: t0}, []string{"DSR-CLOSED0003"}},
			{"received in a day", store.RequestFilter{ReceivedFrom: t0.AddDate(0, 0, 10), ReceivedBefore: t0.AddDate(0, 0, 11)}, []string{"DSR-LATER00002"}},
			{"received latest first", store.RequestFilter{Sort: store.SortReceivedDesc}, []string{"DSR-LATER00002", "DSR-GDPR000001", "DSR-CLOSED0003"}},
		} {
			p, err := db.st.PageRequests(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := ids(p.Requests); !slices.Equal(got, tc.want) || p.Total != int64(len(tc.want)) {
				t.Errorf("%s: %v (total %d), want %v", tc.name, got, p.Total, tc.want)
			}
		}
	})
}

// TestSearchByEmailNameAndReference: an address finds its requests
// exactly, whatever its case, through the keyed hash; part of a name finds
// by name; and the hash survives a key rotation.
func TestSearchByEmailNameAndReference(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		old, err := auth.LookupKeys(strings.Repeat("o", 32))
		if err != nil {
			t.Fatal(err)
		}
		db.st.SetLookupKeys(old...)
		for i := range 40 {
			r := newRequest(fmt.Sprintf("DSR-M%09d", i), domain.TypeAccess, t0.Add(time.Duration(i)*time.Minute))
			r.Email, r.Name = fmt.Sprintf("person%d@example.com", i), fmt.Sprintf("Person Number %d", i)
			create(t, db, r)
		}
		grace := newRequest("DSR-GRACE00001", domain.TypeDeletion, t0)
		grace.Email, grace.Name = "Grace.Hopper@Example.org", "Grace Brewster Hopper"
		create(t, db, grace)
		// Another address that only contains Grace's must not match.
		other := newRequest("DSR-OTHER00001", domain.TypeDeletion, t0)
		other.Email = "xgrace.hopper@example.org"
		create(t, db, other)

		search := func(term string) []string {
			t.Helper()
			p, err := db.st.PageRequests(ctx, store.RequestFilter{Search: term})
			if err != nil {
				t.Fatal(err)
			}
			return ids(p.Requests)
		}
		for _, term := range []string{"grace.hopper@example.org", " GRACE.HOPPER@EXAMPLE.ORG "} {
			if got := search(term); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
				t.Errorf("search %q = %v, want Grace's request only", term, got)
			}
		}
		if got := search("hopper@example"); len(got) != 0 {
			t.Errorf("part of an address = %v; addresses match whole", got)
		}
		if got := search("brewster"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("search by part of the name = %v", got)
		}
		if got := search("dsr-grace"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("search by reference = %v", got)
		}

		// No address is stored in the hash column.
		var plain int
		if err := db.raw.QueryRow("SELECT COUNT(*) FROM requests WHERE email_hash LIKE '%@%' OR email_hash = ''").Scan(&plain); err != nil {
			t.Fatal(err)
		}
		if plain != 0 {
			t.Errorf("%d rows have an address or nothing in email_hash", plain)
		}

		// A rotated key: old hashes are still found until they are
		// hashed again at start, then the old key can go.
		rotated, err := auth.LookupKeys(strings.Repeat("n", 32), strings.Repeat("o", 32))
		if err != nil {
			t.Fatal(err)
		}
		db.st.SetLookupKeys(rotated...)
		if got := search("grace.hopper@example.org"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("after rotation, before rehashing: %v", got)
		}
		n, err := db.st.HashEmails(ctx)
		if err != nil || n != 42 {
			t.Fatalf("HashEmails = %d, %v; want all 42 hashed again", n, err)
		}
		if n, err := db.st.HashEmails(ctx); err != nil || n != 0 {
			t.Errorf("HashEmails again = %d, %v; want nothing left", n, err)
		}
		db.st.SetLookupKeys(rotated[0])
		if got := search("grace.hopper@example.org"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("after rehashing, with the new key only: %v", got)
		}

		// Rows from before migration 0011 have no hash; the start hashes them.
		if _, err := db.raw.Exec("UPDATE requests SET email_hash = '' WHERE id = 'DSR-GRACE00001'"); err != nil {
			t.Fatal(err)
		}
		if got := search("grace.hopper@example.org"); len(got) != 0 {
			t.Errorf("an unhashed row was found by %v: a clear-text match?", got)
		}
		if n, err := db.st.HashEmails(ctx); err != nil || n != 1 {
			t.Errorf("HashEmails = %d, %v; want the one row", n, err)
		}
		if got := search("grace.hopper@example.org"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("after the backfill: %v", got)
		}

		// A corrected address is found by its new value only.
		if _, err := db.raw.Exec("UPDATE requests SET mail_failed_step = 'verify' WHERE id = 'DSR-GRACE00001'"); err != nil {
			t.Fatal(err)
		}
		if err := db.st.CorrectEmail(ctx, "DSR-GRACE00001", "grace@example.net", "officer@example.org", t0); err != nil {
			t.Fatal(err)
		}
		if got := search("grace@example.net"); !slices.Equal(got, []string{"DSR-GRACE00001"}) {
			t.Errorf("by the corrected address: %v", got)
		}
		if got := search("grace.hopper@example.org"); len(got) != 0 {
			t.Errorf("by the old address: %v", got)
		}
	})
}

func TestBadCursors(t *testing.T) {
	for _, s := range []string{"", "abc", "!!!", store.Cursor{Sort: "due", At: t0}.String(), store.Cursor{Sort: "sideways", At: t0, ID: "DSR-X"}.String()} {
		if _, err := store.ParseCursor(s); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("ParseCursor(%q) = %v, want ErrBadCursor", s, err)
		}
	}
	c := store.Cursor{Sort: store.SortReceivedDesc, Before: true, Closed: true, At: t0, ID: "DSR-X"}
	if got, err := store.ParseCursor(c.String()); err != nil || got != c {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, c)
	}
	// A cursor of another sort is refused, not followed into a wrong page.
	db := openSQLite(t, true)
	if _, err := db.st.PageRequests(context.Background(), store.RequestFilter{Sort: store.SortDue, Cursor: &c}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("a -received cursor on the due sort: %v", err)
	}
}
