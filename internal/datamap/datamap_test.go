package datamap_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

const goodMap = `version: 1
systems:
  - name: shop
    kind: sqlite
    dsn_env: SHOP_DSN
    tables:
      - name: customers
        primary_key: id
        identities: {email: email}
        columns: {email: user.contact.email}
        erase: delete
`

func TestParseAcceptsAGoodMap(t *testing.T) {
	m, err := datamap.Parse("map.yaml", []byte(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	tb := m.System("shop").Table("customers")
	if tb == nil || tb.Identities["email"] != "email" || tb.Erase != datamap.Delete {
		t.Fatalf("parsed %+v", tb)
	}
}

// Each broken map names the file, the line and what is wrong.
func TestParseReportsProblemsWithLines(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", strings.Replace(goodMap, "primary_key: id", "primary_key: id\n        refrences: {}", 1),
			`map.yaml:9: unknown key "refrences"`},
		{"unknown category", strings.Replace(goodMap, "user.contact.email}", "user.contact.mail}", 1),
			`map.yaml:10: table shop.customers: column email has unknown category "user.contact.mail"`},
		{"missing primary key", strings.Replace(goodMap, "        primary_key: id\n", "", 1),
			"map.yaml:7: table shop.customers: primary_key is missing"},
		{"reference to nowhere", strings.Replace(goodMap, "erase: delete", "references: {address_id: addresses.id}\n        erase: delete", 1),
			"map.yaml:11: shop.customers.address_id refers to addresses.id, which is not a table of system shop"},
		{"bad kind", strings.Replace(goodMap, "kind: sqlite", "kind: oracle", 1),
			`map.yaml:3: system shop: kind "oracle" is not one of http, mongodb, mysql, postgres, sqlite, webhook, manual`},
		{"mask without columns", strings.Replace(goodMap, "erase: delete", "erase: mask", 1),
			"table shop.customers: erase strategy mask needs mask:"},
		{"wrong version", strings.Replace(goodMap, "version: 1", "version: 2", 1), "version must be 1"},
		{"retention without basis", strings.Replace(goodMap, "erase: delete", "erase: delete\n        retain: {period: 7y, from: created_at}", 1),
			"map.yaml:12: table shop.customers: retain needs a basis"},
		{"retention period unreadable", strings.Replace(goodMap, "erase: delete", "erase: delete\n        retain: {basis: tax, period: seven years, from: created_at}", 1),
			`table shop.customers: retain: period "seven years": write a number and a unit`},
		{"archive of an unknown system", goodMap + "archives:\n  - {name: nightly, system: crm, dir_env: BACKUPS, retention: 35d}\n",
			`map.yaml:13: archive nightly: system "crm" is not an SQL system (postgres, mysql, sqlite) of the map`},
		{"opt-out word", strings.Replace(goodMap, "erase: delete", "erase: delete\n        opt_out: remove", 1),
			`map.yaml:12: table shop.customers: opt_out "remove" must be delete or {set: {column: value}}`},
		{"opt-out of the key", strings.Replace(goodMap, "erase: delete", "erase: delete\n        opt_out: {set: {id: 0}}", 1),
			"map.yaml:12: table shop.customers: opt_out must not set the primary key column id"},
		{"opt-out to a list", strings.Replace(goodMap, "erase: delete", "erase: delete\n        opt_out: {set: {email: [a, b]}}", 1),
			"table shop.customers: opt_out sets email to [a b]; give text, a number, true, false or null"},
		{"opt-out with nothing", strings.Replace(goodMap, "erase: delete", "erase: delete\n        opt_out: {set: {}}", 1),
			"table shop.customers: opt_out needs set with at least one column"},
		{"opt-out misspelt", strings.Replace(goodMap, "erase: delete", "erase: delete\n        opt_out: {sett: {email: x}}", 1),
			`unknown key "sett" in opt_out of table shop.customers; did you mean "set"?`},
		{"archive without retention", goodMap + "archives:\n  - {name: nightly, system: shop, dir_env: BACKUPS}\n",
			"archive nightly: retention: period is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := datamap.Parse("map.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestParseRefusesKeptRowsPointingAtDeletedOnes(t *testing.T) {
	y := goodMap + `      - name: invoices
        primary_key: id
        columns: {billing_name: user.name}
        references: {customer_id: customers.id}
        erase: {strategy: mask, mask: {billing_name: "erased"}}
`
	_, err := datamap.Parse("map.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "keeps its rows (mask) and they reference customers.id, which is deleted") {
		t.Fatalf("error = %v", err)
	}
}

func TestParseRefusesRetainedRowsPointingAtDeletedOnes(t *testing.T) {
	y := goodMap + `      - name: invoices
        primary_key: id
        columns: {billing_name: user.name}
        references: {customer_id: customers.id}
        erase: delete
        retain: {basis: tax law, period: 7y, from: issued_at}
`
	_, err := datamap.Parse("map.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "retains rows that reference customers.id, which is deleted: list customer_id under retain.detach") {
		t.Fatalf("error = %v", err)
	}
	if _, err := datamap.Parse("map.yaml", []byte(strings.Replace(y, "from: issued_at}", "from: issued_at, detach: [customer_id]}", 1))); err != nil {
		t.Fatalf("with the reference detached: %v", err)
	}
}

func TestParsePeriod(t *testing.T) {
	start := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"7y":   time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC), // no 29 February in 2031
		"90d":  start.AddDate(0, 0, 90),
		"2w":   start.AddDate(0, 0, 14),
		"1y6m": time.Date(2025, 8, 29, 12, 0, 0, 0, time.UTC),
	} {
		p, err := datamap.ParsePeriod(in)
		if err != nil || !p.After(start).Equal(want) {
			t.Errorf("%s after %s = %s, %v; want %s", in, start, p.After(start), err, want)
		}
	}
	for _, bad := range []string{"", "7", "y7", "0d", "7 years", "-1y"} {
		if _, err := datamap.ParsePeriod(bad); err == nil {
			t.Errorf("period %q accepted", bad)
		}
	}
}

// Check compares the map with the live database.
func TestCheckFindsWhatTheDatabaseLacks(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "shop.db")
	t.Setenv(demo.DSNEnv, dsn)
	m, err := demo.DataMap(datamap.KindSQLite)
	if err != nil {
		t.Fatal(err)
	}
	c, err := datamap.ConnectSQL(m.System("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := demo.CreateSchema(ctx, c.DB, datamap.KindSQLite); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB.Exec(`ALTER TABLE web_logs RENAME COLUMN user_agent TO agent`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB.Exec(`DROP TABLE newsletter_subscriptions`); err != nil {
		t.Fatal(err)
	}
	live, err := datamap.ReadSchema(ctx, c.DB, datamap.KindSQLite)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Check(c.System(), live)
	for _, want := range []string{
		"table shop.newsletter_subscriptions does not exist in the database",
		"shop.web_logs: personal-data column user_agent does not exist in the database",
		"shop.web_logs: masked column user_agent does not exist",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant it to contain %q", err, want)
		}
	}
}

func TestGuessCategory(t *testing.T) {
	for col, want := range map[string]string{
		"email": "user.contact.email", "customer_email": "user.contact.email", "phone_number": "user.contact.phone_number",
		"first_name": "user.name.first", "ip_address": "user.device.ip_address", "date_of_birth": "user.demographic.date_of_birth",
		"password_hash": "user.authorization.credentials", "postal_code": "user.contact.address.postal_code",
	} {
		if got, _, ok := datamap.GuessCategory(col); !ok || got != want {
			t.Errorf("GuessCategory(%q) = %q, want %q", col, got, want)
		}
	}
	if _, _, ok := datamap.GuessCategory("total_cents"); ok {
		t.Error("total_cents guessed as personal data")
	}
}

// TestDocumentedExampleLoads keeps docs/datamap.md's full example valid.
func TestDocumentedExampleLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "datamap.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A full example")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	example, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/datamap.md has no YAML example under \"A full example\"")
	}
	m, err := datamap.Parse("docs/datamap.md", []byte(example))
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	if len(m.Systems) != 3 || m.System("crm").Kind != datamap.KindWebhook || m.System("paper_archive").Kind != datamap.KindManual {
		t.Errorf("the documented example has systems %+v", m.Systems)
	}
}
