package datamap

import (
	"context"
	"fmt"
	"slices"
)

// Change is one corrected value, addressed by category.
type Change struct {
	Category string
	Value    string
}

// Changed is where a correction was written.
type Changed struct {
	Category string `json:"category"`
	System   string `json:"system"`
	Table    string `json:"table"`
	Column   string `json:"column"`
	Rows     int    `json:"rows"`
}

// Correct writes each change to every correctable column of its category
// in the person's own rows, in one transaction. Linked rows (a shared
// address) are left alone: correcting them would change someone else's
// data too.
func (c *Connector) Correct(ctx context.Context, ids Identities, changes []Change) ([]Changed, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", c.System.Name, err)
	}
	defer tx.Rollback()
	found, err := c.discover(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var out []Changed
	for _, ft := range found.Tables {
		t := ft.Table
		keys := ft.Keys(func(r *FoundRow) bool { return r.Owned })
		if len(keys) == 0 {
			continue
		}
		for _, ch := range changes {
			for _, col := range t.Correctable {
				if t.Columns[col] != ch.Category || slices.Contains(t.PrimaryKey, col) {
					continue
				}
				v := ch.Value
				n, err := c.update(ctx, tx, t, map[string]*string{col: &v}, keys)
				if err != nil {
					return nil, fmt.Errorf("system %s: correct %s.%s: %w", c.System.Name, t.Name, col, err)
				}
				out = append(out, Changed{Category: ch.Category, System: c.System.Name, Table: t.Name, Column: col, Rows: n})
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("system %s: commit correction: %w", c.System.Name, err)
	}
	return out, nil
}
