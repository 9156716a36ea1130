package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// NotificationWindow is the time from becoming aware of a breach to
// notifying the supervisory authority (GDPR Art. 33(1)), and the
// deadline dsar keeps for telling the people affected.
const NotificationWindow = 72 * time.Hour

// BreachReminders are the hours after awareness at which officers are
// reminded of an unnotified breach; from UrgentAfter on a reminder is an
// escalation.
var BreachReminders = []time.Duration{24 * time.Hour, 48 * time.Hour, 60 * time.Hour, 70 * time.Hour}

// UrgentAfter is when reminders become escalations: twelve hours left.
const UrgentAfter = 60 * time.Hour

// Risk is the likely risk of a breach to people's rights and freedoms.
type Risk string

const (
	// RiskLow: recorded, the authority notified, people not told unless
	// an officer decides otherwise (Art. 34(1) asks for high risk).
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// Valid reports whether r is a known risk level.
func (r Risk) Valid() bool { return r == RiskLow || r == RiskMedium || r == RiskHigh }

// NotifiesSubjects reports whether a breach of this risk tells the people
// affected by default.
func (r Risk) NotifiesSubjects() bool { return r != RiskLow }

// NewBreach is an incident as an officer records it.
type NewBreach struct {
	Title        string    `json:"title"`
	Description  string    `json:"description"`
	AwareAt      time.Time `json:"aware_at"`
	Systems      []string  `json:"systems"`
	Categories   []string  `json:"categories"`
	Risk         Risk      `json:"risk"`
	Consequences string    `json:"consequences"`
	Measures     string    `json:"measures"`
}

// Limits on a breach's text.
const (
	MaxTitleLen  = 200
	MaxBreachLen = 10000
)

// Normalize trims and validates the breach. known reports whether a
// system name and a category are in the data map; now bounds aware_at
// (awareness cannot lie in the future).
func (b *NewBreach) Normalize(now time.Time, knownSystem, knownCategory func(string) bool) error {
	b.Title = strings.TrimSpace(b.Title)
	b.Description = strings.TrimSpace(b.Description)
	b.Consequences = strings.TrimSpace(b.Consequences)
	b.Measures = strings.TrimSpace(b.Measures)
	b.Risk = Risk(strings.ToLower(strings.TrimSpace(string(b.Risk))))
	errs := map[string]string{}
	switch {
	case b.Title == "":
		errs["title"] = "give the incident a short title"
	case CheckLine(b.Title) != nil:
		errs["title"] = CheckLine(b.Title).Error()
	case utf8.RuneCountInString(b.Title) > MaxTitleLen:
		errs["title"] = fmt.Sprintf("use at most %d characters", MaxTitleLen)
	}
	switch {
	case b.Description == "":
		errs["description"] = "describe what happened"
	case utf8.RuneCountInString(b.Description) > MaxBreachLen:
		errs["description"] = fmt.Sprintf("use at most %d characters", MaxBreachLen)
	}
	for name, v := range map[string]string{"consequences": b.Consequences, "measures": b.Measures} {
		if utf8.RuneCountInString(v) > MaxBreachLen {
			errs[name] = fmt.Sprintf("use at most %d characters", MaxBreachLen)
		}
	}
	switch {
	case b.AwareAt.IsZero():
		errs["aware_at"] = "say when the organisation became aware of the breach (RFC 3339 time)"
	case b.AwareAt.After(now.Add(5 * time.Minute)):
		errs["aware_at"] = "awareness cannot lie in the future"
	}
	if !b.Risk.Valid() {
		errs["risk"] = "choose low, medium or high"
	}
	b.Systems = trimAll(b.Systems)
	if len(b.Systems) == 0 {
		errs["systems"] = "name at least one affected system of the data map"
	}
	for _, s := range b.Systems {
		if !knownSystem(s) {
			errs["systems"] = fmt.Sprintf("%q is not a system of the data map", s)
		}
	}
	b.Categories = trimAll(b.Categories)
	for _, c := range b.Categories {
		if !knownCategory(c) {
			errs["categories"] = fmt.Sprintf("%q is not a known data category", c)
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	b.AwareAt = b.AwareAt.UTC()
	return nil
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
