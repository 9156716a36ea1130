package datamap_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/mysqltest"
	"github.com/dsar-project/dsar/internal/pgtest"
)

// eachDatabase seeds the demo organisation with n people on each database
// and returns a connector to it.
func eachDatabase(t *testing.T, n int, run func(t *testing.T, c *datamap.SQLConnector)) {
	for _, kind := range []datamap.Kind{datamap.KindSQLite, datamap.KindPostgres, datamap.KindMySQL} {
		t.Run(string(kind), func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "shop.db")
			switch kind {
			case datamap.KindPostgres:
				dsn = pgtest.NewDatabase(t)
			case datamap.KindMySQL:
				dsn = mysqltest.NewDatabase(t)
			}
			t.Setenv(demo.DSNEnv, dsn)
			m, err := demo.DataMap(kind)
			if err != nil {
				t.Fatal(err)
			}
			c, err := datamap.ConnectSQL(m.System("shop"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx := context.Background()
			if err := demo.CreateSchema(ctx, c.DB, kind); err != nil {
				t.Fatal(err)
			}
			if err := demo.Seed(ctx, c.DB, kind, 0, n, nil); err != nil {
				t.Fatal(err)
			}
			live, err := datamap.ReadSchema(ctx, c.DB, kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Check(c.System(), live); err != nil {
				t.Fatalf("demo data map does not match the demo schema: %v", err)
			}
			run(t, c)
		})
	}
}

func emailOf(i int) datamap.Identities {
	return datamap.Identities{"email": {demo.PersonAt(i).Email}}
}

// count runs a count query.
func count(t *testing.T, c *datamap.SQLConnector, query string, args ...any) int {
	t.Helper()
	if c.Kind == datamap.KindPostgres {
		query = replaceQ(query)
	}
	var n int
	if err := c.DB.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func replaceQ(q string) string {
	out, n := "", 0
	for _, r := range q {
		if r == '?' {
			n++
			out += "$" + string(rune('0'+n))
			continue
		}
		out += string(r)
	}
	return out
}

// Person 8 shares a home with person 9 (every tenth person moves in with
// the one before). Discovery finds person 8's rows through references in
// both directions and several hops, reaches the shared address, and never
// the neighbour.
func TestDiscoverFollowsReferencesBothWays(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		found, err := c.Discover(context.Background(), emailOf(8))
		if err != nil {
			t.Fatal(err)
		}
		cust := found.Table("customers")
		if cust == nil || len(cust.Rows) != 1 || cust.Rows[0].Key[0] != int64(8) || !cust.Rows[0].Owned {
			t.Fatalf("customers found = %+v, want only customer 8, owned", cust)
		}
		addr := found.Table("addresses")
		if addr == nil || len(addr.Rows) != 1 || addr.Rows[0].Owned {
			t.Fatalf("addresses found = %+v, want the one shared address, linked", addr)
		}
		// Orders are found from the customer; invoices from the orders
		// (two hops down).
		wantOrders := count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 8)
		wantInvoices := count(t, c, `SELECT count(*) FROM invoices WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?)`, 8)
		if got := rows(found, "orders"); got != wantOrders {
			t.Errorf("orders found = %d, want %d", got, wantOrders)
		}
		if got := rows(found, "invoices"); got != wantInvoices {
			t.Errorf("invoices found = %d, want %d", got, wantInvoices)
		}
		for _, ft := range found.Tables {
			for _, r := range ft.Rows {
				if ft.Table.Name != "addresses" && owner(ft.Table.Name, r.Key[0].(int64)) != 8 {
					t.Errorf("found %s row %v, which is not person 8's", ft.Table.Name, r.Key)
				}
			}
		}
	})
}

func rows(f *datamap.Found, table string) int {
	if t := f.Table(table); t != nil {
		return len(t.Rows)
	}
	return 0
}

func TestDiscoverUnknownPersonFindsNothing(t *testing.T) {
	eachDatabase(t, 5, func(t *testing.T, c *datamap.SQLConnector) {
		found, err := c.Discover(context.Background(), datamap.Identities{"email": {"nobody@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(found.Tables) != 0 {
			t.Fatalf("found %d tables for an unknown person", len(found.Tables))
		}
	})
}

func TestEraseDeletesChildrenFirstAndKeepsWhatOthersShare(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		before := snapshot(t, c.DB)
		logs := count(t, c, `SELECT count(*) FROM web_logs WHERE customer_id = ?`, 8)

		erasure, err := c.Erase(ctx, emailOf(8), datamap.Rules{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		byTable := map[string]datamap.TableResult{}
		for _, r := range erasure.Tables {
			byTable[r.Table] = r
		}
		if byTable["customers"].Deleted != 1 {
			t.Errorf("customers: %+v, want 1 deleted", byTable["customers"])
		}
		if r := byTable["addresses"]; r.Kept != 1 || r.Deleted != 0 {
			t.Errorf("addresses: %+v, want the shared address kept", r)
		}
		if logs > 0 && byTable["web_logs"].Masked != logs {
			t.Errorf("web_logs: %+v, want %d masked", byTable["web_logs"], logs)
		}
		for _, q := range []string{
			`SELECT count(*) FROM customers WHERE id = ?`,
			`SELECT count(*) FROM accounts WHERE customer_id = ?`,
			`SELECT count(*) FROM orders WHERE customer_id = ?`,
			`SELECT count(*) FROM support_tickets WHERE customer_id = ?`,
			`SELECT count(*) FROM web_logs WHERE customer_id = ?`,
			`SELECT count(*) FROM invoices WHERE order_id - order_id % 10 = ? * 10`,
		} {
			if n := count(t, c, q, 8); n != 0 {
				t.Errorf("%s: %d rows remain", q, n)
			}
		}
		if n := count(t, c, `SELECT count(*) FROM newsletter_subscriptions WHERE email = ?`, demo.PersonAt(8).Email); n != 0 {
			t.Errorf("newsletter subscription remains")
		}
		if n := count(t, c, `SELECT count(*) FROM web_logs WHERE id >= ? AND id < ? AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)`, 80, 90); n != 0 {
			t.Errorf("%d web log rows still carry the IP address or browser", n)
		}
		// Nobody else lost or changed anything.
		after := snapshot(t, c.DB)
		for table, rows := range before {
			for id, row := range rows {
				if owner(table, id) == 8 {
					continue
				}
				if after[table][id] != row {
					t.Errorf("%s row %d of another person changed: %q -> %q", table, id, row, after[table][id])
				}
			}
		}

		// Once the neighbour goes too, the address is free and goes with them.
		erasure, err = c.Erase(ctx, emailOf(9), datamap.Rules{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, c, `SELECT count(*) FROM addresses WHERE id = ?`, 8); n != 0 {
			t.Errorf("shared address remains after both residents were erased: %+v", erasure.Tables)
		}
		// Erasing again finds nothing and changes nothing.
		erasure, err = c.Erase(ctx, emailOf(9), datamap.Rules{Now: time.Now()})
		if err != nil || len(erasure.Tables) != 0 {
			t.Errorf("second erasure = %+v, %v; want nothing to do", erasure, err)
		}
	})
}

func owner(table string, id int64) int64 { return int64(demo.Owner(table, id)) }

// snapshot reads every row of every demo table as text, by id.
func snapshot(t *testing.T, db *sql.DB) map[string]map[int64]string {
	t.Helper()
	s, err := demo.Snapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCorrectWritesOnlyTheSubjectsCorrectableColumns(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		before := snapshot(t, c.DB)
		changed, err := c.Correct(ctx, emailOf(3), []datamap.Change{
			{Category: "user.name", Value: "Katherine G. Johnson"},
			{Category: "user.contact.phone_number", Value: "+1 555 0100"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var where []string
		for _, ch := range changed {
			where = append(where, ch.Table+"."+ch.Column)
		}
		slices.Sort(where)
		if !slices.Equal(where, []string{"customers.full_name", "customers.phone"}) {
			t.Fatalf("changed %v, want customers.full_name and customers.phone", where)
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE full_name = ?`, "Katherine G. Johnson"); n != 1 {
			t.Errorf("%d customers carry the corrected name, want 1", n)
		}
		// Invoices keep the name they were issued to (not correctable).
		if n := count(t, c, `SELECT count(*) FROM invoices WHERE billing_name = ?`, "Katherine G. Johnson"); n != 0 {
			t.Errorf("invoices were rewritten")
		}
		after := snapshot(t, c.DB)
		for table, rows := range before {
			for id, row := range rows {
				if table == "customers" && id == 3 {
					continue
				}
				if after[table][id] != row {
					t.Errorf("%s row %d changed: %q -> %q", table, id, row, after[table][id])
				}
			}
		}
	})
}

// TestCorrectReachesTheirOwnAddressButNotASharedOne: person 3's address
// is theirs alone and is corrected; person 8 shares theirs with person 9,
// so it is left as it is and reported as shared.
func TestCorrectReachesTheirOwnAddressButNotASharedOne(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		street := []datamap.Change{{Category: "user.contact.address.street", Value: "1 Navy Yard"}}
		changed, err := c.Correct(ctx, emailOf(3), street)
		if err != nil {
			t.Fatal(err)
		}
		if len(changed) != 1 || changed[0].Table != "addresses" || changed[0].Rows != 1 || changed[0].Shared != 0 {
			t.Fatalf("own address: changed %+v, want one addresses row", changed)
		}
		if n := count(t, c, `SELECT count(*) FROM addresses WHERE id = 3 AND street = ?`, "1 Navy Yard"); n != 1 {
			t.Errorf("person 3's address was not corrected")
		}

		before := snapshot(t, c.DB)
		changed, err = c.Correct(ctx, emailOf(8), street)
		if err != nil {
			t.Fatal(err)
		}
		if len(changed) != 1 || changed[0].Rows != 0 || changed[0].Shared != 1 {
			t.Fatalf("shared address: changed %+v, want 0 rows and 1 shared", changed)
		}
		if after := snapshot(t, c.DB); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("correcting a shared address changed the database")
		}
	})
}

func TestReadRowsStreamsFullRows(t *testing.T) {
	eachDatabase(t, 6, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		found, err := c.Discover(ctx, emailOf(0))
		if err != nil {
			t.Fatal(err)
		}
		ft := found.Table("customers")
		var got []string
		err = c.ReadRows(ctx, ft.Table, ft.Keys(nil), func(cols []string, row []any) error {
			for i, col := range cols {
				if col == "email" {
					got = append(got, row[i].(string))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"ada@example.com"}) {
			t.Fatalf("read %v, want Ada's row", got)
		}
	})
}

// TestDraftFromALiveDatabase: a scan of the demo database drafts a map
// that loads, matches the schema, carries the foreign keys as references
// and good guesses, and finds a person's rows across tables.
func TestDraftFromALiveDatabase(t *testing.T) {
	eachDatabase(t, 12, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		live, err := datamap.ReadSchema(ctx, c.DB, c.Kind)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := datamap.Draft(&buf, live, datamap.DraftOptions{System: "shop", Kind: c.Kind, DSNEnv: demo.DSNEnv, Source: "the demo shop"}); err != nil {
			t.Fatal(err)
		}
		draft := buf.String()
		m, err := datamap.Parse("draft", buf.Bytes())
		if err != nil {
			t.Fatalf("the draft does not load: %v\n%s", err, draft)
		}
		if err := m.Check(m.System("shop"), live); err != nil {
			t.Fatalf("the draft does not match the schema: %v", err)
		}
		for _, want := range []string{
			"email: user.contact.email   # review",
			"email: email   # review",
			"card_last4: user.financial.credit_card   # review",
			"ip_address: user.device.ip_address   # review",
			"customer_id: customers.id",
			"address_id: addresses.id",
			"order_id: orders.id",
		} {
			if !strings.Contains(draft, want) {
				t.Errorf("the draft lacks %q", want)
			}
		}
		dc, err := datamap.ConnectSQL(m.System("shop"))
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Close()
		found, err := dc.Discover(ctx, emailOf(0))
		if err != nil {
			t.Fatal(err)
		}
		if rows(found, "customers") != 1 || rows(found, "invoices") == 0 || rows(found, "addresses") != 1 {
			t.Errorf("discovery with the draft found %d customers, %d invoices, %d addresses", rows(found, "customers"), rows(found, "invoices"), rows(found, "addresses"))
		}
	})
}

func TestEraseRetainsInvoicesUntilTheirPeriodEndsThenPurges(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		invoices := count(t, c, `SELECT count(*) FROM invoices WHERE order_id >= ? AND order_id < ?`, 30, 40)
		if invoices == 0 {
			t.Fatal("person 3 has no invoices; pick another")
		}
		now := time.Now()
		erasure, err := c.Erase(ctx, emailOf(3), datamap.Rules{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		var inv datamap.TableResult
		for _, r := range erasure.Tables {
			if r.Table == "invoices" {
				inv = r
			}
		}
		if inv.Retained != invoices || inv.Deleted != 0 || !strings.Contains(inv.Basis, "tax") || !inv.RetainedUntil.After(now.AddDate(3, 0, 0)) {
			t.Fatalf("invoices: %+v, want %d retained on the tax basis for years", inv, invoices)
		}
		if len(erasure.Retained) != invoices {
			t.Fatalf("%d retained rows listed, want %d", len(erasure.Retained), invoices)
		}
		// The invoices stay, restricted and let go of the erased order;
		// everything else of the person is gone.
		if n := count(t, c, `SELECT count(*) FROM invoices WHERE id >= ? AND id < ? AND order_id IS NULL AND restricted`, 30, 40); n != invoices {
			t.Errorf("%d of %d invoices restricted and detached", n, invoices)
		}
		for _, q := range []string{`SELECT count(*) FROM customers WHERE id = ?`, `SELECT count(*) FROM orders WHERE customer_id = ?`} {
			if n := count(t, c, q, 3); n != 0 {
				t.Errorf("%s: %d rows remain", q, n)
			}
		}
		keys := map[string][][]any{}
		for _, r := range erasure.Retained {
			keys[r.Table] = append(keys[r.Table], r.Key)
		}
		purged, err := c.Purge(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(purged.Tables) != 1 || purged.Tables[0].Deleted != invoices || len(purged.Gone) != invoices {
			t.Errorf("purge = %+v, want %d invoices deleted", purged, invoices)
		}
		if n := count(t, c, `SELECT count(*) FROM invoices WHERE id >= ? AND id < ?`, 30, 40); n != 0 {
			t.Errorf("%d invoices remain after the purge", n)
		}
		// Purging again finds nothing left.
		if purged, err = c.Purge(ctx, keys); err != nil || purged.Tables[0].Deleted != 0 || len(purged.Gone) != 0 {
			t.Errorf("second purge = %+v, %v", purged, err)
		}
	})
}

func TestEraseLeavesHeldTablesAndWhatTheyNeed(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		orders := count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 4)
		erasure, err := c.Erase(ctx, emailOf(4), datamap.Rules{Now: time.Now(), Held: []string{"orders"}})
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]int{}
		for _, r := range erasure.Tables {
			held[r.Table] = r.Held
		}
		// Orders are held, and with them the customer and address they
		// point at; the rest goes.
		if held["orders"] != orders || held["customers"] != 1 || held["addresses"] != 1 {
			t.Errorf("held = %v, want %d orders, the customer and the address", held, orders)
		}
		if n := count(t, c, `SELECT count(*) FROM customers WHERE id = ?`, 4); n != 1 {
			t.Errorf("held customer row gone")
		}
		for _, q := range []string{`SELECT count(*) FROM accounts WHERE customer_id = ?`, `SELECT count(*) FROM support_tickets WHERE customer_id = ?`} {
			if n := count(t, c, q, 4); n != 0 {
				t.Errorf("%s: %d rows remain though not held", q, n)
			}
		}
		// Released, the same erasure takes the rest.
		erasure, err = c.Erase(ctx, emailOf(4), datamap.Rules{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 4) + count(t, c, `SELECT count(*) FROM customers WHERE id = ?`, 4); n != 0 {
			t.Errorf("%d held rows remain after release: %+v", n, erasure.Tables)
		}
	})
}

// addOrders gives a customer n more orders, with ids from first.
func addOrders(t *testing.T, c *datamap.SQLConnector, customer, first int64, n int) {
	t.Helper()
	tx, err := c.DB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	q := `INSERT INTO orders (id, customer_id, placed_at, total_cents) VALUES (?, ?, ?, ?)`
	if c.Kind == datamap.KindPostgres {
		q = replaceQ(q)
	}
	for i := range int64(n) {
		if _, err := tx.Exec(q, first+i, customer, time.Now().UTC(), 1000+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A person's rows go in batches of a thousand keys (one array on
// PostgreSQL): a row far past the first thousand that another row still
// refers to is kept and reported all the same, and the rest go.
func TestEraseChecksReferencesPastTheFirstBatch(t *testing.T) {
	eachDatabase(t, 30, func(t *testing.T, c *datamap.SQLConnector) {
		ctx := context.Background()
		// Person 5 has 1,500 more orders; an invoice nobody else's
		// discovery reaches points at the 1,201st.
		addOrders(t, c, 5, 5_000_000, 1500)
		const referenced = 5_001_200
		q := `INSERT INTO invoices (id, order_id, billing_name, billing_address, amount_cents, issued_at) VALUES (?, ?, ?, ?, ?, ?)`
		if c.Kind == datamap.KindPostgres {
			q = replaceQ(q)
		}
		if _, err := c.DB.Exec(q, 5_000_000, referenced, "Someone Else", "1 Other Street", 1000, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		var keys [][]any
		for i := range int64(1500) {
			keys = append(keys, []any{5_000_000 + i})
		}
		purged, err := c.Purge(ctx, map[string][][]any{"orders": keys})
		if err != nil {
			t.Fatal(err)
		}
		if len(purged.Tables) != 1 || purged.Tables[0].Deleted != 1499 || purged.Tables[0].Kept != 1 {
			t.Fatalf("purge = %+v, want 1499 orders deleted and 1 kept", purged.Tables)
		}
		if len(purged.Stayed) != 1 || purged.Stayed[0].Key[0] != int64(referenced) || len(purged.Gone) != 1499 {
			t.Errorf("stayed = %v and %d gone, want order %d stayed and 1499 gone", purged.Stayed, len(purged.Gone), referenced)
		}
		if n := count(t, c, `SELECT count(*) FROM orders WHERE id >= ? AND id < ?`, 5_000_000, 5_001_500); n != 1 {
			t.Errorf("%d of the orders remain, want the referenced one", n)
		}

		// Person 6 erased with 1,500 more orders: every one goes, as does
		// the customer.
		addOrders(t, c, 6, 6_000_000, 1500)
		orders := count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 6)
		erasure, err := c.Erase(ctx, emailOf(6), datamap.Rules{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		byTable := map[string]datamap.TableResult{}
		for _, r := range erasure.Tables {
			byTable[r.Table] = r
		}
		if byTable["orders"].Deleted != orders || byTable["customers"].Deleted != 1 {
			t.Errorf("erasure = %+v, want %d orders and the customer deleted", erasure.Tables, orders)
		}
		if n := count(t, c, `SELECT count(*) FROM orders WHERE customer_id = ?`, 6); n != 0 {
			t.Errorf("%d orders of person 6 remain", n)
		}
	})
}
