package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/i18n"
)

//go:embed templates
var templateFiles embed.FS

// pageFiles names each page and the template file that holds its
// "content". Public pages share templates/layout.html; dashboard pages
// (named officer/...) share templates/officer/layout.html.
var pageFiles = map[string]string{
	"form":                "templates/form.html",
	"receipt":             "templates/receipt.html",
	"verify":              "templates/verify.html",
	"status":              "templates/status.html",
	"download":            "templates/download.html",
	"outbox":              "templates/outbox.html",
	"error":               "templates/error.html",
	"officer/login":       "templates/officer/login.html",
	"officer/login-code":  "templates/officer/login-code.html",
	"officer/signed-in":   "templates/officer/signed-in.html",
	"officer/forgot":      "templates/officer/forgot.html",
	"officer/reset":       "templates/officer/reset.html",
	"officer/security":    "templates/officer/security.html",
	"officer/error":       "templates/officer/error.html",
	"officer/requests":    "templates/officer/requests.html",
	"officer/request":     "templates/officer/request.html",
	"officer/request-new": "templates/officer/request-new.html",
	"officer/officers":    "templates/officer/officers.html",
	"officer/tokens":      "templates/officer/tokens.html",
	"officer/metrics":     "templates/officer/metrics.html",
	"officer/report":      "templates/officer/report.html",
	"officer/breaches":    "templates/officer/breaches.html",
	"officer/breach-new":  "templates/officer/breach-new.html",
	"officer/breach":      "templates/officer/breach.html",
	"officer/holds":       "templates/officer/holds.html",
	"officer/agents":      "templates/officer/agents.html",
}

// publicPages are the pages a requester reads, parsed once per language.
var publicPages = []string{"form", "receipt", "verify", "status", "download", "error"}

type pages struct {
	// byName holds the officer pages and the dev outbox, in English.
	byName map[string]*template.Template
	// public holds the requester's pages per language.
	public map[i18n.Lang]map[string]*template.Template
}

// site is what every public page says about who is asking: the
// organisation, its privacy notice and contact, and its logo.
type site struct {
	Organisation     string
	PrivacyNoticeURL string
	PrivacyEmail     string
	PrivacyAddress   string
	LogoURL          string // "/logo" when a logo is configured
	Languages        []i18n.Choice
}

var templateFuncs = template.FuncMap{
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"datetime": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 MST") },
	"isodate":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"lower":    strings.ToLower,
	"add":      func(a, b int) int { return a + b },
	// languageName is a requester's language as the (English) dashboard
	// names it.
	"languageName": func(code string) string {
		names := map[string]string{"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
		if n, ok := names[code]; ok {
			return n
		}
		return code
	},
	"bytes": humanBytes,
	// countdown reads like the live countdown script: hours and minutes
	// left, or how long ago the deadline passed.
	"countdown": func(left time.Duration) string {
		m := int(left.Abs().Round(time.Minute) / time.Minute)
		if left < 0 {
			return fmt.Sprintf("overdue by %d h %02d min", m/60, m%60)
		}
		return fmt.Sprintf("%d h %02d min left", m/60, m%60)
	},
}

// publicFuncs are the template functions of the requester's pages in
// one language: its messages and dates, sizes written its way, and the
// site's details.
func publicFuncs(pr *i18n.Printer, st site) template.FuncMap {
	f := template.FuncMap{}
	for k, v := range templateFuncs {
		f[k] = v
	}
	for k, v := range pr.Funcs() {
		f[k] = v
	}
	f["bytes"] = func(n int64) string { return localBytes(pr, n) }
	f["site"] = func() site { return st }
	return f
}

func parsePages(cat *i18n.Catalogue, st site) (*pages, error) {
	officer, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/officer/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: officer layout: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}, public: map[i18n.Lang]map[string]*template.Template{}}
	for _, l := range i18n.Langs {
		layout, err := template.New("layout.html").Funcs(publicFuncs(cat.Printer(l), st)).ParseFS(templateFiles, "templates/layout.html")
		if err != nil {
			return nil, fmt.Errorf("web: layout: %w", err)
		}
		p.public[l] = map[string]*template.Template{}
		for _, name := range publicPages {
			t, err := template.Must(layout.Clone()).ParseFS(templateFiles, pageFiles[name])
			if err != nil {
				return nil, fmt.Errorf("web: page %s: %w", name, err)
			}
			p.public[l][name] = t
		}
	}
	for name, file := range pageFiles {
		if slices.Contains(publicPages, name) {
			continue
		}
		layout := officer
		if !strings.HasPrefix(name, "officer/") {
			// The dev outbox: English, in the public layout.
			layout, err = template.New("layout.html").Funcs(publicFuncs(cat.Printer(i18n.English), st)).ParseFS(templateFiles, "templates/layout.html")
			if err != nil {
				return nil, fmt.Errorf("web: layout: %w", err)
			}
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, file)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes an officer page (or the dev outbox). It renders into a
// buffer first so a template error becomes a clean 500, not half a page.
func (s *Server) render(c echo.Context, code int, name string, data any) error {
	t, ok := s.pages.byName[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	return writePage(c, code, name, t, data)
}

// renderPublic writes a requester's page in their language.
func (s *Server) renderPublic(c echo.Context, code int, name string, lang i18n.Lang, data any) error {
	t, ok := s.pages.public[lang.OrEnglish()][name]
	if !ok {
		return fmt.Errorf("web: no public page %q", name)
	}
	c.Response().Header().Set("Content-Language", string(lang.OrEnglish()))
	return writePage(c, code, name, t, data)
}

func writePage(c echo.Context, code int, name string, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return c.HTMLBlob(code, buf.Bytes())
}

type errorPage struct {
	chrome  // empty: error pages show no navigation
	Title   string
	Message string
}

// publicErrorPage is an error page for a requester: its title and
// message are catalogue IDs, chosen by the status code.
type publicErrorPage struct {
	Title, Message string
}

// errNotFoundPage is shown for links that do not (or no longer) work, with
// one message for unknown, used and expired alike where telling them
// apart would help a guesser.
var errNotFoundPage = echo.NewHTTPError(http.StatusNotFound, "This link does not work. It may have expired or been mistyped.")

// localBytes writes a size in a requester's language: 512 bytes,
// 1,4 MB, 1,4 Mo.
func localBytes(p *i18n.Printer, n int64) string {
	if n < 1000 {
		return p.MustN("size.bytes", int(n), nil)
	}
	v, unit := float64(n)/1000, "kB"
	for _, u := range []string{"MB", "GB", "TB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, u
	}
	return p.Decimal(v) + "\u00a0" + p.MustT("size."+unit, nil)
}

// humanBytes writes a size as people read it: 512 bytes, 1.4 MB.
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, unit := float64(n)/1000, "kB"
	for _, u := range []string{"MB", "GB", "TB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
