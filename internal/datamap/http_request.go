package datamap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/tidwall/gjson"
)

// maxHTTPAnswer bounds one answer of an API read into memory.
const maxHTTPAnswer = 32 << 20

// errHTTPNotFound is a 404: the record is not (or no longer) there.
var errHTTPNotFound = errors.New("not found")

// httpClient sends an http system's requests: its base URL, its
// credentials (read from the environment once, at start), and retries
// of 429 and 5xx answers with bounded backoff, honouring Retry-After up
// to the map's max_wait. Nothing it logs or returns holds a request's
// address, body or answer, which carry the person's data.
type httpClient struct {
	sys    *System
	base   *url.URL
	header http.Header
	rc     *retryablehttp.Client
}

// giveUp is a request still failing after its last attempt.
type giveUp struct {
	status, attempts int
	err              error
}

func (g *giveUp) Error() string {
	if g.err != nil {
		return fmt.Sprintf("no answer after %d attempt(s): %v", g.attempts, g.err)
	}
	return fmt.Sprintf("HTTP %d %s after %d attempt(s)", g.status, http.StatusText(g.status), g.attempts)
}

func (g *giveUp) Unwrap() error { return g.err }

// newHTTPClient reads the system's address and credentials from the
// environment: a variable the map names that is not set is an error
// naming it, so a worker does not start without them.
func newHTTPClient(s *System) (*httpClient, error) {
	h := s.http
	// url_env, when set, overrides base_url (a sandbox, a mock); with
	// no base_url it must be set.
	base := h.baseURL
	if h.urlEnv != "" {
		if v := strings.TrimRight(strings.TrimSpace(os.Getenv(h.urlEnv)), "/"); v != "" {
			base = v
			if !httpURL(base) {
				return nil, fmt.Errorf("system %s: %s is not an http(s) URL with a host", s.Name, h.urlEnv)
			}
		}
		if base == "" {
			return nil, fmt.Errorf("system %s: %s is not set (url_env: the API's address)", s.Name, h.urlEnv)
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("system %s: base URL: %w", s.Name, err)
	}
	get := func(env, what string) (string, error) {
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Errorf("system %s: %s is not set (auth %s)", s.Name, env, what)
		}
		return v, nil
	}
	header := http.Header{}
	for name, v := range h.headers {
		header.Set(name, v)
	}
	header.Set("Accept", "application/json")
	header.Set("User-Agent", "dsar")
	a := h.auth
	switch {
	case a.bearerEnv != "":
		tok, err := get(a.bearerEnv, "bearer_env")
		if err != nil {
			return nil, err
		}
		header.Set("Authorization", "Bearer "+tok)
	case a.userEnv != "":
		user, err := get(a.userEnv, "basic user_env")
		if err != nil {
			return nil, err
		}
		pass, err := get(a.passwordEnv, "basic password_env")
		if err != nil {
			return nil, err
		}
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, pass)
		header.Set("Authorization", r.Header.Get("Authorization"))
	case a.headerEnv != "":
		key, err := get(a.headerEnv, "header value_env")
		if err != nil {
			return nil, err
		}
		header.Set(a.headerName, key)
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil // its messages name the request's address
	rc.HTTPClient.Timeout = time.Minute
	rc.RetryMax = h.attempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = h.minWait, h.maxWait
	rc.Backoff = func(lo, hi time.Duration, n int, resp *http.Response) time.Duration {
		// Retry-After is honoured, but never beyond max_wait.
		return min(retryablehttp.DefaultBackoff(lo, hi, n, resp), hi)
	}
	rc.ErrorHandler = func(resp *http.Response, err error, attempts int) (*http.Response, error) {
		g := &giveUp{attempts: attempts, err: scrubURL(err)}
		if resp != nil {
			g.status = resp.StatusCode
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		return nil, g
	}
	// A redirect may lead elsewhere: the client never follows one with
	// the credentials.
	rc.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &httpClient{sys: s, base: u, header: header, rc: rc}, nil
}

// scrubURL drops the address from a transport error.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// answer is an API's answer to one request.
type answer struct {
	body   []byte
	header http.Header
}

// send makes one request (with its retries). what names it in errors
// ("find customers"); an error never holds the address or the bodies.
func (c *httpClient) send(ctx context.Context, what, method, target string, body []byte, ctype string) (*answer, error) {
	var raw any
	if body != nil {
		raw = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, target, raw)
	if err != nil {
		return nil, fmt.Errorf("system %s: %s: %w", c.sys.Name, what, scrubURL(err))
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.rc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("system %s: %s: %w", c.sys.Name, what, scrubURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("system %s: %s: reading the answer: %w", c.sys.Name, what, scrubURL(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("system %s: %s: %w", c.sys.Name, what, errHTTPNotFound)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("system %s: %s: HTTP %d %s: the API refused the credentials in %s", c.sys.Name, what,
			resp.StatusCode, http.StatusText(resp.StatusCode), strings.Join(c.sys.http.auth.envs(), ", "))
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("system %s: %s: HTTP %d %s", c.sys.Name, what, resp.StatusCode, http.StatusText(resp.StatusCode))
	case len(data) > maxHTTPAnswer:
		return nil, fmt.Errorf("system %s: %s: the answer is larger than %d MiB", c.sys.Name, what, maxHTTPAnswer>>20)
	}
	return &answer{body: data, header: resp.Header}, nil
}

// target is the op's address under the base URL with the values in
// place: escaped as a path segment in the path, and as a query value in
// the query. A query parameter whose whole value is a placeholder with
// no value (the cursor of the first page) is left out.
func (c *httpClient) target(o *httpOp, vals map[string]string) string {
	path, query, _ := strings.Cut(o.path, "?")
	path = placeholderRE.ReplaceAllStringFunc(path, func(m string) string {
		return url.PathEscape(vals[m[1:len(m)-1]])
	})
	var q []string
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if m := placeholderRE.FindStringSubmatch(v); m != nil && m[0] == v && vals[m[1]] == "" {
			continue
		}
		v = placeholderRE.ReplaceAllStringFunc(v, func(m string) string { return vals[m[1:len(m)-1]] })
		q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	s := c.base.Scheme + "://" + c.base.Host + strings.TrimRight(c.base.EscapedPath(), "/") + path
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// payload is the op's body with the values in place: a JSON template's
// texts filled ("{fields}" becomes the fields written, nested by their
// paths; a value that is only an empty placeholder is left out), or a
// form (the template's pairs, then the fields, nested ones as
// address[line1]). With no template the fields are the whole body.
func (o *httpOp) payload(vals map[string]string, fields map[string]any) ([]byte, string, error) {
	if o.body == nil && fields == nil {
		return nil, "", nil
	}
	if o.form {
		form := url.Values{}
		if m, ok := o.body.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				v, keep := fillValue(m[k], vals, nil)
				if keep {
					form.Set(k, formText(v))
				}
			}
		}
		for _, path := range sortedKeys(fields) {
			parts := strings.Split(path, ".")
			name := parts[0]
			for _, p := range parts[1:] {
				name += "[" + p + "]"
			}
			form.Set(name, formText(fields[path]))
		}
		return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
	}
	var v any = nestFields(fields)
	if o.body != nil {
		v, _ = fillValue(o.body, vals, fields)
	}
	b, err := json.Marshal(v)
	return b, "application/json", err
}

// fillValue fills a body template's value; keep is false for a value
// that is a placeholder alone without a value.
func fillValue(v any, vals map[string]string, fields map[string]any) (out any, keep bool) {
	switch x := v.(type) {
	case string:
		if m := placeholderRE.FindStringSubmatch(x); m != nil && m[0] == x {
			switch name := m[1]; {
			case name == "fields":
				return nestFields(fields), true
			case vals[name] == "":
				return nil, false
			case name == "offset" || name == "limit":
				n, _ := strconv.Atoi(vals[name])
				return n, true
			}
		}
		return placeholderRE.ReplaceAllStringFunc(x, func(m string) string { return vals[m[1:len(m)-1]] }), true
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			if fv, ok := fillValue(e, vals, fields); ok {
				m[k] = fv
			}
		}
		return m, true
	case []any:
		l := make([]any, 0, len(x))
		for _, e := range x {
			if fv, ok := fillValue(e, vals, fields); ok {
				l = append(l, fv)
			}
		}
		return l, true
	}
	return v, true
}

// nestFields turns {"properties.firstname": "Ada"} into
// {"properties": {"firstname": "Ada"}}.
func nestFields(fields map[string]any) map[string]any {
	out := map[string]any{}
	for _, path := range sortedKeys(fields) {
		parts := strings.Split(path, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = fields[path]
	}
	return out
}

// formText is a value as a form sends it; null is empty, which is how
// form APIs (Stripe) clear a field.
func formText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return keyText(v)
}

// keyText writes a record id (or a number) as a path or query takes it:
// an integer read back from JSON as a float keeps its digits.
func keyText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// records runs a find, page after page, and calls fn with each record.
// The pages are bounded: more than max_pages is an error rather than a
// search cut short without a word.
func (c *httpClient) records(ctx context.Context, t *Table, o *httpOp, vals map[string]string, fn func(gjson.Result) error) error {
	what := o.label(t)
	vals = maps.Clone(vals)
	if vals == nil {
		vals = map[string]string{}
	}
	p := o.page
	if p != nil && p.kind == pageOffset {
		vals["offset"], vals["limit"] = "0", strconv.Itoa(p.size)
	}
	next := c.target(o, vals)
	seen := map[string]bool{}
	for page := 1; ; page++ {
		body, ctype, err := o.payload(vals, nil)
		if err != nil {
			return err
		}
		a, err := c.send(ctx, what, o.method, next, body, ctype)
		if err != nil {
			return err
		}
		list := gjson.GetBytes(a.body, o.records)
		if !list.IsArray() {
			return fmt.Errorf("system %s: %s: the answer has no list at %s", c.sys.Name, what, o.records)
		}
		n := 0
		for _, rec := range list.Array() {
			n++
			if err := fn(rec); err != nil {
				return err
			}
		}
		if p == nil {
			return nil
		}
		if p.more != "" && !gjson.GetBytes(a.body, p.more).Bool() {
			return nil
		}
		switch p.kind {
		case pageCursor:
			cur := gjson.GetBytes(a.body, p.next).String()
			if cur == "" || seen[cur] {
				return nil
			}
			seen[cur] = true
			vals["cursor"] = cur
			next = c.target(o, vals)
		case pageOffset:
			if n < p.size {
				return nil
			}
			off, _ := strconv.Atoi(vals["offset"])
			vals["offset"] = strconv.Itoa(off + n)
			next = c.target(o, vals)
		case pageLink, pageNextURL:
			var link string
			if p.kind == pageLink {
				link = nextLink(a.header.Values("Link"))
			} else {
				link = gjson.GetBytes(a.body, p.next).String()
			}
			if link == "" || seen[link] {
				return nil
			}
			seen[link] = true
			if next, err = c.sameOrigin(next, link); err != nil {
				return fmt.Errorf("system %s: %s: %w", c.sys.Name, what, err)
			}
		}
		if page >= p.maxPages {
			return fmt.Errorf("system %s: %s: more than %d pages (pagination max_pages); nothing was done", c.sys.Name, what, p.maxPages)
		}
	}
}

// sameOrigin resolves a next page's address against the current one and
// refuses one on another host: the credentials go to the base URL only.
func (c *httpClient) sameOrigin(current, link string) (string, error) {
	cur, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	u, err := cur.Parse(link)
	if err != nil {
		return "", errors.New("the next page's address is not a URL")
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", errors.New("the next page is on another host; dsar sends the credentials only to the base URL")
	}
	return u.String(), nil
}

// nextLink finds the rel="next" address in Link headers (RFC 8288).
func nextLink(headers []string) string {
	for _, h := range headers {
		for _, part := range splitLinks(h) {
			target, params, ok := strings.Cut(part, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, param := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "rel") && slices.ContainsFunc(strings.Fields(strings.Trim(v, `"`)), func(rel string) bool { return strings.EqualFold(rel, "next") }) {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header at the commas between links (not
// those inside <...> or quotes).
func splitLinks(h string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i, r := range h {
		switch {
		case r == '"':
			quoted = !quoted
		case r == '<' && !quoted:
			depth++
		case r == '>' && !quoted && depth > 0:
			depth--
		case r == ',' && !quoted && depth == 0:
			out = append(out, h[start:i])
			start = i + 1
		}
	}
	return append(out, h[start:])
}

// jsonValue turns an answer's value into what the rest of dsar compares
// and prints: text, int64 or float64, bool, nil, a list for an array, an
// object as its JSON text.
func jsonValue(r gjson.Result) any {
	switch r.Type {
	case gjson.Null:
		return nil
	case gjson.False:
		return false
	case gjson.True:
		return true
	case gjson.Number:
		if n, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
			return n
		}
		return r.Float()
	case gjson.String:
		return r.String()
	}
	if r.IsArray() {
		out := []any{}
		for _, e := range r.Array() {
			out = append(out, jsonValue(e))
		}
		return out
	}
	return r.Raw
}

// flattenJSON writes a record's values into row by dotted path: objects
// opened up, arrays kept as their JSON text, nulls and empty lists left
// out.
func flattenJSON(prefix string, r gjson.Result, row map[string]any) {
	if r.IsObject() {
		r.ForEach(func(k, v gjson.Result) bool {
			flattenJSON(prefix+k.String()+".", v, row)
			return true
		})
		return
	}
	key := strings.TrimSuffix(prefix, ".")
	switch {
	case key == "", r.Type == gjson.Null:
	case r.IsArray():
		if len(r.Array()) > 0 {
			row[key] = r.Raw
		}
	default:
		row[key] = jsonValue(r)
	}
}
