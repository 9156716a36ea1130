package datamap_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/stripemock"
)

// recorder sits between the connector and a mock API and notes each
// request: "METHOD /path?query" and the body of writes.
type recorder struct {
	mu    sync.Mutex
	calls []string
	forms []string
	auth  []string
	codes []int
}

func (r *recorder) front(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		r.mu.Lock()
		r.codes = append(r.codes, resp.StatusCode)
		r.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		r.mu.Lock()
		call := req.Method + " " + req.URL.Path
		if req.URL.RawQuery != "" {
			call += "?" + req.URL.RawQuery
		}
		r.calls = append(r.calls, call)
		r.forms = append(r.forms, string(body))
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *recorder) last() (call, body string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.calls) - 1
	return r.calls[n], r.forms[n], r.codes[n]
}

func (r *recorder) writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

// The shipped Stripe definition against stripe-mock, Stripe's own mock
// of its API, which checks each request against Stripe's API
// description (credentials, parameters, form encoding) and answers
// with its fixtures, here holding Ada's customer. It is stateless: what
// it shows is that each request is one Stripe accepts, and that dsar
// reads Stripe's answers.
func TestHTTPStripePresetAgainstStripeMock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mock := stripemock.Start(t, stripemock.Customer{ID: "cus_ada", Email: "ada@example.com", Name: "Ada Lovelace"})
	rec := &recorder{}
	t.Setenv("STRIPE_API_URL", rec.front(t, mock))
	t.Setenv("STRIPE_SECRET_KEY", "sk_test_123")
	m, err := datamap.LoadFile("../../deploy/datamap/stripe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sys := m.System("stripe")
	c, err := datamap.Open(sys)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if problems, err := c.CheckLive(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", problems, err)
	}
	if _, _, code := rec.last(); code != http.StatusOK {
		t.Fatalf("check answered %d", code)
	}

	// Bob asks: the search answers Ada's customer, whose email is not
	// his. Nothing is found and nothing is written.
	bob := datamap.Identities{"email": {"bob@example.com"}}
	found, err := c.Discover(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Tables) != 0 {
		t.Fatalf("found for bob: %+v", found.Tables[0].Keys(nil))
	}
	call, _, _ := rec.last()
	if call != "GET /v1/customers/search?query=email%3A%27bob%40example.com%27&limit=100" {
		t.Errorf("search = %s", call)
	}
	if er, err := c.Erase(ctx, bob, datamap.Rules{Now: time.Now()}); err != nil || len(er.Tables) != 0 {
		t.Fatalf("erase for bob: %+v %v", er, err)
	}
	if _, err := c.Correct(ctx, bob, []datamap.Change{{Category: "user.name", Value: "Bob"}}); err != nil {
		t.Fatal(err)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Fatalf("wrote for bob: %v", w)
	}

	// Ada asks (in another case): her customer is found and read.
	ada := datamap.Identities{"email": {"Ada@Example.com"}}
	found, err = c.Discover(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	ft := found.Table("customers")
	if ft == nil || len(ft.Keys(nil)) != 1 || ft.Keys(nil)[0][0] != "cus_ada" {
		t.Fatalf("found %+v", found.Tables)
	}
	var cols []string
	var row []any
	if err := c.ReadRows(ctx, ft.Table, ft.Keys(nil), func(c []string, r []any) error { cols, row = c, r; return nil }); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for i, col := range cols {
		got[col] = row[i]
	}
	if cols[0] != "id" || got["id"] != "cus_ada" || got["email"] != "ada@example.com" || got["name"] != "Ada Lovelace" || got["object"] != "customer" {
		t.Fatalf("read %v", got)
	}
	if call, _, _ := rec.last(); call != "GET /v1/customers/cus_ada" {
		t.Errorf("read = %s", call)
	}

	// A correction of her name and city: form-encoded, nested fields as
	// address[city], which stripe-mock validates and reflects.
	changed, err := c.Correct(ctx, ada, []datamap.Change{{Category: "user.name", Value: "Augusta Ada King"}, {Category: "user.contact.address.city", Value: "London"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 || changed[0].Rows != 1 || changed[1].Rows != 1 {
		t.Fatalf("changed %+v", changed)
	}
	call, body, code := rec.last()
	if call != "POST /v1/customers/cus_ada" || body != "address%5Bcity%5D=London&name=Augusta+Ada+King" || code != http.StatusOK {
		t.Errorf("update = %s %s -> %d", call, body, code)
	}

	// A breach of customers: the list request reads every customer
	// (stripe-mock's one page), Ada among them.
	var affected []datamap.AffectedPerson
	unreached, err := c.Affected(ctx, sys.BreachedTables(nil), func(p datamap.AffectedPerson) { affected = append(affected, p) })
	if err != nil || len(unreached) != 0 || len(affected) != 1 || affected[0] != (datamap.AffectedPerson{Email: "ada@example.com", Name: "Ada Lovelace", Records: 1}) {
		t.Fatalf("affected %+v, unreached %v, %v", affected, unreached, err)
	}
	if call, _, code := rec.last(); call != "GET /v1/customers?limit=100" || code != http.StatusOK {
		t.Errorf("list = %s -> %d", call, code)
	}

	// Her erasure deletes the customer.
	er, err := c.Erase(ctx, ada, datamap.Rules{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(er.Tables) != 1 || er.Tables[0].Deleted != 1 || len(er.Gone) != 1 {
		t.Fatalf("erasure %+v", er)
	}
	if call, _, code := rec.last(); call != "DELETE /v1/customers/cus_ada" || code != http.StatusOK {
		t.Errorf("delete = %s -> %d", call, code)
	}
	for i, a := range rec.auth {
		if a != "Bearer sk_test_123" {
			t.Errorf("request %d (%s) sent Authorization %q", i, rec.calls[i], a)
		}
	}

	// stripe-mock refuses what Stripe would: a JSON body, a key that is
	// not a Stripe key. The errors say so without the person's data.
	doc := strings.Replace(mustRead(t, "../../deploy/datamap/stripe.yaml"), ", format: form}", "}", 1)
	m2, err := datamap.Parse("stripe.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := datamap.Open(m2.System("stripe"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.Correct(ctx, ada, []datamap.Change{{Category: "user.name", Value: "Augusta Ada King"}})
	if err == nil || err.Error() != "system stripe: update customers: HTTP 400 Bad Request (while correcting)" {
		t.Fatalf("a JSON body: err = %v", err)
	}
	t.Setenv("STRIPE_SECRET_KEY", "not-a-key")
	c3, err := datamap.Open(sys)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	problems, err := c3.CheckLive(ctx)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "HTTP 401 Unauthorized: the API refused the credentials in STRIPE_SECRET_KEY") {
		t.Fatalf("wrong key: %v %v", problems, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
