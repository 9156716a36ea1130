package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/mail"
)

// writeTemplates writes files (by path under the directory) into a new
// override directory.
func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const ownVerification = `{{define "subject"}}Please confirm request {{.RequestID}}{{end}}
{{define "body"}}Hello {{.Name}},

open {{.Link}} or type {{.Code}} on the status page.

{{template "signature" .}}
{{end}}
`

const ownVerificationHTML = `{{define "content"}}<p>Hallo {{.Name}}, <a href="{{.Link}}">bestätigen</a> oder {{.Code}}.</p>{{end}}
`

func TestOverridesReplaceTheBuiltInTemplatesPerLanguage(t *testing.T) {
	dir := writeTemplates(t, map[string]string{
		"verification.txt":     ownVerification,
		"de/verification.txt":  strings.ReplaceAll(ownVerification, "Please confirm", "Bitte bestätigen Sie"),
		"de/verification.html": ownVerificationHTML,
	})
	r, err := mail.LoadRenderer(mail.Options{Overrides: dir})
	if err != nil {
		t.Fatalf("LoadRenderer: %v", err)
	}
	d := sampleData()
	subject, text, html, err := r.Render(mail.KindVerification, d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Please confirm request DSR-7K3M9Q2XHD" || !strings.Contains(text, "Hello Ada Lovelace") || !strings.Contains(text, verifyLink) {
		t.Errorf("English verification ignores the organisation's template: %q\n%s", subject, text)
	}
	if !strings.Contains(text, "Analytical Engines Ltd") {
		t.Errorf("the built-in signature went missing from an overridden body:\n%s", text)
	}
	if strings.Contains(html, "bestätigen") {
		t.Errorf("English HTML took the German override:\n%s", html)
	}
	d.Lang = i18n.German
	subject, _, html, err = r.Render(mail.KindVerification, d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Bitte bestätigen Sie request DSR-7K3M9Q2XHD" || !strings.Contains(html, "Hallo Ada Lovelace") {
		t.Errorf("German verification ignores de/: %q\n%s", subject, html)
	}
	d.Lang = i18n.French
	subject, _, _, err = r.Render(mail.KindVerification, d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Please confirm request DSR-7K3M9Q2XHD" {
		t.Errorf("French should fall back to the top-level override, got %q", subject)
	}
	// Kinds nobody overrode keep the built-in words.
	subject, _, _, _ = r.Render(mail.KindAcknowledgement, sampleData())
	if subject != wantSubject[mail.KindAcknowledgement] {
		t.Errorf("acknowledgement subject = %q", subject)
	}
}

func TestOverridesAreCheckedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // every part must be in the error
	}{
		{"unknown value", map[string]string{"de/verification.txt": strings.Replace(ownVerification, "Hello {{.Name}}", "Hallo {{.Nmae}}", 1)},
			[]string{"de/verification.txt:2:25", `"Nmae"`}},
		{"unknown value in a branch never taken", map[string]string{"denied.txt": "{{define \"subject\"}}x{{end}}{{define \"body\"}}{{if .NothingFound}}\n{{.Reasons}}{{end}}{{end}}"},
			[]string{"denied.txt:2:", `"Reasons"`}},
		{"unknown value in a range", map[string]string{"completed.txt": "{{define \"subject\"}}x{{end}}{{define \"body\"}}{{.DownloadLink}}{{range .Erased}}{{.Table}}{{end}}{{end}}"},
			[]string{"completed.txt:1:", `"Table"`}},
		{"missing link", map[string]string{"verification.txt": strings.Replace(ownVerification, "open {{.Link}} or ", "", 1)},
			[]string{"verification.txt: never shows {{.Link}}"}},
		{"missing link in HTML", map[string]string{"verification.html": `{{define "content"}}{{.Code}}{{end}}`},
			[]string{"verification.html: never shows {{.Link}}"}},
		{"message without its status link", map[string]string{"de/message.txt": "{{define \"subject\"}}x{{end}}{{define \"body\"}}Sie haben Post.{{end}}"},
			[]string{"de/message.txt: never shows {{.StatusLink}}"}},
		{"hold ended without what the law keeps", map[string]string{"es/hold_released.txt": "{{define \"subject\"}}x{{end}}{{define \"body\"}}{{range .Erased}}{{.}}{{end}}{{end}}"},
			[]string{"es/hold_released.txt: never shows {{.KeptByLaw}}"}},
		{"unknown message", map[string]string{"extended.txt": "{{define \"subject\"}}{{t \"mail.extended.subjekt\" .}}{{end}}{{define \"body\"}}x{{end}}"},
			[]string{"extended.txt:1:", `no message "mail.extended.subjekt"`}},
		{"syntax", map[string]string{"fr/denied.html": "{{define \"content\"}}\n\n{{if .Reason}}{{end}"},
			[]string{"fr/denied.html:3"}},
		{"no subject", map[string]string{"denied.txt": "{{define \"body\"}}x{{end}}"},
			[]string{"denied.txt: defines no", "subject"}},
		{"misspelt file", map[string]string{"verifcation.txt": ownVerification},
			[]string{"verifcation.txt: not a template dsar sends"}},
		{"unknown language", map[string]string{"it/verification.txt": ownVerification},
			[]string{"it: not a language"}},
		{"officer alert in German", map[string]string{"de/officer_digest.txt": "x"},
			[]string{"de/officer_digest.txt: officers' alerts are written in English only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTemplates(t, tc.files)
			_, err := mail.LoadRenderer(mail.Options{Overrides: dir})
			if err == nil {
				t.Fatal("LoadRenderer accepted a broken template")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestOverrideTooLargeIsRefused(t *testing.T) {
	dir := writeTemplates(t, map[string]string{"denied.txt": strings.Repeat("x", mail.TemplateMax+1)})
	if _, err := mail.LoadRenderer(mail.Options{Overrides: dir}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a template over the limit: %v", err)
	}
}

func TestOverrideDirectoryMustExist(t *testing.T) {
	if _, err := mail.LoadRenderer(mail.Options{Overrides: filepath.Join(t.TempDir(), "nowhere")}); err == nil {
		t.Fatal("a missing directory was accepted")
	}
}
