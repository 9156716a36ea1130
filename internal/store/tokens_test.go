package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

const verifyTTL = 7 * 24 * time.Hour

// verifying creates a request waiting for verification and a verification
// token for it, and returns the token's hash.
func verifying(t *testing.T, db testDB, id string) string {
	t.Helper()
	create(t, db, newRequest(id, domain.TypeAccess, t0))
	moveTo(t, db, id, domain.StatusVerifying)
	return addToken(t, db, id, store.PurposeVerify, t0.Add(verifyTTL))
}

func addToken(t *testing.T, db testDB, id string, purpose store.TokenPurpose, expires time.Time) string {
	t.Helper()
	_, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	tok := &store.RequestToken{RequestID: id, Purpose: purpose, Hash: hash, ExpiresAt: expires, CreatedAt: t0}
	if err := db.st.AddToken(context.Background(), tok); err != nil {
		t.Fatalf("AddToken: %v", err)
	}
	if tok.ID == 0 {
		t.Error("AddToken did not set the token's ID")
	}
	return hash
}

func TestRequestByToken(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-STATUS0001", domain.TypeAccess, t0))
		expires := t0.Add(30 * 24 * time.Hour)
		status := addToken(t, db, "DSR-STATUS0001", store.PurposeStatus, expires)
		verify := addToken(t, db, "DSR-STATUS0001", store.PurposeVerify, expires)

		// A status link works as often as the requester likes.
		for range 3 {
			r, err := db.st.RequestByToken(ctx, store.PurposeStatus, status, t0.Add(time.Hour))
			if err != nil || r.ID != "DSR-STATUS0001" {
				t.Fatalf("RequestByToken = %v, %v; want DSR-STATUS0001", r, err)
			}
		}
		if _, err := db.st.RequestByToken(ctx, store.PurposeStatus, status, expires.Add(-time.Microsecond)); err != nil {
			t.Errorf("RequestByToken just before expiry = %v, want success", err)
		}
		if _, err := db.st.RequestByToken(ctx, store.PurposeStatus, status, expires); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("RequestByToken at expiry = %v, want ErrTokenExpired", err)
		}
		if _, err := db.st.RequestByToken(ctx, store.PurposeStatus, auth.HashToken("made-up"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RequestByToken(unknown) = %v, want ErrNotFound", err)
		}
		// A verification link is not a status link.
		if _, err := db.st.RequestByToken(ctx, store.PurposeStatus, verify, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RequestByToken(status, verify token) = %v, want ErrNotFound", err)
		}
	})
}

func TestAddTokenDuplicateHash(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		create(t, db, newRequest("DSR-DUPTOKEN01", domain.TypeAccess, t0))
		hash := addToken(t, db, "DSR-DUPTOKEN01", store.PurposeStatus, t0.Add(time.Hour))
		err := db.st.AddToken(context.Background(), &store.RequestToken{RequestID: "DSR-DUPTOKEN01", Purpose: store.PurposeVerify, Hash: hash, ExpiresAt: t0, CreatedAt: t0})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("AddToken(taken hash) = %v, want ErrConflict", err)
		}
	})
}

func TestAddTokenUnknownRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		err := db.st.AddToken(context.Background(), &store.RequestToken{RequestID: "DSR-NOSUCH0000", Purpose: store.PurposeVerify, Hash: "h", ExpiresAt: t0, CreatedAt: t0})
		if err == nil {
			t.Error("AddToken for a request that does not exist succeeded")
		}
	})
}

func TestVerifyByTokenIsSingleUse(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		hash := verifying(t, db, "DSR-VERIFY0001")
		clicked := t0.Add(2 * time.Hour)

		r, err := db.st.VerifyByToken(ctx, hash, clicked.In(time.FixedZone("CET", 3600)))
		if err != nil {
			t.Fatalf("VerifyByToken: %v", err)
		}
		if r.ID != "DSR-VERIFY0001" || r.VerifiedBy != store.ActorRequester {
			t.Errorf("VerifyByToken = %+v, want the request verified by the requester", r)
		}
		sameTimePtr(t, "returned VerifiedAt", r.VerifiedAt, clicked)
		// Verification does not move the status: the workflow does, when
		// its signal arrives.
		if r.Status != domain.StatusVerifying {
			t.Errorf("status = %s, want verifying", r.Status)
		}
		stored := get(t, db, "DSR-VERIFY0001")
		sameTimePtr(t, "stored VerifiedAt", stored.VerifiedAt, clicked)
		sameTime(t, "UpdatedAt", stored.UpdatedAt, clicked)
		if n := db.count(t, "request_tokens", "hash = ? AND used_at IS NOT NULL", hash); n != 1 {
			t.Errorf("token not marked used")
		}

		// A second click changes nothing.
		r2, err := db.st.VerifyByToken(ctx, hash, clicked.Add(time.Hour))
		if !errors.Is(err, store.ErrTokenUsed) {
			t.Fatalf("second VerifyByToken = %+v, %v; want ErrTokenUsed", r2, err)
		}
		if r2 != nil {
			t.Errorf("second VerifyByToken returned a request: %+v", r2)
		}
		sameTimePtr(t, "VerifiedAt after second click", get(t, db, "DSR-VERIFY0001").VerifiedAt, clicked)
		if n := db.count(t, "audit_events", "request_id = ? AND action = 'identity_verified'", "DSR-VERIFY0001"); n != 1 {
			t.Errorf("%d identity_verified entries, want 1", n)
		}
	})
}

func TestVerifyByTokenExpired(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		hash := verifying(t, db, "DSR-EXPIRED001")
		_, err := db.st.VerifyByToken(ctx, hash, t0.Add(verifyTTL)) // exactly at expiry
		if !errors.Is(err, store.ErrTokenExpired) {
			t.Fatalf("VerifyByToken at expiry = %v, want ErrTokenExpired", err)
		}
		if _, err := db.st.VerifyByToken(ctx, hash, t0.Add(verifyTTL+time.Hour)); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("VerifyByToken after expiry = %v, want ErrTokenExpired", err)
		}
		if get(t, db, "DSR-EXPIRED001").VerifiedAt != nil {
			t.Error("an expired link verified the request")
		}
		if n := db.count(t, "request_tokens", "hash = ? AND used_at IS NULL", hash); n != 1 {
			t.Error("an expired link was marked used")
		}
		if n := db.count(t, "audit_events", "request_id = ? AND action = 'identity_verified'", "DSR-EXPIRED001"); n != 0 {
			t.Errorf("%d identity_verified entries for an expired link", n)
		}
	})
}

func TestVerifyByTokenUnknown(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if _, err := db.st.VerifyByToken(ctx, auth.HashToken("made-up"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VerifyByToken(unknown) = %v, want ErrNotFound", err)
		}
		// A status link cannot verify.
		create(t, db, newRequest("DSR-STATUSONLY", domain.TypeAccess, t0))
		status := addToken(t, db, "DSR-STATUSONLY", store.PurposeStatus, t0.Add(time.Hour))
		if _, err := db.st.VerifyByToken(ctx, status, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VerifyByToken(status token) = %v, want ErrNotFound", err)
		}
		if get(t, db, "DSR-STATUSONLY").VerifiedAt != nil {
			t.Error("a status link verified the request")
		}
	})
}

// A reminder carries a fresh link; using it after the first keeps the first
// verification.
func TestVerifyBySecondTokenKeepsFirstVerification(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		first := verifying(t, db, "DSR-REMINDED01")
		second := addToken(t, db, "DSR-REMINDED01", store.PurposeVerify, t0.Add(verifyTTL))
		if _, err := db.st.VerifyByToken(ctx, first, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		r, err := db.st.VerifyByToken(ctx, second, t0.Add(2*time.Hour))
		if err != nil {
			t.Fatalf("VerifyByToken(reminder link) = %v", err)
		}
		sameTimePtr(t, "VerifiedAt", r.VerifiedAt, t0.Add(time.Hour))
		if n := db.count(t, "audit_events", "request_id = ? AND action = 'identity_verified'", "DSR-REMINDED01"); n != 1 {
			t.Errorf("%d identity_verified entries, want 1", n)
		}
	})
}

func TestMarkVerifiedKeepsFirstRecord(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		hash := verifying(t, db, "DSR-OFFICER001")
		if err := db.st.MarkVerified(ctx, "DSR-OFFICER001", "grace@example.com", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.st.MarkVerified(ctx, "DSR-OFFICER001", "alan@example.com", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// The requester clicks afterwards: the link is used up, the
		// officer's record stays.
		if _, err := db.st.VerifyByToken(ctx, hash, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		r := get(t, db, "DSR-OFFICER001")
		if r.VerifiedBy != "grace@example.com" {
			t.Errorf("VerifiedBy = %q, want the first officer", r.VerifiedBy)
		}
		sameTimePtr(t, "VerifiedAt", r.VerifiedAt, t0.Add(time.Hour))
		tl, err := db.st.Timeline(ctx, "DSR-OFFICER001")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range tl {
			if e.Action == "identity_verified" {
				n++
				if e.Actor != "grace@example.com" {
					t.Errorf("identity_verified by %q, want grace@example.com", e.Actor)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d identity_verified entries, want 1", n)
		}
	})
}

// A requester double-clicks, or a mail scanner and the requester open the
// link together: the request is verified exactly once.
func TestVerifyByTokenConcurrently(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for round := range 3 {
			id := "DSR-CONCURRENT" + string(rune('A'+round))
			hash := verifying(t, db, id)
			const clicks = 8
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, clicks)
			got := make([]*store.Request, clicks)
			for i := range clicks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got[i], errs[i] = db.st.VerifyByToken(ctx, hash, t0.Add(time.Duration(i+1)*time.Minute))
				}()
			}
			close(start)
			wg.Wait()

			ok := 0
			var winner time.Time
			for i := range clicks {
				switch {
				case errs[i] == nil:
					ok++
					if got[i].VerifiedAt == nil {
						t.Errorf("click %d succeeded without VerifiedAt", i)
					} else {
						winner = *got[i].VerifiedAt
					}
				case !errors.Is(errs[i], store.ErrTokenUsed):
					t.Errorf("click %d: %v, want success or ErrTokenUsed", i, errs[i])
				}
			}
			if ok != 1 {
				t.Fatalf("%s: %d clicks verified, want exactly 1 (errors %v)", id, ok, errs)
			}
			sameTimePtr(t, "stored VerifiedAt", get(t, db, id).VerifiedAt, winner)
			if n := db.count(t, "audit_events", "request_id = ? AND action = 'identity_verified'", id); n != 1 {
				t.Errorf("%s: %d identity_verified entries, want 1", id, n)
			}
		}
	})
}

func TestVerifyByOfficer(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		create(t, db, newRequest("DSR-BYHAND0001", domain.TypeAccess, t0))
		if _, err := db.st.VerifyByOfficer(ctx, "DSR-BYHAND0001", "grace@example.com", "passport", t0); !errors.Is(err, store.ErrInvalidTransition) {
			t.Errorf("verifying a request not yet waiting: %v", err)
		}
		moveTo(t, db, "DSR-BYHAND0001", domain.StatusVerifying)
		ok, err := db.st.VerifyByOfficer(ctx, "DSR-BYHAND0001", "grace@example.com", "Checked passport at the front desk", t0.Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("verify: %v, %v", ok, err)
		}
		if again, err := db.st.VerifyByOfficer(ctx, "DSR-BYHAND0001", "alan@example.com", "again", t0.Add(2*time.Hour)); err != nil || again {
			t.Errorf("second verification: %v, %v; want the first kept", again, err)
		}
		r := get(t, db, "DSR-BYHAND0001")
		if r.VerifiedBy != "grace@example.com" {
			t.Errorf("verified by %q", r.VerifiedBy)
		}
		sameTimePtr(t, "verified at", r.VerifiedAt, t0.Add(time.Hour))
		timeline, _ := db.st.Timeline(ctx, "DSR-BYHAND0001")
		last := timeline[len(timeline)-1]
		if last.Action != "identity_verified" || last.Detail != "Checked passport at the front desk" || last.Actor != "grace@example.com" {
			t.Errorf("audit entry %+v", last)
		}
		if _, err := db.st.VerifyByOfficer(ctx, "DSR-NOSUCH0000", "grace@example.com", "x", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown request: %v", err)
		}
	})
}
