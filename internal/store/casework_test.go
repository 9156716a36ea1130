package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

func addOfficer(t *testing.T, db testDB, email string, role store.Role) *store.Officer {
	t.Helper()
	o := &store.Officer{Email: email, Role: role, PasswordHash: "x", CreatedAt: t0}
	if err := db.st.CreateOfficer(context.Background(), o); err != nil {
		t.Fatalf("CreateOfficer: %v", err)
	}
	return o
}

func actions(t *testing.T, db testDB, id string) []string {
	t.Helper()
	es, err := db.st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+":"+e.Detail)
	}
	return out
}

// TestNotesInTimeOrderAuditedWithoutTheirText: notes come back oldest
// first with their authors; the trail says a note was added, never what
// it says; a note on no request is ErrNotFound and stores nothing.
func TestNotesInTimeOrderAuditedWithoutTheirText(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		r := create(t, db, newRequest("DSR-NOTE000001", domain.TypeAccess, t0))
		for i, n := range []store.Note{
			{RequestID: r.ID, Author: "grace@example.org", Body: "Called Ada back; she will send ID.", CreatedAt: t0.Add(2 * time.Hour)},
			{RequestID: r.ID, Author: "alan@example.org", Body: "Passport copy received.", CreatedAt: t0.Add(3 * time.Hour)},
		} {
			if err := db.st.AddNote(ctx, &n); err != nil || n.ID == 0 {
				t.Fatalf("AddNote %d: %v (id %d)", i, err, n.ID)
			}
		}
		ns, err := db.st.Notes(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 2 || ns[0].Author != "grace@example.org" || ns[1].Body != "Passport copy received." || !ns[1].CreatedAt.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("notes: %+v", ns)
		}
		trail := strings.Join(actions(t, db, r.ID), "\n")
		if strings.Count(trail, "note_added:note ") != 2 || strings.Contains(trail, "Passport") {
			t.Errorf("trail:\n%s", trail)
		}
		err = db.st.AddNote(ctx, &store.Note{RequestID: "DSR-NOPE000000", Author: "grace@example.org", Body: "x", CreatedAt: t0})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("note on no request: %v", err)
		}
		if ns, _ := db.st.Notes(ctx, "DSR-NOPE000000"); len(ns) != 0 {
			t.Errorf("notes stored for no request: %+v", ns)
		}
	})
}

// TestAssignAllOrNothing: a bulk assignment with an unknown reference
// names it and changes nothing; a good one audits each request whose
// assignee changed, and the list filters by assignee and by none.
func TestAssignAllOrNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		grace := addOfficer(t, db, "grace@example.org", store.RoleOfficer)
		alan := addOfficer(t, db, "alan@example.org", store.RoleOfficer)
		a := create(t, db, newRequest("DSR-ASSIGN0001", domain.TypeAccess, t0))
		b := create(t, db, newRequest("DSR-ASSIGN0002", domain.TypeExport, t0.Add(time.Hour)))
		c := create(t, db, newRequest("DSR-ASSIGN0003", domain.TypeDeletion, t0.Add(2*time.Hour)))

		_, err := db.st.Assign(ctx, store.Assignment{RequestIDs: []string{a.ID, "DSR-NOPE000001", b.ID, "DSR-NOPE000000"}, Assignee: grace, Actor: "alan@example.org", At: t0})
		var unknown *store.UnknownRequestsError
		if !errors.As(err, &unknown) || !slices.Equal(unknown.IDs, []string{"DSR-NOPE000000", "DSR-NOPE000001"}) || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown references: %v", err)
		}
		if get(t, db, a.ID).AssigneeID != nil {
			t.Fatal("a failed bulk assignment assigned a request")
		}

		n, err := db.st.Assign(ctx, store.Assignment{RequestIDs: []string{a.ID, b.ID, a.ID}, Assignee: grace, Actor: "alan@example.org", At: t0.Add(time.Hour)})
		if err != nil || n != 2 {
			t.Fatalf("Assign: %d, %v", n, err)
		}
		// Again, with one moved to Alan: only that one changes.
		n, err = db.st.Assign(ctx, store.Assignment{RequestIDs: []string{a.ID, b.ID}, Assignee: grace, Actor: "alan@example.org", At: t0.Add(time.Hour)})
		if err != nil || n != 0 {
			t.Fatalf("repeated Assign: %d, %v", n, err)
		}
		if _, err := db.st.Assign(ctx, store.Assignment{RequestIDs: []string{b.ID}, Assignee: alan, Actor: "grace@example.org", At: t0.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, db, a.ID).AssigneeID; got == nil || *got != grace.ID {
			t.Errorf("a's assignee: %v", got)
		}
		trail := actions(t, db, b.ID)
		if !slices.Contains(trail, "assigned:to grace@example.org") || !slices.Contains(trail, "assigned:to alan@example.org") {
			t.Errorf("b's trail: %v", trail)
		}

		list := func(f store.RequestFilter) []string {
			t.Helper()
			p, err := db.st.PageRequests(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if int(p.Total) != len(p.Requests) {
				t.Errorf("total %d for %d rows", p.Total, len(p.Requests))
			}
			return ids(p.Requests)
		}
		if got := list(store.RequestFilter{AssigneeID: &grace.ID}); !slices.Equal(got, []string{a.ID}) {
			t.Errorf("grace's: %v", got)
		}
		if got := list(store.RequestFilter{AssigneeID: &alan.ID}); !slices.Equal(got, []string{b.ID}) {
			t.Errorf("alan's: %v", got)
		}
		if got := list(store.RequestFilter{Unassigned: true}); !slices.Equal(got, []string{c.ID}) {
			t.Errorf("unassigned: %v", got)
		}

		n, err = db.st.Assign(ctx, store.Assignment{RequestIDs: []string{a.ID, c.ID}, Actor: "grace@example.org", At: t0.Add(3 * time.Hour)})
		if err != nil || n != 1 || get(t, db, a.ID).AssigneeID != nil {
			t.Fatalf("clearing: %d, %v", n, err)
		}
		if trail := actions(t, db, a.ID); trail[len(trail)-1] != "unassigned:no one is assigned" {
			t.Errorf("a's trail: %v", trail)
		}
	})
}

// TestLoggedRequestKeepsItsChannelAndVerification: a request logged by an
// officer stores how it came and who logged it; logged with evidence, it
// is verified in the same transaction and both are in the trail.
func TestLoggedRequestKeepsItsChannelAndVerification(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		web := create(t, db, newRequest("DSR-LOGGED0001", domain.TypeAccess, t0))
		if got := get(t, db, web.ID); got.Channel != domain.ChannelWeb || got.LoggedBy != "" {
			t.Errorf("a submitted request: channel %q, logged by %q", got.Channel, got.LoggedBy)
		}

		r := newRequest("DSR-LOGGED0002", domain.TypeDeletion, t0)
		r.Email, r.Channel, r.LoggedBy = "", domain.ChannelLetter, "grace@example.org"
		at := t0.AddDate(0, 0, 3)
		r.VerifiedAt, r.VerifiedBy = &at, "grace@example.org"
		if err := db.st.CreateLoggedRequest(ctx, r, nil, ""); err == nil {
			t.Fatal("a verification without evidence was stored")
		}
		if err := db.st.CreateLoggedRequest(ctx, r, nil, "signed letter matches the customer record"); err != nil {
			t.Fatal(err)
		}
		got := get(t, db, r.ID)
		if got.Channel != domain.ChannelLetter || got.LoggedBy != "grace@example.org" || got.Email != "" || got.VerifiedAt == nil || !got.VerifiedAt.Equal(at) {
			t.Errorf("stored: %+v", got)
		}
		trail := actions(t, db, r.ID)
		if len(trail) != 2 || trail[0] != "received:deletion request received by letter, logged by an officer" ||
			trail[1] != "identity_verified:signed letter matches the customer record" {
			t.Errorf("trail: %v", trail)
		}
	})
}
