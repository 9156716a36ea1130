package devtemporal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	p "go.temporal.io/server/common/persistence"
	tsql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/common/resolver"
	tschema "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
)

// postgresConfig is Temporal's SQL configuration for the PostgreSQL
// database at rawURL (postgres://user:password@host:port/name?sslmode=...),
// with the postgres12 plugin.
func postgresConfig(rawURL string) (*config.SQL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("devtemporal: %q is not a postgres:// URL with a host", redact(rawURL))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, fmt.Errorf("devtemporal: %s names no database", redact(rawURL))
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[0]
	}
	if attrs["sslmode"] == "" {
		attrs["sslmode"] = "disable"
	}
	pw, _ := u.User.Password()
	return &config.SQL{
		PluginName:        pgplugin.PluginName,
		DatabaseName:      name,
		ConnectAddr:       host,
		ConnectProtocol:   "tcp",
		User:              u.User.Username(),
		Password:          pw,
		ConnectAttributes: attrs,
		// Each of the four services keeps a pool per store: small pools
		// keep the server within a shared PostgreSQL's connection limit.
		MaxConns:     5,
		MaxIdleConns: 5,
	}, nil
}

// setupPostgres creates Temporal's tables in an empty database and
// records the schema version the server checks at start; a database
// that has them already is left as it is.
func setupPostgres(conf *config.SQL, kind sqlplugin.DbKind) error {
	db, err := tsql.NewSQLAdminDB(kind, conf, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("devtemporal: connect to %s: %w", conf.DatabaseName, err)
	}
	defer db.Close()
	if err := db.CreateSchemaVersionTables(); err != nil {
		return fmt.Errorf("devtemporal: schema version tables in %s: %w", conf.DatabaseName, err)
	}
	if v, err := db.ReadSchemaVersion(conf.DatabaseName); err == nil && v != "" {
		return nil // set up by an earlier start
	}
	file, version := "postgresql/v12/temporal/schema.sql", pgschema.Version
	if kind == sqlplugin.DbKindVisibility {
		file, version = "postgresql/v12/visibility/schema.sql", pgschema.VisibilityVersion
	}
	text, err := fs.ReadFile(tschema.Assets(), file)
	if err != nil {
		return fmt.Errorf("devtemporal: %w", err)
	}
	stmts, err := p.LoadAndSplitQueryFromReaders([]io.Reader{bytes.NewReader(text)})
	if err != nil {
		return fmt.Errorf("devtemporal: %s: %w", file, err)
	}
	for _, s := range stmts {
		if err := db.Exec(s); err != nil {
			return fmt.Errorf("devtemporal: %s in %s: %w", file, conf.DatabaseName, err)
		}
	}
	if err := db.UpdateSchemaVersion(conf.DatabaseName, version, version); err != nil {
		return fmt.Errorf("devtemporal: record schema version in %s: %w", conf.DatabaseName, err)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

var errPostgresPair = errors.New("devtemporal: PostgresURL and PostgresVisibilityURL go together")
