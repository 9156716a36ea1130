package datamap

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL and MariaDB differ from the other SQL systems in four ways the
// connector minds: "?" placeholders, identifiers quoted with backticks,
// no arrays to bind (IN lists instead of = ANY), and collations that
// compare text without regard to case, accents or trailing spaces, so a
// query by value can answer rows whose value is not the one asked for
// (see matchValue in discovery).

// openMySQL connects to mysql://user:password@host:port/database?params.
// The URL form, rather than the driver's own DSN syntax, keeps every
// system's connection string alike; parameters pass to the driver as
// they are (tls=true, for one), and a socket is given as ?socket=PATH.
func openMySQL(dsn string) (*sql.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("connection string: %w", redactURLError(err))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("connection string must name the database: mysql://user:password@host:3306/DATABASE")
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = db
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" && u.Hostname() != "" {
		cfg.Addr = u.Hostname() + ":3306"
	}
	q := u.Query()
	if sock := q.Get("socket"); sock != "" {
		cfg.Net, cfg.Addr = "unix", sock
		q.Del("socket")
	} else if u.Host == "" {
		cfg.Addr = "127.0.0.1:3306"
	}
	// Times come back as time.Time in UTC, as on the other systems; text
	// is UTF-8 whatever the server's default.
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = 10 * time.Second
	// Arguments are escaped into the statement by the driver (safe with
	// utf8mb4) rather than sent with a prepared statement: one round trip
	// per query instead of three (prepare, execute, close), which is most
	// of a discovery's time.
	cfg.InterpolateParams = true
	// An UPDATE reports the rows it matched, as on the other databases,
	// not only those whose value changed: a correction to the value a row
	// already holds still reached it.
	cfg.ClientFoundRows = true
	cfg.Params = map[string]string{"charset": "utf8mb4"}
	native := cfg.FormatDSN()
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(native, "?") {
			sep = "&"
		}
		native += sep + q.Encode()
	}
	cfg, err = mysql.ParseDSN(native)
	if err != nil {
		return nil, fmt.Errorf("connection string parameters: %w", err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connection string: %w", err)
	}
	return sql.OpenDB(conn), nil
}

// redactURLError keeps a password out of a URL parse error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func readMySQLSchema(ctx context.Context, db *sql.DB) (*Schema, error) {
	s, err := readColumns(ctx, db, `
		SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE = 'YES'
		FROM information_schema.COLUMNS c
		JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
		ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	// MySQL names every primary key PRIMARY and gives a foreign key's
	// target on the key column itself.
	keys, err := db.QueryContext(ctx, `
		SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,
		       COALESCE(k.REFERENCED_TABLE_NAME, ''), COALESCE(k.REFERENCED_COLUMN_NAME, ''),
		       (SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE k2
		        WHERE k2.TABLE_SCHEMA = k.TABLE_SCHEMA AND k2.TABLE_NAME = k.TABLE_NAME
		          AND k2.CONSTRAINT_NAME = k.CONSTRAINT_NAME)
		FROM information_schema.KEY_COLUMN_USAGE k
		WHERE k.TABLE_SCHEMA = DATABASE()
		  AND (k.CONSTRAINT_NAME = 'PRIMARY' OR k.REFERENCED_TABLE_NAME IS NOT NULL)
		ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer keys.Close()
	for keys.Next() {
		var table, constraint, col, refTable, refCol string
		var width int
		if err := keys.Scan(&table, &constraint, &col, &refTable, &refCol, &width); err != nil {
			return nil, err
		}
		t, ok := s.Tables[table]
		if !ok {
			continue // a view's or another kind of table's key
		}
		if constraint == "PRIMARY" && refTable == "" {
			t.PrimaryKey = append(t.PrimaryKey, col)
		} else if width == 1 { // composite foreign keys are not followed
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Column: col, Ref: ColumnRef{Table: refTable, Column: refCol}})
		}
	}
	return s, keys.Err()
}
