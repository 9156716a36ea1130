package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
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
}

type pages struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"datetime": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 MST") },
	"isodate":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"lower":    strings.ToLower,
	"add":      func(a, b int) int { return a + b },
	"bytes":    humanBytes,
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

func parsePages() (*pages, error) {
	public, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	officer, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/officer/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: officer layout: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for name, file := range pageFiles {
		layout := public
		if strings.HasPrefix(name, "officer/") {
			layout = officer
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, file)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes a page. It renders into a buffer first so a template error
// becomes a clean 500, not half a page.
func (s *Server) render(c echo.Context, code int, name string, data any) error {
	t, ok := s.pages.byName[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
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

// errNotFoundPage is shown for links that do not (or no longer) work, with
// one message for unknown, used and expired alike where telling them
// apart would help a guesser.
var errNotFoundPage = echo.NewHTTPError(http.StatusNotFound, "This link does not work. It may have expired or been mistyped.")

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
