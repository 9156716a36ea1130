package web

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

func (s *Server) apiCompleteTask(c echo.Context) error {
	var body struct {
		Note string `json:"note"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	id, system := c.Param("id"), c.Param("system")
	if err := s.office.CompleteTask(c.Request().Context(), id, system, body.Note, officerFrom(c).Email); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "system": system, "completed": true})
}

func (s *Server) dashboardCompleteTask(c echo.Context) error {
	id := c.Param("id")
	if err := s.office.CompleteTask(c.Request().Context(), id, c.Param("system"), c.FormValue("note"), officerFrom(c).Email); err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(id)+"?done=task")
}
