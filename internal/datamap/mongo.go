package datamap

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dsar-project/dsar/internal/domain"
)

// KindMongoDB is a MongoDB database (or a server speaking its protocol).
// Its tables are collections and a row's key is the document's _id;
// columns are fields, nested ones addressed by dotted paths
// (profile.email).
const KindMongoDB Kind = "mongodb"

func init() {
	Register(&Driver{
		Kind:       KindMongoDB,
		SystemKeys: []string{"name", "kind", "dsn_env", "collections"},
		TablesKey:  "collections",
		TableKeys:  []string{"name", "identities", "fields", "references", "correctable", "erase", "retain", "opt_out"},
		Key:        []string{"_id"},
		Column:     fieldPath.MatchString,
		Unset:      true,
		Validate:   validateMongo,
		Open: func(s *System) (Connector, error) {
			c, err := ConnectMongo(s)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	})
}

// fieldPath is a field of a document, nested ones by dotted path.
var fieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// validateMongo refuses writes MongoDB would reject: one update may not
// set a field and a field inside it (profile and profile.email).
func validateMongo(s *System, report func(line int, format string, args ...any)) {
	for _, t := range s.Tables {
		for what, fields := range map[string][]string{"mask": sortedKeys(t.MaskWith), "opt_out": optOutFields(t)} {
			for i, a := range fields {
				for _, b := range fields[i+1:] {
					if strings.HasPrefix(b, a+".") || strings.HasPrefix(a, b+".") {
						report(t.line(what), "collection %s.%s: %s writes both %s and %s, one inside the other; name only one", s.Name, t.Name, what, a, b)
					}
				}
			}
		}
	}
}

func optOutFields(t *Table) []string {
	if t.OptOut == nil {
		return nil
	}
	return sortedKeys(t.OptOut.Set)
}

// MongoConnector acts on one MongoDB database. MongoDB changes several
// documents atomically only in a transaction, which needs a replica set;
// dsar does without one. An erasure, correction or opt-out first works
// out every change from what it found, records it (BeforeCommit), and
// then makes it: a failure half-way leaves a record of more than was
// done, and running the request again finishes the rest.
type MongoConnector struct {
	sys    *System
	client *mongo.Client
	db     *mongo.Database
}

// ConnectMongo opens a MongoDB system from its environment variable, a
// mongodb:// or mongodb+srv:// URI naming the database in its path.
func ConnectMongo(s *System) (*MongoConnector, error) {
	uri, err := s.DSN()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") {
		return nil, fmt.Errorf("system %s: %s must be a mongodb:// URI", s.Name, s.DSNEnv)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("system %s: the connection string must name the database: mongodb://host:27017/DATABASE", s.Name)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", s.Name, err)
	}
	return &MongoConnector{sys: s, client: client, db: client.Database(name)}, nil
}

// System is the system the connector acts on.
func (c *MongoConnector) System() *System { return c.sys }

// Close disconnects.
func (c *MongoConnector) Close() error { return c.client.Disconnect(context.Background()) }

// CheckLive makes sure every collection the map names exists. Documents
// have no schema to compare fields with.
func (c *MongoConnector) CheckLive(ctx context.Context) ([]Problem, error) {
	names, err := c.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("system %s: listing its collections: %w", c.sys.Name, err)
	}
	p := &problems{}
	for _, t := range c.sys.Tables {
		if !slices.Contains(names, t.Name) {
			p.add(t.Line, "collection %s.%s does not exist in the database", c.sys.Name, t.Name)
		}
	}
	return p.list, nil
}

// Discover finds the person's documents as SQL discovery finds rows:
// identities first, then references both ways from owned documents and
// onward from linked ones. An array field matches by its elements.
func (c *MongoConnector) Discover(ctx context.Context, ids Identities) (*Found, error) {
	return discoverRows(c.sys, ids, false, func(t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
		return c.fetch(ctx, t, byCol, ft)
	})
}

func (c *MongoConnector) fetch(ctx context.Context, t *Table, byCol map[string]map[string]pendingValue, ft *FoundTable) ([]*FoundRow, error) {
	cols := c.sys.neededColumns(t)
	folded := foldAll(byCol)
	var fresh []*FoundRow
	for _, batch := range batches(byCol, batchSize) {
		var or bson.A
		for _, col := range sortedKeys(batch) {
			or = append(or, bson.D{{Key: col, Value: bson.D{{Key: "$in", Value: bson.A(batch[col])}}}})
		}
		err := c.each(ctx, t.Name, bson.D{{Key: "$or", Value: or}}, cols, func(id any, row map[string]any) {
			if r := take(ft, byCol, folded, []any{id}, row); r != nil {
				fresh = append(fresh, r)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("system %s: search %s: %w", c.sys.Name, t.Name, err)
		}
	}
	return fresh, nil
}

// each runs a query on a collection and calls fn with each document's
// _id and the values of the fields asked (all fields when cols is nil).
func (c *MongoConnector) each(ctx context.Context, coll string, filter any, cols []string, fn func(id any, row map[string]any)) error {
	opts := options.Find()
	if cols != nil {
		proj := bson.D{}
		for _, col := range cols {
			proj = append(proj, bson.E{Key: col, Value: 1})
		}
		opts.SetProjection(proj)
	}
	cur, err := c.db.Collection(coll).Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var doc bson.D
		if err := cur.Decode(&doc); err != nil {
			return err
		}
		row := map[string]any{}
		if cols == nil {
			flatten("", doc, row)
		} else {
			for _, col := range cols {
				row[col] = lookup(doc, col)
			}
		}
		fn(mongoValue(lookup(doc, "_id")), row)
	}
	return cur.Err()
}

// lookup returns the value at a dotted path of a document, nil if absent;
// through an array of documents it returns the array of their values.
func lookup(doc bson.D, path string) any {
	head, rest, nested := strings.Cut(path, ".")
	for _, e := range doc {
		if e.Key != head {
			continue
		}
		if !nested {
			return mongoValue(e.Value)
		}
		switch v := e.Value.(type) {
		case bson.D:
			return lookup(v, rest)
		case bson.A:
			var out []any
			for _, x := range v {
				if d, ok := x.(bson.D); ok {
					if y := lookup(d, rest); y != nil {
						out = append(out, y)
					}
				}
			}
			if out == nil {
				return nil
			}
			return out
		}
		return nil
	}
	return nil
}

// mongoValue turns driver values into the ones the rest of dsar compares,
// prints and stores: int64 for integers, time.Time for dates, []any for
// arrays, and a document as a map.
func mongoValue(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case bson.DateTime:
		return x.Time().UTC()
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mongoValue(e)
		}
		return out
	case bson.D:
		m := map[string]any{}
		for _, e := range x {
			m[e.Key] = mongoValue(e.Value)
		}
		return m
	case bson.Null, bson.Undefined:
		return nil
	}
	return v
}

// flatten writes a document's fields into row by dotted path, nested
// documents opened up, arrays kept whole.
func flatten(prefix string, doc bson.D, row map[string]any) {
	for _, e := range doc {
		if d, ok := e.Value.(bson.D); ok {
			flatten(prefix+e.Key+".", d, row)
			continue
		}
		row[prefix+e.Key] = mongoValue(e.Value)
	}
}

// keyValues are the _id values of keys, for an $in. A key read back from
// a record (JSON) holds an ObjectID as its hex text: both are asked.
func keyValues(keys [][]any) bson.A {
	out := bson.A{}
	for _, k := range keys {
		out = append(out, k[0])
		if s, ok := k[0].(string); ok {
			if oid, err := bson.ObjectIDFromHex(s); err == nil {
				out = append(out, oid)
			}
		}
	}
	return out
}

func byKeys(keys [][]any) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keyValues(keys)}}}}
}

// ReadRows streams the documents with the given keys, nested fields as
// dotted columns; every row of the table has the same columns, those any
// of its documents has, _id first.
func (c *MongoConnector) ReadRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error {
	var rows []map[string]any
	for start := 0; start < len(keys); start += batchSize {
		part := keys[start:min(start+batchSize, len(keys))]
		err := c.each(ctx, t.Name, byKeys(part), nil, func(_ any, row map[string]any) { rows = append(rows, row) })
		if err != nil {
			return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
		}
	}
	seen := map[string]bool{"_id": true}
	cols := []string{"_id"}
	for _, r := range rows {
		for k := range r {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	sort.Strings(cols[1:])
	sort.SliceStable(rows, func(i, j int) bool { return canon(rows[i]["_id"]) < canon(rows[j]["_id"]) })
	for _, r := range rows {
		vals := make([]any, len(cols))
		for i, col := range cols {
			vals[i] = r[col]
			if list, ok := vals[i].([]any); ok {
				vals[i] = fmt.Sprint(list...)
			}
			if m, ok := vals[i].(map[string]any); ok {
				vals[i] = fmt.Sprint(m)
			}
		}
		if err := each(cols, vals); err != nil {
			return err
		}
	}
	return nil
}

// mongoPlan is the writes an erasure or purge will make, worked out
// before any is made.
type mongoPlan struct {
	restrict []mongoWrite
	del      map[string][][]any
	mask     []mongoWrite
	order    []*Table
	// cut["table.field"] holds the keys of documents that will no longer
	// have the field: deleted, or the field removed.
	cut map[string]map[string]bool
}

func (p *mongoPlan) cutField(t *Table, field string, keys [][]any) {
	if p.cut == nil {
		p.cut = map[string]map[string]bool{}
	}
	m := p.cut[t.Name+"."+field]
	if m == nil {
		m = map[string]bool{}
		p.cut[t.Name+"."+field] = m
	}
	for _, k := range keys {
		m[canonKey(k)] = true
	}
}

// write plans a write and notes the fields it removes.
func (p *mongoPlan) write(list *[]mongoWrite, t *Table, set map[string]any, keys [][]any) {
	*list = append(*list, mongoWrite{table: t.Name, keys: keys, set: set})
	for f, v := range set {
		if v == nil {
			p.cutField(t, f, keys)
		}
	}
}

type mongoWrite struct {
	table string
	keys  [][]any
	set   map[string]any
}

// Erase erases the person's documents, each collection by its strategy:
// delete removes them, mask writes its replacements (null removes the
// field), unset removes every personal-data field. Documents inside a
// retention period are restricted (detached fields removed, the flag
// set) and listed; held collections are left alone; a document other
// documents still reference stays, masked when its collection says how.
func (c *MongoConnector) Erase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	return c.erase(ctx, ids, rules, true)
}

// PlanErase works out what Erase would do under the rules, changing
// nothing: an erasure of documents is planned whole before any write, and
// here the plan is not applied. rules.BeforeCommit is not called.
func (c *MongoConnector) PlanErase(ctx context.Context, ids Identities, rules Rules) (*Erasure, error) {
	rules.BeforeCommit = nil
	return c.erase(ctx, ids, rules, false)
}

func (c *MongoConnector) erase(ctx context.Context, ids Identities, rules Rules, write bool) (*Erasure, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	held := c.sys.HeldClosure(rules.Held)
	out := &Erasure{}
	plan := &mongoPlan{del: map[string][][]any{}}
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
		} else if res, err = c.planTable(ctx, ft, &rules, held, plan, out); err != nil {
			return nil, fmt.Errorf("system %s: erase %s: %w", c.sys.Name, t.Name, err)
		}
		if res.Deleted+res.Masked+res.Kept+res.Retained+res.Held > 0 {
			out.Tables = append(out.Tables, res)
		}
	}
	slices.SortStableFunc(out.Tables, func(a, b TableResult) int {
		return c.sys.tableIndex(a.Table) - c.sys.tableIndex(b.Table)
	})
	if !write {
		return out, nil
	}
	if rules.BeforeCommit != nil {
		if err := rules.BeforeCommit(out); err != nil {
			return nil, err
		}
	}
	if err := c.apply(ctx, plan); err != nil {
		return nil, err
	}
	return out, nil
}

// Purge erases documents kept earlier for their retention period, by key.
func (c *MongoConnector) Purge(ctx context.Context, keys map[string][][]any) (*Erasure, error) {
	out := &Erasure{}
	plan := &mongoPlan{del: map[string][][]any{}}
	for _, t := range c.sys.childrenFirst() {
		if len(keys[t.Name]) == 0 {
			continue
		}
		ft := &FoundTable{Table: t, index: map[string]*FoundRow{}}
		err := c.each(ctx, t.Name, byKeys(keys[t.Name]), c.sys.neededColumns(t), func(id any, row map[string]any) {
			ft.Rows = append(ft.Rows, &FoundRow{Key: []any{id}, Owned: true, vals: row})
		})
		if err != nil {
			return nil, fmt.Errorf("system %s: purge %s: %w", c.sys.Name, t.Name, err)
		}
		res, err := c.planTable(ctx, ft, nil, nil, plan, out)
		if err != nil {
			return nil, fmt.Errorf("system %s: purge %s: %w", c.sys.Name, t.Name, err)
		}
		out.Tables = append(out.Tables, res)
	}
	if err := c.apply(ctx, plan); err != nil {
		return nil, err
	}
	return out, nil
}

// planTable works out one collection's part of an erasure, as eraseTable
// does for SQL, and counts it in the result as done.
func (c *MongoConnector) planTable(ctx context.Context, ft *FoundTable, rules *Rules, held map[string]bool, plan *mongoPlan, out *Erasure) (TableResult, error) {
	t := ft.Table
	plan.order = append(plan.order, t)
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
		set := map[string]any{}
		for _, col := range t.Retain.Detach {
			if !held[t.References[col].Table] {
				set[col] = nil
			}
		}
		if t.Retain.Flag != "" {
			set[t.Retain.Flag] = true
		}
		if len(set) > 0 {
			plan.write(&plan.restrict, t, set, retained)
		}
	}
	if len(rows) == 0 {
		return res, nil
	}
	referenced, err := c.stillReferenced(ctx, t, rows, plan)
	if err != nil {
		return res, err
	}
	var del, mask [][]any
	for _, r := range rows {
		stays := referenced[canonKey(r.Key)]
		switch {
		case t.Erase == Mask || t.Erase == Unset || (stays && len(t.MaskWith) > 0):
			mask = append(mask, r.Key)
		case stays:
			res.Kept++
			out.Stayed = append(out.Stayed, GoneRow{Table: t.Name, Key: r.Key})
		default:
			del = append(del, r.Key)
		}
	}
	plan.del[t.Name] = append(plan.del[t.Name], del...)
	for col := range t.References {
		plan.cutField(t, col, del)
	}
	res.Deleted += len(del)
	for _, k := range del {
		out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k})
	}
	if len(mask) > 0 {
		set := maskValues(t.MaskWith)
		if t.Erase == Unset {
			// The personal fields go, and the references: the document
			// no longer leads to anyone.
			set = map[string]any{}
			for col := range t.Columns {
				set[col] = nil
			}
			for col := range t.References {
				set[col] = nil
			}
		}
		plan.write(&plan.mask, t, set, mask)
		res.Masked += len(mask)
		for _, k := range mask {
			out.Gone = append(out.Gone, GoneRow{Table: t.Name, Key: k, Masked: true})
		}
	}
	return res, nil
}

// stillReferenced returns the keys of documents some document of a
// referencing collection points at, leaving out the documents this
// erasure deletes or takes the reference from (children are planned
// first).
func (c *MongoConnector) stillReferenced(ctx context.Context, t *Table, rows []*FoundRow, plan *mongoPlan) (map[string]bool, error) {
	out := map[string]bool{}
	for _, in := range c.sys.incoming()[t.Name] {
		byVal := map[string][]*FoundRow{}
		var vals bson.A
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
		if len(vals) == 0 {
			continue
		}
		gone := plan.cut[in.child+"."+in.column]
		err := c.each(ctx, in.child, bson.D{{Key: in.column, Value: bson.D{{Key: "$in", Value: vals}}}}, []string{in.column}, func(id any, row map[string]any) {
			if gone[canonKey([]any{id})] {
				return
			}
			refs := []any{row[in.column]}
			if list, ok := row[in.column].([]any); ok {
				refs = list
			}
			for _, v := range refs {
				for _, r := range byVal[canon(v)] {
					out[canonKey(r.Key)] = true
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// apply makes a plan's writes: restrictions, deletions children first,
// then masks.
func (c *MongoConnector) apply(ctx context.Context, plan *mongoPlan) error {
	for _, w := range plan.restrict {
		if _, err := c.update(ctx, w.table, w.set, w.keys); err != nil {
			return fmt.Errorf("system %s: restrict %s: %w", c.sys.Name, w.table, err)
		}
	}
	for _, t := range plan.order {
		if keys := plan.del[t.Name]; len(keys) > 0 {
			if _, err := c.remove(ctx, t.Name, keys); err != nil {
				return fmt.Errorf("system %s: erase %s: %w", c.sys.Name, t.Name, err)
			}
		}
	}
	for _, w := range plan.mask {
		if _, err := c.update(ctx, w.table, w.set, w.keys); err != nil {
			return fmt.Errorf("system %s: mask %s: %w", c.sys.Name, w.table, err)
		}
	}
	return nil
}

// update sets fields on the documents with the given keys; a nil value
// removes the field.
func (c *MongoConnector) update(ctx context.Context, coll string, set map[string]any, keys [][]any) (int, error) {
	setDoc, unset := bson.D{}, bson.D{}
	for _, col := range sortedKeys(set) {
		if set[col] == nil {
			unset = append(unset, bson.E{Key: col, Value: ""})
		} else {
			setDoc = append(setDoc, bson.E{Key: col, Value: set[col]})
		}
	}
	upd := bson.D{}
	if len(setDoc) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: setDoc})
	}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	total := 0
	for start := 0; start < len(keys); start += batchSize {
		part := keys[start:min(start+batchSize, len(keys))]
		res, err := c.db.Collection(coll).UpdateMany(ctx, byKeys(part), upd)
		if err != nil {
			return total, err
		}
		total += int(res.MatchedCount)
	}
	return total, nil
}

func (c *MongoConnector) remove(ctx context.Context, coll string, keys [][]any) (int, error) {
	total := 0
	for start := 0; start < len(keys); start += batchSize {
		part := keys[start:min(start+batchSize, len(keys))]
		res, err := c.db.Collection(coll).DeleteMany(ctx, byKeys(part))
		if err != nil {
			return total, err
		}
		total += int(res.DeletedCount)
	}
	return total, nil
}

// Correct writes each change to the correctable fields of its category
// in the person's documents: those they own, and linked ones no one
// else's document points at (shared ones are counted, not changed).
func (c *MongoConnector) Correct(ctx context.Context, ids Identities, changes []Change) ([]Changed, error) {
	var out []Changed
	err := c.eachCorrection(ctx, ids, changes, func(t *Table, col string, ch Change, keys [][]any, shared int) error {
		n := 0
		if len(keys) > 0 {
			var err error
			if n, err = c.update(ctx, t.Name, map[string]any{col: ch.Value}, keys); err != nil {
				return fmt.Errorf("system %s: correct %s.%s: %w", c.sys.Name, t.Name, col, err)
			}
		}
		out = append(out, Changed{CorrectedColumn: domain.CorrectedColumn{
			Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: n, Shared: shared,
		}, Keys: keys, Value: ch.Value})
		return nil
	})
	return out, err
}

// PlanCorrect works out what Correct would write, field by field, with
// the values the documents hold now; nothing is changed.
func (c *MongoConnector) PlanCorrect(ctx context.Context, ids Identities, changes []Change) ([]PlannedChange, error) {
	var out []PlannedChange
	err := c.eachCorrection(ctx, ids, changes, func(t *Table, col string, ch Change, keys [][]any, shared int) error {
		var now []any
		if len(keys) > 0 {
			err := c.each(ctx, t.Name, byKeys(keys), []string{col}, func(_ any, row map[string]any) { now = append(now, row[col]) })
			if err != nil {
				return fmt.Errorf("system %s: read %s.%s: %w", c.sys.Name, t.Name, col, err)
			}
		}
		out = append(out, PlannedChange{CorrectedColumn: domain.CorrectedColumn{
			Category: ch.Category, System: c.sys.Name, Table: t.Name, Column: col, Rows: len(now), Shared: shared,
		}, Before: distinctValues(now), After: ch.Value})
		return nil
	})
	return out, err
}

// eachCorrection discovers the person and calls fn for every change and
// correctable field of its category (a document's _id never is one), with
// the keys of the documents that are the person's alone and the count of
// linked ones someone else shares. Correct writes there; PlanCorrect reads.
func (c *MongoConnector) eachCorrection(ctx context.Context, ids Identities, changes []Change, fn func(t *Table, col string, ch Change, keys [][]any, shared int) error) error {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return err
	}
	for _, ft := range found.Tables {
		t := ft.Table
		cols := slices.DeleteFunc(correctableColumns(t, changes), func(col string) bool { return col == "_id" })
		if len(cols) == 0 {
			continue
		}
		keys, shared, err := c.ownKeys(ctx, found, ft)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			for _, col := range cols {
				if t.Columns[col] == ch.Category {
					if err := fn(t, col, ch, keys, shared); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// ownKeys returns the keys of a collection's documents that are the
// person's alone, and counts the linked ones someone else shares.
func (c *MongoConnector) ownKeys(ctx context.Context, found *Found, ft *FoundTable) (own [][]any, shared int, err error) {
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
	outside := map[string]bool{}
	for _, in := range c.sys.incoming()[ft.Table.Name] {
		mine := found.Table(in.child)
		byVal := map[string][]*FoundRow{}
		var vals bson.A
		for _, r := range linked {
			if v := r.vals[in.target]; v != nil {
				k := canon(v)
				if _, ok := byVal[k]; !ok {
					vals = append(vals, v)
				}
				byVal[k] = append(byVal[k], r)
			}
		}
		if len(vals) == 0 {
			continue
		}
		err := c.each(ctx, in.child, bson.D{{Key: in.column, Value: bson.D{{Key: "$in", Value: vals}}}}, []string{in.column}, func(id any, row map[string]any) {
			if mine != nil {
				if r, ok := mine.index[canonKey([]any{id})]; ok && r.Owned {
					return
				}
			}
			refs := []any{row[in.column]}
			if list, ok := row[in.column].([]any); ok {
				refs = list
			}
			for _, v := range refs {
				for _, r := range byVal[canon(v)] {
					outside[canonKey(r.Key)] = true
				}
			}
		})
		if err != nil {
			return nil, 0, fmt.Errorf("system %s: search %s: %w", c.sys.Name, in.child, err)
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

// OptOut applies the map's opt-out actions to the person's own documents;
// a held collection's documents are not deleted. beforeCommit sees what
// will be done before it is.
func (c *MongoConnector) OptOut(ctx context.Context, ids Identities, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error) {
	found, err := c.Discover(ctx, ids)
	if err != nil {
		return nil, err
	}
	return c.optOut(ctx, optOutKeys(found), held, beforeCommit)
}

// ApplyOptOut applies the opt-out actions to documents by key.
func (c *MongoConnector) ApplyOptOut(ctx context.Context, keys map[string][][]any) ([]OptedOut, error) {
	return c.optOut(ctx, keys, nil, nil)
}

func (c *MongoConnector) optOut(ctx context.Context, keys map[string][][]any, held []string, beforeCommit func([]OptedOut) error) ([]OptedOut, error) {
	return carryOut(optOutPlan(c.sys, keys, held), beforeCommit, func(o OptedOut) (int, error) {
		var n int
		var err error
		if o.Deleted {
			n, err = c.remove(ctx, o.Table, o.Keys)
		} else {
			n, err = c.update(ctx, o.Table, o.Set, o.Keys)
		}
		if err != nil {
			return 0, fmt.Errorf("system %s: opt out of %s: %w", c.sys.Name, o.Table, err)
		}
		return n, nil
	})
}

// Affected finds the people whose documents are in the breached
// collections: from each, it follows the map's references (fewest hops,
// either way) to the nearest collection with an email identity, one query
// per hop, and counts the documents per address.
func (c *MongoConnector) Affected(ctx context.Context, tables []*Table, add func(AffectedPerson)) (unreached []string, err error) {
	for _, t := range tables {
		path, ok := c.sys.emailPath(t)
		if !ok {
			unreached = append(unreached, t.Name)
			continue
		}
		// counts[canonical value of the next hop's column] = documents of t
		counts := map[string]int{}
		values := map[string]any{}
		col := t.Identities["email"]
		if len(path) > 0 {
			col = path[0].from
		}
		err := c.each(ctx, t.Name, bson.D{}, []string{col}, func(_ any, row map[string]any) {
			for _, v := range flat(row[col]) {
				counts[canon(v)]++
				values[canon(v)] = v
			}
		})
		if err != nil {
			return nil, fmt.Errorf("system %s: affected people of %s: %w", c.sys.Name, t.Name, err)
		}
		names := map[string]string{}
		for i, h := range path {
			next := c.sys.Table(h.table)
			nextCol := next.Identities["email"]
			if i+1 < len(path) {
				nextCol = path[i+1].from
			}
			cols := []string{h.to, nextCol}
			nameCol := ""
			if i+1 == len(path) {
				nameCol = nameColumn(next)
				if nameCol != "" {
					cols = append(cols, nameCol)
				}
			}
			var vals bson.A
			for _, k := range sortedKeys(values) {
				vals = append(vals, values[k])
			}
			newCounts, newValues := map[string]int{}, map[string]any{}
			if len(vals) > 0 {
				err := c.each(ctx, next.Name, bson.D{{Key: h.to, Value: bson.D{{Key: "$in", Value: vals}}}}, cols, func(_ any, row map[string]any) {
					n := 0
					for _, v := range flat(row[h.to]) {
						n += counts[canon(v)]
					}
					for _, v := range flat(row[nextCol]) {
						newCounts[canon(v)] += n
						newValues[canon(v)] = v
						if nameCol != "" {
							if s, ok := row[nameCol].(string); ok && s > names[canon(v)] {
								names[canon(v)] = s
							}
						}
					}
				})
				if err != nil {
					return nil, fmt.Errorf("system %s: affected people of %s: %w", c.sys.Name, t.Name, err)
				}
			}
			counts, values = newCounts, newValues
		}
		if len(path) == 0 {
			if nc := nameColumn(t); nc != "" {
				err := c.each(ctx, t.Name, bson.D{}, []string{col, nc}, func(_ any, row map[string]any) {
					for _, v := range flat(row[col]) {
						if s, ok := row[nc].(string); ok && s > names[canon(v)] {
							names[canon(v)] = s
						}
					}
				})
				if err != nil {
					return nil, err
				}
			}
		}
		for _, k := range sortedKeys(values) {
			email, ok := values[k].(string)
			if !ok || email == "" || counts[k] == 0 {
				continue
			}
			add(AffectedPerson{Email: email, Name: names[k], Records: counts[k]})
		}
	}
	return unreached, nil
}

// flat is a value as a list: an array's elements, or the value alone.
func flat(v any) []any {
	if v == nil {
		return nil
	}
	if list, ok := v.([]any); ok {
		return list
	}
	return []any{v}
}

// hop is one step from a table to the next along a reference: from is
// the column of the table left, to the column of the table reached.
type hop struct {
	table, from, to string
}

// emailPath finds the fewest hops from t to a table with an email
// identity, by breadth-first search over the references either way.
func (s *System) emailPath(t *Table) ([]hop, bool) {
	type node struct {
		table *Table
		path  []hop
	}
	queue := []node{{table: t}}
	seen := map[string]bool{t.Name: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if _, ok := cur.table.Identities["email"]; ok {
			return cur.path, true
		}
		for _, col := range sortedKeys(cur.table.References) {
			ref := cur.table.References[col]
			if next := s.Table(ref.Table); next != nil && !seen[next.Name] {
				seen[next.Name] = true
				queue = append(queue, node{next, append(slices.Clone(cur.path), hop{next.Name, col, ref.Column})})
			}
		}
		for _, other := range s.Tables {
			if seen[other.Name] {
				continue
			}
			for _, col := range sortedKeys(other.References) {
				if ref := other.References[col]; ref.Table == cur.table.Name {
					seen[other.Name] = true
					queue = append(queue, node{other, append(slices.Clone(cur.path), hop{other.Name, ref.Column, col})})
					break
				}
			}
		}
	}
	return nil, false
}
