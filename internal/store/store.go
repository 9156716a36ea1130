// Package store keeps dsar's own data: requests, tokens, the audit trail,
// email records and officers. PostgreSQL in production, an embedded SQLite
// file when no database URL is configured. Both run the same migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	// The modernc driver is pure Go and registers itself as "sqlite"; the
	// embedded Temporal server uses the same one.
	moderncsqlite "modernc.org/sqlite"

	"github.com/dsar-project/dsar/internal/auth"
)

// Errors callers check with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrInvalidTransition = errors.New("invalid status transition")
	ErrTokenUsed         = errors.New("link already used")
	ErrTokenExpired      = errors.New("link expired")
	ErrConflict          = errors.New("already exists")
)

// Dialect names the database behind a Store.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is dsar's database. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	audit   auditKeys  // the audit chain's keys (audit.go)
	lookup  lookupKeys // the email lookup hash keys (list.go)
	codes   codeKeys   // the verification codes' keys (codes.go)
}

// lookupKeys are the keys of email lookup hashes, current first; nil until
// SetLookupKeys.
type lookupKeys struct {
	mu   sync.RWMutex
	keys []auth.LookupKey
}

// DefaultMaxConns is how many PostgreSQL connections a store opens at
// most until SetMaxConns says otherwise (DSAR_DATABASE_MAX_CONNS).
const DefaultMaxConns = 20

// SetMaxConns caps the PostgreSQL connections the store opens (and keeps
// idle): beyond it, callers wait for a connection in line instead of
// failing on the server's own limit (max_connections, 100 by default),
// which several web and worker processes under load would otherwise
// reach together. SQLite has one writer anyway and is left as it is.
func (s *Store) SetMaxConns(n int) {
	if s.dialect != Postgres || n < 1 {
		return
	}
	if db, err := s.db.DB(); err == nil {
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
}

// Open connects to PostgreSQL when databaseURL is set, otherwise to the
// SQLite file at sqlitePath (created with its directory if missing).
func Open(ctx context.Context, databaseURL, sqlitePath string) (*Store, error) {
	gcfg := &gorm.Config{
		Logger:         logger.Discard, // queries carry personal data; never log them
		NowFunc:        func() time.Time { return time.Now().UTC() },
		TranslateError: true,
	}
	if databaseURL != "" {
		db, err := gorm.Open(postgres.Open(databaseURL), gcfg)
		if err != nil {
			return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
		}
		s := &Store{db: db, dialect: Postgres}
		s.SetMaxConns(DefaultMaxConns)
		if err := s.registerAuditChain(); err != nil {
			return nil, err
		}
		if err := s.Ping(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}

	if err := os.MkdirAll(filepath.Dir(sqlitePath), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	// WAL lets readers run beside the one writer; immediate transactions
	// take the write lock up front so two writers queue on busy_timeout
	// instead of failing on a lock upgrade.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	sqlDB, err := sql.Open("sqlite", "file:"+sqlitePath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", sqlitePath, err)
	}
	db, err := gorm.Open(sqlite.New(sqlite.Config{Conn: sqlDB}), gcfg)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", sqlitePath, err)
	}
	s := &Store{db: db, dialect: SQLite}
	if err := s.registerAuditChain(); err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Dialect reports which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: database unreachable: %w", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) || isUniqueViolation(err) {
		return fmt.Errorf("store: %s: %w", what, ErrConflict)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// SQLite's extended result codes for a violated UNIQUE or PRIMARY KEY
// constraint. GORM's SQLite dialect translates only the cgo driver's
// errors, so modernc's are recognised here.
const (
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

func isUniqueViolation(err error) bool {
	var se *moderncsqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintUnique || se.Code() == sqliteConstraintPrimaryKey
	}
	return false
}
