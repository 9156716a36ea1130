package datamap_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// Fuzz targets for the data map file. go test runs the seeds;
// docs/fuzzing.md says how to fuzz them for longer.

var (
	fuzzName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")
)

// fuzzMapSeeds are maps to start from: the demo organisation's, every
// kind of system and table, and hostile YAML (aliases, merges, anchors
// that contain themselves, a second document, tabs, bytes that are not
// UTF-8).
func fuzzMapSeeds() []string {
	seeds := []string{
		demo.DataMapYAML(),
		goodMap,
		"",
		"version: 1\n",
		"version: 2\nsystems: []\n",
		"---\n---\n",
		"[1, 2, 3]\n",
		"version: 1\nsystems:\n  - name: crm\n    kind: webhook\n    url_env: CRM_URL\n    secret_env: CRM_SECRET\n  - name: paper\n    kind: manual\n    instructions: Shred the folder.\n",
		`version: 1
categories: [custom.loyalty]
systems:
  - name: shop
    kind: postgres
    dsn_env: SHOP_DSN
    tables:
      - name: customers
        primary_key: [id]
        identities: {email: email, customer_id: id}
        columns: {email: user.contact.email, points: custom.loyalty, password: user.authorization.credentials}
        correctable: [email]
        erase: {strategy: mask, mask: {email: "erased@example.invalid", points: null}}
      - name: orders
        primary_key: [id, line]
        columns: {placed_at: user.behavior.purchase_history}
        references: {customer_id: customers.id}
        erase: delete
        retain: {basis: tax law, period: 7y6m2w1d, from: placed_at, detach: [customer_id], flag: restricted}
archives:
  - name: nightly
    system: shop
    dir_env: SHOP_BACKUPS
    retention: 35d
    rewritable: true
`,
		// Merge keys and aliases across systems and tables.
		`version: 1
systems:
  - &base {name: a, kind: sqlite, dsn_env: A, tables: [&t {name: x, primary_key: id, erase: delete}]}
  - {<<: *base, name: b, tables: [*t, {<<: *t, name: y}]}
`,
		// An anchor that holds an alias to itself.
		"version: 1\nsystems: &s [*s]\n",
		"version: 1\nsystems:\n  - &a {name: a, kind: manual, instructions: x, <<: *a}\n",
		// A billion laughs through merge keys.
		"version: 1\nsystems:\n  - &a0 {name: a, kind: manual, instructions: x}\n  - &a1 {<<: [*a0, *a0]}\n  - &a2 {<<: [*a1, *a1]}\n  - &a3 {<<: [*a2, *a2]}\n",
		"version: 1\nsystems:\n\t- name: tabs\n",
		"version: 1\nsystems:\n  - name: \"caf\xe9\"\n    kind: manual\n    instructions: \"\x00\"\n",
		"version: 1\nsystems:\n  - name: shop\n    kind: sqlite\n    dsn_env: X\n    tables:\n      - name: \"t; DROP TABLE customers\"\n        primary_key: \"id\\\"\"\n        columns: {\"e\\nmail\": user.contact.email}\n        references: {a: b.c.d, e: \".\", f: x.}\n        erase: {strategy: mask, mask: {id: null}}\n",
		"version: 1\nsystems:\n  - name: s\n    kind: sqlite\n    dsn_env: X\n    tables:\n      - {name: t, primary_key: id, erase: delete, retain: {basis: b, period: 1000y1000y1000m, from: d}}\n      - {name: t, primary_key: id, erase: delete, refrences: {}, erase: mask}\n",
		"version: 1\nsystems:\n  - name: s\n    kind: sqlite\n    dsn_env: X\n    tables:\n      - name: t\n        primary_key: !!binary aGVsbG8=\n        erase: ~\n        columns: [a, b]\n",
		"version: 99999999999999999999\n",
		"version: 1\nsystems: {name: s}\narchives: [{name: a, system: nowhere, retention: -1d}]\n",
	}
	return seeds
}

// FuzzParse: Parse never panics or hangs. A refused map is an *Error
// naming the file, its problems in line order with lines inside the
// file; an accepted map keeps every rule the format states.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzMapSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := datamap.Parse("fuzz.yaml", data)
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned a map and an error: %v", err)
			}
			checkProblems(t, data, err)
			return
		}
		checkMap(t, m)
	})
}

func checkProblems(t *testing.T, data []byte, err error) {
	t.Helper()
	var merr *datamap.Error
	if !errors.As(err, &merr) {
		t.Fatalf("Parse error %T %v, want a *datamap.Error", err, err)
	}
	if merr.Source != "fuzz.yaml" || len(merr.Problems) == 0 || !strings.HasPrefix(err.Error(), "data map fuzz.yaml: ") {
		t.Fatalf("error %q does not name the file or lists no problem", err)
	}
	// YAML ends a line at \n, \r\n, a lone \r, and NEL, LS and PS.
	lines := 1 + strings.Count(lineBreaks.Replace(string(data)), "\n")
	for i, p := range merr.Problems {
		if p.Line < 0 || p.Line > lines+1 {
			t.Fatalf("problem %q is on line %d of a %d-line file", p.Message, p.Line, lines)
		}
		if p.Message == "" {
			t.Fatalf("problem %d has no message", i)
		}
		if i > 0 && p.Line < merr.Problems[i-1].Line {
			t.Fatalf("problems out of line order: %+v", merr.Problems)
		}
	}
}

// checkMap checks an accepted map against the rules docs/datamap.md
// states.
func checkMap(t *testing.T, m *datamap.Map) {
	t.Helper()
	if len(m.Systems) == 0 {
		t.Fatal("accepted a map without systems")
	}
	seen := map[string]bool{}
	for _, s := range m.Systems {
		if !fuzzName.MatchString(s.Name) || seen[s.Name] || m.System(s.Name) != s || s.Line <= 0 {
			t.Fatalf("accepted system %q (line %d) twice or with a bad name", s.Name, s.Line)
		}
		seen[s.Name] = true
		switch s.Kind {
		case datamap.KindPostgres, datamap.KindSQLite:
			if s.DSNEnv == "" || len(s.Tables) == 0 {
				t.Fatalf("accepted SQL system %s without dsn_env or tables", s.Name)
			}
		case datamap.KindWebhook:
			if s.DSNEnv == "" || s.SecretEnv == "" || len(s.Tables) > 0 {
				t.Fatalf("accepted webhook %s without url_env/secret_env, or with tables", s.Name)
			}
		case datamap.KindManual:
			if strings.TrimSpace(s.Instructions) == "" || len(s.Tables) > 0 {
				t.Fatalf("accepted manual system %s without instructions, or with tables", s.Name)
			}
		default:
			t.Fatalf("accepted system %s of kind %q", s.Name, s.Kind)
		}
		tables := map[string]bool{}
		for _, tb := range s.Tables {
			checkTable(t, s, tb)
			if tables[tb.Name] {
				t.Fatalf("accepted table %s.%s twice", s.Name, tb.Name)
			}
			tables[tb.Name] = true
		}
	}
	for _, a := range m.Archives {
		s := m.System(a.System)
		if !fuzzName.MatchString(a.Name) || s == nil || !s.Kind.SQL() || a.DirEnv == "" || a.Retention == (datamap.Period{}) {
			t.Fatalf("accepted archive %+v", a)
		}
	}
}

func checkTable(t *testing.T, s *datamap.System, tb *datamap.Table) {
	t.Helper()
	where := s.Name + "." + tb.Name
	if !fuzzName.MatchString(tb.Name) || tb.Line <= 0 || s.Table(tb.Name) == nil {
		t.Fatalf("accepted table %q of %s on line %d", tb.Name, s.Name, tb.Line)
	}
	if len(tb.PrimaryKey) == 0 {
		t.Fatalf("accepted table %s without a primary key", where)
	}
	for _, c := range tb.PrimaryKey {
		if !fuzzName.MatchString(c) {
			t.Fatalf("accepted primary key column %q in %s", c, where)
		}
		if _, masked := tb.MaskWith[c]; masked {
			t.Fatalf("accepted a mask of primary key %s in %s", c, where)
		}
	}
	for kind, col := range tb.Identities {
		if !fuzzName.MatchString(kind) || !fuzzName.MatchString(col) {
			t.Fatalf("accepted identity %q: %q in %s", kind, col, where)
		}
	}
	for col, cat := range tb.Columns {
		if !fuzzName.MatchString(col) || cat == "" {
			t.Fatalf("accepted column %q (%q) in %s", col, cat, where)
		}
	}
	for col, ref := range tb.References {
		if !fuzzName.MatchString(ref.Table) || !fuzzName.MatchString(ref.Column) || s.Table(ref.Table) == nil {
			t.Fatalf("accepted reference %s: %s in %s", col, ref, where)
		}
	}
	for _, c := range tb.Correctable {
		if _, ok := tb.Columns[c]; !ok {
			t.Fatalf("accepted correctable %q without a category in %s", c, where)
		}
	}
	switch tb.Erase {
	case datamap.Delete:
	case datamap.Mask:
		if len(tb.MaskWith) == 0 {
			t.Fatalf("accepted mask without replacements in %s", where)
		}
	default:
		t.Fatalf("accepted erase %q in %s", tb.Erase, where)
	}
	for col := range tb.MaskWith {
		if !fuzzName.MatchString(col) {
			t.Fatalf("accepted masked column %q in %s", col, where)
		}
	}
	if r := tb.Retain; r != nil {
		if strings.TrimSpace(r.Basis) == "" || r.Period == (datamap.Period{}) || !fuzzName.MatchString(r.From) {
			t.Fatalf("accepted retention %+v in %s", r, where)
		}
		for _, c := range r.Detach {
			if _, ok := tb.References[c]; !ok {
				t.Fatalf("accepted detach %q that is no reference in %s", c, where)
			}
		}
	}
	cols := tb.MappedColumns()
	for _, c := range tb.PrimaryKey {
		if !slices.Contains(cols, c) {
			t.Fatalf("MappedColumns of %s = %v, missing key %s", where, cols, c)
		}
	}
}

// FuzzParsePeriod: periods never panic; an accepted one is not zero and
// reads back from its own String.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"7y", "6m", "90d", "2w", "1y6m", " 35d ", "0d", "", "seven years", "-1d", "1000y", "1001d",
		"99999999999999999999d", "1y1y1y", "1d ", "1 d", "1D", "1y\x00", "１d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := datamap.ParsePeriod(s)
		if err != nil {
			if p != (datamap.Period{}) {
				t.Fatalf("ParsePeriod(%q) = %+v with error %v", s, p, err)
			}
			return
		}
		if p == (datamap.Period{}) || p.Years < 0 || p.Months < 0 || p.Days < 0 {
			t.Fatalf("ParsePeriod(%q) = %+v", s, p)
		}
		if p.Years > 1000 || p.Months > 1000 || p.Days > 1000 {
			return // a sum of parts; String writes it as one part, over the per-part limit
		}
		back, err := datamap.ParsePeriod(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePeriod(%q) = %+v, whose String %q reads back as %+v, %v", s, p, p.String(), back, err)
		}
	})
}
