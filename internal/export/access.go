package export

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/i18n"
)

// Authority is the supervisory authority a person may complain to (GDPR
// Art. 15(1)(f), 77).
type Authority struct {
	Name string
	URL  string
}

// ReportFile is the access report's name inside the package.
const ReportFile = "report.html"

//go:embed report.css
var reportStyle string

// ReportCSP is the Content-Security-Policy the access report is served
// with when viewed in a browser: its one inline style sheet, nothing
// else, no script.
var ReportCSP = func() string {
	sum := sha256.Sum256([]byte(reportStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
}()

//go:embed report.html
var reportTemplates string

// catalogue is the requesters' words, loaded once.
var catalogue = sync.OnceValue(func() *i18n.Catalogue {
	c, err := i18n.Load()
	if err != nil {
		panic(err) // the catalogues are embedded and tested
	}
	return c
})

// sections are the parts of the report a table's rows go in, in the
// order the report shows them. Each names the categories it holds.
var sections = []struct {
	id       string
	prefixes []string
}{
	{"contact", []string{"user.name", "user.contact"}},
	{"account", []string{"user.account", "user.authorization", "user.unique_id"}},
	{"orders", []string{"user.behavior.purchase_history", "user.payment", "user.financial"}},
	{"products", []string{"user.product"}},
	{"messages", []string{"user.content"}},
	{"activity", []string{"user.behavior", "user.social"}},
	{"devices", []string{"user.device", "user.location"}},
	{"preferences", []string{"user.privacy_preferences"}},
	{"about", []string{"user.demographic", "user.workplace"}},
	{"sensitive", []string{"user.biometric", "user.health_and_medical", "user.criminal_history", "user.childrens", "user.government_id"}},
	{"service", []string{"system.operations"}},
	{"other", nil},
}

// sectionPriority breaks a tie between sections: what a table is about
// (orders, messages) beats the contact details most tables also carry.
var sectionPriority = []string{"orders", "messages", "products", "devices", "preferences", "sensitive", "about", "activity", "account", "contact", "service", "other"}

// sectionOf is the section of one category: the most specific prefix wins.
func sectionOf(category string) string {
	best, bestLen := "other", 0
	for _, s := range sections {
		for _, p := range s.prefixes {
			if (category == p || strings.HasPrefix(category, p+".")) && len(p) > bestLen {
				best, bestLen = s.id, len(p)
			}
		}
	}
	return best
}

// tableSection places a table by most of its columns' categories; a
// name, on nearly every record, counts only when nothing else does.
func tableSection(t *datamap.Table) string {
	count := map[string]int{}
	for _, cat := range t.Columns {
		if cat == "user.name" || strings.HasPrefix(cat, "user.name.") {
			continue
		}
		count[sectionOf(cat)]++
	}
	if len(count) == 0 {
		if len(t.Columns) > 0 {
			return "contact"
		}
		return "other"
	}
	best := ""
	for _, id := range sectionPriority {
		if count[id] > count[best] {
			best = id
		}
	}
	return best
}

// accessRow is one distinct record: found live, in backups, or both.
type accessRow struct {
	cols      []string
	cells     []any
	live      bool
	snapshots []string // backup dates, as found
}

// accessTable is one table's distinct records across the live system and
// its backups.
type accessTable struct {
	system  *datamap.System
	table   *datamap.Table
	rows    []*accessRow
	index   map[string]*accessRow
	backups []*datamap.Archive
}

// rowKey identifies a record by its columns and values, so the same row
// read from the live system and from each backup is shown once.
func rowKey(cols []string, row []any) string {
	var b strings.Builder
	for i, c := range cols {
		fmt.Fprintf(&b, "%q=%T:%q;", c, row[i], text(row[i]))
	}
	return b.String()
}

// gatherAccess reads every personal row once, folding identical rows
// from the backups into one record that lists where it was found. The
// rows of one person are held in memory to do so.
func gatherAccess(ctx context.Context, sources []Source, meta Meta) ([]*accessTable, error) {
	var out []*accessTable
	byName := map[string]*accessTable{}
	for _, t := range tablesOf(sources, meta) {
		name := t.conn.System().Name + "." + t.found.Table.Name
		at, ok := byName[name]
		if !ok {
			at = &accessTable{system: t.conn.System(), table: t.found.Table, index: map[string]*accessRow{}}
			byName[name] = at
			out = append(out, at)
		}
		if t.archive != nil && !slices.Contains(at.backups, t.archive) {
			at.backups = append(at.backups, t.archive)
		}
		err := t.each(ctx, func(cols []string, row []any) error {
			key := rowKey(cols, row)
			r, ok := at.index[key]
			if !ok {
				r = &accessRow{cols: slices.Clone(cols), cells: slices.Clone(row)}
				at.index[key] = r
				at.rows = append(at.rows, r)
			}
			if t.snapshot == "" {
				r.live = true
			} else if !slices.Contains(r.snapshots, t.snapshot) {
				r.snapshots = append(r.snapshots, t.snapshot)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// The report's view, as report.html reads it.
type (
	reportView struct {
		Lang, Title, Intro, Machine string
		Style                       template.CSS
		Contents                    string
		Sections                    []reportSection
		None                        string
		Notice                      []reportNotice
		Others                      []reportOther
		OthersTitle                 string
		// What an officer withheld, each with the reason.
		Withheld                     []reportItem
		WithheldTitle, WithheldIntro string
	}
	reportSection struct {
		ID, Title string
		Tables    []reportTable
	}
	reportTable struct {
		ID, Title, KeptIn string
		Records           []reportRecord
	}
	reportRecord struct {
		Label  string // "Record 2 of 3"
		Fields []reportField
	}
	reportField struct{ Label, Value string }
	// reportNotice is one of the parts Art. 15 requires: a heading, and
	// paragraphs or items.
	reportNotice struct {
		ID, Title  string
		Paragraphs []string
		Items      []reportItem
		Links      []reportLink
	}
	reportItem  struct{ Text, Detail string }
	reportLink  struct{ Text, URL string }
	reportOther struct {
		System, Note, Records, Manual string
	}
)

// words is the report's language.
type words struct{ p *i18n.Printer }

func (w words) t(id string, data any) string { return w.p.MustT(id, data) }

// column names a column for the reader: the data map's label, else its
// category in plain words (when no other column of the table shares it),
// else its name made readable.
func (w words) column(t *datamap.Table, col string) string {
	if l, ok := t.Labels[col]; ok {
		return l.In(string(w.p.Lang))
	}
	human := humanize(col)
	cat, ok := t.Columns[col]
	if !ok {
		return human
	}
	name, err := w.p.T("report.category."+cat, nil)
	if err != nil {
		return human
	}
	for c, other := range t.Columns {
		if c != col && other == cat {
			return name + ": " + strings.ToLower(human)
		}
	}
	return name
}

// tableTitle names a table for the reader: the map's label, else its
// name made readable.
func (w words) tableTitle(t *datamap.Table) string { return t.Title(string(w.p.Lang)) }

// humanize turns support_tickets into "Support tickets".
func humanize(name string) string { return datamap.Humanize(name) }

// value writes one cell for the reader.
func (w words) value(v any) string {
	switch x := v.(type) {
	case nil:
		return "–"
	case bool:
		if x {
			return w.t("report.yes", nil)
		}
		return w.t("report.no", nil)
	case time.Time:
		return w.p.DateTime(x)
	case string:
		if x == Withheld {
			return w.t("report.withheld", nil)
		}
	case []byte:
		return string(x)
	}
	return text(v)
}

// dates writes backup dates ("2026-11-20") as the language writes dates.
func (w words) dates(ds []string) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		if t, err := time.Parse("2006-01-02", d); err == nil {
			out[i] = w.p.Date(t)
		} else {
			out[i] = d
		}
	}
	return strings.Join(out, ", ")
}

// period writes a retention period: "7 years", "1 year 6 months".
func (w words) period(p datamap.Period) string {
	var parts []string
	for _, u := range []struct {
		n  int
		id string
	}{{p.Years, "report.period.years"}, {p.Months, "report.period.months"}, {p.Days, "report.period.days"}} {
		if u.n > 0 {
			parts = append(parts, w.p.MustN(u.id, u.n, nil))
		}
	}
	return strings.Join(parts, " ")
}

// found says where a record was found.
func (w words) found(r *accessRow) string {
	switch {
	case len(r.snapshots) == 0:
		return w.t("report.found.live", nil)
	case r.live:
		return w.t("report.found.both", map[string]string{"Dates": w.dates(r.snapshots)})
	}
	return w.t("report.found.backups", map[string]string{"Dates": w.dates(r.snapshots)})
}

// writeReport writes the readable access report: the person's records
// in sections named for what they are, then what GDPR Art. 15(1) and (2)
// require them to be told, in their language.
func writeReport(ctx context.Context, out io.Writer, sources []Source, meta Meta) error {
	tables, err := gatherAccess(ctx, sources, meta)
	if err != nil {
		return err
	}
	p := catalogue().Printer(meta.Lang)
	w := words{p}
	org := map[string]string{"Organisation": meta.Organisation}
	v := reportView{
		Lang:  string(p.Lang),
		Style: template.CSS(reportStyle),
		Title: w.t("report.title", org),
		Intro: w.t("report.intro", map[string]string{
			"Request": meta.RequestID, "Date": p.DateTime(meta.GeneratedAt),
		}),
		Machine:     w.t("report.machine", nil),
		Contents:    w.t("report.contents", nil),
		OthersTitle: w.t("report.others.title", nil),
	}
	bySection := map[string][]*accessTable{}
	for _, t := range tables {
		s := tableSection(t.table)
		bySection[s] = append(bySection[s], t)
	}
	for _, s := range sections {
		ts := bySection[s.id]
		if len(ts) == 0 {
			continue
		}
		sec := reportSection{ID: "data-" + s.id, Title: w.t("report.section."+s.id, nil)}
		for _, t := range ts {
			rt := reportTable{
				ID: "t-" + t.system.Name + "-" + t.table.Name, Title: w.tableTitle(t.table),
				KeptIn: w.t("report.kept_in", map[string]string{"System": t.system.Name}),
			}
			for i, r := range t.rows {
				rec := reportRecord{Label: w.p.MustT("report.record", map[string]int{"N": i + 1, "Of": len(t.rows)})}
				for j, c := range r.cols {
					rec.Fields = append(rec.Fields, reportField{Label: w.column(t.table, c), Value: w.value(r.cells[j])})
				}
				rec.Fields = append(rec.Fields, reportField{Label: w.t("report.found", nil), Value: w.found(r)})
				rt.Records = append(rt.Records, rec)
			}
			sec.Tables = append(sec.Tables, rt)
		}
		v.Sections = append(v.Sections, sec)
	}
	if len(tables) == 0 && len(meta.Others) == 0 {
		v.None = w.t("report.none", nil)
	}
	v.Notice = w.notice(tables, meta)
	for _, o := range meta.Others {
		ro := reportOther{System: o.System, Note: o.Note}
		if len(o.Records) > 0 {
			ro.Records = indentJSON(o.Records)
		} else if o.Kind == "manual" {
			ro.Manual = w.t("report.others.manual", nil)
		}
		v.Others = append(v.Others, ro)
	}
	if len(meta.Withheld) > 0 {
		v.WithheldTitle = w.t("report.withheld.title", nil)
		v.WithheldIntro = w.t("report.withheld.intro", nil)
		for _, h := range meta.Withheld {
			v.Withheld = append(v.Withheld, reportItem{
				Text:   h.System + " · " + h.Table + ": " + withheldText(h),
				Detail: w.t("report.withheld.reason", map[string]string{"Reason": h.Reason}),
			})
		}
	}
	return report.Execute(out, v)
}

// grouped collects texts and the tables each applies to, in order.
type grouped struct {
	order []string
	by    map[string][]string
}

func (g *grouped) add(text, table string) {
	if g.by == nil {
		g.by = map[string][]string{}
	}
	if _, ok := g.by[text]; !ok {
		g.order = append(g.order, text)
	}
	if !slices.Contains(g.by[text], table) {
		g.by[text] = append(g.by[text], table)
	}
}

// items lists each text, naming the tables it applies to unless it
// applies to every one of them.
func (g *grouped) items(w words, all int) []reportItem {
	var out []reportItem
	for _, text := range g.order {
		it := reportItem{Text: text}
		if ts := g.by[text]; len(ts) < all {
			it.Detail = w.t("report.applies", map[string]string{"Data": strings.Join(ts, ", ")})
		}
		out = append(out, it)
	}
	return out
}

// notice writes what Art. 15(1)(a)-(h) and (2) require, from the data
// map's notice keys, retention rules and backups, for the data found.
func (w words) notice(tables []*accessTable, meta Meta) []reportNotice {
	lang := string(w.p.Lang)
	type part struct {
		title  string
		notice datamap.Notice
		t      *accessTable
	}
	var parts []part
	for _, t := range tables {
		parts = append(parts, part{w.tableTitle(t.table), t.system.NoticeOf(t.table), t})
	}
	if meta.Map != nil {
		for _, o := range meta.Others {
			if s := meta.Map.System(o.System); s != nil {
				parts = append(parts, part{o.System, s.NoticeOf(nil), nil})
			}
		}
	}
	all := len(parts)
	var purposes, bases, recipients, sources, kept grouped
	var automated []reportItem
	var backups []*datamap.Archive
	for _, p := range parts {
		for _, t := range p.notice.Purposes {
			purposes.add(t.In(lang), p.title)
		}
		for _, b := range p.notice.LegalBasis {
			bases.add(w.t("report.basis."+string(b), nil), p.title)
		}
		for _, t := range p.notice.Recipients {
			recipients.add(t.In(lang), p.title)
		}
		if p.notice.Source != nil {
			sources.add(p.notice.Source.In(lang), p.title)
		} else {
			sources.add(w.t("report.source.subject", nil), p.title)
		}
		if a := p.notice.Automated; a != nil {
			automated = append(automated, reportItem{
				Text:   p.title + ": " + a.Logic.In(lang),
				Detail: w.t("report.automated.consequences", map[string]string{"Consequences": a.Consequences.In(lang)}),
			})
		}
		if p.t == nil {
			continue
		}
		for _, ar := range p.t.backups {
			if !slices.Contains(backups, ar) {
				backups = append(backups, ar)
			}
		}
		if r := p.t.table.Retain; r != nil {
			kept.add(w.t("report.kept.retain", map[string]string{
				"Period": w.period(r.Period), "From": strings.ToLower(w.column(p.t.table, r.From)), "Basis": r.Basis,
			}), p.title)
		} else {
			kept.add(w.t("report.kept.needed", nil), p.title)
		}
	}
	org := map[string]string{"Organisation": meta.Organisation}
	var out []reportNotice

	n := reportNotice{ID: "purposes", Title: w.t("report.purposes.title", nil), Items: purposes.items(w, all)}
	if len(n.Items) == 0 {
		n.Paragraphs = []string{w.t("report.purposes.none", org)}
	}
	out = append(out, n)

	n = reportNotice{ID: "basis", Title: w.t("report.basis.title", nil), Items: bases.items(w, all)}
	if len(n.Items) == 0 {
		n.Paragraphs = []string{w.t("report.basis.none", org)}
	}
	out = append(out, n)

	n = reportNotice{ID: "recipients", Title: w.t("report.recipients.title", nil), Items: recipients.items(w, all)}
	if len(n.Items) == 0 {
		n.Paragraphs = []string{w.t("report.recipients.none", org)}
	}
	out = append(out, n)

	n = reportNotice{ID: "retention", Title: w.t("report.kept.title", nil), Items: kept.items(w, all)}
	for _, ar := range backups {
		n.Paragraphs = append(n.Paragraphs, w.t("report.kept.backups", map[string]string{"Period": w.period(ar.Retention)}))
	}
	out = append(out, n)

	out = append(out, reportNotice{ID: "source", Title: w.t("report.source.title", nil), Items: sources.items(w, all)})

	n = reportNotice{ID: "automated", Title: w.t("report.automated.title", nil), Items: automated}
	if len(automated) == 0 {
		n.Paragraphs = []string{w.t("report.automated.none", nil)}
	}
	out = append(out, n)

	n = reportNotice{ID: "rights", Title: w.t("report.rights.title", nil), Items: []reportItem{
		{Text: w.t("report.rights.rectification", nil)},
		{Text: w.t("report.rights.erasure", nil)},
		{Text: w.t("report.rights.restriction", nil)},
		{Text: w.t("report.rights.objection", nil)},
	}}
	if meta.PrivacyEmail != "" {
		n.Paragraphs = append(n.Paragraphs, w.t("report.rights.ask", map[string]string{"Email": meta.PrivacyEmail}))
	}
	if a := meta.Authority; a.Name != "" {
		n.Paragraphs = append(n.Paragraphs, w.t("report.rights.complain", map[string]string{"Authority": a.Name}))
		if a.URL != "" {
			n.Links = []reportLink{{Text: a.Name, URL: a.URL}}
		}
	} else {
		n.Paragraphs = append(n.Paragraphs, w.t("report.rights.complain.any", nil))
	}
	out = append(out, n)
	return out
}
