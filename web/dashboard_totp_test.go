package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/store"
)

// movableClock lets a test move the server's time between requests; the
// handlers read it from other goroutines.
type movableClock struct{ unix atomic.Int64 }

func (m *movableClock) now() time.Time      { return time.Unix(m.unix.Load(), 0).UTC() }
func (m *movableClock) add(d time.Duration) { m.unix.Add(int64(d / time.Second)) }

// movableClock also lifts the per-address limit on sign-in attempts: these
// tests sign in many times from one address, and test the per-account
// backoff instead.
func (h *harness) movableClock() *movableClock {
	m := &movableClock{}
	m.unix.Store(testNow.Unix())
	h.server.now = m.now
	h.server.loginLimit = newLimiter(1000, 1000)
	return m
}

var (
	secretOnPage     = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	enrolmentOnPage  = regexp.MustCompile(`name="enrolment" value="([^"]+)"`)
	recoveryOnPage   = regexp.MustCompile(`<code class="token">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>`)
	codeFormRedirect = "/officer/login/code?next=%2Fofficer%2Frequests"
)

// code is what an authenticator app shows for secret at the server's now.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns two-factor on for the signed-in officer and returns the
// secret and the recovery codes shown.
func (b *browser) enrol(at time.Time) (string, []string) {
	b.t.Helper()
	page := b.get("/officer/security")
	m, e := secretOnPage.FindStringSubmatch(page.body), enrolmentOnPage.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil || e == nil {
		b.t.Fatalf("security page: %d\n%s", page.code, page.body)
	}
	r := b.post("/officer/security/totp", url.Values{"csrf": {csrfOf(b.t, page.body)}, "enrolment": {e[1]}, "code": {code(b.t, m[1], at)}})
	if r.code != http.StatusCreated {
		b.t.Fatalf("enrol: %d\n%s", r.code, r.body)
	}
	var codes []string
	for _, c := range recoveryOnPage.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, c[1])
	}
	return m[1], codes
}

// signInWithCode signs in with the password and then typed as the code.
func (b *browser) signInWithCode(email, typed string) response {
	b.t.Helper()
	r := b.signIn(email, officerPassword)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != codeFormRedirect {
		b.t.Fatalf("password step: %d → %q\n%s", r.code, r.header.Get("Location"), r.body)
	}
	page := b.get(r.header.Get("Location"))
	if page.code != http.StatusOK {
		b.t.Fatalf("code page: %d\n%s", page.code, page.body)
	}
	return b.post("/officer/login/code", url.Values{"csrf": {csrfOf(b.t, page.body)}, "next": {"/officer/requests"}, "code": {typed}})
}

func (b *browser) hasSession() bool {
	for _, c := range b.client.Jar.Cookies(mustURL(b.t, b.h.srv.URL)) {
		if c.Name == sessionCookie {
			return true
		}
	}
	return false
}

func (h *harness) officerByEmail(email string) *store.Officer {
	h.t.Helper()
	o, err := h.store.OfficerByEmail(context.Background(), email)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (h *harness) events(id int64) []string {
	h.t.Helper()
	es, err := h.store.OfficerEvents(context.Background(), id, 50)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Actor+" "+e.Action)
	}
	return out
}

func TestTOTPEnrolment(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	if r := b.signIn("ada@example.org", officerPassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.code)
	}
	page := b.get("/officer/security")
	secret := secretOnPage.FindStringSubmatch(page.body)
	enrolment := enrolmentOnPage.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || secret == nil || enrolment == nil {
		t.Fatalf("security page: %d\n%s", page.code, page.body)
	}
	if !strings.Contains(page.body, "otpauth://totp/") || !strings.Contains(page.body, `src="data:image/png;base64,`) {
		t.Errorf("the page shows no otpauth URI or QR code:\n%s", page.body)
	}
	csrf := csrfOf(t, page.body)
	right := code(t, secret[1], clock.now())
	wrong := strconv.Itoa((mustAtoi(t, right) + 1) % 1000000)
	wrong = strings.Repeat("0", 6-len(wrong)) + wrong

	for _, tc := range []struct {
		name      string
		enrolment string
		code      string
		want      string
	}{
		{"wrong code", enrolment[1], wrong, "That code does not match"},
		{"no code", enrolment[1], "", "That code does not match"},
		{"forged enrolment", "x." + strings.Repeat("A", 40), right, "This set-up page expired"},
		{"no enrolment", "", right, "This set-up page expired"},
	} {
		r := b.post("/officer/security/totp", url.Values{"csrf": {csrf}, "enrolment": {tc.enrolment}, "code": {tc.code}})
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want 400 saying %q", tc.name, r.code, tc.want)
		}
		if o := h.officerByEmail("ada@example.org"); o.HasTOTP() || o.TOTPSecret != nil {
			t.Fatalf("%s turned TOTP on", tc.name)
		}
	}
	// Another officer's enrolment form does not open for Ada.
	grace := h.addOfficer("grace@example.org", store.RoleOfficer)
	gracesForm := h.server.sealEnrolment(grace.ID, secret[1])
	if r := b.post("/officer/security/totp", url.Values{"csrf": {csrf}, "enrolment": {gracesForm}, "code": {right}}); r.code != http.StatusBadRequest {
		t.Errorf("another officer's enrolment: %d", r.code)
	}
	// Nor does one past its deadline.
	clock.add(enrolmentTTL + time.Minute)
	if r := b.post("/officer/security/totp", url.Values{"csrf": {csrf}, "enrolment": {enrolment[1]}, "code": {code(t, secret[1], clock.now())}}); r.code != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
		t.Errorf("an expired enrolment: %d", r.code)
	}
	if ev := h.events(h.officerByEmail("ada@example.org").ID); len(ev) != 0 {
		t.Errorf("refused enrolments recorded events: %q", ev)
	}

	sec, codes := b.enrol(clock.now())
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %q", codes)
	}
	o := h.officerByEmail("ada@example.org")
	if !o.HasTOTP() || strings.Contains(string(o.TOTPSecret), sec) {
		t.Errorf("after enrolment: on %v, secret stored in the clear %v", o.HasTOTP(), strings.Contains(string(o.TOTPSecret), sec))
	}
	if ev := h.events(o.ID); len(ev) != 1 || ev[0] != "ada@example.org totp_enabled" {
		t.Errorf("events = %q", ev)
	}
	if page := b.get("/officer/security"); strings.Contains(page.body, "totp-secret") || strings.Contains(page.body, codes[0]) {
		t.Error("the secret or recovery codes are shown again")
	}
	if strings.Contains(h.logs.String(), sec) || strings.Contains(h.logs.String(), codes[0]) {
		t.Error("a secret or recovery code reached the log")
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTOTPSignIn(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("ada@example.org", store.RoleOfficer)
	setup := h.browser()
	setup.signIn("ada@example.org", officerPassword)
	secret, recovery := setup.enrol(clock.now())
	clock.add(time.Minute) // the enrolment's code is spent

	// The password alone gives no session.
	b := h.browser()
	r := b.signIn("ada@example.org", officerPassword)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != codeFormRedirect || b.hasSession() {
		t.Fatalf("password step: %d → %q, session %v", r.code, r.header.Get("Location"), b.hasSession())
	}
	if r := b.get("/officer/requests"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/officer/login") {
		t.Fatalf("after the password only: %d → %q", r.code, r.header.Get("Location"))
	}

	// A wrong code is refused and counts toward the backoff.
	if code(t, secret, clock.now()) == "000000" {
		t.Skip("the code happens to be 000000")
	}
	r = b.signInWithCode("ada@example.org", "000000")
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "not right") || b.hasSession() {
		t.Fatalf("wrong code: %d", r.code)
	}

	// The right code signs in.
	now := code(t, secret, clock.now())
	r = b.signInWithCode("ada@example.org", now)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/requests" || !b.hasSession() {
		t.Fatalf("right code: %d → %q\n%s", r.code, r.header.Get("Location"), r.body)
	}
	if r := b.get("/officer/requests"); r.code != http.StatusOK {
		t.Fatalf("signed in with a code: %d", r.code)
	}

	// The same code again, within its window, is refused.
	other := h.browser()
	if r := other.signInWithCode("ada@example.org", now); r.code != http.StatusUnauthorized || other.hasSession() {
		t.Fatalf("replayed code: %d", r.code)
	}
	// The next step's code works.
	clock.add(30 * time.Second)
	if r := other.signInWithCode("ada@example.org", code(t, secret, clock.now())); r.code != http.StatusSeeOther || !other.hasSession() {
		t.Fatalf("next code: %d\n%s", r.code, r.body)
	}

	// A recovery code works once, typed loosely.
	rb := h.browser()
	if r := rb.signInWithCode("ada@example.org", strings.ToLower(strings.ReplaceAll(recovery[3], "-", " "))); r.code != http.StatusSeeOther || !rb.hasSession() {
		t.Fatalf("recovery code: %d\n%s", r.code, r.body)
	}
	again := h.browser()
	if r := again.signInWithCode("ada@example.org", recovery[3]); r.code != http.StatusUnauthorized || again.hasSession() {
		t.Fatalf("recovery code used twice: %d", r.code)
	}
	ev := h.events(h.officerByEmail("ada@example.org").ID)
	if len(ev) != 2 || ev[0] != "ada@example.org recovery_code_used" {
		t.Errorf("events = %q", ev)
	}
	if logs := h.logs.String(); strings.Contains(logs, recovery[3]) || strings.Contains(logs, secret) {
		t.Error("a recovery code or the secret reached the log")
	}
}

func TestTOTPWrongCodesBackOff(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("ada@example.org", store.RoleOfficer)
	setup := h.browser()
	setup.signIn("ada@example.org", officerPassword)
	secret, _ := setup.enrol(clock.now())
	clock.add(time.Minute)

	b := h.browser()
	for i := range pairFreeFailures {
		if r := b.signInWithCode("ada@example.org", "99999"+strconv.Itoa(i)); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, r.code)
		}
	}
	// Even the right code now waits: guessing codes is slowed like
	// guessing passwords.
	r := b.signIn("ada@example.org", officerPassword)
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("password after wrong codes: %d", r.code)
	}
	clock.add(2 * time.Second)
	if r := b.signInWithCode("ada@example.org", code(t, secret, clock.now())); r.code != http.StatusSeeOther {
		t.Fatalf("right code after the wait: %d\n%s", r.code, r.body)
	}
}

func TestTOTPPendingSignIn(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("ada@example.org", store.RoleOfficer)
	setup := h.browser()
	setup.signIn("ada@example.org", officerPassword)
	secret, _ := setup.enrol(clock.now())
	clock.add(time.Minute)

	// No pending sign-in: the code page sends back to the password.
	b := h.browser()
	if r := b.get("/officer/login/code"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/login" {
		t.Errorf("code page without a password: %d → %q", r.code, r.header.Get("Location"))
	}
	page := b.get("/officer/login")
	if r := b.post("/officer/login/code", url.Values{"csrf": {csrfOf(t, page.body)}, "code": {code(t, secret, clock.now())}}); r.code != http.StatusUnauthorized || b.hasSession() {
		t.Errorf("a code without a password: %d", r.code)
	}

	// A forged one opens nothing.
	forged := &http.Cookie{Name: pendingSigninCookie, Path: "/officer/login",
		Value: strconv.FormatInt(h.officerByEmail("ada@example.org").ID, 10) + "." + strconv.FormatInt(clock.now().Add(time.Minute).Unix(), 10) + ".00." + strings.Repeat("0", 64)}
	b.client.Jar.SetCookies(mustURL(t, h.srv.URL+"/officer/login"), []*http.Cookie{forged})
	if r := b.get("/officer/login/code"); r.code != http.StatusSeeOther {
		t.Errorf("code page with a forged pending sign-in: %d", r.code)
	}
	page = b.get("/officer/login")
	if r := b.post("/officer/login/code", url.Values{"csrf": {csrfOf(t, page.body)}, "code": {code(t, secret, clock.now())}}); r.code != http.StatusUnauthorized || b.hasSession() {
		t.Errorf("a code with a forged pending sign-in: %d", r.code)
	}

	// A pending sign-in lasts five minutes.
	r := b.signIn("ada@example.org", officerPassword)
	page = b.get(r.header.Get("Location"))
	clock.add(pendingSigninTTL + time.Second)
	if r := b.post("/officer/login/code", url.Values{"csrf": {csrfOf(t, page.body)}, "code": {code(t, secret, clock.now())}}); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "took too long") || b.hasSession() {
		t.Errorf("an expired pending sign-in: %d", r.code)
	}

	// A new password voids a pending sign-in made with the old one.
	b.signIn("ada@example.org", officerPassword)
	hash, err := auth.HashPassword("a new and different passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreatePasswordReset(context.Background(), h.officerByEmail("ada@example.org").ID, "reset-hash", clock.now(), clock.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.UsePasswordReset(context.Background(), "reset-hash", hash, clock.now()); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/officer/login/code"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/login" {
		t.Errorf("the code page after a password reset: %d → %q, want back to the password", r.code, r.header.Get("Location"))
	}
}

func TestRequiredTOTPForcesEnrolment(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("admin@example.org", store.RoleAdmin)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	admin := h.browser()
	admin.signIn("admin@example.org", officerPassword)
	admin.enrol(clock.now())

	page := admin.get("/officer/officers")
	if r := admin.post("/officer/officers/require-totp", url.Values{"csrf": {csrfOf(t, page.body)}, "required": {"maybe"}}); r.code != http.StatusBadRequest {
		t.Errorf("require-totp=maybe: %d", r.code)
	}
	if on, _ := h.store.RequireTOTP(context.Background()); on {
		t.Fatal("bad input changed the setting")
	}
	ada := h.browser()
	ada.signIn("ada@example.org", officerPassword)
	adaPage := ada.get("/officer/tokens")
	if r := ada.post("/officer/officers/require-totp", url.Values{"csrf": {csrfOf(t, adaPage.body)}, "required": {"true"}}); r.code != http.StatusForbidden {
		t.Errorf("an officer requiring two-factor: %d", r.code)
	}
	if r := admin.post("/officer/officers/require-totp", url.Values{"csrf": {csrfOf(t, page.body)}, "required": {"true"}}); r.code != http.StatusSeeOther {
		t.Fatalf("require-totp: %d\n%s", r.code, r.body)
	}

	// Ada's session, and a new sign-in, can only enrol or sign out.
	fresh := h.browser()
	if r := fresh.signIn("ada@example.org", officerPassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.code)
	}
	for _, b := range []*browser{ada, fresh} {
		if r := b.get("/officer/requests"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/security" {
			t.Errorf("a page before enrolling: %d → %q", r.code, r.header.Get("Location"))
		}
		if r := b.post("/officer/tokens", url.Values{"csrf": {csrfOf(t, adaPage.body)}}); r.code != http.StatusForbidden {
			t.Errorf("making a token before enrolling: %d", r.code)
		}
	}
	if r := fresh.get("/officer/security"); r.code != http.StatusOK || !strings.Contains(r.body, "requires two-factor") {
		t.Errorf("security page: %d", r.code)
	}
	fresh.enrol(clock.now())
	if r := fresh.get("/officer/requests"); r.code != http.StatusOK {
		t.Errorf("after enrolling: %d", r.code)
	}
	// Turning it off is refused while it is required.
	clock.add(time.Minute)
	sec := fresh.get("/officer/security")
	if r := fresh.post("/officer/security/totp/disable", url.Values{"csrf": {csrfOf(t, sec.body)}, "code": {"123456"}}); r.code != http.StatusConflict {
		t.Errorf("disable while required: %d", r.code)
	}
	if !h.officerByEmail("ada@example.org").HasTOTP() {
		t.Error("two-factor was turned off while required")
	}
	// API tokens are unaffected.
	if r := h.officer(store.RoleViewer, http.MethodGet, "/api/v1/officer/requests", ""); r.code != http.StatusOK {
		t.Errorf("API with a token while two-factor is required: %d", r.code)
	}
}

func TestAdminResetsTOTP(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("admin@example.org", store.RoleAdmin)
	ada := h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	b.enrol(clock.now())
	clock.add(time.Minute)

	// Ada cannot reset her own through the admin route, nor anyone's.
	page := b.get("/officer/security")
	if r := b.post("/officer/officers/"+strconv.FormatInt(ada.ID, 10)+"/totp/reset", url.Values{"csrf": {csrfOf(t, page.body)}}); r.code != http.StatusForbidden {
		t.Errorf("an officer resetting two-factor: %d", r.code)
	}
	admin := h.browser()
	admin.signIn("admin@example.org", officerPassword)
	list := admin.get("/officer/officers")
	if !strings.Contains(list.body, "/officer/officers/"+strconv.FormatInt(ada.ID, 10)+"/totp/reset") {
		t.Errorf("the officers page offers no reset:\n%s", list.body)
	}
	if r := admin.post("/officer/officers/x/totp/reset", url.Values{"csrf": {csrfOf(t, list.body)}}); r.code != http.StatusNotFound {
		t.Errorf("reset of no officer: %d", r.code)
	}
	r := admin.post("/officer/officers/"+strconv.FormatInt(ada.ID, 10)+"/totp/reset", url.Values{"csrf": {csrfOf(t, list.body)}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("reset: %d\n%s", r.code, r.body)
	}
	if r := admin.post("/officer/officers/"+strconv.FormatInt(ada.ID, 10)+"/totp/reset", url.Values{"csrf": {csrfOf(t, list.body)}}); r.code != http.StatusNotFound {
		t.Errorf("reset twice: %d", r.code)
	}
	if h.officerByEmail("ada@example.org").HasTOTP() {
		t.Fatal("two-factor still on after the reset")
	}
	if ev := h.events(ada.ID); len(ev) < 1 || ev[0] != "admin@example.org totp_reset" {
		t.Errorf("events = %q", ev)
	}
	// Ada signs in with her password again, and the old secret is gone.
	nb := h.browser()
	if r := nb.signIn("ada@example.org", officerPassword); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/requests" {
		t.Errorf("sign in after reset: %d → %q", r.code, r.header.Get("Location"))
	}
	if ok, err := h.store.UseTOTPStep(context.Background(), ada.ID, 1<<40); err != nil || ok {
		t.Errorf("a reset officer still has a TOTP step to use: %v, %v", ok, err)
	}
}

func TestTOTPDisableAndNewRecoveryCodes(t *testing.T) {
	h := newHarness(t, false)
	clock := h.movableClock()
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	secret, old := b.enrol(clock.now())
	clock.add(time.Minute)

	page := b.get("/officer/security")
	csrf := csrfOf(t, page.body)
	if r := b.post("/officer/security/recovery-codes", url.Values{"csrf": {csrf}, "code": {"12"}}); r.code != http.StatusBadRequest {
		t.Errorf("new codes with a bad code: %d", r.code)
	}
	r := b.post("/officer/security/recovery-codes", url.Values{"csrf": {csrf}, "code": {code(t, secret, clock.now())}})
	fresh := recoveryOnPage.FindAllStringSubmatch(r.body, -1)
	if r.code != http.StatusCreated || len(fresh) != 10 {
		t.Fatalf("new codes: %d, %d shown", r.code, len(fresh))
	}
	clock.add(time.Minute)
	// An old recovery code no longer works; a new one turns it off.
	if r := b.post("/officer/security/totp/disable", url.Values{"csrf": {csrf}, "code": {old[0]}}); r.code != http.StatusBadRequest {
		t.Errorf("disable with a replaced recovery code: %d", r.code)
	}
	if !h.officerByEmail("ada@example.org").HasTOTP() {
		t.Fatal("a wrong code turned two-factor off")
	}
	if r := b.post("/officer/security/totp/disable", url.Values{"csrf": {csrf}, "code": {fresh[0][1]}}); r.code != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", r.code, r.body)
	}
	if h.officerByEmail("ada@example.org").HasTOTP() {
		t.Error("still on")
	}
}
