package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Two-factor sign-in: the store keeps the sealed TOTP secret (the web
// seals and opens it), the last time step used, recovery code hashes, the
// setting that requires two-factor of everyone, and the account events.

// RecoveryCode is a single-use code an officer types instead of a TOTP
// code; only its hash is stored.
type RecoveryCode struct {
	ID        int64
	OfficerID int64
	Hash      string
	CreatedAt time.Time
	UsedAt    *time.Time
}

// TableName names the table for what it holds.
func (RecoveryCode) TableName() string { return "officer_recovery_codes" }

// OfficerEvent is one line of the account trail: what was done to an
// officer's sign-in, by whom.
type OfficerEvent struct {
	ID        int64
	OfficerID *int64
	Actor     string
	Action    string
	Detail    string
	At        time.Time
}

// Account actions recorded in officer_events.
const (
	EventTOTPEnabled       = "totp_enabled"
	EventTOTPDisabled      = "totp_disabled"
	EventTOTPReset         = "totp_reset"
	EventRecoveryCodeUsed  = "recovery_code_used"
	EventRecoveryCodesMade = "recovery_codes_regenerated"
	EventSettingChanged    = "setting_changed"
	EventPasswordReset     = "password_reset"
)

// Setting names.
const SettingRequireTOTP = "require_totp"

type setting struct {
	Name      string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
	UpdatedBy string
}

func (setting) TableName() string { return "settings" }

func officerEvent(officerID int64, actor, action, detail string, at time.Time) *OfficerEvent {
	e := &OfficerEvent{Actor: actor, Action: action, Detail: detail, At: at.UTC()}
	if officerID != 0 {
		e.OfficerID = &officerID
	}
	return e
}

// OfficerByID finds an officer.
func (s *Store) OfficerByID(ctx context.Context, id int64) (*Officer, error) {
	var o Officer
	if err := s.db.WithContext(ctx).Take(&o, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "officer")
	}
	return &o, nil
}

// EnableTOTP turns two-factor on for an officer who has none: it stores
// the sealed secret, the step of the code that confirmed it (so that code
// cannot be used again), replaces the recovery codes with codeHashes and
// records the event, in one transaction. An officer who already has TOTP
// is ErrConflict.
func (s *Store) EnableTOTP(ctx context.Context, officerID int64, sealed []byte, keyID string, step int64, codeHashes []string, now time.Time) error {
	now = now.UTC()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Officer{}).Where("id = ? AND totp_enabled_at IS NULL", officerID).Updates(map[string]any{
			"totp_secret": sealed, "totp_key_id": keyID, "totp_enabled_at": now, "totp_last_step": step,
		})
		if res.Error != nil {
			return fmt.Errorf("store: enable TOTP: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			if _, err := s.officerIn(tx, officerID); err != nil {
				return err
			}
			return fmt.Errorf("store: enable TOTP: %w", ErrConflict)
		}
		if err := replaceRecoveryCodes(tx, officerID, codeHashes, now); err != nil {
			return err
		}
		return tx.Create(officerEvent(officerID, actorOf(tx, officerID), EventTOTPEnabled, "", now)).Error
	})
}

// DisableTOTP turns two-factor off and drops the recovery codes. actor is
// who did it: the officer (action totp_disabled) or an admin resetting it
// (totp_reset). An officer without TOTP is ErrNotFound.
func (s *Store) DisableTOTP(ctx context.Context, officerID int64, actor, action string, now time.Time) error {
	now = now.UTC()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Officer{}).Where("id = ? AND totp_enabled_at IS NOT NULL", officerID).Updates(map[string]any{
			"totp_secret": nil, "totp_key_id": "", "totp_enabled_at": nil, "totp_last_step": 0,
		})
		if res.Error != nil {
			return fmt.Errorf("store: disable TOTP: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: officer %d has no TOTP: %w", officerID, ErrNotFound)
		}
		if err := tx.Where("officer_id = ?", officerID).Delete(&RecoveryCode{}).Error; err != nil {
			return fmt.Errorf("store: drop recovery codes: %w", err)
		}
		return tx.Create(officerEvent(officerID, actor, action, "", now)).Error
	})
}

// UseTOTPStep records that a code of time step step was accepted, if no
// code of that step or a later one was: it answers false for a replayed
// code. The check and the write are one UPDATE, so two sign-ins racing
// with the same code cannot both win.
func (s *Store) UseTOTPStep(ctx context.Context, officerID, step int64) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Officer{}).
		Where("id = ? AND totp_enabled_at IS NOT NULL AND totp_last_step < ?", officerID, step).
		Update("totp_last_step", step)
	if res.Error != nil {
		return false, fmt.Errorf("store: use TOTP step: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReplaceRecoveryCodes drops an officer's recovery codes and stores new
// hashes, recording the event.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, officerID int64, codeHashes []string, now time.Time) error {
	now = now.UTC()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		o, err := s.officerIn(tx, officerID)
		if err != nil {
			return err
		}
		if !o.HasTOTP() {
			return fmt.Errorf("store: officer %d has no TOTP: %w", officerID, ErrNotFound)
		}
		if err := replaceRecoveryCodes(tx, officerID, codeHashes, now); err != nil {
			return err
		}
		return tx.Create(officerEvent(officerID, o.Email, EventRecoveryCodesMade, "", now)).Error
	})
}

func replaceRecoveryCodes(tx *gorm.DB, officerID int64, codeHashes []string, now time.Time) error {
	if err := tx.Where("officer_id = ?", officerID).Delete(&RecoveryCode{}).Error; err != nil {
		return fmt.Errorf("store: drop recovery codes: %w", err)
	}
	codes := make([]RecoveryCode, len(codeHashes))
	for i, h := range codeHashes {
		codes[i] = RecoveryCode{OfficerID: officerID, Hash: h, CreatedAt: now}
	}
	if len(codes) > 0 {
		if err := tx.Create(&codes).Error; err != nil {
			return notFound(err, "store recovery codes")
		}
	}
	return nil
}

// UseRecoveryCode spends one of the officer's unused recovery codes by its
// hash and records the event; a code unknown, another officer's or used
// before is ErrNotFound.
func (s *Store) UseRecoveryCode(ctx context.Context, officerID int64, hash string, now time.Time) (left int64, err error) {
	now = now.UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&RecoveryCode{}).Where("officer_id = ? AND hash = ? AND used_at IS NULL", officerID, hash).Update("used_at", now)
		if res.Error != nil {
			return fmt.Errorf("store: use recovery code: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: recovery code: %w", ErrNotFound)
		}
		if err := tx.Model(&RecoveryCode{}).Where("officer_id = ? AND used_at IS NULL", officerID).Count(&left).Error; err != nil {
			return fmt.Errorf("store: count recovery codes: %w", err)
		}
		return tx.Create(officerEvent(officerID, actorOf(tx, officerID), EventRecoveryCodeUsed, fmt.Sprintf("%d left", left), now)).Error
	})
	return left, err
}

// RecoveryCodesLeft counts an officer's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, officerID int64) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("officer_id = ? AND used_at IS NULL", officerID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: count recovery codes: %w", err)
	}
	return n, nil
}

// RequireTOTP reports whether every officer must sign in with two-factor.
func (s *Store) RequireTOTP(ctx context.Context) (bool, error) {
	var st setting
	err := s.db.WithContext(ctx).Take(&st, "name = ?", SettingRequireTOTP).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: setting: %w", err)
	}
	return st.Value == "true", nil
}

// SetRequireTOTP changes whether two-factor is required, recording who
// changed it.
func (s *Store) SetRequireTOTP(ctx context.Context, on bool, actor string, now time.Time) error {
	now = now.UTC()
	value := "false"
	if on {
		value = "true"
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var st setting
		err := tx.Take(&st, "name = ?", SettingRequireTOTP).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			err = tx.Create(&setting{Name: SettingRequireTOTP, Value: value, UpdatedAt: now, UpdatedBy: actor}).Error
		case err == nil:
			if st.Value == value {
				return nil // nothing changes, nothing to record
			}
			err = tx.Model(&setting{}).Where("name = ?", SettingRequireTOTP).
				Updates(map[string]any{"value": value, "updated_at": now, "updated_by": actor}).Error
		}
		if err != nil {
			return fmt.Errorf("store: set %s: %w", SettingRequireTOTP, err)
		}
		return tx.Create(officerEvent(0, actor, EventSettingChanged, SettingRequireTOTP+"="+value, now)).Error
	})
}

// OfficerEvents lists the account events about an officer, newest first,
// at most limit.
func (s *Store) OfficerEvents(ctx context.Context, officerID int64, limit int) ([]OfficerEvent, error) {
	var es []OfficerEvent
	if err := s.db.WithContext(ctx).Where("officer_id = ?", officerID).Order("id DESC").Limit(limit).Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: officer events: %w", err)
	}
	return es, nil
}

// RecordOfficerEvent appends an account event.
func (s *Store) RecordOfficerEvent(ctx context.Context, officerID int64, actor, action, detail string, now time.Time) error {
	if err := s.db.WithContext(ctx).Create(officerEvent(officerID, actor, action, detail, now)).Error; err != nil {
		return fmt.Errorf("store: officer event: %w", err)
	}
	return nil
}

func (s *Store) officerIn(tx *gorm.DB, id int64) (*Officer, error) {
	var o Officer
	if err := tx.Take(&o, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "officer")
	}
	return &o, nil
}

// actorOf names an officer acting on their own account by email, as the
// request audit trail does.
func actorOf(tx *gorm.DB, id int64) string {
	var o Officer
	if err := tx.Select("email").Take(&o, "id = ?", id).Error; err != nil {
		return fmt.Sprintf("officer %d", id)
	}
	return o.Email
}
