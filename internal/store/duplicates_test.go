package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestOpenDuplicatesAmongThousands: 1,200 requests stored in bulk; only
// open, verified requests of one type from one address flag each other,
// whatever the address's case, and closing one as a duplicate records
// the request that continues and takes it out of the flag.
func TestOpenDuplicatesAmongThousands(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		verified := t0.Add(time.Hour)
		var rs []store.Request
		for i := range 1200 {
			r := newRequest(fmt.Sprintf("DSR-B%09d", i), domain.TypeAccess, t0.Add(time.Duration(i)*time.Minute))
			r.Email, r.Status, r.VerifiedAt = fmt.Sprintf("person%d@example.com", i), domain.StatusInReview, &verified
			rs = append(rs, *r)
		}
		add := func(id string, typ domain.RequestType, email string, status domain.Status, isVerified bool) {
			r := newRequest(id, typ, t0.Add(time.Duration(len(rs))*time.Minute))
			r.Email, r.Status = email, status
			if isVerified {
				r.VerifiedAt = &verified
			}
			rs = append(rs, *r)
		}
		add("DSR-ADA0000001", domain.TypeAccess, "ada@example.com", domain.StatusInReview, true)
		add("DSR-ADA0000002", domain.TypeAccess, "Ada@Example.COM", domain.StatusVerifying, true)
		add("DSR-ADA0000003", domain.TypeDeletion, "ada@example.com", domain.StatusInReview, true) // another type
		add("DSR-ADA0000004", domain.TypeAccess, "ada@example.com", domain.StatusCompleted, true)  // closed
		add("DSR-ADA0000005", domain.TypeAccess, "ada@example.com", domain.StatusVerifying, false) // not verified
		add("DSR-GRACE00001", domain.TypeAccess, "grace@example.com", domain.StatusInReview, true) // another person
		if err := db.st.CreateRequests(ctx, rs); err != nil {
			t.Fatal(err)
		}
		p, err := db.st.PageRequests(ctx, store.RequestFilter{Limit: store.MaxListLimit})
		if err != nil || p.Total != int64(len(rs)) {
			t.Fatalf("PageRequests: total %d, %v; want %d", p.Total, err, len(rs))
		}
		page, err := db.st.PageRequests(ctx, store.RequestFilter{Search: "ADA@example.com", Limit: store.MaxListLimit})
		if err != nil || page.Total != 5 {
			t.Fatalf("search by address: %d, %v; want Ada's 5", page.Total, err)
		}
		dups, err := db.st.OpenDuplicates(ctx, append(page.Requests, p.Requests...))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"DSR-ADA0000001": "[DSR-ADA0000002]", "DSR-ADA0000002": "[DSR-ADA0000001]"}
		if len(dups) != len(want) {
			t.Errorf("flagged %v, want only Ada's two open verified access requests", dups)
		}
		for id, others := range want {
			if fmt.Sprint(dups[id]) != others {
				t.Errorf("%s flags %v, want %s", id, dups[id], others)
			}
		}

		changed, err := db.st.Transition(ctx, store.Transition{RequestID: "DSR-ADA0000002", To: domain.StatusDuplicate, Actor: "grace@example.org", DuplicateOf: "DSR-ADA0000001", At: t0})
		if err != nil || !changed {
			t.Fatalf("closing as a duplicate: %v, %v", changed, err)
		}
		if r := get(t, db, "DSR-ADA0000002"); r.DuplicateOf != "DSR-ADA0000001" || r.ClosedAt == nil {
			t.Errorf("the duplicate: of %q, closed %v", r.DuplicateOf, r.ClosedAt)
		}
		trail, err := db.st.Timeline(ctx, "DSR-ADA0000002")
		if err != nil || len(trail) != 2 || trail[1].Action != "closed_as_duplicate" || trail[1].Detail != "of DSR-ADA0000001" {
			t.Errorf("trail %+v, %v", trail, err)
		}
		if dups, err := db.st.OpenDuplicates(ctx, []store.Request{*get(t, db, "DSR-ADA0000001")}); err != nil || len(dups) != 0 {
			t.Errorf("after closing, the one that continues flags %v, %v", dups, err)
		}
		// A duplicate names the request that continues.
		if _, err := db.st.Transition(ctx, store.Transition{RequestID: "DSR-ADA0000003", To: domain.StatusDuplicate, Actor: "grace@example.org", At: t0}); err == nil {
			t.Error("a duplicate without the request that continues was stored")
		}
	})
}
