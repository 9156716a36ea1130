package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRequestTypeValid(t *testing.T) {
	for _, tc := range []struct {
		typ  RequestType
		want bool
	}{
		{TypeAccess, true},
		{TypeCorrection, true},
		{TypeDeletion, true},
		{TypeExport, true},
		{"", false},
		{"Access", false}, // Normalize lower-cases; Valid itself is exact
		{"erasure", false},
		{" access", false},
	} {
		if got := tc.typ.Valid(); got != tc.want {
			t.Errorf("RequestType(%q).Valid() = %v, want %v", tc.typ, got, tc.want)
		}
	}
}

func TestRequestTypeLabel(t *testing.T) {
	want := map[RequestType]string{
		TypeAccess:     "Access my data",
		TypeCorrection: "Correct my data",
		TypeDeletion:   "Delete my data",
		TypeExport:     "Export my data",
		TypeOptOut:     "Stop marketing to me and do not sell or share my data",
		"portability":  "portability",
	}
	for typ, label := range want {
		if got := typ.Label(); got != label {
			t.Errorf("RequestType(%q).Label() = %q, want %q", typ, got, label)
		}
	}
	if len(RequestTypes) != 5 {
		t.Errorf("RequestTypes has %d entries, want the 5 rights the form offers", len(RequestTypes))
	}
}

func TestStatusValidAndFinal(t *testing.T) {
	for _, tc := range []struct {
		status      Status
		valid       bool
		final       bool
		labelSubstr string
	}{
		{StatusReceived, true, false, "Received"},
		{StatusVerifying, true, false, "confirm your email"},
		{StatusExpiredUnverified, true, true, "not confirmed in time"},
		{StatusInReview, true, false, "reviewed"},
		{StatusFulfilling, true, false, "carrying it out"},
		{StatusCompleted, true, true, "Completed"},
		{StatusDenied, true, true, "Declined"},
		{StatusWithdrawn, true, true, "Withdrawn"},
		{StatusDuplicate, true, true, "duplicate"},
		{"", false, false, ""},
		{"approved", false, false, "approved"},
		{"RECEIVED", false, false, "RECEIVED"},
	} {
		if got := tc.status.Valid(); got != tc.valid {
			t.Errorf("Status(%q).Valid() = %v, want %v", tc.status, got, tc.valid)
		}
		if got := tc.status.Final(); got != tc.final {
			t.Errorf("Status(%q).Final() = %v, want %v", tc.status, got, tc.final)
		}
		if got := tc.status.Label(); !strings.Contains(got, tc.labelSubstr) {
			t.Errorf("Status(%q).Label() = %q, want it to contain %q", tc.status, got, tc.labelSubstr)
		}
	}
}

func TestCanTransition(t *testing.T) {
	allowed := map[[2]Status]bool{
		{StatusReceived, StatusVerifying}:          true,
		{StatusVerifying, StatusInReview}:          true,
		{StatusVerifying, StatusExpiredUnverified}: true,
		{StatusVerifying, StatusFulfilling}:        true, // an opt-out needs no review
		{StatusInReview, StatusCompleted}:          true,
		{StatusInReview, StatusDenied}:             true,
		{StatusInReview, StatusFulfilling}:         true,
		{StatusFulfilling, StatusCompleted}:        true,
		// The requester may withdraw until fulfilment starts.
		{StatusReceived, StatusWithdrawn}:  true,
		{StatusVerifying, StatusWithdrawn}: true,
		{StatusInReview, StatusWithdrawn}:  true,
		// An officer may close it as a duplicate until fulfilment starts.
		{StatusReceived, StatusDuplicate}:  true,
		{StatusVerifying, StatusDuplicate}: true,
		{StatusInReview, StatusDuplicate}:  true,
		// A package waits for an officer's preview and release.
		{StatusFulfilling, StatusAwaitingRelease}: true,
		{StatusAwaitingRelease, StatusCompleted}:  true,
	}
	// Every pair of known statuses: exactly the sixteen above are allowed.
	for _, from := range Statuses {
		for _, to := range Statuses {
			want := allowed[[2]Status{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, tc := range []struct{ from, to Status }{
		{"", StatusVerifying},
		{StatusReceived, ""},
		{"unknown", StatusCompleted},
		{StatusInReview, "approved"},
	} {
		if CanTransition(tc.from, tc.to) {
			t.Errorf("CanTransition(%q, %q) = true, want false for an unknown status", tc.from, tc.to)
		}
	}
}

func TestWithdrawableOnlyBeforeFulfilment(t *testing.T) {
	for _, s := range Statuses {
		want := s == StatusReceived || s == StatusVerifying || s == StatusInReview
		if got := s.Withdrawable(); got != want {
			t.Errorf("Status(%s).Withdrawable() = %v, want %v", s, got, want)
		}
		if got := s.Duplicable(); got != want {
			t.Errorf("Status(%s).Duplicable() = %v, want %v", s, got, want)
		}
	}
}

func TestFinalStatusesHaveNoWayOut(t *testing.T) {
	for _, from := range Statuses {
		if !from.Final() {
			continue
		}
		for _, to := range Statuses {
			if CanTransition(from, to) {
				t.Errorf("final status %s may move to %s", from, to)
			}
		}
	}
}

func TestVerificationReminderAt(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		ttl, want time.Duration
	}{
		{7 * day, 5 * day},   // default link: two days before expiry
		{30 * day, 28 * day}, // long link
		{4*day + time.Hour, 2*day + time.Hour},
		{4 * day, 2 * day},              // boundary: half way
		{2 * day, day},                  // short link: half way
		{time.Hour, 30 * time.Minute},   // very short link
		{time.Minute, 30 * time.Second}, // shortest DSAR_VERIFY_TTL allows
	} {
		got := VerificationReminderAt(tc.ttl)
		if got != tc.want {
			t.Errorf("VerificationReminderAt(%s) = %s, want %s", tc.ttl, got, tc.want)
		}
		if got <= 0 || got >= tc.ttl {
			t.Errorf("VerificationReminderAt(%s) = %s, want a reminder strictly before the link expires", tc.ttl, got)
		}
	}
}

func TestNormalizeCleansValidRequest(t *testing.T) {
	r := NewRequest{
		Type:    "  Correction ",
		Email:   "  Ada.Lovelace@Example.COM ",
		Name:    "  Ada Lovelace\t",
		Details: "\n  Please fix my address.  \n",
		Corrections: []Correction{
			{Field: " address ", Value: " 12 St James's Square, London "},
			{Field: "  ", Value: ""}, // an empty form row is dropped
			{Field: "phone", Value: "+44 20 7946 0000"},
		},
	}
	if err := r.Normalize(); err != nil {
		t.Fatalf("Normalize() = %v, want nil", err)
	}
	want := NewRequest{
		Type:    TypeCorrection,
		Email:   "Ada.Lovelace@example.com", // local part kept, domain lower-cased
		Name:    "Ada Lovelace",
		Details: "Please fix my address.",
		Corrections: []Correction{
			{Field: "address", Value: "12 St James's Square, London"},
			{Field: "phone", Value: "+44 20 7946 0000"},
		},
	}
	if r.Type != want.Type || r.Email != want.Email || r.Name != want.Name || r.Details != want.Details {
		t.Errorf("Normalize() gave %+v, want %+v", r, want)
	}
	if len(r.Corrections) != len(want.Corrections) {
		t.Fatalf("corrections = %+v, want %+v", r.Corrections, want.Corrections)
	}
	for i := range want.Corrections {
		if r.Corrections[i] != want.Corrections[i] {
			t.Errorf("corrections[%d] = %+v, want %+v", i, r.Corrections[i], want.Corrections[i])
		}
	}
}

func TestNormalizeAcceptsEachType(t *testing.T) {
	for _, typ := range RequestTypes {
		r := NewRequest{Type: typ, Email: "ada@example.com", Name: "Ada Lovelace"}
		if typ == TypeCorrection {
			r.Corrections = []Correction{{Field: "name", Value: "Augusta Ada King"}}
		}
		if err := r.Normalize(); err != nil {
			t.Errorf("Normalize(%s) = %v, want nil", typ, err)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	valid := func() NewRequest {
		return NewRequest{Type: TypeAccess, Email: "ada@example.com", Name: "Ada Lovelace"}
	}
	many := func(n int) []Correction {
		cs := make([]Correction, n)
		for i := range cs {
			cs[i] = Correction{Field: "field", Value: "value"}
		}
		return cs
	}
	for _, tc := range []struct {
		name   string
		modify func(*NewRequest)
		want   map[string]string // field → substring of its message
	}{
		{"empty type", func(r *NewRequest) { r.Type = "" },
			map[string]string{"type": "choose one of access, correction, deletion, export"}},
		{"unknown type", func(r *NewRequest) { r.Type = "erasure" },
			map[string]string{"type": "choose one of"}},
		{"empty email", func(r *NewRequest) { r.Email = "   " },
			map[string]string{"email": "enter your email address"}},
		{"not an email", func(r *NewRequest) { r.Email = "ada.example.com" },
			map[string]string{"email": "like name@example.com"}},
		{"email with display name", func(r *NewRequest) { r.Email = "Ada Lovelace <ada@example.com>" },
			map[string]string{"email": "like name@example.com"}},
		{"two addresses", func(r *NewRequest) { r.Email = "ada@example.com, charles@example.com" },
			map[string]string{"email": "like name@example.com"}},
		{"domain without dot", func(r *NewRequest) { r.Email = "ada@localhost" },
			map[string]string{"email": "like name@example.com"}},
		{"email too long", func(r *NewRequest) { r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com" },
			map[string]string{"email": "like name@example.com"}},
		{"empty name", func(r *NewRequest) { r.Name = " \t " },
			map[string]string{"name": "enter your name"}},
		{"name too long", func(r *NewRequest) { r.Name = strings.Repeat("é", MaxNameLen+1) },
			map[string]string{"name": "at most 200 characters"}},
		{"details too long", func(r *NewRequest) { r.Details = strings.Repeat("x", MaxDetailsLen+1) },
			map[string]string{"details": "at most 5000 characters"}},
		{"correction without corrections", func(r *NewRequest) { r.Type = TypeCorrection },
			map[string]string{"corrections": "say which value to correct"}},
		{"correction with only blank rows", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = []Correction{{Field: " ", Value: " "}}
		}, map[string]string{"corrections": "say which value to correct"}},
		{"corrections on an access request", func(r *NewRequest) {
			r.Corrections = []Correction{{Field: "name", Value: "Ada King"}}
		}, map[string]string{"corrections": "belong only to a correction request"}},
		{"too many corrections", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = many(MaxCorrections + 1)
		}, map[string]string{"corrections": "at most 20 corrections"}},
		{"correction without field", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = []Correction{{Field: "name", Value: "Ada King"}, {Field: "", Value: "Ada King"}}
		}, map[string]string{"corrections[1].field": "say which value to correct"}},
		{"correction without value", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = []Correction{{Field: "name", Value: "  "}}
		}, map[string]string{"corrections[0].value": "give the correct value"}},
		{"correction field too long", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = []Correction{{Field: strings.Repeat("f", MaxFieldLen+1), Value: "x"}}
		}, map[string]string{"corrections[0].field": "at most 100 characters"}},
		{"correction value too long", func(r *NewRequest) {
			r.Type = TypeCorrection
			r.Corrections = []Correction{{Field: "address", Value: strings.Repeat("v", MaxValueLen+1)}}
		}, map[string]string{"corrections[0].value": "at most 1000 characters"}},
		{"everything wrong at once", func(r *NewRequest) {
			*r = NewRequest{Type: "x", Email: "nope", Details: strings.Repeat("d", MaxDetailsLen+1)}
		}, map[string]string{"type": "choose", "email": "name@example.com", "name": "enter your name", "details": "at most"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.modify(&r)
			err := r.Normalize()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Normalize() = %v, want a *ValidationError", err)
			}
			if len(ve.Fields) != len(tc.want) {
				t.Errorf("error fields = %v, want exactly the fields %v", ve.Fields, tc.want)
			}
			for field, substr := range tc.want {
				msg, ok := ve.Fields[field]
				if !ok {
					t.Errorf("no error for %q; got %v", field, ve.Fields)
					continue
				}
				if !strings.Contains(msg, substr) {
					t.Errorf("error for %q = %q, want it to contain %q", field, msg, substr)
				}
				if !strings.Contains(err.Error(), field+": "+msg) {
					t.Errorf("Error() = %q, want it to name %q", err.Error(), field+": "+msg)
				}
			}
		})
	}
}

func TestNormalizeLimitsAreInclusive(t *testing.T) {
	cs := make([]Correction, MaxCorrections)
	for i := range cs {
		cs[i] = Correction{Field: strings.Repeat("f", MaxFieldLen), Value: strings.Repeat("ü", MaxValueLen)}
	}
	r := NewRequest{
		Type:        TypeCorrection,
		Email:       "ada@example.com",
		Name:        strings.Repeat("é", MaxNameLen), // counted in characters, not bytes
		Details:     strings.Repeat("ß", MaxDetailsLen),
		Corrections: cs,
	}
	if err := r.Normalize(); err != nil {
		t.Fatalf("Normalize() at every limit = %v, want nil", err)
	}
}

func TestValidationErrorListsFieldsInOrder(t *testing.T) {
	err := &ValidationError{Fields: map[string]string{"name": "enter your name", "email": "enter your email address", "type": "choose"}}
	want := "invalid input: email: enter your email address; name: enter your name; type: choose"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{" ada@example.com ", "ada@example.com", true},
		{"Ada@EXAMPLE.com", "Ada@example.com", true},
		{"ada+dsar@mail.example.co.uk", "ada+dsar@mail.example.co.uk", true},
		{"", "", false},
		{"ada", "", false},
		{"ada@", "", false},
		{"@example.com", "", false},
		{"ada@example", "", false},
		{"<ada@example.com>", "", false},
		{"Ada <ada@example.com>", "", false},
		{"ada@example.com\nBcc: eve@example.com", "", false},
	} {
		got, err := NormalizeEmail(tc.in)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("NormalizeEmail(%q) = %q, nil; want an error", tc.in, got)
		}
	}
}

func TestOfficerLabels(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Statuses {
		l := s.OfficerLabel()
		if l == "" || l == string(s) || seen[l] {
			t.Errorf("%s: officer label %q is missing, raw or repeated", s, l)
		}
		seen[l] = true
	}
}
