package datamap

import (
	"context"
	"fmt"
)

// OptedOut is what an opt-out did to one table: the person's rows it
// wrote the table's values to, or deleted, with their keys so a restored
// backup can be opted out again (never in the record or in JSON).
type OptedOut struct {
	System  string         `json:"system"`
	Table   string         `json:"table"`
	Rows    int            `json:"rows"`
	Deleted bool           `json:"deleted,omitempty"`
	Keys    [][]any        `json:"-"`
	Set     map[string]any `json:"-"`
}

// OptOut applies the opt-out actions of the map to the person's own
// rows, in one transaction: columns set (newsletter = false) or rows
// deleted (a subscription). Linked rows, such as an address shared with
// others, are never touched: an opt-out is the person's alone.
func (c *Connector) OptOut(ctx context.Context, ids Identities) ([]OptedOut, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", c.System.Name, err)
	}
	defer tx.Rollback()
	found, err := c.discover(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var out []OptedOut
	for _, ft := range found.Tables {
		t := ft.Table
		if t.OptOut == nil {
			continue
		}
		keys := ft.Keys(func(r *FoundRow) bool { return r.Owned })
		if len(keys) == 0 {
			continue
		}
		res := OptedOut{System: c.System.Name, Table: t.Name, Deleted: t.OptOut.Delete, Keys: keys, Set: t.OptOut.Set}
		if t.OptOut.Delete {
			for start := 0; start < len(keys); start += batchSize {
				b := c.builder()
				part := keys[start:min(start+batchSize, len(keys))]
				n, err := exec(ctx, tx, "DELETE FROM "+c.Kind.Quote(t.Name)+" WHERE "+b.keyIn(t.PrimaryKey, part), b.args)
				if err != nil {
					return nil, fmt.Errorf("system %s: opt out of %s: %w", c.System.Name, t.Name, err)
				}
				res.Rows += n
			}
		} else if res.Rows, err = c.update(ctx, tx, t, t.OptOut.Set, keys); err != nil {
			return nil, fmt.Errorf("system %s: opt out of %s: %w", c.System.Name, t.Name, err)
		}
		out = append(out, res)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("system %s: commit opt-out: %w", c.System.Name, err)
	}
	return out, nil
}
