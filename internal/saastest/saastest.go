// Package saastest is a small SaaS API for tests of dsar's http kind: an
// in-memory list of people (records with id, email, name, phone,
// created and prefs.newsletter), a search in four pagination styles,
// and read, update (PATCH {"person": {...}}) and delete by id. Its
// search is fuzzy on purpose, as some vendors' are: it answers every
// person whose email starts like the one asked (the same first three
// letters), one person a page. It notes every request, and can be made
// to fail (429 with Retry-After: 1, 5xx) or to want other credentials.
//
//	GET    /v2/people?cursor=C                      {"data": [...], "next_cursor": "C2"}, everyone
//	GET    /v2/people/search?email=E&cursor=C       {"data": [...], "next_cursor": "C2"}
//	GET    /v2/people/by-offset?email=E&offset=O&limit=L  {"items": [...]}
//	GET    /v2/people/linked?email=E&page=P         {"people": [...]}, Link: <...>; rel="next"
//	GET    /v2/people/next-url?email=E&page=P       {"results": [...], "next_page": "/v2/..."}
//	GET    /v2/people/{id}                          {"person": {...}}
//	PATCH  /v2/people/{id}   {"person": {...}}      {"person": {...}}
//	DELETE /v2/people/{id}                          204
package saastest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the API. Every request must carry the credentials
// RequireAuth names (by default Authorization: Bearer tok_123).
type Server struct {
	// URL is the API's base URL.
	URL    string
	mu     sync.Mutex
	people []map[string]any
	// calls are "METHOD /path" of every request, in order.
	calls []string
	// fail makes the next requests to a path answer these statuses
	// (with Retry-After: 1 on a 429).
	fail map[string][]int
	// auth is the Authorization (or X-Api-Key) header every request
	// must carry.
	authHeader, authValue string
	// bodies are the bodies of the writes, by "METHOD /path".
	bodies map[string]string
	at     map[string][]time.Time // when each path was asked
	srv    *httptest.Server
}

// New starts the API with the people for the test; it stops when the
// test ends.
func New(t testing.TB, people ...map[string]any) *Server {
	v := &Server{people: people, fail: map[string][]int{}, bodies: map[string]string{}, at: map[string][]time.Time{},
		authHeader: "Authorization", authValue: "Bearer tok_123"}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	v.URL = v.srv.URL
	t.Cleanup(v.srv.Close)
	return v
}

// Person is a record of the API.
func Person(id, email, name string) map[string]any {
	return map[string]any{"id": id, "email": email, "name": name, "phone": "+1 555 0100", "created": "2026-01-10T09:00:00Z",
		"prefs": map[string]any{"newsletter": true}}
}

func (v *Server) serve(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	v.calls = append(v.calls, call)
	v.at[r.URL.Path] = append(v.at[r.URL.Path], time.Now())
	if r.Header.Get(v.authHeader) != v.authValue {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if codes := v.fail[r.URL.Path]; len(codes) > 0 {
		v.fail[r.URL.Path] = codes[1:]
		if codes[0] == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, `{"error":"try later"}`, codes[0])
		return
	}
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	matches := func() []map[string]any {
		asked := strings.ToLower(q.Get("email"))
		var out []map[string]any
		for _, p := range v.people {
			if e := strings.ToLower(p["email"].(string)); len(asked) >= 3 && strings.HasPrefix(e, asked[:3]) {
				out = append(out, p)
			}
		}
		return out
	}
	page := func(list []map[string]any, from, n int) []map[string]any {
		if from >= len(list) {
			return []map[string]any{}
		}
		return list[from:min(from+n, len(list))]
	}
	send := func(x any) { json.NewEncoder(w).Encode(x) }
	switch {
	case r.URL.Path == "/v2/people": // everyone, cursor paging
		from, _ := strconv.Atoi(q.Get("cursor"))
		next := ""
		if from+1 < len(v.people) {
			next = strconv.Itoa(from + 1)
		}
		send(map[string]any{"data": page(v.people, from, 1), "next_cursor": next})
	case r.URL.Path == "/v2/people/search": // cursor paging
		list := matches()
		from, _ := strconv.Atoi(q.Get("cursor"))
		next := ""
		if from+1 < len(list) {
			next = strconv.Itoa(from + 1)
		}
		send(map[string]any{"data": page(list, from, 1), "next_cursor": next})
	case r.URL.Path == "/v2/people/by-offset":
		list := matches()
		from, _ := strconv.Atoi(q.Get("offset"))
		n, _ := strconv.Atoi(q.Get("limit"))
		send(map[string]any{"items": page(list, from, n)})
	case r.URL.Path == "/v2/people/linked":
		list := matches()
		p, _ := strconv.Atoi(q.Get("page"))
		if p+1 < len(list) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/v2/people/linked?email=%s&page=%d>; rel="next", <%s/v2/people/linked?page=0>; rel="first"`, v.srv.URL, q.Get("email"), p+1, v.srv.URL))
		}
		send(map[string]any{"people": page(list, p, 1)})
	case r.URL.Path == "/v2/people/next-url":
		list := matches()
		p, _ := strconv.Atoi(q.Get("page"))
		next := any(nil)
		if p+1 < len(list) {
			next = fmt.Sprintf("/v2/people/next-url?email=%s&page=%d", q.Get("email"), p+1)
		}
		send(map[string]any{"results": page(list, p, 1), "next_page": next})
	case strings.HasPrefix(r.URL.Path, "/v2/people/"):
		id := strings.TrimPrefix(r.URL.Path, "/v2/people/")
		i := slices.IndexFunc(v.people, func(p map[string]any) bool { return p["id"] == id })
		if i < 0 {
			http.Error(w, `{"error":"no such person"}`, http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet:
			send(map[string]any{"person": v.people[i]})
		case http.MethodDelete:
			v.people = slices.Delete(v.people, i, i+1)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPatch:
			var body struct {
				Person map[string]any `json:"person"`
			}
			raw, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(raw, &body); err != nil || body.Person == nil {
				http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
				return
			}
			v.bodies[call] = string(raw)
			merge(v.people[i], body.Person)
			send(map[string]any{"person": v.people[i]})
		}
	default:
		http.NotFound(w, r)
	}
}

// merge writes src's fields into dst, nested objects field by field.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if m, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, m)
				continue
			}
		}
		dst[k] = v
	}
}

// Emails lists the people's emails, in order.
func (v *Server) Emails() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, p := range v.people {
		out = append(out, p["email"].(string))
	}
	return out
}

// Record returns a copy of the record with the id, nil when there is none.
func (v *Server) Record(id string) map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.people {
		if p["id"] == id {
			var c map[string]any
			b, _ := json.Marshal(p)
			json.Unmarshal(b, &c)
			return c
		}
	}
	return nil
}

// Writes lists the requests that changed something (not GET), as
// "METHOD /path".
func (v *Server) Writes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, c := range v.calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

// Calls lists every request, as "METHOD /path", in order.
func (v *Server) Calls() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.calls)
}

// Body is the body of the last request made as call ("PATCH /v2/people/p1").
func (v *Server) Body(call string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.bodies[call]
}

// Times lists when each request to the path came.
func (v *Server) Times(path string) []time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.at[path])
}

// Fail makes the next requests to the path answer these statuses, in
// order (a 429 with Retry-After: 1).
func (v *Server) Fail(path string, codes ...int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fail[path] = codes
}

// RequireAuth sets the header and value every request must carry.
func (v *Server) RequireAuth(header, value string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.authHeader, v.authValue = header, value
}

// Set writes a field of the record with the id.
func (v *Server) Set(id, field string, value any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.people {
		if p["id"] == id {
			p[field] = value
		}
	}
}
