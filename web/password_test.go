package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/store"
)

var resetLink = regexp.MustCompile(`http://dsar\.test(/officer/password/reset/[A-Za-z0-9_-]+)`)

// An officer who forgot their password asks for a link, opens it (which
// changes nothing), sets a new password, and signs in with it; their old
// sessions end, and the link works once. The form answers the same for an
// address that is no officer's, and sends nothing then.
func TestPasswordResetByEmail(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	ctx := context.Background()
	old := h.browser()
	if r := old.signIn("ada@example.org", officerPassword); r.code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.code)
	}

	b := h.browser()
	login := b.get("/officer/login")
	if !strings.Contains(login.body, `href="/officer/password/forgot"`) {
		t.Error("the sign-in page offers no password reset")
	}
	ask := func(email string) response {
		page := b.get("/officer/password/forgot")
		return b.post("/officer/password/forgot", url.Values{"email": {email}, "csrf": {csrfOf(t, page.body)}})
	}
	outbox := func() []store.OutboxMessage {
		ms, err := h.store.OutboxMessages(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	r := ask("nobody@example.org")
	if r.code != http.StatusOK || !strings.Contains(r.body, "we have emailed a link") || len(outbox()) != 0 {
		t.Fatalf("unknown address: %d, %d emails\n%s", r.code, len(outbox()), r.body)
	}
	if r := ask("ADA@example.org "); r.code != http.StatusOK || !strings.Contains(r.body, "we have emailed a link") {
		t.Fatalf("ask: %d", r.code)
	}
	// The link is sent after the answer.
	var ms []store.OutboxMessage
	for deadline := time.Now().Add(5 * time.Second); len(ms) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ms = outbox()
	}
	if len(ms) != 1 || ms[0].Recipient != "ada@example.org" {
		t.Fatalf("within 5 s the outbox held %+v, want one reset link to ada@example.org", ms)
	}
	m := resetLink.FindStringSubmatch(ms[0].TextBody)
	if m == nil {
		t.Fatalf("the email has no reset link:\n%s", ms[0].TextBody)
	}
	link := m[1]

	// Opening the link shows the form and spends nothing.
	for range 2 {
		if r := b.get(link); r.code != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
			t.Fatalf("open the link: %d", r.code)
		}
	}
	form := b.get(link)
	token := strings.TrimPrefix(link, "/officer/password/reset/")
	set := func(password, confirm string) response {
		return b.post("/officer/password/reset", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {token}, "password": {password}, "confirm": {confirm}})
	}
	for _, bad := range [][2]string{{"short", "short"}, {"a long new password", "another long password"}} {
		if r := set(bad[0], bad[1]); r.code != http.StatusBadRequest {
			t.Errorf("password %q/%q: %d, want 400", bad[0], bad[1], r.code)
		}
	}
	if r := b.signIn("ada@example.org", officerPassword); r.code != http.StatusSeeOther {
		t.Fatalf("the refused attempts changed the password: %d", r.code)
	}
	b = h.browser()
	form = b.get(link)
	if r := set("a brand new passphrase", "a brand new passphrase"); r.code != http.StatusSeeOther || r.header.Get("Location") != "/officer/login?reset=1" {
		t.Fatalf("set the new password: %d %q", r.code, r.header.Get("Location"))
	}
	if r := old.get("/officer/requests"); r.code != http.StatusSeeOther {
		t.Errorf("a session from before the reset still works: %d", r.code)
	}
	if r := b.signIn("ada@example.org", officerPassword); r.code == http.StatusSeeOther {
		t.Error("the old password still signs in")
	}
	if r := h.browser().signIn("ada@example.org", "a brand new passphrase"); r.code != http.StatusSeeOther {
		t.Errorf("the new password does not sign in: %d", r.code)
	}
	if r := b.get(link); r.code != http.StatusGone {
		t.Errorf("a used link opens: %d", r.code)
	}
	again := h.browser()
	page := again.get("/officer/login")
	if r := again.post("/officer/password/reset", url.Values{"csrf": {csrfOf(t, page.body)}, "token": {token},
		"password": {"yet another passphrase"}, "confirm": {"yet another passphrase"}}); r.code != http.StatusGone {
		t.Errorf("a used link set a password again: %d", r.code)
	}
	if r := b.get("/officer/password/reset/not-a-token"); r.code != http.StatusNotFound {
		t.Errorf("a malformed link: %d", r.code)
	}
}
