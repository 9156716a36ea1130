package web

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
)

// inboundReceived answers SendGrid's Inbound Parse post. SendGrid reads
// only the status (2xx: delivered; anything else: tried again).
type inboundReceived struct {
	ID        string `json:"id,omitempty"`
	Type      string `json:"type,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Ignored   string `json:"ignored,omitempty"`
}

// inboundSendGrid turns an email to the privacy address, as SendGrid's
// Inbound Parse posts it (multipart/form-data), into a request. The
// secret is checked before the body is read, the body is bounded by
// DSAR_INBOUND_MAX_MB, posts are limited per sender address
// (DSAR_INBOUND_RATE) and in all (DSAR_INBOUND_RATE_TOTAL), and a post
// that is refused stores nothing.
func (s *Server) inboundSendGrid(c echo.Context) error {
	if !s.inboundAuthorized(c) {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="dsar inbound mail"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "the inbound secret is missing or wrong")
	}
	// Everyone's limit before the body is read: a flood costs no parsing.
	if err := s.limitInbound(c, s.inboundTotal, "all", "in all"); err != nil {
		return err
	}
	req := c.Request()
	max := s.cfg.InboundMaxBytes
	tooLarge := echo.NewHTTPError(http.StatusRequestEntityTooLarge,
		"the email is larger than DSAR_INBOUND_MAX_MB allows ("+formatMB(max)+")")
	if req.ContentLength > max {
		return tooLarge
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEMultipartForm {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "post the email as multipart/form-data, as SendGrid's Inbound Parse does")
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, max)
	// The whole post is bounded by max, so holding it in memory is too.
	if err := req.ParseMultipartForm(max); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || strings.Contains(err.Error(), "request body too large") {
			return tooLarge
		}
		return echo.NewHTTPError(http.StatusBadRequest, "the post is not a readable multipart form")
	}
	defer req.MultipartForm.RemoveAll()
	form := req.MultipartForm
	if len(form.Value["from"]) == 0 && len(form.Value["envelope"]) == 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "not an Inbound Parse post: it has neither from nor envelope")
	}
	var charsets map[string]string
	_ = json.Unmarshal([]byte(first(form.Value["charsets"])), &charsets) // absent or broken: UTF-8
	// The fields of SendGrid's default (not raw MIME) post that dsar keeps.
	get := func(k string) string { return toUTF8(first(form.Value[k]), charsets[k]) }
	m := office.InboundMail{
		From: get("from"), To: get("to"), Cc: get("cc"), Subject: get("subject"), Text: get("text"),
		HTML: get("html"), Headers: get("headers"), Envelope: get("envelope"), SPF: get("SPF"), DKIM: get("dkim"),
	}
	sender, _, _ := m.Sender()
	if err := s.limitInbound(c, s.inboundSender, strings.ToLower(sender), "from this sender"); err != nil {
		return err
	}
	if automatic(m.Headers, m.Envelope) {
		// An auto-reply or a bounce to the privacy address is not a
		// request; answering 2xx stops SendGrid trying again.
		return c.JSON(http.StatusOK, inboundReceived{Ignored: "automatic reply or bounce"})
	}
	var info map[string]struct {
		Filename string `json:"filename"`
		Type     string `json:"type"`
	}
	_ = json.Unmarshal([]byte(first(form.Value["attachment-info"])), &info)
	for _, field := range slices.Sorted(maps.Keys(form.File)) {
		for _, fh := range form.File[field] {
			f, err := fh.Open()
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "an attachment could not be read")
			}
			content := make([]byte, fh.Size)
			_, err = io.ReadFull(f, content)
			f.Close()
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "an attachment could not be read")
			}
			a := office.InboundAttachment{Name: fh.Filename, Type: fh.Header.Get(echo.HeaderContentType), Size: int64(len(content)), Content: content}
			if i, ok := info[field]; ok {
				a.Name, a.Type = cmp.Or(i.Filename, a.Name), cmp.Or(i.Type, a.Type)
			}
			m.Attachments = append(m.Attachments, a)
		}
	}
	receipt, err := s.office.SubmitInbound(req.Context(), m)
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		// Mail dsar cannot answer (no address it can write to): taken and
		// dropped, or SendGrid would post it again for days.
		s.log.Info("inbound email ignored", "reason", "unusable sender")
		return c.JSON(http.StatusOK, inboundReceived{Ignored: "the sender's address is not one dsar can write to"})
	}
	if err != nil {
		return err
	}
	r := receipt.Request
	return c.JSON(http.StatusOK, inboundReceived{ID: r.ID, Type: string(r.Type), Duplicate: receipt.Duplicate})
}

// inboundAuthorized checks the secret in the path, or as the password
// of basic auth, in constant time.
func (s *Server) inboundAuthorized(c echo.Context) bool {
	given := c.Param("secret")
	if given == "" {
		_, pass, ok := c.Request().BasicAuth()
		if !ok {
			return false
		}
		given = pass
	}
	want := sha256.Sum256([]byte(s.cfg.InboundSecret))
	got := sha256.Sum256([]byte(given))
	return s.cfg.InboundSecret != "" && subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// automatic reports whether a message is an automatic one: a bounce (an
// empty envelope sender) or one marked Auto-Submitted (RFC 3834), which
// must not become a request nor be answered.
func automatic(headers, envelope string) bool {
	var env struct {
		From *string `json:"from"`
	}
	if json.Unmarshal([]byte(envelope), &env) == nil && env.From != nil && strings.Trim(*env.From, "<> ") == "" {
		return true
	}
	msg, err := netmail.ReadMessage(strings.NewReader(strings.TrimRight(headers, "\r\n") + "\r\n\r\n"))
	if err != nil {
		return false
	}
	as := strings.ToLower(strings.TrimSpace(msg.Header.Get("Auto-Submitted")))
	return as != "" && as != "no"
}

// toUTF8 reads a field in the charset SendGrid names for it. Latin-1 is
// decoded; anything else that is not valid UTF-8 keeps its valid parts.
func toUTF8(v, charset string) string {
	if utf8.ValidString(v) {
		return v
	}
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "windows-1252", "us-ascii":
		r := make([]rune, len(v))
		for i := 0; i < len(v); i++ {
			r[i] = rune(v[i])
		}
		return string(r)
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func formatMB(n int64) string { return strconv.Itoa(int(n>>20)) + " MB" }
