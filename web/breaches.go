package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// breachView is a breach as officers see it: the record, its clock, the
// fan-out's progress and its history.
type breachView struct {
	*store.Breach
	Overdue   bool                 `json:"overdue"`
	HoursLeft float64              `json:"hours_left"`
	Left      time.Duration        `json:"-"` // to the deadline, for the page
	Progress  store.FanOutProgress `json:"progress"`
	Events    []store.BreachEvent  `json:"events,omitempty"`
}

func (s *Server) breachView(ctx context.Context, b *store.Breach, events bool) (breachView, error) {
	now := s.now()
	left := b.DeadlineAt.Sub(now)
	v := breachView{Breach: b, Overdue: b.Overdue(now), Left: left, HoursLeft: float64(int(left.Hours()*10)) / 10}
	var err error
	if v.Progress, err = s.store.Progress(ctx, b.ID); err != nil {
		return v, err
	}
	if events {
		v.Events, err = s.store.BreachEvents(ctx, b.ID)
	}
	return v, err
}

func (s *Server) currentDataMap() *datamap.Map {
	if s.dataMap == nil {
		return nil
	}
	return s.dataMap()
}

func (s *Server) apiRecordBreach(c echo.Context) error {
	var nb domain.NewBreach
	if err := bindJSON(c, &nb); err != nil {
		return err
	}
	b, err := s.office.RecordBreach(c.Request().Context(), nb, officerFrom(c).Email, s.currentDataMap())
	if err != nil {
		return err
	}
	v, err := s.breachView(c.Request().Context(), b, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) apiListBreaches(c echo.Context) error {
	bs, err := s.store.ListBreaches(c.Request().Context(), c.QueryParam("open") == "1", 0)
	if err != nil {
		return err
	}
	out := make([]breachView, len(bs))
	for i := range bs {
		if out[i], err = s.breachView(c.Request().Context(), &bs[i], false); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"breaches": out})
}

func (s *Server) apiGetBreach(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	v, err := s.breachView(c.Request().Context(), b, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) apiApproveNotice(c echo.Context) error {
	var body struct {
		Subject string `json:"subject"`
		Text    string `json:"text"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.office.ApproveNotice(c.Request().Context(), id, body.Subject, body.Text, officerFrom(c).Email); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "notice_approved": true})
}

func (s *Server) apiAuthorityNotified(c echo.Context) error {
	var body struct {
		Authority   string    `json:"authority"`
		Reference   string    `json:"reference"`
		NotifiedAt  time.Time `json:"notified_at"`
		DelayReason string    `json:"delay_reason"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	id := c.Param("id")
	err := s.office.RecordAuthority(c.Request().Context(), id, office.AuthorityNotification{
		Authority: body.Authority, Reference: body.Reference, NotifiedAt: body.NotifiedAt, DelayReason: body.DelayReason,
	}, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "authority_notified": true})
}

// apiResolveUncertain settles notices whose delivery a crash left
// unknown: {"resend": true} sends them again, false records them as sent.
func (s *Server) apiResolveUncertain(c echo.Context) error {
	var body struct {
		Resend *bool `json:"resend"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Resend == nil {
		return &domain.ValidationError{Fields: map[string]string{"resend": "say true to send them again or false to record them as sent"}}
	}
	id := c.Param("id")
	if err := s.office.ResolveUncertain(c.Request().Context(), id, *body.Resend, officerFrom(c).Email); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "resend": *body.Resend})
}

// breachReport is the report for the supervisory authority (GDPR Art.
// 33(3)): the nature of the breach, the categories and approximate
// numbers of people and records, the likely consequences and the
// measures taken, as JSON or, with ?format=html, a page to print.
func (s *Server) breachReport(c echo.Context) error {
	b, err := s.store.GetBreach(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	r := breachReportOf(b, s.cfg.Organisation, s.now())
	name := "breach-" + b.ID + "-report"
	if c.QueryParam("format") == "html" {
		c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.html"`)
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(http.StatusOK)
		return reportPage.Execute(c.Response(), r)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
	enc := json.NewEncoder(c.Response())
	enc.SetIndent("", "  ")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	return enc.Encode(r)
}

// breachReport holds what Art. 33(3) asks a notification to describe.
type breachReport struct {
	Controller     string     `json:"controller"`
	Breach         string     `json:"breach"`
	Title          string     `json:"title"`
	Nature         string     `json:"nature"`
	AwareAt        time.Time  `json:"aware_at"`
	DeadlineAt     time.Time  `json:"deadline_at"`
	Risk           string     `json:"risk"`
	Systems        []string   `json:"systems"`
	Categories     []string   `json:"categories_of_data"`
	People         *int       `json:"approximate_people"`
	Records        *int       `json:"approximate_records"`
	Consequences   string     `json:"likely_consequences"`
	Measures       string     `json:"measures_taken_or_proposed"`
	PeopleNotified string     `json:"people_notified"`
	Authority      string     `json:"authority,omitempty"`
	Reference      string     `json:"authority_reference,omitempty"`
	NotifiedAt     *time.Time `json:"authority_notified_at,omitempty"`
	DelayReason    string     `json:"reasons_for_delay,omitempty"`
	Contact        string     `json:"contact"`
	GeneratedAt    time.Time  `json:"generated_at"`
}

func breachReportOf(b *store.Breach, organisation string, now time.Time) breachReport {
	notified := "no: the risk was judged low"
	switch {
	case b.FanoutDoneAt != nil:
		notified = "yes, completed " + b.FanoutDoneAt.UTC().Format(time.RFC3339)
	case b.NoticeApprovedAt != nil:
		notified = "under way since " + b.NoticeApprovedAt.UTC().Format(time.RFC3339)
	case b.Risk.NotifiesSubjects():
		notified = "not yet: the notice awaits approval"
	}
	cats := b.Categories
	if len(cats) == 0 {
		cats = []string{"all personal data in the systems named"}
	}
	return breachReport{
		Controller: organisation, Breach: b.ID, Title: b.Title, Nature: b.Description,
		AwareAt: b.AwareAt, DeadlineAt: b.DeadlineAt, Risk: string(b.Risk), Systems: b.Systems, Categories: cats,
		People: b.AffectedPeople, Records: b.AffectedRecords, Consequences: b.Consequences, Measures: b.Measures,
		PeopleNotified: notified, Authority: b.Authority, Reference: b.AuthorityReference, NotifiedAt: b.AuthorityNotifiedAt,
		DelayReason: b.DelayReason, Contact: "the data protection officer of " + organisation, GeneratedAt: now.UTC(),
	}
}

// reportPage is the breach report for the supervisory authority: a
// page that stands alone (its style inline), to save or print.
var reportPage = template.Must(template.New("breach_report.html").Funcs(template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"num": func(n *int) string {
		if n == nil {
			return "not yet known"
		}
		return fmt.Sprint(*n)
	},
}).ParseFS(templateFiles, "templates/breach_report.html"))
