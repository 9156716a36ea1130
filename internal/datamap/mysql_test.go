package datamap_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
)

// MySQL's usual collations compare text without regard to case, accents
// or trailing spaces. A person asking as rene@example.com is found under
// the address their shop account spells Rene@Example.com, but never
// reaches the newsletter subscription of rené@example.com, someone else
// the database also answers with. On the other databases the accented
// address is not answered at all; the test holds there too.
func TestCollationsFindTheSameAddressButNoOtherPersons(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		exec := func(q string, args ...any) {
			t.Helper()
			if c.Kind == datamap.KindPostgres {
				q = replaceQ(q)
			}
			if _, err := c.DB.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`UPDATE customers SET email = ? WHERE id = ?`, "Rene@Example.com", 5)
		exec(`DELETE FROM newsletter_subscriptions WHERE id IN (5, 6)`)
		exec(`INSERT INTO newsletter_subscriptions (id, email, subscribed_at) VALUES (?, ?, ?)`, 6, "rené@example.com", time.Now().UTC())

		var ids datamap.Identities
		if c.Kind == datamap.KindMySQL {
			ids = datamap.Identities{"email": {"rene@example.com", "RENE@example.com"}}
		} else {
			// Case-sensitive databases need the address as stored; dsar
			// asks with the address as given and in lower case.
			ids = datamap.Identities{"email": {"Rene@Example.com", "rene@example.com"}}
		}
		found, err := c.Discover(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		cust := found.Table("customers")
		if cust == nil || len(cust.Rows) != 1 || cust.Rows[0].Key[0] != int64(5) || !cust.Rows[0].Owned {
			t.Fatalf("customers found = %+v, want customer 5 only, as theirs", cust)
		}
		if subs := found.Table("newsletter_subscriptions"); subs != nil {
			t.Errorf("found the subscription of rené@, another person: %+v", subs.Rows[0].Key)
		}
		for _, ft := range found.Tables {
			for _, r := range ft.Rows {
				if ft.Table.Name != "addresses" && owner(ft.Table.Name, r.Key[0].(int64)) != 5 {
					t.Errorf("found %s row %v, which is not customer 5's", ft.Table.Name, r.Key)
				}
			}
		}
		if rows(found, "orders") != count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 5) {
			t.Errorf("orders of customer 5 not all found")
		}
	})
}

func TestMySQLConnectionStrings(t *testing.T) {
	for dsn, want := range map[string]string{
		"mysql://root@db.internal:3306":       "must name the database",
		"mysql://root@db.internal/a/b":        "must name the database",
		"mysql://root@db.internal/shop?tls=x": "connection string parameters",
		"mysql://root:se%ZZcret@db/shop":      "connection string",
	} {
		_, _, err := datamap.OpenSQL(dsn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenSQL(%q) = %v, want an error about %q", dsn, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "se%ZZcret") {
			t.Errorf("OpenSQL error shows the password: %v", err)
		}
	}
	db, kind, err := datamap.OpenSQL("mysql://app:secret@db.internal/shop?socket=/run/mysqld/mysqld.sock")
	if err != nil || kind != datamap.KindMySQL {
		t.Fatalf("OpenSQL = %v, %v", kind, err)
	}
	db.Close()
}

func TestMariaDBIsAnotherNameForMySQL(t *testing.T) {
	m, err := datamap.Parse("map.yaml", []byte(`version: 1
systems:
  - name: shop
    kind: mariadb
    dsn_env: SHOP_DSN
    tables:
      - name: customers
        primary_key: id
        identities: {email: email}
        columns: {email: user.contact.email}
        erase: delete
`))
	if err != nil {
		t.Fatal(err)
	}
	if k := m.System("shop").Kind; k != datamap.KindMySQL {
		t.Errorf("kind mariadb loads as %q, want mysql", k)
	}
}
