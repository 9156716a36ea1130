package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// chrome is what every dashboard page shows around its content.
type chrome struct {
	Officer *store.Officer
	CSRF    string
	Dev     bool
	Nav     string // the section the page belongs to
	Flash   string
}

func (s *Server) chrome(c echo.Context, nav string) chrome {
	return chrome{
		Officer: officerFrom(c), CSRF: sessionFrom(c).CSRFToken, Dev: s.cfg.DevMode, Nav: nav,
		Flash: flashes[c.QueryParam("done")],
	}
}

// flashes are the only messages a redirect can ask a page to show, so a
// crafted link cannot put words on the dashboard.
var flashes = map[string]string{
	"approved":           "Approved. The requester has been emailed.",
	"built":              "Approved. The package is built and waits for your preview and release; the requester has not been told yet.",
	"withheld":           "Withheld. The package was rebuilt without it and lists it with your reason; preview it again before releasing.",
	"released":           "Released. The requester has been emailed the download link.",
	"dry-run":            "Dry run made. Nothing was changed; check what approving would do below, then confirm it.",
	"dry-run-processing": "The dry run is still being worked out; reload the page in a moment.",
	"denied":             "Denied. The requester has been emailed the reason.",
	"processing":         "Accepted. It is being carried out and the list will show it shortly.",
	"verified":           "Identity verified. The request moves to review in a moment.",
	"resent":             "The refused emails were sent again.",
	"classified":         "Classified. The request's workflow has started and the requester is being emailed.",
	"resend-refused":     "The provider refused the email again: check the address.",
	"extended":           "Deadline extended. The requester has been emailed the new date and your reason.",
	"officer-added":      "Officer added.",
	"agent-registered":   "Agent registered. It can now set up its token and send requests.",
	"agent-revoked":      "Agent revoked. Its tokens no longer work.",
	"breach-recorded":    "Breach recorded. Its 72 hours run from the moment of awareness; dsar is finding the people affected.",
	"notice-approved":    "Notice approved. It is being sent to everyone affected; progress shows below.",
	"authority-recorded": "The authority's notification is recorded.",
	"uncertain-resolved": "Recorded. The fan-out finishes in a moment.",
	"officer-saved":      "Officer updated.",
	"totp-reset":         "Two-factor sign-in reset. The officer sets it up again with their next sign-in.",
	"noted":              "Note added. Only officers can read it.",
	"attached":           "File attached. Only officers can download it.",
	"message_sent":       "Message sent. The requester was emailed that it waits on their status page.",
	"assigned":           "Assignment saved.",
	"logged":             "Request logged. Its clock runs from the date it was received.",
	"duplicate":          "The same request was logged or submitted moments ago: this is that one, and nothing new was stored.",
	"closed-duplicate":   "Closed as a duplicate. The requester has been emailed which request continues.",
	"closed-duplicates":  "The ticked requests were closed as duplicates. Each requester has been emailed which request continues.",
}

// dueBadge is a request's clock as a badge: days left, coloured by urgency.
type dueBadge struct {
	Text  string
	Class string // overdue, urgent, soon, ok, closed
}

func deadlineOf(r *store.Request, now time.Time) dueBadge {
	if r.Status.Final() {
		return dueBadge{Text: "closed", Class: "closed"}
	}
	remaining := r.DueAt.Sub(now)
	if remaining <= 0 {
		late := int(-remaining.Hours() / 24)
		if late == 0 {
			return dueBadge{Text: "overdue", Class: "overdue"}
		}
		return dueBadge{Text: plural(late, "day") + " overdue", Class: "overdue"}
	}
	days := int(math.Ceil(remaining.Hours() / 24))
	switch {
	case days <= 3:
		return dueBadge{Text: plural(days, "day") + " left", Class: "urgent"}
	case days <= 7:
		return dueBadge{Text: plural(days, "day") + " left", Class: "soon"}
	}
	return dueBadge{Text: plural(days, "day") + " left", Class: "ok"}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

type requestRow struct {
	store.Request
	Deadline dueBadge
	Assignee string
	// Duplicates are the other open requests of the same type from the
	// same verified address.
	Duplicates []string
}

type requestsPage struct {
	chrome
	Rows     []requestRow
	Statuses []domain.Status
	Types    []typeOption
	Regimes  []deadline.Regime
	Sorts    []sortOption
	Filter   requestsFilter
	Overdue  int // on this page
	Total    int64
	// Next, Prev and CSV are links that keep the filters.
	Next, Prev, CSV string
	Problems        map[string]string
	// Officers are who requests can be assigned to; Here is the list's
	// own link, to come back to after a bulk assignment.
	Officers []store.Officer
	Here     string
	CanAct   bool
}

type sortOption struct {
	Value store.RequestSort
	Label string
}

var sortOptions = []sortOption{
	{store.SortDue, "Due, soonest first"}, {store.SortDueDesc, "Due, latest first"},
	{store.SortReceived, "Received, oldest first"}, {store.SortReceivedDesc, "Received, newest first"},
}

// requestsFilter is the list's query and whether closed requests are
// included when nothing else asks for them.
type requestsFilter struct {
	listQuery
	All bool
}

// openOnly: without a status, a search or "include closed", the list is
// the officer's work, open requests.
func (f requestsFilter) openOnly() bool { return !f.All && f.Status == "" && f.Q == "" }

func (f requestsFilter) link(path, cursor string) string {
	v := f.values()
	if f.All {
		v.Set("all", "1")
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// typeOption is a request type in the dashboard's filters.
type typeOption struct {
	Value domain.RequestType
	Label string
}

func (s *Server) dashboardRequests(c echo.Context) error {
	q, f, err := s.parseListQuery(c)
	filter := requestsFilter{listQuery: q, All: c.QueryParam("all") == "1"}
	p := requestsPage{chrome: s.chrome(c, "requests"), Statuses: domain.Statuses, Regimes: deadline.Regimes, Sorts: sortOptions, Filter: filter,
		CanAct: officerFrom(c).Role.CanAct()}
	officers, oerr := s.assigneeOptions(c)
	if oerr != nil {
		return oerr
	}
	p.Officers = officers
	for _, t := range append(slices.Clone(domain.RequestTypes), domain.TypeUnclassified) {
		p.Types = append(p.Types, typeOption{Value: t, Label: t.Label()})
	}
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		p.Problems = verr.Fields
		return s.render(c, http.StatusBadRequest, "officer/requests", p)
	}
	if err != nil {
		return err
	}
	f.Open = filter.openOnly()
	page, err := s.store.PageRequests(c.Request().Context(), f)
	if errors.Is(err, store.ErrBadCursor) {
		p.Problems = map[string]string{"cursor": err.Error()}
		return s.render(c, http.StatusBadRequest, "officer/requests", p)
	}
	if err != nil {
		return err
	}
	rs := page.Requests
	// A reference typed in full goes straight to its request.
	if len(rs) == 1 && strings.EqualFold(rs[0].ID, q.Q) {
		return c.Redirect(http.StatusSeeOther, "/officer/requests/"+rs[0].ID)
	}
	emails, err := s.officerEmails(c.Request().Context())
	if err != nil {
		return err
	}
	dups, err := s.possibleDuplicates(c, rs)
	if err != nil {
		return err
	}
	now := s.now()
	p.Total = page.Total
	p.Here = filter.link("/officer/requests", q.Cursor)
	for i := range rs {
		row := requestRow{Request: rs[i], Deadline: deadlineOf(&rs[i], now), Assignee: assigneeOf(&rs[i], emails), Duplicates: dups[rs[i].ID]}
		if row.Deadline.Class == "overdue" {
			p.Overdue++
		}
		p.Rows = append(p.Rows, row)
	}
	if page.Next != nil {
		p.Next = filter.link("/officer/requests", page.Next.String())
	}
	if page.Prev != nil {
		p.Prev = filter.link("/officer/requests", page.Prev.String())
	}
	p.CSV = filter.link("/officer/requests.csv", "")
	return s.render(c, http.StatusOK, "officer/requests", p)
}

type requestPage struct {
	chrome
	Request  *store.Request
	Deadline dueBadge
	Timeline []store.AuditEvent
	Findings []store.Finding
	Done     *domain.Fulfilment
	Package  *store.Package // the package still kept for download, if any
	Tasks    []store.Task
	// Retained and Deferred are what a deletion left for the law;
	// HeldEnded says, per system, when what a hold deferred there was
	// erased once the holds ended.
	Retained  []store.RetainedGroup
	Deferred  []deferredPart
	HeldEnded map[string]string
	CanAct    bool
	Searched  bool // discovery has run (findings may still be none)
	CanDecide bool // in review, and the officer may act
	CanVerify bool // waiting for the requester's link, and the officer may act
	CanExtend bool // open, not yet extended, inside the first period
	Notes     []store.Note
	// Messages are the thread with the requester; WithdrawalReason what
	// the requester gave for withdrawing.
	Messages         []office.Message
	WithdrawalReason string
	Assignee         string          // the assignee's email, if any
	Officers         []store.Officer // who it can be assigned to
	// Message is the email the request arrived as; Classifiable the
	// types an officer may give it while it is unclassified.
	Message      *office.InboundMail
	Classifiable []domain.RequestType
	MailEvents   []store.MailEvent
	// Attachments are the request's files: officers' uploads and what
	// came by email.
	Attachments     []office.AttachmentInfo
	AttachmentKinds []string
	AttachmentMax   int64
	Error           string
	Reason          string
	// ExtensionReason is kept when an extension was refused.
	ExtensionReason string
	// Release is the package awaiting the officer's release, if any;
	// Withholds what was withheld from it.
	Release   *domain.PackageInfo
	Withholds []store.Withhold
	// Confirm asks the officer to confirm an irreversible step.
	Confirm *confirmStep
	// Duplicates are the other open requests of the same type from the
	// same verified address; DuplicateInto those the officer may close
	// this one into (none once it was approved or closed).
	Duplicates    []string
	DuplicateInto []string
	// DryRunRequired is set when approving the deletion or correction
	// in review confirms a dry run; DryRun is the latest, if any.
	DryRunRequired bool
	DryRun         *domain.DryRun
}

// heldEnded says, per system, when the part holds deferred there was
// erased: the "Held" column of what was done then reads as the final
// state, not as rows still held.
func heldEnded(parts []deferredPart) map[string]string {
	out := map[string]string{}
	for _, p := range parts {
		if p.State == deferredErased {
			out[p.SystemName] = "erased " + p.ResumedAt.UTC().Format("2 January 2006")
		}
	}
	return out
}

func (s *Server) dashboardRequest(c echo.Context) error {
	r, err := s.store.GetRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.renderRequest(c, http.StatusOK, r, "", "")
}

func (s *Server) renderRequest(c echo.Context, code int, r *store.Request, problem, reason string) error {
	return s.renderRequestPage(c, code, r, problem, reason, "")
}

func (s *Server) renderRequestPage(c echo.Context, code int, r *store.Request, problem, reason, extensionReason string) error {
	return s.renderRequestWith(c, code, r, func(p *requestPage) {
		p.Error, p.Reason, p.ExtensionReason = problem, reason, extensionReason
	})
}

// renderRequestWith shows a request's page, set up further by more.
func (s *Server) renderRequestWith(c echo.Context, code int, r *store.Request, more func(*requestPage)) error {
	ctx := c.Request().Context()
	timeline, err := s.store.Timeline(ctx, r.ID)
	if err != nil {
		return err
	}
	findings, done, err := s.fulfilmentOf(ctx, r.ID)
	if err != nil {
		return err
	}
	pkg, err := s.store.RequestPackage(ctx, r.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	tasks, err := s.store.Tasks(ctx, r.ID)
	if err != nil {
		return err
	}
	retained, deferred, err := s.keptByLaw(ctx, r.ID)
	if err != nil {
		return err
	}
	notes, err := s.store.Notes(ctx, r.ID)
	if err != nil {
		return err
	}
	emails, err := s.officerEmails(ctx)
	if err != nil {
		return err
	}
	acting, err := s.assigneeOptions(c)
	if err != nil {
		return err
	}
	msg, err := s.inboundOf(c, r)
	if err != nil {
		return err
	}
	events, err := s.store.MailEvents(ctx, r.ID)
	if err != nil {
		return err
	}
	attachments, err := s.office.Attachments(ctx, r.ID)
	if err != nil {
		return err
	}
	messages, err := s.office.Messages(ctx, r.ID)
	if err != nil {
		return err
	}
	withdrawalReason, err := s.office.WithdrawalReason(r)
	if err != nil {
		return err
	}
	var classifiable []domain.RequestType
	if r.Type == domain.TypeUnclassified && officerFrom(c).Role.CanAct() {
		classifiable = domain.Classifiable
	}
	withholds, err := s.store.Withholds(ctx, r.ID)
	if err != nil {
		return err
	}
	dups, err := s.office.OpenDuplicates(ctx, r)
	if err != nil {
		return err
	}
	now := s.now()
	page := requestPage{
		Release: releaseOf(r, done), Withholds: withholds,
		Duplicates: dups,
		Notes:      notes, Assignee: assigneeOf(r, emails), Officers: acting,
		Messages: messages, WithdrawalReason: withdrawalReason,
		Message: msg, Classifiable: classifiable, MailEvents: events,
		Attachments: attachments, AttachmentKinds: office.AttachmentKinds, AttachmentMax: s.attachmentMax(),
		chrome: s.chrome(c, "requests"), Request: r, Deadline: deadlineOf(r, s.now()), Timeline: timeline,
		Findings: findings, Done: done, Package: pkg, Tasks: tasks, Retained: retained, Deferred: deferred, HeldEnded: heldEnded(deferred),
		CanAct:    officerFrom(c).Role.CanAct(),
		Searched:  slices.ContainsFunc(timeline, func(e store.AuditEvent) bool { return e.Action == "discovered" }),
		CanDecide: officerFrom(c).Role.CanAct() && r.Status == domain.StatusInReview,
		CanVerify: officerFrom(c).Role.CanAct() && r.Status == domain.StatusVerifying && r.VerifiedAt == nil,
		CanExtend: officerFrom(c).Role.CanAct() && domain.ExtensionRefused(r.Type, r.Status, r.ExtendedAt != nil, r.NoticeBy(), now) == nil,
	}
	if page.CanAct {
		page.DuplicateInto = duplicateOptions(r, dups)
	}
	if err := s.dryRunOf(c, &page); err != nil {
		return err
	}
	more(&page)
	return s.render(c, code, "officer/request", page)
}

func (s *Server) dashboardApprove(c echo.Context) error {
	if c.FormValue("dry_run_id") != "" {
		return s.dashboardConfirm(c)
	}
	return s.dashboardDecide(c, true, "", "approved")
}

func (s *Server) dashboardDeny(c echo.Context) error {
	return s.dashboardDecide(c, false, c.FormValue("reason"), "denied")
}

// dashboardDecide carries out a decision and returns to the request with
// the outcome, or shows the request again with the reason it was refused.
func (s *Server) dashboardDecide(c echo.Context, approve bool, reason, done string) error {
	ctx := c.Request().Context()
	status, err := s.office.Decide(ctx, c.Param("id"), approve, reason, officerFrom(c).Email)
	if status == domain.StatusAwaitingRelease {
		done = "built"
	}
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, reason, "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done="+done)
}

// requestProblem shows the request again with what was wrong with a
// command; errors no officer can act on go to the error handler.
func (s *Server) requestProblem(c echo.Context, err error, denyReason, extendReason string) error {
	code, msg, ok := problemOf(err)
	if !ok {
		return err
	}
	r, gerr := s.store.GetRequest(c.Request().Context(), c.Param("id"))
	if gerr != nil {
		return gerr
	}
	return s.renderRequestPage(c, code, r, msg, denyReason, extendReason)
}

// dashboardExtend extends the request's deadline and returns to it, or
// shows it again with the reason the extension was refused.
func (s *Server) dashboardExtend(c echo.Context) error {
	reason := c.FormValue("reason")
	done := "extended"
	_, err := s.office.Extend(c.Request().Context(), c.Param("id"), reason, officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", reason)
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done="+done)
}

// dashboardVerify records that the officer proved the requester's identity
// by other means, then tells the workflow, which moves the request to
// review.
func (s *Server) dashboardVerify(c echo.Context) error {
	err := s.office.VerifyWithAttachment(c.Request().Context(), c.Param("id"), c.FormValue("evidence"), c.FormValue("attachment"), officerFrom(c).Email)
	if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done=verified")
}

// dashboardResendEmail corrects the requester's address, when given, and
// sends the refused emails again.
func (s *Server) dashboardResendEmail(c echo.Context) error {
	res, err := s.office.ResendEmail(c.Request().Context(), c.Param("id"), c.FormValue("email"), officerFrom(c).Email)
	done := "resent"
	switch {
	case errors.Is(err, office.ErrStillProcessing):
		done = "processing"
	case err != nil:
		return s.requestProblem(c, err, "", "")
	case len(res.Refused) > 0:
		done = "resend-refused"
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done="+done)
}

// requireAdmin admits admins only: they manage the officers.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if officerFrom(c).Role != store.RoleAdmin {
			return echo.NewHTTPError(http.StatusForbidden, "Only an admin may manage officers.")
		}
		return next(c)
	}
}

type officersPage struct {
	chrome
	Officers    []store.Officer
	Roles       []store.Role
	RequireTOTP bool
	Form        struct{ Email, Role string }
	Errors      map[string]string
}

func (s *Server) officersPage(c echo.Context, code int, p officersPage) error {
	os, err := s.store.ListOfficers(c.Request().Context())
	if err != nil {
		return err
	}
	p.chrome = s.chrome(c, "officers")
	if p.RequireTOTP, err = s.store.RequireTOTP(c.Request().Context()); err != nil {
		return err
	}
	p.Officers, p.Roles = os, []store.Role{store.RoleAdmin, store.RoleOfficer, store.RoleViewer}
	if p.Form.Role == "" {
		p.Form.Role = string(store.RoleOfficer)
	}
	return s.render(c, code, "officer/officers", p)
}

func (s *Server) dashboardOfficers(c echo.Context) error {
	return s.officersPage(c, http.StatusOK, officersPage{})
}

// dashboardAddOfficer creates an officer with a first password the admin
// passes on; they can be given an API token with `dsar officer token`.
func (s *Server) dashboardAddOfficer(c echo.Context) error {
	var p officersPage
	p.Form.Email = strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	p.Form.Role = c.FormValue("role")
	password := c.FormValue("password")
	p.Errors = map[string]string{}
	if n, err := domain.NormalizeEmail(p.Form.Email); err != nil || n != p.Form.Email {
		p.Errors["email"] = "enter an email address like name@example.org"
	}
	if !store.Role(p.Form.Role).Valid() {
		p.Errors["role"] = "choose admin, officer or viewer"
	}
	if len(password) < auth.MinPasswordLen {
		p.Errors["password"] = "at least " + strconv.Itoa(auth.MinPasswordLen) + " characters"
	}
	if len(p.Errors) > 0 {
		return s.officersPage(c, http.StatusBadRequest, p)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	err = s.store.CreateOfficer(c.Request().Context(), &store.Officer{
		Email: p.Form.Email, Role: store.Role(p.Form.Role), PasswordHash: hash, CreatedAt: s.now(),
	})
	if errors.Is(err, store.ErrConflict) {
		p.Errors["email"] = "an officer with this email already exists"
		return s.officersPage(c, http.StatusConflict, p)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/officers?done=officer-added")
}

// dashboardSetOfficerActive disables or re-enables an officer. Admins
// cannot disable themselves, so a team always keeps one way in.
func (s *Server) dashboardSetOfficerActive(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errNotFoundPage
	}
	disable := c.FormValue("active") == "false"
	if disable && id == officerFrom(c).ID {
		return echo.NewHTTPError(http.StatusConflict, "You cannot disable your own account.")
	}
	if err := s.store.SetOfficerDisabled(c.Request().Context(), id, disable, s.now()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/officers?done=officer-saved")
}

// formProblems adds a validation error's fields to a form's own problems
// (a form's own message for a field stands), naming each field as the
// form does (rename maps the command's field to the form's), and
// reports whether the form has any problem to show.
func formProblems(errs map[string]string, err error, rename map[string]string) bool {
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		return len(errs) > 0
	}
	for k, v := range verr.Fields {
		if to, ok := rename[k]; ok {
			k = to
		}
		if _, set := errs[k]; !set {
			errs[k] = v
		}
	}
	return true
}
