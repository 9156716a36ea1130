package datamap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// TestAffectedFollowsReferencesToAnEmail: invoices reach a customer's
// address through orders (two hops out); addresses reach customers by the
// reference pointing at them (one hop in). Each person counts once, with
// the records that are theirs; the answers match hand-written joins.
func TestAffectedFollowsReferencesToAnEmail(t *testing.T) {
	eachDatabase(t, 40, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		count := func(q string) int {
			var n int
			if err := c.DB.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tc := range []struct {
			categories []string
			tables     string
			people     string
			records    string
		}{
			{[]string{"user.financial"}, "invoices",
				`SELECT COUNT(DISTINCT c.email) FROM invoices i JOIN orders o ON i.order_id = o.id JOIN customers c ON o.customer_id = c.id`,
				`SELECT COUNT(*) FROM invoices`},
			{[]string{"user.contact.address.street"}, "addresses",
				`SELECT COUNT(DISTINCT email) FROM customers`,
				`SELECT COUNT(*) FROM customers`},
			{[]string{"user.privacy_preferences"}, "newsletter_subscriptions",
				`SELECT COUNT(DISTINCT email) FROM newsletter_subscriptions`,
				`SELECT COUNT(*) FROM newsletter_subscriptions`},
		} {
			tables := c.System().BreachedTables(tc.categories)
			var names []string
			for _, tb := range tables {
				names = append(names, tb.Name)
			}
			if strings.Join(names, ",") != tc.tables {
				t.Errorf("%v touches %v, want %s", tc.categories, names, tc.tables)
			}
			people := map[string]datamap.AffectedPerson{}
			records := 0
			unreached, err := c.Affected(ctx, tables, func(p datamap.AffectedPerson) {
				if _, dup := people[p.Email]; dup {
					t.Errorf("%s reported twice for one table", p.Email)
				}
				people[p.Email] = p
				records += p.Records
			})
			if err != nil || len(unreached) > 0 {
				t.Fatalf("%v: %v, unreached %v", tc.categories, err, unreached)
			}
			if want := count(tc.people); len(people) != want || want == 0 {
				t.Errorf("%v: %d people, want %d", tc.categories, len(people), want)
			}
			if want := count(tc.records); records != want {
				t.Errorf("%v: %d records, want %d", tc.categories, records, want)
			}
			ada := demo.PersonAt(0)
			if p, ok := people[ada.Email]; ok && tc.tables == "invoices" && p.Name != ada.Name {
				t.Errorf("Ada is named %q", p.Name)
			}
		}
	})
}
