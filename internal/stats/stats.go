// Package stats turns request dates into the monthly figures the dashboard
// charts: requests received by type, how long closing took, and how many
// closed on time. Pure functions, so the arithmetic is tested by tables.
package stats

import (
	"slices"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
)

// Request is what the figures are computed from.
type Request struct {
	Type       domain.RequestType
	ReceivedAt time.Time
	DueAt      time.Time
	ClosedAt   *time.Time
}

// Month is one calendar month (UTC) of figures.
type Month struct {
	Start    time.Time
	Received map[domain.RequestType]int // requests received in the month, by type
	Closed   int                        // requests closed in the month
	OnTime   int                        // of those, closed by their due date
	// MedianDays is the median time from receipt to closing, in days, of
	// the requests closed in the month; -1 when none closed.
	MedianDays float64
}

// TotalReceived sums the month's requests over all types.
func (m Month) TotalReceived() int {
	n := 0
	for _, c := range m.Received {
		n += c
	}
	return n
}

// OnTimeShare is the fraction of the month's closed requests closed on
// time, from 0 to 1; -1 when none closed.
func (m Month) OnTimeShare() float64 {
	if m.Closed == 0 {
		return -1
	}
	return float64(m.OnTime) / float64(m.Closed)
}

// MonthStart is the first instant of t's month, in UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Monthly computes n months of figures ending with now's month, oldest
// first. Requests outside the window are ignored.
func Monthly(rs []Request, now time.Time, n int) []Month {
	if n <= 0 {
		return nil
	}
	first := MonthStart(now).AddDate(0, 1-n, 0)
	months := make([]Month, n)
	durations := make([][]float64, n)
	for i := range months {
		months[i] = Month{Start: first.AddDate(0, i, 0), Received: map[domain.RequestType]int{}, MedianDays: -1}
	}
	index := func(t time.Time) int {
		s := MonthStart(t)
		i := (s.Year()-first.Year())*12 + int(s.Month()) - int(first.Month())
		if i < 0 || i >= n {
			return -1
		}
		return i
	}
	for _, r := range rs {
		if i := index(r.ReceivedAt); i >= 0 {
			months[i].Received[r.Type]++
		}
		if r.ClosedAt == nil {
			continue
		}
		if i := index(*r.ClosedAt); i >= 0 {
			months[i].Closed++
			if !r.ClosedAt.After(r.DueAt) {
				months[i].OnTime++
			}
			durations[i] = append(durations[i], r.ClosedAt.Sub(r.ReceivedAt).Hours()/24)
		}
	}
	for i, d := range durations {
		if len(d) > 0 {
			months[i].MedianDays = median(d)
		}
	}
	return months
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	mid := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[mid]
	}
	return (xs[mid-1] + xs[mid]) / 2
}
