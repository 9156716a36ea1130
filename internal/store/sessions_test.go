package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

func TestSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		o := &store.Officer{Email: "grace@example.com", Role: store.RoleOfficer, PasswordHash: "x", CreatedAt: t0}
		if err := db.st.CreateOfficer(ctx, o); err != nil {
			t.Fatal(err)
		}
		ses := &store.Session{OfficerID: o.ID, TokenHash: auth.HashToken("session-token"), CSRFToken: "csrf",
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(8 * time.Hour)}
		if err := db.st.CreateSession(ctx, ses); err != nil {
			t.Fatal(err)
		}
		got, officer, err := db.st.SessionByTokenHash(ctx, ses.TokenHash, t0.Add(time.Hour))
		if err != nil || got.CSRFToken != "csrf" || officer.Email != "grace@example.com" {
			t.Fatalf("lookup: %+v %+v %v", got, officer, err)
		}
		if _, _, err := db.st.SessionByTokenHash(ctx, ses.TokenHash, t0.Add(8*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("at its expiry: %v, want ErrNotFound", err)
		}
		if err := db.st.TouchSession(ctx, ses.ID, t0.Add(7*time.Hour), t0.Add(15*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.st.SessionByTokenHash(ctx, ses.TokenHash, t0.Add(9*time.Hour)); err != nil {
			t.Errorf("after sliding: %v", err)
		}

		// A second session, expired: the janitor removes it and only it.
		old := &store.Session{OfficerID: o.ID, TokenHash: auth.HashToken("old"), CSRFToken: "c2",
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.st.CreateSession(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := db.st.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}

		// Disabling the officer ends their sessions and refuses their API tokens.
		if err := db.st.AddAPIToken(ctx, &store.APIToken{OfficerID: o.ID, Hash: auth.HashToken("api"), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := db.st.SetOfficerDisabled(ctx, o.ID, true, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.st.SessionByTokenHash(ctx, ses.TokenHash, t0.Add(4*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session of a disabled officer: %v", err)
		}
		if _, err := db.st.OfficerByTokenHash(ctx, auth.HashToken("api"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("API token of a disabled officer: %v", err)
		}
		if err := db.st.SetOfficerDisabled(ctx, o.ID, false, t0); err != nil {
			t.Fatal(err)
		}
		if got, err := db.st.OfficerByTokenHash(ctx, auth.HashToken("api"), t0); err != nil || !got.Active() {
			t.Errorf("re-enabled officer's token: %+v, %v", got, err)
		}
		if err := db.st.SetOfficerDisabled(ctx, 99999, true, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown officer: %v", err)
		}

		if err := db.st.DeleteSession(ctx, ses.TokenHash); err != nil {
			t.Fatal(err)
		}
		if err := db.st.DeleteSession(ctx, ses.TokenHash); err != nil {
			t.Errorf("deleting a session already gone: %v", err)
		}
		list, err := db.st.ListOfficers(ctx)
		if err != nil || len(list) != 1 || list[0].PasswordHash != "x" {
			t.Errorf("ListOfficers = %+v, %v", list, err)
		}
	})
}
