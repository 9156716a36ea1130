package web

import (
	"cmp"
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// The officers' request list, shared by the API, its CSV export and the
// dashboard: one reading of the query, so the three filter alike.

// maxSearchLen bounds the search box: a reference, an address or a name.
const maxSearchLen = 200

// listQuery is the list's query as read from a URL.
type listQuery struct {
	Status   domain.Status
	Type     domain.RequestType
	Regime   deadline.Regime
	Q        string
	Overdue  string // "", "true" or "false"
	Assignee string // an officer's email, "me" or "none"
	From, To string // received dates, YYYY-MM-DD, both included
	Sort     store.RequestSort
	Limit    int
	Cursor   string
}

// parseListQuery reads and checks the list's query parameters; every
// problem is named by its field, and nothing is read with a bad value.
func (s *Server) parseListQuery(c echo.Context) (listQuery, store.RequestFilter, error) {
	q := listQuery{
		Status: domain.Status(c.QueryParam("status")), Type: domain.RequestType(c.QueryParam("type")),
		Regime: deadline.Regime(c.QueryParam("regime")), Q: strings.TrimSpace(c.QueryParam("q")),
		Overdue: c.QueryParam("overdue"), From: c.QueryParam("received_from"), To: c.QueryParam("received_to"),
		Sort: store.RequestSort(c.QueryParam("sort")), Cursor: c.QueryParam("cursor"),
		Assignee: strings.ToLower(strings.TrimSpace(c.QueryParam("assignee"))),
	}
	f := store.RequestFilter{Status: q.Status, Type: q.Type, Regime: q.Regime, Search: q.Q, Sort: q.Sort, Now: s.now()}
	errs := map[string]string{}
	if q.Status != "" && !q.Status.Valid() {
		errs["status"] = "unknown status"
	}
	if q.Type != "" && !q.Type.Valid() && q.Type != domain.TypeUnclassified {
		errs["type"] = "unknown type"
	}
	if q.Regime != "" && !slices.Contains(deadline.Regimes, q.Regime) {
		errs["regime"] = "unknown regime: default, gdpr or ccpa"
	}
	switch q.Assignee {
	case "":
	case "none":
		f.Unassigned = true
	case "me":
		id := officerFrom(c).ID
		f.AssigneeID = &id
	default:
		o, err := s.store.OfficerByEmail(c.Request().Context(), q.Assignee)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs["assignee"] = "no officer has this email: give an officer's email, me or none"
		case err != nil:
			return q, f, err
		default:
			f.AssigneeID = &o.ID
		}
	}
	if len(q.Q) > maxSearchLen {
		errs["q"] = "at most " + strconv.Itoa(maxSearchLen) + " characters"
	}
	switch q.Overdue {
	case "":
	case "true", "false":
		overdue := q.Overdue == "true"
		f.Overdue = &overdue
	default:
		errs["overdue"] = "true or false"
	}
	loc := s.cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	if q.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.From, loc)
		if err != nil {
			errs["received_from"] = "a date such as 2026-05-04"
		}
		f.ReceivedFrom = d
	}
	if q.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.To, loc)
		if err != nil {
			errs["received_to"] = "a date such as 2026-05-04"
		}
		f.ReceivedBefore = d.AddDate(0, 0, 1) // the whole day
	}
	_, badFrom := errs["received_from"]
	_, badTo := errs["received_to"]
	if !badFrom && !badTo && q.From != "" && q.To != "" && f.ReceivedFrom.After(f.ReceivedBefore.AddDate(0, 0, -1)) {
		errs["received_to"] = "on or after received_from"
	}
	if q.Sort == "" {
		q.Sort, f.Sort = store.SortDue, store.SortDue
	} else if !q.Sort.Valid() {
		errs["sort"] = "due, -due, received or -received"
	}
	q.Limit = store.DefaultListLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxListLimit {
			errs["limit"] = "a whole number from 1 to " + strconv.Itoa(store.MaxListLimit)
		}
		q.Limit = n
	}
	f.Limit = q.Limit
	if c.QueryParams().Has("offset") {
		errs["offset"] = "not supported: follow the answer's next cursor"
	}
	if q.Cursor != "" {
		cur, err := store.ParseCursor(q.Cursor)
		switch {
		case err != nil:
			errs["cursor"] = err.Error()
		case cur.Sort != q.Sort:
			errs["cursor"] = "made for another sort: start again from the first page"
		}
		f.Cursor = &cur
	}
	if len(errs) > 0 {
		return q, f, &domain.ValidationError{Fields: errs}
	}
	return q, f, nil
}

// values is the query again, without the cursor, for links to other
// pages and to the CSV.
func (q listQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{
		"status": string(q.Status), "type": string(q.Type), "regime": string(q.Regime), "q": q.Q,
		"overdue": q.Overdue, "received_from": q.From, "received_to": q.To, "assignee": q.Assignee,
	} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Sort != store.SortDue {
		v.Set("sort", string(q.Sort))
	}
	if q.Limit != store.DefaultListLimit {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// requestList is the answer to GET /api/v1/officer/requests.
type requestList struct {
	Requests []officerRequest `json:"requests"`
	// Total counts every request the filters match, on all pages.
	Total int64 `json:"total"`
	// Next and Prev are the cursors of the pages after and before.
	Next string `json:"next,omitempty"`
	Prev string `json:"prev,omitempty"`
}

func (s *Server) apiListRequests(c echo.Context) error {
	_, f, err := s.parseListQuery(c)
	if err != nil {
		return err
	}
	p, err := s.store.PageRequests(c.Request().Context(), f)
	if err != nil {
		return badCursor(err)
	}
	out := requestList{Requests: make([]officerRequest, len(p.Requests)), Total: p.Total}
	officers, err := s.officerEmails(c.Request().Context())
	if err != nil {
		return err
	}
	dups, err := s.possibleDuplicates(c, p.Requests)
	if err != nil {
		return err
	}
	now := s.now()
	for i := range p.Requests {
		out.Requests[i] = toOfficerRequest(&p.Requests[i], now)
		out.Requests[i].Assignee = assigneeOf(&p.Requests[i], officers)
		out.Requests[i].PossibleDuplicates = dups[p.Requests[i].ID]
	}
	if p.Next != nil {
		out.Next = p.Next.String()
	}
	if p.Prev != nil {
		out.Prev = p.Prev.String()
	}
	return c.JSON(http.StatusOK, out)
}

// badCursor answers a cursor the store refused as the client's mistake.
func badCursor(err error) error {
	if errors.Is(err, store.ErrBadCursor) {
		return &domain.ValidationError{Fields: map[string]string{"cursor": store.ErrBadCursor.Error()}}
	}
	return err
}

// csvHeader names the export's columns.
var csvHeader = []string{"reference", "type", "status", "regime", "received_at", "due_at", "overdue", "closed_at", "name", "email", "channel", "assignee"}

// requestsCSV streams every request the filters match (no paging: the
// limit and cursor are ignored) as CSV, in the list's order. Text a
// requester typed is guarded against spreadsheet formulas.
func (s *Server) requestsCSV(c echo.Context) error {
	_, f, err := s.parseListQuery(c)
	if err != nil {
		return err
	}
	return s.writeRequestsCSV(c, f)
}

// dashboardRequestsCSV is the dashboard's list as CSV: what the page
// shows, every page of it.
func (s *Server) dashboardRequestsCSV(c echo.Context) error {
	q, f, err := s.parseListQuery(c)
	if err != nil {
		return err
	}
	f.Open = requestsFilter{listQuery: q, All: c.QueryParam("all") == "1"}.openOnly()
	return s.writeRequestsCSV(c, f)
}

func (s *Server) writeRequestsCSV(c echo.Context, f store.RequestFilter) error {
	ctx := c.Request().Context()
	f.Cursor, f.Limit = nil, store.MaxListLimit
	// The first page before any byte is written, so a failure is still a
	// proper error answer.
	p, err := s.store.NextRequests(ctx, f)
	if err != nil {
		return err
	}
	officers, err := s.officerEmails(ctx)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="requests-`+s.now().Format("2006-01-02")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return nil // the client went away
	}
	now := s.now()
	rows := 0
	for {
		for i := range p.Requests {
			r := &p.Requests[i]
			closed := ""
			if r.ClosedAt != nil {
				closed = r.ClosedAt.UTC().Format(time.RFC3339)
			}
			rec := []any{r.ID, string(r.Type), string(r.Status), string(r.Regime), r.ReceivedAt, r.DueAt,
				strconv.FormatBool(r.Overdue(now)), closed, r.Name, r.Email, string(cmp.Or(r.Channel, domain.ChannelWeb)), assigneeOf(r, officers)}
			cells := make([]string, len(rec))
			for j, v := range rec {
				cells[j] = export.CSVCell(v)
			}
			if err := w.Write(cells); err != nil {
				return nil
			}
		}
		rows += len(p.Requests)
		if p.Next == nil {
			break
		}
		f.Cursor = p.Next
		if p, err = s.store.NextRequests(ctx, f); err != nil {
			// Headers are gone: the truncated file is all we can give.
			s.log.Error("request list export stopped", "rows", rows, "error", err)
			break
		}
	}
	w.Flush()
	s.log.Info("request list exported", "officer", officerFrom(c).ID, "rows", rows)
	return nil
}
