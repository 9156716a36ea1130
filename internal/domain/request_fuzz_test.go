package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/deadline"
)

// Fuzz targets for the text a requester or officer types. go test runs
// the seeds; docs/fuzzing.md says how to fuzz them for longer.

// hostileText are values seeded into every text target: line breaks
// and their Unicode look-alikes, NUL, bytes that are not UTF-8, control
// characters, bidi overrides, formula prefixes and markup.
var hostileText = []string{
	"",
	" ",
	"Ada Lovelace",
	"Ada\r\nBcc: eve@example.com",
	"Ada\nLovelace",
	"Ada\x00",
	"Ad\xffa",
	"\xc3\x28",
	"\xed\xa0\x80", // a UTF-16 surrogate encoded as UTF-8
	"Ada\u2028Lovelace",
	"Ada\u2029",
	"Ada\u0085",
	"\x1b[31mred",
	"\u202eevil",
	"\ufeffAda",
	"=HYPERLINK(\"http://evil.example\")",
	"+1 555 0100",
	"<script>alert(1)</script>",
	"\t tabbed \t",
	"名前 ナマエ",
	"😀 emoji",
	"\u00a0non-breaking\u00a0",
}

func FuzzCheckText(f *testing.F) {
	for _, s := range hostileText {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		textErr, lineErr := CheckText(s), CheckLine(s)
		if lineErr == nil && textErr != nil {
			t.Fatalf("CheckLine(%q) accepts what CheckText refuses: %v", s, textErr)
		}
		if textErr == nil && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
			t.Fatalf("CheckText(%q) accepted bytes that cannot be stored", s)
		}
		if textErr != nil && textErr != ErrNotText && textErr != errControlChars {
			t.Fatalf("CheckText(%q) = %v, an unexpected error", s, textErr)
		}
		if lineErr == nil && strings.ContainsAny(s, "\r\n\v\f\u0085\u2028\u2029") {
			t.Fatalf("CheckLine(%q) accepted a line break", s)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", " Ada@EXAMPLE.com ", "ada+dsar@mail.example.co.uk",
		"ada", "ada@", "@example.com", "ada@example", "<ada@example.com>",
		"Ada <ada@example.com>", "ada@example.com\nBcc: eve@example.com",
		"ada@example.com, eve@example.com", "\"a b\"@example.com", "ada@[127.0.0.1]",
		"ada@ÉXAMPLE.com", "ada@\u023aexample.com", "ada@K\u212a.example", "ada@exa\x00mple.com",
		"ada@exa\xffmple.com", "(comment)ada@example.com", "ada@example.com.",
		strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			if got != "" {
				t.Fatalf("NormalizeEmail(%q) = %q with error %v", s, got, err)
			}
			return
		}
		if CheckLine(got) != nil || strings.ContainsAny(got, " \t,<>") {
			t.Fatalf("NormalizeEmail(%q) = %q, not one plain line", s, got)
		}
		at := strings.LastIndexByte(got, '@')
		if at <= 0 || !strings.Contains(got[at+1:], ".") {
			t.Fatalf("NormalizeEmail(%q) = %q, no local part or no dotted domain", s, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail is not stable: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}

// FuzzNormalizeRequest: Normalize never panics, refuses with a
// *ValidationError naming fields, and what it accepts passes its own
// checks and normalizes again to itself.
func FuzzNormalizeRequest(f *testing.F) {
	type seed struct{ typ, email, name, details, field, value, regime string }
	for _, s := range []seed{
		{"access", "ada@example.com", "Ada Lovelace", "", "", "", ""},
		{"  Correction ", "  Ada.Lovelace@Example.COM ", "  Ada Lovelace\t", "\n Please fix. \n", " address ", " 12 St James's Square ", "GDPR"},
		{"deletion", "ada@example.com", "Ada", "old account", "", "", "ccpa"},
		{"export", "ada@example.com", "=cmd|' /C calc'!A0", "@SUM(1+1)", "", "", "default"},
		{"correction", "ada@example.com", "Ada", "", "phone", "", ""},
		{"correction", "ada@example.com", "Ada", "", "", "+44 20 7946 0000", ""},
		{"erase", "not-an-address", "", "", "", "", "eu"},
		{"access", "a@example.com", "Ada\r\nYou have won", "x\x00", "", "", ""},
		{"access", "a@example.com", "Ad\xffa", "\x1b[2J", "", "", ""},
		{"access", "a@example.com", strings.Repeat("é", MaxNameLen), strings.Repeat("x", MaxDetailsLen), "", "", ""},
		{"access", "a@example.com", strings.Repeat("é", MaxNameLen+1), strings.Repeat("x", MaxDetailsLen+1), "", "", ""},
		{"correction", "a@example.com", "Ada", "", "name\u2028", "Augusta\nAda", ""},
		{"ACCESS", "a@example.com", "\u00a0Ada\u00a0", "\u3000", "", "", " Gdpr "},
	} {
		for _, d := range hostileText[:4] {
			f.Add(s.typ, s.email, s.name, s.details+d, s.field, s.value, s.regime, uint8(1))
		}
	}
	f.Add("correction", "a@example.com", "Ada", "", "f", "v", "", uint8(MaxCorrections+1))
	f.Fuzz(func(t *testing.T, typ, email, name, details, field, value, regime string, copies uint8) {
		r := NewRequest{Type: RequestType(typ), Email: email, Name: name, Details: details, Regime: deadline.Regime(regime)}
		for range int(copies % 32) {
			r.Corrections = append(r.Corrections, Correction{Field: field, Value: value})
		}
		err := r.Normalize()
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 || verr.Summary() == "" || verr.Error() == "" {
				t.Fatalf("Normalize() = %#v, want a *ValidationError naming fields", err)
			}
			return
		}
		if !r.Type.Valid() || r.Name == "" || CheckLine(r.Name) != nil || CheckText(r.Details) != nil {
			t.Fatalf("Normalize() accepted %+v", r)
		}
		if utf8.RuneCountInString(r.Name) > MaxNameLen || utf8.RuneCountInString(r.Details) > MaxDetailsLen || len(r.Corrections) > MaxCorrections {
			t.Fatalf("Normalize() accepted text over its limits: %+v", r)
		}
		if (r.Type == TypeCorrection) != (len(r.Corrections) > 0) {
			t.Fatalf("Normalize() accepted corrections %+v on a %s request", r.Corrections, r.Type)
		}
		for _, c := range r.Corrections {
			if c.Field == "" || c.Value == "" || CheckLine(c.Field) != nil || CheckLine(c.Value) != nil {
				t.Fatalf("Normalize() accepted correction %+v", c)
			}
		}
		if e, err := NormalizeEmail(r.Email); err != nil || e != r.Email {
			t.Fatalf("Normalize() kept email %q, which normalizes to %q, %v", r.Email, e, err)
		}
		again := r
		again.Corrections = slices.Clone(r.Corrections)
		if err := again.Normalize(); err != nil {
			t.Fatalf("normalizing %+v again: %v", r, err)
		}
		if again.Type != r.Type || again.Email != r.Email || again.Name != r.Name || again.Details != r.Details ||
			again.Regime != r.Regime || !slices.Equal(again.Corrections, r.Corrections) {
			t.Fatalf("Normalize is not stable:\n%+v\n%+v", r, again)
		}
	})
}

func FuzzNormalizeHold(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, s := range [][5]string{
		{"person", " Ada@Example.com ", "", "", "litigation"},
		{"system", "", "shop", "", "regulator's order"},
		{"TABLE", "", "shop", "customers", "investigation"},
		{"table", "", "shop", "", "x"},
		{"person", "ada@example.com\nBcc: eve@example.com", "", "", "x"},
		{"person", "Ada <ada@example.com>", "", "", ""},
		{"galaxy", "", "", "", "\x00"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], int64(0))
		f.Add(s[0], s[1], s[2], s[3], s[4], int64(3600))
	}
	known := func(system, table string) bool {
		return system == "shop" && (table == "" || table == "customers" || table == "orders")
	}
	f.Fuzz(func(t *testing.T, scope, email, system, table, reason string, endsIn int64) {
		h := NewHold{Scope: HoldScope(scope), Email: email, System: system, Table: table, Reason: reason}
		if endsIn != 0 {
			end := now.Add(time.Duration(endsIn) * time.Second)
			h.EndsAt = &end
		}
		err := h.Normalize(now, known)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("Normalize() = %#v, want a *ValidationError naming fields", err)
			}
			return
		}
		switch h.Scope {
		case HoldPerson:
			if h.Email == "" || h.System != "" || h.Table != "" || CheckLine(h.Email) != nil {
				t.Fatalf("accepted person hold %+v", h)
			}
		case HoldSystem:
			if !known(h.System, "") || h.Table != "" || h.Email != "" {
				t.Fatalf("accepted system hold %+v", h)
			}
		case HoldTable:
			if !known(h.System, h.Table) || h.Table == "" || h.Email != "" {
				t.Fatalf("accepted table hold %+v", h)
			}
		default:
			t.Fatalf("accepted scope %q", h.Scope)
		}
		again := h
		if err := again.Normalize(now, known); err != nil || again != h {
			t.Fatalf("Normalize is not stable: %+v -> %+v, %v", h, again, err)
		}
	})
}

func FuzzNormalizeBreach(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Add("Laptop stolen", "An unencrypted laptop was stolen.", "high", " shop ", "user.contact.email", "", "", int64(-3600))
	f.Add("Two\nlines", "x", "LOW", "shop", "", "c", "m", int64(0))
	f.Add("", "", "severe", "", "", "", "", int64(3600*24))
	f.Add("T\x00", "d\xff", "medium", "nowhere", "user.nothing", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, title, description, risk, system, category, consequences, measures string, awareOffset int64) {
		b := NewBreach{Title: title, Description: description, Risk: Risk(risk), Systems: []string{system, " "},
			Categories: []string{category}, Consequences: consequences, Measures: measures}
		if awareOffset != 0 {
			b.AwareAt = now.Add(time.Duration(awareOffset) * time.Second)
		}
		knownSystem := func(s string) bool { return s == "shop" }
		knownCategory := func(c string) bool { return strings.HasPrefix(c, "user.") }
		err := b.Normalize(now, knownSystem, knownCategory)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("Normalize() = %#v, want a *ValidationError naming fields", err)
			}
			return
		}
		if b.Title == "" || CheckLine(b.Title) != nil || b.Description == "" || !b.Risk.Valid() || len(b.Systems) == 0 || b.AwareAt.After(now.Add(5*time.Minute)) {
			t.Fatalf("accepted breach %+v", b)
		}
		again := b
		again.Systems, again.Categories = slices.Clone(b.Systems), slices.Clone(b.Categories)
		if err := again.Normalize(now, knownSystem, knownCategory); err != nil || again.Title != b.Title ||
			again.Description != b.Description || again.Risk != b.Risk || !slices.Equal(again.Systems, b.Systems) ||
			!slices.Equal(again.Categories, b.Categories) || !again.AwareAt.Equal(b.AwareAt) {
			t.Fatalf("Normalize is not stable: %+v -> %+v, %v", b, again, err)
		}
	})
}
