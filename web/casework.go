package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// Case work: internal notes, assignees, and requests officers log.

// officerEmails maps every officer's id to their email, for showing
// assignees: the team is small, so one read per page is cheaper than a
// join on every query.
func (s *Server) officerEmails(ctx context.Context) (map[int64]string, error) {
	os, err := s.store.ListOfficers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(os))
	for _, o := range os {
		m[o.ID] = o.Email
	}
	return m, nil
}

func assigneeOf(r *store.Request, officers map[int64]string) string {
	if r.AssigneeID == nil {
		return ""
	}
	return officers[*r.AssigneeID]
}

// assigneeFor reads "me" as the acting officer's own email.
func assigneeFor(c echo.Context, assignee string) string {
	if assignee == "me" {
		return officerFrom(c).Email
	}
	return assignee
}

// apiAddNote adds an internal note to a request.
func (s *Server) apiAddNote(c echo.Context) error {
	var body struct {
		Body string `json:"body"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	n, err := s.office.AddNote(c.Request().Context(), c.Param("id"), body.Body, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, n)
}

// apiSendMessage writes to the requester: the message is stored sealed
// and the requester emailed that it waits on their status page.
func (s *Server) apiSendMessage(c echo.Context) error {
	var body struct {
		Body string `json:"body"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	m, err := s.office.SendMessage(c.Request().Context(), c.Param("id"), body.Body, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// apiMessages lists a request's thread with the requester, oldest first.
func (s *Server) apiMessages(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.store.GetRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	ms, err := s.office.Messages(ctx, r.ID)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []office.Message{}
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": ms})
}

// apiNotes lists a request's internal notes, oldest first.
func (s *Server) apiNotes(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.store.GetRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	ns, err := s.store.Notes(ctx, r.ID)
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []store.Note{}
	}
	return c.JSON(http.StatusOK, map[string]any{"notes": ns})
}

// assignment is the body of both assignment commands.
type assignment struct {
	IDs      []string `json:"ids,omitempty"`
	Assignee string   `json:"assignee"`
}

// apiAssign sets or clears one request's assignee.
func (s *Server) apiAssign(c echo.Context) error {
	var body struct {
		Assignee string `json:"assignee"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	to := assigneeFor(c, body.Assignee)
	changed, err := s.office.Assign(c.Request().Context(), []string{c.Param("id")}, to, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "assignee": to, "changed": changed})
}

// apiBulkAssign sets or clears the assignee of up to office.MaxBulk
// requests, all or none.
func (s *Server) apiBulkAssign(c echo.Context) error {
	var body assignment
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	to := assigneeFor(c, body.Assignee)
	changed, err := s.office.Assign(c.Request().Context(), body.IDs, to, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"assignee": to, "requests": len(body.IDs), "changed": changed})
}

// loggedRequest is the body of POST /api/v1/officer/requests.
type loggedRequest struct {
	domain.NewRequest
	Channel    domain.Channel `json:"channel"`
	ReceivedAt *time.Time     `json:"received_at,omitempty"`
	Evidence   string         `json:"evidence,omitempty"`
}

// apiLogRequest records a request that arrived by letter, phone, email or
// in person.
func (s *Server) apiLogRequest(c echo.Context) error {
	var body loggedRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	lr := office.LoggedRequest{NewRequest: body.NewRequest, Channel: body.Channel, Evidence: body.Evidence}
	if body.ReceivedAt != nil {
		lr.ReceivedAt = *body.ReceivedAt
	}
	receipt, err := s.office.LogRequest(c.Request().Context(), lr, officerFrom(c).Email)
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if receipt.Duplicate {
		code = http.StatusOK
	}
	out := toOfficerRequest(receipt.Request, s.now())
	return c.JSON(code, struct {
		officerRequest
		Duplicate bool `json:"duplicate,omitempty"`
	}{out, receipt.Duplicate})
}
