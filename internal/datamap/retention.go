package datamap

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Period is a legal retention period in calendar units: seven years runs
// to the same day seven years on, whatever the leap years.
type Period struct {
	Years, Months, Days int
}

var periodPart = regexp.MustCompile(`^(\d+)([ymwd])`)

// ParsePeriod reads "7y", "6m", "90d", "2w" or a sum such as "1y6m".
func ParsePeriod(s string) (Period, error) {
	var p Period
	rest := strings.TrimSpace(s)
	if rest == "" {
		return p, fmt.Errorf("period is empty (write 90d, 6m or 7y)")
	}
	for rest != "" {
		m := periodPart.FindStringSubmatch(rest)
		if m == nil {
			return Period{}, fmt.Errorf("period %q: write a number and a unit, d (days), w (weeks), m (months) or y (years), such as 90d or 7y", s)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 1000 {
			return Period{}, fmt.Errorf("period %q is too long", s)
		}
		switch m[2] {
		case "y":
			p.Years += n
		case "m":
			p.Months += n
		case "w":
			p.Days += 7 * n
		case "d":
			p.Days += n
		}
		rest = rest[len(m[0]):]
	}
	if p == (Period{}) {
		return Period{}, fmt.Errorf("period %q is zero", s)
	}
	return p, nil
}

// After returns the end of the period that starts at t.
func (p Period) After(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }

func (p Period) String() string {
	var b strings.Builder
	for _, u := range []struct {
		n    int
		unit string
	}{{p.Years, "y"}, {p.Months, "m"}, {p.Days, "d"}} {
		if u.n > 0 {
			fmt.Fprintf(&b, "%d%s", u.n, u.unit)
		}
	}
	return b.String()
}

// Retention is a table's legal duty to keep rows: rows whose period has
// not run out are restricted instead of erased, and erased when it ends.
type Retention struct {
	// Basis is the law or contract that requires keeping the rows, as
	// the requester and the officer read it.
	Basis string
	// Period runs from the From column's value (or from the deletion,
	// for a row where it is empty).
	Period Period
	From   string
	// Detach lists the row's references to tables that are erased; they
	// are set to NULL so the kept row no longer leads to the person.
	Detach []string
	// Flag, when set, is a boolean column dsar sets on restricted rows,
	// so the source system can stop processing them.
	Flag string
}

// Until returns when a row whose period starts at from may be erased.
// A row without a start date keeps the full period from now.
func (r *Retention) Until(from any, now time.Time) time.Time {
	if t, ok := asTime(from); ok {
		return r.Period.After(t)
	}
	return r.Period.After(now)
}

// asTime reads a date column's value as the drivers return it.
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

type fileRetain struct {
	Basis  string   `yaml:"basis"`
	Period string   `yaml:"period"`
	From   string   `yaml:"from"`
	Detach []string `yaml:"detach"`
	Flag   string   `yaml:"flag"`
}

func buildRetention(p *problems, where string, t *Table, f *fileRetain, column func(string) bool) {
	line := t.line("retain")
	r := &Retention{Basis: strings.TrimSpace(f.Basis), From: f.From, Detach: f.Detach, Flag: f.Flag}
	if r.Basis == "" {
		p.add(line, "table %s: retain needs a basis: the law or contract that requires keeping the rows (the requester reads it)", where)
	}
	period, err := ParsePeriod(f.Period)
	if err != nil {
		p.add(line, "table %s: retain: %v", where, err)
	}
	r.Period = period
	if !column(r.From) {
		p.add(line, "table %s: retain needs from: the date column the period runs from", where)
	}
	for _, c := range r.Detach {
		if _, ok := t.References[c]; !ok {
			p.add(line, "table %s: retain: detach %s is not one of the table's references", where, c)
		}
	}
	if r.Flag != "" && !column(r.Flag) {
		p.add(line, "table %s: retain: flag column %q is not a valid name", where, r.Flag)
	}
	t.Retain = r
}

// Archive is a directory of backup snapshots of one SQL system: one
// folder per snapshot, one JSON-lines file per table.
type Archive struct {
	Name   string
	System string
	// DirEnv names the environment variable holding the directory.
	DirEnv string
	// Retention is how long a snapshot is kept; the deletion email says
	// by when no backup holds the person's data any more.
	Retention Period
	// Rewritable archives have the person's rows removed from every
	// snapshot on deletion; others age out and are guarded by tombstones.
	Rewritable bool
	Line       int
}

type fileArchive struct {
	Name       string `yaml:"name"`
	System     string `yaml:"system"`
	DirEnv     string `yaml:"dir_env"`
	Retention  string `yaml:"retention"`
	Rewritable bool   `yaml:"rewritable"`
	line       int
}

func (a *fileArchive) UnmarshalYAML(n *yaml.Node) error {
	type plain fileArchive
	if err := n.Decode((*plain)(a)); err != nil {
		return err
	}
	a.line = n.Line
	return nil
}

func buildArchives(p *problems, m *Map, files []fileArchive) {
	seen := map[string]bool{}
	for _, fa := range files {
		a := &Archive{Name: fa.Name, System: fa.System, DirEnv: fa.DirEnv, Rewritable: fa.Rewritable, Line: fa.line}
		switch {
		case !nameRE.MatchString(a.Name):
			p.add(a.Line, "archive name %q must be letters, digits and underscores", a.Name)
		case seen[a.Name]:
			p.add(a.Line, "archive %q is named twice", a.Name)
		}
		seen[a.Name] = true
		if s := m.System(a.System); s == nil || !s.Kind.SQL() {
			p.add(a.Line, "archive %s: system %q is not an SQL system (postgres, mysql, sqlite) of the map", a.Name, a.System)
		}
		if a.DirEnv == "" {
			p.add(a.Line, "archive %s: dir_env must name the environment variable with the snapshots' directory", a.Name)
		}
		period, err := ParsePeriod(fa.Retention)
		if err != nil {
			p.add(a.Line, "archive %s: retention: %v", a.Name, err)
		}
		a.Retention = period
		m.Archives = append(m.Archives, a)
	}
}

// Dir returns the archive's directory from its environment variable.
func (a *Archive) Dir() (string, error) {
	v := strings.TrimSpace(os.Getenv(a.DirEnv))
	if v == "" {
		return "", fmt.Errorf("archive %s: %s is not set", a.Name, a.DirEnv)
	}
	return v, nil
}
