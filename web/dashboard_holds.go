package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// holdForm is the place-a-hold form as typed, kept when it is refused.
type holdForm struct {
	Scope, Email, Target, Reason, EndsAt string
}

type holdsPage struct {
	chrome
	Active, Past []holdView
	Form         holdForm
	Errors       map[string]string
	// Targets are the data map's systems and tables a hold can name:
	// "shop" or "shop.invoices".
	Targets []string
	CanAct  bool
	Done    string
}

// endsLayout is how the form's date field is read: the hold ends at the
// start of that day, UTC.
const endsLayout = "2006-01-02"

func (s *Server) holdsPage(c echo.Context, code int, p holdsPage) error {
	hs, err := s.store.Holds(c.Request().Context(), false, s.now())
	if err != nil {
		return err
	}
	for _, h := range hs {
		v := s.holdView(h)
		if v.Active {
			p.Active = append(p.Active, v)
		} else {
			p.Past = append(p.Past, v)
		}
	}
	if m := s.currentDataMap(); m != nil {
		for _, sys := range m.Systems {
			if !sys.Kind.Queried() {
				continue
			}
			p.Targets = append(p.Targets, sys.Name)
			for _, t := range sys.Tables {
				p.Targets = append(p.Targets, sys.Name+"."+t.Name)
			}
		}
	}
	if p.Form.Scope == "" {
		p.Form.Scope = string(domain.HoldPerson)
	}
	p.chrome = s.chrome(c, "holds")
	p.CanAct = officerFrom(c).Role.CanAct()
	return s.render(c, code, "officer/holds", p)
}

func (s *Server) dashboardHolds(c echo.Context) error {
	return s.holdsPage(c, http.StatusOK, holdsPage{Done: c.QueryParam("done")})
}

func (s *Server) dashboardPlaceHold(c echo.Context) error {
	f := holdForm{
		Scope: c.FormValue("scope"), Email: c.FormValue("email"), Target: c.FormValue("target"),
		Reason: c.FormValue("reason"), EndsAt: c.FormValue("ends_at"),
	}
	nh := domain.NewHold{Scope: domain.HoldScope(f.Scope), Email: f.Email, Reason: f.Reason}
	nh.System, nh.Table, _ = strings.Cut(strings.TrimSpace(f.Target), ".")
	if nh.Scope == domain.HoldSystem || nh.Scope == domain.HoldTable {
		// The form has one field for both: a dot names a table.
		nh.Scope = domain.HoldSystem
		if nh.Table != "" {
			nh.Scope = domain.HoldTable
		}
	}
	errs := map[string]string{}
	if v := strings.TrimSpace(f.EndsAt); v != "" {
		if t, err := time.ParseInLocation(endsLayout, v, time.UTC); err == nil {
			nh.EndsAt = &t
		} else {
			errs["ends_at"] = "give a date such as 2027-06-30, or leave it empty"
		}
	}
	if len(errs) > 0 { // nothing is done with a form that has a problem of its own
		return s.holdsPage(c, http.StatusBadRequest, holdsPage{Form: f, Errors: errs})
	}
	_, err := s.office.PlaceHold(c.Request().Context(), nh, officerFrom(c).Email, s.currentDataMap())
	// The form picks system and table in one field.
	if formProblems(errs, err, map[string]string{"system": "target", "table": "target"}) {
		return s.holdsPage(c, http.StatusBadRequest, holdsPage{Form: f, Errors: errs})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/holds?done=placed")
}

func (s *Server) dashboardReleaseHold(c echo.Context) error {
	_, err := s.office.ReleaseHold(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if err != nil && !errors.Is(err, store.ErrHoldReleased) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/holds?done=released")
}
