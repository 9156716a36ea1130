package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/pgtest"
)

const streamShopMap = `version: 1
systems:
  - name: shop
    kind: postgres
    dsn_env: STREAM_SHOP_DSN
    tables:
      - name: notes
        primary_key: id
        identities: {email: email}
        columns:
          email: user.contact.email
          body: user.content.private
          attachment: user.content.private
          password: user.authorization.credentials
        erase: delete
`

// copyingConn hides the connector's StreamRows: an export through it
// reads every row as ReadRows copies it, the reference the streamed
// export must match.
type copyingConn struct{ datamap.Connector }

// On PostgreSQL an export reads rows in place (StreamRows) rather than
// through database/sql's copies; what the requester downloads is the same
// byte for byte: text with commas, quotes and line breaks, NULLs, bytes
// that are not UTF-8, formulas, every common column type, rows larger
// than the driver's buffer, and more rows than one batch.
func TestExportReadInPlaceIsWhatTheCopiesGive(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	m, err := datamap.Parse("stream.yaml", []byte(streamShopMap))
	if err != nil {
		t.Fatal(err)
	}
	db, kind, err := datamap.OpenSQL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE notes (
		id bigint PRIMARY KEY, email text, body text, title varchar(40), code char(4), attachment bytea,
		score double precision, ratio real, small smallint, n integer, flag boolean, at timestamptz,
		day date, local timestamp, doc jsonb, raw json, amount numeric, tags text[], uid uuid, password text)`); err != nil {
		t.Fatal(err)
	}
	hostile := "a,b;\"quoted\" 'single'\nnext line\r\nwindows\rcarriage\t tab \\ backslash <b>&amp; 名前 😀 \u2028"
	rows := [][]any{
		{int64(1), "ada@example.com", hostile, "=1+1", "ab", []byte("\xff\xfe\x00\xc3\x28 not UTF-8"),
			math.Inf(1), float32(math.NaN()), int16(-7), int32(42), true, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 8, 30, 0, 0, time.UTC),
			`{"a": [1, "x,y"], "b": null}`, `{"z":1,  "a":2}`, "12.50", []string{"x", "y,z", `"q"`}, "c0a80101-0000-4000-8000-000000000001", "$argon2id$secret"},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(3), "", "", "", "", []byte{}, math.NaN(), float32(-0.5), int16(0), int32(0), false, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
			nil, nil, `[]`, `""`, "-0.000001", []string{}, nil, ""},
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO notes VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)`, r...); err != nil {
			t.Fatalf("insert row %v: %v", r[0], err)
		}
	}
	// Rows that differ from each other, some larger than pgx's 8 KiB
	// buffer, so a value kept past its row would show; more than one
	// batch of them.
	if _, err := db.Exec(`INSERT INTO notes (id, email, body, title, attachment, score, ratio, small, n, flag, at, doc, amount, tags, password)
		SELECT i, 'p' || i || '@example.com', repeat(format('row %s, "%s"' || chr(10), i, i * 7), 1 + (i % 5) * 600), i::text,
			substr(repeat(format('row %s, "%s"' || chr(10), i, i * 7), 4)::bytea, 1, i % 50), i / 3.0, i, i % 100, i, i % 2 = 0,
			'2026-01-01T00:00:00Z'::timestamptz + i * interval '1 second', format('{"i": %s}', i)::jsonb, i, ARRAY[i::text], 'x'
		FROM generate_series(4, 1203) AS i`); err != nil {
		t.Fatal(err)
	}
	for i := 4; i <= 1203; i++ {
		rows = append(rows, []any{int64(i), nil, strings.Repeat(fmt.Sprintf("row %d, \"%d\"\n", i, i*7), 1+(i%5)*600)})
	}
	sys := m.System("shop")
	var found []*datamap.FoundRow
	for _, r := range rows {
		found = append(found, &datamap.FoundRow{Key: []any{r[0]}, Owned: true})
	}
	conn := datamap.NewSQLConnector(sys, db, kind)
	ft := &datamap.FoundTable{Table: sys.Table("notes"), Rows: found}
	meta := export.Meta{RequestID: "DSR-STREAM0001", Organisation: "Example Ltd", GeneratedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	write := func(c datamap.Connector) map[string][]byte {
		var b bytes.Buffer
		sources := []export.Source{{Conn: c, Found: &datamap.Found{System: sys, Tables: []*datamap.FoundTable{ft}}}}
		if err := export.WriteExport(ctx, &b, sources, meta); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
		return unzip(t, b.Bytes())
	}
	streamed, copied := write(conn), write(copyingConn{conn})
	for _, name := range []string{"shop/notes.json", "shop/notes.csv", "manifest.json"} {
		if len(copied[name]) == 0 {
			t.Fatalf("the export has no %s", name)
		}
		if !bytes.Equal(streamed[name], copied[name]) {
			t.Errorf("%s read in place differs from the copies' (%d bytes against %d)", name, len(streamed[name]), len(copied[name]))
		}
	}

	// And it holds what the person would expect to read.
	var js []map[string]any
	mustJSON(t, "shop/notes.json", streamed["shop/notes.json"], &js)
	records, err := csv.NewReader(bytes.NewReader(streamed["shop/notes.csv"])).ReadAll()
	if err != nil {
		t.Fatalf("notes.csv does not read back: %v", err)
	}
	if len(js) != len(rows) || len(records) != len(rows)+1 {
		t.Fatalf("the export holds %d JSON rows and %d CSV records, want %d rows and a header", len(js), len(records), len(rows))
	}
	col := map[string]int{}
	for i, c := range records[0] {
		col[c] = i
	}
	checks := []struct {
		row, column string
		json        any
		csv         string
	}{
		{"1", "body", hostile, strings.ReplaceAll(hostile, "\r\n", "\n")},
		{"1", "title", "=1+1", "'=1+1"},
		{"1", "code", "ab  ", "ab  "},
		{"1", "attachment", "\ufffd\ufffd\x00\ufffd( not UTF-8", "\xff\xfe\x00\xc3\x28 not UTF-8"},
		{"1", "score", "+Inf", "+Inf"},
		{"1", "ratio", "NaN", "NaN"},
		{"1", "n", 42.0, "42"},
		{"1", "at", "2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z"},
		{"1", "amount", "12.50", "12.50"},
		{"1", "password", export.Withheld, export.Withheld},
		{"2", "body", nil, ""},
		{"2", "password", nil, ""},
		{"3", "body", "", ""},
		{"1203", "body", rows[1202][2], rows[1202][2].(string)},
	}
	for _, c := range checks {
		var id int
		fmt.Sscan(c.row, &id)
		jv, cv := js[id-1][c.column], records[id][col[c.column]]
		if fmt.Sprint(jv) != fmt.Sprint(c.json) {
			t.Errorf("row %s %s in JSON is %q, want %q", c.row, c.column, jv, c.json)
		}
		if cv != c.csv {
			t.Errorf("row %s %s in CSV is %q, want %q", c.row, c.column, cv, c.csv)
		}
	}
	var doc any
	if err := json.Unmarshal([]byte(fmt.Sprint(js[0]["doc"])), &doc); err != nil {
		t.Errorf("a jsonb value comes out as %q, not its JSON text: %v", js[0]["doc"], err)
	}
}

// A table whose JSON barely deflates (base64, scans) has its CSV stored
// in the ZIP rather than deflated again; it reads back the same, and a
// table that compresses still has both files deflated.
func TestIncompressibleTablesCSVIsStoredAndReadsBack(t *testing.T) {
	shop := newFuzzShop(t)
	noise := make([]byte, 900<<10)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	for _, c := range []struct {
		name   string
		value  string
		stored bool
	}{
		{"base64", base64.StdEncoding.EncodeToString(noise), true},
		{"text", strings.Repeat("Ada Lovelace, Analytical Engine. ", 40000), false},
	} {
		shop.put(t, c.value, []byte("note"), 1)
		var b bytes.Buffer
		meta := export.Meta{RequestID: "DSR-STORE00001", Organisation: "Example Ltd", GeneratedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
		if err := export.WriteExport(context.Background(), &b, []export.Source{{Conn: shop.conn, Found: shop.found}}, meta); err != nil {
			t.Fatalf("%s: WriteExport: %v", c.name, err)
		}
		z, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatalf("%s: not a ZIP: %v", c.name, err)
		}
		for _, f := range z.File {
			want := zip.Deflate
			if f.Name == "shop/people.csv" && c.stored {
				want = zip.Store
			}
			if f.Method != want {
				t.Errorf("%s: %s has method %d, want %d", c.name, f.Name, f.Method, want)
			}
		}
		records := readCSV(t, unzip(t, b.Bytes())["shop/people.csv"])
		if records[1][2] != c.value {
			t.Errorf("%s: the name read back from the CSV differs from what was stored (%d bytes against %d)", c.name, len(records[1][2]), len(c.value))
		}
	}
}
