// Package datamap describes where an organisation keeps personal data and
// acts on it: the data map (a YAML file naming systems, tables, identity
// columns, references, categories and erase strategies), its validation
// against the live schema, and the connectors that find, read, erase and
// correct one person's rows.
package datamap

import (
	"slices"
	"sort"
)

// Kind is how dsar reaches a system.
type Kind string

const (
	KindPostgres Kind = "postgres"
	KindSQLite   Kind = "sqlite"
	KindMySQL    Kind = "mysql" // MySQL and MariaDB
	// kindMariaDB is accepted in a map for KindMySQL.
	kindMariaDB Kind = "mariadb"
	KindWebhook Kind = "webhook"
	KindManual  Kind = "manual"
)

// SQL reports whether dsar queries the system itself.
func (k Kind) SQL() bool { return k == KindPostgres || k == KindSQLite || k == KindMySQL }

// Strategy is how a table's rows are erased.
type Strategy string

const (
	// Delete removes the person's rows.
	Delete Strategy = "delete"
	// Mask keeps the rows and overwrites their personal columns.
	Mask Strategy = "mask"
	// Unset keeps a document and removes its personal-data fields.
	Unset Strategy = "unset"
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
	// OptOut, when set, is what an opt-out of marketing, sale or sharing
	// does to the person's own rows of the table.
	OptOut *OptOut
	Line   int
	lines  map[string]int // "columns.email" -> line, for error messages
}

// OptOut is what an opt-out does to a table's rows of the person: write
// values (newsletter = false), or delete the rows (a subscription).
type OptOut struct {
	Set    map[string]any // column -> value; nil writes NULL
	Delete bool
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
	if o := t.OptOut; o != nil {
		for _, c := range sortedKeys(o.Set) {
			add(c)
		}
	}
	return cols
}
