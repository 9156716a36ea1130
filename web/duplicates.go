package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// Duplicates: the list and the request's page flag a request when the
// same person (the same verified address) has another open request of
// the same type; an officer closes the extra one as a duplicate of the
// one that continues (internal/office/duplicates.go).

// apiCloseDuplicate closes one request as a duplicate of another.
func (s *Server) apiCloseDuplicate(c echo.Context) error {
	var body struct {
		Of string `json:"of"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	status, err := s.office.CloseAsDuplicate(c.Request().Context(), c.Param("id"), body.Of, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "of": strings.ToUpper(strings.TrimSpace(body.Of)), "status": status})
}

// apiCloseDuplicates closes up to office.MaxBulk requests, each as a
// duplicate of the oldest other open request of the same person and
// type outside the list.
func (s *Server) apiCloseDuplicates(c echo.Context) error {
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	out, err := s.office.CloseDuplicates(c.Request().Context(), body.IDs, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"requests": out})
}

// dashboardCloseDuplicate asks for confirmation on the request's page,
// then closes the request as a duplicate and returns to it.
func (s *Server) dashboardCloseDuplicate(c echo.Context) error {
	id := c.Param("id")
	of := strings.ToUpper(strings.TrimSpace(c.FormValue("of")))
	if !confirmed(c) {
		r, err := s.store.GetRequest(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return s.confirmOnPage(c, confirmStep{
			Action: "/officer/requests/" + url.PathEscape(id) + "/duplicate",
			Title:  "Close " + r.ID + " as a duplicate of " + of + "?",
			Text: "The request is closed (status duplicate) and its clock stops; the requester is emailed that " + of +
				" continues in its place. This cannot be undone.",
			Button: "Yes, close it as a duplicate",
			Fields: []confirmField{{"of", of}},
		})
	}
	done := "closed-duplicate"
	_, err := s.office.CloseAsDuplicate(c.Request().Context(), id, of, officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(id)+"?done="+done)
}

// dashboardCloseDuplicates closes the requests ticked on the list as
// duplicates (the list's bulk form, through its second button) and
// returns to the list as it was.
func (s *Server) dashboardCloseDuplicates(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	out, err := s.office.CloseDuplicates(c.Request().Context(), form["ids"], officerFrom(c).Email)
	if err != nil {
		if code, msg, ok := problemOf(err); ok {
			return echo.NewHTTPError(code, "Nothing was closed: "+msg)
		}
		return err
	}
	var failed []string
	for _, d := range out {
		if d.Error != "" {
			failed = append(failed, d.ID+": "+d.Error)
		}
	}
	if len(failed) > 0 {
		return echo.NewHTTPError(http.StatusConflict, "Some requests were not closed: "+strings.Join(failed, "; "))
	}
	back := safeNext(c.FormValue("back"))
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, back+sep+"done=closed-duplicates")
}

// possibleDuplicates is what the list flags: each open, verified request's
// other open requests of the same person and type.
func (s *Server) possibleDuplicates(c echo.Context, rs []store.Request) (map[string][]string, error) {
	return s.store.OpenDuplicates(c.Request().Context(), rs)
}

// duplicateOptions are the requests a request's page offers to close it
// into: those its flag names.
func duplicateOptions(r *store.Request, others []string) []string {
	if !r.Status.Duplicable() || r.Type == domain.TypeUnclassified {
		return nil
	}
	return others
}
