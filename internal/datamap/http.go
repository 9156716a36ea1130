package datamap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tidwall/gjson"

	"github.com/dsar-project/dsar/internal/domain"
)

// KindHTTP is a SaaS API reached over HTTP (Stripe, HubSpot...). Its
// tables are resources, the API's object types; a row is a record, its
// key the record's id; columns are a record's fields, nested ones by
// dotted paths (properties.email). The map declares the requests: find
// (search by email, paged), read (one record by id), and update and
// delete as its erase, correction and opt-out rules need them.
const KindHTTP Kind = "http"

func init() {
	Register(&Driver{
		Kind:       KindHTTP,
		SystemKeys: []string{"name", "kind", "base_url", "url_env", "auth", "headers", "retry", "check", "resources"},
		TablesKey:  "resources",
		TableKeys:  []string{"name", "id", "identities", "fields", "correctable", "erase", "retain", "opt_out", "find", "read", "update", "delete", "list"},
		Key:        []string{"id"},
		Column:     fieldPath.MatchString,
		Build:      buildHTTP,
		Open: func(s *System) (Connector, error) {
			c, err := ConnectHTTP(s)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	})
}

// HTTPConnector acts on one http system. An API changes one record per
// request and has no transactions: an erasure, correction or opt-out
// first works out every change from what it found, records it
// (BeforeCommit), then makes it; a failure half-way leaves a record of
// more than was done, and running the request again finishes the rest
// (a record already gone counts as done).
type HTTPConnector struct {
	sys *System
	c   *httpClient
}

// ConnectHTTP reads an http system's address and credentials from the
// environment; a variable the map names that is not set is an error.
func ConnectHTTP(s *System) (*HTTPConnector, error) {
	if s.http == nil {
		return nil, fmt.Errorf("system %s: not an http system", s.Name)
	}
	c, err := newHTTPClient(s)
	if err != nil {
		return nil, err
	}
	return &HTTPConnector{sys: s, c: c}, nil
}

// System is the system the connector acts on.
func (c *HTTPConnector) System() *System { return c.sys }

// Close releases idle connections.
func (c *HTTPConnector) Close() error {
	c.c.rc.HTTPClient.CloseIdleConnections()
	return nil
}

// CheckLive sends the system's check request, when the map has one, so
// wrong credentials or a wrong address stop a worker at start.
func (c *HTTPConnector) CheckLive(ctx context.Context) ([]Problem, error) {
	op := c.sys.http.check
	if op == nil {
		return nil, nil
	}
	body, ctype, err := op.payload(nil, nil)
	if err != nil {
		return nil, err
	}
	if _, err := c.c.send(ctx, "check", op.method, c.c.target(op, nil), body, ctype); err != nil {
		return []Problem{{Line: c.sys.Line, Message: err.Error()}}, nil
	}
	return nil, nil
}

// Discover finds the person's records: each resource's find request
// for each of their identities, every page. A vendor's search may be
// fuzzy (a prefix, a similar name): a record is the person's only when
// its identity field holds the value asked, but for case, and any other
// is left out before anything is done with it.
func (c *HTTPConnector) Discover(ctx context.Context, ids Identities) (*Found, error) {
	return discoverRows(c.sys, ids, false, func(t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
		return c.fetch(ctx, t, byCol, ft)
	})
}

func (c *HTTPConnector) fetch(ctx context.Context, t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
	cols := c.sys.neededColumns(t)
	folded := foldAll(byCol)
	var fresh []*FoundRow
	for _, col := range sortedKeys(byCol) {
		var types []string
		for _, typ := range sortedKeys(t.Identities) {
			if t.Identities[typ] == col {
				types = append(types, typ)
			}
		}
		if len(types) == 0 {
			return nil, fmt.Errorf("system %s: resource %s is not searched by %s", c.sys.Name, t.Name, col)
		}
		for _, k := range sortedKeys(byCol[col]) {
			vals := map[string]string{}
			for _, typ := range types {
				vals[typ] = keyText(byCol[col][k].value)
			}
			err := c.c.records(ctx, t, t.http.find, vals, func(rec gjson.Result) error {
				row := c.row(t, rec, cols)
				id := row[t.PrimaryKey[0]]
				if id == nil {
					return fmt.Errorf("system %s: find %s: a record has no id at %s", c.sys.Name, t.Name, t.PrimaryKey[0])
				}
				if r := take(ft, byCol, folded, []any{id}, row); r != nil {
					fresh = append(fresh, r)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return fresh, nil
}

// row reads the columns discovery needs from a record; a retention
// period's start given as a number is a Unix time (Stripe's created).
func (c *HTTPConnector) row(t *Table, rec gjson.Result, cols []string) map[string]any {
	row := map[string]any{}
	for _, col := range cols {
		v := jsonValue(rec.Get(col))
		if t.Retain != nil && col == t.Retain.From {
			switch n := v.(type) {
			case int64:
				v = time.Unix(n, 0).UTC()
			case float64:
				v = time.Unix(int64(n), 0).UTC()
			}
		}
		row[col] = v
	}
	return row
}

// ReadRows reads the records with the given keys, one read request
// each, their fields as dotted columns; every row has the columns any of
// the records has, the id first. A record gone meanwhile is left out.
func (c *HTTPConnector) ReadRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error {
	op := t.http.read
	idCol := t.PrimaryKey[0]
	var rows []map[string]any
	for _, k := range keys {
		vals := map[string]string{"id": keyText(k[0])}
		body, ctype, err := op.payload(vals, nil)
		if err != nil {
			return err
		}
		a, err := c.c.send(ctx, op.label(t), op.method, c.c.target(op, vals), body, ctype)
		if errors.Is(err, errHTTPNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		rec := gjson.ParseBytes(a.body)
		if op.record != "" {
			rec = rec.Get(op.record)
		}
		row := map[string]any{}
		flattenJSON("", rec, row)
		row[idCol] = k[0]
		rows = append(rows, row)
	}
	seen := map[string]bool{idCol: true}
	cols := []string{idCol}
	for _, r := range rows {
		for col := range r {
			if !seen[col] {
				seen[col] = true
				cols = append(cols, col)
			}
		}
	}
	sort.Strings(cols[1:])
	for _, r := range rows {
		vals := make([]any, len(cols))
		for i, col := range cols {
			vals[i] = r[col]
		}
		if err := each(cols, vals); err != nil {
			return err
		}
	}
	return nil
}

// httpWrite is one planned change to records: deleted, or fields set.
type httpWrite struct {
	table *Table
	keys  [][]any
	del   bool
	set   map[string]any
	what  string // for errors: "erasing", "restricting", "opting out"
}

// Erase erases the person's records, each resource by its strategy:
// delete sends the delete request, mask the update request with the
// mask's values. Records inside a retention period stay (their flag set
// when the map names one) and are listed; held resources are left
// alone. Every change is recorded (rules.BeforeCommit) before it is
// made.
func (c *HTTPConnector) Erase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	return c.erase(ctx, ids, rules, true)
}

// PlanErase works out what Erase would do under the rules, sending only
// the requests that find and read records: the erasure is planned whole
// before any write, and here the plan is not applied.
// rules.BeforeCommit is not called.
func (c *HTTPConnector) PlanErase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	rules.BeforeCommit = nil
	return c.erase(ctx, ids, rules, false)
}

func (c *HTTPConnector) erase(ctx context.Context, ids Identities, rules Rules, write bool) (*Erasure, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	held := c.sys.HeldClosure(rules.Held)
	out := &Erasure{}
	var plan []httpWrite
	for _, ft := range found.Tables {
		t := ft.Table
		var res TableResult
		if held[t.Name] {
			res = TableResult{System: c.sys.Name, Table: t.Name, Held: len(ft.Rows)}
		} else {
			res = c.planErase(t, ft.Keys(nil), ft, &rules, out, &plan)
		}
		if res.Deleted+res.Masked+res.Retained+res.Held > 0 {
			out.Tables = append(out.Tables, res)
		}
	}
	if !write {
		return out, nil
	}
	if rules.BeforeCommit != nil {
		if err := rules.BeforeCommit(out); err != nil {
			return nil, err
		}
	}
	if _, err := c.apply(ctx, plan); err != nil {
		return nil, err
	}
	return out, nil
}

// planErase works out one resource's part of an erasure (without rules,
// a purge: every record goes) and counts it as done. ft holds what
// discovery read of the records (nil in a purge).
func (c *HTTPConnector) planErase(t *Table, keys [][]any, ft *FoundTable, rules *Rules, out *Erasure, plan *[]httpWrite) TableResult {
	res := TableResult{System: c.sys.Name, Table: t.Name}
	var gone, retained [][]any
	for _, k := range keys {
		if rules != nil && t.Retain != nil {
			var from any
			if ft != nil {
				if r, ok := ft.index[canonKey(k)]; ok {
					from = r.vals[t.Retain.From]
				}
			}
			if until := t.Retain.Until(from, rules.Now); until.After(rules.Now) {
				retained = append(retained, k)
				out.Retained = append(out.Retained, RetainedRow{Table: t.Name, Key: k, Until: until})
				res.Retained++
				res.Basis = t.Retain.Basis
				if until.After(res.RetainedUntil) {
					res.RetainedUntil = until
				}
				continue
			}
		}
		gone = append(gone, k)
	}
	if len(retained) > 0 && t.Retain.Flag != "" {
		*plan = append(*plan, httpWrite{table: t, keys: retained, set: map[string]any{t.Retain.Flag: true}, what: "restricting"})
	}
	if len(gone) == 0 {
		return res
	}
	if t.Erase == Mask {
		*plan = append(*plan, httpWrite{table: t, keys: gone, set: maskValues(t.MaskWith), what: "masking"})
		res.Masked = len(gone)
	} else {
		*plan = append(*plan, httpWrite{table: t, keys: gone, del: true, what: "erasing"})
		res.Deleted = len(gone)
	}
	for _, k := range gone {
		out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k, Masked: t.Erase == Mask})
	}
	return res
}

// apply makes the planned writes, one request per record, and returns
// how many records each changed. A record already gone (404) is done.
func (c *HTTPConnector) apply(ctx context.Context, plan []httpWrite) ([]int, error) {
	counts := make([]int, len(plan))
	for i, w := range plan {
		for _, k := range w.keys {
			err := c.write(ctx, w.table, k, w.del, w.set)
			if errors.Is(err, errHTTPNotFound) {
				continue
			}
			if err != nil {
				return counts, fmt.Errorf("%w (while %s)", err, w.what)
			}
			counts[i]++
		}
	}
	return counts, nil
}

// write deletes one record, or sets fields on it.
func (c *HTTPConnector) write(ctx context.Context, t *Table, key []any, del bool, set map[string]any) error {
	op := t.http.update
	if del {
		op = t.http.del
	}
	vals := map[string]string{"id": keyText(key[0])}
	var fields map[string]any
	if !del {
		fields = set
	}
	body, ctype, err := op.payload(vals, fields)
	if err != nil {
		return err
	}
	_, err = c.c.send(ctx, op.label(t), op.method, c.c.target(op, vals), body, ctype)
	return err
}

// Purge erases records kept earlier for their retention period, by key,
// each resource by its strategy; records already gone are skipped.
func (c *HTTPConnector) Purge(ctx context.Context, keys map[string][][]any) (*Erasure, error) {
	out := &Erasure{}
	for _, t := range c.sys.Tables {
		if len(keys[t.Name]) == 0 {
			continue
		}
		var plan []httpWrite
		part := &Erasure{}
		res := c.planErase(t, keys[t.Name], nil, nil, part, &plan)
		counts, err := c.apply(ctx, plan)
		if err != nil {
			return nil, fmt.Errorf("system %s: purge %s: %w", c.sys.Name, t.Name, err)
		}
		if res.Masked > 0 {
			res.Masked = counts[0]
		} else {
			res.Deleted = counts[0]
		}
		out.Tables = append(out.Tables, res)
		out.Gone = append(out.Gone, part.Gone...)
	}
	return out, nil
}

// correctionValues is the value each correctable field of the resource
// takes: the last change of its category.
func correctionValues(t *Table, changes []Change) map[string]string {
	set := map[string]string{}
	for _, ch := range changes {
		for _, col := range correctableColumns(t, changes) {
			if t.Columns[col] == ch.Category {
				set[col] = ch.Value
			}
		}
	}
	return set
}

// Correct writes each change to the correctable fields of its category
// in the person's records, one update request per record.
func (c *HTTPConnector) Correct(ctx context.Context, ids Identities, changes []Change) ([]Changed, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []Changed
	for _, ft := range found.Tables {
		t := ft.Table
		set := map[string]any{}
		for col, v := range correctionValues(t, changes) {
			set[col] = v
		}
		if len(set) == 0 {
			continue
		}
		keys := ft.Keys(func(r *FoundRow) bool { return r.Owned })
		counts, err := c.apply(ctx, []httpWrite{{table: t, keys: keys, set: set, what: "correcting"}})
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			for _, col := range t.Correctable {
				if _, ok := set[col]; ok && t.Columns[col] == ch.Category {
					out = append(out, Changed{CorrectedColumn: domain.CorrectedColumn{
						Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: counts[0],
					}, Keys: keys, Value: ch.Value})
				}
			}
		}
	}
	return out, nil
}

// PlanCorrect works out what Correct would write, field by field, with
// the values the person's records hold now, read with the read request;
// nothing is written.
func (c *HTTPConnector) PlanCorrect(ctx context.Context, ids Identities, changes []Change) ([]PlannedChange, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []PlannedChange
	for _, ft := range found.Tables {
		t := ft.Table
		set := correctionValues(t, changes)
		if len(set) == 0 {
			continue
		}
		keys := ft.Keys(func(r *FoundRow) bool { return r.Owned })
		now := map[string][]any{}
		if len(keys) > 0 {
			err := c.ReadRows(ctx, t, keys, func(columns []string, row []any) error {
				for i, col := range columns {
					if _, ok := set[col]; ok {
						now[col] = append(now[col], row[i])
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		for _, ch := range changes {
			for _, col := range t.Correctable {
				if _, ok := set[col]; ok && t.Columns[col] == ch.Category {
					out = append(out, PlannedChange{CorrectedColumn: domain.CorrectedColumn{
						Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: len(keys),
					}, Before: distinctValues(now[col]), After: ch.Value})
				}
			}
		}
	}
	return out, nil
}

// OptOut applies the map's opt-out actions to the person's records; a
// held resource's records are not deleted. beforeCommit sees what will
// be done before it is.
func (c *HTTPConnector) OptOut(ctx context.Context, ids Identities, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	return c.optOut(ctx, optOutKeys(found), held, beforeCommit)
}

// ApplyOptOut applies the opt-out actions to records by key.
func (c *HTTPConnector) ApplyOptOut(ctx context.Context, keys map[string][][]any) ([]OptedOut, error) {
	return c.optOut(ctx, keys, nil, nil)
}

func (c *HTTPConnector) optOut(ctx context.Context, keys map[string][][]any, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error) {
	return carryOut(optOutPlan(c.sys, keys, held), beforeCommit, func(o OptedOut) (int, error) {
		counts, err := c.apply(ctx, []httpWrite{{table: c.sys.Table(o.Table), keys: o.Keys, del: o.Deleted, set: o.Set, what: "opting out"}})
		if err != nil {
			return 0, err
		}
		return counts[0], nil
	})
}

// Affected finds the people whose records are in the breached
// resources, through each one's list request (every record, every
// page), counting the records per email address. A resource without a
// list request is reported unreached, for the officer to ask the vendor.
func (c *HTTPConnector) Affected(ctx context.Context, tables []*Table, add func(AffectedPerson)) ([]string, error) {
	var unreached []string
	for _, t := range tables {
		col, ok := t.Identities["email"]
		if t.http == nil || t.http.list == nil || !ok {
			unreached = append(unreached, t.Name)
			continue
		}
		nameCol := nameColumn(t)
		counts, names, emails := map[string]int{}, map[string]string{}, map[string]string{}
		err := c.c.records(ctx, t, t.http.list, nil, func(rec gjson.Result) error {
			for _, v := range flat(jsonValue(rec.Get(col))) {
				email, ok := v.(string)
				if !ok || email == "" {
					continue
				}
				k := fold(email)
				counts[k]++
				if _, seen := emails[k]; !seen {
					emails[k] = email
				}
				if nameCol != "" {
					if n, ok := jsonValue(rec.Get(nameCol)).(string); ok && n > names[k] {
						names[k] = n
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("system %s: affected people of %s: %w", c.sys.Name, t.Name, err)
		}
		for _, k := range sortedKeys(counts) {
			add(AffectedPerson{Email: emails[k], Name: names[k], Records: counts[k]})
		}
	}
	return unreached, nil
}
