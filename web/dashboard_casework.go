package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// The dashboard's case work: notes and the assignee on a request's page,
// bulk assignment from the list, and a form to log a request.

// dashboardAddNote adds an internal note and returns to the request.
func (s *Server) dashboardAddNote(c echo.Context) error {
	if _, err := s.office.AddNote(c.Request().Context(), c.Param("id"), c.FormValue("body"), officerFrom(c).Email); err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=noted#notes")
}

// dashboardSendMessage writes to the requester and returns to the
// request.
func (s *Server) dashboardSendMessage(c echo.Context) error {
	if _, err := s.office.SendMessage(c.Request().Context(), c.Param("id"), c.FormValue("body"), officerFrom(c).Email); err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=message_sent#messages")
}

// dashboardAssign sets or clears the request's assignee.
func (s *Server) dashboardAssign(c echo.Context) error {
	_, err := s.office.Assign(c.Request().Context(), []string{c.Param("id")}, assigneeFor(c, c.FormValue("assignee")), officerFrom(c).Email)
	if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=assigned")
}

// dashboardBulkAssign assigns the requests ticked on the list, all or
// none, and returns to the list as it was.
func (s *Server) dashboardBulkAssign(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	_, err = s.office.Assign(c.Request().Context(), form["ids"], assigneeFor(c, c.FormValue("assignee")), officerFrom(c).Email)
	if err != nil {
		if code, msg, ok := problemOf(err); ok {
			return echo.NewHTTPError(code, "Nothing was assigned: "+msg)
		}
		return err
	}
	back := safeNext(c.FormValue("back"))
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, back+sep+"done=assigned")
}

// logForm is the log-a-request form as typed.
type logForm struct {
	Channel, ReceivedOn, Type, Name, Email, Regime, Details, Field, Value, Evidence string
}

type logRequestPage struct {
	chrome
	Form     logForm
	Errors   map[string]string
	Channels []channelOption
	Types    []typeOption
	Regimes  []deadline.Regime
	Today    string
}

type channelOption struct {
	Value domain.Channel
	Label string
}

func (s *Server) location() *time.Location {
	if s.cfg.Location != nil {
		return s.cfg.Location
	}
	return time.UTC
}

func (s *Server) logRequestPage(c echo.Context, code int, p logRequestPage) error {
	p.chrome = s.chrome(c, "requests")
	for _, ch := range domain.LoggedChannels {
		p.Channels = append(p.Channels, channelOption{Value: ch, Label: ch.Label()})
	}
	for _, t := range domain.RequestTypes {
		p.Types = append(p.Types, typeOption{Value: t, Label: t.Label()})
	}
	p.Regimes = deadline.Regimes
	p.Today = s.now().In(s.location()).Format(time.DateOnly)
	if p.Form.ReceivedOn == "" {
		p.Form.ReceivedOn = p.Today
	}
	return s.render(c, code, "officer/request-new", p)
}

func (s *Server) dashboardNewRequest(c echo.Context) error {
	return s.logRequestPage(c, http.StatusOK, logRequestPage{Form: logForm{Channel: string(domain.ChannelLetter), Type: string(domain.TypeAccess)}})
}

// dashboardLogRequest logs a request from the form. The date received is
// a day in the organisation's zone: today means now, an earlier day its
// start.
func (s *Server) dashboardLogRequest(c echo.Context) error {
	f := logForm{
		Channel: c.FormValue("channel"), ReceivedOn: strings.TrimSpace(c.FormValue("received_on")), Type: c.FormValue("type"),
		Name: c.FormValue("name"), Email: c.FormValue("email"), Regime: c.FormValue("regime"), Details: c.FormValue("details"),
		Field: c.FormValue("field"), Value: c.FormValue("value"), Evidence: c.FormValue("evidence"),
	}
	lr := office.LoggedRequest{
		NewRequest: domain.NewRequest{Type: domain.RequestType(f.Type), Email: f.Email, Name: f.Name, Details: f.Details, Regime: deadline.Regime(f.Regime)},
		Channel:    domain.Channel(f.Channel), Evidence: f.Evidence,
	}
	if strings.TrimSpace(f.Field) != "" || strings.TrimSpace(f.Value) != "" {
		lr.Corrections = []domain.Correction{{Field: f.Field, Value: f.Value}}
	}
	errs := map[string]string{}
	now := s.now()
	day, err := time.ParseInLocation(time.DateOnly, f.ReceivedOn, s.location())
	switch {
	case err != nil:
		errs["received_at"] = "a date such as 2026-05-04"
	case day.Format(time.DateOnly) != now.In(s.location()).Format(time.DateOnly):
		lr.ReceivedAt = day
	}
	if len(errs) > 0 { // nothing is done with a form that has a problem of its own
		return s.logRequestPage(c, http.StatusBadRequest, logRequestPage{Form: f, Errors: errs})
	}
	receipt, err := s.office.LogRequest(c.Request().Context(), lr, officerFrom(c).Email)
	if formProblems(errs, err, nil) {
		return s.logRequestPage(c, http.StatusBadRequest, logRequestPage{Form: f, Errors: errs})
	}
	if err != nil {
		return err
	}
	done := "logged"
	if receipt.Duplicate {
		done = "duplicate"
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(receipt.Request.ID)+"?done="+done)
}

// assigneeOptions are the officers a request can be given to.
func (s *Server) assigneeOptions(c echo.Context) ([]store.Officer, error) {
	return s.store.ActingOfficers(c.Request().Context())
}
