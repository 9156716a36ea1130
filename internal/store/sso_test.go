package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/dsar-project/dsar/internal/store"
)

func TestSignInSSO(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const iss = "https://login.example.com"
		grace := &store.Officer{Email: "grace@example.com", Role: store.RoleOfficer, PasswordHash: "$argon2id$fake", CreatedAt: t0}
		if err := db.st.CreateOfficer(ctx, grace); err != nil {
			t.Fatal(err)
		}
		actions := func(id int64) []string {
			t.Helper()
			es, err := db.st.OfficerEvents(ctx, id, 50)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				out = append(out, e.Action+": "+e.Detail)
			}
			return out
		}
		id := store.SSOIdentity{Issuer: iss, Subject: "sub-grace", Email: "Grace@Example.com", EmailVerified: false, Role: store.RoleAdmin}

		// An unverified email matches no one, and changes nothing.
		if _, err := db.st.SignInSSO(ctx, id, true, t0); !errors.Is(err, store.ErrSSOUnverified) {
			t.Fatalf("unverified email: %v, want ErrSSOUnverified", err)
		}
		if got := actions(grace.ID); len(got) != 0 {
			t.Fatalf("an unverified email wrote %q to Grace's trail", got)
		}

		// Verified, it links Grace and gives her the role of her groups.
		id.EmailVerified = true
		o, err := db.st.SignInSSO(ctx, id, false, t0)
		if err != nil {
			t.Fatal(err)
		}
		if o.ID != grace.ID || o.Role != store.RoleAdmin || !o.SSO() || o.OIDCIssuer != iss {
			t.Fatalf("linked officer %+v", o)
		}
		want := []string{"sso_sign_in: as admin", "role_changed: officer → admin from the provider's groups", "sso_linked: to " + iss}
		if got := actions(grace.ID); !reflect.DeepEqual(got, want) {
			t.Fatalf("trail after linking %q, want %q", got, want)
		}

		// Later, the subject finds her even with another, unverified
		// email, and her role follows her groups down.
		o, err = db.st.SignInSSO(ctx, store.SSOIdentity{Issuer: iss, Subject: "sub-grace", Email: "g.hopper@example.com", Role: store.RoleViewer}, false, t0)
		if err != nil || o.ID != grace.ID || o.Role != store.RoleViewer {
			t.Fatalf("second sign-in: %+v, %v", o, err)
		}
		if fresh, _ := db.st.OfficerByID(ctx, grace.ID); fresh.Role != store.RoleViewer || fresh.Email != "grace@example.com" {
			t.Fatalf("stored: %+v", fresh)
		}

		// In no mapped group: refused, and written down.
		if _, err := db.st.SignInSSO(ctx, store.SSOIdentity{Issuer: iss, Subject: "sub-grace", Email: "grace@example.com", EmailVerified: true}, false, t0); !errors.Is(err, store.ErrSSONoGroup) {
			t.Fatalf("no group: %v", err)
		}
		if got := actions(grace.ID)[0]; got != "sso_refused: in no group mapped to a role" {
			t.Errorf("latest event %q", got)
		}

		// Another identity with Grace's verified email cannot take her account.
		if _, err := db.st.SignInSSO(ctx, store.SSOIdentity{Issuer: iss, Subject: "sub-mallory", Email: "grace@example.com", EmailVerified: true, Role: store.RoleAdmin}, true, t0); !errors.Is(err, store.ErrSSOLinkedOther) {
			t.Fatalf("another identity with Grace's email: %v", err)
		}

		// Unknown people: refused unless officers are created.
		ada := store.SSOIdentity{Issuer: iss, Subject: "sub-ada", Email: "ada@example.com", EmailVerified: true, Role: store.RoleOfficer}
		if _, err := db.st.SignInSSO(ctx, ada, false, t0); !errors.Is(err, store.ErrSSOEmailNotFound) {
			t.Fatalf("unknown, not created: %v", err)
		}
		if _, err := db.st.OfficerByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an officer was created: %v", err)
		}
		o, err = db.st.SignInSSO(ctx, ada, true, t0)
		if err != nil || o.Email != "ada@example.com" || o.Role != store.RoleOfficer || !o.SSO() || o.PasswordHash != "" {
			t.Fatalf("created: %+v, %v", o, err)
		}
		if got := actions(o.ID); !reflect.DeepEqual(got, []string{"sso_sign_in: as officer", "sso_created: role officer from the provider's groups"}) {
			t.Errorf("Ada's trail %q", got)
		}

		// A disabled officer stays out.
		if err := db.st.SetOfficerDisabled(ctx, o.ID, true, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.SignInSSO(ctx, ada, true, t0); !errors.Is(err, store.ErrSSODisabled) {
			t.Fatalf("disabled: %v", err)
		}
		// The same subject at another provider is another identity.
		if _, err := db.st.SignInSSO(ctx, store.SSOIdentity{Issuer: "https://other.example.com", Subject: "sub-ada", Email: "nobody@example.com", EmailVerified: true, Role: store.RoleAdmin}, false, t0); !errors.Is(err, store.ErrSSOEmailNotFound) {
			t.Fatalf("same subject elsewhere: %v", err)
		}
	})
}
