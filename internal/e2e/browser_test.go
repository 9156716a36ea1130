package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// screenshotDir collects a picture of every page the browser tests visit.
var screenshotDir = filepath.Join("..", "..", "test-output", "screenshots")

// newBrowser starts headless Chromium (Debian's package). Without it the
// test is skipped locally and fails in CI, where .ci/run installs it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("DSAR_CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed (apt-get install chromium)")
		}
		t.Skip("Chromium is not installed; skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// A browser test's whole run, steps and waits together, gets four
	// minutes: two ran out once while make test ran every package beside
	// it on two cores. A step that never finishes still fails well inside
	// the package's timeout, naming the step.
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// shot saves a full-page screenshot under test-output/screenshots.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644)
	})
}

// run performs the steps, failing the test with the page it stopped on.
func run(t *testing.T, ctx context.Context, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", step, loc, err)
	}
}

// text reads the text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("reading %s: %v", css, err)
	}
	return strings.TrimSpace(v)
}

// fetchFile is a script that fetches a file in the page, with the page's
// cookies, and answers "<status> <content type> <first two bytes>".
func fetchFile(urlExpr, method string) string {
	return `fetch(` + urlExpr + `, {method: "` + method + `"}).then(async r => {
		const b = new Uint8Array(await r.arrayBuffer());
		return r.status + " " + r.headers.get("Content-Type") + " " + String.fromCharCode(b[0], b[1]);
	})`
}

// TestBrowserRequesterAndOfficer walks the whole path in a real browser:
// a requester fills in the form, opens the emailed link and later sees the
// outcome; an officer signs in, finds the request and approves it.
func TestBrowserRequesterAndOfficer(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	if _, err := app.CreateOfficer(context.Background(), s.app.Store, "grace@example.org", store.RoleOfficer, "correct horse battery", time.Now()); err != nil {
		t.Fatal(err)
	}

	// The requester.
	run(t, ctx, "submit the form",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		shot("01-form"),
		chromedp.Click(chromedp.CSS(`input[name=type][value=access]`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#details`), "My account and my orders."),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(`//h1[contains(., "We received your request")]`),
		shot("02-receipt"),
	)
	receipt, reference := text(t, ctx, "main"), text(t, ctx, "dd strong")
	if !strings.HasPrefix(reference, "DSR-") || !strings.Contains(receipt, "Answer due by") {
		t.Fatalf("receipt:\n%s", receipt)
	}

	link := verifyLink.FindString(s.waitMail(reference, "verification").Text)
	run(t, ctx, "open the verification link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`//button[text()="Confirm my email address"]`),
		shot("03-confirm"),
	)
	// Opening the link changed nothing; the button confirms.
	var opened struct {
		VerifiedAt *time.Time `json:"verified_at"`
	}
	if s.call("GET", "/api/v1/officer/requests/"+reference, s.token, nil, &opened); opened.VerifiedAt != nil {
		t.Fatal("opening the verification link verified the request")
	}
	run(t, ctx, "confirm",
		chromedp.Click(`//button[text()="Confirm my email address"]`),
		chromedp.WaitVisible(`//h1[contains(., "your email address is confirmed")]`),
		shot("03-verified"),
	)
	s.waitStatus(reference, "in_review")

	// Among many other requests (closed ones, so no workflow needs them),
	// the officer finds Ada's by her address, typed in another case.
	seedClosedRequests(t, s.app.Store, 300)

	// The officer.
	run(t, ctx, "sign in and find the request by email",
		chromedp.Navigate(s.base+"/officer/"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		shot("04-sign-in"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "grace@example.org"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.requests`)),
		shot("05-requests"),
		chromedp.SendKeys(chromedp.CSS(`#q`), "Ada@Example.COM"),
		chromedp.Submit(chromedp.CSS(`#q`)),
		chromedp.WaitVisible(`//span[@id="total"][contains(., "1 request matches")]`),
		shot("05b-search-by-email"),
	)
	if rows := text(t, ctx, "table.requests tbody"); !strings.Contains(rows, reference) || strings.Contains(rows, "Someone") {
		t.Errorf("searching Ada's address lists:\n%s", rows)
	}
	run(t, ctx, "open the request and extend it",
		chromedp.Click(`//a[text()="`+reference+`"]`),
		chromedp.WaitVisible(`//button[text()="Approve"]`),
		shot("06-request"),
		chromedp.SendKeys(chromedp.CSS(`#extension-reason`), "Your records are spread over several systems."),
		chromedp.Click(`//button[text()="Extend"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("06b-extended"),
	)
	if page := text(t, ctx, "main"); !strings.Contains(page, "Deadline extended") || !strings.Contains(page, "Your records are spread over several systems.") || strings.Contains(page, "Extend the deadline") {
		t.Errorf("after extending, the request page says:\n%s", page)
	}
	if m := s.waitMail(reference, "extended"); !strings.Contains(m.Text, "several systems") {
		t.Errorf("the extension email:\n%s", m.Text)
	}
	// Case work: an internal note, and the request given to Grace.
	run(t, ctx, "add a note and an assignee",
		chromedp.SendKeys(chromedp.CSS(`#note-body`), "Ada phoned: her old address is on the 2019 orders."),
		chromedp.Click(`//button[text()="Add note"]`),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Note added")]`),
		chromedp.SetValue(chromedp.CSS(`#assignee-select`), "grace@example.org"),
		chromedp.Click(`//button[text()="Save assignee"]`),
		chromedp.WaitVisible(`//dd[@id="assignee"][text()="grace@example.org"]`),
		shot("06c-note-and-assignee"),
	)
	if notes := text(t, ctx, "ol.notes"); !strings.Contains(notes, "her old address is on the 2019 orders") || !strings.Contains(notes, "grace@example.org") {
		t.Errorf("the notes show:\n%s", notes)
	}
	run(t, ctx, "approve",
		chromedp.Click(`//button[text()="Approve"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("07-approved"),
	)
	if flash, status := text(t, ctx, ".notice"), text(t, ctx, ".status-label"); !strings.Contains(flash, "Approved") || status != "Completed" {
		t.Errorf("after approving: notice %q, status %q", flash, status)
	}
	// The officer reviews the package: the browser fetches it with the
	// officer's session.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fetchFile(`document.querySelector('a.button[download]').href`, "GET"), chromedp.EvalAwaitPromise))
	if err != nil || got != "200 application/zip PK" {
		t.Errorf("officer's package download: %q, %v", got, err)
	}
	run(t, ctx, "metrics", chromedp.Navigate(s.base+"/officer/metrics"), chromedp.WaitVisible(chromedp.CSS(`figure.chart`)), shot("07b-metrics"))

	// The requester follows the link in the completion email.
	done := s.waitMail(reference, "completed")
	run(t, ctx, "see the outcome", chromedp.Navigate(statusLink.FindString(done.Text)), shot("08-status"))
	if outcome := text(t, ctx, ".status-label"); outcome != "Completed" {
		t.Errorf("status page says %q", outcome)
	}

	// and downloads their data from the page the email links to.
	run(t, ctx, "open the download page",
		chromedp.Navigate(downloadLink.FindString(done.Text)),
		chromedp.WaitVisible(`//button[text()="Download the file"]`),
		shot("08b-download"),
	)
	got, err = chromedp.Run(ctx, chromedp.Evaluate[string](fetchFile(`document.querySelector('form').action`, "POST"), chromedp.EvalAwaitPromise))
	if err != nil || got != "200 application/zip PK" {
		t.Errorf("requester's download: %q, %v", got, err)
	}
	run(t, ctx, "reload the download page", chromedp.Reload(), chromedp.WaitVisible(`//button[text()="Download the file"]`))
	if page := text(t, ctx, "main"); !strings.Contains(page, "Downloads left\n4") && !strings.Contains(page, "Downloads left 4") {
		t.Errorf("after one download the page says:\n%s", page)
	}

	// On a phone-sized screen no page scrolls sideways.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, page := range []struct{ name, path string }{
		{"09-phone-form", "/"},
		{"10-phone-requests", "/officer/requests?all=1"},
		{"11-phone-request", "/officer/requests/" + reference},
		{"11b-phone-download", strings.TrimPrefix(downloadLink.FindString(done.Text), s.base)},
		{"12-phone-metrics", "/officer/metrics"},
	} {
		fitsThePhone(t, ctx, s.base, page.name, page.path)
	}
}

// seedClosedRequests stores n completed requests from other people,
// through the store.
func seedClosedRequests(t *testing.T, st *store.Store, n int) {
	t.Helper()
	now := time.Now().UTC()
	for i := range n {
		received := now.AddDate(0, 0, -60).Add(time.Duration(i) * time.Minute)
		r := &store.Request{ID: fmt.Sprintf("DSR-S%09d", i), Type: domain.TypeAccess, Status: domain.StatusCompleted,
			Email: fmt.Sprintf("someone%d@example.com", i), Name: fmt.Sprintf("Someone %d", i),
			ReceivedAt: received, DueAt: received.AddDate(0, 0, 30), ClosedAt: &now, WorkflowStartedAt: &now}
		if err := st.CreateRequest(context.Background(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserCorrectionConfirmedWithTheCode: a requester whose browser
// sends Global Privacy Control asks for a correction. The correction
// fields appear only once correction is chosen; a form sent with a mistake
// moves the focus to its error summary. They read the email on another
// device, so they type its code on the status page: a wrong code first,
// which is refused, then the right one.
func TestBrowserCorrectionConfirmedWithTheCode(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	visible := func(css string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(e => !!e && e.offsetParent !== null)(document.querySelector(`+"`"+css+"`"+`))`))
		if err != nil {
			t.Fatalf("is %s visible: %v", css, err)
		}
		return v
	}
	focused := func() string {
		t.Helper()
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	sendGPC := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return t.Call(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Sec-GPC": "1"}}, nil)
	})
	run(t, ctx, "open the form", sendGPC, chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#name`)))
	if visible("fieldset.corrections") {
		t.Error("the correction fields show before correction is chosen")
	}
	run(t, ctx, "choose a correction",
		chromedp.Click(chromedp.CSS(`#type-correction`)),
		chromedp.WaitVisible(chromedp.CSS(`#cf0`)),
		shot("13-form-correction"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#error-summary`)),
		shot("14-form-errors"),
	)
	if got := focused(); got != "error-summary" {
		t.Errorf("after a refused form the focus is on %q, want the error summary", got)
	}
	if summary := text(t, ctx, "#error-summary"); !strings.Contains(summary, "Say which value to correct") {
		t.Errorf("the error summary says %q", summary)
	}
	if !visible("fieldset.corrections") {
		t.Error("the correction fields are hidden on the refused correction form")
	}
	run(t, ctx, "correct and send",
		chromedp.SendKeys(chromedp.CSS(`#cf0`), "postal address"),
		chromedp.SendKeys(chromedp.CSS(`#cv0`), "12 St James's Square"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(`//h1[contains(., "We received your request")]`),
	)
	reference := text(t, ctx, "dd strong")
	var stored struct {
		GPC bool `json:"gpc"`
	}
	if s.call("GET", "/api/v1/officer/requests/"+reference, s.token, nil, &stored); !stored.GPC {
		t.Errorf("the request %s did not record the browser's Global Privacy Control signal", reference)
	}

	code := emailedCode.FindStringSubmatch(s.waitMail(reference, "verification").Text)
	if code == nil {
		t.Fatal("the verification email has no code")
	}
	s.waitStatus(reference, "verifying")
	wrong := "000000"
	if code[1]+code[2] == wrong {
		wrong = "999999"
	}
	run(t, ctx, "open the status page",
		chromedp.Click(`//a[text()="Follow your request"]`),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		shot("15-status-code"),
	)
	statusPage, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "type a wrong code",
		chromedp.SendKeys(chromedp.CSS(`#code`), wrong),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#error-summary`)),
		shot("16-status-wrong-code"),
	)
	if alert := text(t, ctx, "#error-summary"); !strings.Contains(alert, "That code is not right") || !strings.Contains(alert, "4 tries left") {
		t.Errorf("a wrong code says %q", alert)
	}
	if got := focused(); got != "error-summary" {
		t.Errorf("after a wrong code the focus is on %q, want the message", got)
	}
	run(t, ctx, "type the code from the email",
		chromedp.SendKeys(chromedp.CSS(`#code`), code[1]+" "+code[2]),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("17-status-confirmed"),
	)
	if notice := text(t, ctx, ".notice"); !strings.Contains(notice, "your email address is confirmed") {
		t.Errorf("after the right code the page says %q", notice)
	}
	s.waitStatus(reference, "in_review")
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	fitsThePhone(t, ctx, s.base, "18-phone-status", strings.TrimPrefix(statusPage, s.base))
}

// TestBrowserRequesterInFrench: a requester whose browser asks for
// German picks French from the form's language links, is told of a
// mistake in French, sends the form, and from then on everything speaks
// French: the receipt, the verification email (its dates too), the page
// its link opens; every page names the organisation and its contact.
func TestBrowserRequesterInFrench(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	german := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return t.Call(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Accept-Language": "de-DE,de;q=0.9"}}, nil)
	})
	run(t, ctx, "open the form in the browser's German",
		german, chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(`//h1[text()="Eine Datenschutzanfrage stellen"]`),
	)
	run(t, ctx, "choose French and make a mistake",
		chromedp.Click(`//nav[@class="languages"]//a[text()="Français"]`),
		chromedp.WaitVisible(`//h1[text()="Faire une demande relative à vos données"]`),
		shot("40-form-fr"),
		chromedp.Click(chromedp.CSS(`#type-opt_out`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#error-summary`)),
	)
	if summary := text(t, ctx, "#error-summary"); !strings.Contains(summary, "Saisissez votre nom.") {
		t.Errorf("the French error summary says %q", summary)
	}
	run(t, ctx, "send the form in French",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Ada Lovelace"),
		shot("41-form-fr-filled"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(`//h1[text()="Nous avons reçu votre demande"]`),
		shot("42-receipt-fr"),
	)
	page, reference := text(t, ctx, "body"), text(t, ctx, "dd strong")
	for _, want := range []string{"Ne plus me faire de publicité et ne pas vendre ni partager mes données", "Date limite de réponse",
		"Example Shop Ltd", "dpo@shop.example", "Rue de la Loi 16", "Politique de confidentialité"} {
		if !strings.Contains(page, want) {
			t.Errorf("the French receipt lacks %q:\n%s", want, page)
		}
	}
	var stored struct {
		Language string `json:"language"`
	}
	if s.call("GET", "/api/v1/officer/requests/"+reference, s.token, nil, &stored); stored.Language != "fr" {
		t.Errorf("the request stored language %q, want fr", stored.Language)
	}

	m := s.waitMail(reference, "verification")
	months := []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	if !strings.Contains(m.Subject, "Confirmez votre adresse e-mail pour la demande "+reference) ||
		!strings.Contains(m.Text, "Bonjour Ada Lovelace,") || !strings.Contains(m.Text, "dpo@shop.example") ||
		!strings.Contains(m.Text, " à ") || !slices.ContainsFunc(months, func(mo string) bool { return strings.Contains(m.Text, " "+mo+" ") }) {
		t.Errorf("the verification email is not French, or its date is not:\n%s\n%s", m.Subject, m.Text)
	}
	run(t, ctx, "confirm in French",
		chromedp.Navigate(verifyLink.FindString(m.Text)),
		chromedp.WaitVisible(`//button[text()="Confirmer mon adresse e-mail"]`),
		shot("43-confirm-fr"),
		chromedp.Click(`//button[text()="Confirmer mon adresse e-mail"]`),
		chromedp.WaitVisible(`//h1[contains(., "votre adresse e-mail est confirmée")]`),
	)
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	fitsThePhone(t, ctx, s.base, "44-phone-form-fr", "/?lang=fr")
}

// TestBrowserOfficerRunsABreach: an officer records a breach 70 hours
// after awareness, sees the live countdown and the escalation, approves
// the notice, watches it reach everyone, records the authority's
// notification, and the pages fit a phone.
func TestBrowserOfficerRunsABreach(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	signInAsOfficer(t, ctx, s)
	aware := time.Now().UTC().Add(-70 * time.Hour).Format("2006-01-02T15:04")
	run(t, ctx, "record a breach",
		chromedp.Navigate(s.base+"/officer/breaches"),
		chromedp.Click(`//a[text()="Record a breach"]`),
		chromedp.WaitVisible(chromedp.CSS(`#title`)),
		shot("20-breach-form"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)),
		shot("21-breach-form-errors"),
	)
	if page := text(t, ctx, "main"); !strings.Contains(page, "give the incident a short title") || !strings.Contains(page, "describe what happened") {
		t.Errorf("an empty breach form says:\n%s", page)
	}
	run(t, ctx, "fill the form",
		chromedp.SendKeys(chromedp.CSS(`#title`), "Customer list exposed"),
		chromedp.SendKeys(chromedp.CSS(`#description`), "An export of customers was public for two days."),
		chromedp.SetValue(chromedp.CSS(`#aware_at`), aware),
		chromedp.Click(chromedp.CSS(`input[name=systems][value=shop]`)),
		chromedp.SendKeys(chromedp.CSS(`#categories`), "user.contact.email"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	id := text(t, ctx, "h1")
	id = strings.Fields(id)[0]
	waitFor(t, func() bool { b := s.breach(id); return b.AffectedPeople != nil && b.EscalatedAt != nil })
	run(t, ctx, "see the breach", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#subject`)), shot("22-breach"))
	panel := text(t, ctx, ".panel")
	if !regexp.MustCompile(`[12] h \d\d min left`).MatchString(panel) || !strings.Contains(panel, "escalated") {
		t.Errorf("the breach's clock panel says %q", panel)
	}
	if page := text(t, ctx, "main"); !strings.Contains(page, fmt.Sprintf("%d (", demoPeople)) {
		t.Errorf("the page does not show %d people affected:\n%s", demoPeople, page)
	}
	run(t, ctx, "approve the outline as it is",
		chromedp.Click(`//button[starts-with(text(), "Approve and send")]`),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)),
	)
	if alert := text(t, ctx, ".alert"); !strings.Contains(alert, "fill them in") {
		t.Errorf("approving the outline unfilled says %q", alert)
	}
	run(t, ctx, "write and approve the notice",
		chromedp.SetValue(chromedp.CSS(`#text`), "On 3 May a list with your name and email address was readable by anyone with its link. Beware of emails asking for your password."),
		chromedp.Click(`//button[starts-with(text(), "Approve and send")]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	// The progress bar follows the sending without a reload.
	run(t, ctx, "see it sent", chromedp.WaitVisible(`//span[@id="fanout-text"][contains(., "done")]`), shot("23-breach-sent"))
	if page := text(t, ctx, "main"); !strings.Contains(page, fmt.Sprintf("%d of %d (100%%)", demoPeople, demoPeople)) {
		t.Errorf("after the fan-out the page says:\n%s", page)
	}
	run(t, ctx, "record the authority",
		chromedp.SendKeys(chromedp.CSS(`#authority`), "Autoriteit Persoonsgegevens"),
		chromedp.SendKeys(chromedp.CSS(`#reference`), "AP-2026-99"),
		chromedp.Submit(chromedp.CSS(`#authority`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("24-breach-notified"),
	)
	if status := text(t, ctx, ".status-label"); !strings.Contains(status, "Authority notified") {
		t.Errorf("after recording the authority: %q", status)
	}
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, page := range []struct{ name, path string }{
		{"25-phone-breaches", "/officer/breaches"},
		{"26-phone-breach", "/officer/breaches/" + id},
		{"27-phone-breach-form", "/officer/breaches/new"},
	} {
		fitsThePhone(t, ctx, s.base, page.name, page.path)
	}
}

// signInAsOfficer creates an officer and signs them in to the dashboard.
func signInAsOfficer(t *testing.T, ctx context.Context, s *system) {
	t.Helper()
	if _, err := app.CreateOfficer(context.Background(), s.app.Store, "grace@example.org", store.RoleOfficer, "correct horse battery", time.Now()); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "sign in",
		chromedp.Navigate(s.base+"/officer/login"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "grace@example.org"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//h1[text()="Requests"]`),
	)
}

// fitsThePhone opens a page (in a phone-sized viewport), keeps its
// screenshot, and checks that it does not scroll sideways and that every
// field has a label a screen reader can announce.
func fitsThePhone(t *testing.T, ctx context.Context, base, name, path string) {
	t.Helper()
	run(t, ctx, name, chromedp.Navigate(base+path), shot(name))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Errorf("%s scrolls sideways on a phone", path)
	}
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
		.filter(e => !e.labels || e.labels.length === 0).map(e => e.name || e.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(unlabelled) > 0 {
		t.Errorf("%s has fields without a label: %v", path, unlabelled)
	}
}

// TestBrowserOfficerHoldsAndReleases: an officer places a legal hold on a
// table, sees a deletion keep the held tickets and the invoices the law
// keeps (with basis and end date), and releases the hold, which finishes
// the deletion: the request's page then shows the held part erased.
func TestBrowserOfficerHoldsAndReleases(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	signInAsOfficer(t, ctx, s)
	run(t, ctx, "open the holds",
		chromedp.Click(`//nav//a[text()="Legal holds"]`),
		chromedp.WaitVisible(chromedp.CSS(`#reason`)),
		shot("28-holds"),
		chromedp.Click(`//button[text()="Place the hold"]`),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)),
		shot("29-hold-form-errors"),
	)
	if page := text(t, ctx, "main"); !strings.Contains(page, "enter the person's email address") || !strings.Contains(page, "give the reason for the hold") {
		t.Errorf("an empty hold form says:\n%s", page)
	}
	run(t, ctx, "hold the support tickets",
		chromedp.Click(chromedp.CSS(`input[name=scope][value=table]`)),
		chromedp.SendKeys(chromedp.CSS(`#target`), "shop.support_tickets"),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "Litigation: Example Ltd v Hopper"),
		chromedp.Click(`//button[text()="Place the hold"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("30-hold-placed"),
	)
	if page := text(t, ctx, "main"); !strings.Contains(page, "table shop.support_tickets") || !strings.Contains(page, "Litigation") {
		t.Errorf("the holds page after placing one:\n%s", page)
	}

	const person = 2
	r, _ := s.run(person, "deletion")
	run(t, ctx, "see what the deletion kept",
		chromedp.Navigate(s.base+"/officer/requests/"+r.ID),
		chromedp.WaitVisible(`//h2[text()="Kept by law"]`),
		shot("31-request-kept-by-law"),
	)
	page := text(t, ctx, "main")
	for _, want := range []string{"shop / invoices", "tax law requires keeping invoices for seven years", "restricted, erased when the period ends", "support_tickets", "erasure resumes when released"} {
		if !strings.Contains(page, want) {
			t.Errorf("the request page lacks %q:\n%s", want, page)
		}
	}
	run(t, ctx, "release the hold",
		chromedp.Navigate(s.base+"/officer/holds"),
		chromedp.Click(`//button[text()="Release"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if page := text(t, ctx, "main"); !strings.Contains(page, "No hold is in force") || !strings.Contains(page, "released") {
		t.Errorf("the holds page after the release:\n%s", page)
	}
	waitFor(t, func() bool {
		return s.shopCount(`SELECT count(*) FROM support_tickets WHERE customer_id = $1`, person) == 0
	})
	// The request's page now reads as the deletion's final state.
	waitUntil(t, "the request page to show the held part erased", func() bool {
		run(t, ctx, "see the held part erased", chromedp.Navigate(s.base+"/officer/requests/"+r.ID), chromedp.WaitVisible(`//h2[text()="Legal holds"]`))
		return strings.Contains(text(t, ctx, "#deferred"), "erased on ")
	})
	page = text(t, ctx, "main")
	for _, want := range []string{"support_tickets, with the rows they refer to, erased on ", " after legal hold HLD-", " ended (", "support_tickets: ", " deleted", ", erased "} {
		if !strings.Contains(page, want) {
			t.Errorf("the request page after the release lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "erasure resumes when released") {
		t.Errorf("the request page still says the part waits for the hold:\n%s", page)
	}
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	fitsThePhone(t, ctx, s.base, "32-phone-holds", "/officer/holds")
	fitsThePhone(t, ctx, s.base, "33-phone-request-kept", "/officer/requests/"+r.ID)
}
