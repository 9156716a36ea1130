package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// holdView is a legal hold as officers see it.
type holdView struct {
	store.LegalHold
	Active bool `json:"active"`
	// Covers names what the hold covers, in words.
	Covers string `json:"covers"`
}

func (s *Server) holdView(h store.LegalHold) holdView {
	return holdView{LegalHold: h, Active: h.Active(s.now()), Covers: h.Describe()}
}

func (s *Server) apiPlaceHold(c echo.Context) error {
	var nh domain.NewHold
	if err := bindJSON(c, &nh); err != nil {
		return err
	}
	h, err := s.office.PlaceHold(c.Request().Context(), nh, officerFrom(c).Email, s.currentDataMap())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.holdView(*h))
}

func (s *Server) apiListHolds(c echo.Context) error {
	hs, err := s.store.Holds(c.Request().Context(), c.QueryParam("active") == "1", s.now())
	if err != nil {
		return err
	}
	out := make([]holdView, len(hs))
	for i, h := range hs {
		out[i] = s.holdView(h)
	}
	return c.JSON(http.StatusOK, map[string]any{"holds": out})
}

func (s *Server) apiGetHold(c echo.Context) error {
	h, err := s.store.Hold(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.holdView(*h))
}

// apiReleaseHold releases a hold; deletions it deferred resume.
func (s *Server) apiReleaseHold(c echo.Context) error {
	h, err := s.office.ReleaseHold(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if errors.Is(err, store.ErrHoldReleased) {
		return echo.NewHTTPError(http.StatusConflict, "the hold was already released")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.holdView(*h))
}
