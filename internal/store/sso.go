package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Single sign-on: an officer account linked to an identity at the
// organisation's OpenID Connect provider. The web verifies the provider's
// ID token; the store decides which officer it is, keeps the officer's
// role equal to the one the provider's groups give, and records each
// step in the account trail (officer_events).

// SSOIdentity is who the provider says signed in, with the role dsar's
// group map gives them ("" when they are in no mapped group).
type SSOIdentity struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Role          Role
}

// Why a single sign-on is refused. The web shows each as its own page.
var (
	ErrSSONoGroup       = errors.New("store: the user is in no group mapped to a role")
	ErrSSOEmailNotFound = errors.New("store: no officer has the user's email")
	ErrSSOUnverified    = errors.New("store: the provider has not verified the user's email")
	ErrSSODisabled      = errors.New("store: the officer is disabled")
	ErrSSOLinkedOther   = errors.New("store: the officer is linked to another identity")
)

// Account events of single sign-on.
const (
	EventSSOLinked  = "sso_linked"  // an existing officer's first sign-in through the provider
	EventSSOCreated = "sso_created" // an officer made at their first sign-in
	EventSSOSignIn  = "sso_sign_in"
	EventSSORefused = "sso_refused"
	EventRoleChange = "role_changed"
)

// SSO reports whether the officer signs in through the identity provider
// (and so never with a password, nor with dsar's own two-factor).
func (o *Officer) SSO() bool { return o.OIDCSubject != "" }

// SignInSSO finds the officer an identity signs in as, in one transaction:
//   - the officer linked to the identity (issuer and subject);
//   - else, if the provider verified the email, the officer with that
//     email and no link yet, who is linked now;
//   - else, if create is set, a new officer with the email, linked.
//
// A user in no mapped group (Role "") is refused, as is a disabled
// officer; an officer found gets the role of their groups. Every outcome
// about an officer is written to their account trail.
func (s *Store) SignInSSO(ctx context.Context, id SSOIdentity, create bool, now time.Time) (*Officer, error) {
	now = now.UTC()
	id.Email = strings.ToLower(strings.TrimSpace(id.Email))
	if id.Issuer == "" || id.Subject == "" {
		return nil, errors.New("store: single sign-on without an issuer or subject")
	}
	actor := id.Email
	if actor == "" {
		actor = "sso:" + id.Subject
	}
	var out *Officer
	refusal := error(nil)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var o Officer
		found := true
		err := tx.Take(&o, "oidc_issuer = ? AND oidc_subject = ?", id.Issuer, id.Subject).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			found = false
		} else if err != nil {
			return fmt.Errorf("store: officer by identity: %w", err)
		}
		refuse := func(why error, detail string) error {
			refusal = why
			if o.ID == 0 {
				return nil
			}
			return tx.Create(officerEvent(o.ID, actor, EventSSORefused, detail, now)).Error
		}
		if !found && id.EmailVerified && id.Email != "" {
			err := tx.Take(&o, "email = ?", id.Email).Error
			if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("store: officer by email: %w", err)
			}
		}
		switch {
		case id.Role == "":
			return refuse(ErrSSONoGroup, "in no group mapped to a role")
		case !found && !id.EmailVerified:
			return refuse(ErrSSOUnverified, "email not verified by the provider")
		case o.ID != 0 && !o.Active():
			return refuse(ErrSSODisabled, "officer disabled")
		case !found && o.ID != 0 && o.OIDCSubject != "":
			return refuse(ErrSSOLinkedOther, "the account is linked to another identity")
		case !found && o.ID == 0 && (!create || id.Email == ""):
			refusal = ErrSSOEmailNotFound
			return nil
		}

		if o.ID == 0 {
			o = Officer{Email: id.Email, Role: id.Role, CreatedAt: now, OIDCIssuer: id.Issuer, OIDCSubject: id.Subject}
			if err := tx.Create(&o).Error; err != nil {
				return notFound(err, "create officer")
			}
			if err := tx.Create(officerEvent(o.ID, actor, EventSSOCreated, "role "+string(id.Role)+" from the provider's groups", now)).Error; err != nil {
				return err
			}
		} else if !found {
			if err := tx.Model(&Officer{}).Where("id = ? AND oidc_subject = ''", o.ID).
				Updates(map[string]any{"oidc_issuer": id.Issuer, "oidc_subject": id.Subject}).Error; err != nil {
				return fmt.Errorf("store: link officer: %w", err)
			}
			o.OIDCIssuer, o.OIDCSubject = id.Issuer, id.Subject
			if err := tx.Create(officerEvent(o.ID, actor, EventSSOLinked, "to "+id.Issuer, now)).Error; err != nil {
				return err
			}
		}
		if o.Role != id.Role {
			if err := tx.Model(&Officer{}).Where("id = ?", o.ID).Update("role", id.Role).Error; err != nil {
				return fmt.Errorf("store: set role: %w", err)
			}
			if err := tx.Create(officerEvent(o.ID, actor, EventRoleChange, string(o.Role)+" → "+string(id.Role)+" from the provider's groups", now)).Error; err != nil {
				return err
			}
			o.Role = id.Role
		}
		out = &o
		return tx.Create(officerEvent(o.ID, actor, EventSSOSignIn, "as "+string(o.Role), now)).Error
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return out, nil
}
