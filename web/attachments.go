package web

import (
	"cmp"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// Attachments: identity evidence and correspondence officers attach to a
// request, and the files a request by email came with. Officers only:
// every route is behind requireOfficer or requireSession.

// uploadOverhead is what a multipart upload adds to its file: the CSRF
// token, the kind, boundaries and part headers.
const uploadOverhead = 64 << 10

func (s *Server) attachmentMax() int64 {
	return cmp.Or(s.cfg.AttachmentMaxBytes, office.DefaultAttachmentMax)
}

// isUpload: the routes that take a file bound and parse their own
// bodies (parseUpload), instead of the 64 KB every other form gets.
func isUpload(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && strings.HasSuffix(c.Path(), "/requests/:id/attachments")
}

func (s *Server) tooLarge() error {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
		"the file is larger than DSAR_ATTACHMENT_MAX_MB allows ("+formatMB(s.attachmentMax())+")")
}

// parseUpload reads an upload's multipart form into memory, bounded by
// the attachment limit: a file is never written to a temporary file in
// clear, and nothing is read past the limit. Its text fields are checked
// as every form's are.
func (s *Server) parseUpload(c echo.Context) error {
	req := c.Request()
	limit := s.attachmentMax() + uploadOverhead
	if req.ContentLength > limit {
		return s.tooLarge()
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEMultipartForm {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "post the file as multipart/form-data, in a field named file")
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
	if err := req.ParseMultipartForm(limit); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.tooLarge()
		}
		return echo.NewHTTPError(http.StatusBadRequest, "the upload is not a readable multipart form")
	}
	for k, vs := range req.MultipartForm.Value {
		if field := badValues(k, vs); field != "" {
			return badText(field)
		}
	}
	return nil
}

// addAttachment hands the uploaded file to the office.
func (s *Server) addAttachment(c echo.Context) (*store.Attachment, error) {
	form := c.Request().MultipartForm
	if form == nil {
		return nil, &domain.ValidationError{Fields: map[string]string{"file": "attach one file"}}
	}
	files := form.File["file"]
	if len(files) != 1 {
		return nil, &domain.ValidationError{Fields: map[string]string{"file": "attach one file"}}
	}
	fh := files[0]
	if fh.Size > s.attachmentMax() {
		return nil, s.tooLarge()
	}
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, s.attachmentMax()+1))
	if err != nil {
		return nil, err
	}
	return s.office.AddAttachment(c.Request().Context(), office.NewAttachment{
		RequestID: c.Param("id"), Kind: first(form.Value["kind"]), FileName: fh.Filename, Content: content,
	}, officerFrom(c).Email)
}

// apiAddAttachment attaches a file to a request.
func (s *Server) apiAddAttachment(c echo.Context) error {
	a, err := s.addAttachment(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

// apiAttachments lists a request's files.
func (s *Server) apiAttachments(c echo.Context) error {
	as, err := s.office.Attachments(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"attachments": as})
}

// downloadAttachment sends one of a request's files, to the API and the
// dashboard alike: always as a download, never shown in the page, under
// its sanitised name and its sniffed type, and not kept in caches.
func (s *Server) downloadAttachment(c echo.Context) error {
	f, err := s.office.OpenAttachment(c.Request().Context(), c.Param("id"), c.Param("attachment"), officerFrom(c).Email)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	return c.Blob(http.StatusOK, f.ContentType, f.Content)
}

// dashboardAddAttachment attaches the chosen file and returns to the
// request, or shows it again with what was wrong.
func (s *Server) dashboardAddAttachment(c echo.Context) error {
	if _, err := s.addAttachment(c); err != nil {
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return s.requestProblem(c, &domain.ValidationError{Fields: map[string]string{"file": herr.Message.(string)}}, "", "")
		}
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=attached#attachments")
}
