package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

// tokensPage lists the signed-in officer's API tokens; NewToken is shown
// once, right after it is made.
type tokensPage struct {
	chrome
	Tokens   []store.APIToken
	NewToken string
	Done     string
	now      time.Time
}

// Expired reports whether a token no longer works by age.
func (p tokensPage) Expired(t store.APIToken) bool {
	end := t.CreatedAt.Add(store.APITokenLifetime)
	if t.ExpiresAt != nil {
		end = *t.ExpiresAt
	}
	return !p.now.Before(end)
}

func (s *Server) renderTokens(c echo.Context, code int, newToken, done string) error {
	o := officerFrom(c)
	ts, err := s.store.APITokens(c.Request().Context(), o.ID)
	if err != nil {
		return err
	}
	return s.render(c, code, "officer/tokens", tokensPage{chrome: s.chrome(c, "tokens"), Tokens: ts, NewToken: newToken, Done: done, now: s.now()})
}

func (s *Server) dashboardTokens(c echo.Context) error {
	return s.renderTokens(c, http.StatusOK, "", "")
}

// dashboardCreateToken makes a token for the signed-in officer and shows
// it once; only its hash is kept.
func (s *Server) dashboardCreateToken(c echo.Context) error {
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	ctx, o := c.Request().Context(), officerFrom(c)
	t := &store.APIToken{OfficerID: o.ID, Hash: hash, CreatedAt: s.now()}
	if err := s.store.AddAPIToken(ctx, t); err != nil {
		return err
	}
	s.log.Info("API token created", "officer_id", o.ID)
	// A new token leaves the others working unless the officer replaces
	// them: a program may still use one.
	if c.FormValue("revoke_others") != "1" {
		return s.renderTokens(c, http.StatusCreated, token, "")
	}
	if err := s.store.RevokeAPITokens(ctx, o.ID, t.ID, s.now()); err != nil {
		return err
	}
	s.log.Info("API tokens revoked but the new one", "officer_id", o.ID)
	return s.renderTokens(c, http.StatusCreated, token, "Your other tokens were revoked; programs using them stop working at once.")
}

// dashboardRevokeToken revokes one of the signed-in officer's tokens.
func (s *Server) dashboardRevokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errNotFoundPage
	}
	err = s.store.RevokeAPIToken(c.Request().Context(), officerFrom(c).ID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "You have no such active token.")
	}
	if err != nil {
		return err
	}
	s.log.Info("API token revoked", "officer_id", officerFrom(c).ID, "token_id", id)
	return s.renderTokens(c, http.StatusOK, "", "The token was revoked; programs using it stop working at once.")
}
