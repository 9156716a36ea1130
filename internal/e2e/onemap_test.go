package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/mongotest"
	"github.com/dsar-project/dsar/internal/mysqltest"
	"github.com/dsar-project/dsar/internal/saastest"
)

// One data map with every kind dsar reaches itself: the demo shop on
// PostgreSQL (with its invoices kept by tax law), a loyalty programme
// on MariaDB, an app's users on MongoDB (FerretDB) and a CRM's API
// (kind http). Alan's access, export, correction and deletion go
// through all four, and no one else's data is handed out or touched:
// not Ada's, who is in every system, and not Alana's, whom the CRM's
// fuzzy search answers for Alan.
const oneMapSystems = `
  - name: loyalty
    kind: mariadb
    dsn_env: E2E_LOYALTY_DSN
    tables:
      - name: members
        primary_key: id
        identities: {email: email}
        columns: {email: user.contact.email, full_name: user.name, city: user.contact.address.city}
        correctable: [full_name]
        erase: delete
  - name: app
    kind: mongodb
    dsn_env: E2E_APP_MONGO
    collections:
      - name: users
        identities: {email: profile.email}
        fields: {profile.email: user.contact.email, profile.name: user.name}
        correctable: [profile.name]
        erase: delete
  - name: crm
    kind: http
    url_env: E2E_CRM_URL
    auth: {bearer_env: E2E_CRM_TOKEN}
    retry: {attempts: 3, min_wait: 50ms, max_wait: 2s}
    check: {path: "/v2/people/search?email=nobody@example.org"}
    resources:
      - name: people
        identities: {email: email}
        fields: {email: user.contact.email, name: user.name, phone: user.contact.phone_number}
        correctable: [name]
        erase: delete
        find:
          path: "/v2/people/search?email={email}&cursor={cursor}"
          records: data
          pagination: {type: cursor, next: next_cursor}
        read: {path: "/v2/people/{id}", record: person}
        update: {method: PATCH, path: "/v2/people/{id}", body: {person: "{fields}"}}
        delete: {path: "/v2/people/{id}"}
`

func TestOneMapAcrossPostgresMariaDBMongoAndHTTP(t *testing.T) {
	ctx := context.Background()
	const person = 1 // Alan Turing
	alan, ada := demo.PersonAt(person), demo.PersonAt(0)

	loyalty := mysqltest.NewDatabase(t)
	db, _, err := datamap.OpenSQL(loyalty)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE members (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL, full_name VARCHAR(200), city VARCHAR(100))`,
		// MariaDB compares text without regard to case: Alan's row is
		// written in capitals and is still his.
		fmt.Sprintf(`INSERT INTO members VALUES (1, '%s', 'Alan Turing', 'Wilmslow'), (2, '%s', 'Ada Lovelace', 'London')`, strings.ToUpper(alan.Email), ada.Email),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	members := func() map[int]string {
		t.Helper()
		out := map[int]string{}
		rows, err := db.QueryContext(ctx, `SELECT id, email, full_name, city FROM members`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var email, name, city string
			if err := rows.Scan(&id, &email, &name, &city); err != nil {
				t.Fatal(err)
			}
			out[id] = email + "|" + name + "|" + city
		}
		return out
	}

	uri, mdb := mongotest.Start(t, "app")
	if _, err := mdb.Collection("users").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "u-alan"}, {Key: "profile", Value: bson.D{{Key: "email", Value: alan.Email}, {Key: "name", Value: "Alan Turing"}}}},
		bson.D{{Key: "_id", Value: "u-ada"}, {Key: "profile", Value: bson.D{{Key: "email", Value: ada.Email}, {Key: "name", Value: "Ada Lovelace"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	users := func() map[string]string {
		t.Helper()
		cur, err := mdb.Collection("users").Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID      string `bson:"_id"`
			Profile struct{ Email, Name string }
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range docs {
			out[d.ID] = d.Profile.Email + "|" + d.Profile.Name
		}
		return out
	}

	crm := saastest.New(t,
		saastest.Person("c-alan", alan.Email, "Alan Turing"),
		saastest.Person("c-alana", "alana@example.com", "Alana Smith"), // the fuzzy search answers her for Alan
		saastest.Person("c-ada", ada.Email, "Ada Lovelace"),
	)
	t.Setenv("E2E_LOYALTY_DSN", loyalty)
	t.Setenv("E2E_APP_MONGO", uri)
	t.Setenv("E2E_CRM_URL", crm.URL)
	t.Setenv("E2E_CRM_TOKEN", "tok_123")
	s := newSystemWith(t, oneMapSystems)
	others := func() (map[int]string, map[string]string, []map[string]any) {
		m, u := members(), users()
		delete(m, 1)
		delete(u, "u-alan")
		return m, u, []map[string]any{crm.Record("c-alana"), crm.Record("c-ada")}
	}
	m0, u0, c0 := others()

	// Access: one report, with Alan's rows of every system.
	_, mail := s.run(person, "access")
	z, _ := s.download(mail)
	files := readZip(t, z)
	var doc struct {
		Tables []struct {
			System, Table string
			Rows          []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(files["data.json"]), &doc); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	got := map[string]map[string]any{}
	for _, tb := range doc.Tables {
		if tb.System == "shop" || strings.HasPrefix(tb.System, "shop ") || len(tb.Rows) == 0 {
			continue
		}
		if len(tb.Rows) != 1 {
			t.Errorf("%s.%s: %d rows, want Alan's one", tb.System, tb.Table, len(tb.Rows))
		}
		got[tb.System+"."+tb.Table] = tb.Rows[0]
	}
	if r := got["loyalty.members"]; r == nil || r["city"] != "Wilmslow" {
		t.Errorf("loyalty.members in data.json: %v", r)
	}
	if r := got["app.users"]; r == nil || r["profile.email"] != alan.Email {
		t.Errorf("app.users in data.json: %v", r)
	}
	if r := got["crm.people"]; r == nil || r["email"] != alan.Email || r["name"] != "Alan Turing" || r["phone"] != "+1 555 0100" {
		t.Errorf("crm.people in data.json: %v", r)
	}
	all := files["data.json"] + files["report.html"]
	othersIn(t, all, person)
	if strings.Contains(all, "alana@example.com") || strings.Contains(all, "Alana") {
		t.Error("the access package holds Alana's CRM record, which the fuzzy search answered")
	}

	// Export: a file per table of every system.
	_, mail = s.run(person, "export")
	z, _ = s.download(mail)
	files = readZip(t, z)
	var man struct{ Systems []string }
	if err := json.Unmarshal([]byte(files["manifest.json"]), &man); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	for _, sys := range []string{"shop", "loyalty", "app", "crm"} {
		if !slices.Contains(man.Systems, sys) {
			t.Errorf("the export's manifest lists systems %v, without %s", man.Systems, sys)
		}
	}
	for _, f := range []string{"loyalty/members.json", "app/users.json", "crm/people.json"} {
		if !strings.Contains(files[f], "Alan Turing") {
			t.Errorf("%s lacks Alan: %.300s (files %v)", f, files[f], keys(files))
		}
	}
	all = ""
	for _, f := range files {
		all += f
	}
	othersIn(t, all, person)
	if strings.Contains(all, "alana@example.com") {
		t.Error("the export holds Alana's CRM record")
	}

	// Correction: his name, in every system that lets it be corrected.
	_, mail = s.run(person, "correction", map[string]string{"field": "name", "value": "Alan Mathison Turing"})
	for _, want := range []string{"shop / customers.full_name (1 record)", "loyalty / members.full_name (1 record)", "app / users.profile.name (1 record)", "crm / people.name (1 record)"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the correction email lacks %q:\n%s", want, mail)
		}
	}
	if m := members(); !strings.Contains(m[1], "|Alan Mathison Turing|") {
		t.Errorf("loyalty member not corrected: %q", m[1])
	}
	if u := users(); u["u-alan"] != alan.Email+"|Alan Mathison Turing" {
		t.Errorf("app user not corrected: %q", u["u-alan"])
	}
	if r := crm.Record("c-alan"); r["name"] != "Alan Mathison Turing" {
		t.Errorf("CRM record not corrected: %v", r)
	}

	// Deletion: the shop's checks (invoices kept for tax, restricted),
	// then his rows elsewhere are gone.
	mail = deletionErasesTheirRows(t, s)
	if m := members(); m[1] != "" {
		t.Errorf("loyalty member still there: %q", m[1])
	}
	if u := users(); u["u-alan"] != "" {
		t.Errorf("app user still there: %q", u["u-alan"])
	}
	if r := crm.Record("c-alan"); r != nil {
		t.Errorf("CRM record still there: %v", r)
	}
	for _, want := range []string{"loyalty / members: 1 deleted", "app / users: 1 deleted", "crm / people: 1 deleted"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the deletion email lacks %q:\n%s", want, mail)
		}
	}

	// No one else's row, document or record changed, through all four.
	m1, u1, c1 := others()
	if fmt.Sprint(m1) != fmt.Sprint(m0) || fmt.Sprint(u1) != fmt.Sprint(u0) || fmt.Sprint(c1) != fmt.Sprint(c0) {
		t.Errorf("someone else's data changed:\nloyalty %v -> %v\napp %v -> %v\ncrm %v -> %v", m0, m1, u0, u1, c0, c1)
	}
	for _, w := range crm.Writes() {
		if !strings.HasSuffix(w, "/c-alan") {
			t.Errorf("the CRM was written to for someone else: %s", w)
		}
	}
}
