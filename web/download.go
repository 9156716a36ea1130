package web

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// downloadWriteTime is how long one package download may take; the
// server's usual write timeout is for pages, not files.
const downloadWriteTime = time.Hour

type downloadPage struct {
	Request *store.Request
	Package *store.Package
	Token   string
	// Viewable is set for an access package, whose report can be read
	// in the browser.
	Viewable bool
	Title    string // catalogue IDs, set when the package cannot be downloaded
	Message  string
}

// packageByToken finds the request and package a download link is for.
// Unknown, malformed and expired links all read as not found.
func (s *Server) packageByToken(c echo.Context) (*store.Request, *store.Package, error) {
	token := c.Param("token")
	if !auth.ValidTokenShape(token) {
		return nil, nil, errNotFoundPage
	}
	ctx := c.Request().Context()
	r, err := s.store.RequestByToken(ctx, store.PurposeDownload, auth.HashToken(token), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTokenExpired) {
		return nil, nil, errNotFoundPage
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := s.store.RequestPackage(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return r, nil, nil
	}
	return r, p, err
}

// downloadInfo shows what the link gives and a button to download it.
// Opening the page uses no download, so a mail scanner following the
// link does not spend the requester's downloads.
func (s *Server) downloadInfo(c echo.Context) error {
	r, p, err := s.packageByToken(c)
	if err != nil {
		return err
	}
	page := downloadPage{Request: r, Package: p, Token: c.Param("token"), Viewable: r.Type == domain.TypeAccess}
	switch {
	case p == nil || !s.now().Before(p.ExpiresAt):
		page.Title, page.Message = "download.expired.title", "download.expired.message"
		return s.renderPublic(c, http.StatusGone, "download", requestLang(r), page)
	case p.DownloadsLeft <= 0:
		page.Title, page.Message = "download.used.title", "download.used.message"
		return s.renderPublic(c, http.StatusGone, "download", requestLang(r), page)
	}
	return s.renderPublic(c, http.StatusOK, "download", requestLang(r), page)
}

// download sends the package and counts one download.
func (s *Server) download(c echo.Context) error {
	r, p, err := s.packageByToken(c)
	if err != nil {
		return err
	}
	if p == nil {
		return s.downloadInfo(c)
	}
	ctx := c.Request().Context()
	if err := s.store.TakeDownload(ctx, p.ID, s.now()); errors.Is(err, store.ErrDownloadsUsed) || errors.Is(err, store.ErrTokenExpired) {
		return s.downloadInfo(c)
	} else if err != nil {
		return err
	}
	if err := s.sendPackage(c, p); err != nil {
		// The requester did not get the file: give the download back.
		if rerr := s.store.ReturnDownload(context.WithoutCancel(ctx), p.ID); rerr != nil {
			s.log.Warn("returning a failed download", "request_id", r.ID, "error", rerr)
		}
		return err
	}
	return s.store.Audit(context.WithoutCancel(ctx), store.AuditEvent{
		RequestID: r.ID, Actor: store.ActorRequester, Action: "package_downloaded", Detail: p.FileName, At: s.now(),
	})
}

// viewReport shows the access report in the browser: the same link, the
// same expiry and the same limit as the download, without spending one
// (reading on a phone reloads pages). Each view is audited.
func (s *Server) viewReport(c echo.Context) error {
	r, p, err := s.packageByToken(c)
	if err != nil {
		return err
	}
	if p == nil || !s.now().Before(p.ExpiresAt) || p.DownloadsLeft <= 0 || r.Type != domain.TypeAccess {
		return s.downloadInfo(c)
	}
	ctx := c.Request().Context()
	rc, size, err := export.OpenReport(ctx, s.store, s.sealer, p)
	if err != nil {
		return fmt.Errorf("opening the report of package %s: %w", p.ID, err)
	}
	defer rc.Close()
	if err := s.store.Audit(ctx, store.AuditEvent{
		RequestID: r.ID, Actor: store.ActorRequester, Action: "package_viewed", Detail: export.ReportFile, At: s.now(),
	}); err != nil {
		return err
	}
	h := c.Response().Header()
	// The report carries its own style sheet inline and no script.
	h.Set("Content-Security-Policy", export.ReportCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	h.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	return c.Stream(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, rc)
}

// sendPackage streams a package, decrypting chunk by chunk.
func (s *Server) sendPackage(c echo.Context, p *store.Package) error {
	w := c.Response()
	_ = http.NewResponseController(w).SetWriteDeadline(s.now().Add(downloadWriteTime))
	h := w.Header()
	h.Set(echo.HeaderContentType, p.ContentType)
	h.Set(echo.HeaderContentLength, strconv.FormatInt(p.Size, 10))
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": p.FileName}))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := export.Stream(c.Request().Context(), s.store, s.sealer, p, w); err != nil {
		return fmt.Errorf("sending package %s: %w", p.ID, err)
	}
	return nil
}

// officerPackage lets an officer download a request's package for review.
// It uses none of the requester's downloads and is audited.
func (s *Server) officerPackage(c echo.Context) error {
	p, err := s.officerPackageOf(c, "package_reviewed", nil)
	if err != nil {
		return err
	}
	return s.sendPackage(c, p)
}

// officerPackageOf finds the package of the request in the URL for an
// officer, refuses it once expired or when refuse (if any) says so, and
// records the officer's action on it in the trail.
func (s *Server) officerPackageOf(c echo.Context, action string, refuse func(*store.Package) error) (*store.Package, error) {
	ctx := c.Request().Context()
	r, err := s.store.GetRequest(ctx, c.Param("id"))
	if err != nil {
		return nil, err
	}
	p, err := s.store.RequestPackage(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "this request has no package (yet, or any more)")
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(p.ExpiresAt) {
		// Expired packages are deleted by the janitor; until it runs, they
		// are gone for officers as for the requester.
		return nil, echo.NewHTTPError(http.StatusGone, "this request's package expired on "+p.ExpiresAt.UTC().Format("2 January 2006, 15:04 MST")+" and is no longer kept")
	}
	if refuse != nil {
		if err := refuse(p); err != nil {
			return nil, err
		}
	}
	if err := s.store.Audit(ctx, store.AuditEvent{
		RequestID: r.ID, Actor: officerFrom(c).Email, Action: action, Detail: p.FileName, At: s.now(),
	}); err != nil {
		return nil, err
	}
	return p, nil
}
