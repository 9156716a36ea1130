package store

import "context"

// MigrateTo applies the migrations up to version and no further, so tests
// can write rows as an earlier release did.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at ` + s.typeName("TIMESTAMPTZ") + ` NOT NULL)`).Error
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if _, err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// CreateAuditMap creates an audit entry from a map, bypassing AuditEvent.
func (s *Store) CreateAuditMap(ctx context.Context, viaModel bool, m map[string]any) error {
	db := s.db.WithContext(ctx).Table("audit_events")
	if viaModel {
		db = s.db.WithContext(ctx).Model(&AuditEvent{})
	}
	return db.Create(m).Error
}

// MaxOpenConns is the connection cap of the store's pool.
func (s *Store) MaxOpenConns() int {
	db, err := s.db.DB()
	if err != nil {
		return -1
	}
	return db.Stats().MaxOpenConnections
}
