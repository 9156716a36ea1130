package datamap

import (
	"strconv"
	"strings"
)

// batchSize bounds the values in one IN list; larger sets take several
// queries, still one per batch rather than one per row.
const batchSize = 1000

// builder collects bind arguments with the dialect's placeholders.
type builder struct {
	kind Kind
	args []any
}

func (c *Connector) builder() *builder { return &builder{kind: c.Kind} }

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	if b.kind == KindPostgres {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

func (b *builder) list(vals []any) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = b.arg(v)
	}
	return strings.Join(ph, ", ")
}

// in is "column IN (...)". On PostgreSQL a list of integers or of
// strings goes as one array parameter (column = ANY($1)): one value to
// bind instead of a thousand, and a statement PostgreSQL plans in a
// fraction of the time, which on large tables is most of the work.
func (b *builder) in(column string, vals []any) string {
	if b.kind == KindPostgres {
		if arr, ok := typedArray(vals); ok {
			return quote(column) + " = ANY(" + b.arg(arr) + ")"
		}
	}
	return quote(column) + " IN (" + b.list(vals) + ")"
}

// typedArray turns values all of one kind into a slice pgx sends as an
// array; mixed or other kinds are not turned.
func typedArray(vals []any) (any, bool) {
	switch vals[0].(type) {
	case int64:
		out := make([]int64, len(vals))
		for i, v := range vals {
			n, ok := v.(int64)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	case string:
		out := make([]string, len(vals))
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// keyIn is "pk IN (...)", or "(a, b) IN ((...), ...)" for a composite key.
func (b *builder) keyIn(pk []string, keys [][]any) string {
	if len(pk) == 1 {
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = k[0]
		}
		return b.in(pk[0], vals)
	}
	tuples := make([]string, len(keys))
	for i, k := range keys {
		tuples[i] = "(" + b.list(k) + ")"
	}
	if b.kind == KindSQLite {
		return "(" + quoteList(pk) + ") IN (VALUES " + strings.Join(tuples, ", ") + ")"
	}
	return "(" + quoteList(pk) + ") IN (" + strings.Join(tuples, ", ") + ")"
}

// quote quotes an identifier. Names are checked against nameRE when the
// map loads, and against the live schema before use.
func quote(name string) string { return `"` + name + `"` }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
