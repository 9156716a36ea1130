// Package i18n holds the words a requester reads, in every language dsar
// speaks to them: message catalogues (one JSON file per language, loaded
// with go-i18n), choosing a language from a form or Accept-Language, and
// dates written the way each language writes them. The privacy team's
// dashboard and alerts stay English and do not use it.
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Lang is a language dsar speaks to requesters, as its ISO 639-1 code;
// it is what a request stores.
type Lang string

// The languages with a complete catalogue.
const (
	English Lang = "en"
	German  Lang = "de"
	French  Lang = "fr"
	Spanish Lang = "es"
)

// Langs lists every language, English (the fallback) first.
var Langs = []Lang{English, German, French, Spanish}

// Parse reads a language code; ok is false for one dsar does not speak.
func Parse(s string) (Lang, bool) {
	l := Lang(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Langs {
		if l == k {
			return l, true
		}
	}
	return "", false
}

// OrEnglish is l, or English when l is empty or unknown (a request stored
// before languages existed).
func (l Lang) OrEnglish() Lang {
	if k, ok := Parse(string(l)); ok {
		return k
	}
	return English
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.German, language.French, language.Spanish})

// Negotiate picks the language of a page: the requester's explicit
// choice when it is one dsar speaks, else the best match for the
// browser's Accept-Language header, else English.
func Negotiate(choice, acceptLanguage string) Lang {
	if l, ok := Parse(choice); ok {
		return l
	}
	if strings.TrimSpace(acceptLanguage) == "" {
		return English
	}
	// With no good match the matcher answers its first language, English.
	_, i := language.MatchStrings(matcher, acceptLanguage)
	return Langs[i]
}

//go:embed catalogues/*.json
var catalogueFiles embed.FS

// Catalogue is every language's messages, parsed once.
type Catalogue struct {
	printers map[Lang]*Printer
}

// Load parses the embedded catalogues. A catalogue that does not parse,
// or a language without one, fails here, at start.
func Load() (*Catalogue, error) {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &Catalogue{printers: map[Lang]*Printer{}}
	for _, l := range Langs {
		path := "catalogues/" + string(l) + ".json"
		raw, err := catalogueFiles.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		if _, err := b.ParseMessageFileBytes(raw, path); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", path, err)
		}
	}
	for _, l := range Langs {
		c.printers[l] = &Printer{Lang: l, loc: goi18n.NewLocalizer(b, string(l))}
	}
	return c, nil
}

// Printer writes messages and dates in one language.
func (c *Catalogue) Printer(l Lang) *Printer { return c.printers[l.OrEnglish()] }

// Printer writes messages and dates in one language.
type Printer struct {
	Lang Lang
	loc  *goi18n.Localizer
}

// T is the message id filled with data (a map or struct whose fields the
// message names, or nil). An unknown id is an error: templates that use
// it fail to render rather than show a key.
func (p *Printer) T(id string, data any) (string, error) {
	return p.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
}

// N is the message id in the plural form for n; the message reads n as
// {{.Count}} and the other values from data.
func (p *Printer) N(id string, n int, data map[string]any) (string, error) {
	d := map[string]any{"Count": n}
	for k, v := range data {
		d[k] = v
	}
	return p.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: d, PluralCount: n})
}

// MustT is T for messages code (not a template) asks for: the
// catalogue test proves every one exists in every language.
func (p *Printer) MustT(id string, data any) string {
	s, err := p.T(id, data)
	if err != nil {
		panic(err)
	}
	return s
}

// MustN is N for messages code asks for.
func (p *Printer) MustN(id string, n int, data map[string]any) string {
	s, err := p.N(id, n, data)
	if err != nil {
		panic(err)
	}
	return s
}

// Date writes a day as the language does: 2 December 2026,
// 2. Dezember 2026, 2 décembre 2026, 2 de diciembre de 2026. Dates are
// in UTC, as everywhere in dsar's messages.
func (p *Printer) Date(t time.Time) string {
	t = t.UTC()
	return p.MustT("date.format", map[string]string{
		"Day":   strconv.Itoa(t.Day()),
		"Month": p.MustT("date.month."+strconv.Itoa(int(t.Month())), nil),
		"Year":  strconv.Itoa(t.Year()),
	})
}

// DateTime writes a day and a time of day in UTC.
func (p *Printer) DateTime(t time.Time) string {
	t = t.UTC()
	return p.MustT("date.datetime", map[string]string{"Date": p.Date(t), "Time": t.Format("15:04")})
}

// Decimal writes a number with one decimal as the language does (1.4 or 1,4).
func (p *Printer) Decimal(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.Replace(s, ".", p.MustT("number.decimal_separator", nil), 1)
}

// Funcs are the template functions for the language: t (message, with
// one data value or name/value pairs), tn (plural message with a count
// and name/value pairs), date and datetime.
func (p *Printer) Funcs() map[string]any {
	return map[string]any{
		"t": func(id string, args ...any) (string, error) {
			data, err := templateData(args)
			if err != nil {
				return "", fmt.Errorf("t %q: %w", id, err)
			}
			return p.T(id, data)
		},
		"tn": func(id string, n int, args ...any) (string, error) {
			data, err := templateData(args)
			if err != nil {
				return "", fmt.Errorf("tn %q: %w", id, err)
			}
			m, _ := data.(map[string]any)
			return p.N(id, n, m)
		},
		"date":     p.Date,
		"datetime": p.DateTime,
		"lang":     func() string { return string(p.Lang) },
	}
}

// templateData is a template's arguments as a message's data: nothing,
// one value, or name/value pairs.
func templateData(args []any) (any, error) {
	switch {
	case len(args) == 0:
		return nil, nil
	case len(args) == 1:
		return args[0], nil
	case len(args)%2 != 0:
		return nil, fmt.Errorf("want name/value pairs, got %d arguments", len(args))
	}
	m := map[string]any{}
	for i := 0; i < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			return nil, fmt.Errorf("argument %d is not a name", i)
		}
		m[k] = args[i+1]
	}
	return m, nil
}

// Names are each language's name in itself, for the form's choice.
func (c *Catalogue) Names() []Choice {
	var out []Choice
	for _, l := range Langs {
		out = append(out, Choice{Lang: l, Name: c.Printer(l).MustT("language.name", nil)})
	}
	return out
}

// Choice is one language on offer.
type Choice struct {
	Lang Lang
	Name string
}

// Has reports whether the catalogue holds the message id, so a template
// an organisation wrote can be refused at start for a key that does not
// exist rather than fail at its first send.
func (c *Catalogue) Has(id string) bool {
	_, err := c.printers[English].loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: map[string]any{}})
	var missing *goi18n.MessageNotFoundErr
	return !errors.As(err, &missing)
}
