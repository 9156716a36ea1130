package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// apiClassify gives a request that arrived by email the type an officer
// read in it, and starts its workflow.
func (s *Server) apiClassify(c echo.Context) error {
	var body struct {
		Type domain.RequestType `json:"type"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	r, err := s.office.Classify(c.Request().Context(), c.Param("id"), body.Type, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOfficerRequest(r, s.now()))
}

// apiInboundMessage is the email a request arrived as (attachments listed,
// their contents left out).
func (s *Server) apiInboundMessage(c echo.Context) error {
	m, err := s.office.InboundMessage(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listedOnly(m))
}

// listedOnly drops attachments' contents from a message shown to an
// officer.
func listedOnly(m *office.InboundMail) *office.InboundMail {
	out := *m
	out.Attachments = make([]office.InboundAttachment, len(m.Attachments))
	for i, a := range m.Attachments {
		a.Content = nil
		out.Attachments[i] = a
	}
	return &out
}

func (s *Server) dashboardClassify(c echo.Context) error {
	_, err := s.office.Classify(c.Request().Context(), c.Param("id"), domain.RequestType(c.FormValue("type")), officerFrom(c).Email)
	if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=classified")
}

// inboundOf is the email a request arrived as, for its page; nil when it
// came another way.
func (s *Server) inboundOf(c echo.Context, r *store.Request) (*office.InboundMail, error) {
	m, err := s.office.InboundMessage(c.Request().Context(), r.ID)
	var missing *office.NotFoundError
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return listedOnly(m), nil
}
