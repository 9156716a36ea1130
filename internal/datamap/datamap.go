// Package datamap describes where an organisation keeps personal data and
// acts on it: the data map (a YAML file naming systems, tables, identity
// columns, references, categories and erase strategies), its validation
// against the live schema, and the connectors that find, read, erase and
// correct one person's rows.
package datamap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind is how dsar reaches a system.
type Kind string

const (
	KindPostgres Kind = "postgres"
	KindSQLite   Kind = "sqlite"
	KindWebhook  Kind = "webhook"
	KindManual   Kind = "manual"
)

// SQL reports whether dsar queries the system itself.
func (k Kind) SQL() bool { return k == KindPostgres || k == KindSQLite }

// Strategy is how a table's rows are erased.
type Strategy string

const (
	// Delete removes the person's rows.
	Delete Strategy = "delete"
	// Mask keeps the rows and overwrites their personal columns.
	Mask Strategy = "mask"
)

// Map is a loaded data map.
type Map struct {
	// Source names the file, for error messages.
	Source     string
	Systems    []*System
	Categories []string // extra categories the map declares beyond the built-in ones
	// Archives are the backup snapshots of SQL systems.
	Archives []*Archive
}

// System is one place personal data lives.
type System struct {
	Name string
	Kind Kind
	// DSNEnv names the environment variable holding the connection string
	// (SQL systems) or URL (webhook systems); the map never holds secrets.
	DSNEnv string
	// SecretEnv names the variable holding a webhook's signing secret.
	SecretEnv string
	// Instructions tell an officer what to do in a manual system.
	Instructions string
	Tables       []*Table
	Line         int
}

// Table describes one table of a SQL system.
type Table struct {
	Name       string
	PrimaryKey []string
	// Identities maps an identity type (email, phone, customer_id, ...) to
	// the column that holds it.
	Identities map[string]string
	// Columns maps each personal-data column to its category.
	Columns map[string]string
	// References maps a column to the table and column it points at, as a
	// foreign key would: "orders.customer_id" -> "customers.id".
	References  map[string]ColumnRef
	Correctable []string
	Erase       Strategy
	// MaskWith gives each masked column its replacement; a nil value
	// writes NULL. A delete table may have one too: it applies to rows
	// that must stay because rows outside the request still reference
	// them.
	MaskWith map[string]*string
	// Retain, when set, keeps rows the law requires until their period
	// ends (see Retention).
	Retain *Retention
	Line   int
	lines  map[string]int // "columns.email" -> line, for error messages
}

// ColumnRef is the far end of a reference.
type ColumnRef struct {
	Table, Column string
}

func (r ColumnRef) String() string { return r.Table + "." + r.Column }

// System returns the named system, or nil.
func (m *Map) System(name string) *System {
	for _, s := range m.Systems {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Table returns the named table, or nil.
func (s *System) Table(name string) *Table {
	for _, t := range s.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// CategoriesOf lists the categories a table holds, sorted.
func (t *Table) CategoriesOf() []string {
	seen := map[string]bool{}
	for _, c := range t.Columns {
		seen[c] = true
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// line returns where a part of the table was written, or the table's line.
func (t *Table) line(part string) int {
	if l, ok := t.lines[part]; ok {
		return l
	}
	return t.Line
}

// Problem is one thing wrong with a data map.
type Problem struct {
	Line    int
	Message string
}

// Error lists every problem found in a data map at once, so an operator
// fixes them in one pass.
type Error struct {
	Source   string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data map %s: %d problem(s)", e.Source, len(e.Problems))
	for _, p := range e.Problems {
		if p.Line > 0 {
			fmt.Fprintf(&b, "\n  %s:%d: %s", e.Source, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s", e.Source, p.Message)
		}
	}
	return b.String()
}

type problems struct {
	list []Problem
}

func (p *problems) add(line int, format string, args ...any) {
	p.list = append(p.list, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err(source string) error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &Error{Source: source, Problems: p.list}
}

// MaxFileSize is the largest data map LoadFile reads. Real maps are a few
// hundred lines; the limit keeps a wrong path (a device, a log) from
// being read into memory without end.
const MaxFileSize = 8 << 20

// LoadFile reads and checks a data map file (without the live schema; see
// Check for that).
func LoadFile(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data map: %w", err)
	}
	defer f.Close()
	tooLarge := fmt.Errorf("data map %s is larger than %d MiB", path, MaxFileSize>>20)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooLarge
	}
	// Devices and pipes have no size to check first: read one byte past
	// the limit and stop there.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("data map: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, tooLarge
	}
	return Parse(path, b)
}

// The file's shape. Lines come from the yaml nodes.
type fileMap struct {
	Version    int           `yaml:"version"`
	Categories []string      `yaml:"categories"`
	Systems    []fileSystem  `yaml:"systems"`
	Archives   []fileArchive `yaml:"archives"`
}

type fileSystem struct {
	Name         string      `yaml:"name"`
	Kind         string      `yaml:"kind"`
	DSNEnv       string      `yaml:"dsn_env"`
	URLEnv       string      `yaml:"url_env"`
	SecretEnv    string      `yaml:"secret_env"`
	Instructions string      `yaml:"instructions"`
	Tables       []fileTable `yaml:"tables"`
	line         int
}

type fileTable struct {
	Name        string            `yaml:"name"`
	PrimaryKey  stringList        `yaml:"primary_key"`
	Identities  map[string]string `yaml:"identities"`
	Columns     map[string]string `yaml:"columns"`
	References  map[string]string `yaml:"references"`
	Correctable []string          `yaml:"correctable"`
	Erase       fileErase         `yaml:"erase"`
	Retain      *fileRetain       `yaml:"retain"`
	line        int
	lines       map[string]int
}

type fileErase struct {
	Strategy string             `yaml:"strategy"`
	Mask     map[string]*string `yaml:"mask"`
}

// stringList accepts one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = []string{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// erase: delete | mask, or a mapping with strategy and mask.
func (e *fileErase) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Strategy = n.Value
		return nil
	}
	type plain fileErase
	return n.Decode((*plain)(e))
}

func (s *fileSystem) UnmarshalYAML(n *yaml.Node) error {
	type plain fileSystem
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.line = n.Line
	return nil
}

func (t *fileTable) UnmarshalYAML(n *yaml.Node) error {
	type plain fileTable
	if err := n.Decode((*plain)(t)); err != nil {
		return err
	}
	t.line = n.Line
	t.lines = map[string]int{}
	// Remember where each column, identity, reference and mask entry
	// was written.
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		t.lines[key.Value] = key.Line
		if val.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(val.Content); j += 2 {
			t.lines[key.Value+"."+val.Content[j].Value] = val.Content[j].Line
			if key.Value == "erase" && val.Content[j].Value == "mask" {
				m := val.Content[j+1]
				for k := 0; k+1 < len(m.Content); k += 2 {
					t.lines["mask."+m.Content[k].Value] = m.Content[k].Line
				}
			}
		}
	}
	return nil
}

var lineInErr = regexp.MustCompile(`line (\d+): `)

// Parse reads a data map from bytes; source names it in errors. Every key
// the format does not know is refused with its line (see checkKeys).
func Parse(source string, data []byte) (*Map, error) {
	p := &problems{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(0, "the file is empty (see docs/datamap.md)")
		} else {
			yamlProblems(p, err)
		}
		return nil, p.err(source)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.add(extra.Line, "a second YAML document (after ---): the map must be one document")
	} else if !errors.Is(err, io.EOF) {
		yamlProblems(p, err)
	}
	checkKeys(p, &doc)
	if err := p.err(source); err != nil {
		return nil, err
	}
	var f fileMap
	if err := doc.Decode(&f); err != nil {
		yamlProblems(p, err)
		return nil, p.err(source)
	}
	return build(source, &f)
}

// yamlProblems turns a yaml error into problems with their lines.
func yamlProblems(p *problems, err error) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		msg = strings.TrimPrefix(msg, "yaml: ")
		line := 0
		if m := lineInErr.FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &line)
			msg = lineInErr.ReplaceAllString(msg, "")
		}
		p.add(line, "%s", strings.ReplaceAll(msg, "unmarshal errors:\n  ", ""))
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// build turns the file into a Map, collecting every problem it can see
// without a database.
func build(source string, f *fileMap) (*Map, error) {
	p := &problems{}
	if f.Version != 1 {
		p.add(0, "version must be 1 (found %d)", f.Version)
	}
	m := &Map{Source: source, Categories: f.Categories}
	known := map[string]bool{}
	for _, c := range builtinCategories {
		known[c] = true
	}
	for _, c := range f.Categories {
		known[c] = true
	}
	if len(f.Systems) == 0 {
		p.add(0, "no systems: the map must name at least one")
	}
	seenSystems := map[string]bool{}
	for _, fs := range f.Systems {
		s := &System{
			Name: fs.Name, Kind: Kind(fs.Kind), DSNEnv: fs.DSNEnv, SecretEnv: fs.SecretEnv,
			Instructions: fs.Instructions, Line: fs.line,
		}
		if fs.URLEnv != "" {
			s.DSNEnv = fs.URLEnv
		}
		switch {
		case !nameRE.MatchString(s.Name):
			p.add(s.Line, "system name %q must be letters, digits and underscores", s.Name)
		case seenSystems[s.Name]:
			p.add(s.Line, "system %q is named twice", s.Name)
		}
		seenSystems[s.Name] = true
		switch s.Kind {
		case KindPostgres, KindSQLite:
			if s.DSNEnv == "" {
				p.add(s.Line, "system %s: dsn_env must name the environment variable with its connection string", s.Name)
			}
			if len(fs.Tables) == 0 {
				p.add(s.Line, "system %s: no tables", s.Name)
			}
		case KindWebhook:
			if s.DSNEnv == "" || s.SecretEnv == "" {
				p.add(s.Line, "system %s: a webhook needs url_env and secret_env (environment variables with its URL and signing secret)", s.Name)
			}
		case KindManual:
			if strings.TrimSpace(s.Instructions) == "" {
				p.add(s.Line, "system %s: a manual system needs instructions for the officer", s.Name)
			}
		default:
			p.add(s.Line, "system %s: kind %q is not one of postgres, sqlite, webhook, manual", s.Name, fs.Kind)
		}
		if !s.Kind.SQL() && len(fs.Tables) > 0 {
			p.add(s.Line, "system %s: only postgres and sqlite systems list tables", s.Name)
			continue
		}
		for _, ft := range fs.Tables {
			s.Tables = append(s.Tables, buildTable(p, s, &ft, known))
		}
		m.Systems = append(m.Systems, s)
	}
	// References must point at tables of the same system.
	for _, s := range m.Systems {
		seenTables := map[string]bool{}
		for _, t := range s.Tables {
			if seenTables[t.Name] {
				p.add(t.Line, "table %s.%s is listed twice", s.Name, t.Name)
			}
			seenTables[t.Name] = true
			for col, ref := range t.References {
				if s.Table(ref.Table) == nil {
					p.add(t.line("references."+col), "%s.%s.%s refers to %s, which is not a table of system %s in the map", s.Name, t.Name, col, ref, s.Name)
				}
			}
		}
		checkKeptParents(p, s)
	}
	buildArchives(p, m, f.Archives)
	if err := p.err(source); err != nil {
		return nil, err
	}
	return m, nil
}

func buildTable(p *problems, s *System, ft *fileTable, known map[string]bool) *Table {
	t := &Table{
		Name: ft.Name, PrimaryKey: ft.PrimaryKey, Identities: ft.Identities, Columns: ft.Columns,
		References: map[string]ColumnRef{}, Correctable: ft.Correctable,
		Erase: Strategy(ft.Erase.Strategy), MaskWith: ft.Erase.Mask, Line: ft.line, lines: ft.lines,
	}
	where := s.Name + "." + t.Name
	if !nameRE.MatchString(t.Name) {
		p.add(t.Line, "table name %q must be letters, digits and underscores", t.Name)
	}
	if len(t.PrimaryKey) == 0 {
		p.add(t.Line, "table %s: primary_key is missing; dsar needs it to address rows", where)
	}
	for _, c := range t.PrimaryKey {
		if !nameRE.MatchString(c) {
			p.add(t.line("primary_key"), "table %s: primary key column %q is not a valid name", where, c)
		}
	}
	for kind, col := range t.Identities {
		if !nameRE.MatchString(kind) {
			p.add(t.line("identities."+kind), "table %s: identity type %q must be a lower-case word such as email or customer_id", where, kind)
		}
		if !nameRE.MatchString(col) {
			p.add(t.line("identities."+kind), "table %s: identity column %q is not a valid name", where, col)
		}
	}
	for col, cat := range t.Columns {
		if !nameRE.MatchString(col) {
			p.add(t.line("columns."+col), "table %s: column %q is not a valid name", where, col)
		}
		if !known[cat] {
			p.add(t.line("columns."+col), "table %s: column %s has unknown category %q (see docs/datamap.md, or declare it under categories:)", where, col, cat)
		}
	}
	for col, target := range ft.References {
		tbl, c, ok := strings.Cut(target, ".")
		if !ok || !nameRE.MatchString(tbl) || !nameRE.MatchString(c) {
			p.add(t.line("references."+col), "table %s: reference %s: %q must be table.column", where, col, target)
			continue
		}
		t.References[col] = ColumnRef{Table: tbl, Column: c}
	}
	for _, col := range t.Correctable {
		if _, ok := t.Columns[col]; !ok {
			p.add(t.line("correctable"), "table %s: correctable column %s has no category under columns:", where, col)
		}
	}
	switch t.Erase {
	case Delete:
	case Mask:
		if len(t.MaskWith) == 0 {
			p.add(t.line("erase"), "table %s: erase strategy mask needs mask: with a replacement (or null) per column", where)
		}
	case "":
		p.add(t.Line, "table %s: erase is missing: delete, or mask with replacements", where)
	default:
		p.add(t.line("erase"), "table %s: erase strategy %q is not delete or mask", where, t.Erase)
	}
	if ft.Retain != nil {
		buildRetention(p, where, t, ft.Retain)
	}
	for col := range t.MaskWith {
		if !nameRE.MatchString(col) {
			p.add(t.line("mask."+col), "table %s: masked column %q is not a valid name", where, col)
		}
		if slices.Contains(t.PrimaryKey, col) {
			p.add(t.line("mask."+col), "table %s: the primary key %s cannot be masked", where, col)
		}
	}
	return t
}

// checkKeptParents refuses a map where rows that stay (masked) keep a
// reference to rows that would be deleted: the foreign key would break or
// the parent would silently stay unmasked.
func checkKeptParents(p *problems, s *System) {
	for _, child := range s.Tables {
		if child.Erase != Mask && child.Retain == nil {
			continue
		}
		for col, ref := range child.References {
			parent := s.Table(ref.Table)
			if parent == nil || parent == child || parent.Erase != Delete || len(parent.MaskWith) > 0 || parent.Retain != nil {
				continue
			}
			if _, nulled := child.MaskWith[col]; nulled && child.Erase == Mask {
				continue // masking the reference detaches the row
			}
			if child.Retain != nil && slices.Contains(child.Retain.Detach, col) {
				continue // retained rows let go of the parent
			}
			if child.Erase == Mask {
				p.add(child.line("references."+col),
					"table %s.%s keeps its rows (mask) and they reference %s, which is deleted: mask %s too, or give %s a mask for rows that must stay",
					s.Name, child.Name, ref, col, parent.Name)
			} else {
				p.add(child.line("references."+col),
					"table %s.%s retains rows that reference %s, which is deleted: list %s under retain.detach, or give %s a mask for rows that must stay",
					s.Name, child.Name, ref, col, parent.Name)
			}
		}
	}
}

var errNoDSN = errors.New("connection string is not set")

// MappedColumns lists every column the map names for the table: key,
// identities, personal data, references, masks and retention.
func (t *Table) MappedColumns() []string {
	var cols []string
	add := func(c string) {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	for _, c := range t.PrimaryKey {
		add(c)
	}
	for _, k := range sortedKeys(t.Identities) {
		add(t.Identities[k])
	}
	for _, c := range sortedKeys(t.Columns) {
		add(c)
	}
	for _, c := range sortedKeys(t.References) {
		add(c)
	}
	for _, c := range sortedKeys(t.MaskWith) {
		add(c)
	}
	if r := t.Retain; r != nil {
		add(r.From)
		add(r.Flag)
		for _, c := range r.Detach {
			add(c)
		}
	}
	return cols
}
