// Package demo builds the demo organisation `dsar dev` runs against: a
// software shop's database in the world the seed policies describe, its
// data map, and a deterministic seeder for any number of people.
package demo

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dsar-project/dsar/internal/datamap"
)

//go:embed schema.sql
var schemaSQL string

//go:embed datamap.yaml
var dataMapYAML string

// DSNEnv is the variable the demo data map reads its connection string from.
const DSNEnv = "DSAR_DEMO_DSN"

// ArchiveEnv is the variable the demo data map reads its backups directory from.
const ArchiveEnv = "DSAR_DEMO_ARCHIVE"

// DataMap returns the demo data map for a database of the given kind.
func DataMap(kind datamap.Kind) (*datamap.Map, error) {
	y := strings.Replace(dataMapYAML, "kind: sqlite", "kind: "+string(kind), 1)
	return datamap.Parse("demo data map", []byte(y))
}

// DataMapYAML is the demo data map's text, for docs and `dsar demo`.
func DataMapYAML() string { return dataMapYAML }

// Person is one seeded person, as a test or benchmark needs to find them.
type Person struct {
	Index int
	Name  string
	Email string
}

// The first people are the ones dsar dev's demo requests come from.
var named = []struct{ name, email string }{
	{"Ada Lovelace", "ada@example.com"},
	{"Alan Turing", "alan@example.com"},
	{"Grace Hopper", "grace@example.com"},
	{"Katherine Johnson", "katherine@example.com"},
}

var (
	firstNames = []string{"Amara", "Bruno", "Chloé", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jonas", "Keiko", "Lucía", "Mateo", "Nia", "Olek", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zofia"}
	lastNames  = []string{"Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ivanova", "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Oliveira", "Peeters", "Quist", "Rossi", "Schmidt", "Tanaka", "Ulrich", "Varga", "Weber", "Xu", "Yilmaz", "Zeller"}
	cities     = []string{"Lisbon", "Ghent", "Tartu", "Utrecht", "Graz", "Lyon", "Aarhus", "Porto", "Brno", "Bergen"}
	products   = []string{"Studio", "Studio Pro", "Backup", "Sync"}
	oses       = []string{"Windows 11 23H2", "macOS 15.1", "Ubuntu 24.04", "Windows 10 22H2", "macOS 14.6"}
	agents     = []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/132.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}
	paths      = []string{"/", "/pricing", "/download", "/account", "/support", "/blog/backups"}
	subjects   = []string{"Licence not accepted", "Invoice address wrong", "Sync stops after update", "How do I export my projects?"}
)

// PersonAt returns the seeded person with the given index (from 0).
func PersonAt(i int) Person {
	if i < len(named) {
		return Person{Index: i, Name: named[i].name, Email: named[i].email}
	}
	first := firstNames[i%len(firstNames)]
	last := lastNames[(i/len(firstNames))%len(lastNames)]
	return Person{Index: i, Name: first + " " + last, Email: fmt.Sprintf("%s.%s.%d@example.net", asciiLower(first), asciiLower(last), i)}
}

func asciiLower(s string) string {
	r := strings.NewReplacer("é", "e", "í", "i", "á", "a", "ó", "o")
	return strings.ToLower(r.Replace(s))
}

// CreateSchema creates the demo tables in an empty database.
func CreateSchema(ctx context.Context, db *sql.DB, kind datamap.Kind) error {
	ddl := schemaSQL
	if kind == datamap.KindPostgres {
		ddl = strings.ReplaceAll(ddl, "TIMESTAMP NOT NULL", "TIMESTAMPTZ NOT NULL")
	}
	for _, stmt := range strings.Split(ddl, ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if kind == datamap.KindMySQL {
			stmt = mysqlDDL(stmt)
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("demo schema: %w", err)
		}
	}
	return nil
}

// inlineReference is a column's REFERENCES clause, which MySQL parses
// and ignores: it only keeps foreign keys declared on the table.
var inlineReference = regexp.MustCompile(`(?m)^\s+(\w+)\s+(.*?)\s+REFERENCES\s+(\w+)\s*\((\w+)\)(,?)$`)

// mysqlDDL turns one statement of the demo schema into MySQL's own:
// DATETIME for timestamps (MySQL's TIMESTAMP updates itself), bounded
// VARCHAR where text is indexed, foreign keys declared on the table, and
// UTF-8 text with MySQL's usual case-insensitive collation.
func mysqlDDL(stmt string) string {
	stmt = strings.ReplaceAll(stmt, "TIMESTAMP NOT NULL", "DATETIME(6) NOT NULL")
	stmt = strings.ReplaceAll(stmt, "TEXT NOT NULL UNIQUE", "VARCHAR(255) NOT NULL UNIQUE")
	if !strings.Contains(stmt, "CREATE TABLE") {
		return stmt
	}
	var fks []string
	stmt = inlineReference.ReplaceAllStringFunc(stmt, func(line string) string {
		m := inlineReference.FindStringSubmatch(line)
		fks = append(fks, fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s (%s)", m[1], m[3], m[4]))
		return "    " + m[1] + " " + m[2] + m[5]
	})
	body := strings.TrimRight(strings.TrimSpace(stmt), ")")
	body = strings.TrimRight(body, " \n")
	for _, fk := range fks {
		body += ",\n    " + fk
	}
	return body + "\n) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci"
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Seeded reports how many people have been seeded into the demo database:
// the seeded indices run from 0 up to (not including) the answer. It does
// not count rows, so people the demo's requests erased, anonymised or
// corrected since are still counted and never seeded again. It fails when
// the database has no demo tables.
//
// The count is a mark the seeder writes in the same transaction as each
// batch of people, where the demo tables do not see it (SQLite's
// user_version, a comment on PostgreSQL's customers table), so the data
// map, scans and snapshots of the demo organisation are unchanged. A demo
// database seeded before the mark existed is recognised by the highest
// person any of its rows belongs to.
func Seeded(ctx context.Context, db *sql.DB, kind datamap.Kind) (int, error) {
	n, err := readMark(ctx, db, kind)
	if err != nil || n > 0 {
		return n, err
	}
	return seededByRows(ctx, db)
}

// seedMark is PostgreSQL's mark, the comment on the customers table;
// readPostgresMark reads it, empty when there is no such table.
const (
	seedMark         = "dsar demo organisation: %d people seeded"
	readPostgresMark = `SELECT COALESCE(obj_description(to_regclass('customers'), 'pg_class'), '')`
)

// queryer is what reading the mark needs, from a database or transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readMySQLMark reads MySQL's mark, the comment on the customers table.
const readMySQLMark = `SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers'`

// readMark returns the seed mark, 0 when there is none.
func readMark(ctx context.Context, q queryer, kind datamap.Kind) (int, error) {
	if kind == datamap.KindMySQL {
		var comment string
		err := q.QueryRowContext(ctx, readMySQLMark).Scan(&comment)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("demo seed mark: %w", err)
		}
		return parseMark(comment), nil
	}
	if kind == datamap.KindPostgres {
		var comment string
		if err := q.QueryRowContext(ctx, readPostgresMark).Scan(&comment); err != nil {
			return 0, fmt.Errorf("demo seed mark: %w", err)
		}
		return parseMark(comment), nil
	}
	var n int
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&n); err != nil {
		return 0, fmt.Errorf("demo seed mark: %w", err)
	}
	return max(n, 0), nil
}

func parseMark(comment string) int {
	var n int
	if _, err := fmt.Sscanf(comment, seedMark, &n); err != nil || n < 0 {
		return 0
	}
	return n
}

// markStatement is the statement that sets the mark to n.
func markStatement(kind datamap.Kind, n int) string {
	switch kind {
	case datamap.KindPostgres:
		return `COMMENT ON TABLE customers IS '` + fmt.Sprintf(seedMark, n) + `'`
	case datamap.KindMySQL:
		return `ALTER TABLE customers COMMENT = '` + fmt.Sprintf(seedMark, n) + `'`
	}
	return fmt.Sprintf(`PRAGMA user_version = %d`, n)
}

// mark raises the seed mark to n in tx; it never lowers it. MySQL
// commits before any ALTER TABLE, so there the mark is raised after the
// batch commits, by markAfter, and a batch whose mark a crash lost is
// written again over itself (INSERT IGNORE).
func mark(ctx context.Context, tx *sql.Tx, kind datamap.Kind, n int) error {
	if kind == datamap.KindMySQL {
		return nil
	}
	return raiseMark(ctx, tx, kind, n)
}

// markAfter raises MySQL's mark once a batch has committed.
func markAfter(ctx context.Context, db *sql.DB, kind datamap.Kind, n int) error {
	if kind != datamap.KindMySQL {
		return nil
	}
	return raiseMark(ctx, db, kind, n)
}

func raiseMark(ctx context.Context, tx interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, kind datamap.Kind, n int) error {
	was, err := readMark(ctx, tx, kind)
	if err != nil || was >= n {
		return err
	}
	if _, err := tx.ExecContext(ctx, markStatement(kind, n)); err != nil {
		return fmt.Errorf("demo seed mark: %w", err)
	}
	return nil
}

// seededByRows recognises a demo database seeded without a mark: one more
// than the highest person any row of any demo table belongs to, 0 when
// the tables are empty. Retained rows (invoices) and every later person
// keep the answer when the demo's requests remove someone.
func seededByRows(ctx context.Context, db *sql.DB) (int, error) {
	n := 0
	for _, t := range insertOrder {
		var id sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT max(id) FROM `+t).Scan(&id); err != nil {
			return 0, fmt.Errorf("demo tables: %w", err)
		}
		if id.Valid {
			n = max(n, Owner(t, id.Int64)+1)
		}
	}
	return n, nil
}

// Seed adds people from index `from` up to (not including) `to`. Each
// person's rows depend only on their index, so seeding is repeatable and
// a larger seed extends a smaller one. Each batch raises the mark
// Seeded reads in its own transaction. progress, if set, hears after each
// batch how many people are done.
func Seed(ctx context.Context, db *sql.DB, kind datamap.Kind, from, to int, progress func(done int)) error {
	const perTx = 2000
	for start := from; start < to; start += perTx {
		end := min(start+perTx, to)
		if err := seedRange(ctx, db, kind, start, end); err != nil {
			return err
		}
		if progress != nil {
			progress(end)
		}
	}
	return nil
}

// epoch is when the demo shop opened; seeded times fall after it.
var epoch = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// Row IDs: each person owns a block of ids in every table, so ids are
// stable whatever else was seeded.
const idsPerPerson = 10

func seedRange(ctx context.Context, db *sql.DB, kind datamap.Kind, from, to int) error {
	ins := &inserter{cols: map[string][]string{}, rows: map[string][][]any{}}
	for i := from; i < to; i++ {
		p := PersonAt(i)
		rng := rand.New(rand.NewPCG(uint64(i), 0x64736172))
		base := int64(i) * idsPerPerson
		joined := epoch.Add(time.Duration(rng.IntN(600*24)) * time.Hour)
		// The named people, whom the demo requests come from, have some
		// of everything, so every table shows up in the demo.
		least := 0
		if i < len(named) {
			least = 2
		}

		// Every tenth person shares the previous person's home.
		addressID := int64(i)
		if i%10 == 9 {
			addressID = int64(i - 1)
		} else {
			ins.add("addresses", []string{"id", "street", "city", "postal_code", "country"},
				addressID, fmt.Sprintf("%d %s Street", 1+rng.IntN(200), lastNames[rng.IntN(len(lastNames))]),
				cities[rng.IntN(len(cities))], fmt.Sprintf("%04d", 1000+rng.IntN(9000)), "EU")
		}
		ins.add("customers", []string{"id", "full_name", "email", "phone", "address_id", "created_at"},
			int64(i), p.Name, p.Email, fmt.Sprintf("+3161%07d", i%10_000_000), addressID, joined)
		ins.add("accounts", []string{"id", "customer_id", "username", "password_hash", "created_at"},
			int64(i), int64(i), strings.SplitN(p.Email, "@", 2)[0], fmt.Sprintf("$argon2id$v=19$m=65536,t=3,p=2$demo%08x", rng.Uint32()), joined)
		for r := range 1 + rng.IntN(2) {
			ins.add("product_registrations", []string{"id", "customer_id", "product", "os_version", "licence_key", "registered_at"},
				base+int64(r), int64(i), products[rng.IntN(len(products))], oses[rng.IntN(len(oses))],
				fmt.Sprintf("DSAR-%04X-%04X", rng.IntN(0x10000), rng.IntN(0x10000)), joined.Add(time.Duration(r)*time.Hour))
		}
		for o := range max(rng.IntN(4), least) {
			placed := joined.Add(time.Duration(1+o*40+rng.IntN(30)) * 24 * time.Hour)
			total := int64(900 + rng.IntN(20000))
			ins.add("orders", []string{"id", "customer_id", "placed_at", "total_cents"}, base+int64(o), int64(i), placed, total)
			ins.add("invoices", []string{"id", "order_id", "billing_name", "billing_address", "card_last4", "amount_cents", "issued_at"},
				base+int64(o), base+int64(o), p.Name, fmt.Sprintf("%d %s Street, %s", 1+rng.IntN(200), lastNames[rng.IntN(len(lastNames))], cities[rng.IntN(len(cities))]),
				fmt.Sprintf("%04d", rng.IntN(10000)), total, placed)
		}
		for t := range max(rng.IntN(3), least) {
			ins.add("support_tickets", []string{"id", "customer_id", "subject", "body", "opened_at"},
				base+int64(t), int64(i), subjects[rng.IntN(len(subjects))],
				"Hello, this is "+p.Name+". Could you help me with this? Thanks.", joined.Add(time.Duration(3+t*20)*24*time.Hour))
		}
		if rng.IntN(10) < 6 || least > 0 {
			ins.add("newsletter_subscriptions", []string{"id", "email", "subscribed_at"}, int64(i), p.Email, joined)
		}
		for l := range max(rng.IntN(5), least) {
			ins.add("web_logs", []string{"id", "customer_id", "ip_address", "user_agent", "path", "at"},
				base+int64(l), int64(i), fmt.Sprintf("203.0.%d.%d", (i/250)%256, 1+i%250), agents[rng.IntN(len(agents))],
				paths[rng.IntN(len(paths))], joined.Add(time.Duration(l*7+rng.IntN(7))*time.Hour))
		}
	}
	if kind == datamap.KindPostgres {
		return ins.copyAll(ctx, db, to)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := ins.insertAll(ctx, tx, kind); err != nil {
		return err
	}
	if err := mark(ctx, tx, kind, to); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return markAfter(ctx, db, kind, to)
}

// inserter collects a batch of people's rows and writes them table by
// table, in an order that keeps foreign keys satisfied: with COPY into
// PostgreSQL, with multi-row INSERTs into SQLite.
type inserter struct {
	cols map[string][]string
	rows map[string][][]any
}

var insertOrder = []string{"addresses", "customers", "accounts", "product_registrations", "orders", "invoices", "support_tickets", "newsletter_subscriptions", "web_logs"}

func (in *inserter) add(table string, cols []string, vals ...any) {
	in.cols[table] = cols
	in.rows[table] = append(in.rows[table], vals)
}

// copyAll writes the batch with COPY and raises the seed mark to
// seeded, in one transaction.
func (in *inserter) copyAll(ctx context.Context, db *sql.DB, seeded int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, t := range insertOrder {
			if len(in.rows[t]) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t}, in.cols[t], pgx.CopyFromRows(in.rows[t])); err != nil {
				return fmt.Errorf("demo seed %s: %w", t, err)
			}
		}
		var comment string
		if err := tx.QueryRow(ctx, readPostgresMark).Scan(&comment); err != nil {
			return fmt.Errorf("demo seed mark: %w", err)
		}
		if parseMark(comment) < seeded {
			if _, err := tx.Exec(ctx, markStatement(datamap.KindPostgres, seeded)); err != nil {
				return fmt.Errorf("demo seed mark: %w", err)
			}
		}
		return tx.Commit(ctx)
	})
}

// insertAll writes the batch with multi-row INSERTs.
func (in *inserter) insertAll(ctx context.Context, tx *sql.Tx, kind datamap.Kind) error {
	for _, t := range insertOrder {
		rows := in.rows[t]
		per := max(1, 8000/max(1, len(in.cols[t])))
		for start := 0; start < len(rows); start += per {
			if err := in.insert(ctx, tx, kind, t, rows[start:min(start+per, len(rows))]); err != nil {
				return fmt.Errorf("demo seed %s: %w", t, err)
			}
		}
	}
	return nil
}

func (in *inserter) insert(ctx context.Context, tx *sql.Tx, kind datamap.Kind, table string, rows [][]any) error {
	cols := in.cols[table]
	var b strings.Builder
	if kind == datamap.KindMySQL {
		b.WriteString("INSERT IGNORE INTO ")
	} else {
		b.WriteString("INSERT INTO ")
	}
	b.WriteString(table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j, v := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			args = append(args, v)
			b.WriteString("?")
		}
		b.WriteString(")")
	}
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// Prepare makes the database at dsn a demo organisation of at least
// people persons: it creates the tables if they are missing and seeds the
// people not yet there. It returns the demo data map for the database's
// kind, checked against the live schema, and points DSNEnv at dsn so the
// map's connector finds it.
func Prepare(ctx context.Context, dsn string, people int, progress func(done int)) (*datamap.Map, error) {
	db, kind, err := datamap.OpenSQL(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	seeded, err := Seeded(ctx, db, kind)
	if err != nil {
		if err := CreateSchema(ctx, db, kind); err != nil {
			return nil, err
		}
		seeded = 0
	} else if err := markOld(ctx, db, kind, seeded); err != nil {
		return nil, err
	} else if err := upgrade(ctx, db, kind); err != nil {
		return nil, err
	}
	if seeded < people {
		if err := Seed(ctx, db, kind, seeded, people, progress); err != nil {
			return nil, err
		}
	}
	m, err := DataMap(kind)
	if err != nil {
		return nil, err
	}
	live, err := datamap.ReadSchema(ctx, db, kind)
	if err != nil {
		return nil, err
	}
	if err := m.Check(m.System("shop"), live); err != nil {
		return nil, err
	}
	if err := os.Setenv(DSNEnv, dsn); err != nil {
		return nil, err
	}
	if os.Getenv(ArchiveEnv) == "" {
		if err := os.Setenv(ArchiveEnv, backupsBeside(dsn)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// upgrade brings a demo database made by an earlier dsar up to the
// current schema: the newsletter flag opt-outs turn off.
func upgrade(ctx context.Context, db *sql.DB, kind datamap.Kind) error {
	live, err := datamap.ReadSchema(ctx, db, kind)
	if err != nil {
		return err
	}
	if t := live.Tables["customers"]; t != nil {
		if _, ok := t.Column("newsletter"); !ok {
			if _, err := db.ExecContext(ctx, `ALTER TABLE customers ADD COLUMN newsletter BOOLEAN NOT NULL DEFAULT TRUE`); err != nil {
				return fmt.Errorf("demo schema: add the newsletter flag: %w", err)
			}
		}
	}
	return nil
}

// markOld gives a demo database seeded before the seed mark existed its
// mark, so what the demo's requests remove later cannot lower the count.
func markOld(ctx context.Context, db *sql.DB, kind datamap.Kind, seeded int) error {
	if seeded == 0 {
		return nil
	}
	if was, err := readMark(ctx, db, kind); err != nil || was >= seeded {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := mark(ctx, tx, kind, seeded); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return markAfter(ctx, db, kind, seeded)
}

// backupsBeside is where the demo keeps its backups when ArchiveEnv is
// not set: beside a SQLite file, or in the temporary directory named
// after a PostgreSQL database.
func backupsBeside(dsn string) string {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		path, _, _ = strings.Cut(path, "?")
		return filepath.Join(filepath.Dir(path), "shop-backups")
	}
	name := "shop"
	if u, err := url.Parse(dsn); err == nil {
		name = strings.Trim(u.Path, "/")
	}
	return filepath.Join(os.TempDir(), "dsar-demo-backups-"+name)
}

// Owner is the index of the person a demo row belongs to: customers,
// accounts, addresses and subscriptions use the person's index, every
// other table a block of ids per person.
func Owner(table string, id int64) int {
	switch table {
	case "customers", "accounts", "addresses", "newsletter_subscriptions":
		return int(id)
	}
	return int(id / idsPerPerson)
}

// Snapshot reads every row of every demo table as text, by table and id,
// so tests can tell exactly which rows an action changed.
func Snapshot(ctx context.Context, db *sql.DB) (map[string]map[int64]string, error) {
	out := map[string]map[int64]string{}
	for _, table := range insertOrder {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			return nil, err
		}
		out[table] = map[int64]string{}
		err = datamap.EachRow(rows, func(vals []any) error {
			var b strings.Builder
			for _, v := range vals {
				switch x := v.(type) {
				case nil:
					v = "NULL"
				case []byte:
					v = string(x)
				case time.Time:
					v = x.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(&b, "|%v", v)
			}
			var id int64
			switch x := vals[0].(type) {
			case int64:
				id = x
			case int32:
				id = int64(x)
			}
			out[table][id] = b.String()
			return nil
		})
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
