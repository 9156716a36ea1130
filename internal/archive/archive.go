// Package archive reads and rewrites backup snapshots of the systems in
// the data map: a snapshot is a folder with one JSON-lines file per table
// (one object per row) and a snapshot.json saying when it was taken. A
// snapshot is loaded into a temporary SQLite database, so discovery,
// erasure and retention work on it exactly as on the live system, and
// written back in place when it was changed.
package archive

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/files"
)

// ManifestFile is the file in each snapshot saying when it was taken.
const ManifestFile = "snapshot.json"

// Manifest is a snapshot's snapshot.json.
type Manifest struct {
	System  string    `json:"system"`
	TakenAt time.Time `json:"taken_at"`
}

// Snapshot is one folder of an archive.
type Snapshot struct {
	Dir     string
	Name    string // the folder's name
	TakenAt time.Time
}

// Date is the snapshot's day, as emails and packages name it.
func (s Snapshot) Date() string { return s.TakenAt.UTC().Format("2006-01-02") }

// List returns an archive's snapshots, oldest first. A folder without a
// snapshot.json counts from its modification time.
func List(dir string) ([]Snapshot, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no backups taken yet
	}
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	var out []Snapshot
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := Read(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TakenAt.Before(out[j].TakenAt) })
	return out, nil
}

// Read describes one snapshot folder.
func Read(dir string) (Snapshot, error) {
	s := Snapshot{Dir: dir, Name: filepath.Base(dir)}
	b, err := files.Read(filepath.Join(dir, ManifestFile), files.ManifestMax)
	switch {
	case err == nil:
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil || m.TakenAt.IsZero() {
			return s, fmt.Errorf("archive: %s: snapshot.json must hold taken_at as an RFC 3339 time", dir)
		}
		s.TakenAt = m.TakenAt
	case errors.Is(err, os.ErrNotExist):
		fi, err := os.Stat(dir)
		if err != nil {
			return s, fmt.Errorf("archive: %w", err)
		}
		s.TakenAt = fi.ModTime()
	default:
		return s, fmt.Errorf("archive: %w", err)
	}
	return s, nil
}

// TempDir holds the temporary copies of loaded snapshots (personal data:
// readable by dsar's user only), one folder per process. Each copy is
// removed when done; copies a crashed process left behind are removed by
// CleanTemp when a worker starts.
var TempDir = filepath.Join(os.TempDir(), "dsar-snapshots")

func processTemp() string { return filepath.Join(TempDir, strconv.Itoa(os.Getpid())) }

// CleanTemp removes the copies of processes that are no longer running.
func CleanTemp() error {
	entries, err := os.ReadDir(TempDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			continue // still running
		}
		if pid != os.Getpid() {
			if err := os.RemoveAll(filepath.Join(TempDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Loaded is a snapshot in a temporary SQLite database.
type Loaded struct {
	Snapshot Snapshot
	// Conn acts on the loaded rows as on the live system. Snapshots are
	// of SQL systems, loaded into SQLite, so it is an SQL connector.
	Conn    *datamap.SQLConnector
	tmp     string
	columns map[string][]string // each table's columns, in file order
}

// Load reads the snapshot's files of the system's tables into a
// temporary database. Columns the map names but an older snapshot lacks
// are there, empty, so the map's queries run unchanged.
func Load(ctx context.Context, system *datamap.System, snap Snapshot) (*Loaded, error) {
	if err := os.MkdirAll(processTemp(), 0o700); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	tmp, err := os.MkdirTemp(processTemp(), "snapshot-")
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	db, _, err := datamap.OpenSQL("sqlite:" + filepath.Join(tmp, "snapshot.db") + "?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	db.SetMaxOpenConns(1)
	l := &Loaded{Snapshot: snap, tmp: tmp, columns: map[string][]string{},
		Conn: datamap.NewSQLConnector(system, db, datamap.KindSQLite)}
	for _, t := range system.Tables {
		if err := l.loadTable(ctx, t); err != nil {
			l.Close()
			return nil, fmt.Errorf("archive: snapshot %s, table %s: %w", snap.Name, t.Name, err)
		}
	}
	return l, nil
}

// Close removes the temporary database.
func (l *Loaded) Close() error {
	l.Conn.DB.Close()
	return os.RemoveAll(l.tmp)
}

func (l *Loaded) file(table string) string { return filepath.Join(l.Snapshot.Dir, table+".jsonl") }

func (l *Loaded) loadTable(ctx context.Context, t *datamap.Table) error {
	cols := t.MappedColumns() // the table's columns so far
	var fileCols []string     // the columns the snapshot has, in its order
	create := `CREATE TABLE ` + lite.Quote(t.Name) + ` (` + lite.QuoteList(cols) + `)`
	if _, err := l.Conn.DB.ExecContext(ctx, create); err != nil {
		return err
	}
	f, err := os.Open(l.file(t.Name))
	if errors.Is(err, os.ErrNotExist) {
		l.columns[t.Name] = nil // the snapshot has no such table: an empty one
		return l.index(ctx, t)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	tx, err := l.Conn.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var stmt *sql.Stmt
	prepare := func() error {
		if stmt != nil {
			stmt.Close()
		}
		stmt, err = tx.PrepareContext(ctx, `INSERT INTO `+lite.Quote(t.Name)+` (`+lite.QuoteList(cols)+`) VALUES (`+strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+`)`)
		return err
	}
	if err := prepare(); err != nil {
		return err
	}
	defer func() { stmt.Close() }()
	// Rows are inserted as they are read: a large table never sits in
	// memory. A column first seen further down is added as it appears.
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	args := make([]any, 0, len(cols))
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		keys, row, err := decodeRow(b)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		grown := false
		for _, k := range keys {
			if !slices.Contains(fileCols, k) {
				fileCols = append(fileCols, k)
			}
			if !slices.Contains(cols, k) {
				if _, err := tx.ExecContext(ctx, `ALTER TABLE `+lite.Quote(t.Name)+` ADD COLUMN `+lite.Quote(k)); err != nil {
					return err
				}
				cols = append(cols, k)
				grown = true
			}
		}
		if grown {
			if err := prepare(); err != nil {
				return err
			}
		}
		args = args[:0]
		for _, c := range cols {
			args = append(args, row[c])
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	l.columns[t.Name] = fileCols
	return l.index(ctx, t)
}

// index indexes the columns discovery searches, once the rows are in.
func (l *Loaded) index(ctx context.Context, t *datamap.Table) error {
	for _, c := range t.MappedColumns() {
		if _, err := l.Conn.DB.ExecContext(ctx, `CREATE INDEX `+lite.Quote(t.Name+"_"+c)+` ON `+lite.Quote(t.Name)+` (`+lite.Quote(c)+`)`); err != nil {
			return err
		}
	}
	return nil
}

// lite is the dialect of the snapshot's own SQLite file.
const lite = datamap.KindSQLite

// decodeRow reads one JSON object, keeping its keys' order. Integers
// become int64 (so keys compare as the live database's do), objects and
// arrays stay as JSON text.
func decodeRow(b []byte) ([]string, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("each line must be one JSON object")
	}
	var keys []string
	row := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		v, err := jsonToValue(raw)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, key)
		row[key] = v
	}
	return keys, row, nil
}

func jsonToValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		return x.Float64()
	case map[string]any, []any:
		return string(raw), nil
	}
	return v, nil
}

// WriteBack rewrites the snapshot's files from the loaded database, each
// through a temporary file renamed over the old one, so a crash leaves
// either the old file or the new, never half of one.
func (l *Loaded) WriteBack(ctx context.Context) error {
	for _, t := range l.Conn.System().Tables {
		cols := l.columns[t.Name]
		if len(cols) == 0 {
			continue // the snapshot had no rows there
		}
		if err := l.writeTable(ctx, t.Name, cols); err != nil {
			return fmt.Errorf("archive: snapshot %s, table %s: %w", l.Snapshot.Name, t.Name, err)
		}
	}
	return nil
}

func (l *Loaded) writeTable(ctx context.Context, table string, cols []string) error {
	tmp, err := os.CreateTemp(l.Snapshot.Dir, "."+table+".jsonl.")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := l.Dump(ctx, table, cols, w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), l.file(table))
}

// Dump writes a loaded table's rows as JSON lines, columns in the order
// given, rows in the order they were loaded.
func (l *Loaded) Dump(ctx context.Context, table string, cols []string, w io.Writer) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = lite.Quote(c)
	}
	rows, err := l.Conn.DB.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+lite.Quote(table)+` ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return writeRows(rows, cols, w)
}

// Columns returns a loaded table's columns as the snapshot had them.
func (l *Loaded) Columns(table string) []string { return l.columns[table] }

// writeRows writes each row of rows as one JSON object per line.
func writeRows(rows *sql.Rows, cols []string, w io.Writer) error {
	var line bytes.Buffer
	return datamap.EachRow(rows, func(vals []any) error {
		line.Reset()
		line.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				line.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			line.Write(k)
			line.WriteByte(':')
			v, err := json.Marshal(jsonValue(vals[i]))
			if err != nil {
				return err
			}
			line.Write(v)
		}
		line.WriteString("}\n")
		_, err := w.Write(line.Bytes())
		return err
	})
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// Take writes a new snapshot of a live system into dir/NAME, NAME being
// the time it was taken: what `dsar archive snapshot` and the demo do.
// Backups made by other tools work as well when they follow the format.
func Take(ctx context.Context, c *datamap.SQLConnector, dir string, takenAt time.Time) (Snapshot, error) {
	name := takenAt.UTC().Format("2006-01-02T150405Z")
	snap := Snapshot{Dir: filepath.Join(dir, name), Name: name, TakenAt: takenAt.UTC()}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return snap, fmt.Errorf("archive: %w", err)
	}
	// Written in a hidden folder and renamed when complete, so a crash
	// never leaves a partial snapshot that List would take for whole.
	tmp, err := os.MkdirTemp(dir, ".taking-")
	if err != nil {
		return snap, fmt.Errorf("archive: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, t := range c.System().Tables {
		if err := takeTable(ctx, c, t, tmp); err != nil {
			return snap, fmt.Errorf("archive: snapshot of %s.%s: %w", c.System().Name, t.Name, err)
		}
	}
	m, _ := json.MarshalIndent(Manifest{System: c.System().Name, TakenAt: snap.TakenAt}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(m, '\n'), 0o640); err != nil {
		return snap, fmt.Errorf("archive: %w", err)
	}
	if err := os.Rename(tmp, snap.Dir); err != nil {
		return snap, fmt.Errorf("archive: %w", err)
	}
	return snap, nil
}

func takeTable(ctx context.Context, c *datamap.SQLConnector, t *datamap.Table, dir string) error {
	rows, err := c.DB.QueryContext(ctx, `SELECT * FROM `+c.Kind.Quote(t.Name)+` ORDER BY `+c.Kind.QuoteList(t.PrimaryKey))
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, t.Name+".jsonl"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeRows(rows, cols, w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
