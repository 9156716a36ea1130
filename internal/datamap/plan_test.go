package datamap_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// TestPlanEraseForetellsErase: a dry run changes nothing and lists, table
// by table, exactly what the erasure then does: person 3's invoices
// retained by law, person 8's shared address kept and web logs masked,
// person 4's held orders (with what they point at) left alone.
func TestPlanEraseForetellsErase(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		now := time.Now()
		for _, tc := range []struct {
			person int
			held   []string
		}{{3, nil}, {8, nil}, {4, []string{"orders"}}} {
			before := snapshot(t, c.DB)
			rules := datamap.Rules{Now: now, Held: tc.held, BeforeCommit: func(*datamap.Erasure) error {
				t.Errorf("a dry run called BeforeCommit")
				return nil
			}}
			plan, err := c.PlanErase(ctx, emailOf(tc.person), rules)
			if err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, c.DB); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("person %d: the dry run changed the database", tc.person)
			}
			if len(plan.Tables) == 0 {
				t.Fatalf("person %d: the dry run plans nothing", tc.person)
			}
			done, err := c.Erase(ctx, emailOf(tc.person), datamap.Rules{Now: now, Held: tc.held})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprintf("%+v", plan.Tables), fmt.Sprintf("%+v", done.Tables); got != want {
				t.Errorf("person %d:\n dry run %s\n  erased %s", tc.person, got, want)
			}
			if len(plan.Retained) != len(done.Retained) || len(plan.Gone) != len(done.Gone) || len(plan.Stayed) != len(done.Stayed) {
				t.Errorf("person %d: dry run retains %d, removes %d, leaves %d; erasure %d, %d, %d", tc.person,
					len(plan.Retained), len(plan.Gone), len(plan.Stayed), len(done.Retained), len(done.Gone), len(done.Stayed))
			}
		}
		// What the dry run says of the cases above, in a user's terms.
		var shared, retained int
		plan, err := c.PlanErase(ctx, emailOf(9), datamap.Rules{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range plan.Tables {
			shared += r.Kept
			retained += r.Retained
		}
		if want := count(t, c, `SELECT count(*) FROM invoices WHERE order_id >= ? AND order_id < ?`, 90, 100); retained != want {
			t.Errorf("person 9: %d rows retained by law, want their %d invoices", retained, want)
		}
		// Person 8 is gone: the address they shared is person 9's alone
		// now and goes with them.
		if shared != 0 {
			t.Errorf("person 9: %d rows kept as shared, want none", shared)
		}
	})
}

// TestPlanCorrectShowsBeforeAndAfter: the dry run of a correction lists
// each column it would write with the values there now, and changes
// nothing; a shared address is counted, not planned.
func TestPlanCorrectShowsBeforeAndAfter(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		before := snapshot(t, c.DB)
		plan, err := c.PlanCorrect(ctx, emailOf(3), []datamap.Change{
			{Category: "user.name", Value: "Katherine G. Johnson"},
			{Category: "user.contact.phone_number", Value: "+15550100"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, c.DB); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatal("the dry run changed the database")
		}
		p := demo.PersonAt(3)
		got := map[string]string{}
		for _, ch := range plan {
			got[ch.Table+"."+ch.Column] = fmt.Sprintf("%d rows %q -> %q", ch.Rows, ch.Before, ch.After)
		}
		want := map[string]string{
			"customers.full_name": fmt.Sprintf("1 rows %q -> %q", []string{p.Name}, "Katherine G. Johnson"),
			"customers.phone":     fmt.Sprintf("1 rows %q -> %q", []string{fmt.Sprintf("+3161%07d", 3)}, "+15550100"),
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("dry run %v\nwant %v", got, want)
		}
		shared, err := c.PlanCorrect(ctx, emailOf(8), []datamap.Change{{Category: "user.contact.address.street", Value: "1 Navy Yard"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(shared) != 1 || shared[0].Rows != 0 || shared[0].Shared != 1 || len(shared[0].Before) != 0 {
			t.Errorf("shared address: %+v, want 0 rows and 1 shared", shared)
		}
	})
}
