package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/dsar-project/dsar/internal/domain"
)

// OptedOut is what an opt-out did to one table: the person's rows it
// wrote the table's values to, or deleted, with their keys so a restored
// backup can be opted out again (never in the record or in JSON).
type OptedOut struct {
	domain.OptedOutTable
	Keys [][]any        `json:"-"`
	Set  map[string]any `json:"-"`
}

// OptOut applies the opt-out actions of the map to the person's own
// rows, in one transaction: columns set (newsletter = false) or rows
// deleted (a subscription). Linked rows, such as an address shared with
// others, are never touched: an opt-out is the person's alone. Rows a
// legal hold covers (held tables) are not deleted, only counted; their
// columns are still set, which destroys no record. beforeCommit, if set,
// runs before the transaction commits, so what must be recorded of the
// change (tombstones) is recorded with it or not at all.
func (c *SQLConnector) OptOut(ctx context.Context, ids Identities, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error) {
	tx, found, err := c.discoverInTx(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out, err := c.applyOptOuts(ctx, tx, optOutKeys(found), held)
	if err != nil {
		return nil, err
	}
	if beforeCommit != nil {
		if err := beforeCommit(out); err != nil {
			return nil, err
		}
	}
	if err := c.commit(tx, "opt-out"); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyOptOut applies the map's opt-out actions to the rows with the
// given keys, by table, in one transaction: a restored backup's rows of
// people who opted out since it was taken.
func (c *SQLConnector) ApplyOptOut(ctx context.Context, keys map[string][][]any) ([]OptedOut, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out, err := c.applyOptOuts(ctx, tx, keys, nil)
	if err != nil {
		return nil, err
	}
	if err := c.commit(tx, "opt-out"); err != nil {
		return nil, err
	}
	return out, nil
}

// applyOptOuts applies each table's opt-out action to the rows with the
// given keys, in map order; a held table's rows are not deleted.
func (c *SQLConnector) applyOptOuts(ctx context.Context, tx *sql.Tx, keys map[string][][]any, held []string) ([]OptedOut, error) {
	out := optOutPlan(c.sys, keys, held)
	for i, o := range out {
		if o.Held > 0 {
			continue
		}
		res, err := c.applyOptOut(ctx, tx, c.sys.Table(o.Table), o.Keys)
		if err != nil {
			return nil, err
		}
		out[i] = res
	}
	return out, nil
}

// optOutKeys are the keys of the person's own rows that discovery found,
// by table, in the tables with an opt-out action.
func optOutKeys(found *Found) map[string][][]any {
	keys := map[string][][]any{}
	for _, ft := range found.Tables {
		if ft.Table.OptOut != nil {
			keys[ft.Table.Name] = ft.Keys(func(r *FoundRow) bool { return r.Owned })
		}
	}
	return keys
}

// optOutPlan is what an opt-out will do, table by table in map order:
// set the values or delete the rows with the given keys. A held table's
// rows are only counted (Held), never deleted; Rows is what the plan
// expects, until a connector's write says what it did.
func optOutPlan(sys *System, keys map[string][][]any, held []string) []OptedOut {
	var out []OptedOut
	for _, t := range sys.Tables {
		if t.OptOut == nil || len(keys[t.Name]) == 0 {
			continue
		}
		o := OptedOut{OptedOutTable: domain.OptedOutTable{System: sys.Name, Table: t.Name, Deleted: t.OptOut.Delete}}
		if t.OptOut.Delete && slices.Contains(held, t.Name) {
			o.Held = len(keys[t.Name])
		} else {
			o.Rows, o.Keys, o.Set = len(keys[t.Name]), keys[t.Name], t.OptOut.Set
		}
		out = append(out, o)
	}
	return out
}

// carryOut performs a planned opt-out in a system without transactions:
// beforeCommit records what will be done first (so a crash leaves a
// record to finish from), then write changes each table that is not
// held and says how many rows it changed.
func carryOut(out []OptedOut, beforeCommit func([]OptedOut) error, write func(OptedOut) (int, error)) ([]OptedOut, error) {
	if beforeCommit != nil {
		if err := beforeCommit(out); err != nil {
			return nil, err
		}
	}
	for i, o := range out {
		if o.Held > 0 {
			continue
		}
		n, err := write(o)
		if err != nil {
			return nil, err
		}
		out[i].Rows = n
	}
	return out, nil
}

// applyOptOut sets the table's opt-out values on the rows, or deletes them.
func (c *SQLConnector) applyOptOut(ctx context.Context, tx *sql.Tx, t *Table, keys [][]any) (OptedOut, error) {
	res := OptedOut{OptedOutTable: domain.OptedOutTable{System: c.sys.Name, Table: t.Name, Deleted: t.OptOut.Delete}, Keys: keys, Set: t.OptOut.Set}
	var err error
	if t.OptOut.Delete {
		for start := 0; start < len(keys) && err == nil; start += batchSize {
			b := c.builder()
			part := keys[start:min(start+batchSize, len(keys))]
			var n int
			n, err = exec(ctx, tx, "DELETE FROM "+c.Kind.Quote(t.Name)+" WHERE "+b.keyIn(t.PrimaryKey, part), b.args)
			res.Rows += n
		}
	} else {
		res.Rows, err = c.update(ctx, tx, t, t.OptOut.Set, keys)
	}
	if err != nil {
		return res, fmt.Errorf("system %s: opt out of %s: %w", c.sys.Name, t.Name, err)
	}
	return res, nil
}
