package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

type breachesPage struct {
	chrome
	Rows []breachView
}

func (s *Server) dashboardBreaches(c echo.Context) error {
	bs, err := s.store.ListBreaches(c.Request().Context(), false, 0)
	if err != nil {
		return err
	}
	p := breachesPage{chrome: s.chrome(c, "breaches")}
	for i := range bs {
		v, err := s.breachView(c.Request().Context(), &bs[i], false)
		if err != nil {
			return err
		}
		p.Rows = append(p.Rows, v)
	}
	return s.render(c, http.StatusOK, "officer/breaches", p)
}

// breachForm is the new-breach form as typed, kept when it is refused.
type breachForm struct {
	Title, Description, AwareAt, Risk, Consequences, Measures, Categories string
	Systems                                                               []string
}

type newBreachPage struct {
	chrome
	Form       breachForm
	Errors     map[string]string
	Systems    []string // the data map's systems
	Categories []string // the data map's categories, for the hint list
}

// Checked reports whether the form had the system ticked.
func (p newBreachPage) Checked(system string) bool {
	for _, s := range p.Form.Systems {
		if s == system {
			return true
		}
	}
	return false
}

// awareLayout is how the form's datetime-local field is read: UTC.
const awareLayout = "2006-01-02T15:04"

func (s *Server) newBreachPage(c echo.Context, code int, p newBreachPage) error {
	p.chrome = s.chrome(c, "breaches")
	if m := s.currentDataMap(); m != nil {
		for _, sys := range m.Systems {
			p.Systems = append(p.Systems, sys.Name)
		}
		p.Categories = m.AllCategories()
	}
	if p.Form.AwareAt == "" {
		p.Form.AwareAt = s.now().UTC().Format(awareLayout)
	}
	return s.render(c, code, "officer/breach-new", p)
}

func (s *Server) dashboardNewBreach(c echo.Context) error {
	return s.newBreachPage(c, http.StatusOK, newBreachPage{Form: breachForm{Risk: "high"}})
}

func (s *Server) dashboardRecordBreach(c echo.Context) error {
	form, _ := c.FormParams()
	f := breachForm{
		Title: c.FormValue("title"), Description: c.FormValue("description"), AwareAt: c.FormValue("aware_at"),
		Risk: c.FormValue("risk"), Consequences: c.FormValue("consequences"), Measures: c.FormValue("measures"),
		Categories: c.FormValue("categories"), Systems: form["systems"],
	}
	nb := domain.NewBreach{
		Title: f.Title, Description: f.Description, Systems: f.Systems, Risk: domain.Risk(f.Risk),
		Consequences: f.Consequences, Measures: f.Measures,
	}
	nb.Categories = append(nb.Categories, strings.FieldsFunc(f.Categories, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })...)
	errs := map[string]string{}
	if t, err := time.ParseInLocation(awareLayout, strings.TrimSpace(f.AwareAt), time.UTC); err == nil {
		nb.AwareAt = t
	} else if strings.TrimSpace(f.AwareAt) != "" {
		errs["aware_at"] = "give a date and time such as 2026-05-04T09:30 (UTC)"
	}
	if len(errs) > 0 { // nothing is done with a form that has a problem of its own
		return s.newBreachPage(c, http.StatusBadRequest, newBreachPage{Form: f, Errors: errs})
	}
	b, err := s.office.RecordBreach(c.Request().Context(), nb, officerFrom(c).Email, s.currentDataMap())
	if formProblems(errs, err, nil) {
		return s.newBreachPage(c, http.StatusBadRequest, newBreachPage{Form: f, Errors: errs})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/breaches/"+url.PathEscape(b.ID)+"?done=breach-recorded")
}

type breachPage struct {
	chrome
	Breach breachView
	CanAct bool
	// NeedsNotice: the notice form is offered (open, not yet approved,
	// someone to tell).
	NeedsNotice  bool
	NeedsReason  bool // the 72 hours have passed: a delay reason is required
	Percent      int
	Error        string
	NoticeForm   struct{ Subject, Text string }
	AuthorityNow string
}

func (s *Server) dashboardBreach(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.renderBreach(c, http.StatusOK, b, "", "", "")
}

func (s *Server) renderBreach(c echo.Context, code int, b *store.Breach, problem, subject, text string) error {
	v, err := s.breachView(c.Request().Context(), b, true)
	if err != nil {
		return err
	}
	p := breachPage{chrome: s.chrome(c, "breaches"), Breach: v, CanAct: officerFrom(c).Role.CanAct(), Error: problem,
		NeedsReason: s.now().After(b.DeadlineAt), AuthorityNow: s.now().UTC().Format(awareLayout)}
	p.NeedsNotice = p.CanAct && b.ClosedAt == nil && b.NoticeApprovedAt == nil && (b.AffectedPeople == nil || *b.AffectedPeople > 0)
	if v.Progress.Total > 0 {
		p.Percent = v.Progress.Sent * 100 / v.Progress.Total
	}
	p.NoticeForm.Subject, p.NoticeForm.Text = subject, text
	if p.NoticeForm.Subject == "" && p.NoticeForm.Text == "" {
		p.NoticeForm.Subject = "Important: a security incident affecting your data"
		p.NoticeForm.Text = office.NoticeOutline
	}
	return s.render(c, code, "officer/breach", p)
}

func (s *Server) dashboardApproveNotice(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	subject, text := c.FormValue("subject"), c.FormValue("text")
	err = s.office.ApproveNotice(c.Request().Context(), b.ID, subject, text, officerFrom(c).Email)
	if err != nil {
		return s.breachProblem(c, b, err, subject, text)
	}
	return c.Redirect(http.StatusSeeOther, "/officer/breaches/"+url.PathEscape(b.ID)+"?done=notice-approved")
}

func (s *Server) dashboardAuthorityNotified(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	at, perr := time.ParseInLocation(awareLayout, strings.TrimSpace(c.FormValue("notified_at")), time.UTC)
	if perr != nil {
		return s.renderBreach(c, http.StatusBadRequest, b, "Give the time of the notification, such as 2026-05-04T09:30 (UTC).", "", "")
	}
	err = s.office.RecordAuthority(c.Request().Context(), b.ID, office.AuthorityNotification{
		Authority: c.FormValue("authority"), Reference: c.FormValue("reference"), NotifiedAt: at,
		DelayReason: c.FormValue("delay_reason"),
	}, officerFrom(c).Email)
	if err != nil {
		return s.breachProblem(c, b, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/breaches/"+url.PathEscape(b.ID)+"?done=authority-recorded")
}

func (s *Server) dashboardResolveUncertain(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	err = s.office.ResolveUncertain(c.Request().Context(), b.ID, c.FormValue("resend") == "yes", officerFrom(c).Email)
	if err != nil {
		return s.breachProblem(c, b, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/breaches/"+url.PathEscape(b.ID)+"?done=uncertain-resolved")
}

// dashboardBreachProgress answers the fan-out's progress for the breach
// page's live progress bar.
func (s *Server) dashboardBreachProgress(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := s.store.Progress(c.Request().Context(), b.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"sent": p.Sent, "total": p.Total, "uncertain": p.Uncertain, "done": b.FanoutDoneAt != nil,
	})
}

// breachProblem shows the breach again with why an action was refused.
func (s *Server) breachProblem(c echo.Context, b *store.Breach, err error, subject, text string) error {
	if errors.Is(err, office.ErrStillProcessing) {
		return c.Redirect(http.StatusSeeOther, "/officer/breaches/"+url.PathEscape(b.ID)+"?done=processing")
	}
	if code, msg, ok := problemOf(err); ok {
		return s.renderBreach(c, code, b, msg, subject, text)
	}
	return err
}
