package archive

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/store"
)

// Suppression is what a restored snapshot is checked against: the
// tombstones dsar wrote when it erased people after the snapshot was
// taken ("table/kind/hash" to action, identities under table "*"), the
// keyed hash that made them, and the legal holds in force.
type Suppression struct {
	Tombstones map[string]string
	// Hashes returns the keyed hashes of the parts under every key dsar
	// has had, so tombstones from before a key rotation still match.
	Hashes func(parts ...string) []string
	// Held lists the system's tables under a hold; HeldPerson reports
	// whether a hold covers everything about a person. What they cover
	// is restored as it is.
	Held       []string
	HeldPerson func(email string) bool
}

func (s Suppression) match(table, kind string, parts ...string) (string, bool) {
	for _, h := range s.Hashes(parts...) {
		if action, ok := s.Tombstones[table+"/"+kind+"/"+h]; ok {
			return action, true
		}
	}
	return "", false
}

// Forgotten counts what Forget removed from a snapshot.
type Forgotten struct {
	People   int // people recognised by a tombstoned identity and erased
	Rows     int // rows deleted or masked, by identity or by key
	OptedOut int // rows an opt-out since changed, changed again
}

// Forget erases from the loaded snapshot everyone dsar erased since it
// was taken: people whose identity is tombstoned are erased as the data
// map says (retention and masks included), then any row whose key is
// tombstoned goes too.
func (l *Loaded) Forget(ctx context.Context, sup Suppression, now time.Time) (Forgotten, error) {
	var out Forgotten
	sys := l.Conn.System()
	ids := datamap.Identities{}
	for _, t := range sys.Tables {
		for kind, col := range t.Identities {
			err := eachValue(ctx, l.Conn.DB, `SELECT DISTINCT `+lite.Quote(col)+` FROM `+lite.Quote(t.Name)+` WHERE `+lite.Quote(col)+` IS NOT NULL`, func(v []any) {
				s := fmt.Sprint(v[0])
				if kind == "email" && sup.HeldPerson != nil && sup.HeldPerson(s) {
					return
				}
				if _, ok := sup.match("*", kind, sys.Name, kind, strings.ToLower(s)); ok && !slices.Contains(ids[kind], s) {
					ids[kind] = append(ids[kind], s)
				}
			})
			if err != nil {
				return out, fmt.Errorf("archive: %s.%s: %w", t.Name, col, err)
			}
		}
	}
	out.People = len(ids["email"])
	if len(ids) > 0 {
		e, err := l.Conn.Erase(ctx, ids, datamap.Rules{Now: now, Held: sup.Held})
		if err != nil {
			return out, err
		}
		out.Rows += len(e.Gone)
	}
	keys, err := l.tombstonedKeys(ctx, sup, "key")
	if err != nil {
		return out, err
	}
	if len(keys) > 0 {
		e, err := l.Conn.Purge(ctx, keys)
		if err != nil {
			return out, err
		}
		out.Rows += len(e.Gone)
	}
	// Opt-outs last: their rows are set again as the map says, or go.
	optOuts, err := l.tombstonedKeys(ctx, sup, store.TombstoneOptOut)
	if err != nil {
		return out, err
	}
	if len(optOuts) > 0 {
		done, err := l.Conn.ApplyOptOut(ctx, optOuts)
		if err != nil {
			return out, err
		}
		for _, o := range done {
			out.OptedOut += o.Rows
		}
	}
	return out, nil
}

// tombstonedKeys lists the keys of the snapshot's rows, by table, that a
// tombstone of the kind names ("key" for rows erased, "opt_out" for rows
// an opt-out changed). Tables under a hold are left as they are.
func (l *Loaded) tombstonedKeys(ctx context.Context, sup Suppression, kind string) (map[string][][]any, error) {
	sys := l.Conn.System()
	keys := map[string][][]any{}
	held := l.Conn.System().HeldClosure(sup.Held)
	for _, t := range sys.Tables {
		if held[t.Name] || (kind == store.TombstoneOptOut && t.OptOut == nil) {
			continue
		}
		err := eachValue(ctx, l.Conn.DB, `SELECT `+lite.QuoteList(t.PrimaryKey)+` FROM `+lite.Quote(t.Name), func(key []any) {
			if _, ok := sup.match(t.Name, kind, sys.Name, t.Name, datamap.CanonKey(key)); ok {
				keys[t.Name] = append(keys[t.Name], slices.Clone(key))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("archive: %s: %w", t.Name, err)
		}
	}
	return keys, nil
}

// RowHash is the keyed hash that names a row in tombstones and recorded
// corrections.
func RowHash(hash func(parts ...string) string, system, table string, key []any) string {
	return hash(system, table, datamap.CanonKey(key))
}

// CorrectionName binds a recorded correction's sealed value to its row
// and column.
func CorrectionName(system, table, column, keyHash string) string {
	return "correction/" + system + "/" + table + "/" + column + "/" + keyHash
}

// Correction is a recorded correction, opened: the value to write to a
// column of the row whose key hashes to one of KeyHashes.
type Correction struct {
	Table, Column, KeyHash, Value string
}

// Correct writes recorded corrections to the rows of the loaded snapshot
// they were made to, in the order given (later ones win), and returns how
// many rows it changed.
func (l *Loaded) Correct(ctx context.Context, cs []Correction, hashes func(parts ...string) []string) (int, error) {
	sys := l.Conn.System()
	byHash := map[string][]Correction{}
	for _, c := range cs {
		byHash[c.Table+"/"+c.KeyHash] = append(byHash[c.Table+"/"+c.KeyHash], c)
	}
	type write struct {
		table, column, value string
		key                  []any
	}
	var writes []write
	for _, t := range sys.Tables {
		err := eachValue(ctx, l.Conn.DB, `SELECT `+lite.QuoteList(t.PrimaryKey)+` FROM `+lite.Quote(t.Name), func(key []any) {
			for _, h := range hashes(sys.Name, t.Name, datamap.CanonKey(key)) {
				for _, c := range byHash[t.Name+"/"+h] {
					writes = append(writes, write{table: t.Name, column: c.Column, value: c.Value, key: slices.Clone(key)})
				}
			}
		})
		if err != nil {
			return 0, fmt.Errorf("archive: %s: %w", t.Name, err)
		}
	}
	for _, w := range writes {
		t := sys.Table(w.table)
		conds := make([]string, len(t.PrimaryKey))
		for i, c := range t.PrimaryKey {
			conds[i] = lite.Quote(c) + ` = ?`
		}
		args := append([]any{w.value}, w.key...)
		if _, err := l.Conn.DB.ExecContext(ctx, `UPDATE `+lite.Quote(w.table)+` SET `+lite.Quote(w.column)+` = ? WHERE `+strings.Join(conds, " AND "), args...); err != nil {
			return 0, fmt.Errorf("archive: correct %s.%s: %w", w.table, w.column, err)
		}
	}
	return len(writes), nil
}

// CopyInto inserts the loaded snapshot into a database that has the
// system's tables (and nothing of them yet), parents before children, in
// one transaction: a restore that fails leaves the target as it was.
// Columns the target lacks are skipped; it returns the rows per table.
func (l *Loaded) CopyInto(ctx context.Context, target *sql.DB, kind datamap.Kind) (map[string]int, error) {
	live, err := datamap.ReadSchema(ctx, target, kind)
	if err != nil {
		return nil, err
	}
	order := l.Conn.ChildrenFirst()
	slices.Reverse(order)
	tx, err := target.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	counts := map[string]int{}
	for _, t := range order {
		lt, ok := live.Tables[t.Name]
		if !ok {
			return nil, fmt.Errorf("archive: the target database has no table %s; create the schema first", t.Name)
		}
		var cols []string
		var boolean, moment []bool
		for _, c := range l.columns[t.Name] {
			if sc, ok := lt.Column(c); ok {
				typ := strings.ToLower(sc.Type)
				cols = append(cols, c)
				boolean = append(boolean, strings.Contains(typ, "bool"))
				moment = append(moment, strings.Contains(typ, "date") || strings.Contains(typ, "time"))
			}
		}
		if len(cols) == 0 {
			continue
		}
		ph := make([]string, len(cols))
		for i := range cols {
			ph[i] = kind.Placeholder(i + 1)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+kind.Quote(t.Name)+` (`+kind.QuoteList(cols)+`) VALUES (`+strings.Join(ph, ", ")+`)`)
		if err != nil {
			return nil, err
		}
		var insErr error
		err = eachValue(ctx, l.Conn.DB, `SELECT `+lite.QuoteList(cols)+` FROM `+lite.Quote(t.Name)+` ORDER BY rowid`, func(v []any) {
			if insErr != nil {
				return
			}
			for i := range v {
				if n, ok := v[i].(int64); ok && boolean[i] {
					v[i] = n != 0
				}
				// A snapshot keeps times as RFC 3339 text, which MySQL
				// will not take for a DATETIME; a time it will.
				if s, ok := v[i].(string); ok && moment[i] {
					if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
						v[i] = at
					}
				}
			}
			if _, insErr = stmt.ExecContext(ctx, v...); insErr == nil {
				counts[t.Name]++
			}
		})
		stmt.Close()
		if err == nil {
			err = insErr
		}
		if err != nil {
			return nil, fmt.Errorf("archive: restore %s (row %d): %w", t.Name, counts[t.Name]+1, err)
		}
	}
	return counts, tx.Commit()
}

// eachValue runs a query and hands each row's values to fn, streaming.
// fn must not use the same database: the query holds its connection.
func eachValue(ctx context.Context, db *sql.DB, query string, fn func([]any)) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	return datamap.EachRow(rows, func(vals []any) error {
		out := make([]any, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out[i] = v
		}
		fn(out)
		return nil
	})
}

// OptOutTombstones are the records that make a restored backup apply an
// opt-out again: one per row it changed or deleted, a keyed hash of the
// row's key like an erased row's, of kind "opt_out".
func OptOutTombstones(requestID string, done []datamap.OptedOut, hash func(parts ...string) string, now time.Time) []store.Tombstone {
	var out []store.Tombstone
	for _, o := range done {
		for _, key := range o.Keys {
			out = append(out, store.Tombstone{
				RequestID: requestID, SystemName: o.System, TableName: o.Table, Kind: store.TombstoneOptOut,
				Hash: RowHash(hash, o.System, o.Table, key), Action: store.TombstoneOptOut, CreatedAt: now,
			})
		}
	}
	return out
}

// Tombstones are the records that keep an erased person out of restored
// backups: one for the person's email in the system, and one per row that
// went, each a keyed hash (hash) of what names it. Forget matches them.
func Tombstones(requestID, system, email string, gone []datamap.GoneRow, hash func(parts ...string) string, now time.Time) []store.Tombstone {
	if len(gone) == 0 {
		return nil
	}
	out := []store.Tombstone{{
		RequestID: requestID, SystemName: system, TableName: "*", Kind: "email",
		Hash: hash(system, "email", strings.ToLower(email)), Action: store.TombstoneDelete, CreatedAt: now,
	}}
	for _, g := range gone {
		action := store.TombstoneDelete
		if g.Masked {
			action = store.TombstoneMask
		}
		out = append(out, store.Tombstone{
			RequestID: requestID, SystemName: system, TableName: g.Table, Kind: "key",
			Hash: RowHash(hash, system, g.Table, g.Key), Action: action, CreatedAt: now,
		})
	}
	return out
}
