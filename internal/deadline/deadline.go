// Package deadline holds the legal clocks of the privacy regimes dsar
// knows, as data and pure functions: when an answer is due, how far an
// extension reaches, by when the requester must hear of an extension, and
// by when receipt must be confirmed.
//
// Dates are counted in calendar days (and months) in a time zone, not in
// 24-hour steps: a request received at 10:00 in Amsterdam in March is due
// at 10:00 Amsterdam time thirty days later, across the change to summer
// time. dsar never moves a deadline later for weekends or holidays; where a
// law would allow that, the earlier date is the safe one.
package deadline

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Regime names a set of rules.
type Regime string

const (
	// Default: the seed policies' "up to thirty (30) days", extension by
	// thirty more with notice.
	Default Regime = "default"
	// GDPR: one calendar month from receipt (Art. 12(3)), extension by up
	// to two further months with notice and reasons inside the first.
	GDPR Regime = "gdpr"
	// CCPA: 45 calendar days, extension by 45 more with notice inside the
	// first 45; receipt confirmed within 10 business days.
	CCPA Regime = "ccpa"
)

// Regimes lists every regime, in the order forms offer them.
var Regimes = []Regime{Default, GDPR, CCPA}

// Parse reads a regime name.
func Parse(s string) (Regime, error) {
	r := Regime(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Regimes, r) {
		return "", fmt.Errorf("unknown regime %q (say default, gdpr or ccpa)", s)
	}
	return r, nil
}

// Rules are one regime's clock.
type Rules struct {
	Regime Regime
	// Period and Extension are counted in calendar months and days.
	Period, Extension span
	// AckBusinessDays, if set, is how many business days the organisation
	// has to confirm receipt.
	AckBusinessDays int
	// PauseWhileVerifying stops the clock while the requester proves who
	// they are. No regime here does so by default.
	PauseWhileVerifying bool
}

// span is a length of time in calendar months and days.
type span struct{ Months, Days int }

var rules = map[Regime]Rules{
	Default: {Regime: Default, Period: span{Days: 30}, Extension: span{Days: 30}},
	GDPR:    {Regime: GDPR, Period: span{Months: 1}, Extension: span{Months: 2}},
	CCPA:    {Regime: CCPA, Period: span{Days: 45}, Extension: span{Days: 45}, AckBusinessDays: 10},
}

// RulesOf returns a regime's rules.
func RulesOf(r Regime) (Rules, error) {
	ru, ok := rules[r]
	if !ok {
		return Rules{}, fmt.Errorf("unknown regime %q", r)
	}
	return ru, nil
}

// Deadlines are a request's legal dates.
type Deadlines struct {
	// DueAt is when the answer is due without an extension.
	DueAt time.Time `json:"due_at"`
	// ExtendedDueAt is the latest an extension can move it to.
	ExtendedDueAt time.Time `json:"extended_due_at"`
	// AckDueAt is by when receipt must be confirmed; nil where the
	// regime sets no such time.
	AckDueAt *time.Time `json:"ack_due_at"`
	// ExtensionNoticeBy is by when the requester must be told of an
	// extension and its reasons: within the first period.
	ExtensionNoticeBy time.Time `json:"extension_notice_by"`
}

// OptOutBusinessDays is how long the CCPA regulations (§7026(f)) give a
// business to comply with a request to opt out of sale or sharing.
const OptOutBusinessDays = 15

// OptOut computes the deadlines of an opt-out received at received: 15
// business days under the CCPA; elsewhere the law asks for it without
// delay (GDPR Art. 21(3): marketing stops when the person objects), and
// within is the organisation's own limit. An opt-out is never extended
// and needs no acknowledgement.
func OptOut(r Regime, received time.Time, loc *time.Location, within time.Duration) (Deadlines, error) {
	if _, err := RulesOf(r); err != nil {
		return Deadlines{}, err
	}
	t := received.In(loc)
	due := t.Add(within)
	if r == CCPA {
		due = AddBusinessDays(t, OptOutBusinessDays)
	}
	return Deadlines{DueAt: due, ExtendedDueAt: due, ExtensionNoticeBy: due}, nil
}

// For computes the deadlines of a request received at received, counted
// in loc.
func For(r Regime, received time.Time, loc *time.Location) (Deadlines, error) {
	ru, err := RulesOf(r)
	if err != nil {
		return Deadlines{}, err
	}
	return ru.For(received, loc), nil
}

// For computes the deadlines of a request received at received, counted
// in loc.
func (ru Rules) For(received time.Time, loc *time.Location) Deadlines {
	t := received.In(loc)
	due := add(t, ru.Period)
	d := Deadlines{
		DueAt:             due,
		ExtendedDueAt:     add(t, span{Months: ru.Period.Months + ru.Extension.Months, Days: ru.Period.Days + ru.Extension.Days}),
		ExtensionNoticeBy: due,
	}
	if ru.AckBusinessDays > 0 {
		ack := AddBusinessDays(t, ru.AckBusinessDays)
		d.AckDueAt = &ack
	}
	return d
}

// add moves t forward by whole calendar months, then days, keeping the
// wall-clock time. A day that does not exist in the target month (31
// January plus one month) falls to that month's last day.
func add(t time.Time, s span) time.Time {
	return AddDays(AddMonths(t, s.Months), s.Days)
}

// AddMonths moves t forward by n calendar months, keeping the day of the
// month where the target month has it and taking its last day where not.
func AddMonths(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	last := time.Date(y, m+time.Month(n)+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return time.Date(y, m+time.Month(n), min(d, last), hh, mm, ss, t.Nanosecond(), t.Location())
}

// AddDays moves t forward by n calendar days at the same wall-clock time.
func AddDays(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return time.Date(y, m, d+n, hh, mm, ss, t.Nanosecond(), t.Location())
}

// AddBusinessDays moves t forward by n days that are not Saturday or
// Sunday. Public holidays differ by place and are not known here; they
// count as business days, which keeps the date on the safe side.
func AddBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = AddDays(t, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}
