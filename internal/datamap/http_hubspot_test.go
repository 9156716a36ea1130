package datamap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
)

// hubspot replays HubSpot's recorded answers (testdata/hubspot) to the
// requests of the shipped definition, and notes every request. A
// request it has no answer for fails the test.
type hubspot struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string // "METHOD /path body"
	srv   *httptest.Server
}

func newHubSpot(t *testing.T) *hubspot {
	h := &hubspot{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hubspot) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.calls = append(h.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	h.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer pat-eu1-test" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
		return
	}
	replay := func(file string) {
		b, err := os.ReadFile("testdata/hubspot/" + file)
		if err != nil {
			h.t.Error(err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Write(b)
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /crm/v3/objects/contacts/search":
		var q struct {
			FilterGroups []struct {
				Filters []struct{ PropertyName, Operator, Value string }
			}
			Properties []string
			Limit      int
			After      string
		}
		if err := json.Unmarshal(body, &q); err != nil || len(q.FilterGroups) != 1 || len(q.FilterGroups[0].Filters) != 1 || q.Limit != 100 {
			h.t.Errorf("search body %s", body)
		}
		if q.After == "2" {
			replay("search-2.json")
		} else {
			replay("search-1.json")
		}
	case "GET /crm/v3/objects/contacts/101":
		replay("contact-101.json")
	case "GET /crm/v3/objects/contacts/103":
		replay("contact-103.json")
	case "PATCH /crm/v3/objects/contacts/101", "PATCH /crm/v3/objects/contacts/103":
		replay("contact-" + strings.TrimPrefix(r.URL.Path, "/crm/v3/objects/contacts/") + ".json")
	case "GET /crm/v3/objects/contacts":
		switch r.URL.RawQuery {
		case "limit=1", "limit=100&properties=email%2Cfirstname%2Clastname":
			replay("list.json")
		case "limit=100&after=513&properties=email%2Cfirstname%2Clastname":
			replay("list-2.json")
		default:
			h.t.Errorf("list query %s", r.URL.RawQuery)
			w.WriteHeader(http.StatusBadRequest)
		}
	case "POST /crm/v3/objects/contacts/gdpr-delete":
		w.WriteHeader(http.StatusNoContent)
	default:
		h.t.Errorf("no recorded answer for %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func (h *hubspot) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.calls
	h.calls = nil
	return out
}

// The shipped HubSpot definition against HubSpot's answers replayed:
// both pages of the search, the contact of someone else the search
// answered left alone, reads, an update of the properties and the GDPR
// delete.
func TestHTTPHubSpotPresetReplayed(t *testing.T) {
	ctx := context.Background()
	h := newHubSpot(t)
	t.Setenv("HUBSPOT_API_URL", h.srv.URL)
	t.Setenv("HUBSPOT_TOKEN", "pat-eu1-test")
	m, err := datamap.LoadFile("../../deploy/datamap/hubspot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := datamap.Open(m.System("hubspot"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ada := datamap.Identities{"email": {"ada@example.com"}}

	found, err := c.Discover(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	ft := found.Table("contacts")
	if ft == nil || len(ft.Rows) != 2 || ft.Rows[0].Key[0] != "101" || ft.Rows[1].Key[0] != "103" {
		t.Fatalf("found %+v", found.Tables)
	}
	const search = `POST /crm/v3/objects/contacts/search {"filterGroups":[{"filters":[{"operator":"EQ","propertyName":"email","value":"ada@example.com"}]}],"limit":100,"properties":["email","firstname","lastname","createdate"]}`
	if got := h.take(); len(got) != 2 || got[0] != search || got[1] != `POST /crm/v3/objects/contacts/search {"after":"2","filterGroups":[{"filters":[{"operator":"EQ","propertyName":"email","value":"ada@example.com"}]}],"limit":100,"properties":["email","firstname","lastname","createdate"]}` {
		t.Fatalf("search requests:\n%s", strings.Join(got, "\n"))
	}

	var rows []map[string]any
	err = c.ReadRows(ctx, ft.Table, ft.Keys(nil), func(cols []string, row []any) error {
		m := map[string]any{}
		for i, col := range cols {
			m[col] = row[i]
		}
		rows = append(rows, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["properties.city"] != "London" || rows[0]["properties.lastname"] != "Lovelace" || rows[1]["properties.lastname"] != "King" {
		t.Fatalf("rows %v", rows)
	}
	if _, ok := rows[1]["properties.city"]; !ok {
		// Every row has the same columns; 103 has no city (nil).
		t.Errorf("row 103 lacks the column properties.city: %v", rows[1])
	}
	h.take()

	changed, err := c.Correct(ctx, ada, []datamap.Change{{Category: "user.name.first", Value: "Augusta Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].Rows != 2 || changed[0].Column != "properties.firstname" {
		t.Fatalf("changed %+v", changed)
	}
	got := h.take()
	if len(got) != 4 || got[2] != `PATCH /crm/v3/objects/contacts/101 {"properties":{"firstname":"Augusta Ada"}}` || got[3] != `PATCH /crm/v3/objects/contacts/103 {"properties":{"firstname":"Augusta Ada"}}` {
		t.Fatalf("correction requests:\n%s", strings.Join(got, "\n"))
	}

	er, err := c.Erase(ctx, ada, datamap.Rules{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(er.Tables) != 1 || er.Tables[0].Deleted != 2 {
		t.Fatalf("erasure %+v", er)
	}
	got = h.take()
	if len(got) != 4 || got[2] != `POST /crm/v3/objects/contacts/gdpr-delete {"objectId":"101"}` || got[3] != `POST /crm/v3/objects/contacts/gdpr-delete {"objectId":"103"}` {
		t.Fatalf("erasure requests:\n%s", strings.Join(got, "\n"))
	}
	var affected []string
	unreached, err := c.Affected(ctx, m.System("hubspot").BreachedTables(nil), func(p datamap.AffectedPerson) {
		affected = append(affected, fmt.Sprintf("%s %s %d", p.Email, p.Name, p.Records))
	})
	if err != nil || len(unreached) != 0 || strings.Join(affected, ", ") != "someone@example.net  1, x.ample@example.org  1" {
		t.Fatalf("affected %q, unreached %v, %v", affected, unreached, err)
	}
	if got := h.take(); len(got) != 2 {
		t.Fatalf("list requests: %v", got)
	}
	if problems, err := c.CheckLive(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("check: %v %v", problems, err)
	}
	if got := h.take(); len(got) != 1 || got[0] != "GET /crm/v3/objects/contacts" {
		t.Fatalf("check requests: %v", got)
	}
}
