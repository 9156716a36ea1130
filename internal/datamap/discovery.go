package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Found is everything discovery reached in one system.
type Found struct {
	System *System
	Tables []*FoundTable // in data-map order, only tables with rows
	byName map[string]*FoundTable
}

// FoundTable holds the rows found in one table: their primary keys and
// the column values discovery and erasure need (references, never the
// person's data itself).
type FoundTable struct {
	Table *Table
	Rows  []*FoundRow
	index map[string]*FoundRow
}

// FoundRow is one row reached by discovery.
type FoundRow struct {
	Key []any
	// Owned rows belong to the person: they match an identity or point
	// at an owned row. Other rows are linked: an owned row points at them
	// (an address, say) and they may be shared with other people.
	Owned bool
	vals  map[string]any
}

// Table returns the found rows of a table, or nil.
func (f *Found) Table(name string) *FoundTable { return f.byName[name] }

// Counts reports the owned and linked rows of a table.
func (t *FoundTable) Counts() (owned, linked int) {
	for _, r := range t.Rows {
		if r.Owned {
			owned++
		} else {
			linked++
		}
	}
	return owned, linked
}

// Keys returns the primary keys of the rows the filter accepts.
func (t *FoundTable) Keys(keep func(*FoundRow) bool) [][]any {
	var out [][]any
	for _, r := range t.Rows {
		if keep == nil || keep(r) {
			out = append(out, r.Key)
		}
	}
	return out
}

// Personal reports whether a row is the person's data: owned rows always,
// linked rows only in tables that hold personal-data columns (a shared
// product catalogue is context, not the person's data).
func (t *FoundTable) Personal(r *FoundRow) bool { return r.Owned || len(t.Table.Columns) > 0 }

// Discover finds every row reachable from the identities through the
// map's references, with one query per table and hop (per batch of values
// for very large sets). References are followed both ways from owned rows:
// to the rows that point at them (their orders) and to the rows they point
// at (their address). From a linked row only onward references are
// followed, so a shared address never leads to the other people who live
// there.
func (c *SQLConnector) Discover(ctx context.Context, ids Identities) (*Found, error) {
	return c.discover(ctx, c.DB, ids)
}

type pendingValue struct {
	value any
	owned bool
}

func (c *SQLConnector) discover(ctx context.Context, q querier, ids Identities) (*Found, error) {
	_, pooled := q.(*sql.DB)
	return discoverRows(c.sys, ids, pooled, func(t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
		return c.fetch(ctx, q, t, byCol, ft)
	})
}

// fetchFunc asks one table of a hop for the rows whose columns hold the
// values asked (byCol[column][canonical value]), adds them to ft (see
// take) and returns those that are new or newly owned.
type fetchFunc func(t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error)

// discoverRows walks the references of a system's map from the
// identities, hop by hop, with fetch asking each table; it is the same
// for every kind of system. parallel asks a hop's tables at once.
func discoverRows(s *System, ids Identities, parallel bool, fetch fetchFunc) (*Found, error) {
	found := &Found{System: s, byName: map[string]*FoundTable{}}
	// pending[table][column][canonical value]
	pending := map[string]map[string]map[string]pendingValue{}
	// queried holds the values already asked, by table, column, value
	// and whether asked as owned: a struct key builds no string for each
	// of a large person's rows pointing at the same customer.
	type asked struct {
		table, col, val string
		owned           bool
	}
	queried := map[asked]bool{}
	var want func(table, col string, v any, owned bool)
	want = func(table, col string, v any, owned bool) {
		if list, ok := v.([]any); ok { // a document's array: each element
			for _, e := range list {
				want(table, col, e, owned)
			}
			return
		}
		if v == nil {
			return
		}
		k := canon(v)
		if queried[asked{table, col, k, true}] || (!owned && queried[asked{table, col, k, false}]) {
			return
		}
		byCol, ok := pending[table]
		if !ok {
			byCol = map[string]map[string]pendingValue{}
			pending[table] = byCol
		}
		vals, ok := byCol[col]
		if !ok {
			vals = map[string]pendingValue{}
			byCol[col] = vals
		}
		if prev, ok := vals[k]; !ok || (owned && !prev.owned) {
			vals[k] = pendingValue{value: v, owned: owned}
		}
	}
	for _, t := range s.Tables {
		for kind, col := range t.Identities {
			for _, v := range ids[kind] {
				want(t.Name, col, v, true)
			}
		}
	}
	incoming := s.incoming()
	for hop := 0; len(pending) > 0; hop++ {
		if hop > 64 {
			return nil, fmt.Errorf("system %s: discovery did not settle after 64 hops", s.Name)
		}
		current := pending
		pending = map[string]map[string]map[string]pendingValue{}
		// The hop's tables are independent: outside a transaction they are
		// asked at once, on the pool's connections; their rows are then
		// followed in map order, which keeps discovery deterministic.
		type ask struct {
			t     *Table
			byCol map[string]map[string]pendingValue
			ft    *FoundTable
			fresh []*FoundRow
			err   error
		}
		var asks []*ask
		for _, t := range s.Tables {
			byCol, ok := current[t.Name]
			if !ok {
				continue
			}
			for col, vals := range byCol {
				for k, pv := range vals {
					queried[asked{t.Name, col, k, pv.owned}] = true
				}
			}
			ft := found.byName[t.Name]
			if ft == nil {
				ft = &FoundTable{Table: t, index: map[string]*FoundRow{}}
			}
			asks = append(asks, &ask{t: t, byCol: byCol, ft: ft})
		}
		if parallel && len(asks) > 1 {
			var wg sync.WaitGroup
			for _, a := range asks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.fresh, a.err = fetch(a.t, a.byCol, a.ft)
				}()
			}
			wg.Wait()
		} else {
			for _, a := range asks {
				if a.fresh, a.err = fetch(a.t, a.byCol, a.ft); a.err != nil {
					break
				}
			}
		}
		for _, a := range asks {
			if a.err != nil {
				return nil, a.err
			}
			if len(a.ft.Rows) > 0 {
				found.byName[a.t.Name] = a.ft
			}
			for _, r := range a.fresh {
				for col, ref := range a.t.References {
					want(ref.Table, ref.Column, r.vals[col], false)
				}
				if r.Owned {
					for _, in := range incoming[a.t.Name] {
						want(in.child, in.column, r.vals[in.target], true)
					}
				}
			}
		}
	}
	for _, t := range s.Tables {
		if ft := found.byName[t.Name]; ft != nil {
			found.Tables = append(found.Tables, ft)
		}
	}
	return found, nil
}

// incomingRef is a reference seen from the table it points at.
type incomingRef struct {
	child, column, target string
}

func (s *System) incoming() map[string][]incomingRef {
	in := map[string][]incomingRef{}
	for _, t := range s.Tables {
		for _, col := range sortedKeys(t.References) {
			ref := t.References[col]
			in[ref.Table] = append(in[ref.Table], incomingRef{child: t.Name, column: col, target: ref.Column})
		}
	}
	return in
}

// neededColumns are the columns discovery and erasure read: the key,
// references both ways, and identities.
func (s *System) neededColumns(t *Table) []string {
	cols := slices.Clone(t.PrimaryKey)
	add := func(col string) {
		if !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
	}
	for _, col := range sortedKeys(t.References) {
		add(col)
	}
	for _, in := range s.incoming()[t.Name] {
		add(in.target)
	}
	for _, kind := range sortedKeys(t.Identities) {
		add(t.Identities[kind])
	}
	if t.Retain != nil {
		add(t.Retain.From)
	}
	return cols
}

// fetch runs the hop's query for one table, adds what it finds to ft,
// and returns the rows that are new or newly owned.
func (c *SQLConnector) fetch(ctx context.Context, q querier, t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
	cols := c.sys.neededColumns(t)
	folded := foldAll(byCol)
	var fresh []*FoundRow
	for _, batch := range batches(byCol, c.perHop(byCol)) {
		b := c.builder()
		var conds []string
		for _, col := range sortedKeys(batch) {
			conds = append(conds, b.in(col, batch[col]))
		}
		query := "SELECT " + c.Kind.QuoteList(cols) + " FROM " + c.Kind.Quote(t.Name) + " WHERE " + strings.Join(conds, " OR ")
		err := scanRows(ctx, q, query, b.args, func(vals []any) {
			row := map[string]any{}
			for i, col := range cols {
				row[col] = vals[i]
			}
			if r := take(ft, byCol, folded, vals[:len(t.PrimaryKey)], row); r != nil {
				fresh = append(fresh, r)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("system %s: search %s: %w", c.sys.Name, t.Name, err)
		}
	}
	return fresh, nil
}

// take adds a row a hop's query answered to ft and returns it when it is
// new or newly owned. A row none of whose columns holds a value asked
// (a collation's match that is not the value asked for) is left out.
func take(ft *FoundTable, byCol, folded map[string]map[string]pendingValue, key []any, row map[string]any) *FoundRow {
	owned, asked := false, false
	for col, vs := range byCol {
		if pv, ok := matchValue(vs, folded[col], row[col]); ok {
			asked = true
			owned = owned || pv.owned
		}
	}
	if !asked {
		return nil
	}
	k := canonKey(key)
	if r, ok := ft.index[k]; ok {
		if owned && !r.Owned {
			r.Owned = true
			return r
		}
		return nil
	}
	r := &FoundRow{Key: slices.Clone(key), Owned: owned, vals: row}
	ft.index[k] = r
	ft.Rows = append(ft.Rows, r)
	return r
}

// foldAll indexes each column's asked text values by their folded form.
func foldAll(byCol map[string]map[string]pendingValue) map[string]map[string]pendingValue {
	folded := map[string]map[string]pendingValue{}
	for col, vs := range byCol {
		folded[col] = foldValues(vs)
	}
	return folded
}

// perHop is how many of a hop's values one query asks (perStatement):
// as many as one array parameter a column carries when every column's
// values go as one.
func (c *SQLConnector) perHop(byCol map[string]map[string]pendingValue) int {
	if c.Kind != KindPostgres {
		return batchSize
	}
	for _, vs := range byCol {
		vals := make([]any, 0, len(vs))
		for _, pv := range vs {
			vals = append(vals, pv.value)
		}
		if len(vals) > 0 && c.perStatement(vals) == batchSize {
			return batchSize
		}
	}
	return maxArray
}

// batches splits a hop's values into groups of at most limit.
func batches(byCol map[string]map[string]pendingValue, limit int) []map[string][]any {
	var out []map[string][]any
	cur, n := map[string][]any{}, 0
	for _, col := range sortedKeys(byCol) {
		for _, k := range sortedKeys(byCol[col]) {
			if n == limit {
				out = append(out, cur)
				cur, n = map[string][]any{}, 0
			}
			cur[col] = append(cur[col], byCol[col][k].value)
			n++
		}
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

// foldValues indexes the asked text values by their folded form.
func foldValues(vs map[string]pendingValue) map[string]pendingValue {
	out := map[string]pendingValue{}
	for _, pv := range vs {
		if str, ok := pv.value.(string); ok {
			k := fold(str)
			if prev, ok := out[k]; !ok || (pv.owned && !prev.owned) {
				out[k] = pv
			}
		}
	}
	return out
}

// fold is text as a case-insensitive, pad-space collation compares it.
func fold(s string) string { return strings.ToLower(strings.TrimRight(s, " ")) }

// matchValue finds the asked value a row's column answers to: the same
// value or, for text, the same but for case and trailing spaces. MySQL's
// usual collations compare text that way (as email addresses are meant
// to be compared), so the database answers "Alan@Example.com" to a
// search for "alan@example.com". They also ignore accents, and a row
// whose value matches no asked value even so ("rené" for "rene") is not
// the person's: it is left out rather than taken for theirs.
func matchValue(vs, folded map[string]pendingValue, v any) (pendingValue, bool) {
	if list, ok := v.([]any); ok { // a document's array matches by an element
		var best pendingValue
		found := false
		for _, e := range list {
			if pv, ok := matchValue(vs, folded, e); ok && (!found || pv.owned) {
				best, found = pv, true
			}
		}
		return best, found
	}
	if pv, ok := vs[canon(v)]; ok {
		return pv, true
	}
	if str, ok := v.(string); ok {
		pv, ok := folded[fold(str)]
		return pv, ok
	}
	return pendingValue{}, false
}
