package datamap

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"sync"
)

// Connector acts on one system dsar reaches itself, whatever its kind.
// What it finds and changes is told in the common terms of the map: a
// table is a table or a collection, a row is a row or a document, and a
// row's key is its primary key (a document's _id), as [][]any per table.
// Found, Erasure, Changed and OptedOut are the same for every kind, so
// packages, tombstones and records do not depend on where the data lives.
type Connector interface {
	// System is the map's entry for the system.
	System() *System
	// Discover finds every row reachable from the identities through the
	// map's references (see SQLConnector.Discover for the rules).
	Discover(ctx context.Context, ids Identities) (*Found, error)
	// ReadRows streams the full rows with the given keys, in batches;
	// columns name row's values (a document's nested fields by their
	// dotted paths).
	ReadRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error
	// Erase erases the person's rows under the rules (retention, legal
	// holds), calling rules.BeforeCommit before any change is final.
	Erase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error)
	// PlanErase works out what Erase would do under the same rules,
	// changing nothing (a dry run the officer confirms). A kind that
	// cannot answers ErrNoPlan.
	PlanErase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error)
	// PlanCorrect works out what Correct would write, with each column's
	// current values, changing nothing; a kind that cannot answers
	// ErrNoPlan.
	PlanCorrect(ctx context.Context, ids Identities, changes []Change) ([]PlannedChange, error)
	// Purge erases rows kept earlier for a retention period, by key.
	Purge(ctx context.Context, keys map[string][][]any) (*Erasure, error)
	// Correct writes each change to the correctable columns of its
	// category in the person's rows.
	Correct(ctx context.Context, ids Identities, changes []Change) ([]Changed, error)
	// OptOut applies the map's opt-out actions to the person's own rows;
	// rows of held tables are not deleted. beforeCommit sees what was
	// done before it is final.
	OptOut(ctx context.Context, ids Identities, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error)
	// ApplyOptOut applies the opt-out actions to rows by key (a restored
	// backup's).
	ApplyOptOut(ctx context.Context, keys map[string][][]any) ([]OptedOut, error)
	// Affected finds the people whose rows are in the breached tables,
	// returning the tables from which no email can be reached.
	Affected(ctx context.Context, tables []*Table, add func(AffectedPerson)) (unreached []string, err error)
	// CheckLive compares the map with the live system (its schema, or
	// the collections it has) and lists what the map names that is not
	// there, with the map's lines.
	CheckLive(ctx context.Context) ([]Problem, error)
	// Close releases the connection.
	Close() error
}

// ErrNoPlan is what a connector answers when its kind cannot work out an
// erasure or correction without carrying it out; the dry run then says
// so for the system.
var ErrNoPlan = errors.New("this kind of system cannot show what would change before changing it")

// Driver is a kind of system dsar queries itself. A kind is one file that
// registers its Driver (see sql.go and mongo.go) plus its tests.
type Driver struct {
	Kind Kind
	// Aliases are other names the map accepts for the kind (mariadb).
	Aliases []Kind
	// SystemKeys are the keys a system of the kind takes in the map
	// (name and kind included). TablesKey is the one of them listing its
	// tables: tables, or collections.
	SystemKeys []string
	TablesKey  string
	// TableKeys are the keys each of its tables takes.
	TableKeys []string
	// Key, when set, is every table's primary key (a document's _id),
	// which the map then does not name.
	Key []string
	// Column reports whether a name can address a column: a plain name
	// in SQL, a dotted path into nested documents in a document store.
	Column func(name string) bool
	// Unset allows the erase strategy unset: keep the row, remove every
	// personal-data field (documents, whose fields can be absent).
	Unset bool
	// Validate, when set, checks a system of the kind beyond what every
	// kind is checked for; report gives each problem its line.
	Validate func(s *System, report func(line int, format string, args ...any))
	// Build, when set, reads the kind's own keys of a system and of its
	// tables (tables[i] is s.Tables[i]) into them; report gives each
	// problem its line. A kind with Build checks its own connection
	// settings: dsn_env is then not required.
	Build func(s *System, fs *fileSystem, tables []fileTable, report func(line int, format string, args ...any))
	// Open connects to a system of the kind.
	Open func(s *System) (Connector, error)
}

var (
	driversMu sync.RWMutex
	drivers   = map[Kind]*Driver{}
)

// Register adds a kind of system. It panics on a kind registered twice,
// as a programming error.
func Register(d *Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	for _, k := range append([]Kind{d.Kind}, d.Aliases...) {
		if _, dup := drivers[k]; dup {
			panic("datamap: kind " + string(k) + " registered twice")
		}
		drivers[k] = d
	}
}

// driverOf returns the driver of a kind (or of one of its aliases), or
// nil for a kind dsar does not query itself (webhook, manual, unknown).
func driverOf(k Kind) *Driver {
	driversMu.RLock()
	defer driversMu.RUnlock()
	return drivers[k]
}

// Queried reports whether dsar reaches systems of the kind itself,
// through a registered connector.
func (k Kind) Queried() bool { return driverOf(k) != nil }

// queriedKinds lists the registered kinds' names, sorted, aliases left
// out.
func queriedKinds() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	var out []string
	for k, d := range drivers {
		if k == d.Kind {
			out = append(out, string(k))
		}
	}
	sort.Strings(out)
	return out
}

// Open connects to a system through its kind's driver.
func Open(s *System) (Connector, error) {
	d := driverOf(s.Kind)
	if d == nil {
		return nil, &kindError{s}
	}
	return d.Open(s)
}

type kindError struct{ s *System }

func (e *kindError) Error() string {
	return "system " + e.s.Name + ": dsar does not query systems of kind " + string(e.s.Kind)
}

// plainColumn is how SQL kinds name a column.
func plainColumn(name string) bool { return nameRE.MatchString(name) }

// tableKeysOf lists the keys a table of the kind takes, or nil when any
// table key goes (an unknown kind, which build reports).
func tableKeysOf(k Kind) []string {
	if d := driverOf(k); d != nil {
		notice, _ := structKeys(reflect.TypeOf(fileNotice{}))
		return slices.Concat(d.TableKeys, []string{"label", "labels"}, notice)
	}
	return nil
}
