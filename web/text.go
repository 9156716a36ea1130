package web

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
)

// refuseBadText refuses, before any handler runs, a request whose path,
// query, form or JSON body holds text that is not UTF-8 or holds a NUL:
// PostgreSQL cannot store it, and text that cannot be stored must not be
// accepted and fail later inside a workflow. The answer is 400 naming
// the field; nothing is stored.
func refuseBadText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if bad(req.URL.Path) {
			return errNotFoundPage // no link or ID holds such bytes
		}
		for k, vs := range req.URL.Query() {
			if field := badValues(k, vs); field != "" {
				return badText(field)
			}
		}
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
		if mt == echo.MIMEMultipartForm {
			// Parsed here once (bounded by the body limit); handlers read
			// the parsed form.
			if err := req.ParseMultipartForm(64 << 10); err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
			}
			for k, vs := range req.MultipartForm.Value {
				if field := badValues(k, vs); field != "" {
					return badText(field)
				}
			}
			return next(c)
		}
		if mt != echo.MIMEApplicationJSON && mt != echo.MIMEApplicationForm {
			return next(c)
		}
		raw, err := io.ReadAll(req.Body) // bounded by the body limit before this
		if err != nil {
			return err
		}
		req.Body = io.NopCloser(bytes.NewReader(raw))
		if !utfValid(raw) {
			return badText("body")
		}
		var field string
		if mt == echo.MIMEApplicationForm {
			form, err := url.ParseQuery(string(raw))
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
			}
			for k, vs := range form {
				if field = badValues(k, vs); field != "" {
					break
				}
			}
		} else {
			field = badJSON(raw)
		}
		if field != "" {
			return badText(field)
		}
		return next(c)
	}
}

func badText(field string) error {
	return &domain.ValidationError{Fields: map[string]string{field: domain.ErrNotText.Error()}}
}

func bad(s string) bool { return domain.CheckText(s) == domain.ErrNotText }

// utfValid: a JSON decoder would quietly turn bytes that are not UTF-8
// into U+FFFD, so they are refused before it sees them.
func utfValid(b []byte) bool { return utf8.Valid(b) && !bytes.Contains(b, []byte{0}) }

// badValues names the first key or value that is not text.
func badValues(key string, values []string) string {
	if bad(key) {
		return "field name"
	}
	for _, v := range values {
		if bad(v) {
			return key
		}
	}
	return ""
}

// badJSON names the first member of a JSON document whose key or string
// value is not text (a \u0000 escape is valid JSON). A document that does
// not parse is left to the handler, which explains what is wrong.
func badJSON(raw []byte) string {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return ""
	}
	return walkJSON("", doc)
}

func walkJSON(path string, v any) string {
	switch v := v.(type) {
	case string:
		if bad(v) {
			return strings.TrimPrefix(path, ".")
		}
	case []any:
		for i, e := range v {
			if f := walkJSON(path+"["+strconv.Itoa(i)+"]", e); f != "" {
				return f
			}
		}
	case map[string]any:
		for k, e := range v {
			if bad(k) {
				return "field name"
			}
			if f := walkJSON(path+"."+k, e); f != "" {
				return f
			}
		}
	}
	return ""
}
