package e2e

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/demo"
)

// axeSource is axe-core, vendored under testdata/axe-core (MPL-2.0; see
// its README) so the accessibility checks need no network.
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeFinding is one rule axe-core found broken on a page.
type axeFinding struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// checkAxe runs axe-core on the page the browser shows and fails the
// test for any serious or critical finding, naming the rule and where.
// The script is evaluated through the DevTools protocol, which the
// pages' Content-Security-Policy (no script at all) does not restrict.
func checkAxe(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		t.Fatalf("%s: loading axe-core: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeFinding](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: running axe-core: %v", page, err)
	}
	for _, f := range found {
		if f.Impact != "serious" && f.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range f.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		t.Errorf("%s: axe-core %s finding %s (%s) at %s", page, f.Impact, f.ID, f.Help, strings.Join(where, "; "))
	}
}

// accessRequest submits an access request for a demo person in a
// language, confirms it and has it approved; it answers the emailed
// download link.
func (s *system) accessRequest(person int, lang string) string {
	s.t.Helper()
	p := demo.PersonAt(person)
	var r created
	if code := s.call("POST", "/api/v1/requests", "", map[string]any{"type": "access", "email": p.Email, "name": p.Name, "language": lang}, &r); code != http.StatusCreated {
		s.t.Fatalf("submit: %d", code)
	}
	if code, _ := s.confirm(verifyLink.FindString(s.waitMail(r.ID, "verification").Text)); code != http.StatusOK {
		s.t.Fatalf("verify: %d", code)
	}
	s.waitStatus(r.ID, "in_review")
	var decided struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/approve", s.token, nil, &decided); code != http.StatusOK {
		s.t.Fatalf("approve: %d %+v", code, decided)
	}
	s.waitStatus(r.ID, "completed")
	link := downloadLink.FindString(s.waitMail(r.ID, "completed").Text)
	if link == "" {
		s.t.Fatal("the completion email has no download link")
	}
	return link
}

// TestBrowserPublicPagesPassAxe runs axe-core on every page a requester
// sees: the form, the receipt, the confirmation page, the status page,
// the download page and the access report in the browser, and takes
// the report on a phone in English and German.
func TestBrowserPublicPagesPassAxe(t *testing.T) {
	s := newSystem(t)
	// The two access requests are carried out first: the browser's
	// steps share one deadline (newBrowser), which the workflows' time
	// would otherwise eat into.
	links := map[string]string{"en": s.accessRequest(1, "en"), "de": s.accessRequest(2, "de")}
	ctx := newBrowser(t)

	run(t, ctx, "open the form", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#name`)))
	checkAxe(t, ctx, "request form")
	run(t, ctx, "submit the form empty", chromedp.Submit(chromedp.CSS(`#name`)), chromedp.WaitVisible(chromedp.CSS(`#name`)))
	checkAxe(t, ctx, "request form with errors")
	run(t, ctx, "submit the form",
		chromedp.Click(chromedp.CSS(`input[name=type][value=access]`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(`//h1[contains(., "We received your request")]`),
	)
	checkAxe(t, ctx, "receipt")
	reference := text(t, ctx, "dd strong")
	verify := verifyLink.FindString(s.waitMail(reference, "verification").Text)
	run(t, ctx, "open the verification link", chromedp.Navigate(verify), chromedp.WaitVisible(`//button[text()="Confirm my email address"]`))
	checkAxe(t, ctx, "verify confirm page")
	run(t, ctx, "confirm", chromedp.Click(`//button[text()="Confirm my email address"]`), chromedp.WaitVisible(`//h1[contains(., "your email address is confirmed")]`))
	checkAxe(t, ctx, "verified page")
	status := statusLink.FindString(s.waitMail(reference, "acknowledgement").Text)
	run(t, ctx, "open the status page", chromedp.Navigate(status), chromedp.WaitVisible(chromedp.CSS(`main`)))
	checkAxe(t, ctx, "status page")

	for _, c := range []struct {
		lang, view  string
		sectionText string
	}{
		{"en", "View in the browser", "Your rights"},
		{"de", "Im Browser ansehen", "Ihre Rechte"},
	} {
		link := links[c.lang]
		run(t, ctx, "open the download page ("+c.lang+")", chromedp.Navigate(link), chromedp.WaitVisible(`//a[text()="`+c.view+`"]`))
		checkAxe(t, ctx, "download page ("+c.lang+")")
		run(t, ctx, "view the report on a phone ("+c.lang+")",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait),
			chromedp.Click(`//a[text()="`+c.view+`"]`),
			chromedp.WaitVisible(`//h2[text()="`+c.sectionText+`"]`),
			shot(fmt.Sprintf("20-access-report-phone-%s", c.lang)),
		)
		checkAxe(t, ctx, "access report ("+c.lang+")")
		// Nothing is wider than the phone's screen.
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("the %s report is wider than a phone's screen (%v)", c.lang, err)
		}
		run(t, ctx, "back to a desktop window", chromedp.EmulateViewport(1280, 900))
	}
}
