package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// OpenSQL connects to a PostgreSQL URL (postgres://...), a MySQL or
// MariaDB URL (mysql://...) or a SQLite file (sqlite:PATH, file:PATH, or
// a path ending in .db or .sqlite).
func OpenSQL(dsn string) (*sql.DB, Kind, error) {
	switch {
	case dsn == "":
		return nil, "", errNoDSN
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		return db, KindPostgres, err
	case strings.HasPrefix(dsn, "mysql://"), strings.HasPrefix(dsn, "mariadb://"):
		db, err := openMySQL(dsn)
		return db, KindMySQL, err
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	path, query, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(dsn, "sqlite:") && !strings.HasPrefix(dsn, "file:") &&
		!strings.HasSuffix(path, ".db") && !strings.HasSuffix(path, ".sqlite") {
		return nil, "", fmt.Errorf("connection string must be postgres://..., mysql://..., sqlite:PATH or a .db file")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, "", fmt.Errorf("connection string: %w", err)
	}
	if !q.Has("_pragma") {
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	return db, KindSQLite, err
}

// Schema is what a live database holds: tables with their columns,
// primary keys and foreign keys.
type Schema struct {
	Tables map[string]*SchemaTable
}

// SchemaTable is one live table.
type SchemaTable struct {
	Name        string
	Columns     []SchemaColumn
	PrimaryKey  []string
	ForeignKeys []ForeignKey
}

// SchemaColumn is one live column.
type SchemaColumn struct {
	Name     string
	Type     string
	Nullable bool
}

// ForeignKey is a single-column foreign key.
type ForeignKey struct {
	Column string
	Ref    ColumnRef
}

// Column returns the named column.
func (t *SchemaTable) Column(name string) (SchemaColumn, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return SchemaColumn{}, false
}

// ReadSchema reads the tables of the database's current schema.
func ReadSchema(ctx context.Context, db *sql.DB, kind Kind) (*Schema, error) {
	switch kind {
	case KindSQLite:
		return readSQLiteSchema(ctx, db)
	case KindMySQL:
		return readMySQLSchema(ctx, db)
	}
	return readPostgresSchema(ctx, db)
}

func readPostgresSchema(ctx context.Context, db *sql.DB) (*Schema, error) {
	s, err := readColumns(ctx, db, `
		SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'YES'
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	keys, err := db.QueryContext(ctx, `
		SELECT tc.table_name, tc.constraint_type, kcu.column_name,
		       COALESCE(ccu.table_name, ''), COALESCE(ccu.column_name, ''),
		       (SELECT count(*) FROM information_schema.key_column_usage k2
		        WHERE k2.constraint_schema = tc.constraint_schema AND k2.constraint_name = tc.constraint_name)
		FROM information_schema.table_constraints tc
		JOIN information_schema.key_column_usage kcu
		  ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
		 AND kcu.table_name = tc.table_name
		LEFT JOIN information_schema.constraint_column_usage ccu
		  ON tc.constraint_type = 'FOREIGN KEY'
		 AND ccu.constraint_schema = tc.constraint_schema AND ccu.constraint_name = tc.constraint_name
		WHERE tc.table_schema = current_schema() AND tc.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')
		ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer keys.Close()
	for keys.Next() {
		var table, kind, col, refTable, refCol string
		var width int
		if err := keys.Scan(&table, &kind, &col, &refTable, &refCol, &width); err != nil {
			return nil, err
		}
		t := s.table(table)
		if kind == "PRIMARY KEY" {
			t.PrimaryKey = append(t.PrimaryKey, col)
		} else if width == 1 { // composite foreign keys are not followed
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Column: col, Ref: ColumnRef{Table: refTable, Column: refCol}})
		}
	}
	return s, keys.Err()
}

func readSQLiteSchema(ctx context.Context, db *sql.DB) (*Schema, error) {
	s := &Schema{Tables: map[string]*SchemaTable{}}
	names, err := queryStrings(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	for _, name := range names {
		t := s.table(name)
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			return nil, fmt.Errorf("read table %s: %w", name, err)
		}
		type pkCol struct {
			name string
			pos  int
		}
		var pk []pkCol
		for rows.Next() {
			var c SchemaColumn
			var notNull, pkPos int
			if err := rows.Scan(&c.Name, &c.Type, &notNull, &pkPos); err != nil {
				rows.Close()
				return nil, err
			}
			c.Nullable = notNull == 0 && pkPos == 0
			t.Columns = append(t.Columns, c)
			if pkPos > 0 {
				pk = append(pk, pkCol{c.Name, pkPos})
			}
		}
		rows.Close()
		sort.Slice(pk, func(i, j int) bool { return pk[i].pos < pk[j].pos })
		for _, c := range pk {
			t.PrimaryKey = append(t.PrimaryKey, c.name)
		}
		fks, err := db.QueryContext(ctx, `SELECT id, "table", "from", COALESCE("to", '') FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name)
		if err != nil {
			return nil, fmt.Errorf("read foreign keys of %s: %w", name, err)
		}
		count := map[int]int{}
		var list []struct {
			id int
			fk ForeignKey
		}
		for fks.Next() {
			var id int
			var fk ForeignKey
			if err := fks.Scan(&id, &fk.Ref.Table, &fk.Column, &fk.Ref.Column); err != nil {
				fks.Close()
				return nil, err
			}
			count[id]++
			list = append(list, struct {
				id int
				fk ForeignKey
			}{id, fk})
		}
		fks.Close()
		for _, e := range list {
			if count[e.id] != 1 {
				continue
			}
			if e.fk.Ref.Column == "" { // REFERENCES parent with no column: its primary key
				e.fk.Ref.Column = "id"
			}
			t.ForeignKeys = append(t.ForeignKeys, e.fk)
		}
	}
	return s, nil
}

// readColumns reads every table's columns from a query answering table,
// column, type and nullable, in order.
func readColumns(ctx context.Context, db *sql.DB, query string) (*Schema, error) {
	s := &Schema{Tables: map[string]*SchemaTable{}}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var c SchemaColumn
		if err := rows.Scan(&table, &c.Name, &c.Type, &c.Nullable); err != nil {
			return nil, err
		}
		t := s.table(table)
		t.Columns = append(t.Columns, c)
	}
	return s, rows.Err()
}

func (s *Schema) table(name string) *SchemaTable {
	t, ok := s.Tables[name]
	if !ok {
		t = &SchemaTable{Name: name}
		s.Tables[name] = t
	}
	return t
}

func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Check compares an SQL system's tables with the live schema and reports
// every table or column the map names that the database does not have.
func (m *Map) Check(s *System, live *Schema) error {
	p := &problems{list: checkSchema(s, live)}
	return p.err(m.Source)
}

// checkSchema lists what an SQL system's tables name that the live
// schema lacks.
func checkSchema(s *System, live *Schema) []Problem {
	p := &problems{}
	for _, t := range s.Tables {
		lt, ok := live.Tables[t.Name]
		where := s.Name + "." + t.Name
		if !ok {
			p.add(t.Line, "table %s does not exist in the database", where)
			continue
		}
		col := func(part, name, what string) {
			if _, ok := lt.Column(name); !ok {
				p.add(t.line(part), "%s: %s column %s does not exist in the database", where, what, name)
			}
		}
		for _, c := range t.PrimaryKey {
			col("primary_key", c, "primary key")
		}
		if len(lt.PrimaryKey) > 0 && strings.Join(lt.PrimaryKey, ",") != strings.Join(t.PrimaryKey, ",") {
			p.add(t.line("primary_key"), "%s: primary key is (%s) in the database, not (%s)", where, strings.Join(lt.PrimaryKey, ", "), strings.Join(t.PrimaryKey, ", "))
		}
		for kind, c := range t.Identities {
			col("identities."+kind, c, "identity")
		}
		for c := range t.Columns {
			col("columns."+c, c, "personal-data")
		}
		for c, ref := range t.References {
			col("references."+c, c, "reference")
			if rt, ok := live.Tables[ref.Table]; ok {
				if _, ok := rt.Column(ref.Column); !ok {
					p.add(t.line("references."+c), "%s.%s refers to %s, which does not exist in the database", where, c, ref)
				}
			}
		}
		if r := t.Retain; r != nil {
			col("retain", r.From, "retention start")
			if r.Flag != "" {
				col("retain", r.Flag, "restriction flag")
			}
			for _, c := range r.Detach {
				if lc, ok := lt.Column(c); ok && !lc.Nullable {
					p.add(t.line("retain"), "%s: retain.detach %s is NOT NULL in the database; retained rows cannot let go of it", where, c)
				}
			}
		}
		if o := t.OptOut; o != nil {
			for _, c := range sortedKeys(o.Set) {
				col("opt_out", c, "opt-out")
			}
		}
		for c, with := range t.MaskWith {
			col("mask."+c, c, "masked")
			if lc, ok := lt.Column(c); ok && with == nil && !lc.Nullable {
				p.add(t.line("mask."+c), "%s: column %s is masked with null but is NOT NULL in the database; give it a replacement value", where, c)
			}
		}
	}
	return p.list
}

// DSN returns a system's connection string from its environment variable.
func (s *System) DSN() (string, error) {
	v := strings.TrimSpace(os.Getenv(s.DSNEnv))
	if v == "" {
		return "", fmt.Errorf("system %s: %s is not set (%w)", s.Name, s.DSNEnv, errNoDSN)
	}
	return v, nil
}

// Secret returns a webhook's signing secret from its environment variable.
func (s *System) Secret() (string, error) {
	v := strings.TrimSpace(os.Getenv(s.SecretEnv))
	if v == "" {
		return "", fmt.Errorf("system %s: %s is not set", s.Name, s.SecretEnv)
	}
	return v, nil
}
