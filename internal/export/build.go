package export

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/i18n"
)

// Source is one system's connector and what discovery found there.
type Source struct {
	Conn  datamap.Connector
	Found *datamap.Found
	// Snapshot names the backup snapshot the rows come from; empty for
	// the live system.
	Snapshot string
	// Archive is the backup archive the snapshot belongs to; the access
	// report says how long its copies are kept.
	Archive *datamap.Archive
}

// Meta describes a package.
type Meta struct {
	RequestID    string
	Organisation string
	GeneratedAt  time.Time
	// Others are the systems dsar did not search itself: what a webhook
	// answered, what an officer noted for a manual task.
	Others []Other
	// Lang is the requester's language, the access report's; English
	// when empty.
	Lang i18n.Lang
	// Map is the data map, for what the report says about the webhook
	// and manual systems in Others.
	Map *datamap.Map
	// PrivacyEmail is where the person can write to use their rights.
	PrivacyEmail string
	// Authority is the supervisory authority the report names.
	Authority Authority
	// Withheld is what an officer withheld from the package, with why:
	// those tables, rows and columns are left out of every file, and the
	// package lists each with its reason. A rule names the live system
	// and applies to its backups' copies of the table too.
	Withheld []domain.Withheld
	// Contents, when set, receives what the package holds, table by
	// table, after what was withheld.
	Contents *[]domain.PackageTable
}

// Other is one webhook or manual system's part of a package.
type Other struct {
	System  string          `json:"system"`
	Kind    string          `json:"kind"`
	Note    string          `json:"note,omitempty"`
	Records json.RawMessage `json:"records,omitempty"` // a webhook's records, as it sent them
}

// Withheld replaces values a package never carries: credentials such as
// password hashes would help an attacker who got hold of the download and
// tell the person nothing.
const Withheld = "[withheld for security]"

func withheld(category string) bool {
	return category == "user.authorization" || strings.HasPrefix(category, "user.authorization.")
}

// table is one table's rows as a package writes them.
type table struct {
	system string // as the reader sees it: "shop", or "shop (backup 2026-11-20)"
	path   string // the folder of its files: "shop", or "shop/backups/2026-11-20"
	found  *datamap.FoundTable
	conn   datamap.Connector
	// snapshot and archive are set for rows from a backup.
	snapshot string
	archive  *datamap.Archive
	keys     [][]any         // the rows it carries: the personal ones an officer did not withhold
	drop     map[string]bool // columns an officer withheld
	// contents, when set, is Meta.Contents, and entry the table's index
	// in it, whose columns are filled in as its rows are read.
	contents *[]domain.PackageTable
	entry    int
}

// RowKey is a row's primary key as the officer names it and a package
// lists it: the JSON array of its values ([42], or ["eu", 7]).
func RowKey(key []any) json.RawMessage {
	b, err := json.Marshal(key)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", fmt.Sprint(key)))
	}
	return b
}

func tablesOf(sources []Source, meta Meta) []table {
	var out []table
	for _, s := range sources {
		for _, ft := range s.Found.Tables {
			keys := ft.Keys(func(r *datamap.FoundRow) bool { return ft.Personal(r) })
			if len(keys) == 0 {
				continue
			}
			t := table{system: s.Found.System.Name, path: s.Found.System.Name, found: ft, conn: s.Conn, snapshot: s.Snapshot, archive: s.Archive, drop: map[string]bool{}}
			if s.Snapshot != "" {
				t.system += " (backup " + s.Snapshot + ")"
				t.path += "/backups/" + s.Snapshot
			}
			skip, whole := map[string]bool{}, false
			for _, w := range meta.Withheld {
				if w.System != s.Found.System.Name || w.Table != ft.Table.Name {
					continue
				}
				whole = whole || (len(w.Rows) == 0 && len(w.Columns) == 0)
				for _, k := range w.Rows {
					skip[string(k)] = true
				}
				for _, c := range w.Columns {
					t.drop[c] = true
				}
			}
			if whole {
				continue
			}
			for _, k := range keys {
				if !skip[string(RowKey(k))] {
					t.keys = append(t.keys, k)
				}
			}
			if len(t.keys) == 0 {
				continue
			}
			if meta.Contents != nil && s.Snapshot == "" {
				pt := domain.PackageTable{System: t.system, Table: ft.Table.Name, Columns: []string{}}
				for _, k := range t.keys {
					pt.Rows = append(pt.Rows, RowKey(k))
				}
				*meta.Contents = append(*meta.Contents, pt)
				t.contents, t.entry = meta.Contents, len(*meta.Contents)-1
			}
			out = append(out, t)
		}
	}
	return out
}

// each streams a table's rows: the personal ones not withheld, without
// the columns an officer withheld, credentials replaced.
func (t table) each(ctx context.Context, fn func(cols []string, row []any) error) error {
	return t.read(ctx, t.conn.ReadRows, fn)
}

// stream is each for a caller that keeps nothing of a row after fn
// returns: where the connector can, its values are read in place, not
// copied (datamap.RowStreamer).
func (t table) stream(ctx context.Context, fn func(cols []string, row []any) error) error {
	if s, ok := t.conn.(datamap.RowStreamer); ok {
		return t.read(ctx, s.StreamRows, fn)
	}
	return t.each(ctx, fn)
}

type rowReader func(ctx context.Context, t *datamap.Table, keys [][]any, each func(columns []string, row []any) error) error

func (t table) read(ctx context.Context, rows rowReader, fn func(cols []string, row []any) error) error {
	ft := t.found
	return rows(ctx, ft.Table, t.keys, func(cols []string, row []any) error {
		keepCols := make([]string, 0, len(cols))
		kept := make([]any, 0, len(row))
		for i, c := range cols {
			if t.drop[c] {
				continue
			}
			v := row[i]
			if withheld(ft.Table.Columns[c]) && v != nil {
				v = Withheld
			}
			keepCols, kept = append(keepCols, c), append(kept, v)
		}
		if t.contents != nil && len((*t.contents)[t.entry].Columns) == 0 {
			(*t.contents)[t.entry].Columns = keepCols
		}
		return fn(keepCols, kept)
	})
}

// withheldText says what a rule left out, for the report.
func withheldText(w domain.Withheld) string {
	switch {
	case len(w.Rows) > 0:
		keys := make([]string, len(w.Rows))
		for i, k := range w.Rows {
			keys[i] = string(k)
		}
		if len(w.Rows) == 1 {
			return "the row " + keys[0]
		}
		return fmt.Sprintf("%d rows (%s)", len(w.Rows), strings.Join(keys, ", "))
	case len(w.Columns) > 0:
		return "the column(s) " + strings.Join(w.Columns, ", ")
	}
	return "the whole table"
}

// text formats a value for CSV and HTML.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// jsonValue keeps numbers and booleans as they are, times in RFC 3339.
// JSON has no infinite or NaN numbers (a REAL column can hold them):
// those are written as text, "+Inf", "-Inf", "NaN".
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return text(x)
		}
	case float32:
		if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
			return text(x)
		}
	}
	return v
}

// CSVCell is a CSV cell that a spreadsheet will not run as a formula
// (CSV injection): text starting with =, +, -, @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets read as "text"
// and do not show. Numbers stay as they are; times are RFC 3339 in UTC.
// Every CSV dsar writes goes through it (packages, the officers' list).
func CSVCell(v any) string {
	s := text(v)
	if _, isText := v.(string); isText && s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// newZip starts a ZIP whose files are deflated by klauspost/compress at
// its fastest level. The standard library's default level spent two
// thirds of a large export's time compressing, and even its fastest
// level three quarters (docs/benchmarks.md); klauspost's writes the same
// format, which every unzip reads, at a few times its speed.
// When deflated is set, it counts the bytes the compressors put out.
func newZip(w io.Writer, deflated *int64) *zip.Writer {
	z := zip.NewWriter(w)
	z.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if deflated != nil {
			out = &counter{w: out, n: deflated}
		}
		return flate.NewWriter(out, flate.BestSpeed)
	})
	return z
}

// counter counts what passes through it into n.
type counter struct {
	w io.Writer
	n *int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	*c.n += int64(n)
	return n, err
}

// storeCSV says whether a table's CSV is stored in the ZIP rather than
// deflated, from how its JSON deflated: the CSV holds the same values,
// so when a large JSON file shrank by less than a tenth, deflating the
// CSV would cost as much CPU for as little (base64, scans, already
// compressed attachments), and it is stored as it is.
func storeCSV(jsonBytes, deflated int64) bool {
	return jsonBytes >= 1<<20 && deflated*10 > jsonBytes*9
}

// ManifestTable describes one table in an export.
type ManifestTable struct {
	System     string            `json:"system"`
	Table      string            `json:"table"`
	Rows       int               `json:"rows"`
	Categories map[string]string `json:"categories"` // column -> category
	Files      []string          `json:"files"`
}

// Manifest is an export's manifest.json.
type Manifest struct {
	RequestID    string          `json:"request_id"`
	Organisation string          `json:"organisation"`
	GeneratedAt  string          `json:"generated_at"`
	Systems      []string        `json:"systems"`
	Tables       []ManifestTable `json:"tables"`
	Others       []ManifestOther `json:"other_systems,omitempty"`
	// Withheld is what an officer left out of the export, with why.
	Withheld []domain.Withheld `json:"withheld,omitempty"`
}

// ManifestOther describes a webhook or manual system's part of an export.
type ManifestOther struct {
	System string   `json:"system"`
	Kind   string   `json:"kind"`
	Note   string   `json:"note,omitempty"`
	Files  []string `json:"files,omitempty"`
}

// WriteExport writes the machine-readable export: a ZIP with one JSON and
// one CSV file per table and a manifest.json, rows streamed in batches.
func WriteExport(ctx context.Context, w io.Writer, sources []Source, meta Meta) error {
	var deflated int64
	z := newZip(w, &deflated)
	man := Manifest{RequestID: meta.RequestID, Organisation: meta.Organisation, GeneratedAt: meta.GeneratedAt.UTC().Format(time.RFC3339),
		Withheld: meta.Withheld}
	for _, s := range sources {
		if !slices.Contains(man.Systems, s.Found.System.Name) {
			man.Systems = append(man.Systems, s.Found.System.Name)
		}
	}
	for _, t := range tablesOf(sources, meta) {
		base := t.path + "/" + t.found.Table.Name
		mt := ManifestTable{System: t.system, Table: t.found.Table.Name, Categories: t.found.Table.Columns,
			Files: []string{base + ".json", base + ".csv"}}
		// JSON first, counting rows; then the same rows as CSV.
		jf, err := z.Create(base + ".json")
		if err != nil {
			return err
		}
		var jsonBytes int64
		deflated = 0
		jw := bufio.NewWriter(&counter{w: jf, n: &jsonBytes})
		jw.WriteString("[")
		// One buffer for every row's JSON: a row of large values is not
		// copied out of the encoder for each row.
		var rowJSON bytes.Buffer
		enc := json.NewEncoder(&rowJSON)
		obj := map[string]any{}
		err = t.stream(ctx, func(cols []string, row []any) error {
			clear(obj)
			for i, c := range cols {
				obj[c] = jsonValue(row[i])
			}
			rowJSON.Reset()
			if err := enc.Encode(obj); err != nil {
				return err
			}
			if mt.Rows > 0 {
				jw.WriteString(",")
			}
			jw.WriteString("\n  ")
			jw.Write(bytes.TrimSuffix(rowJSON.Bytes(), []byte("\n")))
			mt.Rows++
			return nil
		})
		if err != nil {
			return err
		}
		jw.WriteString("\n]\n")
		if err := jw.Flush(); err != nil {
			return err
		}
		csvHead := &zip.FileHeader{Name: base + ".csv", Method: zip.Deflate}
		if storeCSV(jsonBytes, deflated) {
			csvHead.Method = zip.Store
		}
		cf, err := z.CreateHeader(csvHead)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(cf)
		header := false
		err = t.stream(ctx, func(cols []string, row []any) error {
			if !header {
				header = true
				head := make([]string, len(cols))
				for i, c := range cols {
					head[i] = CSVCell(c)
				}
				if err := cw.Write(head); err != nil {
					return err
				}
			}
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = CSVCell(v)
			}
			return cw.Write(rec)
		})
		if err != nil {
			return err
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		man.Tables = append(man.Tables, mt)
	}
	for _, o := range meta.Others {
		man.Systems = append(man.Systems, o.System)
		mo := ManifestOther{System: o.System, Kind: o.Kind, Note: o.Note}
		if len(o.Records) > 0 {
			name := o.System + "/records.json"
			f, err := z.Create(name)
			if err != nil {
				return err
			}
			if _, err := f.Write(o.Records); err != nil {
				return err
			}
			mo.Files = []string{name}
		}
		man.Others = append(man.Others, mo)
	}
	mf, err := z.Create("manifest.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(mf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return err
	}
	return z.Close()
}

// report is the access report's template, from report.html.
var report = template.Must(template.New("report.html").Parse(reportTemplates))

// indentJSON lays out a webhook's records for reading.
func indentJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// WriteAccess writes the access package: a ZIP holding report.html, a
// readable report of everything found, and data.json with the same rows
// grouped by system and table, with categories.
func WriteAccess(ctx context.Context, w io.Writer, sources []Source, meta Meta) error {
	z := newZip(w, nil)
	tables := tablesOf(sources, meta)

	hf, err := z.Create(ReportFile)
	if err != nil {
		return err
	}
	hw := bufio.NewWriter(hf)
	if err := writeReport(ctx, hw, sources, meta); err != nil {
		return err
	}
	if err := hw.Flush(); err != nil {
		return err
	}

	jf, err := z.Create("data.json")
	if err != nil {
		return err
	}
	jw := bufio.NewWriter(jf)
	head, _ := json.Marshal(map[string]string{"request_id": meta.RequestID, "organisation": meta.Organisation,
		"generated_at": meta.GeneratedAt.UTC().Format(time.RFC3339)})
	jw.Write(head[:len(head)-1])
	jw.WriteString(`,"tables":[`)
	for ti, t := range tables {
		if ti > 0 {
			jw.WriteString(",")
		}
		desc, _ := json.Marshal(map[string]any{"system": t.system, "table": t.found.Table.Name, "categories": t.found.Table.Columns})
		jw.WriteString("\n ")
		jw.Write(desc[:len(desc)-1])
		jw.WriteString(`,"rows":[`)
		n := 0
		err := t.each(ctx, func(cols []string, row []any) error {
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = jsonValue(row[i])
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			if n > 0 {
				jw.WriteString(",")
			}
			jw.WriteString("\n  ")
			jw.Write(b)
			n++
			return nil
		})
		if err != nil {
			return err
		}
		jw.WriteString("]}")
	}
	jw.WriteString("\n]")
	if len(meta.Others) > 0 {
		others, err := json.Marshal(meta.Others)
		if err != nil {
			return err
		}
		jw.WriteString(`,"other_systems":`)
		jw.Write(others)
	}
	if len(meta.Withheld) > 0 {
		held, err := json.Marshal(meta.Withheld)
		if err != nil {
			return err
		}
		jw.WriteString(`,"withheld":`)
		jw.Write(held)
	}
	jw.WriteString("}\n")
	if err := jw.Flush(); err != nil {
		return err
	}
	return z.Close()
}
