package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

const officerPassword = "correct horse battery staple"

// browser is a cookie-keeping client that does not follow redirects, so
// tests see where each answer sends the officer.
type browser struct {
	t      *testing.T
	h      *harness
	client *http.Client
}

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{t: h.t, h: h, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	resp, err := b.client.Get(b.h.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	resp, err := b.client.PostForm(b.h.srv.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func read(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

// addOfficer creates an officer who can sign in.
func (h *harness) addOfficer(email string, role store.Role) *store.Officer {
	h.t.Helper()
	hash, err := auth.HashPassword(officerPassword)
	if err != nil {
		h.t.Fatal(err)
	}
	o := &store.Officer{Email: email, Role: role, PasswordHash: hash, CreatedAt: testNow}
	if err := h.store.CreateOfficer(context.Background(), o); err != nil {
		h.t.Fatal(err)
	}
	return o
}

// signIn signs b in and returns the dashboard's CSRF token.
func (b *browser) signIn(email, password string) response {
	b.t.Helper()
	page := b.get("/officer/login")
	return b.post("/officer/login", url.Values{"email": {email}, "password": {password}, "csrf": {csrfOf(b.t, page.body)}})
}

func TestSignInAndOut(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()

	if r := b.get("/officer/requests?status=verifying"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/login?next=%2Fofficer%2Frequests%3Fstatus%3Dverifying" {
		t.Fatalf("signed out: %d → %q", r.code, r.header.Get("Location"))
	}
	r := b.signIn("ADA@example.org", "wrong password!")
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "do not match an active officer") {
		t.Errorf("wrong password: %d", r.code)
	}
	unknown := b.signIn("nobody@example.org", officerPassword)
	if unknown.code != r.code || !strings.Contains(unknown.body, "do not match an active officer") {
		t.Errorf("an unknown email should look like a wrong password: %d", unknown.code)
	}

	page := b.get("/officer/login?next=/officer/requests/DSR-1")
	r = b.post("/officer/login", url.Values{"email": {"ada@example.org"}, "password": {officerPassword},
		"csrf": {csrfOf(t, page.body)}, "next": {"/officer/requests/DSR-1"}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/requests/DSR-1" {
		t.Fatalf("sign in: %d → %q\n%s", r.code, r.header.Get("Location"), r.body)
	}
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(mustURL(t, h.srv.URL)) {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	set := r.header.Values("Set-Cookie")
	if joined := strings.Join(set, "\n"); !strings.Contains(joined, "HttpOnly") || !strings.Contains(joined, "SameSite=Strict") {
		t.Errorf("session cookie flags: %v", set)
	}

	list := b.get("/officer/requests")
	if list.code != 200 || !strings.Contains(list.body, "ada@example.org · officer") {
		t.Fatalf("dashboard: %d\n%s", list.code, list.body)
	}
	r = b.post("/officer/logout", url.Values{"csrf": {csrfOf(t, list.body)}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/login" {
		t.Errorf("sign out: %d → %q", r.code, r.header.Get("Location"))
	}
	// The old cookie no longer works, even if someone kept it.
	stale := h.browser()
	stale.client.Jar.SetCookies(mustURL(t, h.srv.URL), []*http.Cookie{{Name: sessionCookie, Value: session.Value, Path: "/"}})
	if r := stale.get("/officer/requests"); r.code != http.StatusSeeOther {
		t.Errorf("a signed-out session still opens the dashboard: %d", r.code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSignInNeedsItsFormAndIsRateLimited(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.get("/officer/login")
	r := b.post("/officer/login", url.Values{"email": {"ada@example.org"}, "password": {officerPassword}, "csrf": {"forged"}})
	if r.code != http.StatusForbidden {
		t.Errorf("sign-in without the form's token: %d", r.code)
	}
	for i := 0; i < loginAttemptsBurst; i++ {
		b.signIn("ada@example.org", "not the password")
	}
	r = b.signIn("ada@example.org", officerPassword)
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("attempt after %d failures: %d, want 429 even with the right password", loginAttemptsBurst, r.code)
	}
}

// signInFrom signs in from a client address, carrying cookies, and
// returns the answer and the cookies it set.
func (h *harness) signInFrom(addr, email, password string, cookies ...*http.Cookie) (*httptest.ResponseRecorder, []*http.Cookie) {
	h.t.Helper()
	handler := h.server.Handler()
	get := httptest.NewRequest("GET", "/officer/login", nil)
	get.RemoteAddr = addr + ":4711"
	page := httptest.NewRecorder()
	handler.ServeHTTP(page, get)
	form := url.Values{"email": {email}, "password": {password}, "csrf": {csrfOf(h.t, page.Body.String())}}
	post := httptest.NewRequest("POST", "/officer/login", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.RemoteAddr = addr + ":4711"
	for _, c := range append(page.Result().Cookies(), cookies...) {
		post.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, post)
	return rec, rec.Result().Cookies()
}

// TestGuessingAPasswordNeverLocksTheOfficerOut: failures slow the
// address and the account with a backoff, but the real officer, from
// another address or from a browser that signed in before, gets in.
func TestGuessingAPasswordNeverLocksTheOfficerOut(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	// A browser of Ada's that signed in before the attack.
	rec, cookies := h.signInFrom("192.0.2.1", "ada@example.org", officerPassword)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d", rec.Code)
	}
	var known *http.Cookie
	for _, c := range cookies {
		if c.Name == knownDeviceCookie {
			known = c
		}
	}
	if known == nil {
		t.Fatal("a sign-in sets no known-device cookie")
	}

	// One address guesses seven times: it is slowed, nobody else.
	for range 7 {
		h.signInFrom("203.0.113.9", "ada@example.org", "guess")
	}
	if rec, _ := h.signInFrom("203.0.113.9", "ada@example.org", "guess"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("the guessing address: %d, want 429 with Retry-After", rec.Code)
	}
	if rec, _ := h.signInFrom("198.51.100.7", "ada@example.org", officerPassword); rec.Code != http.StatusSeeOther {
		t.Errorf("Ada from another address after one address guessed: %d, want signed in", rec.Code)
	}

	// Guesses spread over many addresses slow the account itself ...
	for i := range accountFreeFailures + 5 {
		h.signInFrom(fmt.Sprintf("198.18.0.%d", i+1), "ada@example.org", "guess")
	}
	if rec, _ := h.signInFrom("198.51.100.8", "ada@example.org", officerPassword); rec.Code != http.StatusTooManyRequests {
		t.Errorf("an unknown browser after a spread-out attack: %d, want 429", rec.Code)
	}
	// ... but not Ada's browser that signed in before.
	if rec, _ := h.signInFrom("198.51.100.9", "ada@example.org", officerPassword, known); rec.Code != http.StatusSeeOther {
		t.Errorf("Ada's known browser after a spread-out attack: %d, want signed in", rec.Code)
	}
	// A cookie for another account, or forged, does not help.
	forged := &http.Cookie{Name: knownDeviceCookie, Value: "00." + strings.Repeat("0", 64)}
	if rec, _ := h.signInFrom("198.51.100.10", "ada@example.org", officerPassword, forged); rec.Code != http.StatusTooManyRequests {
		t.Errorf("a forged known-device cookie: %d, want 429", rec.Code)
	}
}

func TestDashboardListsAndDecides(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	ctx := context.Background()
	// Two open requests: one overdue, one with days to go; one closed.
	for i, received := range []time.Time{testNow.AddDate(0, 0, -40), testNow.AddDate(0, 0, -2), testNow.AddDate(0, 0, -50)} {
		r := &store.Request{ID: "DSR-00000000" + string(rune('A'+i)), Type: domain.TypeAccess, Status: domain.StatusReceived,
			Email: "p@example.com", Name: "Person " + string(rune('A'+i)), ReceivedAt: received, DueAt: received.AddDate(0, 0, 30)}
		if err := h.store.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, to := range []domain.Status{domain.StatusVerifying, domain.StatusExpiredUnverified} {
		if _, err := h.store.Transition(ctx, store.Transition{RequestID: "DSR-00000000C", To: to, Actor: "system", At: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)

	list := b.get("/officer/requests")
	for _, want := range []string{"1 overdue", "badge-overdue\">10 days overdue", "badge-ok\">28 days left", "Person A", "Person B"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if strings.Contains(list.body, "Person C") {
		t.Error("a closed request is listed without “Include closed”")
	}
	if a, b := strings.Index(list.body, "DSR-00000000A"), strings.Index(list.body, "DSR-00000000B"); a < 0 || b < a {
		t.Error("the overdue request should come first")
	}
	if all := b.get("/officer/requests?all=1"); !strings.Contains(all.body, "Person C") {
		t.Error("“Include closed” does not show the closed request")
	}
	if r := b.get("/officer/requests?q=dsr-00000000b"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/requests/DSR-00000000B" {
		t.Errorf("searching a full reference: %d → %q", r.code, r.header.Get("Location"))
	}

	detail := b.get("/officer/requests/DSR-00000000A")
	if detail.code != 200 || !strings.Contains(detail.body, "Person A &lt;p@example.com&gt;") || strings.Contains(detail.body, "/approve") {
		t.Errorf("detail of a request not in review should offer no decision: %d", detail.code)
	}
	// Decisions need the page's CSRF token.
	if r := b.post("/officer/requests/DSR-00000000A/approve", url.Values{"csrf": {"forged"}}); r.code != http.StatusForbidden {
		t.Errorf("approve with a forged token: %d", r.code)
	}
	csrf := csrfOf(t, detail.body)
	// The real token in the URL does not count: tokens in URLs end up in
	// logs and history.
	if r := b.post("/officer/requests/DSR-00000000A/approve?csrf="+url.QueryEscape(csrf), url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("approve with the token in the query string: %d, want 403", r.code)
	}
	r := b.post("/officer/requests/DSR-00000000A/deny", url.Values{"csrf": {csrf}, "reason": {"  "}})
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "A denial needs a reason") {
		t.Errorf("deny without a reason: %d", r.code)
	}
	// Temporal is unreachable in these tests: the officer is told, and
	// nothing changes.
	r = b.post("/officer/requests/DSR-00000000A/approve", url.Values{"csrf": {csrf}})
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "try again shortly") {
		t.Errorf("approve with Temporal down: %d\n%s", r.code, r.body)
	}
	if got, _ := h.store.GetRequest(ctx, "DSR-00000000A"); got.Status != domain.StatusReceived {
		t.Errorf("status changed to %s", got.Status)
	}
}

func TestViewersReadButDoNotAct(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("vera@example.org", store.RoleViewer)
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"a@example.com","name":"Ada"}`)
	b := h.browser()
	b.signIn("vera@example.org", officerPassword)
	list := b.get("/officer/requests")
	if list.code != 200 || strings.Contains(list.body, `href="/officer/officers"`) {
		t.Errorf("viewer list: %d (and no officer management link)", list.code)
	}
	id := regexp.MustCompile(`DSR-[0-9A-Z]{10}`).FindString(list.body)
	r := b.post("/officer/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, list.body)}})
	if r.code != http.StatusForbidden {
		t.Errorf("viewer approving: %d", r.code)
	}
	if r := b.get("/officer/officers"); r.code != http.StatusForbidden {
		t.Errorf("viewer managing officers: %d", r.code)
	}
}

func TestAdminManagesOfficers(t *testing.T) {
	h := newHarness(t, false)
	admin := h.addOfficer("root@example.org", store.RoleAdmin)
	b := h.browser()
	b.signIn("root@example.org", officerPassword)
	page := b.get("/officer/officers")
	csrf := csrfOf(t, page.body)

	r := b.post("/officer/officers", url.Values{"csrf": {csrf}, "email": {"not-an-email"}, "role": {"boss"}, "password": {"short"}})
	if r.code != http.StatusBadRequest || strings.Count(r.body, `class="error"`) != 3 {
		t.Errorf("bad officer form: %d", r.code)
	}
	r = b.post("/officer/officers", url.Values{"csrf": {csrf}, "email": {"Grace@Example.org"}, "role": {"officer"}, "password": {officerPassword}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("add officer: %d\n%s", r.code, r.body)
	}
	if r := b.post("/officer/officers", url.Values{"csrf": {csrf}, "email": {"grace@example.org"}, "role": {"officer"}, "password": {officerPassword}}); r.code != http.StatusConflict {
		t.Errorf("duplicate officer: %d", r.code)
	}
	grace, err := h.store.OfficerByEmail(context.Background(), "grace@example.org")
	if err != nil || grace.Role != store.RoleOfficer {
		t.Fatalf("new officer: %+v, %v", grace, err)
	}

	// Grace signs in; the admin disables her; her session ends at once.
	gb := h.browser()
	if r := gb.signIn("grace@example.org", officerPassword); r.code != http.StatusSeeOther {
		t.Fatalf("new officer signs in: %d", r.code)
	}
	r = b.post("/officer/officers/"+itoa(grace.ID)+"/active", url.Values{"csrf": {csrf}, "active": {"false"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.code)
	}
	if r := gb.get("/officer/requests"); r.code != http.StatusSeeOther {
		t.Errorf("a disabled officer's session still works: %d", r.code)
	}
	if r := gb.signIn("grace@example.org", officerPassword); r.code != http.StatusUnauthorized {
		t.Errorf("a disabled officer signs in: %d", r.code)
	}
	if r := b.post("/officer/officers/"+itoa(admin.ID)+"/active", url.Values{"csrf": {csrf}, "active": {"false"}}); r.code != http.StatusConflict {
		t.Errorf("an admin disabling themselves: %d", r.code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestOfficerVerifiesIdentityByHand(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	_, id := h.addVerifyToken(testNow.Add(time.Hour))
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/requests/" + id)
	if !strings.Contains(page.body, "Verify identity by hand") || strings.Contains(page.body, "/approve") {
		t.Fatalf("a request waiting for verification should offer verification, not a decision:\n%s", page.body)
	}
	csrf := csrfOf(t, page.body)
	if r := b.post("/officer/requests/"+id+"/verify", url.Values{"csrf": {csrf}, "evidence": {""}}); r.code != http.StatusBadRequest {
		t.Errorf("verify without evidence: %d", r.code)
	}
	// Temporal is down here: the verification is stored all the same and
	// the recovery loop will signal the workflow.
	r := b.post("/officer/requests/"+id+"/verify", url.Values{"csrf": {csrf}, "evidence": {"Video call, checked driving licence"}})
	if r.code != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "?done=verified") {
		t.Fatalf("verify: %d → %q", r.code, r.header.Get("Location"))
	}
	got, _ := h.store.GetRequest(context.Background(), id)
	if got.VerifiedAt == nil || got.VerifiedBy != "ada@example.org" {
		t.Errorf("stored verification: %v by %q", got.VerifiedAt, got.VerifiedBy)
	}
	if r := b.post("/officer/requests/"+id+"/verify", url.Values{"csrf": {csrf}, "evidence": {"again"}}); r.code != http.StatusConflict {
		t.Errorf("verifying twice: %d", r.code)
	}
}

func TestMetricsPage(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("vera@example.org", store.RoleViewer)
	ctx := context.Background()
	// Received 10 days ago and closed today: on time, 10 days to close.
	r := &store.Request{ID: "DSR-METRICS001", Type: domain.TypeDeletion, Status: domain.StatusReceived,
		Email: "p@example.com", Name: "P", ReceivedAt: testNow.AddDate(0, 0, -10), DueAt: testNow.AddDate(0, 0, 20)}
	if err := h.store.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []domain.Status{domain.StatusVerifying, domain.StatusInReview, domain.StatusCompleted} {
		if _, err := h.store.Transition(ctx, store.Transition{RequestID: r.ID, To: to, Actor: "system", At: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	b := h.browser()
	b.signIn("vera@example.org", officerPassword)
	page := b.get("/officer/metrics")
	for _, want := range []string{
		"<title>February 2026 Delete my data: 1 requests</title>", // received 20 February
		"<title>March 2026 median: 10.0 days</title>",
		"<title>March 2026 on time: 100 %</title>",
		"<td>Delete my data</td><td>Completed</td><td>1</td>",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("metrics page lacks %q", want)
		}
	}
	if page.code != 200 || strings.Count(page.body, "<svg") != 3 {
		t.Errorf("metrics: %d with %d charts", page.code, strings.Count(page.body, "<svg"))
	}
	// The median's scale is 10 days, the share's always 100 %.
	for _, want := range []string{"top of scale: 10.0 days", "top of scale: 100 %"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("metrics page lacks %q", want)
		}
	}

	csv := b.get("/officer/metrics.csv")
	if csv.code != 200 || !strings.HasPrefix(csv.body, "month,received_access,received_correction,received_deletion,received_export,received_opt_out,received,closed,closed_on_time,median_days_to_close\n") ||
		!strings.Contains(csv.body, "2026-02,0,0,1,0,0,1,0,0,\n") || !strings.Contains(csv.body, "2026-03,0,0,0,0,0,0,1,1,10.0\n") {
		t.Errorf("metrics CSV: %d\n%s", csv.code, csv.body)
	}
	report := b.get("/officer/reports/2026")
	if report.code != 200 || !strings.Contains(report.body, "Requests in 2026") ||
		!strings.Contains(report.body, "Delete my data<br><span class=\"hint\">request to delete</span></th><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>10.0</td><td>10.0</td>") {
		t.Errorf("2026 report: %d\n%s", report.code, report.body)
	}
	if r := b.get("/officer/reports/2026.csv"); r.code != 200 || !strings.Contains(r.body, "2026,deletion,request to delete,1,1,0,0,0,0,0,10.0,10.0\n") {
		t.Errorf("2026 report CSV: %d\n%s", r.code, r.body)
	}
	for _, bad := range []string{"1999", "2027", "last", "2026.pdf"} {
		if r := b.get("/officer/reports/" + bad); r.code != http.StatusBadRequest {
			t.Errorf("report for %q: %d, want 400", bad, r.code)
		}
	}
	var rep struct {
		Year  int
		Types []struct {
			Type       string
			Received   int
			Complied   int
			MedianDays float64 `json:"median_days"`
		}
	}
	if r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/reports/2026", ""); r.code != 200 || json.Unmarshal([]byte(r.body), &rep) != nil || rep.Year != 2026 || len(rep.Types) != len(domain.RequestTypes) {
		t.Errorf("API report: %d %s", r.code, r.body)
	}
}

func TestDeadlineBadge(t *testing.T) {
	due := testNow
	for _, c := range []struct {
		now         time.Time
		text, class string
	}{
		{due.Add(-10*24*time.Hour - time.Hour), "11 days left", "ok"},
		{due.Add(-7 * 24 * time.Hour), "7 days left", "soon"},
		{due.Add(-2*24*time.Hour - time.Minute), "3 days left", "urgent"},
		{due.Add(-time.Hour), "1 day left", "urgent"},
		{due.Add(12 * time.Hour), "overdue", "overdue"},
		{due.Add(24 * time.Hour), "1 day overdue", "overdue"},
		{due.Add(10*24*time.Hour + time.Hour), "10 days overdue", "overdue"},
	} {
		got := deadlineOf(&store.Request{Status: domain.StatusInReview, DueAt: due}, c.now)
		if got.Text != c.text || got.Class != c.class {
			t.Errorf("%v before due: %+v, want %q %q", due.Sub(c.now), got, c.text, c.class)
		}
	}
	if got := deadlineOf(&store.Request{Status: domain.StatusCompleted, DueAt: due}, due.Add(48*time.Hour)); got.Class != "closed" {
		t.Errorf("a closed request: %+v", got)
	}
}

func TestStateChangesFromAnotherSiteAreRefused(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	list := b.get("/officer/requests")
	form := url.Values{"csrf": {csrfOf(t, list.body)}}
	post := func(origin string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/officer/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, evil := range []string{"https://evil.example", "null"} {
		if code := post(evil); code != http.StatusForbidden {
			t.Errorf("post with Origin %s: %d, want 403", evil, code)
		}
	}
	// The host the browser addressed is our own origin.
	if code := post(h.srv.URL); code != http.StatusSeeOther {
		t.Errorf("post from our own origin: %d", code)
	}
}

func TestCountdownReadsLikeTheLiveScript(t *testing.T) {
	countdown := templateFuncs["countdown"].(func(time.Duration) string)
	for left, want := range map[time.Duration]string{
		71*time.Hour + 59*time.Minute + 40*time.Second: "72 h 00 min left",
		90*time.Minute + 20*time.Second:                "1 h 30 min left",
		-5 * time.Minute:                               "overdue by 0 h 05 min",
		-(26*time.Hour + 3*time.Minute):                "overdue by 26 h 03 min",
	} {
		if got := countdown(left); got != want {
			t.Errorf("countdown(%v) = %q, want %q", left, got, want)
		}
	}
}

// TestRefusedEmailIsShownAndTheAddressCanBeCorrected: a permanent
// refusal is on the request's page and in the API; the officer corrects
// a mistyped address (refused when it is not an address, or when no
// email was refused), and the resend goes to the workflow.
func TestRefusedEmailIsShownAndTheAddressCanBeCorrected(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	ctx := context.Background()
	r := &store.Request{ID: "DSR-00000000M", Type: domain.TypeAccess, Status: domain.StatusVerifying, Email: "grace@exmaple.com", Name: "Grace",
		ReceivedAt: testNow, DueAt: testNow.AddDate(0, 0, 30), Regime: "default"}
	if err := h.store.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/DSR-00000000M/resend-email", `{}`); r.code != http.StatusConflict {
		t.Errorf("resend with nothing refused: %d, want 409: %s", r.code, r.body)
	}
	if err := h.store.MarkMailFailed(ctx, r.ID, "verification", "verification: sendgrid answered 400: invalid domain", testNow); err != nil {
		t.Fatal(err)
	}
	var got officerRequest
	h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/DSR-00000000M", "").json(t, &got)
	if got.MailFailure == nil || got.MailFailure.Step != "verification" {
		t.Errorf("the API does not show the refusal: %+v", got.MailFailure)
	}
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/requests/DSR-00000000M")
	if !strings.Contains(page.body, "did not reach the requester") || !strings.Contains(page.body, "invalid domain") || !strings.Contains(page.body, "Send it again") {
		t.Errorf("the request page does not show the refusal with a way to resend:\n%s", page.body)
	}
	csrf := csrfOf(t, page.body)
	if r := b.post("/officer/requests/DSR-00000000M/resend-email", url.Values{"csrf": {csrf}, "email": {"not an address"}}); r.code != http.StatusBadRequest {
		t.Errorf("resend to a bad address: %d, want 400", r.code)
	}
	if r, _ := h.store.GetRequest(ctx, "DSR-00000000M"); r.Email != "grace@exmaple.com" {
		t.Errorf("a refused correction changed the address to %q", r.Email)
	}
	// Temporal is down here: the address is corrected, the resend answers 503.
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/DSR-00000000M/resend-email", `{"email":"grace@example.com"}`); r.code != http.StatusServiceUnavailable {
		t.Errorf("resend with Temporal down: %d, want 503: %s", r.code, r.body)
	}
	if r, _ := h.store.GetRequest(ctx, "DSR-00000000M"); r.Email != "grace@example.com" {
		t.Errorf("the corrected address was not stored: %q", r.Email)
	}
	timeline, _ := h.store.Timeline(ctx, "DSR-00000000M")
	if len(timeline) == 0 || timeline[len(timeline)-1].Action != "email_corrected" || timeline[len(timeline)-1].Actor != "officer@example.org" {
		t.Errorf("the correction is not audited with the officer: %+v", timeline)
	}
}

// TestExpiredPackageIsGoneForOfficersToo: past its download lifetime a
// package is gone for everyone, whether or not the janitor has run.
func TestExpiredPackageIsGoneForOfficersToo(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	r := &store.Request{ID: "DSR-00000000P", Type: domain.TypeAccess, Status: domain.StatusCompleted, Email: "grace@example.com", Name: "Grace",
		ReceivedAt: testNow.AddDate(0, 0, -40), DueAt: testNow.AddDate(0, 0, -10), Regime: "default"}
	if err := h.store.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	p := &store.Package{ID: "p1", RequestID: r.ID, FileName: "a.zip", ContentType: "application/zip",
		KeyID: "k", CreatedAt: testNow.AddDate(0, 0, -20), ExpiresAt: testNow.Add(-time.Minute), DownloadsLeft: 5}
	if err := h.store.CreatePackage(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := h.store.CompletePackage(ctx, p.ID, 6, 1, p.CreatedAt); err != nil {
		t.Fatal(err)
	}
	resp := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/DSR-00000000P/package", "")
	if resp.code != http.StatusGone || !strings.Contains(resp.body, "expired") {
		t.Errorf("an expired package: %d %s, want 410", resp.code, resp.body)
	}
}

// TestOfficerManagesTheirAPITokens: an officer creates a token on the
// dashboard (shown once, and it works), sees when it was last used, and
// revokes it (it stops working); another officer's token is out of reach.
func TestOfficerManagesTheirAPITokens(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/tokens")
	if page.code != http.StatusOK || !strings.Contains(page.body, "no API tokens") {
		t.Fatalf("tokens page: %d\n%s", page.code, page.body)
	}
	created := b.post("/officer/tokens", url.Values{"csrf": {csrfOf(t, page.body)}})
	m := regexp.MustCompile(`<code class="token">([A-Za-z0-9_-]+)</code>`).FindStringSubmatch(created.body)
	if created.code != http.StatusCreated || m == nil {
		t.Fatalf("creating a token: %d, no token shown\n%s", created.code, created.body)
	}
	token := m[1]
	call := func() int {
		return h.do("GET", "/api/v1/officer/requests", "", "", "Authorization", "Bearer "+token).code
	}
	if code := call(); code != http.StatusOK {
		t.Fatalf("the new token: %d, want 200", code)
	}
	listed := b.get("/officer/tokens")
	if strings.Contains(listed.body, token) || strings.Contains(listed.body, ">never<") {
		t.Errorf("the list shows the token again or not its use:\n%s", listed.body)
	}
	// Someone else's token cannot be revoked from here.
	ts, _ := h.store.APITokens(context.Background(), 1)
	if len(ts) == 0 {
		t.Fatal("the harness officer has no token")
	}
	if r := b.post(fmt.Sprintf("/officer/tokens/%d/revoke", ts[0].ID), url.Values{"csrf": {csrfOf(t, listed.body)}}); r.code != http.StatusNotFound {
		t.Errorf("revoking another officer's token: %d, want 404", r.code)
	}
	mine := regexp.MustCompile(`action="/officer/tokens/(\d+)/revoke"`).FindStringSubmatch(listed.body)
	if mine == nil {
		t.Fatalf("no revoke button:\n%s", listed.body)
	}
	if r := b.post("/officer/tokens/"+mine[1]+"/revoke", url.Values{"csrf": {csrfOf(t, listed.body)}}); r.code != http.StatusOK || !strings.Contains(r.body, "revoked") {
		t.Errorf("revoking: %d\n%s", r.code, r.body)
	}
	if code := call(); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", code)
	}
}

// TestNewTokenReplacesOthersOnlyWhenAsked: a new token leaves the
// officer's others working, unless they tick "Revoke my other tokens".
func TestNewTokenReplacesOthersOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	tokenOn := regexp.MustCompile(`<code class="token">([A-Za-z0-9_-]+)</code>`)
	create := func(form url.Values) (string, response) {
		t.Helper()
		form.Set("csrf", csrfOf(t, b.get("/officer/tokens").body))
		r := b.post("/officer/tokens", form)
		m := tokenOn.FindStringSubmatch(r.body)
		if r.code != http.StatusCreated || m == nil {
			t.Fatalf("creating a token: %d\n%s", r.code, r.body)
		}
		return m[1], r
	}
	works := func(token string) bool {
		return h.do("GET", "/api/v1/officer/requests", "", "", "Authorization", "Bearer "+token).code == http.StatusOK
	}
	first, _ := create(url.Values{})
	second, _ := create(url.Values{})
	if !works(first) || !works(second) {
		t.Fatal("a second token revoked the first, unasked")
	}
	third, r := create(url.Values{"revoke_others": {"1"}})
	if !strings.Contains(r.body, "Your other tokens were revoked") {
		t.Errorf("the page does not say the others were revoked:\n%s", r.body)
	}
	if works(first) || works(second) || !works(third) {
		t.Errorf("after replacing: first %v, second %v, new %v; want only the new one to work", works(first), works(second), works(third))
	}
	// Another officer's tokens are untouched.
	if r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests", ""); r.code != http.StatusOK {
		t.Errorf("another officer's token: %d", r.code)
	}
}
