package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

// The handlers are tested over HTTP against a real database. Temporal is
// unreachable here on purpose: intake must still store and acknowledge, and
// decisions must answer 503. The path through a live Temporal server is
// covered by internal/e2e.

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	server *Server
	// office is the real service behind a fake that a test can switch on
	// to answer every command as it says.
	office *fakeOffice
	logs   *syncBuffer
	srv    *httptest.Server
	store  *store.Store
	tokens map[store.Role]string
	// requests counts the requests addVerifyToken made.
	requests int
}

func newHarness(t *testing.T, dev bool, settings ...func(*config.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := func() time.Time { return testNow }
	reg := prometheus.NewRegistry()
	metrics.RegisterRequests(reg, st, now, log)
	cfg := &config.Config{BaseURL: "http://dsar.test", DevMode: dev, Organisation: testOrganisation,
		PrivacyEmail: testPrivacyEmail, PrivacyAddress: testPrivacyAddress, PrivacyNoticeURL: testNoticeURL,
		Logo: []byte(testLogo), LogoType: "image/png"}
	for _, set := range settings {
		set(cfg)
	}
	sealer, err := export.NewSealer(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	in := &office.Service{Store: st, Temporal: tc, TaskQueue: "web-test", VerifyTTL: 7 * 24 * time.Hour, Sealer: sealer, Now: now, Log: log}
	t.Cleanup(in.Close)
	fake := &fakeOffice{Office: in}
	s, err := New(Deps{Config: cfg, Store: st, Metrics: reg, Now: now, Log: log, Office: fake, Sealer: sealer, Mail: &mail.Outbox{Store: st, Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, server: s, office: fake, logs: logs, srv: httptest.NewServer(s.Handler()), store: st, tokens: map[store.Role]string{}}
	t.Cleanup(h.srv.Close)
	for _, role := range []store.Role{store.RoleOfficer, store.RoleViewer} {
		o := &store.Officer{Email: string(role) + "@example.org", Role: role, PasswordHash: "x", CreatedAt: testNow}
		if err := st.CreateOfficer(ctx, o); err != nil {
			t.Fatal(err)
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddAPIToken(ctx, &store.APIToken{OfficerID: o.ID, Hash: hash, CreatedAt: testNow}); err != nil {
			t.Fatal(err)
		}
		h.tokens[role] = token
	}
	return h
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

func (h *harness) do(method, path, contentType, body string, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (h *harness) officer(role store.Role, method, path, body string) response {
	h.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return h.do(method, path, ct, body, "Authorization", "Bearer "+h.tokens[role])
}

func (h *harness) count() int {
	h.t.Helper()
	rs, err := h.store.ListRequests(context.Background(), store.RequestFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(rs)
}

func TestAPISubmitStoresAndAnswers201EvenWithTemporalDown(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("POST", "/api/v1/requests", "application/json",
		`{"type":"deletion","email":"Ada@Example.com","name":"Ada Lovelace","details":"old account"}`)
	if r.code != http.StatusCreated {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var got requestCreated
	r.json(t, &got)
	if !regexp.MustCompile(`^DSR-[0-9A-Z]{10}$`).MatchString(got.ID) || got.Type != "deletion" || got.Status != "received" {
		t.Errorf("answer %s", r.body)
	}
	if !got.ReceivedAt.Equal(testNow) || !got.DueAt.Equal(testNow.AddDate(0, 0, 30)) {
		t.Errorf("received %v due %v, want %v and 30 days later", got.ReceivedAt, got.DueAt, testNow)
	}
	stored, err := h.store.GetRequest(context.Background(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != domain.StatusReceived || stored.Name != "Ada Lovelace" || stored.WorkflowStartedAt != nil {
		t.Errorf("stored %+v; want kept as received for recovery", stored)
	}
}

// TestIdenticalSubmissionsReturnTheFirstRequest: a double click, a reload
// or a script repeating one request makes one request, not thirty.
func TestIdenticalSubmissionsReturnTheFirstRequest(t *testing.T) {
	h := newHarness(t, false)
	body := `{"type":"deletion","email":"ada@example.com","name":"Ada Lovelace","details":"old account"}`
	first := h.do("POST", "/api/v1/requests", "application/json", body)
	if first.code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.code, first.body)
	}
	var a, b requestCreated
	first.json(t, &a)
	for range 5 {
		again := h.do("POST", "/api/v1/requests", "application/json", body)
		if again.code != http.StatusOK {
			t.Fatalf("repeat: %d %s, want 200", again.code, again.body)
		}
		again.json(t, &b)
		if b.ID != a.ID || !b.Duplicate {
			t.Errorf("repeat answered %+v, want the first request %s marked duplicate", b, a.ID)
		}
	}
	form := h.do("POST", "/requests", "application/x-www-form-urlencoded", "type=deletion&email=ada%40example.com&name=Ada+Lovelace&details=old+account")
	if form.code != http.StatusOK || !strings.Contains(form.body, a.ID) || !strings.Contains(form.body, "already have this request") || strings.Contains(form.body, "/status/") {
		t.Errorf("repeat through the form: %d; want the first reference, no status link:\n%s", form.code, form.body)
	}
	if n := h.count(); n != 1 {
		t.Errorf("%d requests stored, want 1", n)
	}
	other := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"ada@example.com","name":"Ada Lovelace"}`)
	if other.code != http.StatusCreated {
		t.Errorf("a different request from the same address: %d, want 201", other.code)
	}
}

func TestAPISubmitRejectsBadInputAndStoresNothing(t *testing.T) {
	h := newHarness(t, false)
	cases := []struct {
		name, contentType, body string
		code                    int
		fields                  []string
	}{
		{"fields", "application/json", `{"type":"erase","email":"not-an-address","name":""}`, 400, []string{"email", "name", "type"}},
		{"correction without values", "application/json", `{"type":"correction","email":"a@example.com","name":"A"}`, 400, []string{"corrections"}},
		{"unknown field", "application/json", `{"type":"access","email":"a@example.com","name":"A","mail":"x"}`, 400, nil},
		{"malformed", "application/json", `{"type":`, 400, nil},
		{"trailing data", "application/json", `{"type":"access","email":"a@example.com","name":"A"} {}`, 400, nil},
		{"not JSON", "text/plain", `type=access`, 415, nil},
		{"NUL in the name", "application/json", `{"type":"access","email":"a@example.com","name":"Ada\u0000"}`, 400, []string{"name"}},
		{"NUL in a correction", "application/json", `{"type":"correction","email":"a@example.com","name":"A","corrections":[{"field":"phone","value":"1\u0000"}]}`, 400, []string{"corrections[0].value"}},
		{"bytes that are not UTF-8", "application/json", "{\"type\":\"access\",\"email\":\"a@example.com\",\"name\":\"Ad\xffa\"}", 400, []string{"body"}},
		{"a name of two lines", "application/json", `{"type":"access","email":"a@example.com","name":"Ada\r\nYou have won a prize"}`, 400, []string{"name"}},
		{"a look-alike media type", "application/jsonx", `{"type":"access","email":"a@example.com","name":"A"}`, 415, nil},
		{"another look-alike", "text/plain+json", `{"type":"access","email":"a@example.com","name":"A"}`, 415, nil},
		{"a bare suffix", "application/+json", `{"type":"access","email":"a@example.com","name":"A"}`, 415, nil},
		{"too large", "application/json", `{"type":"access","email":"a@example.com","name":"A","details":"` + strings.Repeat("x", 70<<10) + `"}`, 413, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/requests", c.contentType, c.body)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			var e apiError
			r.json(t, &e)
			if e.Error == "" {
				t.Errorf("no error message: %s", r.body)
			}
			var fields []string
			for f := range e.Fields {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
				t.Errorf("fields %v, want %v", fields, c.fields)
			}
		})
	}
	if n := h.count(); n != 0 {
		t.Errorf("%d requests stored from bad input", n)
	}
}

// TestTextThatCannotBeStoredIsRefusedAtTheEdge: a NUL or bytes that are
// not UTF-8 anywhere (form, query, officer API) answer 400 before any
// handler runs; PostgreSQL could not store them, and a decision carrying
// one must never reach a workflow.
func TestTextThatCannotBeStoredIsRefusedAtTheEdge(t *testing.T) {
	h := newHarness(t, false)
	for name, body := range map[string]string{
		"NUL":        "type=access&email=a%40example.com&name=Ada%00",
		"not UTF-8":  "type=access&email=a%40example.com&name=Ad%FFa",
		"two lines":  "type=access&email=a%40example.com&name=Ada%0D%0AClick+here",
		"in details": "type=access&email=a%40example.com&name=Ada&details=x%00",
	} {
		if r := h.do("POST", "/requests", "application/x-www-form-urlencoded", body); r.code != http.StatusBadRequest {
			t.Errorf("form with %s: status %d, want 400: %s", name, r.code, r.body)
		}
	}
	multipart := "--b\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\naccess\r\n--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.com\r\n--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\x00\r\n--b--\r\n"
	if r := h.do("POST", "/requests", "multipart/form-data; boundary=b", multipart); r.code != http.StatusBadRequest {
		t.Errorf("multipart form with NUL: status %d, want 400: %s", r.code, r.body)
	}
	if n := h.count(); n != 0 {
		t.Errorf("%d requests stored from a multipart form with NUL", n)
	}
	if r := h.do("POST", "/requests", "multipart/form-data; boundary=b", strings.Replace(multipart, "Ada\x00", "Ada", 1)); r.code != http.StatusCreated {
		t.Errorf("the same multipart form without the NUL: %d, want 201", r.code)
	}
	if r := h.do("GET", "/?type=%00", "", ""); r.code != http.StatusBadRequest {
		t.Errorf("query with NUL: status %d, want 400", r.code)
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/breaches/BRE-0000000000/authority", `{"authority":"ICO","reference":"1","notified_at":"yesterday"}`); r.code != http.StatusBadRequest || strings.Contains(r.body, "2006") || !strings.Contains(r.body, "RFC 3339") {
		t.Errorf("a bad timestamp: %d %s; want 400 in plain words, without Go's layout", r.code, r.body)
	}
	r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/DSR-00000000A/deny", `{"reason":"no\u0000"}`)
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, `"reason"`) {
		t.Errorf("deny with NUL reason: status %d, want 400 naming the reason: %s", r.code, r.body)
	}
	if n := h.count(); n != 1 {
		t.Errorf("%d requests stored, want only the good multipart one", n)
	}
}

func TestFormShowsErrorsKeepsValuesAndReceipt(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("GET", "/", "", "")
	if r.code != 200 || !strings.Contains(r.body, "Make a privacy request") || !strings.Contains(r.body, `value="correction"`) {
		t.Fatalf("form: %d", r.code)
	}

	bad := url.Values{"type": {"access"}, "name": {"Ada <b>Lovelace</b>"}, "email": {"nope"}}
	r = h.do("POST", "/requests", "application/x-www-form-urlencoded", bad.Encode())
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "Please correct this problem") {
		t.Fatalf("bad form: %d\n%s", r.code, r.body)
	}
	// The summary is announced and takes the focus, and links each
	// problem to its field.
	if !strings.Contains(r.body, `id="error-summary" role="alert" tabindex="-1" autofocus`) || !strings.Contains(r.body, `<a href="#email">`) {
		t.Errorf("the error summary is not announced, focused and linked:\n%s", r.body)
	}
	if !strings.Contains(r.body, `value="Ada &lt;b&gt;Lovelace&lt;/b&gt;"`) || !strings.Contains(r.body, `id="email-error"`) {
		t.Errorf("the form should keep the escaped name and mark the email field:\n%s", r.body)
	}
	if h.count() != 0 {
		t.Error("a bad form stored a request")
	}

	// Errors speak the reader's words, not the API's values.
	r = h.do("POST", "/requests", "application/x-www-form-urlencoded", url.Values{"name": {"Ada"}, "email": {"ada@example.com"}}.Encode())
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "Choose what you would like us to do") || strings.Contains(r.body, "access, correction") ||
		!strings.Contains(r.body, `<a href="#type-access">`) {
		t.Errorf("a form without a type: %d\n%s", r.code, r.body)
	}
	// Correction fields left filled in before choosing another kind of
	// request are hidden, and ignored.
	other := url.Values{"type": {"deletion"}, "name": {"Ada Lovelace"}, "email": {"ada.l@example.com"},
		"correction_field": {"postal address"}, "correction_value": {"12 St James's Square"}}
	r = h.do("POST", "/requests", "application/x-www-form-urlencoded", other.Encode())
	if r.code != http.StatusCreated {
		t.Fatalf("a deletion with hidden correction fields filled in: %d\n%s", r.code, r.body)
	}
	if stored, err := h.store.GetRequest(context.Background(), regexp.MustCompile(`DSR-[0-9A-Z]{10}`).FindString(r.body)); err != nil || len(stored.Corrections) != 0 {
		t.Errorf("the deletion stored corrections: %+v, %v", stored, err)
	}

	good := url.Values{"type": {"correction"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"},
		"correction_field": {"postal address", ""}, "correction_value": {"12 St James's Square", ""}}
	r = h.do("POST", "/requests", "application/x-www-form-urlencoded", good.Encode())
	if r.code != http.StatusCreated || !strings.Contains(r.body, "We received your request") || !strings.Contains(r.body, "1 April 2026") {
		t.Fatalf("receipt: %d\n%s", r.code, r.body)
	}
	id := regexp.MustCompile(`DSR-[0-9A-Z]{10}`).FindString(r.body)
	stored, err := h.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Corrections) != 1 || stored.Corrections[0].Value != "12 St James's Square" {
		t.Errorf("corrections stored: %+v (empty rows should be dropped)", stored.Corrections)
	}

	// The receipt's status link shows the request.
	link := regexp.MustCompile(`/status/[A-Za-z0-9_-]{43}`).FindString(r.body)
	if link == "" {
		t.Fatal("receipt has no status link")
	}
	r = h.do("GET", link, "", "")
	if r.code != 200 || !strings.Contains(r.body, id) || !strings.Contains(r.body, "Received") {
		t.Errorf("status page: %d\n%s", r.code, r.body)
	}
}

// addVerifyToken stores a verification token for a new request.
func (h *harness) addVerifyToken(expires time.Time) (token, id string) {
	h.t.Helper()
	// Each request its own address: identical submissions would be one.
	h.requests++
	r := h.do("POST", "/api/v1/requests", "application/json", fmt.Sprintf(`{"type":"access","email":"grace%d@example.com","name":"Grace Hopper"}`, h.requests))
	var c struct{ ID string }
	r.json(h.t, &c)
	// The workflow would have moved it to verifying before sending a link.
	if _, err := h.store.Transition(context.Background(), store.Transition{RequestID: c.ID, To: domain.StatusVerifying, Actor: "system", At: testNow}); err != nil {
		h.t.Fatal(err)
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.AddToken(context.Background(), &store.RequestToken{RequestID: c.ID, Purpose: store.PurposeVerify, Hash: hash, ExpiresAt: expires, CreatedAt: testNow}); err != nil {
		h.t.Fatal(err)
	}
	return token, c.ID
}

// verifyForm is the token the verification page's button posts.
var verifyForm = regexp.MustCompile(`<form method="post" action="/verify">\s*<input type="hidden" name="token" value="([A-Za-z0-9_-]{43})">`)

func TestVerificationLink(t *testing.T) {
	h := newHarness(t, false)
	token, id := h.addVerifyToken(testNow.Add(time.Hour))

	// Opening the link (a person, or a mail scanner) shows a button and
	// changes nothing, however often.
	for range 3 {
		r := h.do("GET", "/verify/"+token, "", "")
		m := verifyForm.FindStringSubmatch(r.body)
		if r.code != 200 || m == nil || m[1] != token || !strings.Contains(r.body, "Confirm my email address") {
			t.Fatalf("the link's page: %d\n%s", r.code, r.body)
		}
	}
	if stored, _ := h.store.GetRequest(context.Background(), id); stored.VerifiedAt != nil {
		t.Fatal("opening the link verified the request")
	}

	// Only from the form's body: a token in the query does nothing.
	if r := h.do("POST", "/verify?token="+token, "application/x-www-form-urlencoded", ""); r.code != http.StatusNotFound {
		t.Errorf("a token in the query: %d, want 404", r.code)
	}
	// The button's POST confirms, once.
	form := url.Values{"token": {token}}.Encode()
	r := h.do("POST", "/verify", "application/x-www-form-urlencoded", form)
	if r.code != 200 || !strings.Contains(r.body, "your email address is confirmed") {
		t.Fatalf("verify: %d\n%s", r.code, r.body)
	}
	stored, _ := h.store.GetRequest(context.Background(), id)
	if stored.VerifiedAt == nil || stored.VerifiedBy != store.ActorRequester {
		t.Errorf("verification not stored before signalling: %+v", stored)
	}
	if r := h.do("POST", "/verify", "application/x-www-form-urlencoded", form); r.code != http.StatusConflict || !strings.Contains(r.body, "already used") {
		t.Errorf("second use: %d", r.code)
	}
	if r := h.do("GET", "/verify/"+token, "", ""); r.code != http.StatusConflict || !strings.Contains(r.body, "already used") || verifyForm.MatchString(r.body) {
		t.Errorf("opening a used link: %d\n%s", r.code, r.body)
	}

	logs := h.logs.String()
	if !strings.Contains(logs, "route=/verify/:token") || !strings.Contains(logs, "route=/verify ") {
		t.Errorf("the access log should name the routes:\n%s", logs)
	}
	for _, secret := range []string{token, "grace1@example.com", "Grace Hopper"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}

	expired, expiredID := h.addVerifyToken(testNow.Add(-time.Minute))
	if r := h.do("GET", "/verify/"+expired, "", ""); r.code != http.StatusGone || !strings.Contains(r.body, "expired") || verifyForm.MatchString(r.body) {
		t.Errorf("expired link: %d", r.code)
	}
	if r := h.do("POST", "/verify", "application/x-www-form-urlencoded", url.Values{"token": {expired}}.Encode()); r.code != http.StatusGone {
		t.Errorf("posting an expired link: %d", r.code)
	}
	if stored, _ := h.store.GetRequest(context.Background(), expiredID); stored.VerifiedAt != nil {
		t.Error("an expired link verified the request")
	}
	for _, bad := range []string{strings.Repeat("A", 43), "short", "%00"} {
		if r := h.do("GET", "/verify/"+bad, "", ""); r.code != 404 || !strings.Contains(r.body, "This link does not work") {
			t.Errorf("link %q: %d", bad, r.code)
		}
	}
	for _, bad := range []string{"", strings.Repeat("A", 43), "short"} {
		if r := h.do("POST", "/verify", "application/x-www-form-urlencoded", url.Values{"token": {bad}}.Encode()); r.code != 404 {
			t.Errorf("posting token %q: %d, want 404", bad, r.code)
		}
	}
	// The token goes in the form, never as a GET that changes state.
	if r := h.do("POST", "/verify/"+token, "application/x-www-form-urlencoded", ""); r.code != http.StatusMethodNotAllowed && r.code != http.StatusNotFound {
		t.Errorf("POST to the link itself: %d", r.code)
	}
}

// statusLinkOf stores a status token for a request and returns its path.
func (h *harness) statusLinkOf(id string) string {
	h.t.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.AddToken(context.Background(), &store.RequestToken{RequestID: id, Purpose: store.PurposeStatus, Hash: hash, ExpiresAt: testNow.Add(24 * time.Hour), CreatedAt: testNow}); err != nil {
		h.t.Fatal(err)
	}
	return "/status/" + token
}

func TestVerificationCodeOnTheStatusPage(t *testing.T) {
	h := newHarness(t, false)
	ctx := context.Background()
	link, id := h.addVerifyToken(testNow.Add(time.Hour))
	if err := h.store.AddVerifyCode(ctx, id, "024680", testNow.Add(time.Hour), testNow); err != nil {
		t.Fatal(err)
	}
	status := h.statusLinkOf(id)
	post := func(code string) response {
		return h.do("POST", status+"/code", "application/x-www-form-urlencoded", url.Values{"code": {code}}.Encode())
	}
	verified := func() bool {
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.VerifiedAt != nil
	}

	r := h.do("GET", status, "", "")
	if r.code != 200 || !strings.Contains(r.body, `action="`+status+`/code"`) || !strings.Contains(r.body, "Confirm with the code") {
		t.Fatalf("the status page offers no code form: %d\n%s", r.code, r.body)
	}
	// A code of the wrong shape is refused and not counted.
	for _, bad := range []string{"", "12345", "abcdef", "1234567"} {
		r := post(bad)
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, "Enter the six digits") || !strings.Contains(r.body, `role="alert"`) {
			t.Errorf("code %q: %d\n%s", bad, r.code, r.body)
		}
	}
	// A wrong code says so and how many tries are left, and verifies
	// nothing.
	r = post("111 111")
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "That code is not right") || !strings.Contains(r.body, "4 tries left") ||
		!strings.Contains(r.body, `id="error-summary" role="alert" tabindex="-1" autofocus`) {
		t.Errorf("a wrong code: %d\n%s", r.code, r.body)
	}
	if verified() {
		t.Fatal("a wrong code verified the request")
	}
	// The right one, typed as it is printed, confirms.
	r = post("024 680")
	if r.code != 200 || !strings.Contains(r.body, "your email address is confirmed") || strings.Contains(r.body, "Confirm with the code") {
		t.Fatalf("the right code: %d\n%s", r.code, r.body)
	}
	if !verified() {
		t.Fatal("the right code did not verify the request")
	}
	// Single use: again, it changes nothing and the link is spent too.
	if r := post("024680"); r.code != http.StatusConflict || strings.Contains(r.body, "Confirm with the code") {
		t.Errorf("the code again: %d\n%s", r.code, r.body)
	}
	if r := h.do("POST", "/verify", "application/x-www-form-urlencoded", url.Values{"token": {link}}.Encode()); r.code != http.StatusOK && r.code != http.StatusConflict {
		t.Errorf("the link after the code: %d", r.code)
	}

	// An expired code.
	_, late := h.addVerifyToken(testNow.Add(time.Hour))
	if err := h.store.AddVerifyCode(ctx, late, "135791", testNow.Add(-time.Minute), testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", h.statusLinkOf(late)+"/code", "application/x-www-form-urlencoded", "code=135791"); r.code != http.StatusGone || !strings.Contains(r.body, "expired") {
		t.Errorf("an expired code: %d\n%s", r.code, r.body)
	}

	// Five wrong codes lock the codes; the link still works.
	lockedLink, locked := h.addVerifyToken(testNow.Add(time.Hour))
	if err := h.store.AddVerifyCode(ctx, locked, "975310", testNow.Add(time.Hour), testNow); err != nil {
		t.Fatal(err)
	}
	lockedStatus := h.statusLinkOf(locked)
	for i := range store.MaxCodeFailures {
		r := h.do("POST", lockedStatus+"/code", "application/x-www-form-urlencoded", "code=000000")
		want := http.StatusBadRequest
		if i == store.MaxCodeFailures-1 {
			want = http.StatusTooManyRequests
		}
		if r.code != want {
			t.Errorf("wrong code %d: %d, want %d", i+1, r.code, want)
		}
	}
	r = h.do("POST", lockedStatus+"/code", "application/x-www-form-urlencoded", "code=975310")
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "open the link in the email") || strings.Contains(r.body, "Confirm with the code") {
		t.Errorf("the right code once locked: %d\n%s", r.code, r.body)
	}
	if r := h.do("GET", lockedStatus, "", ""); !strings.Contains(r.body, "codes no longer work") || strings.Contains(r.body, `name="code"`) {
		t.Errorf("a locked request's status page:\n%s", r.body)
	}
	if got, _ := h.store.GetRequest(ctx, locked); got.VerifiedAt != nil {
		t.Fatal("a locked code verified the request")
	}
	if r := h.do("POST", "/verify", "application/x-www-form-urlencoded", url.Values{"token": {lockedLink}}.Encode()); r.code != http.StatusOK {
		t.Errorf("the link after the lock: %d", r.code)
	}
	if r := h.do("POST", "/status/"+strings.Repeat("A", 43)+"/code", "application/x-www-form-urlencoded", "code=975310"); r.code != http.StatusNotFound {
		t.Errorf("a code on an unknown status link: %d", r.code)
	}
}

func TestGlobalPrivacyControlIsRecorded(t *testing.T) {
	h := newHarness(t, false)
	// A browser sending the signal is offered the opt-out of sale and
	// sharing, chosen already; any other browser is offered nothing.
	optOut := `id="type-opt_out" name="type" value="opt_out" checked`
	if r := h.do("GET", "/", "", "", "Sec-GPC", "1"); !strings.Contains(r.body, optOut) || !strings.Contains(r.body, "Global Privacy Control signal") {
		t.Errorf("the form for a browser sending Sec-GPC does not offer the opt-out:\n%s", r.body)
	}
	if r := h.do("GET", "/", "", ""); strings.Contains(r.body, optOut) || strings.Contains(r.body, "Global Privacy Control") {
		t.Error("the form offers the opt-out to a browser that sent no signal")
	}
	form := url.Values{"type": {"access"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"}}
	r := h.do("POST", "/requests", "application/x-www-form-urlencoded", form.Encode(), "Sec-GPC", "1")
	withGPC := regexp.MustCompile(`DSR-[0-9A-Z]{10}`).FindString(r.body)
	form.Set("email", "grace@example.com")
	r = h.do("POST", "/requests", "application/x-www-form-urlencoded", form.Encode())
	without := regexp.MustCompile(`DSR-[0-9A-Z]{10}`).FindString(r.body)
	r = h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"alan@example.com","name":"Alan Turing"}`, "Sec-GPC", "1")
	var viaAPI struct{ ID string }
	r.json(t, &viaAPI)
	for id, want := range map[string]bool{withGPC: true, without: false, viaAPI.ID: true} {
		var got struct {
			GPC *bool `json:"gpc"`
		}
		h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/"+id, "").json(t, &got)
		if got.GPC == nil || *got.GPC != want {
			t.Errorf("%s: gpc %v, want %v", id, got.GPC, want)
		}
	}
	// The officer's request page says whether the browser sent it.
	h.addOfficer("ada@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	for id, want := range map[string]string{withGPC: "Sent: the requester's browser asked", without: "Not sent"} {
		if page := b.get("/officer/requests/" + id); !strings.Contains(page.body, "Global Privacy Control</dt><dd>"+want) {
			t.Errorf("the officer's page of %s does not say %q:\n%s", id, want, page.body)
		}
	}
	// A body cannot claim it.
	if r := h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"x@example.com","name":"X","gpc":true}`); r.code != http.StatusBadRequest {
		t.Errorf("gpc in the JSON body: %d, want 400 (unknown field)", r.code)
	}
}

func TestOfficerAPIAuthentication(t *testing.T) {
	h := newHarness(t, false)
	for _, header := range [][]string{nil, {"Authorization", "Bearer " + strings.Repeat("A", 43)}, {"Authorization", "Basic abc"}} {
		r := h.do("GET", "/api/v1/officer/requests", "", "", header...)
		if r.code != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%v: %d %s", header, r.code, r.body)
		}
	}
	if r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests", ""); r.code != 200 {
		t.Errorf("viewer reading: %d", r.code)
	}
	if r := h.officer(store.RoleViewer, "POST", "/api/v1/officer/requests/DSR-0000000000/approve", ""); r.code != 403 {
		t.Errorf("viewer approving: %d %s", r.code, r.body)
	}
}

func TestOfficerAPIRequestsAndDecisions(t *testing.T) {
	h := newHarness(t, false)
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"a@example.com","name":"Ada"}`)
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"export","email":"b@example.com","name":"Bea"}`)

	var list struct{ Requests []officerRequest }
	h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests?type=export", "").json(t, &list)
	if len(list.Requests) != 1 || list.Requests[0].Name != "Bea" || list.Requests[0].Email != "b@example.com" {
		t.Fatalf("filtered list: %+v", list.Requests)
	}
	r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests?status=lost&limit=-1", "")
	var e apiError
	r.json(t, &e)
	if r.code != 400 || e.Fields["status"] == "" || e.Fields["limit"] == "" {
		t.Errorf("bad filters: %d %s", r.code, r.body)
	}

	id := list.Requests[0].ID
	var one officerRequest
	h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/"+id, "").json(t, &one)
	if one.ID != id || len(one.Timeline) != 0 {
		t.Errorf("detail of a request whose workflow has not started: %+v", one)
	}
	// The workflow's first activity records the start and, with it, the
	// request's "received" entry.
	if err := h.store.MarkWorkflowStarted(context.Background(), id, testNow); err != nil {
		t.Fatal(err)
	}
	h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/"+id, "").json(t, &one)
	if len(one.Timeline) != 1 || one.Timeline[0].Action != "received" || one.Timeline[0].Actor != store.ActorRequester {
		t.Errorf("timeline once started: %+v", one.Timeline)
	}
	if r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/DSR-NOPE000000", ""); r.code != 404 {
		t.Errorf("unknown request: %d", r.code)
	}

	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+id+"/deny", `{"reason":""}`); r.code != 400 || !strings.Contains(r.body, "reason") {
		t.Errorf("deny without reason: %d %s", r.code, r.body)
	}
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+id+"/approve", ""); r.code != http.StatusServiceUnavailable {
		t.Errorf("approve with Temporal down: %d %s", r.code, r.body)
	}
	stored, _ := h.store.GetRequest(context.Background(), id)
	if stored.Status != domain.StatusReceived {
		t.Errorf("a failed decision changed the request to %s", stored.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("GET", "/", "", "")
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"X-Content-Type-Options":  "nosniff",
	} {
		if !strings.Contains(r.header.Get(name), want) {
			t.Errorf("%s = %q, want %q", name, r.header.Get(name), want)
		}
	}
	// Links out (the privacy notice) are fine; nothing is loaded from
	// elsewhere.
	if strings.Contains(r.body, "<script") || regexp.MustCompile(`(src|<link[^>]*href)="(https?:)?//`).MatchString(r.body) {
		t.Error("the form loads a script or an external asset")
	}
}

func TestDevOutboxOnlyInDevMode(t *testing.T) {
	if r := newHarness(t, false).do("GET", "/dev/outbox", "", ""); r.code != 404 {
		t.Errorf("outbox outside dev: %d", r.code)
	}
	h := newHarness(t, true)
	if err := h.store.AddOutboxMessage(context.Background(), &store.OutboxMessage{
		RequestID: "DSR-0000000001", Step: "verification", Recipient: "ada@example.com", Subject: "Confirm",
		TextBody: "Open http://dsar.test/verify/abc to confirm.", CreatedAt: testNow,
	}); err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", "/dev/outbox", "", "")
	if r.code != 200 || !strings.Contains(r.body, `href="http://dsar.test/verify/abc"`) {
		t.Errorf("outbox page: %d\n%s", r.code, r.body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t, false)
	if r := h.do("GET", "/healthz", "", ""); r.code != 200 {
		t.Errorf("healthz: %d", r.code)
	}
	r := h.do("GET", "/readyz", "", "")
	var checks map[string]string
	r.json(t, &checks)
	if r.code != 503 || checks["database"] != "ok" || checks["temporal"] != "unreachable" {
		t.Errorf("readyz with Temporal down: %d %v", r.code, checks)
	}
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"export","email":"a@example.com","name":"Ada"}`)
	r = h.do("GET", "/metrics", "", "")
	if r.code != 200 || !strings.Contains(r.body, `dsar_requests{status="received",type="export"} 1`) || !strings.Contains(r.body, `dsar_requests_overdue{type="export"} 0`) ||
		!strings.Contains(r.body, `dsar_breaches_unnotified{overdue="true"} 0`) {
		t.Errorf("metrics: %d\n%s", r.code, r.body)
	}
}

// TestOpenAPIDescribesEveryAPIRoute keeps the served document in step with
// the routes: every /api route must be described, and nothing described
// may be missing.
func TestOpenAPIDescribesEveryAPIRoute(t *testing.T) {
	h := newHarness(t, true)
	r := h.do("GET", "/api/v1/openapi.json", "", "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.json(t, &doc)
	if doc.OpenAPI == "" {
		t.Fatal("no openapi version")
	}
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := &Server{cfg: &config.Config{DevMode: true, DRPBusinessID: "SHOP"}, pages: &pages{}}
	routed := map[string]bool{}
	for _, rt := range s.Handler().Routes() {
		// Echo adds catch-all "route not found" entries for groups.
		api := strings.HasPrefix(rt.Path, "/api/") || strings.HasPrefix(rt.Path, "/v1/") || strings.HasPrefix(rt.Path, "/.well-known/")
		if !api || rt.Method == echo.RouteNotFound {
			continue
		}
		path := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		routed[rt.Method+" "+path] = true
	}
	for k := range routed {
		if !described[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range described {
		if !routed[k] {
			t.Errorf("openapi.json describes %s, which has no route", k)
		}
	}
}

// TestSubmitChoosesTheRegimesClock: the requester names the law, and the
// due date, receipt confirmation and extension limits follow it; an
// unknown law is refused and nothing is stored.
func TestSubmitChoosesTheRegimesClock(t *testing.T) {
	h := newHarness(t, false)
	r := h.do("POST", "/api/v1/requests", "application/json",
		`{"type":"access","email":"ada@example.com","name":"Ada Lovelace","regime":"ccpa"}`)
	if r.code != http.StatusCreated {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var got requestCreated
	r.json(t, &got)
	if !got.DueAt.Equal(testNow.AddDate(0, 0, 45)) {
		t.Errorf("CCPA due %v, want 45 days after %v", got.DueAt, testNow)
	}
	detail := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID, "")
	var o struct {
		Regime            string
		AckDueAt          *time.Time `json:"ack_due_at"`
		ExtendedDueAt     *time.Time `json:"extended_due_at"`
		ExtensionNoticeBy *time.Time `json:"extension_notice_by"`
	}
	detail.json(t, &o)
	if o.Regime != "ccpa" || o.AckDueAt == nil || o.ExtendedDueAt == nil || !o.ExtendedDueAt.Equal(testNow.AddDate(0, 0, 90)) ||
		o.ExtensionNoticeBy == nil || !o.ExtensionNoticeBy.Equal(got.DueAt) {
		t.Errorf("officer view of a CCPA request: %s", detail.body)
	}

	form := h.do("POST", "/requests", "application/x-www-form-urlencoded",
		"type=access&name=Ada+Lovelace&email=ada%40example.com&regime=gdpr")
	if form.code != http.StatusCreated || !strings.Contains(form.body, testNow.AddDate(0, 1, 0).Format("2 January 2006")) {
		t.Errorf("GDPR form receipt (%d) lacks the date one month on:\n%s", form.code, form.body)
	}

	before := h.count()
	bad := h.do("POST", "/api/v1/requests", "application/json",
		`{"type":"access","email":"ada@example.com","name":"Ada Lovelace","regime":"lgpd"}`)
	if bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "regime") || h.count() != before {
		t.Errorf("unknown regime: %d %s", bad.code, bad.body)
	}
}

// TestAPITakesStructuredJSONTypes: a +json media type (RFC 6839) is JSON;
// application/json with its charset too.
func TestAPITakesStructuredJSONTypes(t *testing.T) {
	h := newHarness(t, false)
	for i, ct := range []string{"application/vnd.example+json", "application/json; charset=utf-8", "Application/Problem+JSON"} {
		r := h.do("POST", "/api/v1/requests", ct, fmt.Sprintf(`{"type":"access","email":"a%d@example.com","name":"A"}`, i))
		if r.code != http.StatusCreated {
			t.Errorf("Content-Type %s: %d %s, want 201", ct, r.code, r.body)
		}
	}
}
