package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/store"
)

// TestBrowserOfficerSignsInWithTOTP: an admin turns two-factor on from
// the dashboard with a code computed as an authenticator app would,
// requires it of everyone, signs out, and signs in again with password
// and code (after a wrong code is refused), then once with a recovery
// code.
func TestBrowserOfficerSignsInWithTOTP(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	if _, err := app.CreateOfficer(context.Background(), s.app.Store, "grace@example.org", store.RoleAdmin, "correct horse battery", time.Now()); err != nil {
		t.Fatal(err)
	}
	// appCode is what the app shows; ahead steps later, which the server
	// accepts as clock skew, so a later sign-in never reuses the step
	// enrolment spent.
	appCode := func(secret string, ahead int) string {
		t.Helper()
		c, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(ahead)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	password := func(step string) {
		t.Helper()
		run(t, ctx, step,
			chromedp.Navigate(s.base+"/officer/login"),
			chromedp.WaitVisible(chromedp.CSS(`#password`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), "grace@example.org"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
			chromedp.Submit(chromedp.CSS(`#password`)),
		)
	}

	password("sign in with the password")
	run(t, ctx, "signed in", chromedp.WaitVisible(`//h1[text()="Requests"]`))
	// The set-up page, with its long otpauth link, fits a phone.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	fitsThePhone(t, ctx, s.base, "24-phone-totp-enrol", "/officer/security")
	run(t, ctx, "desktop viewport", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.base+"/officer/requests"))
	run(t, ctx, "open sign-in security",
		chromedp.WaitVisible(`//h1[text()="Requests"]`),
		chromedp.Click(`//nav//a[text()="Sign-in security"]`),
		chromedp.WaitVisible(chromedp.CSS(`#totp-secret`)),
		shot("20-totp-enrol"),
	)
	secret := text(t, ctx, "#totp-secret")
	if uri := text(t, ctx, "#totp-uri"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("otpauth URI %q", uri)
	}
	// The QR code is a data: image; the page's CSP must let it show.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('img[alt^="QR"]').naturalWidth`)); err != nil || w == 0 {
		t.Errorf("the QR code did not render: width %d, %v", w, err)
	}
	run(t, ctx, "confirm with a code",
		chromedp.SendKeys(chromedp.CSS(`#enrol-code`), appCode(secret, 0)),
		chromedp.Submit(chromedp.CSS(`#enrol-code`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
		shot("21-totp-recovery-codes"),
	)
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#recovery-codes code')].map(e => e.textContent)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes shown: %q, %v", codes, err)
	}

	run(t, ctx, "require two-factor and sign out",
		chromedp.Navigate(s.base+"/officer/officers"),
		chromedp.WaitVisible(chromedp.CSS(`#require-totp button`)),
		chromedp.Click(chromedp.CSS(`#require-totp button`)),
		chromedp.WaitVisible(`//button[text()="No longer require two-factor"]`),
		chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
	)

	password("sign in again with the password")
	run(t, ctx, "a wrong code",
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		shot("22-totp-code"),
		chromedp.SendKeys(chromedp.CSS(`#code`), "12345"),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)),
	)
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "not right") {
		t.Errorf("after a wrong code the page says %q", msg)
	}
	run(t, ctx, "the right code",
		chromedp.SendKeys(chromedp.CSS(`#code`), appCode(secret, 1)),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(`//h1[text()="Requests"]`),
		shot("23-totp-signed-in"),
	)

	run(t, ctx, "sign out and in with a recovery code",
		chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
	)
	password("the password before a recovery code")
	run(t, ctx, "the code page", chromedp.WaitVisible(chromedp.CSS(`#code`)), chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	fitsThePhone(t, ctx, s.base, "25-phone-totp-code", "/officer/login/code")
	run(t, ctx, "a recovery code",
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), codes[0]),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(`//h1[text()="Requests"]`),
	)
	run(t, ctx, "one recovery code fewer",
		chromedp.Navigate(s.base+"/officer/security"),
		chromedp.WaitVisible(`//p[contains(., "9 unused recovery codes")]`),
	)
}
