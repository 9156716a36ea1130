package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/mail"
)

// maxEventPost bounds one Event Webhook post; SendGrid batches events
// into posts far smaller.
const maxEventPost = 5 << 20

// sendgridEvents records SendGrid's Event Webhook: delivered, bounced
// and dropped events against each email step. The signature is checked
// on the raw body before anything is parsed; a post that fails it
// stores nothing.
func (s *Server) sendgridEvents(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > maxEventPost {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "an event post is at most 5 MB")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxEventPost))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "an event post is at most 5 MB")
		}
		return err
	}
	err = mail.VerifyEvents(s.cfg.EventWebhookKey, req.Header.Get(mail.EventSignatureHeader),
		req.Header.Get(mail.EventTimestampHeader), body, s.now())
	switch {
	case errors.Is(err, mail.ErrEventUnsigned):
		return echo.NewHTTPError(http.StatusUnauthorized, err.Error())
	case err != nil:
		return echo.NewHTTPError(http.StatusForbidden, err.Error())
	}
	events, err := mail.ParseEvents(body)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, mail.ErrEventMalformed.Error())
	}
	n, err := s.office.RecordMailEvents(req.Context(), events)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"recorded": n})
}
