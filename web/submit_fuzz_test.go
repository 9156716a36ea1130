package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

// Fuzz targets for what anyone on the internet can send: the JSON API's
// submissions, the public form, and the token links. Like newHarness,
// the server runs on an embedded SQLite store with Temporal unreachable;
// the handler is called directly, without a socket, so an execution is
// cheap. go test runs the seeds; docs/fuzzing.md says how to fuzz.

var fzNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type fzServer struct {
	handler *echo.Echo
	store   *store.Store
}

// newFuzzServer builds the public server once per fuzz target, for
// testing.F (newHarness takes a *testing.T).
func newFuzzServer(tb testing.TB) *fzServer {
	tb.Helper()
	st := storetest.SQLite(tb)
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: "default"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tc.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return fzNow }
	in := &office.Service{Store: st, Temporal: tc, TaskQueue: "web-fuzz", VerifyTTL: 7 * 24 * time.Hour, Now: now, Log: log}
	tb.Cleanup(in.Close)
	sealer, err := export.NewSealer(strings.Repeat("k", 32))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Deps{Config: &config.Config{BaseURL: "http://dsar.test"}, Store: st, Metrics: prometheus.NewRegistry(),
		Now: now, Log: log, Office: in, Sealer: sealer})
	if err != nil {
		tb.Fatal(err)
	}
	return &fzServer{handler: s.Handler(), store: st}
}

func (s *fzServer) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	return w
}

func (s *fzServer) post(path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	return s.serve(req)
}

func (s *fzServer) count(t *testing.T) int64 {
	t.Helper()
	counts, err := s.store.CountRequests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		n += c.Count
	}
	return n
}

// checkStored checks a request the server accepted: what it stored is
// text PostgreSQL can hold, and the name is one line.
func (s *fzServer) checkStored(t *testing.T, id string) {
	t.Helper()
	r, err := s.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("accepted request %q: %v", id, err)
	}
	if r.Name == "" || domain.CheckLine(r.Name) != nil || domain.CheckText(r.Details) != nil || !r.Type.Valid() {
		t.Fatalf("stored name %q, details %q, type %q", r.Name, r.Details, r.Type)
	}
	if e, err := domain.NormalizeEmail(r.Email); err != nil || e != r.Email {
		t.Fatalf("stored email %q (%q, %v)", r.Email, e, err)
	}
	for _, c := range r.Corrections {
		if domain.CheckLine(c.Field) != nil || domain.CheckLine(c.Value) != nil {
			t.Fatalf("stored correction %+v", c)
		}
	}
}

// checkAnswer holds for every submission: never a server error; a
// refusal stores nothing; 201 stores one request, 200 (a duplicate)
// none.
func (s *fzServer) checkAnswer(t *testing.T, w *httptest.ResponseRecorder, before int64, id func() string) {
	t.Helper()
	after := s.count(t)
	switch code := w.Code; {
	case code >= 500:
		t.Fatalf("status %d: %s", code, w.Body)
	case code == http.StatusCreated || code == http.StatusOK:
		if want := before + map[bool]int64{true: 1, false: 0}[code == http.StatusCreated]; after != want {
			t.Fatalf("status %d and %d requests stored, want %d", code, after-before, want-before)
		}
		s.checkStored(t, id())
	default:
		if after != before {
			t.Fatalf("status %d but %d requests stored: %s", code, after-before, w.Body)
		}
	}
}

// fzJSONSeeds are request bodies to start from: good ones of every type,
// and the hostile values the edge and Normalize must refuse.
var fzJSONSeeds = []string{
	`{"type":"deletion","email":"Ada@Example.com","name":"Ada Lovelace","details":"old account"}`,
	`{"type":"access","email":"ada@example.com","name":"Ada"}`,
	`{"type":"export","email":"ada@example.com","name":"Ada","regime":"gdpr"}`,
	`{"type":"correction","email":"ada@example.com","name":"Ada","corrections":[{"field":"phone","value":"+44 20 7946 0000"},{"field":"","value":""}]}`,
	`{"type":"access","email":"ada@example.com","name":"=HYPERLINK(\"http://evil.example\")","details":"@SUM(1+1)\n-2+3"}`,
	`{"type":"access","email":"ada@example.com","name":"Ada\u0000"}`,
	`{"type":"access","email":"ada@example.com","name":"Ada\r\nBcc: eve@example.com"}`,
	`{"type":"access","email":"ada@example.com","name":"Ada\u2028Lovelace"}`,
	`{"type":"access","email":"ada@example.com","name":"Ada","details":"\u001b[2J"}`,
	`{"type":"access","email":"ada@example.com\nBcc: eve@example.com","name":"Ada"}`,
	`{"type":"access","email":"ada@exa\u0089mple.com","name":"Ada"}`,
	`{"type":"access","email":"a@example.com","name":"A","mail":"x"}`,
	`{"type":"access","email":"a@example.com","name":"A"} {}`,
	`{"type":"access","email":"a@example.com","name":"A","corrections":null,"regime":null}`,
	`{"type\u0000":"access"}`,
	`{"type":["access"],"email":1,"name":{}}`,
	`{"type":"correction","email":"a@example.com","name":"A","corrections":[[[[[[[[[[]]]]]]]]]]}`,
	`{"type":`,
	`[]`,
	`null`,
	``,
	"{\"type\":\"access\",\"email\":\"a@example.com\",\"name\":\"Ad\xffa\"}",
}

func FuzzAPISubmit(f *testing.F) {
	for _, body := range fzJSONSeeds {
		f.Add("application/json", []byte(body))
	}
	f.Add("application/json; charset=utf-8", []byte(fzJSONSeeds[1]))
	f.Add("application/jsonx", []byte(fzJSONSeeds[1]))
	f.Add("text/plain", []byte(fzJSONSeeds[1]))
	f.Add("application/x-www-form-urlencoded", []byte("type=access&email=a%40example.com&name=A"))
	f.Add("", []byte(fzJSONSeeds[1]))
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		before := s.count(t)
		w := s.post("/api/v1/requests", contentType, body)
		s.checkAnswer(t, w, before, func() string {
			var got struct{ ID string }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.ID == "" {
				t.Fatalf("status %d with body %q", w.Code, w.Body)
			}
			return got.ID
		})
	})
}

var fzRequestID = regexp.MustCompile(`DSR-[0-9A-Z]{10}`)

// FuzzFormSubmit posts the public form: its fields as a browser encodes
// them, then any raw bytes after them.
func FuzzFormSubmit(f *testing.F) {
	for _, s := range [][7]string{
		{"deletion", "ada@example.com", "Ada Lovelace", "old account", "", "", ""},
		{"correction", "ada@example.com", "Ada", "", "postal address", "12 St James's Square", "ccpa"},
		{"access", "nope", "Ada <b>Lovelace</b>", "", "", "", ""},
		{"access", "ada@example.com", "Ada\r\nClick here", "x", "", "", ""},
		{"access", "ada@example.com", "Ada", "x\x00", "", "", ""},
		{"access", "ada@example.com", "Ad\xffa", "", "", "", ""},
		{"export", "ada@example.com", "+cmd|' /C calc'!A0", "=1+1", "", "", "GDPR"},
		{"correction", "ada@example.com", "Ada", "", "name\n", "\u2029", ""},
		{"Access ", " Ada@EXAMPLE.com ", " Ada ", "\t", "", "", "mars"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], "")
	}
	f.Add("access", "ada@example.com", "Ada", "", "", "", "", "&correction_field=a&correction_value=b&correction_value=c")
	f.Add("access", "ada@example.com", "Ada", "", "", "", "", "name=%00&%zz")
	f.Add("", "", "", "", "", "", "", "type=access;email=a@example.com")
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, typ, email, name, details, field, value, regime, raw string) {
		form := url.Values{"type": {typ}, "email": {email}, "name": {name}, "details": {details}, "regime": {regime},
			"correction_field": {field, ""}, "correction_value": {value, ""}}
		before := s.count(t)
		w := s.post("/requests", "application/x-www-form-urlencoded", []byte(form.Encode()+raw))
		s.checkAnswer(t, w, before, func() string {
			id := fzRequestID.FindString(w.Body.String())
			if id == "" {
				t.Fatalf("status %d without a reference:\n%s", w.Code, w.Body)
			}
			return id
		})
	})
}

// FuzzTokenLinks: a link token nobody was given never opens a page (no
// 200) and never fails the server, however it is written into the path.
func FuzzTokenLinks(f *testing.F) {
	random, _, err := auth.NewToken()
	if err != nil {
		f.Fatal(err)
	}
	for _, tok := range []string{
		random, strings.Repeat("A", 43), strings.Repeat("_", 43), "short", "%00", "\x00", "\xff", "../../etc/passwd",
		random[:42] + "\n", random + "/", "?x=1", "#frag", "' OR 1=1 --", strings.Repeat("A", 4096), "",
	} {
		for kind := range uint8(5) {
			f.Add(tok, kind, false)
			f.Add(tok, kind, true)
		}
	}
	s := newFuzzServer(f)
	// A stored request with a status token, so lookups have rows to miss.
	if w := s.post("/api/v1/requests", "application/json", []byte(fzJSONSeeds[0])); w.Code != http.StatusCreated {
		f.Fatalf("seeding a request: %d %s", w.Code, w.Body)
	}
	routes := []struct{ method, prefix, suffix string }{
		{http.MethodGet, "/verify/", ""}, {http.MethodGet, "/status/", ""}, {http.MethodGet, "/download/", ""}, {http.MethodPost, "/download/", ""},
		{http.MethodGet, "/download/", "/report"},
	}
	f.Fuzz(func(t *testing.T, token string, route uint8, escaped bool) {
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequest(r.method, "/", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.URL.Path = r.prefix + token + r.suffix
		if escaped {
			req.URL.RawPath = r.prefix + url.PathEscape(token) + r.suffix
		}
		w := s.serve(req)
		if w.Code == http.StatusOK || w.Code >= 500 {
			t.Fatalf("%s %q: status %d\n%s", r.method, req.URL.Path, w.Code, w.Body)
		}
	})
}
