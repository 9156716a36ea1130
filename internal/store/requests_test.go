package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func TestCreateAndGetRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		// A received time in another zone is stored as the same instant.
		paris := time.FixedZone("CET", 3600)
		received := t0.In(paris)
		r := &store.Request{
			ID:      "DSR-7K3M9Q2XHD",
			Type:    domain.TypeCorrection,
			Status:  domain.StatusReceived,
			Email:   "Ada.Lovelace@example.com",
			Name:    "Ada Lovelace",
			Details: "My address changed.\nPlease update it — merci.",
			Corrections: []domain.Correction{
				{Field: "address", Value: "12 St James's Square, London"},
				{Field: "name", Value: "Augusta Ada King, Countess of Lovelace"},
			},
			ReceivedAt: received,
			DueAt:      received.AddDate(0, 0, 30),
		}
		_, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tok := &store.RequestToken{Purpose: store.PurposeStatus, Hash: hash, ExpiresAt: t0.Add(365 * 24 * time.Hour), CreatedAt: t0}
		if err := db.st.CreateRequest(ctx, r, tok); err != nil {
			t.Fatalf("CreateRequest: %v", err)
		}
		if tok.RequestID != r.ID {
			t.Errorf("status token RequestID = %q, want %q", tok.RequestID, r.ID)
		}

		got := get(t, db, r.ID)
		if got.ID != r.ID || got.Type != domain.TypeCorrection || got.Status != domain.StatusReceived ||
			got.Email != "Ada.Lovelace@example.com" || got.Name != "Ada Lovelace" || got.Details != r.Details {
			t.Errorf("GetRequest = %+v, want %+v", got, r)
		}
		if len(got.Corrections) != 2 || got.Corrections[0] != r.Corrections[0] || got.Corrections[1] != r.Corrections[1] {
			t.Errorf("corrections = %+v, want %+v", got.Corrections, r.Corrections)
		}
		sameTime(t, "ReceivedAt", got.ReceivedAt, t0)
		sameTime(t, "DueAt", got.DueAt, t0.Add(30*24*time.Hour))
		sameTime(t, "UpdatedAt", got.UpdatedAt, t0)
		if got.VerifiedAt != nil || got.ClosedAt != nil || got.WorkflowStartedAt != nil {
			t.Errorf("new request has VerifiedAt %v, ClosedAt %v, WorkflowStartedAt %v; want all nil",
				got.VerifiedAt, got.ClosedAt, got.WorkflowStartedAt)
		}
		if got.VerifiedBy != "" || got.DecisionReason != "" {
			t.Errorf("new request has VerifiedBy %q, DecisionReason %q", got.VerifiedBy, got.DecisionReason)
		}

		// The receipt's status link finds the request.
		byToken, err := db.st.RequestByToken(ctx, store.PurposeStatus, hash, t0.Add(time.Hour))
		if err != nil || byToken.ID != r.ID {
			t.Errorf("RequestByToken(status link) = %v, %v; want %s", byToken, err, r.ID)
		}

		// The history starts with the submission.
		tl, err := db.st.Timeline(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 1 || tl[0].Actor != store.ActorRequester || tl[0].Action != "received" ||
			tl[0].Detail != "correction request submitted" || !tl[0].At.Equal(t0) {
			t.Errorf("timeline = %+v, want one 'received' entry by the requester at %s", tl, t0)
		}
	})
}

func TestCreateRequestWithoutCorrections(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		create(t, db, newRequest("DSR-ACCESS0001", domain.TypeAccess, t0))
		got := get(t, db, "DSR-ACCESS0001")
		if got.Corrections == nil || len(got.Corrections) != 0 {
			t.Errorf("corrections = %#v, want an empty list", got.Corrections)
		}
		if s := db.queryString(t, "SELECT corrections FROM requests WHERE id = ?", "DSR-ACCESS0001"); s != "[]" {
			t.Errorf("stored corrections = %q, want []", s)
		}
	})
}

func TestCreateRequestDuplicateID(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-SAMEID0001", domain.TypeAccess, t0))
		dup := newRequest("DSR-SAMEID0001", domain.TypeDeletion, t0.Add(time.Hour))
		dup.Name = "Charles Babbage"
		err := db.st.CreateRequest(ctx, dup, nil)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateRequest(duplicate ID) = %v, want ErrConflict", err)
		}
		got := get(t, db, "DSR-SAMEID0001")
		if got.Name != "Ada Lovelace" || got.Type != domain.TypeAccess {
			t.Errorf("original request changed to %+v", got)
		}
		// The failed create left no audit entry behind.
		if n := db.count(t, "audit_events", "request_id = ?", "DSR-SAMEID0001"); n != 1 {
			t.Errorf("%d audit entries, want 1", n)
		}
	})
}

func TestCreateRequestDuplicateStatusTokenRollsBack(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		tok := func() *store.RequestToken {
			return &store.RequestToken{Purpose: store.PurposeStatus, Hash: "same-hash", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
		}
		if err := db.st.CreateRequest(ctx, newRequest("DSR-FIRST00001", domain.TypeAccess, t0), tok()); err != nil {
			t.Fatal(err)
		}
		err := db.st.CreateRequest(ctx, newRequest("DSR-SECOND0001", domain.TypeAccess, t0), tok())
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateRequest with a taken token hash = %v, want ErrConflict", err)
		}
		// One transaction: no request without its token.
		if _, err := db.st.GetRequest(ctx, "DSR-SECOND0001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRequest(rolled back) = %v, want ErrNotFound", err)
		}
	})
}

func TestGetRequestUnknown(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		r, err := db.st.GetRequest(context.Background(), "DSR-NOSUCH0000")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRequest(unknown) = %+v, %v; want ErrNotFound", r, err)
		}
	})
}

func ids(rs []store.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestListRequests(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		// Created out of order; DSR-B and DSR-C share a due date.
		create(t, db, newRequest("DSR-D", domain.TypeDeletion, t0.Add(72*time.Hour)))
		create(t, db, newRequest("DSR-C", domain.TypeAccess, t0.Add(24*time.Hour)))
		create(t, db, newRequest("DSR-A", domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-B", domain.TypeDeletion, t0.Add(24*time.Hour)))
		create(t, db, newRequest("DSR-E", domain.TypeExport, t0.Add(500*time.Millisecond)))
		moveTo(t, db, "DSR-C", domain.StatusVerifying)
		moveTo(t, db, "DSR-D", domain.StatusVerifying)

		for _, tc := range []struct {
			name string
			f    store.RequestFilter
			want []string
		}{
			{"all, soonest due first", store.RequestFilter{}, []string{"DSR-A", "DSR-E", "DSR-B", "DSR-C", "DSR-D"}},
			{"by status", store.RequestFilter{Status: domain.StatusVerifying}, []string{"DSR-C", "DSR-D"}},
			{"by type", store.RequestFilter{Type: domain.TypeDeletion}, []string{"DSR-B", "DSR-D"}},
			{"by both", store.RequestFilter{Status: domain.StatusReceived, Type: domain.TypeAccess}, []string{"DSR-A"}},
			{"nothing matches", store.RequestFilter{Status: domain.StatusCompleted}, []string{}},
			{"limit", store.RequestFilter{Limit: 2}, []string{"DSR-A", "DSR-E"}},
			{"limit over 500 means the default", store.RequestFilter{Limit: 10000}, []string{"DSR-A", "DSR-E", "DSR-B", "DSR-C", "DSR-D"}},
			{"negative limit means the default", store.RequestFilter{Limit: -1}, []string{"DSR-A", "DSR-E", "DSR-B", "DSR-C", "DSR-D"}},
		} {
			rs, err := db.st.ListRequests(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if fmt.Sprint(ids(rs)) != fmt.Sprint(tc.want) {
				t.Errorf("%s: ListRequests(%+v) = %v, want %v", tc.name, tc.f, ids(rs), tc.want)
			}
		}
	})
}

func TestListRequestsDefaultLimit(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		for i := range 101 {
			create(t, db, newRequest(fmt.Sprintf("DSR-%03d", i), domain.TypeAccess, t0.Add(time.Duration(i)*time.Second)))
		}
		rs, err := db.st.ListRequests(context.Background(), store.RequestFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 100 || rs[0].ID != "DSR-000" || rs[99].ID != "DSR-099" {
			t.Errorf("ListRequests() returned %d, from %s; want the 100 soonest due", len(rs), rs[0].ID)
		}
	})
}

func TestTransitionLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name      string
			path      []domain.Status
			reason    string
			wantClose bool
		}{
			{"completed", []domain.Status{domain.StatusVerifying, domain.StatusInReview, domain.StatusCompleted}, "", true},
			{"denied", []domain.Status{domain.StatusVerifying, domain.StatusInReview, domain.StatusDenied}, "We hold no data about this address.", true},
			{"expired", []domain.Status{domain.StatusVerifying, domain.StatusExpiredUnverified}, "", true},
			{"in review", []domain.Status{domain.StatusVerifying, domain.StatusInReview}, "", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "DSR-" + tc.name
				create(t, db, newRequest(id, domain.TypeAccess, t0))
				var last time.Time
				for i, to := range tc.path {
					last = t0.Add(time.Duration(i+1) * time.Hour)
					changed, err := db.st.Transition(ctx, store.Transition{
						RequestID: id, To: to, Actor: "grace@example.com", Reason: tc.reason, At: last,
					})
					if err != nil || !changed {
						t.Fatalf("Transition to %s = %v, %v; want changed", to, changed, err)
					}
				}
				got := get(t, db, id)
				final := tc.path[len(tc.path)-1]
				if got.Status != final {
					t.Errorf("status = %s, want %s", got.Status, final)
				}
				sameTime(t, "UpdatedAt", got.UpdatedAt, last)
				if tc.wantClose {
					sameTimePtr(t, "ClosedAt", got.ClosedAt, last)
				} else if got.ClosedAt != nil {
					t.Errorf("ClosedAt = %s for an open request", got.ClosedAt)
				}
				wantReason := ""
				if final == domain.StatusDenied {
					wantReason = tc.reason
				}
				if got.DecisionReason != wantReason {
					t.Errorf("DecisionReason = %q, want %q", got.DecisionReason, wantReason)
				}
				if n := db.count(t, "audit_events", "request_id = ? AND action = 'status'", id); n != len(tc.path) {
					t.Errorf("%d status audit entries, want %d", n, len(tc.path))
				}
			})
		}
	})
}

func TestTransitionRepeatedIsNoOp(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-REPEAT0001", domain.TypeAccess, t0))
		tr := store.Transition{RequestID: "DSR-REPEAT0001", To: domain.StatusVerifying, Actor: store.ActorSystem, At: t0.Add(time.Minute)}
		if changed, err := db.st.Transition(ctx, tr); err != nil || !changed {
			t.Fatalf("first Transition = %v, %v; want changed", changed, err)
		}
		tr.At = t0.Add(time.Hour) // a retried activity runs later
		changed, err := db.st.Transition(ctx, tr)
		if err != nil || changed {
			t.Fatalf("repeated Transition = %v, %v; want unchanged, nil", changed, err)
		}
		got := get(t, db, "DSR-REPEAT0001")
		sameTime(t, "UpdatedAt", got.UpdatedAt, t0.Add(time.Minute))
		if n := db.count(t, "audit_events", "request_id = ? AND action = 'status'", "DSR-REPEAT0001"); n != 1 {
			t.Errorf("%d status audit entries after a repeat, want 1", n)
		}
	})
}

func TestTransitionForbidden(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			path []domain.Status // reached first
			to   domain.Status
		}{
			{"skip verification", nil, domain.StatusInReview},
			{"received to completed", nil, domain.StatusCompleted},
			{"verifying to denied", []domain.Status{domain.StatusVerifying}, domain.StatusDenied},
			{"back to received", []domain.Status{domain.StatusVerifying}, domain.StatusReceived},
			{"reopen denied", []domain.Status{domain.StatusVerifying, domain.StatusInReview, domain.StatusDenied}, domain.StatusInReview},
			{"completed to denied", []domain.Status{domain.StatusVerifying, domain.StatusInReview, domain.StatusCompleted}, domain.StatusDenied},
			{"revive expired", []domain.Status{domain.StatusVerifying, domain.StatusExpiredUnverified}, domain.StatusInReview},
			{"unknown status", nil, "approved"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "DSR-" + tc.name
				create(t, db, newRequest(id, domain.TypeAccess, t0))
				moveTo(t, db, id, tc.path...)
				before := get(t, db, id)
				events := db.count(t, "audit_events", "request_id = ?", id)

				changed, err := db.st.Transition(ctx, store.Transition{RequestID: id, To: tc.to, Actor: "grace@example.com", At: t0.Add(time.Hour)})
				if !errors.Is(err, store.ErrInvalidTransition) || changed {
					t.Fatalf("Transition to %s = %v, %v; want ErrInvalidTransition", tc.to, changed, err)
				}
				after := get(t, db, id)
				if after.Status != before.Status || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("refused transition changed the request: %s → %s", before.Status, after.Status)
				}
				if n := db.count(t, "audit_events", "request_id = ?", id); n != events {
					t.Errorf("refused transition wrote %d audit entries", n-events)
				}
			})
		}
	})
}

func TestTransitionUnknownRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		_, err := db.st.Transition(context.Background(), store.Transition{RequestID: "DSR-NOSUCH0000", To: domain.StatusVerifying, At: t0})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Transition(unknown request) = %v, want ErrNotFound", err)
		}
	})
}

// Two officers decide at once: one decision stands, the other is refused.
func TestTransitionConcurrentDecisions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-RACE000001", domain.TypeAccess, t0))
		moveTo(t, db, "DSR-RACE000001", domain.StatusVerifying, domain.StatusInReview)

		decisions := []domain.Status{domain.StatusCompleted, domain.StatusDenied, domain.StatusCompleted, domain.StatusDenied}
		changed := make([]bool, len(decisions))
		errs := make([]error, len(decisions))
		var wg sync.WaitGroup
		for i, to := range decisions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				changed[i], errs[i] = db.st.Transition(ctx, store.Transition{
					RequestID: "DSR-RACE000001", To: to, Actor: fmt.Sprintf("officer%d@example.com", i), Reason: "no data", At: t0.Add(time.Hour),
				})
			}()
		}
		wg.Wait()
		wins := 0
		for i := range decisions {
			switch {
			case changed[i] && errs[i] == nil:
				wins++
			case errs[i] != nil && !errors.Is(errs[i], store.ErrInvalidTransition):
				t.Errorf("decision %d: unexpected error %v", i, errs[i])
			}
		}
		if wins != 1 {
			t.Errorf("%d decisions changed the request, want exactly 1 (changed %v, errs %v)", wins, changed, errs)
		}
		if n := db.count(t, "audit_events", "request_id = ? AND action = 'status' AND actor LIKE 'officer%'", "DSR-RACE000001"); n != 1 {
			t.Errorf("%d decision audit entries, want 1", n)
		}
	})
}

// Temporal may run a retried activity while the first attempt is still
// finishing: both ask for the same change, and neither may fail.
func TestTransitionConcurrentRetries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for round := range 5 {
			id := fmt.Sprintf("DSR-RETRY%05d", round)
			create(t, db, newRequest(id, domain.TypeAccess, t0))
			const attempts = 6
			changed := make([]bool, attempts)
			errs := make([]error, attempts)
			var wg sync.WaitGroup
			for i := range attempts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					changed[i], errs[i] = db.st.Transition(ctx, store.Transition{
						RequestID: id, To: domain.StatusVerifying, Actor: store.ActorSystem, At: t0.Add(time.Minute),
					})
				}()
			}
			wg.Wait()
			n := 0
			for i := range attempts {
				if errs[i] != nil {
					t.Errorf("%s attempt %d: %v; a repeated change must not fail", id, i, errs[i])
				}
				if changed[i] {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: %d attempts report a change, want exactly 1", id, n)
			}
			if c := db.count(t, "audit_events", "request_id = ? AND action = 'status'", id); c != 1 {
				t.Errorf("%s: %d status audit entries, want 1", id, c)
			}
		}
	})
}

func TestTimelineOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		id := "DSR-TIMELINE01"
		_, hash, _ := auth.NewToken()
		create(t, db, newRequest(id, domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-OTHER00001", domain.TypeAccess, t0)) // not in id's timeline
		moveTo(t, db, id, domain.StatusVerifying)
		if err := db.st.AddToken(ctx, &store.RequestToken{RequestID: id, Purpose: store.PurposeVerify, Hash: hash, ExpiresAt: t0.Add(7 * 24 * time.Hour), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.VerifyByToken(ctx, hash, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.st.Audit(ctx, store.AuditEvent{RequestID: id, Actor: store.ActorSystem, Action: "email_sent", Detail: "verified", At: t0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.Transition(ctx, store.Transition{RequestID: id, To: domain.StatusInReview, Actor: store.ActorSystem, At: t0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.Transition(ctx, store.Transition{RequestID: id, To: domain.StatusDenied, Actor: "grace@example.com", Reason: "Manifestly unfounded.", At: t0.Add(4 * time.Hour)}); err != nil {
			t.Fatal(err)
		}

		tl, err := db.st.Timeline(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.AuditEvent{
			{Actor: store.ActorRequester, Action: "received", Detail: "access request submitted", At: t0},
			{Actor: store.ActorSystem, Action: "status", Detail: "received → verifying", At: t0.Add(time.Minute)},
			{Actor: store.ActorRequester, Action: "identity_verified", At: t0.Add(2 * time.Hour)},
			{Actor: store.ActorSystem, Action: "email_sent", Detail: "verified", At: t0.Add(3 * time.Hour)},
			{Actor: store.ActorSystem, Action: "status", Detail: "verifying → in_review", At: t0.Add(3 * time.Hour)},
			{Actor: "grace@example.com", Action: "status", Detail: "in_review → denied", At: t0.Add(4 * time.Hour)},
		}
		if len(tl) != len(want) {
			t.Fatalf("timeline has %d entries, want %d: %+v", len(tl), len(want), tl)
		}
		for i, w := range want {
			g := tl[i]
			if g.RequestID != id || g.Actor != w.Actor || g.Action != w.Action || g.Detail != w.Detail || !g.At.Equal(w.At) {
				t.Errorf("timeline[%d] = %+v, want %+v", i, g, w)
			}
			if i > 0 && g.ID <= tl[i-1].ID {
				t.Errorf("timeline[%d] ID %d not after %d", i, g.ID, tl[i-1].ID)
			}
		}
		if tl, err := db.st.Timeline(ctx, "DSR-NOSUCH0000"); err != nil || len(tl) != 0 {
			t.Errorf("Timeline(unknown) = %+v, %v; want empty", tl, err)
		}
	})
}

func TestAuditUnknownRequestFails(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		err := db.st.Audit(context.Background(), store.AuditEvent{RequestID: "DSR-NOSUCH0000", Actor: store.ActorSystem, Action: "x", At: t0})
		if err == nil {
			t.Error("Audit for a request that does not exist succeeded")
		}
	})
}

func TestUnstartedRequestsAndMarkWorkflowStarted(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-U3", domain.TypeAccess, t0.Add(3*time.Hour)))
		create(t, db, newRequest("DSR-U1", domain.TypeAccess, t0.Add(1*time.Hour)))
		create(t, db, newRequest("DSR-U2", domain.TypeAccess, t0.Add(2*time.Hour)))

		rs, err := db.st.UnstartedRequests(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(rs)) != "[DSR-U1 DSR-U2 DSR-U3]" {
			t.Errorf("UnstartedRequests = %v, want oldest first", ids(rs))
		}
		if rs, _ := db.st.UnstartedRequests(ctx, 2); fmt.Sprint(ids(rs)) != "[DSR-U1 DSR-U2]" {
			t.Errorf("UnstartedRequests(limit 2) = %v", ids(rs))
		}

		started := t0.Add(5 * time.Hour)
		if err := db.st.MarkWorkflowStarted(ctx, "DSR-U1", started.In(time.FixedZone("EST", -5*3600))); err != nil {
			t.Fatal(err)
		}
		// A second mark (a retried start) keeps the first time.
		if err := db.st.MarkWorkflowStarted(ctx, "DSR-U1", started.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		sameTimePtr(t, "WorkflowStartedAt", get(t, db, "DSR-U1").WorkflowStartedAt, started)

		rs, err = db.st.UnstartedRequests(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(rs)) != "[DSR-U2 DSR-U3]" {
			t.Errorf("after marking DSR-U1, UnstartedRequests = %v", ids(rs))
		}
		if err := db.st.MarkWorkflowStarted(ctx, "DSR-NOSUCH0000", started); err != nil {
			t.Errorf("MarkWorkflowStarted(unknown) = %v; want a harmless no-op", err)
		}
	})
}

func TestVerifiedButWaiting(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for _, id := range []string{"DSR-LOST2", "DSR-LOST1", "DSR-NOTYET", "DSR-FRESH", "DSR-MOVEDON", "DSR-RECEIVED"} {
			create(t, db, newRequest(id, domain.TypeAccess, t0))
		}
		for _, id := range []string{"DSR-LOST2", "DSR-LOST1", "DSR-NOTYET", "DSR-FRESH", "DSR-MOVEDON"} {
			moveTo(t, db, id, domain.StatusVerifying)
		}
		verify := func(id string, at time.Time) {
			if err := db.st.MarkVerified(ctx, id, store.ActorRequester, at); err != nil {
				t.Fatal(err)
			}
		}
		verify("DSR-LOST1", t0.Add(1*time.Hour))
		verify("DSR-LOST2", t0.Add(2*time.Hour))
		verify("DSR-FRESH", t0.Add(10*time.Hour)) // the signal may still be on its way
		verify("DSR-MOVEDON", t0.Add(1*time.Hour))
		moveTo(t, db, "DSR-MOVEDON", domain.StatusInReview)
		verify("DSR-RECEIVED", t0.Add(1*time.Hour)) // not yet waiting for verification

		before := t0.Add(5 * time.Hour)
		rs, err := db.st.VerifiedButWaiting(ctx, before, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(rs)) != "[DSR-LOST1 DSR-LOST2]" {
			t.Errorf("VerifiedButWaiting = %v, want [DSR-LOST1 DSR-LOST2] (earliest verified first)", ids(rs))
		}
		if rs, _ := db.st.VerifiedButWaiting(ctx, before, 1); fmt.Sprint(ids(rs)) != "[DSR-LOST1]" {
			t.Errorf("VerifiedButWaiting(limit 1) = %v", ids(rs))
		}
		// The cut-off is exclusive.
		if rs, _ := db.st.VerifiedButWaiting(ctx, t0.Add(time.Hour), 10); len(rs) != 0 {
			t.Errorf("VerifiedButWaiting(before = first verification) = %v, want none", ids(rs))
		}
	})
}

func TestCountRequests(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if cs, err := db.st.CountRequests(ctx); err != nil || len(cs) != 0 {
			t.Errorf("CountRequests on an empty store = %v, %v", cs, err)
		}
		create(t, db, newRequest("DSR-1", domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-2", domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-3", domain.TypeAccess, t0))
		create(t, db, newRequest("DSR-4", domain.TypeDeletion, t0))
		create(t, db, newRequest("DSR-5", domain.TypeExport, t0))
		moveTo(t, db, "DSR-3", domain.StatusVerifying)
		moveTo(t, db, "DSR-4", domain.StatusVerifying, domain.StatusExpiredUnverified)

		cs, err := db.st.CountRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.StatusCount{
			{Type: domain.TypeAccess, Status: domain.StatusReceived, Count: 2},
			{Type: domain.TypeAccess, Status: domain.StatusVerifying, Count: 1},
			{Type: domain.TypeDeletion, Status: domain.StatusExpiredUnverified, Count: 1},
			{Type: domain.TypeExport, Status: domain.StatusReceived, Count: 1},
		}
		if fmt.Sprint(cs) != fmt.Sprint(want) {
			t.Errorf("CountRequests = %v, want %v", cs, want)
		}
	})
}

func TestCountOverdue(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-1", domain.TypeAccess, t0))                     // due t0+30d, open
		create(t, db, newRequest("DSR-2", domain.TypeAccess, t0))                     // closed below
		create(t, db, newRequest("DSR-3", domain.TypeDeletion, t0.AddDate(0, 0, 10))) // not yet due
		create(t, db, newRequest("DSR-4", domain.TypeExport, t0))                     // in review
		moveTo(t, db, "DSR-2", domain.StatusVerifying, domain.StatusExpiredUnverified)
		moveTo(t, db, "DSR-4", domain.StatusVerifying, domain.StatusInReview)

		now := t0.AddDate(0, 0, 31)
		got, err := db.st.CountOverdue(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		want := map[domain.RequestType]int64{domain.TypeAccess: 1, domain.TypeExport: 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("CountOverdue at +31d = %v, want %v", got, want)
		}
		if got, _ := db.st.CountOverdue(ctx, t0.AddDate(0, 0, 29)); len(got) != 0 {
			t.Errorf("CountOverdue before any due date = %v", got)
		}
	})
}

func TestListRequestsOpenFirstAndSearch(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-AAA0000001", domain.TypeAccess, t0))                  // closed, earliest due
		create(t, db, newRequest("DSR-AAA0000002", domain.TypeAccess, t0.AddDate(0, 0, 2))) // open, later
		create(t, db, newRequest("DSR-BBB0000003", domain.TypeExport, t0.AddDate(0, 0, 1))) // open, sooner
		create(t, db, newRequest("DSR-A_%0000004", domain.TypeExport, t0.AddDate(0, 0, 3))) // wildcards in the ID
		moveTo(t, db, "DSR-AAA0000001", domain.StatusVerifying, domain.StatusExpiredUnverified)

		list := func(f store.RequestFilter) []string {
			t.Helper()
			rs, err := db.st.ListRequests(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return ids(rs)
		}
		if got, want := list(store.RequestFilter{}), []string{"DSR-BBB0000003", "DSR-AAA0000002", "DSR-A_%0000004", "DSR-AAA0000001"}; !slices.Equal(got, want) {
			t.Errorf("all = %v, want open first, soonest due first: %v", got, want)
		}
		if got := list(store.RequestFilter{Open: true}); len(got) != 3 || slices.Contains(got, "DSR-AAA0000001") {
			t.Errorf("open = %v", got)
		}
		if got, want := list(store.RequestFilter{Search: " dsr-aaa "}), []string{"DSR-AAA0000002", "DSR-AAA0000001"}; !slices.Equal(got, want) {
			t.Errorf("search dsr-aaa = %v, want %v", got, want)
		}
		if got := list(store.RequestFilter{Search: "DSR-A_%"}); !slices.Equal(got, []string{"DSR-A_%0000004"}) {
			t.Errorf("search with LIKE wildcards = %v; they must match literally", got)
		}
	})
}

// A submitted request's "received" entry waits for its workflow's start:
// intake takes no lock on the audit chain. Whoever records the start
// writes it, once, however many record it at the same time, and the
// chain stays whole.
func TestSubmittedRequestIsAuditedOnceWhenItStarts(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		r := newRequest("DSR-SUBMIT0001", domain.TypeDeletion, t0)
		if err := db.st.CreateSubmittedRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		if c := db.count(t, "audit_events", "request_id = ?", r.ID); c != 0 {
			t.Fatalf("%d audit entries before the start, want none", c)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.st.MarkWorkflowStarted(ctx, r.ID, t0.Add(time.Duration(i+1)*time.Second))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		tl, err := db.st.Timeline(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 1 || tl[0].Action != "received" || tl[0].Actor != store.ActorRequester ||
			tl[0].Detail != "deletion request submitted" || !tl[0].At.Equal(t0) {
			t.Errorf("timeline after four racing starts = %+v, want one 'received' entry at %s", tl, t0)
		}
		if rep, err := db.st.VerifyAudit(ctx); err != nil || rep.Break != nil || rep.Verified != 1 {
			t.Errorf("VerifyAudit = %+v, %v; want one whole link", rep, err)
		}

		// A request stored with its entry (an officer's, an email's) gets
		// no second one when it starts.
		logged := create(t, db, newRequest("DSR-SUBMIT0002", domain.TypeAccess, t0))
		if err := db.st.MarkWorkflowStarted(ctx, logged.ID, t0); err != nil {
			t.Fatal(err)
		}
		if c := db.count(t, "audit_events", "request_id = ? AND action = 'received'", logged.ID); c != 1 {
			t.Errorf("%d 'received' entries for a request stored with one, want 1", c)
		}
	})
}
