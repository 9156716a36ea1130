package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Role is what an officer may do.
type Role string

const (
	RoleAdmin   Role = "admin"   // manages officers and acts on requests
	RoleOfficer Role = "officer" // acts on requests
	RoleViewer  Role = "viewer"  // reads only
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleOfficer || r == RoleViewer }

// CanAct reports whether the role may change a request.
func (r Role) CanAct() bool { return r == RoleAdmin || r == RoleOfficer }

// Officer is a member of the privacy team.
type Officer struct {
	ID           int64
	Email        string
	Role         Role
	PasswordHash string `json:"-"`
	CreatedAt    time.Time
	DisabledAt   *time.Time
	// Two-factor sign-in (totp.go): the sealed TOTP secret and the ID of
	// the key that sealed it, when it was turned on, and the time step
	// of the last code accepted.
	TOTPSecret    []byte     `json:"-" gorm:"column:totp_secret"`
	TOTPKeyID     string     `json:"-" gorm:"column:totp_key_id"`
	TOTPEnabledAt *time.Time `json:"-" gorm:"column:totp_enabled_at"`
	TOTPLastStep  int64      `json:"-" gorm:"column:totp_last_step"`
	// Single sign-on (sso.go): the identity provider and the subject it
	// gives the officer; empty for an officer who signs in with a password.
	OIDCIssuer  string `json:"-" gorm:"column:oidc_issuer"`
	OIDCSubject string `json:"-" gorm:"column:oidc_subject"`
}

// Active reports whether the officer may sign in and act.
func (o *Officer) Active() bool { return o.DisabledAt == nil }

// HasTOTP reports whether the officer signs in with a second factor.
func (o *Officer) HasTOTP() bool { return o.TOTPEnabledAt != nil }

// APIToken is an officer's bearer token for the JSON API, stored hashed.
type APIToken struct {
	ID         int64
	OfficerID  int64
	Hash       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// ExpiresAt is when the token stops working; nil for a token stored
	// before tokens expired, which lasts APITokenLifetime from creation.
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// APITokenLifetime is how long an API token works.
const APITokenLifetime = 90 * 24 * time.Hour

// CreateOfficer adds an officer; an email already taken returns ErrConflict.
func (s *Store) CreateOfficer(ctx context.Context, o *Officer) error {
	o.CreatedAt = o.CreatedAt.UTC()
	if err := s.db.WithContext(ctx).Create(o).Error; err != nil {
		return notFound(err, "create officer") // no email: errors reach logs
	}
	return nil
}

// OfficerByEmail finds an officer.
func (s *Store) OfficerByEmail(ctx context.Context, email string) (*Officer, error) {
	var o Officer
	if err := s.db.WithContext(ctx).Take(&o, "email = ?", email).Error; err != nil {
		return nil, notFound(err, "officer")
	}
	return &o, nil
}

// CountOfficers reports how many officers exist.
func (s *Store) CountOfficers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Officer{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: count officers: %w", err)
	}
	return n, nil
}

// AddAPIToken stores an officer's token hash, expiring APITokenLifetime
// after its creation unless it says otherwise.
func (s *Store) AddAPIToken(ctx context.Context, t *APIToken) error {
	t.CreatedAt = t.CreatedAt.UTC()
	if t.ExpiresAt == nil {
		exp := t.CreatedAt.Add(APITokenLifetime)
		t.ExpiresAt = &exp
	}
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return notFound(err, "add API token")
	}
	return nil
}

// OfficerByTokenHash finds the officer a bearer token belongs to, if the
// token is neither expired nor revoked, and records its use (at most once
// a minute, so a busy client does not write on every call).
func (s *Store) OfficerByTokenHash(ctx context.Context, hash string, now time.Time) (*Officer, error) {
	now = now.UTC()
	// One query finds the token and its officer.
	var row struct {
		Officer
		TokenID         int64
		TokenLastUsedAt *time.Time
	}
	res := s.db.WithContext(ctx).Table("officers").
		Select("officers.*, api_tokens.id AS token_id, api_tokens.last_used_at AS token_last_used_at").
		Joins("JOIN api_tokens ON api_tokens.officer_id = officers.id").
		Where("api_tokens.hash = ? AND officers.disabled_at IS NULL AND api_tokens.revoked_at IS NULL", hash).
		Where("api_tokens.expires_at > ? OR (api_tokens.expires_at IS NULL AND api_tokens.created_at > ?)", now, now.Add(-APITokenLifetime)).
		Limit(1).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("store: officer by token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("store: officer by token: %w", ErrNotFound)
	}
	if last := row.TokenLastUsedAt; last == nil || now.Sub(*last) > time.Minute {
		if err := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", row.TokenID).Update("last_used_at", now).Error; err != nil {
			return nil, fmt.Errorf("store: record token use: %w", err)
		}
	}
	return &row.Officer, nil
}

// APITokens lists an officer's tokens, newest first, revoked ones
// included.
func (s *Store) APITokens(ctx context.Context, officerID int64) ([]APIToken, error) {
	var ts []APIToken
	if err := s.db.WithContext(ctx).Where("officer_id = ?", officerID).Order("created_at DESC, id DESC").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: API tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken revokes one of an officer's tokens; another officer's
// token, or one already revoked, is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, officerID, id int64, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&APIToken{}).
		Where("id = ? AND officer_id = ? AND revoked_at IS NULL", id, officerID).
		Update("revoked_at", now.UTC())
	if res.Error != nil {
		return fmt.Errorf("store: revoke API token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RevokeAPITokens revokes an officer's tokens, but for keep (0: all).
func (s *Store) RevokeAPITokens(ctx context.Context, officerID, keep int64, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&APIToken{}).
		Where("officer_id = ? AND id <> ? AND revoked_at IS NULL", officerID, keep).
		Update("revoked_at", now.UTC()).Error
	if err != nil {
		return fmt.Errorf("store: revoke API tokens: %w", err)
	}
	return nil
}

// ListOfficers lists every officer, by email.
func (s *Store) ListOfficers(ctx context.Context) ([]Officer, error) {
	var os []Officer
	if err := s.db.WithContext(ctx).Order("email").Find(&os).Error; err != nil {
		return nil, fmt.Errorf("store: list officers: %w", err)
	}
	return os, nil
}

// SetOfficerDisabled disables an officer (ending their sessions) or enables
// them again.
func (s *Store) SetOfficerDisabled(ctx context.Context, id int64, disabled bool, now time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var at *time.Time
		if disabled {
			t := now.UTC()
			at = &t
		}
		res := tx.Model(&Officer{}).Where("id = ?", id).Update("disabled_at", at)
		if res.Error != nil {
			return fmt.Errorf("store: disable officer: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: officer %d: %w", id, ErrNotFound)
		}
		if disabled {
			return tx.Where("officer_id = ?", id).Delete(&Session{}).Error
		}
		return nil
	})
}
