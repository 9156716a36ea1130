package datamap

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// AffectedPerson is someone a breach touched: the email address to tell
// them at, their name where the map knows it, and how many of the
// breached records are theirs.
type AffectedPerson struct {
	Email, Name string
	Records     int
}

// BreachedTables lists the tables of a system a breach touched: those
// holding any of the categories (a category covers its sub-categories),
// or every table with personal data when no category is named.
func (s *System) BreachedTables(categories []string) []*Table {
	var out []*Table
	for _, t := range s.Tables {
		if len(t.Columns) == 0 {
			continue
		}
		if len(categories) == 0 || slices.ContainsFunc(t.CategoriesOf(), func(c string) bool {
			return slices.ContainsFunc(categories, func(want string) bool { return c == want || strings.HasPrefix(c, want+".") })
		}) {
			out = append(out, t)
		}
	}
	return out
}

// Affected finds the people whose rows are in the breached tables: for
// each table, one query joins it along the data map's references (either
// direction, fewest hops) to the nearest table with an email identity and
// counts the rows per address. A person in several tables is one person.
// Tables from which no email can be reached are returned in unreached,
// for the officer to assess by hand.
func (c *SQLConnector) Affected(ctx context.Context, tables []*Table, add func(AffectedPerson)) (unreached []string, err error) {
	for _, t := range tables {
		query, ok := c.affectedQuery(t)
		if !ok {
			unreached = append(unreached, t.Name)
			continue
		}
		rows, err := c.DB.QueryContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("system %s: affected people of %s: %w", c.sys.Name, t.Name, err)
		}
		for rows.Next() {
			var email, name *string
			var n int
			if err := rows.Scan(&email, &name, &n); err != nil {
				rows.Close()
				return nil, err
			}
			if email == nil || *email == "" {
				continue
			}
			p := AffectedPerson{Email: *email, Records: n}
			if name != nil {
				p.Name = *name
			}
			add(p)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return unreached, nil
}

// affectedQuery builds the join from t to the nearest table holding an
// email identity, by breadth-first search over the references.
func (c *SQLConnector) affectedQuery(t *Table) (string, bool) {
	type hop struct {
		table *Table
		on    string // join condition to the previous table, with aliases
		prev  int
	}
	path := []hop{{table: t, prev: -1}}
	seen := map[string]bool{t.Name: true}
	alias := func(i int) string { return fmt.Sprintf("t%d", i) }
	for i := 0; i < len(path); i++ {
		cur := path[i]
		if _, ok := cur.table.Identities["email"]; ok {
			var joins []string
			for j := i; j > 0; j = path[j].prev {
				joins = append(joins, "JOIN "+c.Kind.Quote(path[j].table.Name)+" "+alias(j)+" ON "+path[j].on)
			}
			slices.Reverse(joins)
			nameExpr := "NULL"
			if col := nameColumn(cur.table); col != "" {
				nameExpr = "MAX(" + alias(i) + "." + c.Kind.Quote(col) + ")"
			}
			email := alias(i) + "." + c.Kind.Quote(cur.table.Identities["email"])
			return "SELECT " + email + ", " + nameExpr + ", COUNT(*) FROM " + c.Kind.Quote(t.Name) + " t0 " +
				strings.Join(joins, " ") + " WHERE " + email + " IS NOT NULL GROUP BY " + email, true
		}
		// References out of this table, then into it.
		for _, col := range sortedKeys(cur.table.References) {
			ref := cur.table.References[col]
			if next := c.sys.Table(ref.Table); next != nil && !seen[next.Name] {
				seen[next.Name] = true
				n := len(path)
				path = append(path, hop{table: next, prev: i,
					on: alias(i) + "." + c.Kind.Quote(col) + " = " + alias(n) + "." + c.Kind.Quote(ref.Column)})
			}
		}
		for _, other := range c.sys.Tables {
			if seen[other.Name] {
				continue
			}
			for _, col := range sortedKeys(other.References) {
				if ref := other.References[col]; ref.Table == cur.table.Name {
					seen[other.Name] = true
					n := len(path)
					path = append(path, hop{table: other, prev: i,
						on: alias(n) + "." + c.Kind.Quote(col) + " = " + alias(i) + "." + c.Kind.Quote(ref.Column)})
					break
				}
			}
		}
	}
	return "", false
}

// nameColumn is the column holding a person's name in an identity table,
// if the map says which.
func nameColumn(t *Table) string {
	for _, col := range sortedKeys(t.Columns) {
		if c := t.Columns[col]; c == "user.name" {
			return col
		}
	}
	return ""
}
