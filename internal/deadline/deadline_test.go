package deadline

import (
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDeadlines(t *testing.T) {
	ams := mustLoad(t, "Europe/Amsterdam")
	ny := mustLoad(t, "America/New_York")
	cases := []struct {
		name               string
		regime             Regime
		received           string
		loc                *time.Location
		due, extended, ack string // ack "" means none
	}{
		{"default: thirty days", Default, "2026-05-04T09:00:00Z", time.UTC,
			"2026-06-03T09:00:00Z", "2026-07-03T09:00:00Z", ""},
		{"default: across a year end", Default, "2026-12-15T23:30:00Z", time.UTC,
			"2027-01-14T23:30:00Z", "2027-02-13T23:30:00Z", ""},
		{"default: across the change to summer time keeps the hour", Default, "2026-03-10T10:00:00+01:00", ams,
			"2026-04-09T10:00:00+02:00", "2026-05-09T10:00:00+02:00", ""},
		{"default: across the change to winter time keeps the hour", Default, "2026-10-10T10:00:00+02:00", ams,
			"2026-11-09T10:00:00+01:00", "2026-12-09T10:00:00+01:00", ""},
		{"gdpr: same date next month", GDPR, "2026-05-04T09:00:00Z", time.UTC,
			"2026-06-04T09:00:00Z", "2026-08-04T09:00:00Z", ""},
		{"gdpr: 31 January falls to 28 February", GDPR, "2026-01-31T12:00:00Z", time.UTC,
			"2026-02-28T12:00:00Z", "2026-04-30T12:00:00Z", ""},
		{"gdpr: in a leap year to 29 February", GDPR, "2028-01-31T12:00:00Z", time.UTC,
			"2028-02-29T12:00:00Z", "2028-04-30T12:00:00Z", ""},
		{"gdpr: 29 February to 29 March", GDPR, "2028-02-29T08:00:00Z", time.UTC,
			"2028-03-29T08:00:00Z", "2028-05-29T08:00:00Z", ""},
		{"gdpr: 31 March to 30 April, extension to 30 June", GDPR, "2026-03-31T08:00:00Z", time.UTC,
			"2026-04-30T08:00:00Z", "2026-06-30T08:00:00Z", ""},
		{"gdpr: 30 November, extension into the next year", GDPR, "2026-11-30T08:00:00Z", time.UTC,
			"2026-12-30T08:00:00Z", "2027-02-28T08:00:00Z", ""},
		// 23:30 UTC on 31 January is already 1 February in Amsterdam.
		{"gdpr: the month counts in the organisation's zone", GDPR, "2026-01-31T23:30:00Z", ams,
			"2026-03-01T00:30:00+01:00", "2026-05-01T00:30:00+02:00", ""},
		{"ccpa: 45 days, ack in ten business days", CCPA, "2026-11-20T15:00:00-05:00", ny,
			"2027-01-04T15:00:00-05:00", "2027-02-18T15:00:00-05:00", "2026-12-04T15:00:00-05:00"},
		{"ccpa: received on a Saturday", CCPA, "2026-11-21T10:00:00-05:00", ny,
			"2027-01-05T10:00:00-05:00", "2027-02-19T10:00:00-05:00", "2026-12-04T10:00:00-05:00"},
		{"ccpa: received on a Wednesday, two weekends to skip", CCPA, "2026-11-25T10:00:00-05:00", ny,
			"2027-01-09T10:00:00-05:00", "2027-02-23T10:00:00-05:00", "2026-12-09T10:00:00-05:00"},
		{"ccpa: across the change to summer time", CCPA, "2026-03-01T09:00:00-05:00", ny,
			"2026-04-15T09:00:00-04:00", "2026-05-30T09:00:00-04:00", "2026-03-13T09:00:00-04:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := For(c.regime, at(t, c.received), c.loc)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got time.Time, want string) {
				t.Helper()
				if w := at(t, want); !got.Equal(w) || got.Format(time.RFC3339) != want {
					t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339), want)
				}
			}
			check("due_at", d.DueAt, c.due)
			check("extended_due_at", d.ExtendedDueAt, c.extended)
			check("extension_notice_by", d.ExtensionNoticeBy, c.due)
			switch {
			case c.ack == "" && d.AckDueAt != nil:
				t.Errorf("ack_due_at = %s, want none", d.AckDueAt)
			case c.ack != "" && d.AckDueAt == nil:
				t.Errorf("ack_due_at missing, want %s", c.ack)
			case c.ack != "":
				check("ack_due_at", *d.AckDueAt, c.ack)
			}
		})
	}
}

func TestBusinessDaysSkipWeekends(t *testing.T) {
	for _, c := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-11-27T12:00:00Z", 1, "2026-11-30T12:00:00Z"}, // Friday -> Monday
		{"2026-11-28T12:00:00Z", 1, "2026-11-30T12:00:00Z"}, // Saturday -> Monday
		{"2026-11-29T12:00:00Z", 5, "2026-12-04T12:00:00Z"}, // Sunday -> Friday
		{"2026-11-23T12:00:00Z", 10, "2026-12-07T12:00:00Z"},
	} {
		if got := AddBusinessDays(at(t, c.from), c.n); got.Format(time.RFC3339) != c.want {
			t.Errorf("%s + %d business days = %s, want %s", c.from, c.n, got.Format(time.RFC3339), c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Regime{"gdpr": GDPR, " GDPR ": GDPR, "ccpa": CCPA, "default": Default} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := Parse("lgpd"); err == nil {
		t.Error("Parse(lgpd) accepted an unknown regime")
	}
}

func TestOptOutIsDueQuicklyAndNeverExtended(t *testing.T) {
	friday := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ccpa, err := OptOut(CCPA, friday, time.UTC, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// 15 business days from Friday 27 November: Friday 18 December.
	if want := time.Date(2026, 12, 18, 9, 0, 0, 0, time.UTC); !ccpa.DueAt.Equal(want) || !ccpa.ExtendedDueAt.Equal(want) || ccpa.AckDueAt != nil {
		t.Errorf("CCPA opt-out = %+v, want due and latest %v, no acknowledgement", ccpa, want)
	}
	gdpr, err := OptOut(GDPR, friday, time.UTC, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := friday.Add(48 * time.Hour); !gdpr.DueAt.Equal(want) || !gdpr.ExtendedDueAt.Equal(want) {
		t.Errorf("GDPR opt-out = %+v, want due and latest %v", gdpr, want)
	}
	if _, err := OptOut("lgpd", friday, time.UTC, time.Hour); err == nil {
		t.Error("an unknown regime was accepted")
	}
}
