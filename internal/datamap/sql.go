package datamap

import (
	"strconv"
	"strings"
)

func init() {
	for _, k := range []Kind{KindPostgres, KindSQLite, KindMySQL} {
		d := &Driver{
			Kind:       k,
			SystemKeys: []string{"name", "kind", "dsn_env", "tables"},
			TablesKey:  "tables",
			TableKeys:  []string{"name", "primary_key", "identities", "columns", "references", "correctable", "erase", "retain", "opt_out"},
			Column:     plainColumn,
			Open: func(s *System) (Connector, error) {
				c, err := ConnectSQL(s)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
		}
		if k == KindMySQL {
			d.Aliases = []Kind{kindMariaDB}
		}
		Register(d)
	}
}

// batchSize bounds the values in one IN list; larger sets take several
// queries, still one per batch rather than one per row.
const batchSize = 1000

// maxArray bounds the values one array parameter carries on PostgreSQL.
const maxArray = 100_000

// perStatement is how many of vals one statement binds: on PostgreSQL,
// where a set of integers or of strings goes as one array parameter (see
// in), up to maxArray, so a person's 60,000 orders are one statement
// rather than sixty; elsewhere batchSize, within the placeholder limits
// of MySQL and SQLite.
func (c *SQLConnector) perStatement(vals []any) int {
	if c.Kind == KindPostgres && len(vals) > 0 && arrayKind(vals) {
		return maxArray
	}
	return batchSize
}

// perKeyStatement is perStatement for primary keys: a composite key
// goes as a list of tuples, batchSize at a time.
func (c *SQLConnector) perKeyStatement(pk []string, keys [][]any) int {
	if c.Kind != KindPostgres || len(pk) != 1 || len(keys) == 0 {
		return batchSize
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = k[0]
	}
	return c.perStatement(vals)
}

// chunks splits s into slices of at most n.
func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for start := 0; start < len(s); start += n {
		out = append(out, s[start:min(start+n, len(s))])
	}
	return out
}

// builder collects bind arguments with the dialect's placeholders.
type builder struct {
	kind Kind
	args []any
}

func (c *SQLConnector) builder() *builder { return &builder{kind: c.Kind} }

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.kind.Placeholder(len(b.args))
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
			return b.kind.Quote(column) + " = ANY(" + b.arg(arr) + ")"
		}
	}
	return b.kind.Quote(column) + " IN (" + b.list(vals) + ")"
}

// arrayKind reports whether values are all integers or all strings,
// which typedArray turns into an array.
func arrayKind(vals []any) bool {
	switch vals[0].(type) {
	case int64:
		for _, v := range vals {
			if _, ok := v.(int64); !ok {
				return false
			}
		}
		return true
	case string:
		for _, v := range vals {
			if _, ok := v.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
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
		return "(" + b.kind.QuoteList(pk) + ") IN (VALUES " + strings.Join(tuples, ", ") + ")"
	}
	return "(" + b.kind.QuoteList(pk) + ") IN (" + strings.Join(tuples, ", ") + ")"
}

// Placeholder is the n-th (from 1) bind parameter in the system's SQL.
func (k Kind) Placeholder(n int) string {
	if k == KindPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Quote quotes an identifier in the system's SQL: backticks on MySQL,
// double quotes elsewhere. Names are checked against nameRE when the map
// loads, and against the live schema before use; a quote character
// inside a name is doubled all the same.
func (k Kind) Quote(name string) string {
	if k == KindMySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteList quotes identifiers and joins them with commas.
func (k Kind) QuoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = k.Quote(n)
	}
	return strings.Join(q, ", ")
}
