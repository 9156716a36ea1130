package datamap_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// An opt-out turns off the person's newsletter flag and deletes their
// subscription, and touches nothing else: not their other rows, not the
// address they share, not anyone else's flag.
func TestOptOutTurnsOffTheirMarketingOnly(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		const person = 8 // shares a home with person 9
		before, err := demo.Snapshot(ctx, c.DB)
		if err != nil {
			t.Fatal(err)
		}
		if count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person) != 1 {
			t.Skip("person 8 has no subscription in this seed; pick another")
		}
		done, err := c.OptOut(ctx, emailOf(person), nil, nil)
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
		again, err := c.OptOut(ctx, emailOf(person), nil, nil)
		if err != nil || len(again) != 1 || again[0].Table != "customers" {
			t.Errorf("second opt-out = %+v, %v", again, err)
		}
	})
}

// A legal hold on the subscriptions keeps them from an opt-out's delete
// (the flag is still turned off: that destroys no record), and a record
// of the change that cannot be written undoes the whole opt-out.
func TestOptOutKeepsHeldRowsAndCommitsOnlyWithItsRecord(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		const person = 1
		if count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person) != 1 {
			t.Fatal("person 1 has no subscription; pick another")
		}
		if _, err := c.OptOut(ctx, emailOf(person), nil, func([]datamap.OptedOut) error { return errors.New("the record store is down") }); err == nil {
			t.Fatal("the opt-out committed although its record could not be written")
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE id = ? AND newsletter = ?`, person, true); n != 1 {
			t.Error("a failed opt-out left the flag off")
		}
		done, err := c.OptOut(ctx, emailOf(person), []string{"newsletter_subscriptions"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var held datamap.OptedOut
		for _, o := range done {
			if o.Table == "newsletter_subscriptions" {
				held = o
			}
		}
		if held.Held != 1 || held.Rows != 0 || len(held.Keys) != 0 {
			t.Errorf("held subscriptions: %+v, want 1 held and none deleted", held)
		}
		if n := count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person); n != 1 {
			t.Error("the held subscription was deleted")
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE id = ? AND newsletter = ?`, person, false); n != 1 {
			t.Error("the flag was not turned off")
		}
	})
}
