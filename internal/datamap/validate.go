package datamap

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// build turns the file into a Map, collecting every problem it can see
// without a database.
func build(source string, f *fileMap) (*Map, error) {
	p := &problems{}
	if f.Version != 1 {
		p.add(0, "version must be 1 (found %d)", f.Version)
	}
	m := &Map{Source: source, Categories: f.Categories}
	known := map[string]bool{}
	for _, c := range builtinCategories {
		known[c] = true
	}
	for _, c := range f.Categories {
		known[c] = true
	}
	if len(f.Systems) == 0 {
		p.add(0, "no systems: the map must name at least one")
	}
	seenSystems := map[string]bool{}
	for _, fs := range f.Systems {
		s := &System{
			Name: fs.Name, Kind: Kind(fs.Kind), DSNEnv: fs.DSNEnv, SecretEnv: fs.SecretEnv,
			Instructions: fs.Instructions, Line: fs.line,
		}
		if fs.URLEnv != "" {
			s.DSNEnv = fs.URLEnv
		}
		switch {
		case !nameRE.MatchString(s.Name):
			p.add(s.Line, "system name %q must be letters, digits and underscores", s.Name)
		case seenSystems[s.Name]:
			p.add(s.Line, "system %q is named twice", s.Name)
		}
		seenSystems[s.Name] = true
		d := driverOf(s.Kind)
		tables := fs.Tables
		switch {
		case d != nil:
			s.Kind = d.Kind // mariadb is mysql
			switch d.TablesKey {
			case "collections":
				tables = fs.Collections
			case "resources":
				tables = fs.Resources
			}
			if s.DSNEnv == "" && d.Build == nil {
				p.add(s.Line, "system %s: dsn_env must name the environment variable with its connection string", s.Name)
			}
			if len(tables) == 0 {
				p.add(s.Line, "system %s: no %s", s.Name, d.TablesKey)
			}
		case s.Kind == KindWebhook:
			if s.DSNEnv == "" || s.SecretEnv == "" {
				p.add(s.Line, "system %s: a webhook needs url_env and secret_env (environment variables with its URL and signing secret)", s.Name)
			}
		case s.Kind == KindManual:
			if strings.TrimSpace(s.Instructions) == "" {
				p.add(s.Line, "system %s: a manual system needs instructions for the officer", s.Name)
			}
		default:
			p.add(s.Line, "system %s: kind %q is not one of %s, webhook, manual", s.Name, fs.Kind, strings.Join(queriedKinds(), ", "))
		}
		s.Notice = buildNotice(p, "system "+s.Name, func(key string) int {
			if l, ok := fs.lines[key]; ok {
				return l
			}
			return s.Line
		}, &fs.fileNotice)
		if d == nil {
			if len(fs.Tables)+len(fs.Collections)+len(fs.Resources) > 0 {
				p.add(s.Line, "system %s: only systems dsar queries itself (%s) list tables", s.Name, strings.Join(queriedKinds(), ", "))
			}
			m.Systems = append(m.Systems, s)
			continue
		}
		for _, ft := range tables {
			s.Tables = append(s.Tables, buildTable(p, s, d, &ft, known))
		}
		if d.Build != nil {
			d.Build(s, &fs, tables, p.add)
		}
		if d.Validate != nil {
			d.Validate(s, p.add)
		}
		m.Systems = append(m.Systems, s)
	}
	// References must point at tables of the same system.
	for _, s := range m.Systems {
		seenTables := map[string]bool{}
		for _, t := range s.Tables {
			if seenTables[t.Name] {
				p.add(t.Line, "table %s.%s is listed twice", s.Name, t.Name)
			}
			seenTables[t.Name] = true
			for col, ref := range t.References {
				if s.Table(ref.Table) == nil {
					p.add(t.line("references."+col), "%s.%s.%s refers to %s, which is not a table of system %s in the map", s.Name, t.Name, col, ref, s.Name)
				}
			}
		}
		checkKeptParents(p, s)
	}
	buildArchives(p, m, f.Archives)
	if err := p.err(source); err != nil {
		return nil, err
	}
	return m, nil
}

func buildTable(p *problems, s *System, d *Driver, ft *fileTable, known map[string]bool) *Table {
	columns := ft.Columns
	if ft.Fields != nil { // a document store's fields are its columns
		columns = ft.Fields
		for part, l := range ft.lines {
			if rest, ok := strings.CutPrefix(part, "fields."); ok {
				ft.lines["columns."+rest] = l
			}
		}
	}
	pk := []string(ft.PrimaryKey)
	if d.Key != nil {
		pk = slices.Clone(d.Key)
	}
	if ft.ID != "" { // an http resource's record id
		pk = []string{ft.ID}
	}
	col := d.Column
	t := &Table{
		Name: ft.Name, PrimaryKey: pk, Identities: ft.Identities, Columns: columns,
		References: map[string]ColumnRef{}, Correctable: ft.Correctable,
		Erase: Strategy(ft.Erase.Strategy), MaskWith: ft.Erase.Mask, Line: ft.line, lines: ft.lines,
	}
	where := s.Name + "." + t.Name
	if !nameRE.MatchString(t.Name) {
		p.add(t.Line, "table name %q must be letters, digits and underscores", t.Name)
	}
	if len(t.PrimaryKey) == 0 {
		p.add(t.Line, "table %s: primary_key is missing; dsar needs it to address rows", where)
	}
	for _, c := range t.PrimaryKey {
		if !col(c) {
			p.add(t.line("primary_key"), "table %s: primary key column %q is not a valid name", where, c)
		}
	}
	for kind, c := range t.Identities {
		if !nameRE.MatchString(kind) {
			p.add(t.line("identities."+kind), "table %s: identity type %q must be a lower-case word such as email or customer_id", where, kind)
		}
		if !col(c) {
			p.add(t.line("identities."+kind), "table %s: identity column %q is not a valid name", where, c)
		}
	}
	for c, cat := range t.Columns {
		if !col(c) {
			p.add(t.line("columns."+c), "table %s: column %q is not a valid name", where, c)
		}
		if !known[cat] {
			p.add(t.line("columns."+c), "table %s: column %s has unknown category %q (see docs/datamap.md, or declare it under categories:)", where, c, cat)
		}
	}
	for c, target := range ft.References {
		tbl, to, ok := strings.Cut(target, ".")
		if !ok || !nameRE.MatchString(tbl) || !col(to) || !col(c) {
			p.add(t.line("references."+c), "table %s: reference %s: %q must be table.column", where, c, target)
			continue
		}
		t.References[c] = ColumnRef{Table: tbl, Column: to}
	}
	for _, c := range t.Correctable {
		if _, ok := t.Columns[c]; !ok {
			p.add(t.line("correctable"), "table %s: correctable column %s has no category under columns:", where, c)
		}
	}
	switch t.Erase {
	case Delete:
	case Mask:
		if len(t.MaskWith) == 0 {
			p.add(t.line("erase"), "table %s: erase strategy mask needs mask: with a replacement (or null) per column", where)
		}
	case Unset:
		if !d.Unset {
			p.add(t.line("erase"), "table %s: erase strategy unset is for documents (mongodb); use delete or mask", where)
		}
	case "":
		p.add(t.Line, "table %s: erase is missing: delete, or mask with replacements", where)
	default:
		p.add(t.line("erase"), "table %s: erase strategy %q is not delete or mask", where, t.Erase)
	}
	if ft.OptOut != nil {
		t.OptOut = buildOptOut(p, where, t, ft.OptOut, col)
	}
	if ft.Retain != nil {
		buildRetention(p, where, t, ft.Retain, col)
	}
	t.Notice = buildNotice(p, "table "+where, t.line, &ft.fileNotice)
	if ft.Label != nil {
		t.Label = buildText(p, t.line("label"), "table "+where+": label", *ft.Label)
	}
	if len(ft.Labels) > 0 {
		t.Labels = map[string]Text{}
		mapped := t.MappedColumns()
		for _, col := range sortedKeys(ft.Labels) {
			line := t.line("labels." + col)
			if !slices.Contains(mapped, col) {
				p.add(line, "table %s: labels names column %q, which the table does not map (name it under columns, identities or references first)", where, col)
				continue
			}
			t.Labels[col] = buildText(p, line, "table "+where+": label of "+col, ft.Labels[col])
		}
	}
	for c := range t.MaskWith {
		if !col(c) {
			p.add(t.line("mask."+c), "table %s: masked column %q is not a valid name", where, c)
		}
		if slices.Contains(t.PrimaryKey, c) {
			p.add(t.line("mask."+c), "table %s: the primary key %s cannot be masked", where, c)
		}
	}
	return t
}

// checkKeptParents refuses a map where rows that stay (masked) keep a
// reference to rows that would be deleted: the foreign key would break or
// the parent would silently stay unmasked.
func checkKeptParents(p *problems, s *System) {
	for _, child := range s.Tables {
		if child.Erase != Mask && child.Retain == nil {
			continue
		}
		for col, ref := range child.References {
			parent := s.Table(ref.Table)
			if parent == nil || parent == child || parent.Erase != Delete || len(parent.MaskWith) > 0 || parent.Retain != nil {
				continue
			}
			if _, nulled := child.MaskWith[col]; nulled && child.Erase == Mask {
				continue // masking the reference detaches the row
			}
			if child.Retain != nil && slices.Contains(child.Retain.Detach, col) {
				continue // retained rows let go of the parent
			}
			if child.Erase == Mask {
				p.add(child.line("references."+col),
					"table %s.%s keeps its rows (mask) and they reference %s, which is deleted: mask %s too, or give %s a mask for rows that must stay",
					s.Name, child.Name, ref, col, parent.Name)
			} else {
				p.add(child.line("references."+col),
					"table %s.%s retains rows that reference %s, which is deleted: list %s under retain.detach, or give %s a mask for rows that must stay",
					s.Name, child.Name, ref, col, parent.Name)
			}
		}
	}
}

// nameRE is what a table, column or archive name must look like: it is
// written into SQL, quoted, and must never need escaping.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// errNoDSN: a system's connection string variable is not set.
var errNoDSN = errors.New("connection string is not set")

// buildOptOut checks a table's opt-out action: delete, or columns set to
// plain values (text, numbers, true or false, null), never the key.
func buildOptOut(p *problems, where string, t *Table, f *fileOptOut, column func(string) bool) *OptOut {
	line := t.line("opt_out")
	if f.Word != "" {
		if !f.Delete {
			p.add(line, "table %s: opt_out %q must be delete or {set: {column: value}}", where, f.Word)
		}
		return &OptOut{Delete: f.Delete}
	}
	if len(f.Set) == 0 {
		p.add(line, "table %s: opt_out needs set with at least one column, or the word delete", where)
	}
	for col, v := range f.Set {
		switch {
		case !column(col):
			p.add(line, "table %s: opt_out sets %q, which is not a valid column name", where, col)
		case slices.Contains(t.PrimaryKey, col):
			p.add(line, "table %s: opt_out must not set the primary key column %s", where, col)
		}
		switch v.(type) {
		case nil, bool, int, int64, uint64, float64, string:
		default:
			p.add(line, "table %s: opt_out sets %s to %v; give text, a number, true, false or null", where, col, v)
		}
	}
	return &OptOut{Set: f.Set}
}

// textLangs are the language codes a text may be given in: the languages
// dsar speaks to requesters.
var textLangs = []string{"en", "de", "fr", "es"}

// buildText checks words for the requester: not empty, and given in
// languages dsar speaks.
func buildText(p *problems, line int, what string, f fileText) Text {
	if len(f) == 0 {
		p.add(line, "%s is empty: write the text, or one per language (en, de, fr, es)", what)
		return nil
	}
	for _, lang := range sortedKeys(f) {
		switch {
		case lang != "" && !slices.Contains(textLangs, lang):
			p.add(line, "%s: %q is not a language dsar speaks (%s)", what, lang, strings.Join(textLangs, ", "))
		case strings.TrimSpace(f[lang]) == "":
			if lang == "" {
				p.add(line, "%s is empty", what)
			} else {
				p.add(line, "%s: the %s text is empty", what, lang)
			}
		}
	}
	return Text(f)
}

// buildNotice checks what the access report tells the person about a
// system or table. line finds where a key was written.
func buildNotice(p *problems, where string, line func(string) int, f *fileNotice) Notice {
	var n Notice
	for i, t := range f.Purposes {
		n.Purposes = append(n.Purposes, buildText(p, line("purposes"), fmt.Sprintf("%s: purpose %d", where, i+1), t))
	}
	for _, b := range f.LegalBasis {
		basis := LegalBasis(b)
		if slices.Contains(LegalBases, basis) {
			n.LegalBasis = append(n.LegalBasis, basis)
			continue
		}
		names := make([]string, len(LegalBases))
		for i, lb := range LegalBases {
			names[i] = string(lb)
		}
		msg := fmt.Sprintf("%s: legal_basis %q is not one of %s (GDPR Art. 6(1))", where, b, strings.Join(names, ", "))
		if s := suggest(b, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		p.add(line("legal_basis"), "%s", msg)
	}
	for i, t := range f.Recipients {
		n.Recipients = append(n.Recipients, buildText(p, line("recipients"), fmt.Sprintf("%s: recipient %d", where, i+1), t))
	}
	if f.Source != nil {
		src := buildText(p, line("source"), where+": source", *f.Source)
		n.Source = &src
	}
	if a := f.Automated; a != nil {
		l := line("automated_decisions")
		switch {
		case a.Word == "false" || a.Word == "no" || a.Word == "none":
			n.Automated = &Automated{None: true}
		case a.Word != "":
			p.add(l, "%s: automated_decisions %q must be false, or {logic: ..., consequences: ...} describing the decisions", where, a.Word)
		default:
			what := where + ": automated_decisions"
			if len(a.Logic) == 0 || len(a.Consequences) == 0 {
				p.add(l, "%s needs both logic (how the decision is made) and consequences (what it means for the person)", what)
			}
			n.Automated = &Automated{}
			if len(a.Logic) > 0 {
				n.Automated.Logic = buildText(p, l, what+" logic", a.Logic)
			}
			if len(a.Consequences) > 0 {
				n.Automated.Consequences = buildText(p, l, what+" consequences", a.Consequences)
			}
		}
	}
	return n
}
