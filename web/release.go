package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// previewPolicy is the preview's own Content-Security-Policy: the report
// carries its style inline, as the requester's copy must (it is opened
// from a ZIP), so the preview allows inline style and nothing else, in a
// sandbox.
const previewPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"

// packagePreview shows a request's package as the requester will read it
// (the access report, or an export's tables), audited. It uses none of
// the requester's downloads.
func (s *Server) packagePreview(c echo.Context) error {
	p, err := s.officerPackageOf(c, "package_previewed", func(p *store.Package) error {
		if p.Size > export.PreviewMax {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, export.ErrTooLargeToPreview.Error())
		}
		return nil
	})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", previewPolicy)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	return export.Preview(c.Request().Context(), s.store, s.sealer, p, c.Response())
}

// apiWithhold withholds part of a package awaiting release and answers
// the rebuilt package.
func (s *Server) apiWithhold(c echo.Context) error {
	var body office.Withholding
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	p, err := s.office.Withhold(c.Request().Context(), c.Param("id"), body, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "package": p})
}

// apiRelease releases a package awaiting release: the requester is
// emailed the link.
func (s *Server) apiRelease(c echo.Context) error {
	status, err := s.office.Release(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "status": status})
}

// confirmStep asks the officer to confirm an irreversible step on the
// page itself: the form is posted again with confirm=yes and the same
// fields (no script; the CSP allows none inline).
type confirmStep struct {
	Action string // the form's action
	Title  string
	Text   string
	Button string
	Fields []confirmField
}

type confirmField struct{ Name, Value string }

// confirmed reports whether the officer confirmed the step.
func confirmed(c echo.Context) bool { return c.FormValue("confirm") == "yes" }

// withholdingForm reads the dashboard's withhold form: row keys one per
// line, columns separated by commas.
func withholdingForm(c echo.Context) office.Withholding {
	w := office.Withholding{Table: c.FormValue("table"), Reason: c.FormValue("reason")}
	for _, line := range strings.Split(c.FormValue("rows"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if !json.Valid([]byte(line)) {
			// A bare word is a one-column text key.
			b, _ := json.Marshal(line)
			line = string(b)
		}
		w.Rows = append(w.Rows, json.RawMessage(line))
	}
	for _, col := range strings.Split(c.FormValue("columns"), ",") {
		if col = strings.TrimSpace(col); col != "" {
			w.Columns = append(w.Columns, col)
		}
	}
	return w
}

// dashboardWithhold asks for confirmation, then withholds and returns
// to the request.
func (s *Server) dashboardWithhold(c echo.Context) error {
	w := withholdingForm(c)
	id := c.Param("id")
	if !confirmed(c) {
		what := "the whole table " + w.Table
		switch {
		case len(w.Rows) > 0:
			what = "the rows " + strings.TrimSpace(strings.ReplaceAll(c.FormValue("rows"), "\n", " ")) + " of " + w.Table
		case len(w.Columns) > 0:
			what = "the columns " + strings.Join(w.Columns, ", ") + " of " + w.Table
		}
		return s.confirmOnPage(c, confirmStep{
			Action: "/officer/requests/" + url.PathEscape(id) + "/withhold",
			Title:  "Withhold " + what + "?",
			Text:   "The package is rebuilt without it, and lists it as withheld with your reason: \"" + strings.TrimSpace(w.Reason) + "\". This cannot be undone.",
			Button: "Yes, withhold it",
			Fields: []confirmField{{"table", c.FormValue("table")}, {"rows", c.FormValue("rows")}, {"columns", c.FormValue("columns")}, {"reason", c.FormValue("reason")}},
		})
	}
	done := "withheld"
	_, err := s.office.Withhold(c.Request().Context(), id, w, officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(id)+"?done="+done+"#release")
}

// dashboardRelease asks for confirmation, then releases the package.
func (s *Server) dashboardRelease(c echo.Context) error {
	id := c.Param("id")
	if !confirmed(c) {
		return s.confirmOnPage(c, confirmStep{
			Action: "/officer/requests/" + url.PathEscape(id) + "/release",
			Title:  "Release the package to the requester?",
			Text:   "They are emailed the download link now, and nothing can be withheld afterwards.",
			Button: "Yes, release it",
		})
	}
	done := "released"
	_, err := s.office.Release(c.Request().Context(), id, officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(id)+"?done="+done)
}

// confirmOnPage shows the request with the confirmation of a step.
func (s *Server) confirmOnPage(c echo.Context, step confirmStep) error {
	r, err := s.store.GetRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.renderRequestWith(c, http.StatusOK, r, func(p *requestPage) { p.Confirm = &step })
}

// releaseOf is what the request page shows of a package awaiting
// release: its tables and what was withheld.
func releaseOf(r *store.Request, done *domain.Fulfilment) *domain.PackageInfo {
	if r.Status != domain.StatusAwaitingRelease || done == nil || done.Package == nil {
		return nil
	}
	return done.Package
}
