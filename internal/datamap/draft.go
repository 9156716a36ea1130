package datamap

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// DraftOptions name the system a draft describes.
type DraftOptions struct {
	System string // the system's name in the map
	Kind   Kind
	DSNEnv string // the variable its connection string will come from
	Source string // what was scanned, for the header comment
}

// Draft writes a data map for one live database: every table with its
// primary key, foreign keys as references, and a category guessed for
// each column whose name or type suggests personal data. Every guess is
// marked "# review", and a table without a primary key is flagged, so the
// draft fails validation until a person has looked at it.
func Draft(w io.Writer, live *Schema, o DraftOptions) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	p("# Draft data map of %s, written by `dsar datamap scan`.", o.Source)
	p("# Every guessed category, identity and correctable column is marked")
	p("# \"review\": check each, delete what is not personal data, and read")
	p("# docs/datamap.md for the keys. Tables with no personal data and no")
	p("# references can go.")
	p("version: 1")
	p("systems:")
	p("  - name: %s", yamlString(o.System))
	p("    kind: %s", o.Kind)
	p("    dsn_env: %s", yamlString(o.DSNEnv))
	p("    tables:")
	names := make([]string, 0, len(live.Tables))
	for name := range live.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if i > 0 {
			p("")
		}
		draftTable(p, live.Tables[name])
	}
	return bw.Flush()
}

func draftTable(p func(string, ...any), t *SchemaTable) {
	p("      - name: %s", yamlString(t.Name))
	if len(t.PrimaryKey) == 0 {
		p("        primary_key: []   # FIXME: no primary key in the database; name the columns that identify a row")
	} else if len(t.PrimaryKey) == 1 {
		p("        primary_key: %s", yamlString(t.PrimaryKey[0]))
	} else {
		p("        primary_key: [%s]", yamlList(t.PrimaryKey))
	}
	keys := map[string]bool{}
	for _, c := range t.PrimaryKey {
		keys[c] = true
	}
	refs := map[string]ColumnRef{}
	for _, fk := range t.ForeignKeys {
		refs[fk.Column] = fk.Ref
		keys[fk.Column] = true
	}
	var identities, columns, correctable []string
	for _, c := range t.Columns {
		if keys[c.Name] {
			continue
		}
		cat, identity, ok := guessColumn(c)
		if !ok {
			continue
		}
		columns = append(columns, fmt.Sprintf("          %s: %s   # review", yamlString(c.Name), cat))
		if identity != "" {
			identities = append(identities, fmt.Sprintf("          %s: %s   # review", identity, yamlString(c.Name)))
		}
		if strings.HasPrefix(cat, "user.name") || strings.HasPrefix(cat, "user.contact") {
			correctable = append(correctable, c.Name)
		}
	}
	if len(identities) > 0 {
		p("        identities:")
		for _, l := range identities {
			p("%s", l)
		}
	}
	if len(columns) > 0 {
		p("        columns:")
		for _, l := range columns {
			p("%s", l)
		}
	}
	if len(refs) > 0 {
		p("        references:")
		cols := make([]string, 0, len(refs))
		for c := range refs {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			p("          %s: %s", yamlString(c), yamlString(refs[c].String()))
		}
	}
	if len(correctable) > 0 {
		p("        correctable: [%s]   # review", yamlList(correctable))
	}
	p("        erase: delete   # review: or mask, to keep the rows without the person")
}

var ipType = regexp.MustCompile(`(?i)^(inet|cidr)`)

// guessColumn guesses from the name, then from the type.
func guessColumn(c SchemaColumn) (category, identity string, ok bool) {
	if cat, id, ok := GuessCategory(c.Name); ok {
		return cat, id, true
	}
	if ipType.MatchString(c.Type) {
		return "user.device.ip_address", "", true
	}
	return "", "", false
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// yamlString writes a name bare when YAML reads it back unchanged.
func yamlString(s string) string {
	if plainName.MatchString(s) && !slices.Contains([]string{"true", "false", "null", "yes", "no", "on", "off", "y", "n"}, strings.ToLower(s)) {
		return s
	}
	return strconv.Quote(s)
}

func yamlList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = yamlString(n)
	}
	return strings.Join(out, ", ")
}
