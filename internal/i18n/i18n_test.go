package i18n

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"text/template"
	"text/template/parse"
	"time"
)

// pluralForms are the CLDR plural categories each language's messages
// must carry for a count (integers only: dsar counts records).
var pluralForms = map[Lang][]string{
	English: {"one", "other"}, // sorted, as compared
	German:  {"one", "other"},
	French:  {"many", "one", "other"}, // sorted
	Spanish: {"many", "one", "other"},
}

func readCatalogue(t *testing.T, l Lang) map[string]any {
	t.Helper()
	raw, err := catalogueFiles.ReadFile("catalogues/" + string(l) + ".json")
	if err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	return m
}

// placeholders lists the {{.Name}} fields a message uses.
func placeholders(t *testing.T, id, text string) []string {
	t.Helper()
	tmpl, err := template.New(id).Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	var names []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			for _, c := range n.Pipe.Cmds {
				for _, a := range c.Args {
					if f, ok := a.(*parse.FieldNode); ok {
						names = append(names, strings.Join(f.Ident, "."))
					}
				}
			}
		}
	}
	if tmpl.Tree != nil {
		walk(tmpl.Root)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestCataloguesComplete fails when a catalogue lacks a message English
// has, has one English does not (a typo or a leftover), lacks a plural
// form its language needs, or names placeholders English does not.
func TestCataloguesComplete(t *testing.T) {
	en := readCatalogue(t, English)
	for _, l := range Langs {
		m := readCatalogue(t, l)
		for _, id := range slices.Sorted(maps.Keys(en)) {
			v, ok := m[id]
			if !ok {
				t.Errorf("%s.json lacks %q", l, id)
				continue
			}
			want := placeholders(t, id, flat(en[id]))
			switch v := v.(type) {
			case string:
				if _, plural := en[id].(map[string]any); plural {
					t.Errorf("%s.json: %q is plural in English but one string here", l, id)
				}
				if v == "" {
					t.Errorf("%s.json: %q is empty", l, id)
				}
				if got := placeholders(t, id, v); !slices.Equal(got, want) && !dateParts(id) {
					t.Errorf("%s.json: %q uses %v, English %v", l, id, got, want)
				}
			case map[string]any:
				if _, plural := en[id].(map[string]any); !plural {
					t.Errorf("%s.json: %q is plural here but one string in English", l, id)
				}
				forms := slices.Sorted(maps.Keys(v))
				if !slices.Equal(forms, pluralForms[l]) {
					t.Errorf("%s.json: %q has plural forms %v, the language needs %v", l, id, forms, pluralForms[l])
				}
				for _, f := range forms {
					s, _ := v[f].(string)
					got := placeholders(t, id, s)
					if f == "one" {
						// "one" may spell the count out ("one try left").
						got = slices.DeleteFunc(got, func(s string) bool { return s == "Count" })
						want := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "Count" })
						if !slices.Equal(got, want) {
							t.Errorf("%s.json: %q (%s) uses %v, English %v", l, id, f, got, want)
						}
						continue
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s.json: %q (%s) uses %v, English %v", l, id, f, got, want)
					}
				}
			default:
				t.Errorf("%s.json: %q is neither a string nor plural forms", l, id)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(m)) {
			if _, ok := en[id]; !ok {
				t.Errorf("%s.json has %q, which English does not", l, id)
			}
		}
	}
	if _, err := Load(); err != nil {
		t.Fatal(err)
	}
}

// dateParts: a date's format may leave out nothing, but word order and
// separators are the language's own.
func dateParts(id string) bool { return strings.HasPrefix(id, "date.") }

func flat(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["other"].(string)
		return s
	}
	s, _ := v.(string)
	return s
}

func TestDates(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 2, 14, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang           Lang
		date, datetime string
	}{
		{English, "2 December 2026", "2 December 2026, 14:05 UTC"},
		{German, "2. Dezember 2026", "2. Dezember 2026, 14:05 Uhr UTC"},
		{French, "2 décembre 2026", "2 décembre 2026 à 14:05 UTC"},
		{Spanish, "2 de diciembre de 2026", "2 de diciembre de 2026, 14:05 UTC"},
	} {
		p := c.Printer(tc.lang)
		if got := p.Date(day); got != tc.date {
			t.Errorf("%s: Date = %q, want %q", tc.lang, got, tc.date)
		}
		if got := p.DateTime(day); got != tc.datetime {
			t.Errorf("%s: DateTime = %q, want %q", tc.lang, got, tc.datetime)
		}
	}
	if got := c.Printer(German).Decimal(1.45); got != "1,4" && got != "1,5" {
		t.Errorf("German decimal = %q", got)
	}
}

func TestPlurals(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang Lang
		n    int
		want string
	}{
		{English, 1, "one try left"},
		{English, 3, "3 tries left"},
		{German, 1, "noch ein Versuch"},
		{German, 2, "noch 2 Versuche"},
		{French, 1, "il vous reste 1 essai."},
		{French, 4, "il vous reste 4 essais."},
		{Spanish, 1, "le queda un intento"},
		{Spanish, 2, "le quedan 2 intentos"},
	} {
		got, err := c.Printer(tc.lang).N("code.error.wrong", tc.n, nil)
		if err != nil || !strings.Contains(got, tc.want) {
			t.Errorf("%s %d: %q, %v; want it to contain %q", tc.lang, tc.n, got, err, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		choice, accept string
		want           Lang
	}{
		{"", "", English},
		{"", "de-DE,de;q=0.9,en;q=0.8", German},
		{"", "fr-CA", French},
		{"", "es-419,es;q=0.9", Spanish},
		{"", "ja, zh;q=0.5", English},
		{"", "nl, de;q=0.5", German},
		{"fr", "de", French},
		{"xx", "es", Spanish},
		{"DE", "", German},
	} {
		if got := Negotiate(tc.choice, tc.accept); got != tc.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tc.choice, tc.accept, got, tc.want)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("x").Funcs(c.Printer(German).Funcs()).Parse(
		`{{t "status.heading" "ID" "R-1"}} · {{tn "code.error.wrong" 2}} · {{t "type.access"}}`))
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.HasPrefix(got, "Ihre Anfrage R-1 · Dieser Code") || !strings.HasSuffix(got, "Auskunft über meine Daten") {
		t.Errorf("got %q", got)
	}
	bad := template.Must(template.New("x").Funcs(c.Printer(English).Funcs()).Parse(`{{t "no.such.message"}}`))
	if err := bad.Execute(&b, nil); err == nil {
		t.Error("an unknown message rendered")
	}
}
