package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/store"
)

// Who is asking: the harness's organisation, contact and logo.
const (
	testOrganisation   = "Analytical Engines Ltd"
	testPrivacyEmail   = "dpo@engines.example"
	testPrivacyAddress = "Analytical Engines Ltd, 12 Dorset Street, London W1U 4EH"
	testNoticeURL      = "https://engines.example/privacy"
	testLogo           = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
)

// whoIsAsking checks that a public page names the organisation, links
// its privacy notice, gives its privacy contact and shows its logo.
func whoIsAsking(t *testing.T, what, body string) {
	t.Helper()
	for _, want := range []string{testOrganisation, `href="` + testNoticeURL + `"`, `href="mailto:` + testPrivacyEmail + `"`,
		"12 Dorset Street, London W1U 4EH", `<img class="logo" src="/logo"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", what, want)
		}
	}
	if strings.Contains(strings.ToLower(body), "you may contact us") {
		t.Errorf("%s says \"you may contact us\" without a contact", what)
	}
}

var receiptRef = regexp.MustCompile(`<strong>(DSR-[A-Z0-9]+)</strong>`)

func (h *harness) submitForm(form url.Values, header ...string) (response, string) {
	h.t.Helper()
	r := h.do("POST", "/requests", "application/x-www-form-urlencoded", form.Encode(), header...)
	m := receiptRef.FindStringSubmatch(r.body)
	if m == nil {
		return r, ""
	}
	return r, m[1]
}

func TestFormInTheBrowsersLanguage(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()

	r := h.do("GET", "/", "", "", "Accept-Language", "de-CH, de;q=0.9, en;q=0.5")
	for _, want := range []string{`<html lang="de">`, "<h1>Eine Datenschutzanfrage stellen</h1>", "Auskunft über meine Daten",
		"Keine Werbung mehr an mich", "Ihre E-Mail-Adresse", `<option value="de" lang="de" selected>Deutsch</option>`,
		`<a href="/?lang=fr" hreflang="fr" lang="fr">Français</a>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("German form lacks %q", want)
		}
	}
	if r.header.Get("Content-Language") != "de" {
		t.Errorf("Content-Language = %q", r.header.Get("Content-Language"))
	}
	whoIsAsking(t, "the German form", r.body)

	// The form sent from a German browser stores "de"; the receipt is
	// German, its dates too.
	receipt, id := h.submitForm(url.Values{"type": {"access"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"}},
		"Accept-Language", "de-DE,de;q=0.9")
	if receipt.code != http.StatusCreated || id == "" {
		t.Fatalf("German form: %d\n%s", receipt.code, receipt.body)
	}
	stored, err := h.store.GetRequest(ctx, id)
	if err != nil || stored.Language != "de" {
		t.Fatalf("stored language %q, %v; want de", stored.Language, err)
	}
	for _, want := range []string{"Wir haben Ihre Anfrage erhalten", "Antwortfrist", "1. April 2026", "2. März 2026, 10:00 Uhr UTC"} {
		if !strings.Contains(receipt.body, want) {
			t.Errorf("German receipt lacks %q:\n%s", want, receipt.body)
		}
	}
	whoIsAsking(t, "the German receipt", receipt.body)

	// The status page of a German request is German whatever the
	// browser opening the link prefers.
	status := h.do("GET", h.statusLinkOf(id), "", "", "Accept-Language", "en")
	if !strings.Contains(status.body, "Ihre Anfrage "+id) || !strings.Contains(status.body, `<html lang="de">`) {
		t.Errorf("status page of a German request:\n%s", status.body)
	}
	whoIsAsking(t, "the status page", status.body)

	// The language chosen on the form wins over the browser's.
	receipt, id = h.submitForm(url.Values{"type": {"opt_out"}, "name": {"Ada Lovelace"}, "email": {"ada2@example.com"}, "language": {"fr"}},
		"Accept-Language", "de")
	if stored, err := h.store.GetRequest(ctx, id); err != nil || stored.Language != "fr" {
		t.Fatalf("chose French: stored %+v, %v", stored, err)
	}
	if !strings.Contains(receipt.body, "Nous avons reçu votre demande") || !strings.Contains(receipt.body, "Ne plus me faire de publicité") {
		t.Errorf("French receipt:\n%s", receipt.body)
	}

	// ?lang= from the form's language links.
	if r := h.do("GET", "/?lang=es", "", "", "Accept-Language", "de"); !strings.Contains(r.body, "Presentar una solicitud de privacidad") {
		t.Errorf("/?lang=es is not Spanish")
	}
	// No Accept-Language, or one dsar does not speak: English.
	if r := h.do("GET", "/", "", "", "Accept-Language", "ja"); !strings.Contains(r.body, "<h1>Make a privacy request</h1>") {
		t.Errorf("Japanese browser: not English")
	}
}

// Problems in the form are told in the form's language, next to their
// fields and in the summary, and the correction fields stay.
func TestFormErrorsInGerman(t *testing.T) {
	h := newHarness(t, false)
	before := h.count()
	r, _ := h.submitForm(url.Values{"type": {"correction"}, "email": {"kein-at"}, "language": {"de"},
		"correction_field": {"Postanschrift"}, "correction_value": {""}})
	if r.code != http.StatusBadRequest || h.count() != before {
		t.Fatalf("bad German form: %d", r.code)
	}
	for _, want := range []string{"Fehler: Eine Datenschutzanfrage stellen", "Bitte korrigieren Sie diese 3 Probleme:",
		"Geben Sie Ihren Namen ein.", "Geben Sie eine E-Mail-Adresse wie name@example.com ein.", "Geben Sie den richtigen Wert an.",
		`value="Postanschrift"`, `<option value="de" lang="de" selected>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("German form errors lack %q:\n%s", want, r.body)
		}
	}
}

// Every public page in every language says who is asking; error pages
// too, in the browser's language.
func TestEveryPublicPageSaysWhoIsAsking(t *testing.T) {
	h := newHarness(t, false)
	for _, l := range i18n.Langs {
		r := h.do("GET", "/?lang="+string(l), "", "")
		whoIsAsking(t, "the form in "+string(l), r.body)
	}
	token, id := h.addVerifyToken(testNow.Add(24 * time.Hour))
	verify := h.do("GET", "/verify/"+token, "", "")
	whoIsAsking(t, "the verification page", verify.body)
	if !strings.Contains(verify.body, id) {
		t.Errorf("verification page does not name %s", id)
	}
	missing := h.do("GET", "/status/"+strings.Repeat("A", 43), "", "", "Accept-Language", "es")
	if missing.code != http.StatusNotFound || !strings.Contains(missing.body, "Este enlace no funciona") {
		t.Errorf("Spanish 404: %d\n%s", missing.code, missing.body)
	}
	whoIsAsking(t, "the error page", missing.body)

	logo := h.do("GET", "/logo", "", "")
	if logo.code != http.StatusOK || logo.header.Get("Content-Type") != "image/png" || logo.body != testLogo {
		t.Errorf("/logo: %d %q", logo.code, logo.header.Get("Content-Type"))
	}
}

func TestAPILanguage(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"ada@example.com","name":"Ada Lovelace","language":"ES"}`)
	var got struct{ ID, Language string }
	r.json(t, &got)
	if r.code != http.StatusCreated || got.Language != "es" {
		t.Errorf("API with language: %d %s", r.code, r.body)
	}
	r = h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"charles@example.com","name":"Charles Babbage"}`)
	r.json(t, &got)
	if got.Language != "en" {
		t.Errorf("API without language: %s", r.body)
	}
	before := h.count()
	bad := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"grace@example.com","name":"Grace Hopper","language":"pt"}`)
	if bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "language") || h.count() != before {
		t.Errorf("unknown language: %d %s", bad.code, bad.body)
	}
}

// The officer's request page names the requester's language, in the
// dashboard's English.
func TestOfficerSeesTheRequestersLanguage(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	_, id := h.submitForm(url.Values{"type": {"access"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "language": {"es"}})
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/requests/" + id)
	if !strings.Contains(page.body, "<dt>Language</dt><dd>Spanish") || !strings.Contains(page.body, `<html lang="en">`) {
		t.Errorf("officer page of a Spanish request:\n%s", page.body)
	}
}

// TestCorrectionWithAPhoneThatIsNoneIsRefusedInTheFormsLanguage: a
// phone number without its country code (none is configured) is refused
// on the form, in the reader's language, and nothing is stored.
func TestCorrectionWithAPhoneThatIsNoneIsRefusedInTheFormsLanguage(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	for lang, want := range map[string]string{
		"en": "Give the phone number in international form",
		"fr": "Indiquez le numéro de téléphone au format international",
		"de": "Geben Sie die Telefonnummer im internationalen Format an",
		"es": "Indique el número de teléfono en formato internacional",
	} {
		r, id := h.submitForm(url.Values{"type": {"correction"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "language": {lang},
			"correction_field": {"phone"}, "correction_value": {"06 1234 5678"}})
		if r.code != http.StatusBadRequest || id != "" || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, %q\n%s", lang, r.code, id, r.body)
		}
	}
	if counts, err := h.store.CountRequests(ctx); err != nil || len(counts) != 0 {
		t.Errorf("requests stored: %v, %v; want none", counts, err)
	}
	r, id := h.submitForm(url.Values{"type": {"correction"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"},
		"correction_field": {"phone"}, "correction_value": {"+31 6 1234 5678"}})
	if r.code != http.StatusCreated || id == "" {
		t.Fatalf("an international number: %d\n%s", r.code, r.body)
	}
}
