package datamap_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/mongotest"
)

const mongoMap = `version: 1
systems:
  - name: app
    kind: mongodb
    dsn_env: DSAR_TEST_MONGO_APP
    collections:
      - name: users
        identities: {email: profile.email}
        fields:
          profile.email: user.contact.email
          profile.name: user.name
          marketing.newsletter: user.privacy_preferences
        references: {company_id: companies._id}
        correctable: [profile.name]
        erase: delete
        opt_out: {set: {marketing.newsletter: false}}
      - name: companies
        fields: {name: user.workplace}
        correctable: [name]
        erase: delete
      - name: orders
        references: {user_id: users._id}
        fields: {shipping.street: user.contact.address.street}
        erase: unset
      - name: invoices
        references: {user_id: users._id}
        fields: {billing.name: user.name}
        erase: delete
        retain: {basis: Tax law, period: 10y, from: issued_at, detach: [user_id], flag: restricted}
      - name: sessions
        references: {user_id: users._id}
        fields: {ip: user.device.ip_address}
        erase: {strategy: mask, mask: {ip: 0.0.0.0, agent: null, user_id: null}}
        opt_out: delete
`

func TestMongoConnector(t *testing.T) {
	ctx := context.Background()
	uri, db := mongotest.Start(t, "app")
	t.Setenv("DSAR_TEST_MONGO_APP", uri)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	insert := func(coll string, docs ...any) {
		t.Helper()
		if _, err := db.Collection(coll).InsertMany(ctx, docs); err != nil {
			t.Fatalf("insert into %s: %v", coll, err)
		}
	}
	insert("companies", bson.D{{Key: "_id", Value: "acme"}, {Key: "name", Value: "Acme"}})
	insert("users",
		bson.D{{Key: "_id", Value: int32(1)}, {Key: "profile", Value: bson.D{{Key: "email", Value: "alice@example.com"}, {Key: "name", Value: "Alice"}}}, {Key: "marketing", Value: bson.D{{Key: "newsletter", Value: true}}}, {Key: "company_id", Value: "acme"}},
		bson.D{{Key: "_id", Value: int32(2)}, {Key: "profile", Value: bson.D{{Key: "email", Value: "bob@example.com"}, {Key: "name", Value: "Bob"}}}, {Key: "marketing", Value: bson.D{{Key: "newsletter", Value: true}}}, {Key: "company_id", Value: "acme"}})
	insert("orders",
		bson.D{{Key: "_id", Value: "o1"}, {Key: "user_id", Value: int32(1)}, {Key: "shipping", Value: bson.D{{Key: "street", Value: "1 Main St"}}}, {Key: "total", Value: 10}},
		bson.D{{Key: "_id", Value: "o2"}, {Key: "user_id", Value: int32(1)}, {Key: "shipping", Value: bson.D{{Key: "street", Value: "1 Main St"}}}, {Key: "total", Value: 20}},
		bson.D{{Key: "_id", Value: "o3"}, {Key: "user_id", Value: int32(2)}, {Key: "shipping", Value: bson.D{{Key: "street", Value: "2 High St"}}}, {Key: "total", Value: 30}})
	insert("invoices",
		bson.D{{Key: "_id", Value: "i1"}, {Key: "user_id", Value: int32(1)}, {Key: "billing", Value: bson.D{{Key: "name", Value: "Alice"}}}, {Key: "issued_at", Value: now.AddDate(-1, 0, 0)}},
		bson.D{{Key: "_id", Value: "i2"}, {Key: "user_id", Value: int32(2)}, {Key: "billing", Value: bson.D{{Key: "name", Value: "Bob"}}}, {Key: "issued_at", Value: now.AddDate(-1, 0, 0)}})
	insert("sessions",
		bson.D{{Key: "_id", Value: "s1"}, {Key: "user_id", Value: int32(1)}, {Key: "ip", Value: "10.0.0.1"}, {Key: "agent", Value: "Firefox"}},
		bson.D{{Key: "_id", Value: "s2"}, {Key: "user_id", Value: int32(2)}, {Key: "ip", Value: "10.0.0.2"}, {Key: "agent", Value: "Safari"}})

	m, err := datamap.Parse("map.yaml", []byte(mongoMap))
	if err != nil {
		t.Fatal(err)
	}
	systems := datamap.NewSystems(m)
	defer systems.Close()
	if err := systems.Check(ctx); err != nil {
		t.Fatalf("live check of a map whose collections all exist: %v", err)
	}
	conns, err := systems.Connectors()
	if err != nil || len(conns) != 1 {
		t.Fatalf("connectors: %v, %d", err, len(conns))
	}
	c := conns[0]
	alice := datamap.Identities{"email": {"alice@example.com"}}
	doc := func(coll string, id any) bson.M {
		t.Helper()
		var out bson.M
		if err := db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&out); err != nil {
			return nil
		}
		return out
	}

	t.Run("discovery", func(t *testing.T) {
		found, err := c.Discover(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, ft := range found.Tables {
			var keys []string
			for _, r := range ft.Rows {
				keys = append(keys, datamap.CanonKey(r.Key)+map[bool]string{true: "", false: "(linked)"}[r.Owned])
			}
			got[ft.Table.Name] = strings.Join(keys, ",")
		}
		want := map[string]string{"users": "1", "companies": "acme(linked)", "orders": "o1,o2", "invoices": "i1", "sessions": "s1"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("found in %s: %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("found %v, want %v", got, want)
		}
		// Access: the documents as rows, nested fields by dotted path.
		var cols []string
		var rows [][]any
		err = c.ReadRows(ctx, found.Table("users").Table, found.Table("users").Keys(nil), func(cs []string, row []any) error {
			cols, rows = cs, append(rows, slices.Clone(row))
			return nil
		})
		if err != nil || len(rows) != 1 {
			t.Fatalf("read users: %v, %d rows", err, len(rows))
		}
		i := slices.Index(cols, "profile.email")
		if i < 0 || rows[0][i] != "alice@example.com" {
			t.Errorf("read columns %v row %v: want profile.email alice@example.com", cols, rows[0])
		}
	})

	t.Run("correction", func(t *testing.T) {
		plan, err := c.PlanCorrect(ctx, alice, []datamap.Change{{Category: "user.name", Value: "Alice Smith"}})
		if err != nil {
			t.Fatal(err)
		}
		if at(doc("users", int32(1)), "profile", "name") != "Alice" {
			t.Fatal("the dry run changed alice's name")
		}
		if len(plan) != 1 || plan[0].Column != "profile.name" || plan[0].Rows != 1 || fmt.Sprint(plan[0].Before) != "[Alice]" || plan[0].After != "Alice Smith" {
			t.Errorf("dry run of the correction: %+v, want profile.name Alice -> Alice Smith", plan)
		}
		changed, err := c.Correct(ctx, alice, []datamap.Change{{Category: "user.name", Value: "Alice Smith"}, {Category: "user.workplace", Value: "Other"}})
		if err != nil {
			t.Fatal(err)
		}
		if n := at(doc("users", int32(1)), "profile", "name"); n != "Alice Smith" {
			t.Errorf("alice's name after correction = %v", n)
		}
		if at(doc("users", int32(2)), "profile", "name") != "Bob" {
			t.Error("bob's name changed")
		}
		if doc("companies", "acme")["name"] != "Acme" {
			t.Error("the company alice shares with bob was corrected")
		}
		var shared int
		for _, ch := range changed {
			if ch.Table == "companies" {
				shared = ch.Shared
			}
		}
		if shared != 1 {
			t.Errorf("companies reported shared %d, want 1 (%+v)", shared, changed)
		}
	})

	t.Run("affected", func(t *testing.T) {
		people := map[string]int{}
		unreached, err := c.Affected(ctx, m.System("app").BreachedTables([]string{"user.contact.address"}), func(p datamap.AffectedPerson) { people[p.Email] += p.Records })
		if err != nil || len(unreached) > 0 {
			t.Fatalf("affected: %v, unreached %v", err, unreached)
		}
		if people["alice@example.com"] != 2 || people["bob@example.com"] != 1 || len(people) != 2 {
			t.Errorf("affected by a breach of shipping addresses: %v, want alice 2, bob 1", people)
		}
	})

	t.Run("opt-out", func(t *testing.T) {
		var recorded []datamap.OptedOut
		done, err := c.OptOut(ctx, alice, nil, func(o []datamap.OptedOut) error { recorded = o; return nil })
		if err != nil || len(recorded) != 2 || len(done) != 2 {
			t.Fatalf("opt-out: %v, recorded %v, done %v", err, recorded, done)
		}
		if at(doc("users", int32(1)), "marketing", "newsletter") != false {
			t.Error("alice's newsletter is still on")
		}
		if at(doc("users", int32(2)), "marketing", "newsletter") != true {
			t.Error("bob's newsletter was turned off")
		}
		if doc("sessions", "s1") != nil || doc("sessions", "s2") == nil {
			t.Error("opt-out should delete alice's session and only hers")
		}
	})

	t.Run("erasure", func(t *testing.T) {
		insert("sessions", bson.D{{Key: "_id", Value: "s3"}, {Key: "user_id", Value: int32(1)}, {Key: "ip", Value: "10.0.0.3"}, {Key: "agent", Value: "Edge"}})
		plan, err := c.PlanErase(ctx, alice, datamap.Rules{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if doc("users", int32(1)) == nil || doc("sessions", "s3")["ip"] != "10.0.0.3" {
			t.Fatal("the dry run erased")
		}
		var recorded *datamap.Erasure
		e, err := c.Erase(ctx, alice, datamap.Rules{Now: now, BeforeCommit: func(e *datamap.Erasure) error { recorded = e; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", plan.Tables) != fmt.Sprintf("%+v", e.Tables) {
			t.Errorf("dry run %+v\nerasure %+v", plan.Tables, e.Tables)
		}
		if recorded == nil {
			t.Fatal("the erasure was not recorded before it was made")
		}
		if doc("users", int32(1)) != nil {
			t.Error("alice's user document is still there")
		}
		for _, id := range []string{"o1", "o2"} {
			o := doc("orders", id)
			if o == nil || at(o, "shipping", "street") != nil || o["user_id"] != nil || o["total"] == nil {
				t.Errorf("order %s after unset: %v, want it kept without shipping address or user", id, o)
			}
		}
		inv := doc("invoices", "i1")
		if inv == nil || inv["restricted"] != true || inv["user_id"] != nil {
			t.Errorf("invoice kept by law: %v, want it kept, restricted and detached", inv)
		}
		s := doc("sessions", "s3")
		if s == nil || s["ip"] != "0.0.0.0" || s["agent"] != nil {
			t.Errorf("masked session: %v", s)
		}
		if doc("users", int32(2)) == nil || at(doc("orders", "o3"), "shipping", "street") == nil || doc("invoices", "i2")["restricted"] != nil || doc("sessions", "s2")["ip"] != "10.0.0.2" {
			t.Error("bob's documents were touched")
		}
		if doc("companies", "acme") == nil {
			t.Error("the company bob still works at was deleted")
		}
		if len(e.Retained) != 1 || e.Retained[0].Key[0] != "i1" {
			t.Errorf("retained %v, want invoice i1", e.Retained)
		}
		var gone []string
		for _, g := range e.Gone {
			gone = append(gone, g.Table+"/"+datamap.CanonKey(g.Key))
		}
		slices.Sort(gone)
		if want := []string{"orders/o1", "orders/o2", "sessions/s3", "users/1"}; !slices.Equal(gone, want) {
			t.Errorf("tombstones for %v, want %v", gone, want)
		}
	})

	t.Run("kept by law under a hold", func(t *testing.T) {
		insert("users", bson.D{{Key: "_id", Value: int32(3)}, {Key: "profile", Value: bson.D{{Key: "email", Value: "carol@example.com"}}}})
		insert("invoices", bson.D{{Key: "_id", Value: "i3"}, {Key: "user_id", Value: int32(3)}, {Key: "issued_at", Value: now.AddDate(-20, 0, 0)}})
		e, err := c.Erase(ctx, datamap.Identities{"email": {"carol@example.com"}}, datamap.Rules{Now: now, Held: []string{"invoices"}})
		if err != nil {
			t.Fatal(err)
		}
		if doc("invoices", "i3") == nil || doc("users", int32(3)) == nil {
			t.Errorf("a held collection's documents, and the user they reference, must stay: %+v", e.Tables)
		}
	})

	t.Run("live check", func(t *testing.T) {
		m2, err := datamap.Parse("map.yaml", []byte(strings.Replace(mongoMap, "name: sessions", "name: visits", 1)))
		if err != nil {
			t.Fatal(err)
		}
		s2 := datamap.NewSystems(m2)
		defer s2.Close()
		err = s2.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "collection app.visits does not exist") {
			t.Errorf("check of a map naming a missing collection: %v", err)
		}
	})
}

func TestMongoMapKeys(t *testing.T) {
	bad := strings.Replace(mongoMap, "      - name: companies\n", "      - name: companies\n        primary_key: id\n", 1)
	_, err := datamap.Parse("map.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `key "primary_key" in collection app.companies does not apply to a mongodb collection`) {
		t.Errorf("primary_key in a collection: %v", err)
	}
	sql := "version: 1\nsystems:\n  - name: shop\n    kind: postgres\n    dsn_env: X\n    tables:\n      - name: t\n        primary_key: id\n        columns: {email: user.contact.email}\n        erase: unset\n"
	if _, err := datamap.Parse("map.yaml", []byte(sql)); err == nil || !strings.Contains(err.Error(), "erase strategy unset is for documents") {
		t.Errorf("unset in an SQL table: %v", err)
	}
}

// at reads a nested field of a decoded document.
func at(m bson.M, path ...string) any {
	var v any = m
	for _, p := range path {
		switch x := v.(type) {
		case bson.M:
			v = x[p]
		case bson.D:
			v = nil
			for _, e := range x {
				if e.Key == p {
					v = e.Value
				}
			}
		default:
			return nil
		}
	}
	return v
}
