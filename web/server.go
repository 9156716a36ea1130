// Package web is dsar's HTTP face: the public request pages, the JSON API
// for integrators and officers, the dev outbox, health checks and metrics.
package web

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

//go:embed static
var staticFiles embed.FS

// Sign-in attempts allowed per client address (signin.go adds the
// per-account backoff).
const (
	loginAttemptsPerMinute = 6
	loginAttemptsBurst     = 6
)

// Server holds what the handlers need.
type Server struct {
	cfg       *config.Config
	store     *store.Store
	office    Office
	sealer    *export.Sealer
	dataMap   func() *datamap.Map
	pages     *pages
	catalogue *i18n.Catalogue
	gatherer  prometheus.Gatherer
	now       func() time.Time
	log       *slog.Logger

	mail      mail.Sender    // password reset links; nil: resets are off
	templates *mail.Renderer // renders those emails

	loginLimit  *limiter     // sign-in attempts per client address
	signins     *signinGuard // failed sign-ins per account, with backoff
	publicLimit *limiter     // public submissions per client; nil means unlimited
	sso         *ssoProvider // officer single sign-on; nil when it is off

	inboundSender *limiter // inbound emails per sender address; nil means unlimited
	inboundTotal  *limiter // inbound emails from everyone; nil means unlimited
}

// Deps are the server's collaborators.
type Deps struct {
	Config *config.Config
	Store  *store.Store
	Office Office
	Sealer *export.Sealer
	// DataMap answers the data map breaches are checked against (nil:
	// none configured).
	DataMap func() *datamap.Map
	// Mail sends officers their password reset links (nil: no resets),
	// written with Templates (nil: the built-in ones).
	Mail      mail.Sender
	Templates *mail.Renderer
	Metrics   prometheus.Gatherer
	Now       func() time.Time
	Log       *slog.Logger
}

// New builds the server and parses its templates; a broken template fails
// here, at start.
func New(d Deps) (*Server, error) {
	cat, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	st := site{
		Organisation: d.Config.Organisation, PrivacyNoticeURL: d.Config.PrivacyNoticeURL,
		PrivacyEmail: d.Config.PrivacyEmail, PrivacyAddress: d.Config.PrivacyAddress,
		Languages: cat.Names(),
	}
	if len(d.Config.Logo) > 0 {
		st.LogoURL = "/logo"
	}
	p, err := parsePages(cat, st)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: d.Config, store: d.Store, office: d.Office, sealer: d.Sealer, dataMap: d.DataMap,
		pages: p, catalogue: cat, gatherer: d.Metrics, now: d.Now, log: d.Log, mail: d.Mail,
		loginLimit: newLimiter(loginAttemptsPerMinute, loginAttemptsBurst), signins: newSigninGuard(),
		templates: d.Templates,
	}
	if d.Config.OIDC.Enabled() {
		s.sso = newSSOProvider(d.Config.OIDC)
	}
	if d.Config.PublicRatePerMinute > 0 {
		s.publicLimit = newLimiter(d.Config.PublicRatePerMinute, d.Config.PublicRatePerMinute)
	}
	if n := d.Config.InboundRate; n > 0 {
		s.inboundSender = newLimiter(n, n)
	}
	if n := d.Config.InboundRateTotal; n > 0 {
		s.inboundTotal = newLimiter(n, n)
	}
	if d.Mail != nil && s.templates == nil {
		if s.templates, err = mail.NewRenderer(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handler returns the Echo instance with every route.
func (s *Server) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Behind a proxy, set DSAR_BASE_URL; client addresses come from the
	// connection, not from headers anyone can send.
	e.IPExtractor = echo.ExtractIPDirect()
	s.routes(e)
	return e
}

// OpsHandler serves only health, readiness and metrics: what a worker
// process exposes for its probes and for Prometheus.
func (s *Server) OpsHandler() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	s.opsRoutes(e)
	return e
}

func (s *Server) opsRoutes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})))
}

// routes declares every route in one place.
func (s *Server) routes(e *echo.Echo) {
	e.Use(middleware.Recover(), s.securityHeaders, s.accessLog)
	// SendGrid's posts carry whole emails and event batches: their
	// handlers bound and check their own bodies. The Data Rights
	// Protocol's signed messages are checked as text by internal/drp once
	// their signature verifies. Uploads are bounded by
	// the attachment limit instead, and read into memory only.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "64K", Skipper: func(c echo.Context) bool { return isWebhook(c) || isUpload(c) }}),
		func(next echo.HandlerFunc) echo.HandlerFunc {
			checked := refuseBadText(next)
			return func(c echo.Context) error {
				switch {
				case isWebhook(c) || isDRP(c):
					return next(c)
				case isUpload(c):
					if err := s.parseUpload(c); err != nil {
						return err
					}
					return next(c)
				}
				return checked(c)
			}
		})

	s.opsRoutes(e)
	e.StaticFS("/static", echo.MustSubFS(staticFiles, "static"))

	// Public pages.
	e.GET("/", s.showForm)
	if len(s.cfg.Logo) > 0 {
		e.GET("/logo", s.logo)
	}
	e.POST("/requests", s.submitForm, s.limitByClient(s.publicLimit))
	e.GET("/verify/:token", s.showVerify)
	e.POST("/verify", s.verify)
	e.GET("/status/:token", s.status)
	e.POST("/status/:token/code", s.confirmByCode, s.limitByClient(s.publicLimit))
	e.POST("/status/:token/resend", s.resendVerification, s.limitByClient(s.publicLimit))
	e.GET("/status/:token/withdraw", s.showWithdraw)
	e.POST("/status/:token/withdraw", s.withdraw, s.limitByClient(s.publicLimit))
	e.POST("/status/:token/messages", s.writeMessage, s.limitByClient(s.publicLimit))
	e.GET("/download/:token", s.downloadInfo)
	e.POST("/download/:token", s.download, s.limitByClient(s.publicLimit))
	e.GET("/download/:token/report", s.viewReport, s.limitByClient(s.publicLimit))

	api := e.Group("/api/v1")
	api.GET("/openapi.json", s.openAPI)
	api.POST("/requests", s.apiSubmit, s.limitByClient(s.publicLimit))

	officer := api.Group("/officer", s.requireOfficer)
	officer.GET("/requests", s.apiListRequests)
	officer.POST("/requests", s.apiLogRequest, requireActor)
	officer.GET("/requests.csv", s.requestsCSV)
	officer.POST("/requests/assign", s.apiBulkAssign, requireActor)
	officer.POST("/requests/duplicates", s.apiCloseDuplicates, requireActor)
	officer.GET("/requests/:id", s.apiGetRequest)
	officer.GET("/requests/:id/package", s.officerPackage)
	officer.GET("/requests/:id/preview", s.packagePreview)
	officer.POST("/requests/:id/withhold", s.apiWithhold, requireActor)
	officer.POST("/requests/:id/release", s.apiRelease, requireActor)
	officer.GET("/requests/:id/dry-run", s.apiDryRun)
	officer.POST("/requests/:id/dry-run", s.apiMakeDryRun, requireActor)
	officer.GET("/requests/:id/audit", s.auditTrail)
	officer.POST("/requests/:id/tasks/:system/complete", s.apiCompleteTask, requireActor)
	officer.POST("/requests/:id/verify", s.apiVerify, requireActor)
	officer.POST("/requests/:id/approve", s.apiApprove, requireActor)
	officer.POST("/requests/:id/deny", s.apiDeny, requireActor)
	officer.POST("/requests/:id/extend", s.apiExtend, requireActor)
	officer.POST("/requests/:id/resend-email", s.apiResendEmail, requireActor)
	officer.GET("/requests/:id/notes", s.apiNotes)
	officer.POST("/requests/:id/notes", s.apiAddNote, requireActor)
	officer.GET("/requests/:id/messages", s.apiMessages)
	officer.POST("/requests/:id/messages", s.apiSendMessage, requireActor)
	officer.POST("/requests/:id/assign", s.apiAssign, requireActor)
	officer.POST("/requests/:id/duplicate", s.apiCloseDuplicate, requireActor)
	officer.POST("/requests/:id/classify", s.apiClassify, requireActor)
	officer.GET("/requests/:id/message", s.apiInboundMessage)
	officer.GET("/requests/:id/attachments", s.apiAttachments)
	officer.POST("/requests/:id/attachments", s.apiAddAttachment, requireActor)
	officer.GET("/requests/:id/attachments/:attachment", s.downloadAttachment)
	officer.GET("/breaches", s.apiListBreaches)
	officer.POST("/breaches", s.apiRecordBreach, requireActor)
	officer.GET("/breaches/:id", s.apiGetBreach)
	officer.POST("/breaches/:id/notice", s.apiApproveNotice, requireActor)
	officer.POST("/breaches/:id/authority", s.apiAuthorityNotified, requireActor)
	officer.POST("/breaches/:id/uncertain", s.apiResolveUncertain, requireActor)
	officer.GET("/breaches/:id/report", s.breachReport)
	officer.GET("/reports/:year", s.apiReport)
	officer.GET("/holds", s.apiListHolds)
	officer.POST("/holds", s.apiPlaceHold, requireActor)
	officer.GET("/holds/:id", s.apiGetHold)
	officer.DELETE("/holds/:id", s.apiReleaseHold, requireActor)
	agentsAdmin := requireAdminFor("manage authorized agents")
	officer.GET("/drp-agents", s.apiListAgents, agentsAdmin)
	officer.POST("/drp-agents", s.apiRegisterAgent, agentsAdmin)
	officer.GET("/drp-agents/:id", s.apiGetAgent, agentsAdmin)
	officer.POST("/drp-agents/:id/revoke", s.apiRevokeAgent, agentsAdmin)

	// The officer dashboard.
	toRequests := func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/officer/requests") }
	e.GET("/officer", toRequests)
	e.GET("/officer/", toRequests)
	e.GET("/officer/login", s.showLogin)
	e.POST("/officer/login", s.login)
	e.GET("/officer/login/code", s.showLoginCode)
	e.GET("/officer/password/forgot", s.showForgotPassword)
	e.POST("/officer/password/forgot", s.forgotPassword)
	e.GET("/officer/password/reset/:token", s.showResetPassword)
	e.POST("/officer/password/reset", s.resetPassword)
	e.POST("/officer/login/code", s.loginCode)
	if s.sso != nil {
		e.GET(ssoPath, s.ssoStart)
		e.GET(config.OIDCCallbackPath, s.ssoCallback)
	}
	dash := e.Group("/officer", s.requireSession)
	dash.POST("/logout", s.logout)
	dash.GET("/requests", s.dashboardRequests)
	dash.GET("/requests.csv", s.dashboardRequestsCSV)
	dash.GET("/requests/new", s.dashboardNewRequest, requireActor)
	dash.POST("/requests", s.dashboardLogRequest, requireActor)
	dash.POST("/requests/assign", s.dashboardBulkAssign, requireActor)
	dash.POST("/requests/duplicates", s.dashboardCloseDuplicates, requireActor)
	dash.GET("/requests/:id", s.dashboardRequest)
	dash.GET("/requests/:id/package", s.officerPackage)
	dash.GET("/requests/:id/preview", s.packagePreview)
	dash.POST("/requests/:id/withhold", s.dashboardWithhold, requireActor)
	dash.POST("/requests/:id/release", s.dashboardRelease, requireActor)
	dash.POST("/requests/:id/dry-run", s.dashboardMakeDryRun, requireActor)
	dash.GET("/requests/:id/audit", s.auditTrail)
	dash.POST("/requests/:id/tasks/:system/complete", s.dashboardCompleteTask, requireActor)
	dash.POST("/requests/:id/verify", s.dashboardVerify, requireActor)
	dash.POST("/requests/:id/approve", s.dashboardApprove, requireActor)
	dash.POST("/requests/:id/deny", s.dashboardDeny, requireActor)
	dash.POST("/requests/:id/extend", s.dashboardExtend, requireActor)
	dash.POST("/requests/:id/resend-email", s.dashboardResendEmail, requireActor)
	dash.POST("/requests/:id/notes", s.dashboardAddNote, requireActor)
	dash.POST("/requests/:id/messages", s.dashboardSendMessage, requireActor)
	dash.POST("/requests/:id/assign", s.dashboardAssign, requireActor)
	dash.POST("/requests/:id/duplicate", s.dashboardCloseDuplicate, requireActor)
	dash.POST("/requests/:id/classify", s.dashboardClassify, requireActor)
	dash.POST("/requests/:id/attachments", s.dashboardAddAttachment, requireActor)
	dash.GET("/requests/:id/attachments/:attachment", s.downloadAttachment)
	dash.GET("/metrics", s.dashboardMetrics)
	dash.GET("/metrics.csv", s.dashboardMetricsCSV)
	dash.GET("/reports/:year", s.dashboardReport)
	dash.GET("/breaches", s.dashboardBreaches)
	dash.GET("/breaches/new", s.dashboardNewBreach, requireActor)
	dash.POST("/breaches", s.dashboardRecordBreach, requireActor)
	dash.GET("/breaches/:id", s.dashboardBreach)
	dash.GET("/breaches/:id/report", s.breachReport)
	dash.GET("/breaches/:id/progress", s.dashboardBreachProgress)
	dash.POST("/breaches/:id/notice", s.dashboardApproveNotice, requireActor)
	dash.POST("/breaches/:id/authority", s.dashboardAuthorityNotified, requireActor)
	dash.POST("/breaches/:id/uncertain", s.dashboardResolveUncertain, requireActor)
	dash.GET("/holds", s.dashboardHolds)
	dash.POST("/holds", s.dashboardPlaceHold, requireActor)
	dash.POST("/holds/:id/release", s.dashboardReleaseHold, requireActor)
	dash.GET("/tokens", s.dashboardTokens)
	dash.POST("/tokens", s.dashboardCreateToken)
	dash.POST("/tokens/:id/revoke", s.dashboardRevokeToken)
	dash.GET("/officers", s.dashboardOfficers, requireAdmin)
	dash.POST("/officers", s.dashboardAddOfficer, requireAdmin)
	dash.POST("/officers/:id/active", s.dashboardSetOfficerActive, requireAdmin)
	dash.POST("/officers/:id/totp/reset", s.dashboardResetTOTP, requireAdmin)
	dash.POST("/officers/require-totp", s.dashboardRequireTOTP, requireAdmin)
	dash.GET("/agents", s.dashboardAgents, agentsAdmin)
	dash.POST("/agents", s.dashboardRegisterAgent, agentsAdmin)
	dash.POST("/agents/:id/revoke", s.dashboardRevokeAgent, agentsAdmin)
	dash.GET("/security", s.dashboardSecurity)
	dash.POST("/security/totp", s.dashboardEnrolTOTP)
	dash.POST("/security/totp/disable", s.dashboardDisableTOTP)
	dash.POST("/security/recovery-codes", s.dashboardNewRecoveryCodes)

	// SendGrid's webhooks, each off until configured.
	if s.cfg.InboundSecret != "" {
		e.POST("/inbound/sendgrid", s.inboundSendGrid)
		e.POST("/inbound/sendgrid/:secret", s.inboundSendGrid)
	}
	if s.cfg.EventWebhookKey != nil {
		e.POST("/events/sendgrid", s.sendgridEvents)
	}
	// The Data Rights Protocol, on once this business has its ID.
	if s.cfg.DRPBusinessID != "" {
		s.drpRoutes(e)
	}

	if s.cfg.DevMode {
		e.GET("/dev/outbox", s.outboxPage)
		api.GET("/dev/outbox", s.apiOutbox)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports ready only when the database and Temporal both answer.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], ready = "unreachable", false
	}
	if err := s.office.Ready(ctx); err != nil {
		checks["temporal"], ready = "unreachable", false
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	return c.JSON(code, checks)
}

// securityHeaders keeps pages from being framed, sniffed or leaking their
// token-bearing URLs through the Referer header, and allows no inline
// script.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin: token-bearing URLs never reach another site, and
		// browsers still send a real Origin on our own form posts, which
		// the dashboard's CSRF check relies on (no-referrer makes it "null").
		h.Set("Referrer-Policy", "same-origin")
		if c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// accessLog logs each request by route pattern, never the raw path: paths
// carry tokens.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Info("http", "method", c.Request().Method, "route", c.Path(),
			"status", c.Response().Status, "duration_ms", time.Since(start).Milliseconds())
		return nil
	}
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// handleError maps errors to status codes, once for every handler:
// validation → 400, not found → 404, a refused command → 409 with its
// reason, a command still being carried out → 202, the workflow service
// down → 503, Echo's own errors keep their code, anything else is a 500
// whose detail stays in the log.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, office.ErrStillProcessing) && isAPI(c) {
		_ = c.JSON(http.StatusAccepted, map[string]string{"id": c.Param("id"), "status": "processing"})
		return
	}
	code, body := http.StatusInternalServerError, apiError{Error: "internal error"}
	var verr *domain.ValidationError
	var herr *echo.HTTPError
	if pc, msg, ok := problemOf(err); ok {
		code, body.Error = pc, msg
		if errors.As(err, &verr) {
			body = apiError{Error: "invalid input", Fields: verr.Fields}
		}
		if errors.Is(err, office.ErrUnavailable) {
			s.log.Warn("workflow service unavailable", "route", c.Path(), "error", err)
		}
	} else if errors.As(err, &herr) {
		code = herr.Code
		body.Error = http.StatusText(code)
		if msg, ok := herr.Message.(string); ok {
			body.Error = msg
		}
	} else {
		s.log.Error("request failed", "route", c.Path(), "error", err)
	}
	if isAPI(c) {
		_ = c.JSON(code, body)
		return
	}
	if !strings.HasPrefix(c.Request().URL.Path, "/officer/") {
		// A requester's error page is in their language, so it says
		// what happened in the catalogue's words, by status code.
		lang := i18n.Negotiate("", c.Request().Header.Get("Accept-Language"))
		if err := s.renderPublic(c, code, "error", lang, publicErrorOf(code)); err != nil {
			s.log.Error("rendering an error page", "error", err)
			_ = c.String(code, body.Error)
		}
		return
	}
	if err := s.render(c, code, "officer/error", errorPage{Title: http.StatusText(code), Message: body.Error}); err != nil {
		s.log.Error("rendering an error page", "error", err)
		_ = c.String(code, body.Error)
	}
}

// problemOf is what an officer or client is told of a failed command:
// its status code and message; ok is false for errors nobody outside
// can act on.
func problemOf(err error) (code int, msg string, ok bool) {
	var verr *domain.ValidationError
	var refused *office.RefusedError
	var missing *office.NotFoundError
	var limit *office.LimitError
	switch {
	case errors.As(err, &verr):
		return http.StatusBadRequest, verr.Summary(), true
	case errors.As(err, &missing):
		return http.StatusNotFound, missing.What, true
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found", true
	case errors.As(err, &refused):
		return http.StatusConflict, refused.Reason, true
	case errors.As(err, &limit):
		return http.StatusTooManyRequests, limit.Reason, true
	case errors.Is(err, office.ErrUnavailable):
		return http.StatusServiceUnavailable, office.ErrUnavailable.Error(), true
	case errors.Is(err, office.ErrStillProcessing):
		return http.StatusAccepted, "accepted; it is still being carried out", true
	}
	return 0, "", false
}

// publicErrorOf is the catalogue's title and message for a status code.
func publicErrorOf(code int) publicErrorPage {
	key := "other"
	switch {
	case code == http.StatusNotFound, code == http.StatusGone, code == http.StatusMethodNotAllowed:
		key = "not_found"
	case code == http.StatusTooManyRequests:
		key = "too_many"
	case code == http.StatusServiceUnavailable:
		key = "unavailable"
	case code >= 400 && code < 500:
		key = "bad_request"
	}
	return publicErrorPage{Title: "error." + key + ".title", Message: "error." + key + ".message"}
}

// logo serves the organisation's logo, read at start (DSAR_LOGO), to
// the public pages and the emails.
func (s *Server) logo(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, s.cfg.LogoType, s.cfg.Logo)
}

// isAPI: the JSON API, SendGrid's webhooks and the Data Rights
// Protocol answer errors in JSON.
func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || isWebhook(c) || isDRP(c)
}

func isWebhook(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/inbound/") || strings.HasPrefix(p, "/events/")
}

//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the API's description; a test keeps it in step with the
// routes.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
