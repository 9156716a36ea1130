package stats

import (
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func closed(s string) *time.Time { t := at(s); return &t }

func TestMonthly(t *testing.T) {
	now := at("2026-03-15T10:00:00Z")
	rs := []Request{
		// Received in December, before the window of three months: only
		// its closing in January counts.
		{Type: domain.TypeAccess, ReceivedAt: at("2025-12-20T00:00:00Z"), DueAt: at("2026-01-19T00:00:00Z"), ClosedAt: closed("2026-01-10T00:00:00Z")},
		{Type: domain.TypeAccess, ReceivedAt: at("2026-01-05T00:00:00Z"), DueAt: at("2026-02-04T00:00:00Z"), ClosedAt: closed("2026-01-09T00:00:00Z")},
		{Type: domain.TypeDeletion, ReceivedAt: at("2026-01-31T23:59:59Z"), DueAt: at("2026-03-02T23:59:59Z"), ClosedAt: closed("2026-03-05T00:00:00Z")}, // late
		{Type: domain.TypeExport, ReceivedAt: at("2026-02-01T00:00:00Z"), DueAt: at("2026-03-03T00:00:00Z")},                                             // open
		{Type: domain.TypeDeletion, ReceivedAt: at("2026-03-01T00:00:00Z"), DueAt: at("2026-03-31T00:00:00Z"), ClosedAt: closed("2026-03-03T00:00:00Z")},
		{Type: domain.TypeDeletion, ReceivedAt: at("2026-03-02T00:00:00Z"), DueAt: at("2026-04-01T00:00:00Z"), ClosedAt: closed("2026-03-02T12:00:00Z")},
	}
	ms := Monthly(rs, now, 3)
	if len(ms) != 3 || !ms[0].Start.Equal(at("2026-01-01T00:00:00Z")) || !ms[2].Start.Equal(at("2026-03-01T00:00:00Z")) {
		t.Fatalf("months %v", ms)
	}
	cases := []struct {
		month                  int
		received, closed, late int
		median                 float64
	}{
		{0, 2, 2, 0, 12.5}, // 21 days and 4 days
		{1, 1, 0, 0, -1},
		{2, 2, 3, 1, 2}, // 0.5, 2 and 32 days
	}
	for _, c := range cases {
		m := ms[c.month]
		if m.TotalReceived() != c.received || m.Closed != c.closed || m.Closed-m.OnTime != c.late {
			t.Errorf("%s: received %d closed %d late %d, want %d %d %d", m.Start.Format("2006-01"), m.TotalReceived(), m.Closed, m.Closed-m.OnTime, c.received, c.closed, c.late)
		}
		if diff := m.MedianDays - c.median; diff > 0.01 || diff < -0.01 {
			t.Errorf("%s: median %.2f days, want %.2f", m.Start.Format("2006-01"), m.MedianDays, c.median)
		}
	}
	if ms[0].Received[domain.TypeAccess] != 1 || ms[0].Received[domain.TypeDeletion] != 1 {
		t.Errorf("January by type: %v", ms[0].Received)
	}
	if got := ms[2].OnTimeShare(); got < 0.66 || got > 0.67 {
		t.Errorf("March on-time share %.3f, want 2/3", got)
	}
	if ms[1].OnTimeShare() != -1 {
		t.Error("a month with nothing closed has no on-time share")
	}
}

func TestMonthlyAcrossTheYear(t *testing.T) {
	ms := Monthly([]Request{{Type: domain.TypeExport, ReceivedAt: at("2025-11-30T12:00:00Z"), DueAt: at("2025-12-30T12:00:00Z")}}, at("2026-01-02T00:00:00Z"), 3)
	if got := ms[0].Start.Format("2006-01"); got != "2025-11" || ms[0].TotalReceived() != 1 {
		t.Errorf("first month %s with %d", got, ms[0].TotalReceived())
	}
	if Monthly(nil, at("2026-01-02T00:00:00Z"), 0) != nil {
		t.Error("zero months")
	}
}

func TestYearlyCountsWhatTheCCPAAsksToDisclose(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	closed := func(s string) *time.Time { v := at(s); return &v }
	rs := []Request{
		{Type: domain.TypeAccess, Status: domain.StatusCompleted, ReceivedAt: at("2025-01-10"), ClosedAt: closed("2025-01-20")}, // 10 days
		{Type: domain.TypeAccess, Status: domain.StatusCompleted, ReceivedAt: at("2025-03-01"), ClosedAt: closed("2025-03-05")}, // 4
		{Type: domain.TypeAccess, Status: domain.StatusDenied, ReceivedAt: at("2025-06-01"), ClosedAt: closed("2025-06-02")},    // 1
		{Type: domain.TypeAccess, Status: domain.StatusExpiredUnverified, ReceivedAt: at("2025-07-01"), ClosedAt: closed("2025-07-08")},
		{Type: domain.TypeAccess, Status: domain.StatusInReview, ReceivedAt: at("2025-12-30")},
		{Type: domain.TypeDeletion, Status: domain.StatusCompleted, ReceivedAt: at("2024-12-31"), ClosedAt: closed("2025-01-02")}, // another year
		{Type: domain.TypeOptOut, Status: domain.StatusCompleted, ReceivedAt: at("2025-05-05"), ClosedAt: closed("2025-05-05")},   // 0 days
	}
	got := Yearly(rs, 2025)
	if len(got) != len(domain.RequestTypes) {
		t.Fatalf("%d types, want one row per type: %+v", len(got), got)
	}
	byType := map[domain.RequestType]TypeYear{}
	for _, f := range got {
		byType[f.Type] = f
	}
	access := byType[domain.TypeAccess]
	if access.Received != 5 || access.Complied != 2 || access.Denied != 1 || access.Unverified != 1 || access.Open != 1 {
		t.Errorf("access = %+v", access)
	}
	if access.MedianDays != 4 || access.MeanDays != 5 {
		t.Errorf("access days: median %v, mean %v; want 4 and 5", access.MedianDays, access.MeanDays)
	}
	if del := byType[domain.TypeDeletion]; del.Received != 0 || del.MedianDays != -1 || del.MeanDays != -1 {
		t.Errorf("deletion = %+v, want nothing in 2025 and no days", del)
	}
	if opt := byType[domain.TypeOptOut]; opt.Complied != 1 || opt.MedianDays != 0 || opt.MeanDays != 0 {
		t.Errorf("opt-out = %+v, want one complied the same day", opt)
	}
}
