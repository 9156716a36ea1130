package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

func addCode(t *testing.T, db testDB, id, code string, expires time.Time) {
	t.Helper()
	if err := db.st.AddVerifyCode(context.Background(), id, code, expires, t0); err != nil {
		t.Fatalf("AddVerifyCode: %v", err)
	}
}

func TestVerifyByCode(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		keys, err := auth.CodeKeys(strings.Repeat("n", 32), strings.Repeat("o", 32))
		if err != nil {
			t.Fatal(err)
		}
		// A code from an email sent under the previous key.
		db.st.SetCodeKeys(keys[1])
		verifying(t, db, "DSR-CODE000001")
		addCode(t, db, "DSR-CODE000001", "024680", t0.Add(verifyTTL))
		db.st.SetCodeKeys(keys...)
		addCode(t, db, "DSR-CODE000001", "135791", t0.Add(verifyTTL))

		if n := db.count(t, "request_tokens", "hash LIKE ? OR hash LIKE ?", "%135791%", "%024680%"); n != 0 {
			t.Errorf("%d codes stored in clear", n)
		}
		// A wrong code changes nothing but the count, and says how many
		// tries are left.
		_, err = db.st.VerifyByCode(ctx, "DSR-CODE000001", "000000", t0.Add(time.Hour))
		var wrong *store.WrongCodeError
		if !errors.As(err, &wrong) || wrong.Left != store.MaxCodeFailures-1 {
			t.Fatalf("VerifyByCode(wrong) = %v, want a WrongCodeError with %d left", err, store.MaxCodeFailures-1)
		}
		if r := get(t, db, "DSR-CODE000001"); r.VerifiedAt != nil || r.VerifyCodeFailures != 1 {
			t.Errorf("after a wrong code: verified %v, failures %d", r.VerifiedAt, r.VerifyCodeFailures)
		}
		// The code of the earlier email works too, under the old key.
		r, err := db.st.VerifyByCode(ctx, "DSR-CODE000001", "024680", t0.Add(time.Hour))
		if err != nil || r.VerifiedAt == nil || r.VerifiedBy != store.ActorRequester {
			t.Fatalf("VerifyByCode(right) = %+v, %v", r, err)
		}
		if n := db.count(t, "audit_events", "request_id = ? AND action = ?", "DSR-CODE000001", "identity_verified"); n != 1 {
			t.Errorf("%d identity_verified entries, want 1", n)
		}
		// Single use: the request is verified, so no code works any more.
		for _, c := range []string{"024680", "135791"} {
			if _, err := db.st.VerifyByCode(ctx, "DSR-CODE000001", c, t0.Add(time.Hour)); !errors.Is(err, store.ErrTokenUsed) {
				t.Errorf("VerifyByCode(%s) after verification = %v, want ErrTokenUsed", c, err)
			}
		}

		// Codes expire with their link.
		verifying(t, db, "DSR-CODE000002")
		addCode(t, db, "DSR-CODE000002", "111111", t0.Add(time.Hour))
		if _, err := db.st.VerifyByCode(ctx, "DSR-CODE000002", "111111", t0.Add(time.Hour)); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("VerifyByCode(expired) = %v, want ErrTokenExpired", err)
		}
		if r := get(t, db, "DSR-CODE000002"); r.VerifiedAt != nil || r.VerifyCodeFailures != 0 {
			t.Errorf("an expired code changed the request: verified %v, failures %d", r.VerifiedAt, r.VerifyCodeFailures)
		}
		if _, err := db.st.VerifyByCode(ctx, "DSR-UNKNOWN001", "111111", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VerifyByCode(unknown request) = %v, want ErrNotFound", err)
		}
		// A code of one request does not verify another.
		addCode(t, db, "DSR-CODE000002", "222222", t0.Add(verifyTTL))
		verifying(t, db, "DSR-CODE000003")
		addCode(t, db, "DSR-CODE000003", "333333", t0.Add(verifyTTL))
		if _, err := db.st.VerifyByCode(ctx, "DSR-CODE000003", "222222", t0); !errors.As(err, &wrong) {
			t.Errorf("another request's code = %v, want WrongCodeError", err)
		}
	})
}

func TestVerifyByCodeLocks(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		hash := verifying(t, db, "DSR-LOCKED0001")
		addCode(t, db, "DSR-LOCKED0001", "987654", t0.Add(verifyTTL))
		// Guesses in parallel are counted one after another: no more than
		// MaxCodeFailures of them are ever compared.
		var wg sync.WaitGroup
		errs := make(chan error, 2*store.MaxCodeFailures)
		for range 2 * store.MaxCodeFailures {
			wg.Go(func() {
				_, err := db.st.VerifyByCode(ctx, "DSR-LOCKED0001", "123456", t0)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		wrongs, locked := 0, 0
		for err := range errs {
			var wrong *store.WrongCodeError
			switch {
			case errors.As(err, &wrong):
				wrongs++
			case errors.Is(err, store.ErrCodeLocked):
				locked++
			default:
				t.Errorf("a guess answered %v", err)
			}
		}
		if wrongs != store.MaxCodeFailures || locked != store.MaxCodeFailures {
			t.Errorf("%d wrong and %d locked answers, want %d of each", wrongs, locked, store.MaxCodeFailures)
		}
		// Locked, the right code does not work either, and changes nothing.
		if _, err := db.st.VerifyByCode(ctx, "DSR-LOCKED0001", "987654", t0); !errors.Is(err, store.ErrCodeLocked) {
			t.Errorf("the right code after the lock = %v, want ErrCodeLocked", err)
		}
		if r := get(t, db, "DSR-LOCKED0001"); r.VerifiedAt != nil || r.VerifyCodeFailures != store.MaxCodeFailures {
			t.Errorf("locked: verified %v, failures %d", r.VerifiedAt, r.VerifyCodeFailures)
		}
		if n := db.count(t, "audit_events", "request_id = ? AND action = ?", "DSR-LOCKED0001", "verification_code_failed"); n != store.MaxCodeFailures {
			t.Errorf("%d failed codes audited, want %d", n, store.MaxCodeFailures)
		}
		// The link still works.
		if r, err := db.st.VerifyByToken(ctx, hash, t0); err != nil || r.VerifiedAt == nil {
			t.Errorf("the link after the lock: %+v, %v", r, err)
		}
	})
}

func TestCheckVerifyTokenChangesNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		hash := verifying(t, db, "DSR-CHECK00001")
		for range 3 {
			r, err := db.st.CheckVerifyToken(ctx, hash, t0)
			if err != nil || r.ID != "DSR-CHECK00001" {
				t.Fatalf("CheckVerifyToken = %+v, %v", r, err)
			}
		}
		if r := get(t, db, "DSR-CHECK00001"); r.VerifiedAt != nil {
			t.Error("checking a link verified the request")
		}
		if n := db.count(t, "request_tokens", "used_at IS NOT NULL"); n != 0 {
			t.Errorf("checking a link used %d tokens", n)
		}
		if _, err := db.st.CheckVerifyToken(ctx, hash, t0.Add(verifyTTL)); !errors.Is(err, store.ErrTokenExpired) {
			t.Errorf("CheckVerifyToken at expiry = %v, want ErrTokenExpired", err)
		}
		if _, err := db.st.VerifyByToken(ctx, hash, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.CheckVerifyToken(ctx, hash, t0); !errors.Is(err, store.ErrTokenUsed) {
			t.Errorf("CheckVerifyToken after use = %v, want ErrTokenUsed", err)
		}
		if _, err := db.st.CheckVerifyToken(ctx, auth.HashToken("nope"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CheckVerifyToken(unknown) = %v, want ErrNotFound", err)
		}
	})
}
