package web

import (
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/store"
)

// outboxLimit is how many messages the outbox shows.
const outboxLimit = 200

func (s *Server) apiOutbox(c echo.Context) error {
	ms, err := s.store.OutboxMessages(c.Request().Context(), outboxLimit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": ms})
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

type outboxEntry struct {
	store.OutboxMessage
	Links []string
}

// outboxPage shows each email's text with its links made clickable, so a
// developer can follow a verification link without a mail client.
func (s *Server) outboxPage(c echo.Context) error {
	ms, err := s.store.OutboxMessages(c.Request().Context(), outboxLimit)
	if err != nil {
		return err
	}
	entries := make([]outboxEntry, len(ms))
	for i, m := range ms {
		entries[i] = outboxEntry{OutboxMessage: m, Links: linkPattern.FindAllString(m.TextBody, -1)}
	}
	return s.render(c, http.StatusOK, "outbox", map[string]any{"Messages": entries})
}
