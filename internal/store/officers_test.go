package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		role          store.Role
		valid, canAct bool
	}{
		{store.RoleAdmin, true, true},
		{store.RoleOfficer, true, true},
		{store.RoleViewer, true, false},
		{"", false, false},
		{"root", false, false},
		{"Admin", false, false},
	} {
		if got := tc.role.Valid(); got != tc.valid {
			t.Errorf("Role(%q).Valid() = %v, want %v", tc.role, got, tc.valid)
		}
		if got := tc.role.CanAct(); got != tc.canAct {
			t.Errorf("Role(%q).CanAct() = %v, want %v", tc.role, got, tc.canAct)
		}
	}
}

func TestOfficers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if n, err := db.st.CountOfficers(ctx); err != nil || n != 0 {
			t.Fatalf("CountOfficers on a fresh store = %d, %v", n, err)
		}
		grace := &store.Officer{Email: "grace@example.com", Role: store.RoleAdmin, PasswordHash: "$argon2id$fake", CreatedAt: t0}
		if err := db.st.CreateOfficer(ctx, grace); err != nil {
			t.Fatalf("CreateOfficer: %v", err)
		}
		if grace.ID == 0 {
			t.Error("CreateOfficer did not set the ID")
		}
		alan := &store.Officer{Email: "alan@example.com", Role: store.RoleViewer, PasswordHash: "$argon2id$other", CreatedAt: t0.Add(time.Hour)}
		if err := db.st.CreateOfficer(ctx, alan); err != nil {
			t.Fatal(err)
		}

		got, err := db.st.OfficerByEmail(ctx, "grace@example.com")
		if err != nil {
			t.Fatalf("OfficerByEmail: %v", err)
		}
		if got.ID != grace.ID || got.Role != store.RoleAdmin || got.PasswordHash != "$argon2id$fake" {
			t.Errorf("OfficerByEmail = %+v, want %+v", got, grace)
		}
		sameTime(t, "CreatedAt", got.CreatedAt, t0)

		dup := &store.Officer{Email: "grace@example.com", Role: store.RoleViewer, PasswordHash: "x", CreatedAt: t0}
		if err := db.st.CreateOfficer(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateOfficer(taken email) = %v, want ErrConflict", err)
		}
		if _, err := db.st.OfficerByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OfficerByEmail(unknown) = %v, want ErrNotFound", err)
		}
		if n, err := db.st.CountOfficers(ctx); err != nil || n != 2 {
			t.Errorf("CountOfficers = %d, %v; want 2", n, err)
		}
	})
}

func TestAPITokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		grace := &store.Officer{Email: "grace@example.com", Role: store.RoleOfficer, PasswordHash: "h", CreatedAt: t0}
		alan := &store.Officer{Email: "alan@example.com", Role: store.RoleViewer, PasswordHash: "h", CreatedAt: t0}
		for _, o := range []*store.Officer{grace, alan} {
			if err := db.st.CreateOfficer(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		_, graceHash, _ := auth.NewToken()
		_, alanHash, _ := auth.NewToken()
		for _, tok := range []*store.APIToken{
			{OfficerID: grace.ID, Hash: graceHash, CreatedAt: t0},
			{OfficerID: alan.ID, Hash: alanHash, CreatedAt: t0},
		} {
			if err := db.st.AddAPIToken(ctx, tok); err != nil {
				t.Fatalf("AddAPIToken: %v", err)
			}
			if tok.ID == 0 {
				t.Error("AddAPIToken did not set the ID")
			}
		}

		for hash, want := range map[string]*store.Officer{graceHash: grace, alanHash: alan} {
			o, err := db.st.OfficerByTokenHash(ctx, hash, t0)
			if err != nil {
				t.Fatalf("OfficerByTokenHash: %v", err)
			}
			if o.ID != want.ID || o.Email != want.Email || o.Role != want.Role {
				t.Errorf("OfficerByTokenHash = %+v, want %+v", o, want)
			}
		}
		if _, err := db.st.OfficerByTokenHash(ctx, auth.HashToken("made-up"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OfficerByTokenHash(unknown) = %v, want ErrNotFound", err)
		}
		if err := db.st.AddAPIToken(ctx, &store.APIToken{OfficerID: alan.ID, Hash: graceHash, CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("AddAPIToken(taken hash) = %v, want ErrConflict", err)
		}
		// The taken hash still belongs to grace.
		if o, err := db.st.OfficerByTokenHash(ctx, graceHash, t0); err != nil || o.ID != grace.ID {
			t.Errorf("after a refused duplicate, OfficerByTokenHash = %+v, %v", o, err)
		}
		if err := db.st.AddAPIToken(ctx, &store.APIToken{OfficerID: grace.ID + alan.ID + 100, Hash: "orphan", CreatedAt: t0}); err == nil {
			t.Error("AddAPIToken for an officer that does not exist succeeded")
		}
	})
}
