package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/store"
)

func TestOfficerTOTP(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		grace := &store.Officer{Email: "grace@example.com", Role: store.RoleAdmin, PasswordHash: "$argon2id$fake", CreatedAt: t0}
		if err := db.st.CreateOfficer(ctx, grace); err != nil {
			t.Fatal(err)
		}
		if grace.HasTOTP() {
			t.Fatal("a new officer has TOTP")
		}
		if ok, err := db.st.UseTOTPStep(ctx, grace.ID, 5); err != nil || ok {
			t.Fatalf("UseTOTPStep without TOTP = %v, %v; want false", ok, err)
		}

		sealed := []byte{1, 2, 3, 0, 255}
		if err := db.st.EnableTOTP(ctx, grace.ID, sealed, "k1", 100, []string{"h1", "h2", "h3"}, t0); err != nil {
			t.Fatalf("EnableTOTP: %v", err)
		}
		if err := db.st.EnableTOTP(ctx, grace.ID, sealed, "k1", 101, nil, t0); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("EnableTOTP twice = %v, want ErrConflict", err)
		}
		if err := db.st.EnableTOTP(ctx, 9999, sealed, "k1", 101, nil, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("EnableTOTP for nobody = %v, want ErrNotFound", err)
		}
		got, err := db.st.OfficerByID(ctx, grace.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.HasTOTP() || !bytes.Equal(got.TOTPSecret, sealed) || got.TOTPKeyID != "k1" || got.TOTPLastStep != 100 {
			t.Fatalf("after EnableTOTP: secret %v key %q step %d enabled %v", got.TOTPSecret, got.TOTPKeyID, got.TOTPLastStep, got.TOTPEnabledAt)
		}

		// A step is accepted once, and never one before the last.
		for _, tc := range []struct {
			step int64
			want bool
		}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
			if ok, err := db.st.UseTOTPStep(ctx, grace.ID, tc.step); err != nil || ok != tc.want {
				t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", tc.step, ok, err, tc.want)
			}
		}

		// Recovery codes: each once, only the officer's own.
		if left, err := db.st.UseRecoveryCode(ctx, grace.ID, "h2", t0); err != nil || left != 2 {
			t.Fatalf("UseRecoveryCode = %d, %v; want 2 left", left, err)
		}
		if _, err := db.st.UseRecoveryCode(ctx, grace.ID, "h2", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a used recovery code again = %v, want ErrNotFound", err)
		}
		if _, err := db.st.UseRecoveryCode(ctx, grace.ID, "nope", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown recovery code = %v, want ErrNotFound", err)
		}
		if err := db.st.ReplaceRecoveryCodes(ctx, grace.ID, []string{"n1", "n2"}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.UseRecoveryCode(ctx, grace.ID, "h1", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a replaced recovery code = %v, want ErrNotFound", err)
		}
		if n, err := db.st.RecoveryCodesLeft(ctx, grace.ID); err != nil || n != 2 {
			t.Errorf("RecoveryCodesLeft = %d, %v; want 2", n, err)
		}

		// An admin resets it: secret and codes go.
		if err := db.st.DisableTOTP(ctx, grace.ID, "admin@example.com", store.EventTOTPReset, t0.Add(time.Hour)); err != nil {
			t.Fatalf("DisableTOTP: %v", err)
		}
		if err := db.st.DisableTOTP(ctx, grace.ID, "admin@example.com", store.EventTOTPReset, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DisableTOTP twice = %v, want ErrNotFound", err)
		}
		got, err = db.st.OfficerByID(ctx, grace.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.HasTOTP() || got.TOTPSecret != nil || got.TOTPLastStep != 0 {
			t.Errorf("after DisableTOTP: %+v", got)
		}
		if n, err := db.st.RecoveryCodesLeft(ctx, grace.ID); err != nil || n != 0 {
			t.Errorf("RecoveryCodesLeft after reset = %d, %v; want 0", n, err)
		}

		events, err := db.st.OfficerEvents(ctx, grace.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range events {
			actions = append(actions, e.Actor+" "+e.Action)
		}
		want := []string{
			"admin@example.com totp_reset",
			"grace@example.com recovery_codes_regenerated",
			"grace@example.com recovery_code_used",
			"grace@example.com totp_enabled",
		}
		if len(actions) != len(want) {
			t.Fatalf("events = %q, want %q", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Errorf("events = %q, want %q", actions, want)
				break
			}
		}
	})
}

func TestRequireTOTPSetting(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		if on, err := db.st.RequireTOTP(ctx); err != nil || on {
			t.Fatalf("RequireTOTP on a fresh store = %v, %v", on, err)
		}
		for _, on := range []bool{true, true, false} {
			if err := db.st.SetRequireTOTP(ctx, on, "admin@example.com", t0); err != nil {
				t.Fatalf("SetRequireTOTP(%v): %v", on, err)
			}
			if got, err := db.st.RequireTOTP(ctx); err != nil || got != on {
				t.Fatalf("RequireTOTP = %v, %v; want %v", got, err, on)
			}
		}
		var n int
		if err := db.raw.QueryRow("SELECT COUNT(*) FROM officer_events WHERE action = 'setting_changed' AND officer_id IS NULL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 { // setting it on twice records one change
			t.Errorf("setting changes recorded = %d, want 2", n)
		}
	})
}
