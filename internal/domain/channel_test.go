package domain

import (
	"testing"
	"time"
)

func TestReceivedProblem(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		received  time.Time
		due       time.Time
		wantFault bool
	}{
		{"now", now, now.AddDate(0, 0, 30), false},
		{"a minute ahead (clock skew)", now.Add(time.Minute), now.AddDate(0, 0, 30), false},
		{"tomorrow", now.AddDate(0, 0, 1), now.AddDate(0, 0, 31), true},
		{"ten days ago", now.AddDate(0, 0, -10), now.AddDate(0, 0, 20), false},
		{"due later today", now.AddDate(0, 0, -30).Add(time.Hour), now.Add(time.Hour), false},
		{"due now", now.AddDate(0, 0, -30), now, true},
		{"a whole period ago", now.AddDate(0, 0, -40), now.AddDate(0, 0, -10), true},
	} {
		if got := ReceivedProblem(tc.received, tc.due, now); (got != "") != tc.wantFault {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
}

func TestLoggedChannels(t *testing.T) {
	for _, c := range LoggedChannels {
		if !c.Loggable() || c.Label() == string(c) {
			t.Errorf("%s: loggable %v, label %q", c, c.Loggable(), c.Label())
		}
	}
	if ChannelWeb.Loggable() || Channel("fax").Loggable() {
		t.Error("web or fax is loggable")
	}
}
