package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

// An officer turns two-factor on from the Sign-in security page. The page
// makes a new secret and shows it (URI, text and QR code) with a form; the
// secret travels in that form sealed to the officer and to a deadline, so
// nothing is stored until the officer confirms a current code. Confirmed,
// the secret is sealed again for the database and ten recovery codes are
// shown once.
const enrolmentTTL = 15 * time.Minute

type securityPage struct {
	chrome
	HasTOTP  bool
	Required bool
	// SSO names the identity provider the officer signs in with, which
	// is then their second factor, not dsar's TOTP.
	SSO string
	// Enrolment, while two-factor is off.
	URI       string
	Secret    string
	QR        template.URL // a data: URI of a PNG; the CSP allows data: images
	Enrolment string
	// RecoveryCodes are shown once, right after they are made.
	RecoveryCodes []string
	CodesLeft     int64
	Events        []store.OfficerEvent
	Message       string
	Done          string
}

// totpIssuer is the name authenticator apps list the account under.
func (s *Server) totpIssuer() string {
	if name := strings.TrimSpace(strings.ReplaceAll(s.cfg.Organisation, ":", " ")); name != "" {
		return name + " dsar"
	}
	return "dsar"
}

func (s *Server) renderSecurity(c echo.Context, code int, p securityPage, secret string) error {
	ctx := c.Request().Context()
	o := officerFrom(c)
	fresh, err := s.store.OfficerByID(ctx, o.ID)
	if err != nil {
		return err
	}
	p.chrome = s.chrome(c, "security")
	p.HasTOTP = fresh.HasTOTP()
	if p.Required, err = s.store.RequireTOTP(ctx); err != nil {
		return err
	}
	if p.CodesLeft, err = s.store.RecoveryCodesLeft(ctx, o.ID); err != nil {
		return err
	}
	if p.Events, err = s.store.OfficerEvents(ctx, o.ID, 20); err != nil {
		return err
	}
	if fresh.SSO() {
		p.SSO = s.cfg.OIDC.Name
		if p.SSO == "" {
			p.SSO = "your organisation's single sign-on"
		}
	}
	if !p.HasTOTP && p.SSO == "" {
		if s.sealer == nil {
			return errors.New("web: two-factor sign-in needs the secret key")
		}
		key, err := auth.NewTOTPKey(s.totpIssuer(), o.Email)
		if secret != "" {
			key, err = auth.TOTPKey(s.totpIssuer(), o.Email, secret)
		}
		if err != nil {
			return err
		}
		p.URI, p.Secret = key.URL(), key.Secret()
		if img, err := key.Image(240, 240); err == nil {
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err == nil {
				p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
			}
		}
		p.Enrolment = s.sealEnrolment(o.ID, key.Secret())
	}
	return s.render(c, code, "officer/security", p)
}

func (s *Server) dashboardSecurity(c echo.Context) error {
	return s.renderSecurity(c, http.StatusOK, securityPage{Done: securityFlashes[c.QueryParam("done")]}, "")
}

var securityFlashes = map[string]string{
	"disabled": "Two-factor sign-in is off. You sign in with your password only.",
}

// sealEnrolment seals a secret not yet confirmed into the enrolment form,
// bound to the officer and to a deadline.
func (s *Server) sealEnrolment(officerID int64, secret string) string {
	exp := strconv.FormatInt(s.now().Add(enrolmentTTL).Unix(), 10)
	keyID, sealed := s.sealer.SealBlob(enrolmentBlob(officerID), []byte(exp+":"+secret))
	return keyID + "." + base64.RawURLEncoding.EncodeToString(sealed)
}

func enrolmentBlob(officerID int64) string {
	return "officer-totp-enrolment/" + strconv.FormatInt(officerID, 10)
}

// openEnrolment answers the secret of an enrolment form, or "" when it is
// not one sealed for this officer or it expired.
func (s *Server) openEnrolment(officerID int64, value string) string {
	keyID, b64, ok := strings.Cut(value, ".")
	if !ok || s.sealer == nil {
		return ""
	}
	sealed, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return ""
	}
	plain, err := s.sealer.OpenBlob(keyID, enrolmentBlob(officerID), sealed)
	if err != nil {
		return ""
	}
	exp, secret, ok := strings.Cut(string(plain), ":")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return ""
	}
	return secret
}

// dashboardEnrolTOTP turns two-factor on once the officer types a
// current code of the secret they were shown; a wrong code changes
// nothing.
func (s *Server) dashboardEnrolTOTP(c echo.Context) error {
	o := officerFrom(c)
	secret := s.openEnrolment(o.ID, c.FormValue("enrolment"))
	if secret == "" {
		return s.renderSecurity(c, http.StatusBadRequest, securityPage{
			Message: "This set-up page expired. Add the new secret below to your app and enter its code."}, "")
	}
	step, ok := auth.MatchTOTP(secret, c.FormValue("code"), s.now())
	if !ok {
		return s.renderSecurity(c, http.StatusBadRequest, securityPage{
			Message: "That code does not match. Check that your app shows dsar's new entry and enter its current six digits."}, secret)
	}
	codes, hashes, err := auth.NewRecoveryCodes(auth.RecoveryCodeCount)
	if err != nil {
		return err
	}
	keyID, sealed := s.sealer.SealBlob(totpBlob(o.ID), []byte(secret))
	err = s.store.EnableTOTP(c.Request().Context(), o.ID, sealed, keyID, step, hashes, s.now())
	if errors.Is(err, store.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, "Two-factor sign-in is already on for your account.")
	}
	if err != nil {
		return err
	}
	s.log.Info("two-factor sign-in enabled", "officer_id", o.ID)
	return s.renderSecurity(c, http.StatusCreated, securityPage{RecoveryCodes: codes,
		Done: "Two-factor sign-in is on. From now on you sign in with your password and a code."}, "")
}

// confirmCode checks a current code (or a recovery code) before an
// officer changes their own two-factor; wrong codes count toward the
// sign-in backoff like wrong passwords.
func (s *Server) confirmCode(c echo.Context) (bool, error) {
	o := officerFrom(c)
	if wait := s.signins.wait(o.Email, c.RealIP(), true, s.now()); wait > 0 {
		c.Response().Header().Set("Retry-After", retryAfter(wait))
		return false, echo.NewHTTPError(http.StatusTooManyRequests, "Too many wrong codes. Please wait "+humanWait(wait)+" and try again.")
	}
	fresh, err := s.store.OfficerByID(c.Request().Context(), o.ID)
	if err != nil {
		return false, err
	}
	if !fresh.HasTOTP() {
		return false, echo.NewHTTPError(http.StatusConflict, "Two-factor sign-in is off for your account.")
	}
	ok, err := s.checkSecondFactor(c.Request().Context(), fresh, c.FormValue("code"))
	if err != nil {
		return false, err
	}
	if !ok {
		s.signins.failed(o.Email, c.RealIP(), s.now())
	}
	return ok, nil
}

// dashboardNewRecoveryCodes replaces the officer's recovery codes, after
// a current code.
func (s *Server) dashboardNewRecoveryCodes(c echo.Context) error {
	ok, err := s.confirmCode(c)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderSecurity(c, http.StatusBadRequest, securityPage{Message: "That code is not right, or it was used already. Nothing was changed."}, "")
	}
	codes, hashes, err := auth.NewRecoveryCodes(auth.RecoveryCodeCount)
	if err != nil {
		return err
	}
	o := officerFrom(c)
	if err := s.store.ReplaceRecoveryCodes(c.Request().Context(), o.ID, hashes, s.now()); err != nil {
		return err
	}
	s.log.Info("recovery codes replaced", "officer_id", o.ID)
	return s.renderSecurity(c, http.StatusCreated, securityPage{RecoveryCodes: codes,
		Done: "New recovery codes. The old ones no longer work."}, "")
}

// dashboardDisableTOTP turns the officer's own two-factor off, after a
// current code, unless an admin requires it.
func (s *Server) dashboardDisableTOTP(c echo.Context) error {
	required, err := s.store.RequireTOTP(c.Request().Context())
	if err != nil {
		return err
	}
	if required {
		return echo.NewHTTPError(http.StatusConflict, "Two-factor sign-in is required for every officer; it cannot be turned off.")
	}
	ok, err := s.confirmCode(c)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderSecurity(c, http.StatusBadRequest, securityPage{Message: "That code is not right, or it was used already. Nothing was changed."}, "")
	}
	o := officerFrom(c)
	if err := s.store.DisableTOTP(c.Request().Context(), o.ID, o.Email, store.EventTOTPDisabled, s.now()); err != nil {
		return err
	}
	s.log.Info("two-factor sign-in disabled", "officer_id", o.ID)
	return c.Redirect(http.StatusSeeOther, "/officer/security?done=disabled")
}

// dashboardResetTOTP is an admin turning another officer's two-factor
// off (a lost phone): they enrol again, at their next sign-in if it is
// required.
func (s *Server) dashboardResetTOTP(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errNotFoundPage
	}
	admin := officerFrom(c)
	if id == admin.ID {
		return echo.NewHTTPError(http.StatusConflict, "Change your own two-factor sign-in under Sign-in security.")
	}
	err = s.store.DisableTOTP(c.Request().Context(), id, admin.Email, store.EventTOTPReset, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "That officer has no two-factor sign-in to reset.")
	}
	if err != nil {
		return err
	}
	s.log.Info("two-factor sign-in reset", "officer_id", id, "by", admin.ID)
	return c.Redirect(http.StatusSeeOther, "/officer/officers?done=totp-reset")
}

// dashboardRequireTOTP is an admin requiring two-factor of every officer,
// or no longer.
func (s *Server) dashboardRequireTOTP(c echo.Context) error {
	var on bool
	switch c.FormValue("required") {
	case "true":
		on = true
	case "false":
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Choose whether two-factor sign-in is required (true or false).")
	}
	admin := officerFrom(c)
	if err := s.store.SetRequireTOTP(c.Request().Context(), on, admin.Email, s.now()); err != nil {
		return err
	}
	s.log.Info("two-factor requirement changed", "required", on, "by", admin.ID)
	return c.Redirect(http.StatusSeeOther, "/officer/officers?done=officer-saved")
}
