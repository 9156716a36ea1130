package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/dsar-project/dsar/internal/domain"
)

// Change is one corrected value, addressed by category.
type Change struct {
	Category string
	Value    string
}

// Changed is where a correction was written: the column as the
// fulfilment records it, and the rows and value, so the correction can be
// applied again to a restored backup (never in the record or in JSON).
type Changed struct {
	domain.CorrectedColumn
	Keys  [][]any `json:"-"`
	Value string  `json:"-"`
}

// Correct writes each change to every correctable column of its category
// in the person's rows, in one transaction: the rows they own, and the
// linked rows (their address) that no one else's row points at. A linked
// row shared with another person is left alone, since correcting it would
// change that person's data too; it is reported as Shared.
func (c *SQLConnector) Correct(ctx context.Context, ids Identities, changes []Change) ([]Changed, error) {
	tx, found, err := c.discoverInTx(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out []Changed
	for _, ft := range found.Tables {
		t := ft.Table
		cols := correctableColumns(t, changes)
		if len(cols) == 0 {
			continue
		}
		keys, shared, err := c.ownKeys(ctx, tx, found, ft)
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			for _, col := range cols {
				if t.Columns[col] != ch.Category {
					continue
				}
				n := 0
				if len(keys) > 0 {
					v := ch.Value
					if n, err = c.update(ctx, tx, t, map[string]any{col: v}, keys); err != nil {
						return nil, fmt.Errorf("system %s: correct %s.%s: %w", c.sys.Name, t.Name, col, err)
					}
				}
				out = append(out, Changed{CorrectedColumn: domain.CorrectedColumn{
					Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: n, Shared: shared,
				}, Keys: keys, Value: ch.Value})
			}
		}
	}
	if err := c.commit(tx, "correction"); err != nil {
		return nil, err
	}
	return out, nil
}

// PlannedChange is what Correct would write to one column: Rows rows
// would be written (Shared left as they are), which now hold the Before
// values (distinct, sorted; NULL or a missing field reads as ""), and
// would hold After.
type PlannedChange struct {
	domain.CorrectedColumn
	Before []string
	After  string
}

// correctableColumns lists a table's correctable columns some change is
// for, leaving out its key.
func correctableColumns(t *Table, changes []Change) []string {
	var cols []string
	for _, col := range t.Correctable {
		if !slices.Contains(t.PrimaryKey, col) && slices.ContainsFunc(changes, func(ch Change) bool { return t.Columns[col] == ch.Category }) {
			cols = append(cols, col)
		}
	}
	return cols
}

// distinctValues turns values read from rows into the sorted distinct
// strings a plan shows.
func distinctValues(vals []any) []string {
	var out []string
	for _, v := range vals {
		s := ""
		if v != nil {
			s = canon(v)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// PlanCorrect works out what Correct would write, column by column, with
// the values the rows hold now, in a read-only transaction: nothing is
// changed.
func (c *SQLConnector) PlanCorrect(ctx context.Context, ids Identities, changes []Change) ([]PlannedChange, error) {
	tx, err := c.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", c.sys.Name, err)
	}
	defer tx.Rollback()
	found, err := c.discover(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var out []PlannedChange
	for _, ft := range found.Tables {
		t := ft.Table
		cols := correctableColumns(t, changes)
		if len(cols) == 0 {
			continue
		}
		keys, shared, err := c.ownKeys(ctx, tx, found, ft)
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			for _, col := range cols {
				if t.Columns[col] != ch.Category {
					continue
				}
				var now []any
				for start := 0; start < len(keys); start += batchSize {
					b := c.builder()
					part := keys[start:min(start+batchSize, len(keys))]
					query := "SELECT " + c.Kind.Quote(col) + " FROM " + c.Kind.Quote(t.Name) + " WHERE " + b.keyIn(t.PrimaryKey, part)
					if err := scanRows(ctx, tx, query, b.args, func(v []any) { now = append(now, v[0]) }); err != nil {
						return nil, fmt.Errorf("system %s: read %s.%s: %w", c.sys.Name, t.Name, col, err)
					}
				}
				out = append(out, PlannedChange{CorrectedColumn: domain.CorrectedColumn{
					Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: len(now), Shared: shared,
				}, Before: distinctValues(now), After: ch.Value})
			}
		}
	}
	return out, nil
}

// ownKeys returns the keys of a table's rows that are the person's alone:
// owned rows, and linked rows whose every referencing row was found as
// the person's. It also counts the linked rows someone else shares.
func (c *SQLConnector) ownKeys(ctx context.Context, q querier, found *Found, ft *FoundTable) (own [][]any, shared int, err error) {
	var linked []*FoundRow
	for _, r := range ft.Rows {
		if r.Owned {
			own = append(own, r.Key)
		} else {
			linked = append(linked, r)
		}
	}
	if len(linked) == 0 {
		return own, 0, nil
	}
	outside := map[string]bool{} // keys of linked rows someone else points at
	for _, in := range c.sys.incoming()[ft.Table.Name] {
		child := c.sys.Table(in.child)
		mine := found.Table(in.child)
		byVal := map[string][]*FoundRow{}
		var vals []any
		for _, r := range linked {
			if v := r.vals[in.target]; v != nil {
				k := canon(v)
				if _, ok := byVal[k]; !ok {
					vals = append(vals, v)
				}
				byVal[k] = append(byVal[k], r)
			}
		}
		cols := append(slices.Clone(child.PrimaryKey), in.column)
		for start := 0; start < len(vals); start += batchSize {
			b := c.builder()
			part := vals[start:min(start+batchSize, len(vals))]
			query := "SELECT " + c.Kind.QuoteList(cols) + " FROM " + c.Kind.Quote(in.child) + " WHERE " + b.in(in.column, part)
			err := scanRows(ctx, q, query, b.args, func(v []any) {
				key := canonKey(v[:len(child.PrimaryKey)])
				if mine != nil {
					if r, ok := mine.index[key]; ok && r.Owned {
						return
					}
				}
				for _, r := range byVal[canon(v[len(v)-1])] {
					outside[canonKey(r.Key)] = true
				}
			})
			if err != nil {
				return nil, 0, fmt.Errorf("system %s: search %s: %w", c.sys.Name, in.child, err)
			}
		}
	}
	for _, r := range linked {
		if outside[canonKey(r.Key)] {
			shared++
		} else {
			own = append(own, r.Key)
		}
	}
	return own, shared, nil
}
