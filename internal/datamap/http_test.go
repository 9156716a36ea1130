package datamap_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/saastest"
)

// vendorMap is a map with one http system on the vendor; find is the
// resource's find request, extra more keys of the resource.
func vendorMap(find, extra string) string {
	return `version: 1
systems:
  - name: crm
    kind: http
    url_env: DSAR_TEST_CRM_URL
    auth: {bearer_env: DSAR_TEST_CRM_TOKEN}
    retry: {attempts: 3, min_wait: 10ms, max_wait: 2s}
    check: {path: "/v2/people/search?email=nobody@example.org"}
    resources:
      - name: people
        identities: {email: email}
        fields: {email: user.contact.email, name: user.name, phone: user.contact.phone_number, prefs.newsletter: user.privacy_preferences}
        correctable: [name, phone]
` + extra + `
        find:
` + find + `
        read: {path: "/v2/people/{id}", record: person}
        update: {method: PATCH, path: "/v2/people/{id}", body: {person: "{fields}"}}
        delete: {path: "/v2/people/{id}"}
`
}

const cursorFind = `          path: /v2/people/search?email={email}&cursor={cursor}
          records: data
          pagination: {type: cursor, next: next_cursor}`

func openVendor(t *testing.T, base string, doc string) datamap.Connector {
	t.Helper()
	t.Setenv("DSAR_TEST_CRM_URL", base)
	t.Setenv("DSAR_TEST_CRM_TOKEN", "tok_123")
	m, err := datamap.Parse("map.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := datamap.Open(m.Systems[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ada() datamap.Identities { return datamap.Identities{"email": {"Ada@Example.com"}} }

// foundKeys lists the keys discovery found in the people resource.
func foundKeys(t *testing.T, c datamap.Connector) []string {
	t.Helper()
	found, err := c.Discover(context.Background(), ada())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if ft := found.Table("people"); ft != nil {
		for _, k := range ft.Keys(nil) {
			out = append(out, fmt.Sprint(k...))
		}
	}
	return out
}

func threeAdas(t *testing.T) *saastest.Server {
	return saastest.New(t,
		saastest.Person("p1", "ada@example.com", "Ada Lovelace"),
		saastest.Person("p2", "adam@example.com", "Adam Smith"), // the fuzzy search's other person
		saastest.Person("p3", "ADA@example.com", "Ada L."),      // the same address, other case: hers too
		saastest.Person("p4", "bob@example.com", "Bob"),
	)
}

// Each kind of pagination reaches every page, and the other person the
// fuzzy search answers (adam@) is never among the records found.
func TestHTTPPagination(t *testing.T) {
	for name, find := range map[string]string{
		"cursor": cursorFind,
		"offset": `          path: /v2/people/by-offset?email={email}&offset={offset}&limit={limit}
          records: items
          pagination: {type: offset, size: 1}`,
		"link": `          path: /v2/people/linked?email={email}
          records: people
          pagination: {type: link}`,
		"next_url": `          path: /v2/people/next-url?email={email}
          records: results
          pagination: {type: next_url, next: next_page}`,
	} {
		t.Run(name, func(t *testing.T) {
			v := threeAdas(t)
			c := openVendor(t, v.URL, vendorMap(find, "        erase: delete"))
			if got := foundKeys(t, c); !slices.Equal(got, []string{"p1", "p3"}) {
				t.Fatalf("found %v, want p1 and p3 (adam@ is someone else)", got)
			}
			if n := len(v.Calls()); n < 3 {
				t.Errorf("%d requests: the three matches take more than one page (%v)", n, v.Calls())
			}
		})
	}
}

// The page bound stops a search that does not end, with an error that
// says so, instead of a discovery cut short.
func TestHTTPPaginationBound(t *testing.T) {
	v := threeAdas(t)
	find := strings.Replace(cursorFind, "next: next_cursor}", "next: next_cursor, max_pages: 2}", 1)
	c := openVendor(t, v.URL, vendorMap(find, "        erase: delete"))
	_, err := c.Discover(context.Background(), ada())
	if err == nil || !strings.Contains(err.Error(), "more than 2 pages") {
		t.Fatalf("err = %v, want more than 2 pages", err)
	}
}

// Erasure, correction and opt-out act on the person's own records only:
// the other person the fuzzy search answers is never written to.
func TestHTTPActsOnlyOnThePersonsRecords(t *testing.T) {
	ctx := context.Background()
	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete\n        opt_out: {set: {prefs.newsletter: false}}"))

	changed, err := c.Correct(ctx, ada(), []datamap.Change{{Category: "user.name", Value: "Augusta Ada King"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].Rows != 2 || changed[0].Column != "name" {
		t.Fatalf("changed = %+v, want name in 2 records", changed)
	}
	if got := v.Body("PATCH /v2/people/p1"); got != `{"person":{"name":"Augusta Ada King"}}` {
		t.Errorf("PATCH body = %s", got)
	}
	for id, want := range map[string]string{"p1": "Augusta Ada King", "p3": "Augusta Ada King", "p2": "Adam Smith"} {
		if got := v.Record(id)["name"]; got != want {
			t.Errorf("%s name = %v, want %s", id, got, want)
		}
	}

	var seen []datamap.OptedOut
	out, err := c.OptOut(ctx, ada(), nil, func(o []datamap.OptedOut) error { seen = o; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || len(out) != 1 || out[0].Rows != 2 {
		t.Fatalf("opt-out = %+v (seen before: %+v)", out, seen)
	}
	if v.Record("p2")["prefs"].(map[string]any)["newsletter"] != true || v.Record("p1")["prefs"].(map[string]any)["newsletter"] != false {
		t.Errorf("newsletter: p1 %v (want false), p2 %v (want true)", v.Record("p1")["prefs"], v.Record("p2")["prefs"])
	}

	var recorded *datamap.Erasure
	er, err := c.Erase(ctx, ada(), datamap.Rules{Now: time.Now(), BeforeCommit: func(e *datamap.Erasure) error {
		recorded = e
		if got := v.Emails(); len(got) != 4 {
			t.Errorf("before the record was kept, people were already deleted: %v", got)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if recorded == nil || len(er.Tables) != 1 || er.Tables[0].Deleted != 2 || len(er.Gone) != 2 {
		t.Fatalf("erasure = %+v", er)
	}
	if got := v.Emails(); !slices.Equal(got, []string{"adam@example.com", "bob@example.com"}) {
		t.Errorf("left = %v, want adam@ and bob@", got)
	}
	for _, w := range v.Writes() {
		if strings.HasSuffix(w, "/p2") || strings.HasSuffix(w, "/p4") {
			t.Errorf("someone else's record was written: %s", w)
		}
	}
}

// A failing BeforeCommit stops the erasure before any record goes.
func TestHTTPEraseStopsWhenTheRecordFails(t *testing.T) {
	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	_, err := c.Erase(context.Background(), ada(), datamap.Rules{Now: time.Now(), BeforeCommit: func(*datamap.Erasure) error { return errors.New("store down") }})
	if err == nil || len(v.Emails()) != 4 || len(v.Writes()) != 0 {
		t.Fatalf("err = %v, people %v, writes %v", err, v.Emails(), v.Writes())
	}
}

// Masking sends the mask's values through update; a held resource is
// left alone; a retained record stays, flagged, and is listed with its
// end; purge then erases it.
func TestHTTPMaskHoldRetainPurge(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: {strategy: mask, mask: {name: null, phone: erased}}"))
	er, err := c.Erase(ctx, ada(), datamap.Rules{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if er.Tables[0].Masked != 2 || v.Record("p1")["name"] != nil || v.Record("p1")["phone"] != "erased" || v.Record("p2")["name"] != "Adam Smith" {
		t.Fatalf("masked %+v; p1 %v, p2 %v", er.Tables, v.Record("p1"), v.Record("p2"))
	}

	v = threeAdas(t)
	c = openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	er, err = c.Erase(ctx, ada(), datamap.Rules{Now: now, Held: []string{"people"}})
	if err != nil {
		t.Fatal(err)
	}
	if er.Tables[0].Held != 2 || len(v.Writes()) != 0 || len(er.Gone) != 0 {
		t.Fatalf("held: %+v, writes %v", er.Tables, v.Writes())
	}

	v = threeAdas(t)
	v.Set("p3", "created", "2019-01-10T09:00:00Z") // p3: its period has run out
	c = openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete\n        retain: {basis: Commercial code, period: 6y, from: created, flag: prefs.restricted}"))
	er, err = c.Erase(ctx, ada(), datamap.Rules{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if er.Tables[0].Retained != 1 || er.Tables[0].Deleted != 1 || len(er.Retained) != 1 || er.Retained[0].Key[0] != "p1" ||
		!er.Retained[0].Until.Equal(time.Date(2032, 1, 10, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("retained: %+v %+v", er.Tables, er.Retained)
	}
	if v.Record("p3") != nil || v.Record("p1")["prefs"].(map[string]any)["restricted"] != true {
		t.Fatalf("p3 %v (want gone), p1 %v (want restricted)", v.Record("p3"), v.Record("p1"))
	}
	pu, err := c.Purge(ctx, map[string][][]any{"people": {{"p1"}, {"p9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if pu.Tables[0].Deleted != 1 || v.Record("p1") != nil {
		t.Fatalf("purge %+v; p1 %v", pu.Tables, v.Record("p1"))
	}
}

// ReadRows reads each record whole, nested fields as dotted columns.
func TestHTTPReadRows(t *testing.T) {
	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	found, err := c.Discover(context.Background(), ada())
	if err != nil {
		t.Fatal(err)
	}
	ft := found.Table("people")
	var rows []string
	err = c.ReadRows(context.Background(), ft.Table, ft.Keys(nil), func(cols []string, row []any) error {
		var parts []string
		for i, col := range cols {
			parts = append(parts, fmt.Sprintf("%s=%v", col, row[i]))
		}
		rows = append(rows, strings.Join(parts, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"id=p1 created=2026-01-10T09:00:00Z email=ada@example.com name=Ada Lovelace phone=+1 555 0100 prefs.newsletter=true",
		"id=p3 created=2026-01-10T09:00:00Z email=ADA@example.com name=Ada L. phone=+1 555 0100 prefs.newsletter=true",
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// A 429 is retried after its Retry-After; 5xx answers are retried with
// backoff, and when they go on the error says what failed, without the
// person's address.
func TestHTTPRetries(t *testing.T) {
	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	v.Fail("/v2/people/search", http.StatusTooManyRequests)
	if got := foundKeys(t, c); len(got) != 2 {
		t.Fatalf("after a 429 found %v", got)
	}
	at := v.Times("/v2/people/search")
	if wait := at[1].Sub(at[0]); wait < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1", wait)
	}

	v.Fail("/v2/people/search", 502, 503)
	if got := foundKeys(t, c); len(got) != 2 {
		t.Fatalf("after two 5xx found %v", got)
	}

	v.Fail("/v2/people/search", 500, 500, 500, 500)
	_, err := c.Discover(context.Background(), ada())
	if err == nil {
		t.Fatal("three 500s in a row: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "system crm: find people: HTTP 500 Internal Server Error after 3 attempt(s)") {
		t.Errorf("error = %q", msg)
	}
	if strings.Contains(strings.ToLower(msg), "ada") || strings.Contains(msg, "127.0.0.1") {
		t.Errorf("the error names the person or the address: %q", msg)
	}
}

// The credentials go in the header the map names, read from the
// environment; a variable not set stops the system at start, naming it.
func TestHTTPAuth(t *testing.T) {
	for name, c := range map[string]struct {
		auth, header, value string
		env                 map[string]string
	}{
		"bearer": {"{bearer_env: DSAR_TEST_CRM_TOKEN}", "Authorization", "Bearer tok_123", nil},
		"basic":  {"{basic: {user_env: DSAR_TEST_CRM_USER, password_env: DSAR_TEST_CRM_PASS}}", "Authorization", "Basic YWRhOnMzY3JldA==", map[string]string{"DSAR_TEST_CRM_USER": "ada", "DSAR_TEST_CRM_PASS": "s3cret"}},
		"header": {"{header: {name: X-Api-Key, value_env: DSAR_TEST_CRM_KEY}}", "X-Api-Key", "k_456", map[string]string{"DSAR_TEST_CRM_KEY": "k_456"}},
	} {
		t.Run(name, func(t *testing.T) {
			v := threeAdas(t)
			v.RequireAuth(c.header, c.value)
			doc := strings.Replace(vendorMap(cursorFind, "        erase: delete"), "{bearer_env: DSAR_TEST_CRM_TOKEN}", c.auth, 1)
			for k, val := range c.env {
				t.Setenv(k, val)
			}
			conn := openVendor(t, v.URL, doc)
			if got := foundKeys(t, conn); len(got) != 2 {
				t.Fatalf("found %v: the vendor refused the credentials? calls %v", got, v.Calls())
			}
			m, _ := datamap.Parse("map.yaml", []byte(doc))
			for k := range c.env {
				t.Setenv(k, "")
				_, err := datamap.Open(m.Systems[0])
				if err == nil || !strings.Contains(err.Error(), "system crm: "+k+" is not set") {
					t.Errorf("without %s: err = %v", k, err)
				}
				t.Setenv(k, c.env[k])
			}
		})
	}
	v := threeAdas(t)
	doc := vendorMap(cursorFind, "        erase: delete")
	conn := openVendor(t, v.URL, doc)
	v.RequireAuth("Authorization", "Bearer other")
	problems, err := conn.CheckLive(context.Background())
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "HTTP 401 Unauthorized: the API refused the credentials in DSAR_TEST_CRM_TOKEN") {
		t.Fatalf("check with wrong credentials: %v %v", problems, err)
	}
	t.Setenv("DSAR_TEST_CRM_TOKEN", "")
	m, _ := datamap.Parse("map.yaml", []byte(doc))
	err = datamap.NewSystems(m).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "system crm: DSAR_TEST_CRM_TOKEN is not set (auth bearer_env)") {
		t.Fatalf("start without the token: %v", err)
	}
	t.Setenv("DSAR_TEST_CRM_TOKEN", "tok_123")
	t.Setenv("DSAR_TEST_CRM_URL", "")
	err = datamap.NewSystems(m).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "system crm: DSAR_TEST_CRM_URL is not set (url_env: the API's address)") {
		t.Fatalf("start without the address: %v", err)
	}
}

// A next page on another host is refused: the credentials never leave
// the base URL.
func TestHTTPNextPageElsewhereRefused(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host was asked, with %q", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "<"+other.URL+"/steal>; rel=next")
		fmt.Fprint(w, `{"people":[{"id":"p1","email":"ada@example.com"}]}`)
	}))
	defer api.Close()
	c := openVendor(t, api.URL, vendorMap(`          path: /v2/people/linked?email={email}
          records: people
          pagination: {type: link}`, "        erase: delete"))
	_, err := c.Discover(context.Background(), ada())
	if err == nil || !strings.Contains(err.Error(), "the next page is on another host") {
		t.Fatalf("err = %v", err)
	}
}

// The map's http keys are checked with their lines, like every kind's.
func TestHTTPMapProblems(t *testing.T) {
	base := vendorMap(cursorFind, "        erase: delete")
	for name, c := range map[string]struct{ from, to, want string }{
		"unknown key in find": {"          records: data", "          records: data\n          pagnation: {}",
			`map.yaml:18: unknown key "pagnation" in find of resource crm.people; did you mean "pagination"?`},
		"unknown placeholder": {"?email={email}&cursor={cursor}", "?email={mail}&cursor={cursor}",
			"map.yaml:16: resource crm.people: find: unknown placeholder {mail} (this request may use {email}, {cursor}, {offset}, {limit})"},
		"no delete for erase delete": {`        delete: {path: "/v2/people/{id}"}`, "",
			"map.yaml:14: resource crm.people: erase: delete needs a delete request (delete: {method, path})"},
		"no auth": {"    auth: {bearer_env: DSAR_TEST_CRM_TOKEN}\n", "",
			"map.yaml:3: system crm: auth is missing"},
		"secret header": {"    retry:", "    headers: {Authorization: Bearer sk_live_1}\n    retry:",
			"map.yaml:7: system crm: header Authorization would hold a secret in the map; name its variable under auth instead"},
		"bad pagination": {"{type: cursor, next: next_cursor}", "{type: pages, next: next_cursor}",
			`map.yaml:18: resource crm.people: find: pagination type "pages" is not cursor, offset, link (the Link header) or next_url`},
		"sql key on a resource": {"        erase: delete", "        erase: delete\n        primary_key: id",
			`map.yaml:15: key "primary_key" in resource crm.people does not apply to a http resource`},
		"id in path of find": {"?email={email}&cursor={cursor}", "/{id}?email={email}&cursor={cursor}",
			"unknown placeholder {id}"},
		"fields in a form body": {`update: {method: PATCH, path: "/v2/people/{id}", body: {person: "{fields}"}}`, `update: {method: POST, path: "/v2/people/{id}", format: form, body: {person: "{fields}"}}`,
			"map.yaml:20: resource crm.people: update: a form body gets the fields written after its own pairs; leave {fields} out"},
		"update without method": {`update: {method: PATCH, path:`, `update: {path:`,
			"map.yaml:20: resource crm.people: update needs a method: PATCH, PUT or POST"},
		"neither base_url nor url_env": {"    url_env: DSAR_TEST_CRM_URL\n", "",
			"map.yaml:3: system crm: an http system needs base_url (the API's address, such as https://api.stripe.com) or url_env (a variable holding it)"},
		"bad base_url": {"    url_env: DSAR_TEST_CRM_URL\n", "    base_url: ftp://files.example\n",
			`map.yaml:5: system crm: base_url "ftp://files.example" must be an http(s) URL with a host`},
	} {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(base, c.from, c.to, 1)
			if doc == base {
				t.Fatalf("%q is not in the map", c.from)
			}
			_, err := datamap.Parse("map.yaml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %s", err, c.want)
			}
		})
	}
}

// TestHTTPDocumentedExampleLoads keeps the full example of docs/datamap.md's
// "HTTP systems" valid.
func TestHTTPDocumentedExampleLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "datamap.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## HTTP systems")
	_, rest, ok2 := strings.Cut(rest, "A full example")
	_, rest, ok3 := strings.Cut(rest, "```yaml\n")
	example, _, ok4 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 || !ok4 {
		t.Fatal("docs/datamap.md has no YAML example under \"HTTP systems\"")
	}
	m, err := datamap.Parse("docs/datamap.md", []byte(example))
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	if s := m.System("crm"); s == nil || s.Kind != datamap.KindHTTP || s.Table("people") == nil {
		t.Fatalf("the documented example has systems %+v", m.Systems)
	}
}

// A breach's affected people come from a resource's list request, every
// page, one person per address whatever its case; without list the
// resource is reported unreached.
func TestHTTPAffected(t *testing.T) {
	v := threeAdas(t)
	list := `        list: {path: "/v2/people?cursor={cursor}", records: data, pagination: {type: cursor, next: next_cursor}}`
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete\n"+list))
	m, _ := datamap.Parse("map.yaml", []byte(vendorMap(cursorFind, "        erase: delete\n"+list)))
	var got []string
	unreached, err := c.Affected(context.Background(), m.Systems[0].BreachedTables(nil), func(p datamap.AffectedPerson) {
		got = append(got, fmt.Sprintf("%s %s %d", p.Email, p.Name, p.Records))
	})
	if err != nil || len(unreached) != 0 {
		t.Fatal(unreached, err)
	}
	want := []string{"ada@example.com Ada Lovelace 2", "adam@example.com Adam Smith 1", "bob@example.com Bob 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("affected %q, want %q", got, want)
	}
	if n := len(v.Calls()); n != 4 {
		t.Errorf("%d requests, want a page per person: %v", n, v.Calls())
	}

	c = openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	unreached, err = c.Affected(context.Background(), c.System().BreachedTables(nil), func(p datamap.AffectedPerson) { t.Errorf("affected %v", p) })
	if err != nil || !slices.Equal(unreached, []string{"people"}) {
		t.Fatalf("without list: unreached %v, %v", unreached, err)
	}
}

// Values are escaped where they go: an email's + and & stay in their
// query value, an id's / stays in its path segment; an empty cursor
// leaves its parameter out.
func TestHTTPValuesAreEscaped(t *testing.T) {
	const email = "ada+news&x=1@example.com"
	var asked []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery+" email="+r.URL.Query().Get("email"))
		if strings.HasSuffix(r.URL.Path, "/search") {
			fmt.Fprintf(w, `{"data":[{"id":"a/b c","email":%q}]}`, email)
			return
		}
		fmt.Fprintf(w, `{"person":{"id":"a/b c","email":%q}}`, email)
	}))
	defer api.Close()
	c := openVendor(t, api.URL, vendorMap(cursorFind, "        erase: delete"))
	found, err := c.Discover(context.Background(), datamap.Identities{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	ft := found.Table("people")
	if err := c.ReadRows(context.Background(), ft.Table, ft.Keys(nil), func([]string, []any) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /v2/people/search?email=ada%2Bnews%26x%3D1%40example.com email=" + email,
		"GET /v2/people/a%2Fb%20c? email=",
	}
	if !slices.Equal(asked, want) {
		t.Fatalf("asked\n%s\nwant\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
}

// The dry runs of a correction and an erasure send no write: they list
// the person's records, the values there now and the value after, and
// what the erasure then does.
func TestHTTPDryRunsWriteNothing(t *testing.T) {
	ctx := context.Background()
	v := threeAdas(t)
	c := openVendor(t, v.URL, vendorMap(cursorFind, "        erase: delete"))
	planned, err := c.PlanCorrect(ctx, ada(), []datamap.Change{{Category: "user.name", Value: "Augusta Ada King"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].Column != "name" || planned[0].Rows != 2 ||
		!slices.Equal(planned[0].Before, []string{"Ada L.", "Ada Lovelace"}) || planned[0].After != "Augusta Ada King" {
		t.Errorf("dry run of the correction: %+v, want name in 2 records, Ada L. and Ada Lovelace before", planned)
	}
	plan, err := c.PlanErase(ctx, ada(), datamap.Rules{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if w := v.Writes(); len(w) != 0 {
		t.Fatalf("the dry runs wrote: %v", w)
	}
	er, err := c.Erase(ctx, ada(), datamap.Rules{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", plan.Tables) != fmt.Sprintf("%+v", er.Tables) || len(plan.Gone) != len(er.Gone) {
		t.Errorf("dry run %+v\nerasure %+v", plan.Tables, er.Tables)
	}
}
