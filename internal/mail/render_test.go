package mail_test

import (
	"html"
	"slices"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/mail"
)

const (
	verifyLink = "https://privacy.example.com/verify/q7Yb2-Xz_0kLmNoPqRsTuVwXyZ0123456789abcdefg"
	statusLink = "https://privacy.example.com/status/Zz9_8-7yXwVuTsRqPoNmLkJiHgFeDcBa0123456789a"
)

func sampleData() mail.Data {
	return mail.Data{
		Organisation: "Analytical Engines Ltd",
		Name:         "Ada Lovelace",
		RequestID:    "DSR-7K3M9Q2XHD",
		TypeLabel:    "Access my data",
		ReceivedAt:   "10 March 2025",
		DueAt:        "9 April 2025",
		Link:         verifyLink,
		LinkExpires:  "17 March 2025 09:30 UTC",
		Code:         "024 680",
		StatusLink:   statusLink,
		Reason:       "We hold no data about this address.",
		DuplicateOf:  "DSR-4F8N2W6R1T",
	}
}

func newRenderer(t *testing.T) *mail.Renderer {
	t.Helper()
	r, err := mail.NewRenderer()
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

// What each email must show its reader, in both parts. The reference is in
// every subject and every HTML footer (checked for all kinds below).
var mustShow = map[mail.Kind][]string{
	mail.KindAcknowledgement:      {"Ada Lovelace", "Access my data", "DSR-7K3M9Q2XHD", "10 March 2025", "9 April 2025", statusLink},
	mail.KindVerification:         {"Ada Lovelace", verifyLink, "17 March 2025 09:30 UTC", "024 680", "status page"},
	mail.KindVerificationReminder: {"Ada Lovelace", "DSR-7K3M9Q2XHD", verifyLink, "17 March 2025 09:30 UTC", "024 680", "status page"},
	mail.KindExpiredUnverified:    {"Ada Lovelace", "DSR-7K3M9Q2XHD", "not confirmed in time", "new request"},
	mail.KindVerified:             {"Ada Lovelace", "Access my data", "9 April 2025", statusLink},
	mail.KindCompleted:            {"Ada Lovelace", "Access my data", statusLink, "supervisory authority"},
	mail.KindDenied:               {"Ada Lovelace", "Access my data", "We hold no data about this address.", "supervisory authority"},
	mail.KindExtended:             {"Ada Lovelace", "Access my data", "9 April 2025", "We hold no data about this address.", "supervisory authority", statusLink},
	mail.KindWithdrawn:            {"Ada Lovelace", "Access my data", "withdrawn your request", "new request", statusLink},
	mail.KindMessage:              {"Ada Lovelace", "Access my data", "has written to you", statusLink},
	mail.KindHoldReleased:         {"Ada Lovelace", "Access my data", "legal hold", "There was nothing left to erase.", "We no longer keep any of your records", statusLink, "supervisory authority"},
	mail.KindDuplicate:            {"Ada Lovelace", "Access my data", "DSR-7K3M9Q2XHD", "your request DSR-4F8N2W6R1T", statusLink},
}

var wantSubject = map[mail.Kind]string{
	mail.KindAcknowledgement:      "We received your privacy request DSR-7K3M9Q2XHD",
	mail.KindVerification:         "Confirm your email address for request DSR-7K3M9Q2XHD",
	mail.KindVerificationReminder: "Reminder: confirm your email address for request DSR-7K3M9Q2XHD",
	mail.KindExpiredUnverified:    "Your privacy request DSR-7K3M9Q2XHD was closed",
	mail.KindVerified:             "Thank you: request DSR-7K3M9Q2XHD is now being reviewed",
	mail.KindCompleted:            "Your privacy request DSR-7K3M9Q2XHD is complete",
	mail.KindDenied:               "Decision on your privacy request DSR-7K3M9Q2XHD",
	mail.KindExtended:             "We need more time for your privacy request DSR-7K3M9Q2XHD",
	mail.KindWithdrawn:            "Your privacy request DSR-7K3M9Q2XHD is withdrawn",
	mail.KindMessage:              "A message about your privacy request DSR-7K3M9Q2XHD",
	mail.KindHoldReleased:         "Your privacy request DSR-7K3M9Q2XHD: the legal hold has ended",
	mail.KindDuplicate:            "Your privacy request DSR-7K3M9Q2XHD is closed as a duplicate",
}

func TestRenderEveryKind(t *testing.T) {
	r := newRenderer(t)
	if len(mustShow) != len(mail.Kinds) {
		t.Fatalf("test covers %d kinds, package has %d", len(mustShow), len(mail.Kinds))
	}
	for _, k := range mail.Kinds {
		t.Run(string(k), func(t *testing.T) {
			subject, text, htmlBody, err := r.Render(k, sampleData())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if subject != wantSubject[k] {
				t.Errorf("subject = %q, want %q", subject, wantSubject[k])
			}
			if strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q spans lines", subject)
			}
			for _, want := range mustShow[k] {
				if !strings.Contains(text, want) {
					t.Errorf("text part lacks %q:\n%s", want, text)
				}
				if !strings.Contains(htmlBody, html.EscapeString(want)) {
					t.Errorf("HTML part lacks %q:\n%s", want, htmlBody)
				}
			}
			if !strings.Contains(text, "Analytical Engines Ltd") {
				t.Errorf("text part is not signed by the organisation:\n%s", text)
			}
			if !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") {
				t.Errorf("text part should end with exactly one newline: %q", text[max(0, len(text)-20):])
			}
			if strings.Contains(text, "<no value>") || strings.Contains(htmlBody, "<no value>") {
				t.Error("a template refers to a field Data does not have")
			}
			for _, want := range []string{
				"<!DOCTYPE html>",
				"<title>" + html.EscapeString(subject) + "</title>",
				"Analytical Engines Ltd · Privacy requests",
				"Reference: <strong>DSR-7K3M9Q2XHD</strong>",
			} {
				if !strings.Contains(htmlBody, want) {
					t.Errorf("HTML part lacks %q", want)
				}
			}
		})
	}
}

// TestHoldReleasedSaysWhatWasErasedAndWhatTheLawKeeps: the email after
// a legal hold ended lists what was erased then and what is still kept
// by law until when, in the requester's language, in both parts.
func TestHoldReleasedSaysWhatWasErasedAndWhatTheLawKeeps(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		lang       i18n.Lang
		erased     string
		kept, none string
	}{
		{i18n.English, "What we have now done with those records:", "What we still keep, because the law requires it", "We no longer keep"},
		{i18n.German, "Was wir jetzt mit diesen Datensätzen getan haben:", "Was wir weiterhin aufbewahren", "keine Ihrer Datensätze mehr"},
		{i18n.French, "Ce que nous avons maintenant fait de ces enregistrements :", "Ce que nous conservons encore", "ne conservons plus"},
		{i18n.Spanish, "Lo que hemos hecho ahora con esos registros:", "Lo que aún conservamos", "Ya no conservamos"},
	} {
		t.Run(string(c.lang), func(t *testing.T) {
			d := sampleData()
			d.Lang = c.lang
			d.Erased = []string{"Support tickets: 2 deleted"}
			d.KeptByLaw = []string{"Your invoices (Name, Address): 3 records, kept until 31 December 2033 (tax law)"}
			_, text, htmlBody, err := r.Render(mail.KindHoldReleased, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{c.erased, d.Erased[0], c.kept, d.KeptByLaw[0]} {
				if !strings.Contains(text, want) {
					t.Errorf("text part lacks %q:\n%s", want, text)
				}
				if !strings.Contains(htmlBody, html.EscapeString(want)) {
					t.Errorf("HTML part lacks %q", want)
				}
			}
			if strings.Contains(text, c.none) {
				t.Errorf("says nothing is kept by law while something is:\n%s", text)
			}
		})
	}
}

func TestRenderLinksAreButtons(t *testing.T) {
	r := newRenderer(t)
	for k, link := range map[mail.Kind]string{
		mail.KindAcknowledgement:      statusLink,
		mail.KindVerification:         verifyLink,
		mail.KindVerificationReminder: verifyLink,
		mail.KindVerified:             statusLink,
		mail.KindCompleted:            statusLink,
	} {
		_, _, htmlBody, err := r.Render(k, sampleData())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(htmlBody, `<a href="`+link+`"`) {
			t.Errorf("%s: HTML has no link to %s", k, link)
		}
	}
	// The expiry notice must not carry a link to the request: it is
	// closed. (The privacy contact and notice are linked in every email.)
	_, text, htmlBody, err := r.Render(mail.KindExpiredUnverified, sampleData())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "https://privacy.example.com/") || strings.Contains(htmlBody, `<a href="https://privacy.example.com/`) {
		t.Error("the expired_unverified email offers a link")
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	r := newRenderer(t)
	d := sampleData()
	d.Name = `<script>alert("Ada")</script>`
	d.Reason = `<img src=x onerror=alert(1)> & more`
	d.Organisation = `Engines & <b>Co</b>`
	for _, k := range mail.Kinds {
		_, text, htmlBody, err := r.Render(k, d)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, raw := range []string{"<script>", "<img", "<b>Co</b>"} {
			if strings.Contains(htmlBody, raw) {
				t.Errorf("%s: HTML part contains unescaped %q", k, raw)
			}
		}
		if !strings.Contains(htmlBody, "&lt;script&gt;") {
			t.Errorf("%s: HTML part does not show the name escaped", k)
		}
		// The text part is plain text: the name reads as typed.
		if !strings.Contains(text, `<script>alert("Ada")</script>`) {
			t.Errorf("%s: text part altered the name:\n%s", k, text)
		}
	}
	_, _, htmlBody, err := r.Render(mail.KindDenied, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(htmlBody, "&lt;img src=x onerror=alert(1)&gt; &amp; more") {
		t.Errorf("denial reason not escaped in HTML:\n%s", htmlBody)
	}
}

func TestRenderRefusesUnsafeLinks(t *testing.T) {
	r := newRenderer(t)
	d := sampleData()
	d.Link = "javascript:alert(1)"
	_, _, htmlBody, err := r.Render(mail.KindVerification, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(htmlBody, `href="javascript:`) {
		t.Error("HTML part links to a javascript: URL")
	}
}

func TestRenderUnknownKind(t *testing.T) {
	r := newRenderer(t)
	if _, _, _, err := r.Render("welcome", sampleData()); err == nil || !strings.Contains(err.Error(), "welcome") {
		t.Errorf("Render(unknown kind) = %v, want an error naming it", err)
	}
}

// Officer alerts name the request and its clock and link to the
// dashboard; they never carry the requester's name or address.
func TestRenderOfficerAlerts(t *testing.T) {
	r := newRenderer(t)
	d := sampleData()
	d.DueIn, d.StatusLabel, d.Regime = "2 days", "Awaiting decision", "gdpr"
	d.DashboardLink = "https://privacy.example.com/officer/requests/DSR-7K3M9Q2XHD"
	d.Items = []mail.DigestLine{
		{Ref: "DSR-7K3M9Q2XHD", What: "Access my data · Awaiting decision", Due: "9 April 2025", Note: "overdue", Link: d.DashboardLink},
		{Ref: "BR-2", What: "Breach: lost laptop", Due: "12 April 2025 10:00 UTC", Link: "https://privacy.example.com/officer/breaches/2"},
	}
	want := map[mail.Kind][]string{
		mail.KindOfficerReminder:       {"Due in 2 days: request DSR-7K3M9Q2XHD (9 April 2025)", "Awaiting decision", "gdpr clock", d.DashboardLink},
		mail.KindOfficerOverdue:        {"Overdue: request DSR-7K3M9Q2XHD was due 9 April 2025", "past its legal deadline", d.DashboardLink},
		mail.KindOfficerDigest:         {"Deadlines: 2 items need attention", "DSR-7K3M9Q2XHD", "overdue", "Breach: lost laptop", "BR-2"},
		mail.KindOfficerBreachReminder: {"URGENT: Breach DSR-7K3M9Q2XHD: notification due in 2 days", "72 hours", d.DashboardLink},
		mail.KindOfficerBreachOverdue:  {"Overdue: breach DSR-7K3M9Q2XHD passed 72 hours", "reasons for the delay", d.DashboardLink},
		mail.KindOfficerPasswordReset:  {"Choose a new dsar password", "https://privacy.example.com/officer/password/reset/", "works once", "ignore this email"},
	}
	for _, k := range mail.OfficerKinds {
		dk := d
		if k == mail.KindOfficerPasswordReset {
			dk.Link = "https://privacy.example.com/officer/password/reset/T0KEN"
		}
		subject, text, htmlBody, err := r.Render(k, dk)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, w := range want[k] {
			if !strings.Contains(subject+"\n"+text, w) {
				t.Errorf("%s: text lacks %q:\n%s\n%s", k, w, subject, text)
			}
		}
		for _, leak := range []string{"Ada Lovelace", "privacy.example.com/status/", "privacy.example.com/verify/"} {
			if strings.Contains(text, leak) || strings.Contains(htmlBody, leak) {
				t.Errorf("%s: an officer alert carries %q", k, leak)
			}
		}
		if !strings.Contains(htmlBody, "dsar alert for the privacy team") {
			t.Errorf("%s: not in the officers' layout", k)
		}
	}
}

// The breach notice carries the officer's words and greets each person
// by the placeholder SendGrid replaces.
func TestRenderBreachNotice(t *testing.T) {
	r := newRenderer(t)
	d := mail.Data{Organisation: "Analytical Engines Ltd", RequestID: "BRE-7K3M9Q2XHD", Name: mail.NamePlaceholder,
		Reason: "Your card details may have been exposed", Notice: "On 3 May a laptop was stolen.\n\n<b>Change your password.</b>"}
	subject, text, htmlBody, err := r.Render(mail.KindBreachNotice, d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Your card details may have been exposed" || !strings.Contains(text, "Dear %name%,") || !strings.Contains(text, "<b>Change your password.</b>") {
		t.Errorf("notice: %q\n%s", subject, text)
	}
	if strings.Contains(htmlBody, "<b>Change") || !strings.Contains(htmlBody, "&lt;b&gt;Change") {
		t.Error("the notice's HTML part does not escape the officer's text")
	}
}

// Every email to a requester, in every language, says who is asking and
// how to reach them: the organisation, its privacy team's address and
// postal address, and its privacy notice; none says "contact us" without
// saying how.
func TestRenderNamesTheOrganisationInEveryLanguage(t *testing.T) {
	r := newRenderer(t)
	d := sampleData()
	d.Contact = mail.Contact{
		PrivacyEmail:     "dpo@engines.example",
		PrivacyAddress:   "Analytical Engines Ltd, 12 Dorset Street, London W1U 4EH",
		PrivacyNoticeURL: "https://engines.example/privacy",
		LogoURL:          "https://privacy.example.com/logo",
	}
	subjects := map[i18n.Lang]string{
		i18n.English: "Confirm your email address for request DSR-7K3M9Q2XHD",
		i18n.German:  "Bestätigen Sie Ihre E-Mail-Adresse für die Anfrage DSR-7K3M9Q2XHD",
		i18n.French:  "Confirmez votre adresse e-mail pour la demande DSR-7K3M9Q2XHD",
		i18n.Spanish: "Confirme su dirección de correo electrónico para la solicitud DSR-7K3M9Q2XHD",
	}
	for _, l := range i18n.Langs {
		d.Lang = l
		for _, k := range append(slices.Clone(mail.Kinds), mail.NoticeKinds...) {
			subject, text, htmlBody, err := r.Render(k, d)
			if err != nil {
				t.Fatalf("%s %s: %v", l, k, err)
			}
			for _, want := range []string{"Analytical Engines Ltd", d.PrivacyEmail, d.PrivacyAddress, d.PrivacyNoticeURL} {
				if !strings.Contains(text, want) || !strings.Contains(htmlBody, html.EscapeString(want)) {
					t.Errorf("%s %s: lacks %q", l, k, want)
				}
			}
			if !strings.Contains(htmlBody, `<html lang="`+string(l)+`">`) || !strings.Contains(htmlBody, `<img src="https://privacy.example.com/logo"`) {
				t.Errorf("%s %s: HTML part has no lang %s or no logo", l, k, l)
			}
			if strings.Contains(strings.ToLower(text), "you may contact us") {
				t.Errorf("%s %s: says \"you may contact us\" without a contact", l, k)
			}
			if k == mail.KindVerification && subject != subjects[l] {
				t.Errorf("%s: subject %q, want %q", l, subject, subjects[l])
			}
		}
	}
	// Officer alerts stay English.
	d.Lang = i18n.German
	subject, _, _, err := r.Render(mail.KindOfficerOverdue, d)
	if err != nil || !strings.HasPrefix(subject, "Overdue: request") {
		t.Errorf("officer alert in German data: %q, %v", subject, err)
	}
}
