package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// maxTaskNoteLen bounds an officer's note on a manual task, which the
// requester reads in the completion email.
const maxTaskNoteLen = 1000

// completeTask records that an officer did a manual task and tells the
// workflow. The note says what was done; the requester reads it.
func (s *Server) completeTask(c echo.Context, requestID, system, note string) error {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return &domain.ValidationError{Fields: map[string]string{"note": "say what you did in " + system + "; the requester reads it"}}
	case utf8.RuneCountInString(note) > maxTaskNoteLen:
		return &domain.ValidationError{Fields: map[string]string{"note": "at most " + strconv.Itoa(maxTaskNoteLen) + " characters"}}
	}
	ctx := c.Request().Context()
	tasks, err := s.store.Tasks(ctx, requestID)
	if err != nil {
		return err
	}
	kind := ""
	for _, t := range tasks {
		if t.System == system {
			kind = t.Kind
		}
	}
	switch kind {
	case "":
		return echo.NewHTTPError(http.StatusNotFound, "Request "+requestID+" has no task for "+system+".")
	case "webhook":
		return echo.NewHTTPError(http.StatusConflict, system+" is a webhook; dsar completes it when the system answers.")
	}
	err = s.store.CompleteTask(ctx, store.Task{RequestID: requestID, System: system, DoneBy: officerFrom(c).Email, Note: note}, s.now())
	if errors.Is(err, store.ErrTaskDone) {
		return echo.NewHTTPError(http.StatusConflict, "The task in "+system+" was already completed.")
	}
	if err != nil {
		return err
	}
	if err := s.intake.SignalTaskCompleted(ctx, requestID, system); err != nil {
		s.log.Warn("task completion stored; the workflow will find it at its next check", "request_id", requestID, "error", err)
	}
	return nil
}

func (s *Server) apiCompleteTask(c echo.Context) error {
	var body struct {
		Note string `json:"note"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	r, err := s.store.GetRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.completeTask(c, r.ID, c.Param("system"), body.Note); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": r.ID, "system": c.Param("system"), "completed": true})
}

func (s *Server) dashboardCompleteTask(c echo.Context) error {
	r, err := s.store.GetRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	err = s.completeTask(c, r.ID, c.Param("system"), c.FormValue("note"))
	var verr *domain.ValidationError
	var herr *echo.HTTPError
	switch {
	case errors.As(err, &verr):
		return s.renderRequest(c, http.StatusBadRequest, r, verr.Fields["note"], "")
	case errors.As(err, &herr):
		msg, _ := herr.Message.(string)
		return s.renderRequest(c, herr.Code, r, msg, "")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(r.ID)+"?done=task")
}
