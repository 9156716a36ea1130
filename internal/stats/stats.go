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
	Status     domain.Status
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

// TypeYear is one request type's figures for a calendar year, as the
// CCPA regulations (§7102(a)) ask a business handling many people's data
// to disclose them: requests received, complied with in whole or in part,
// and denied, and the median and mean days to respond. Requests are
// counted in the year they were received, by how they stand now.
type TypeYear struct {
	Type     domain.RequestType `json:"type"`
	Received int                `json:"received"`
	Complied int                `json:"complied"` // completed, in whole or in part
	Denied   int                `json:"denied"`
	// Unverified closed because the person never confirmed who they are.
	Unverified int `json:"unverified"`
	// Withdrawn by the requester before fulfilment began: neither
	// complied with nor denied, and not counted in the days to respond.
	Withdrawn int `json:"withdrawn"`
	// Duplicate: closed by an officer as a duplicate of the same
	// person's request of the same type, which is counted on its own.
	Duplicate int `json:"duplicate"`
	Open      int `json:"open"`
	// MedianDays and MeanDays run from receipt to the answer (complied or
	// denied); -1 when none was answered.
	MedianDays float64 `json:"median_days"`
	MeanDays   float64 `json:"mean_days"`
}

// Yearly computes every type's figures for requests received in year
// (UTC), in the order of domain.RequestTypes; types unknown to that list
// follow in name order.
func Yearly(rs []Request, year int) []TypeYear {
	byType := map[domain.RequestType]*TypeYear{}
	days := map[domain.RequestType][]float64{}
	for _, r := range rs {
		if r.ReceivedAt.UTC().Year() != year {
			continue
		}
		f := byType[r.Type]
		if f == nil {
			f = &TypeYear{Type: r.Type}
			byType[r.Type] = f
		}
		f.Received++
		switch r.Status {
		case domain.StatusCompleted:
			f.Complied++
		case domain.StatusDenied:
			f.Denied++
		case domain.StatusExpiredUnverified:
			f.Unverified++
		case domain.StatusWithdrawn:
			f.Withdrawn++
		case domain.StatusDuplicate:
			f.Duplicate++
		default:
			f.Open++
		}
		if (r.Status == domain.StatusCompleted || r.Status == domain.StatusDenied) && r.ClosedAt != nil {
			days[r.Type] = append(days[r.Type], r.ClosedAt.Sub(r.ReceivedAt).Hours()/24)
		}
	}
	var out []TypeYear
	add := func(t domain.RequestType) {
		f := byType[t]
		if f == nil {
			f = &TypeYear{Type: t}
		}
		f.MedianDays, f.MeanDays = -1, -1
		if d := days[t]; len(d) > 0 {
			f.MedianDays = median(d)
			sum := 0.0
			for _, x := range d {
				sum += x
			}
			f.MeanDays = sum / float64(len(d))
		}
		out = append(out, *f)
		delete(byType, t)
	}
	for _, t := range domain.RequestTypes {
		add(t)
	}
	rest := make([]domain.RequestType, 0, len(byType))
	for t := range byType {
		rest = append(rest, t)
	}
	slices.Sort(rest)
	for _, t := range rest {
		add(t)
	}
	return out
}
