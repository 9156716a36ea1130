package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are numbered SQL files, append-only: a released file is never
// edited, a change is a new file. They are written in PostgreSQL's dialect;
// sqliteRewrites maps the few type names SQLite spells differently.
// TIMESTAMPTZ becomes TIMESTAMP because that is the declared type the
// SQLite driver turns back into time.Time.
var sqliteRewrites = strings.NewReplacer(
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT",
	"TIMESTAMPTZ", "TIMESTAMP",
	"BYTEA", "BLOB",
	"JSONB", "TEXT",
)

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a number", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrationLockID is the PostgreSQL advisory lock that serialises
// migrators, so any number of `dsar migrate` may run at once.
const migrationLockID = 7253007

// Migrate applies every migration not yet applied, each in its own
// transaction, and reports how many it applied. Concurrent callers are
// safe: on PostgreSQL an advisory lock serialises them, and on SQLite the
// immediate transaction does.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			// Concurrent CREATE TABLE IF NOT EXISTS can still collide in
			// PostgreSQL's catalog, so take the migration lock first.
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, migrationLockID).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at ` + s.typeName("TIMESTAMPTZ") + ` NOT NULL)`).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		done, err := s.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
		}
	}
	return applied, nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) (bool, error) {
	done := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			// Held until the transaction ends; other migrators wait here.
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, migrationLockID).Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Table("schema_migrations").Where("version = ?", m.version).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		body := m.sql
		if s.dialect == SQLite {
			body = sqliteRewrites.Replace(body)
		}
		for _, stmt := range splitStatements(body) {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("%w\n  in: %s", err, firstLine(stmt))
			}
		}
		done = true
		return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC()).Error
	})
	if err != nil {
		return false, fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	return done, nil
}

func (s *Store) typeName(pg string) string {
	if s.dialect == SQLite {
		return sqliteRewrites.Replace(pg)
	}
	return pg
}

// splitStatements splits a migration on semicolons that end a line. The
// migrations hold no procedural code, so no statement has one inside.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(body) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			if stmt := strings.TrimSpace(cur.String()); stmt != ";" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
