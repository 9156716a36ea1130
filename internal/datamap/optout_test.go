package datamap_test

import (
	"context"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// An opt-out turns off the person's newsletter flag and deletes their
// subscription, and touches nothing else: not their other rows, not the
// address they share, not anyone else's flag.
func TestOptOutTurnsOffTheirMarketingOnly(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.Connector) {
		ctx := context.Background()
		const person = 8 // shares a home with person 9
		before, err := demo.Snapshot(ctx, c.DB)
		if err != nil {
			t.Fatal(err)
		}
		if count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person) != 1 {
			t.Skip("person 8 has no subscription in this seed; pick another")
		}
		done, err := c.OptOut(ctx, emailOf(person))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, o := range done {
			got[o.Table] = o.Rows
		}
		if len(got) != 2 || got["customers"] != 1 || got["newsletter_subscriptions"] != 1 {
			t.Fatalf("opted out %+v, want one customer flag and one subscription", done)
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE id = ? AND newsletter = ?`, person, false); n != 1 {
			t.Errorf("the person's newsletter flag is still on")
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE newsletter = ?`, false); n != 1 {
			t.Errorf("%d customers have the flag off, want only the person", n)
		}
		if n := count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person); n != 0 {
			t.Errorf("the person's subscription remains")
		}
		after, err := demo.Snapshot(ctx, c.DB)
		if err != nil {
			t.Fatal(err)
		}
		for table, rows := range before {
			for id, row := range rows {
				changed := after[table][id] != row
				mine := demo.Owner(table, id) == person && (table == "customers" || table == "newsletter_subscriptions")
				if changed && !mine {
					t.Errorf("%s row %d changed: %q -> %q", table, id, row, after[table][id])
				}
			}
		}
		// A second opt-out finds the subscription gone and writes the
		// flag again: the same answer, nothing more removed.
		again, err := c.OptOut(ctx, emailOf(person))
		if err != nil || len(again) != 1 || again[0].Table != "customers" {
			t.Errorf("second opt-out = %+v, %v", again, err)
		}
	})
}
