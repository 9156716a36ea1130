// Package datamap describes where an organisation keeps personal data and
// acts on it: the data map (a YAML file naming systems, tables, identity
// columns, references, categories and erase strategies), its validation
// against the live schema, and the connectors that find, read, erase and
// correct one person's rows.
package datamap

import (
	"slices"
	"sort"
	"strings"
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
	// http holds an http system's base URL, authentication and retries.
	http *httpSystem
	// Notice is what the access report says about the system's
	// processing; its tables may override each part.
	Notice Notice
	Line   int
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
	// Label names the table for the requester ("Your invoices"); Labels
	// name its columns ("Name on the invoice"). Both are optional.
	Label  Text
	Labels map[string]Text
	// Notice overrides the system's notice for this table.
	Notice Notice
	Line   int
	lines  map[string]int // "columns.email" -> line, for error messages
	// http holds an http resource's operations.
	http *httpResource
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

// Title names the table for the requester in lang: the map's label, else
// its name made readable ("Support tickets").
func (t *Table) Title(lang string) string {
	if len(t.Label) > 0 {
		return t.Label.In(lang)
	}
	return Humanize(t.Name)
}

// Humanize turns a name such as support_tickets into "Support tickets".
func Humanize(name string) string {
	s := strings.TrimSpace(strings.ReplaceAll(name, "_", " "))
	if s == "" {
		return name
	}
	return strings.ToUpper(s[:1]) + s[1:]
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

// Text is words for the requester, as the map writes them: one text, or
// one per language code ("en", "de", "fr", "es"). A plain text has the
// key "".
type Text map[string]string

// In returns the text in lang, else in English, else the plain text,
// else any language's, so a map written in one language still reads.
func (t Text) In(lang string) string {
	for _, k := range []string{lang, "en", ""} {
		if s, ok := t[k]; ok {
			return s
		}
	}
	for _, k := range sortedKeys(t) {
		return t[k]
	}
	return ""
}

// LegalBasis is one of the six lawful bases of GDPR Art. 6(1).
type LegalBasis string

// The lawful bases a map may name.
const (
	Consent             LegalBasis = "consent"
	Contract            LegalBasis = "contract"
	LegalObligation     LegalBasis = "legal_obligation"
	VitalInterests      LegalBasis = "vital_interests"
	PublicTask          LegalBasis = "public_task"
	LegitimateInterests LegalBasis = "legitimate_interests"
)

// LegalBases lists them, in the order of Art. 6(1).
var LegalBases = []LegalBasis{Consent, Contract, LegalObligation, VitalInterests, PublicTask, LegitimateInterests}

// Notice is what an access report tells the person about a system's or
// a table's processing (GDPR Art. 15(1)): why, on what basis, who
// receives the data, where it came from, and any automated decisions. A
// table's notice is its system's with the table's own keys in place.
type Notice struct {
	Purposes   []Text
	LegalBasis []LegalBasis
	Recipients []Text
	// Source is where data not collected from the person came from; nil
	// means it was collected from them.
	Source *Text
	// Automated is set when decisions based solely on automated
	// processing (Art. 22) are made with the data.
	Automated *Automated
}

// Automated describes automated decision-making: the logic involved, and
// its significance and envisaged consequences for the person.
type Automated struct {
	// None is an explicit "no automated decisions" (automated_decisions:
	// false), which lets a table say so where its system says otherwise.
	None         bool
	Logic        Text
	Consequences Text
}

// Over is the notice with o's keys in place of its own where o has them.
func (n Notice) Over(o Notice) Notice {
	if len(o.Purposes) > 0 {
		n.Purposes = o.Purposes
	}
	if len(o.LegalBasis) > 0 {
		n.LegalBasis = o.LegalBasis
	}
	if len(o.Recipients) > 0 {
		n.Recipients = o.Recipients
	}
	if o.Source != nil {
		n.Source = o.Source
	}
	if o.Automated != nil {
		n.Automated = o.Automated
	}
	if n.Automated != nil && n.Automated.None {
		n.Automated = nil
	}
	return n
}

// NoticeOf is what the report says about a table of system s.
func (s *System) NoticeOf(t *Table) Notice {
	if t == nil {
		return Notice{}.Over(s.Notice)
	}
	return s.Notice.Over(t.Notice)
}
