package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// DefaultMySQLURL is the MySQL or MariaDB server the MySQL benchmarks use
// when Options.MySQLURL is empty.
const DefaultMySQLURL = "mysql://root@127.0.0.1:3306/mysql"

// mysqlShop is the demo organisation in a MySQL or MariaDB database of
// its own, seeded once for both MySQL benchmarks.
type mysqlShop struct {
	admin *sql.DB
	name  string
	conn  *datamap.SQLConnector
}

// mysqlConnector seeds the demo organisation with Sizes.MySQLSubjects
// people in a new MySQL database, on first use, and returns a connector
// to it through the demo data map.
func (e *Env) mysqlConnector(ctx context.Context) (*datamap.SQLConnector, error) {
	if e.mysql != nil {
		return e.mysql.conn, nil
	}
	adminURL := e.opts.MySQLURL
	if adminURL == "" {
		adminURL = DefaultMySQLURL
	}
	admin, kind, err := datamap.OpenSQL(adminURL)
	if err != nil || kind != datamap.KindMySQL {
		return nil, fmt.Errorf("MySQL server: want a mysql:// URL (%v)", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("MySQL at %s: %w", redactURL(adminURL), err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &mysqlShop{admin: admin, name: "dsar_bench_shop_" + hex.EncodeToString(b)}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+s.name+" CHARACTER SET utf8mb4"); err != nil {
		admin.Close()
		return nil, err
	}
	e.mysql = s
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + s.name
	m, err := demo.DataMap(datamap.KindMySQL)
	if err != nil {
		return nil, err
	}
	sys := *m.System("shop")
	sys.DSNEnv = "DSAR_BENCH_MYSQL_SHOP"
	if err := os.Setenv(sys.DSNEnv, u.String()); err != nil {
		return nil, err
	}
	if s.conn, err = datamap.ConnectSQL(&sys); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := demo.CreateSchema(ctx, s.conn.DB, datamap.KindMySQL); err != nil {
		return nil, err
	}
	if err := demo.Seed(ctx, s.conn.DB, datamap.KindMySQL, 0, e.opts.Sizes.MySQLSubjects, nil); err != nil {
		return nil, err
	}
	e.setup["seed_mysql_subjects"] = time.Since(t0).Seconds()
	s.conn.DB.QueryRowContext(ctx, "SELECT VERSION()").Scan(&e.mysqlVersion)
	return s.conn, nil
}

func (s *mysqlShop) close() {
	if s.conn != nil {
		s.conn.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+s.name)
	s.admin.Close()
}

// handWrittenMySQL finds the same rows as discovery for one person, as
// an engineer would write it for this schema on MySQL: joins from the
// customer over the same indexes, one statement. The email is its nine
// parameters.
const handWrittenMySQL = `
SELECT 'customers', id FROM customers WHERE email = ?
UNION ALL SELECT 'addresses', a.id FROM customers c JOIN addresses a ON a.id = c.address_id WHERE c.email = ?
UNION ALL SELECT 'accounts', x.id FROM customers c JOIN accounts x ON x.customer_id = c.id WHERE c.email = ?
UNION ALL SELECT 'product_registrations', x.id FROM customers c JOIN product_registrations x ON x.customer_id = c.id WHERE c.email = ?
UNION ALL SELECT 'orders', o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = ?
UNION ALL SELECT 'invoices', i.id FROM customers c JOIN orders o ON o.customer_id = c.id JOIN invoices i ON i.order_id = o.id WHERE c.email = ?
UNION ALL SELECT 'support_tickets', x.id FROM customers c JOIN support_tickets x ON x.customer_id = c.id WHERE c.email = ?
UNION ALL SELECT 'newsletter_subscriptions', id FROM newsletter_subscriptions WHERE email = ?
UNION ALL SELECT 'web_logs', x.id FROM customers c JOIN web_logs x ON x.customer_id = c.id WHERE c.email = ?`

// discoveryMySQL: dsar's discovery for random people on MariaDB beside
// the hand-written query.
func discoveryMySQL(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("discovery of %d random people among %d (about %s rows in 9 tables) in MySQL/MariaDB, through the data map's references.", sz.Lookups, sz.MySQLSubjects, approxRows(sz.MySQLSubjects)),
		Baseline: "one hand-written query (joins and UNION ALL over the same indexes) returning the same rows, on the same connection pool",
		Goal:     "ratio ≤ 2, p99 < 100 ms",
	}
	c, err := e.mysqlConnector(ctx)
	if err != nil {
		return r, err
	}
	return r, timeDiscovery(ctx, &r, c, sz.Lookups, sz.MySQLSubjects, func(email string) (*sql.Rows, error) {
		args := make([]any, 9)
		for j := range args {
			args[j] = email
		}
		return c.DB.QueryContext(ctx, handWrittenMySQL, args...)
	})
}

// erasureMySQL: one person with ManyRows rows erased by the data map on
// MariaDB beside hand-written statements for the same rows.
func erasureMySQL(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What:     fmt.Sprintf("erasure of one person owning %d rows (support tickets and orders deleted, web logs anonymised) in MySQL/MariaDB, children first, in one transaction.", sz.ManyRows),
		Baseline: "four hand-written statements (DELETE ... WHERE customer_id = ?, UPDATE for the logs) in one transaction on a twin person",
		Goal:     "ratio ≥ 0.5",
	}
	c, err := e.mysqlConnector(ctx)
	if err != nil {
		return r, err
	}
	if err := timeErasure(ctx, &r, c, sz.ManyRows, insertBigPerson); err != nil {
		return r, err
	}
	r.Met = r.Ratio >= 0.5
	return r, nil
}

// insertBigPerson writes a person who owns many rows with multi-row
// INSERTs, in one transaction.
func insertBigPerson(ctx context.Context, db *sql.DB, p bigPerson) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, full_name, email, created_at) VALUES (?, ?, ?, ?)`, p.id, "Many Rows", p.email, now); err != nil {
		return err
	}
	base := p.id * 1_000_000
	body := strings.Repeat("x", p.bodySize)
	insert := func(table string, cols []string, n int, row func(i int) []any) error {
		const per = 1000
		ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		for start := 0; start < n; start += per {
			end := min(start+per, n)
			args := make([]any, 0, (end-start)*len(cols))
			for i := start; i < end; i++ {
				args = append(args, row(i)...)
			}
			q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(ph+", ", end-start), ", ")
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		return nil
	}
	if err := insert("support_tickets", []string{"id", "customer_id", "subject", "body", "opened_at"}, p.tickets, func(i int) []any {
		return []any{base + int64(i), p.id, "Printer", body, now}
	}); err != nil {
		return err
	}
	if err := insert("orders", []string{"id", "customer_id", "placed_at", "total_cents"}, p.orders, func(i int) []any {
		return []any{base + int64(i), p.id, now, int64(1000 + i)}
	}); err != nil {
		return err
	}
	if err := insert("web_logs", []string{"id", "customer_id", "ip_address", "user_agent", "path", "at"}, p.logs, func(i int) []any {
		return []any{base + int64(i), p.id, "198.51.100.7", "Mozilla/5.0", "/account", now}
	}); err != nil {
		return err
	}
	return tx.Commit()
}
