package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Identities are the verified identifiers of a person, by type
// (email, phone, customer_id, ...).
type Identities map[string][]string

// SQLConnector acts on one SQL system: PostgreSQL, MySQL (or MariaDB)
// or SQLite.
type SQLConnector struct {
	sys  *System
	DB   *sql.DB
	Kind Kind
}

// NewSQLConnector acts on system s through db, a database of the kind.
func NewSQLConnector(s *System, db *sql.DB, kind Kind) *SQLConnector {
	return &SQLConnector{sys: s, DB: db, Kind: kind}
}

// ConnectSQL opens an SQL system's database from its environment
// variable.
func ConnectSQL(s *System) (*SQLConnector, error) {
	dsn, err := s.DSN()
	if err != nil {
		return nil, err
	}
	db, kind, err := OpenSQL(dsn)
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", s.Name, err)
	}
	if kind != s.Kind {
		db.Close()
		return nil, fmt.Errorf("system %s is kind %s but %s holds a %s connection string", s.Name, s.Kind, s.DSNEnv, kind)
	}
	// Discovery asks a hop's tables at once; keep enough connections
	// open for that, or each hop would pay for new ones.
	db.SetMaxIdleConns(16)
	return &SQLConnector{sys: s, DB: db, Kind: kind}, nil
}

// System is the system the connector acts on.
func (c *SQLConnector) System() *System { return c.sys }

// Close releases the connections.
func (c *SQLConnector) Close() error { return c.DB.Close() }

// CheckLive compares the map with the database's live schema.
func (c *SQLConnector) CheckLive(ctx context.Context) ([]Problem, error) {
	live, err := ReadSchema(ctx, c.DB, c.Kind)
	if err != nil {
		return nil, fmt.Errorf("system %s: reading its schema: %w", c.sys.Name, err)
	}
	return checkSchema(c.sys, live), nil
}

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// begin opens a transaction on the system.
func (c *SQLConnector) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", c.sys.Name, err)
	}
	return tx, nil
}

// discoverInTx opens a transaction and discovers the person in it, so
// what is then changed is exactly what was found.
func (c *SQLConnector) discoverInTx(ctx context.Context, ids Identities) (*sql.Tx, *Found, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	found, err := c.discover(ctx, tx, ids)
	if err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	return tx, found, nil
}

// commit commits what (an erasure, a correction...) on the system.
func (c *SQLConnector) commit(tx *sql.Tx, what string) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("system %s: commit %s: %w", c.sys.Name, what, err)
	}
	return nil
}

// ReadRows streams the full rows with the given keys, batch by batch, so
// an export never holds a whole table in memory.
func (c *SQLConnector) ReadRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error {
	for start := 0; start < len(keys); start += batchSize {
		end := min(start+batchSize, len(keys))
		b := c.builder()
		query := "SELECT * FROM " + c.Kind.Quote(t.Name) + " WHERE " + b.keyIn(t.PrimaryKey, keys[start:end]) + " ORDER BY " + c.Kind.QuoteList(t.PrimaryKey)
		rows, err := c.DB.QueryContext(ctx, query, b.args...)
		if err != nil {
			return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		err = EachRow(rows, func(vals []any) error {
			for i, v := range vals {
				vals[i] = normalise(v)
			}
			return each(cols, vals)
		})
		rows.Close()
		if err != nil {
			return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
		}
	}
	return nil
}

func scanRows(ctx context.Context, q querier, query string, args []any, each func([]any)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return EachRow(rows, func(vals []any) error {
		out := make([]any, len(vals))
		for i, v := range vals {
			out[i] = normalise(v)
		}
		each(out)
		return nil
	})
}

// normalise turns driver values into ones that compare, print and bind
// the same on both databases.
func normalise(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return v
}

func canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00"
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func canonKey(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		parts[i] = canon(v)
	}
	return strings.Join(parts, "\x1f")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
