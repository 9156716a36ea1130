package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
)

// TableResult is what erasure did in one table: the record of the
// fulfilment keeps it as it is.
type TableResult = domain.ErasedTable

// Rules are what erasure must respect besides the data map itself.
type Rules struct {
	// Now is when the erasure happens, for retention periods.
	Now time.Time
	// Held lists the system's tables under a legal hold. The tables a
	// held table references are held with it, so the held rows keep
	// what they point at.
	Held []string
	// BeforeCommit, if set, sees what the erasure did before it commits,
	// to record it elsewhere (retained rows, tombstones): an error rolls
	// the erasure back, so nothing is erased without its record.
	BeforeCommit func(*Erasure) error
}

// RetainedRow is a row kept for its retention period.
type RetainedRow struct {
	Table string
	Key   []any
	Until time.Time
}

// GoneRow is a row Erase deleted or masked, for the tombstone that keeps
// it from coming back with a restored backup.
type GoneRow struct {
	Table  string
	Key    []any
	Masked bool
}

// Erasure is what Erase did in one system.
type Erasure struct {
	Tables   []TableResult // in map order, only tables it touched
	Retained []RetainedRow
	Gone     []GoneRow
	// Stayed are rows left in place because other rows still reference
	// them (Kept in the table results).
	Stayed []GoneRow
}

// CanonKey writes a primary key the same way whichever database (or
// backup file) it was read from.
func CanonKey(key []any) string { return canonKey(key) }

// Erase finds the person's rows and erases them in one transaction: each
// table by its strategy, children before parents so foreign keys hold.
// Rows still inside a retention period are restricted instead (detached
// from erased parents, flagged when the map says how) and listed for a
// later purge; rows of held tables are left alone. A row that other rows
// still reference after its children were handled is masked when its
// table says how, and otherwise kept and counted.
func (c *SQLConnector) Erase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	return c.erase(ctx, ids, rules, nil)
}

// PlanErase works out what Erase would do under the rules, table by
// table, without changing anything: it reads in a read-only transaction,
// and where Erase asks the database what still references a row after
// the children were erased, it leaves out the rows the plan deletes or
// detaches. rules.BeforeCommit is not called.
func (c *SQLConnector) PlanErase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	rules.BeforeCommit = nil
	return c.erase(ctx, ids, rules, &erasePlan{})
}

// erasePlan is what a dry run of an erasure has planned so far.
type erasePlan struct {
	// cut["table.column"] holds the keys of rows that will no longer
	// hold the column's value: deleted, or the column set to NULL.
	cut map[string]map[string]bool
}

func (p *erasePlan) cutColumn(table, column string, keys [][]any) {
	if p.cut == nil {
		p.cut = map[string]map[string]bool{}
	}
	m := p.cut[table+"."+column]
	if m == nil {
		m = map[string]bool{}
		p.cut[table+"."+column] = m
	}
	for _, k := range keys {
		m[canonKey(k)] = true
	}
}

// cutSet notes the columns a write sets to NULL.
func (p *erasePlan) cutSet(table string, set map[string]any, keys [][]any) {
	for col, v := range set {
		if v == nil {
			p.cutColumn(table, col, keys)
		}
	}
}

// erase erases, or with a plan works out the erasure and rolls back.
func (c *SQLConnector) erase(ctx context.Context, ids Identities, rules Rules, plan *erasePlan) (*Erasure, error) {
	var tx *sql.Tx
	var found *Found
	var err error
	if plan != nil {
		if tx, err = c.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return nil, fmt.Errorf("system %s: begin: %w", c.sys.Name, err)
		}
		if found, err = c.discover(ctx, tx, ids); err != nil {
			tx.Rollback()
			return nil, err
		}
	} else if tx, found, err = c.discoverInTx(ctx, ids); err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out := &Erasure{}
	held := c.sys.HeldClosure(rules.Held)
	for _, t := range c.sys.childrenFirst() {
		ft := found.Table(t.Name)
		if ft == nil {
			continue
		}
		var res TableResult
		if held[t.Name] {
			res = TableResult{System: c.sys.Name, Table: t.Name}
			for _, r := range ft.Rows {
				if ft.Personal(r) {
					res.Held++
				}
			}
		} else if res, err = c.eraseTable(ctx, tx, ft, &rules, held, out, plan); err != nil {
			return nil, fmt.Errorf("system %s: erase %s: %w", c.sys.Name, t.Name, err)
		}
		if res.Deleted+res.Masked+res.Kept+res.Retained+res.Held > 0 {
			out.Tables = append(out.Tables, res)
		}
	}
	// Report in map order, which reads naturally.
	slices.SortStableFunc(out.Tables, func(a, b TableResult) int {
		return c.sys.tableIndex(a.Table) - c.sys.tableIndex(b.Table)
	})
	if plan != nil {
		return out, nil // rolled back by the deferred Rollback
	}
	if rules.BeforeCommit != nil {
		if err := rules.BeforeCommit(out); err != nil {
			return nil, err
		}
	}
	if err := c.commit(tx, "erasure"); err != nil {
		return nil, err
	}
	return out, nil
}

// Purge erases rows kept earlier for their retention period, now that it
// has ended, by their keys: each table by its strategy, children first.
// Rows already gone are skipped; rows something else now references stay
// (counted as kept, and missing from the result's Gone), as in Erase.
func (c *SQLConnector) Purge(ctx context.Context, keys map[string][][]any) (*Erasure, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out := &Erasure{}
	for _, t := range c.sys.childrenFirst() {
		if len(keys[t.Name]) == 0 {
			continue
		}
		ft := &FoundTable{Table: t, index: map[string]*FoundRow{}}
		cols := c.sys.neededColumns(t)
		for _, part := range chunks(keys[t.Name], c.perKeyStatement(t.PrimaryKey, keys[t.Name])) {
			b := c.builder()
			query := "SELECT " + c.Kind.QuoteList(cols) + " FROM " + c.Kind.Quote(t.Name) + " WHERE " + b.keyIn(t.PrimaryKey, part)
			err := scanRows(ctx, tx, query, b.args, func(vals []any) {
				row := map[string]any{}
				for i, col := range cols {
					row[col] = vals[i]
				}
				ft.Rows = append(ft.Rows, &FoundRow{Key: slices.Clone(vals[:len(t.PrimaryKey)]), Owned: true, vals: row})
			})
			if err != nil {
				return nil, fmt.Errorf("system %s: purge %s: %w", c.sys.Name, t.Name, err)
			}
		}
		res, err := c.eraseTable(ctx, tx, ft, nil, nil, out, nil)
		if err != nil {
			return nil, fmt.Errorf("system %s: purge %s: %w", c.sys.Name, t.Name, err)
		}
		out.Tables = append(out.Tables, res)
	}
	if err := c.commit(tx, "purge"); err != nil {
		return nil, err
	}
	return out, nil
}

// HeldClosure returns the held tables and every table they reference,
// directly or not: what a hold on them keeps from erasure.
func (s *System) HeldClosure(held []string) map[string]bool {
	out := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		t := s.Table(name)
		if t == nil || out[name] {
			return
		}
		out[name] = true
		for _, ref := range t.References {
			add(ref.Table)
		}
	}
	for _, name := range held {
		add(name)
	}
	return out
}

// eraseTable erases one table's found rows. With rules, rows inside a
// retention period are restricted and appended to out.Retained; without
// (a purge), every row goes. held are the tables a hold keeps, which a
// restricted row keeps its references to. With a plan nothing is
// written: what would be is counted and noted in the plan.
func (c *SQLConnector) eraseTable(ctx context.Context, tx *sql.Tx, ft *FoundTable, rules *Rules, held map[string]bool, out *Erasure, plan *erasePlan) (TableResult, error) {
	t := ft.Table
	res := TableResult{System: c.sys.Name, Table: t.Name}
	var rows []*FoundRow
	var retained [][]any
	for _, r := range ft.Rows {
		if !ft.Personal(r) {
			continue
		}
		if rules != nil && t.Retain != nil {
			if until := t.Retain.Until(r.vals[t.Retain.From], rules.Now); until.After(rules.Now) {
				retained = append(retained, r.Key)
				out.Retained = append(out.Retained, RetainedRow{Table: t.Name, Key: r.Key, Until: until})
				res.Retained++
				res.Basis = t.Retain.Basis
				if until.After(res.RetainedUntil) {
					res.RetainedUntil = until
				}
				continue
			}
		}
		rows = append(rows, r)
	}
	if len(retained) > 0 {
		if err := c.restrict(ctx, tx, t, retained, held, plan); err != nil {
			return res, err
		}
	}
	if len(rows) == 0 {
		return res, nil
	}
	// Rows still referenced from outside the request must stay.
	referenced, err := c.stillReferenced(ctx, tx, t, rows, plan)
	if err != nil {
		return res, err
	}
	var del, mask [][]any
	for _, r := range rows {
		stays := len(referenced) > 0 && referenced[canonKey(r.Key)]
		switch {
		case t.Erase == Mask || (stays && len(t.MaskWith) > 0):
			mask = append(mask, r.Key)
		case stays:
			res.Kept++
			out.Stayed = append(out.Stayed, GoneRow{Table: t.Name, Key: r.Key})
		default:
			del = append(del, r.Key)
		}
	}
	if plan != nil {
		res.Deleted, res.Masked = len(del), len(mask)
		for col := range t.References {
			plan.cutColumn(t.Name, col, del)
		}
		plan.cutSet(t.Name, maskValues(t.MaskWith), mask)
		for _, k := range del {
			out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k})
		}
		for _, k := range mask {
			out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k, Masked: true})
		}
		return res, nil
	}
	for _, part := range chunks(del, c.perKeyStatement(t.PrimaryKey, del)) {
		b := c.builder()
		n, err := exec(ctx, tx, "DELETE FROM "+c.Kind.Quote(t.Name)+" WHERE "+b.keyIn(t.PrimaryKey, part), b.args)
		if err != nil {
			return res, err
		}
		res.Deleted += n
	}
	for _, k := range del {
		out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k})
	}
	for _, k := range mask {
		out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k, Masked: true})
	}
	if len(mask) > 0 {
		n, err := c.update(ctx, tx, t, maskValues(t.MaskWith), mask)
		if err != nil {
			return res, err
		}
		res.Masked += n
	}
	return res, nil
}

// restrict detaches retained rows from the parents being erased (not from
// held ones, which stay) and sets their restriction flag.
func (c *SQLConnector) restrict(ctx context.Context, tx *sql.Tx, t *Table, keys [][]any, held map[string]bool, plan *erasePlan) error {
	set := map[string]any{}
	for _, col := range t.Retain.Detach {
		if !held[t.References[col].Table] {
			set[col] = nil
		}
	}
	if t.Retain.Flag != "" {
		set[t.Retain.Flag] = true
	}
	if len(set) == 0 {
		return nil
	}
	if plan != nil {
		plan.cutSet(t.Name, set, keys)
		return nil
	}
	_, err := c.update(ctx, tx, t, set, keys)
	return err
}

// maskValues turns a mask (nil for NULL) into update's values.
func maskValues(mask map[string]*string) map[string]any {
	set := make(map[string]any, len(mask))
	for col, v := range mask {
		if v == nil {
			set[col] = nil
		} else {
			set[col] = *v
		}
	}
	return set
}

// stillReferenced returns the keys of rows that some row in a referencing
// table still points at. It runs after the children were erased, so what
// remains belongs to other people (or was kept by a mask that left the
// reference in place).
func (c *SQLConnector) stillReferenced(ctx context.Context, tx *sql.Tx, t *Table, rows []*FoundRow, plan *erasePlan) (map[string]bool, error) {
	out := map[string]bool{}
	for _, in := range c.sys.incoming()[t.Name] {
		byVal := map[string][]*FoundRow{}
		var vals []any
		for _, r := range rows {
			v := r.vals[in.target]
			if v == nil {
				continue
			}
			k := canon(v)
			if _, ok := byVal[k]; !ok {
				vals = append(vals, v)
			}
			byVal[k] = append(byVal[k], r)
		}
		for _, part := range chunks(vals, c.perStatement(vals)) {
			b := c.builder()
			where := " FROM " + c.Kind.Quote(in.child) + " WHERE " + b.in(in.column, part)
			query := "SELECT DISTINCT " + c.Kind.Quote(in.column) + where
			var gone map[string]bool
			keyLen := 0
			if plan != nil {
				// Nothing was erased: leave out the referencing rows the
				// plan deletes or takes the reference from.
				gone = plan.cut[in.child+"."+in.column]
				child := c.sys.Table(in.child)
				keyLen = len(child.PrimaryKey)
				query = "SELECT " + c.Kind.QuoteList(child.PrimaryKey) + ", " + c.Kind.Quote(in.column) + where
			}
			err := scanRows(ctx, tx, query, b.args, func(v []any) {
				if gone[canonKey(v[:keyLen])] {
					return
				}
				for _, r := range byVal[canon(v[keyLen])] {
					out[canonKey(r.Key)] = true
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// update sets columns to values on the rows with the given keys; a nil
// value writes NULL.
func (c *SQLConnector) update(ctx context.Context, tx *sql.Tx, t *Table, set map[string]any, keys [][]any) (int, error) {
	total := 0
	for _, part := range chunks(keys, c.perKeyStatement(t.PrimaryKey, keys)) {
		b := c.builder()
		var assigns []string
		for _, col := range sortedKeys(set) {
			if set[col] == nil {
				assigns = append(assigns, c.Kind.Quote(col)+" = NULL")
			} else {
				assigns = append(assigns, c.Kind.Quote(col)+" = "+b.arg(set[col]))
			}
		}
		query := "UPDATE " + c.Kind.Quote(t.Name) + " SET " + strings.Join(assigns, ", ") + " WHERE " + b.keyIn(t.PrimaryKey, part)
		n, err := exec(ctx, tx, query, b.args)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func exec(ctx context.Context, tx *sql.Tx, query string, args []any) (int, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// childrenFirst orders the system's tables so every table comes before
// the tables it references. Self-references and cycles are broken in map
// order.
func (s *System) childrenFirst() []*Table {
	tables := s.Tables
	var order []*Table
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t *Table)
	visit = func(t *Table) {
		if state[t.Name] != 0 {
			return
		}
		state[t.Name] = 1
		// Children (tables referencing t) go first.
		for _, in := range s.incoming()[t.Name] {
			if child := s.Table(in.child); child != nil && child != t {
				visit(child)
			}
		}
		state[t.Name] = 2
		order = append(order, t)
	}
	for _, t := range tables {
		visit(t)
	}
	return order
}

func (s *System) tableIndex(name string) int {
	for i, t := range s.Tables {
		if t.Name == name {
			return i
		}
	}
	return len(s.Tables)
}

// ChildrenFirst orders the system's tables so every table comes before
// the tables it references; reversed, parents come first, as inserts need.
func (c *SQLConnector) ChildrenFirst() []*Table { return c.sys.childrenFirst() }
