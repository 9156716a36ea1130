package datamap

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// The map keys of an http system and its resources. A resource is the
// http kind's table: an object type of the API (customers, contacts).

// fileHTTPSystem is the keys an http system has besides name and kind.
type fileHTTPSystem struct {
	BaseURL   string            `yaml:"base_url"`
	Auth      *fileHTTPAuth     `yaml:"auth"`
	Headers   map[string]string `yaml:"headers"`
	Retry     *fileHTTPRetry    `yaml:"retry"`
	Check     *fileHTTPOp       `yaml:"check"`
	Resources []fileTable       `yaml:"resources"`
}

// fileHTTPAuth names the environment variables holding the credentials:
// one of a bearer token, a user and password, or an API-key header.
type fileHTTPAuth struct {
	BearerEnv string          `yaml:"bearer_env"`
	Basic     *fileHTTPBasic  `yaml:"basic"`
	Header    *fileHTTPHeader `yaml:"header"`
}

type fileHTTPBasic struct {
	UserEnv     string `yaml:"user_env"`
	PasswordEnv string `yaml:"password_env"`
}

type fileHTTPHeader struct {
	Name     string `yaml:"name"`
	ValueEnv string `yaml:"value_env"`
}

type fileHTTPRetry struct {
	Attempts int    `yaml:"attempts"`
	MinWait  string `yaml:"min_wait"`
	MaxWait  string `yaml:"max_wait"`
}

// fileHTTPResource is the keys a resource has besides a table's.
type fileHTTPResource struct {
	ID     string      `yaml:"id"`
	Find   *fileHTTPOp `yaml:"find"`
	Read   *fileHTTPOp `yaml:"read"`
	Update *fileHTTPOp `yaml:"update"`
	Delete *fileHTTPOp `yaml:"delete"`
	List   *fileHTTPOp `yaml:"list"`
}

// fileHTTPOp is one request: its method, its path under the base URL
// (with placeholders such as {email}, {id}, {cursor}), its body and
// where the records are in the answer.
type fileHTTPOp struct {
	Method     string          `yaml:"method"`
	Path       string          `yaml:"path"`
	Body       any             `yaml:"body"`
	Format     string          `yaml:"format"`
	Records    string          `yaml:"records"`
	Record     string          `yaml:"record"`
	Pagination *fileHTTPPaging `yaml:"pagination"`
}

type fileHTTPPaging struct {
	Type     string `yaml:"type"`
	Next     string `yaml:"next"`
	More     string `yaml:"more"`
	Size     int    `yaml:"size"`
	MaxPages int    `yaml:"max_pages"`
}

// httpSystem is an http system's connection settings.
type httpSystem struct {
	baseURL, urlEnv  string
	auth             httpAuth
	headers          map[string]string
	attempts         int
	minWait, maxWait time.Duration
	check            *httpOp
}

type httpAuth struct {
	bearerEnv, userEnv, passwordEnv, headerName, headerEnv string
}

// envs lists the variables the credentials are read from.
func (a httpAuth) envs() []string {
	var out []string
	for _, e := range []string{a.bearerEnv, a.userEnv, a.passwordEnv, a.headerEnv} {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// httpResource is a resource's operations; update and delete are nil
// when the map does not need them.
type httpResource struct {
	find, read, update, del, list *httpOp
}

// httpOp is one request of the map, checked.
type httpOp struct {
	name            string // find, read, update, delete, check
	method, path    string
	body            any
	form            bool
	records, record string
	page            *httpPaging
}

type httpPaging struct {
	kind, next, more string
	size, maxPages   int
}

const (
	pageCursor  = "cursor"
	pageOffset  = "offset"
	pageLink    = "link"
	pageNextURL = "next_url"
)

// placeholderRE finds {name} in a path or a body text.
var placeholderRE = regexp.MustCompile(`\{([^{}]*)\}`)

// readPathRE is a path into an answer, in gjson's syntax: fields by
// dotted names, array indexes, # and modifiers such as @reverse
// (data.@reverse.0.id, the last record's id).
var readPathRE = regexp.MustCompile(`^[A-Za-z0-9_@#|.-]+$`)

// headerNameRE is an HTTP header's name (an RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// envNameRE is an environment variable's name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// buildHTTP reads an http system's own keys and its resources'
// operations, and checks that every operation the map's rules need is
// there: delete for erase: delete and opt_out: delete, update for mask,
// correctable, opt_out: {set} and retain's flag.
func buildHTTP(s *System, fs *fileSystem, tables []fileTable, report func(line int, format string, args ...any)) {
	line := func(key string) int {
		if l, ok := fs.lines[key]; ok {
			return l
		}
		return s.Line
	}
	h := &httpSystem{baseURL: strings.TrimRight(fs.BaseURL, "/"), urlEnv: fs.URLEnv, headers: fs.Headers,
		attempts: 4, minWait: time.Second, maxWait: 30 * time.Second}
	s.http = h
	if fs.BaseURL == "" && fs.URLEnv == "" {
		report(s.Line, "system %s: an http system needs base_url (the API's address, such as https://api.stripe.com) or url_env (a variable holding it)", s.Name)
	}
	if fs.BaseURL != "" && !httpURL(fs.BaseURL) {
		report(line("base_url"), "system %s: base_url %q must be an http(s) URL with a host, such as https://api.stripe.com", s.Name, fs.BaseURL)
	}
	if fs.URLEnv != "" && !envNameRE.MatchString(fs.URLEnv) {
		report(line("url_env"), "system %s: url_env %q is not an environment variable's name", s.Name, fs.URLEnv)
	}
	buildHTTPAuth(s, fs.Auth, line("auth"), h, report)
	for _, name := range sortedKeys(fs.Headers) {
		switch {
		case !headerNameRE.MatchString(name):
			report(line("headers"), "system %s: header %q is not a valid header name", s.Name, name)
		case slices.Contains([]string{"authorization", "cookie", "proxy-authorization"}, strings.ToLower(name)):
			report(line("headers"), "system %s: header %s would hold a secret in the map; name its variable under auth instead", s.Name, name)
		}
	}
	if r := fs.Retry; r != nil {
		l := line("retry")
		if r.Attempts != 0 {
			if r.Attempts < 1 || r.Attempts > 10 {
				report(l, "system %s: retry attempts must be from 1 to 10 (found %d)", s.Name, r.Attempts)
			}
			h.attempts = r.Attempts
		}
		for _, d := range []struct {
			text string
			into *time.Duration
			key  string
		}{{r.MinWait, &h.minWait, "min_wait"}, {r.MaxWait, &h.maxWait, "max_wait"}} {
			if d.text == "" {
				continue
			}
			v, err := time.ParseDuration(d.text)
			if err != nil || v <= 0 || v > 10*time.Minute {
				report(l, "system %s: retry %s %q must be a duration from 1ms to 10m, such as 500ms or 30s", s.Name, d.key, d.text)
				continue
			}
			*d.into = v
		}
		if h.minWait > h.maxWait {
			report(l, "system %s: retry min_wait is longer than max_wait", s.Name)
		}
	}
	if fs.Check != nil {
		h.check = buildHTTPOp(fs.Check, "check", "system "+s.Name+": check", func(string) int { return line("check") }, nil, report)
	}
	for i, t := range s.Tables {
		if i < len(tables) {
			t.http = buildHTTPResource(s, t, &tables[i].fileHTTPResource, report)
		}
	}
}

func buildHTTPAuth(s *System, a *fileHTTPAuth, l int, h *httpSystem, report func(line int, format string, args ...any)) {
	const how = "bearer_env, basic: {user_env, password_env} or header: {name, value_env}"
	if a == nil {
		report(s.Line, "system %s: auth is missing: %s names the variable holding the API's credentials (the map never holds secrets)", s.Name, how)
		return
	}
	n := 0
	env := func(key, v string) {
		if !envNameRE.MatchString(v) {
			report(l, "system %s: auth %s must name an environment variable (found %q)", s.Name, key, v)
		}
	}
	if a.BearerEnv != "" {
		n++
		env("bearer_env", a.BearerEnv)
		h.auth.bearerEnv = a.BearerEnv
	}
	if b := a.Basic; b != nil {
		n++
		env("basic user_env", b.UserEnv)
		env("basic password_env", b.PasswordEnv)
		h.auth.userEnv, h.auth.passwordEnv = b.UserEnv, b.PasswordEnv
	}
	if hd := a.Header; hd != nil {
		n++
		if !headerNameRE.MatchString(hd.Name) {
			report(l, "system %s: auth header needs name, the header that carries the key (such as X-API-Key)", s.Name)
		}
		env("header value_env", hd.ValueEnv)
		h.auth.headerName, h.auth.headerEnv = hd.Name, hd.ValueEnv
	}
	if n != 1 {
		report(l, "system %s: auth must be exactly one of %s", s.Name, how)
	}
}

func buildHTTPResource(s *System, t *Table, f *fileHTTPResource, report func(line int, format string, args ...any)) *httpResource {
	where := "resource " + s.Name + "." + t.Name
	r := &httpResource{}
	if len(t.Identities) == 0 {
		report(t.Line, "%s: identities must name the field holding the person's email, such as identities: {email: email}", where)
	}
	types := sortedKeys(t.Identities)
	findVars := append(slices.Clone(types), "cursor", "offset", "limit")
	if f.Find == nil {
		report(t.Line, "%s: find is missing: the request that searches the API for a person's records by {email}", where)
	} else {
		r.find = buildHTTPOp(f.Find, "find", where+": find", opLines(t, "find"), findVars, report)
		if r.find != nil {
			used := r.find.placeholders()
			for _, typ := range types {
				if !slices.Contains(used, typ) {
					report(t.line("find"), "%s: find must search by {%s}, the identity the resource is found by", where, typ)
				}
			}
			if r.find.records == "" {
				report(t.line("find"), "%s: find needs records: the field of the answer holding the list of records (data, results)", where)
			}
		}
	}
	if f.Read == nil {
		report(t.Line, "%s: read is missing: the request that returns one record by {id} (access and export read records with it)", where)
	} else {
		r.read = buildHTTPOp(f.Read, "read", where+": read", opLines(t, "read"), []string{"id"}, report)
	}
	if f.Update != nil {
		r.update = buildHTTPOp(f.Update, "update", where+": update", opLines(t, "update"), []string{"id", "fields"}, report)
	}
	if f.Delete != nil {
		r.del = buildHTTPOp(f.Delete, "delete", where+": delete", opLines(t, "delete"), []string{"id"}, report)
	}
	if f.List != nil {
		r.list = buildHTTPOp(f.List, "list", where+": list", opLines(t, "list"), []string{"cursor", "offset", "limit"}, report)
		if r.list.records == "" {
			report(t.line("list"), "%s: list needs records: the field of the answer holding the list of records", where)
		}
	}
	need := func(op *fileHTTPOp, key, why string, line int) {
		if op == nil {
			report(line, "%s: %s needs a %s request (%s: {method, path})", where, why, key, key)
		}
	}
	switch t.Erase {
	case Delete:
		need(f.Delete, "delete", "erase: delete", t.line("erase"))
	case Mask:
		need(f.Update, "update", "erase: mask", t.line("erase"))
	}
	if len(t.Correctable) > 0 {
		need(f.Update, "update", "correctable", t.line("correctable"))
	}
	if o := t.OptOut; o != nil {
		if o.Delete {
			need(f.Delete, "delete", "opt_out: delete", t.line("opt_out"))
		} else {
			need(f.Update, "update", "opt_out", t.line("opt_out"))
		}
	}
	if t.Retain != nil && t.Retain.Flag != "" {
		need(f.Update, "update", "retain's flag", t.line("retain"))
	}
	return r
}

// opLines finds where a key of a resource's request was written: the
// key's own line, else the request's.
func opLines(t *Table, name string) func(key string) int {
	return func(key string) int {
		if l, ok := t.lines[name+"."+key]; ok && key != "" {
			return l
		}
		return t.line(name)
	}
}

// buildHTTPOp checks one request. vars are the placeholders it may use.
func buildHTTPOp(f *fileHTTPOp, name, where string, lineOf func(key string) int, vars []string, report func(line int, format string, args ...any)) *httpOp {
	line := lineOf("")
	op := &httpOp{name: name, method: strings.ToUpper(f.Method), path: f.Path, body: f.Body, records: f.Records, record: f.Record}
	if op.method == "" {
		switch name {
		case "delete":
			op.method = "DELETE"
		case "update": // PATCH, PUT or POST: the API's choice, named
		default:
			op.method = "GET"
		}
	}
	switch op.method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	case "":
		report(line, "%s needs a method: PATCH, PUT or POST", where)
	default:
		report(lineOf("method"), "%s: method %q is not GET, POST, PUT, PATCH or DELETE", where, f.Method)
	}
	if !strings.HasPrefix(op.path, "/") {
		report(lineOf("path"), "%s: path %q must start with / (it is joined to the base URL)", where, f.Path)
	}
	if strings.Count(op.path, "{") != strings.Count(op.path, "}") {
		report(lineOf("path"), "%s: path %q has an unclosed { or }", where, f.Path)
	}
	if strings.Contains(op.path, "#") {
		report(lineOf("path"), "%s: path %q must not hold a fragment (#)", where, f.Path)
	}
	switch f.Format {
	case "", "json":
	case "form":
		op.form = true
	default:
		report(lineOf("format"), "%s: format %q is not json or form", where, f.Format)
	}
	if op.body != nil && op.method == "GET" {
		report(line, "%s: a GET request has no body", where)
	}
	if op.form {
		if m, ok := op.body.(map[string]any); ok || op.body == nil {
			for _, k := range sortedKeys(m) {
				switch v := m[k].(type) {
				case string:
					if v == "{fields}" {
						report(lineOf("body"), "%s: a form body gets the fields written after its own pairs; leave {fields} out", where)
					}
				case int, int64, float64, bool, nil:
				default:
					report(lineOf("body"), "%s: a form body holds plain values; %s is not one", where, k)
				}
			}
		} else {
			report(lineOf("body"), "%s: a form body is a mapping of names to values", where)
		}
	}
	used := op.placeholders()
	placeLine := func(v string) int {
		if strings.Contains(f.Path, "{"+v+"}") {
			return lineOf("path")
		}
		return lineOf("body")
	}
	for _, v := range used {
		if !slices.Contains(vars, v) {
			allowed := "none"
			if len(vars) > 0 {
				allowed = "{" + strings.Join(vars, "}, {") + "}"
			}
			report(placeLine(v), "%s: unknown placeholder {%s} (this request may use %s)", where, v, allowed)
		}
	}
	if slices.Contains(used, "fields") && !bodyHas(op.body, "{fields}") {
		report(line, "%s: {fields} is a whole value of the body (fields: \"{fields}\"), not part of a text or the path", where)
	}
	if name == "update" && op.body != nil && !op.form && !slices.Contains(used, "fields") {
		report(line, "%s: the body must place the fields written with \"{fields}\" (or leave body out to send them as the whole body)", where)
	}
	for key, path := range map[string]string{"records": f.Records, "record": f.Record} {
		if path != "" && !readPathRE.MatchString(path) {
			report(lineOf(key), "%s: %s %q must be a field path such as data or results", where, key, path)
		}
	}
	if f.Records != "" && name != "find" && name != "list" {
		report(line, "%s: records is for find and list; a single record's field is record", where)
	}
	if p := f.Pagination; p != nil {
		line := lineOf("pagination")
		op.page = &httpPaging{kind: p.Type, next: p.Next, more: p.More, size: p.Size, maxPages: p.MaxPages}
		if op.page.maxPages == 0 {
			op.page.maxPages = 100
		}
		if name != "find" && name != "list" {
			report(line, "%s: only find and list are paged", where)
		}
		if p.MaxPages < 0 || p.MaxPages > 10000 {
			report(line, "%s: pagination max_pages must be from 1 to 10000", where)
		}
		for key, path := range map[string]string{"next": p.Next, "more": p.More} {
			if path != "" && !readPathRE.MatchString(path) {
				report(line, "%s: pagination %s %q must be a field path such as next_page or paging.next.after", where, key, path)
			}
		}
		switch p.Type {
		case pageCursor:
			if p.Next == "" {
				report(line, "%s: cursor pagination needs next: the answer's field with the next page's cursor", where)
			}
			if !slices.Contains(used, "cursor") {
				report(line, "%s: cursor pagination needs {cursor} in the path or body", where)
			}
		case pageOffset:
			if p.Size <= 0 {
				report(line, "%s: offset pagination needs size: the records per page, sent as {limit}", where)
			}
			if !slices.Contains(used, "offset") {
				report(line, "%s: offset pagination needs {offset} in the path or body", where)
			}
		case pageNextURL:
			if p.Next == "" {
				report(line, "%s: next_url pagination needs next: the answer's field with the next page's address", where)
			}
		case pageLink:
		default:
			report(line, "%s: pagination type %q is not cursor, offset, link (the Link header) or next_url", where, p.Type)
		}
	}
	if (name == "find" || name == "list") && op.page == nil {
		for _, v := range []string{"cursor", "offset"} {
			if slices.Contains(used, v) {
				report(line, "%s: {%s} needs pagination (type cursor or offset)", where, v)
			}
		}
	}
	return op
}

// placeholders lists the names used in the path and the body, sorted.
func (o *httpOp) placeholders() []string {
	seen := map[string]bool{}
	add := func(s string) {
		for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
	}
	add(o.path)
	walkBody(o.body, add)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// walkBody calls fn with every text value of a body template (keys are
// sent as written).
func walkBody(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walkBody(e, fn)
		}
	case []any:
		for _, e := range x {
			walkBody(e, fn)
		}
	}
}

// bodyHas reports whether a body template has a value that is exactly s.
func bodyHas(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return x == s
	case map[string]any:
		for _, e := range x {
			if bodyHas(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if bodyHas(e, s) {
				return true
			}
		}
	}
	return false
}

// httpURL reports whether s is an absolute http(s) URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}

// label names an operation in messages: "find customers".
func (o *httpOp) label(t *Table) string {
	if t == nil {
		return o.name
	}
	return fmt.Sprintf("%s %s", o.name, t.Name)
}
