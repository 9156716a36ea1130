package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/stats"
	"github.com/dsar-project/dsar/internal/store"
)

// metricsMonths is how far back the dashboard's charts look.
const metricsMonths = 12

// Charts are SVG drawn on the server: no script, nothing for the CSP to
// allow, and each has a table of its numbers for screen readers.
type chart struct {
	Title  string
	Unit   string
	Height int
	Bars   []chartBar
	Max    string // the value at the top of the chart
	Legend []legendItem
}

type chartBar struct {
	X, Width int
	Label    string // the month
	Value    string // the figure, for the table
	Segments []segment
}

type segment struct {
	Y, Height int
	Class     string
	Title     string
}

type legendItem struct{ Class, Label string }

const (
	chartHeight = 160
	barWidth    = 34
	barGap      = 12
)

// niceTop is the top of a chart's scale: the smallest of 1, 2 or 5 times
// a power of ten at or above the largest value, and never below least,
// so a median of a few minutes is a sliver under "1 day", not a full bar.
func niceTop(largest, least float64) float64 {
	if largest <= least {
		return least
	}
	p := math.Pow(10, math.Floor(math.Log10(largest)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= largest {
			return f * p
		}
	}
	return 10 * p
}

// newChart scales values (per month, per series) into bars on a scale
// from 0 to top; top 0 means a nice scale over the values (see niceTop).
func newChart(title, unit string, months []stats.Month, series []legendItem, top float64, value func(m stats.Month, series int) float64, format func(float64) string) chart {
	c := chart{Title: title, Unit: unit, Height: chartHeight}
	if len(series) > 1 {
		c.Legend = series
	}
	if top == 0 {
		largest := 0.0
		for _, m := range months {
			sum := 0.0
			for s := range series {
				sum += math.Max(0, value(m, s))
			}
			largest = math.Max(largest, sum)
		}
		top = niceTop(largest, 1)
	}
	c.Max = format(top)
	for i, m := range months {
		b := chartBar{X: i * (barWidth + barGap), Width: barWidth, Label: m.Start.Format("Jan")}
		y, total, known := chartHeight, 0.0, false
		for s, item := range series {
			v := value(m, s)
			if v < 0 {
				continue
			}
			known = true
			total += v
			h := int(math.Round(math.Min(v, top) / top * chartHeight))
			y -= h
			b.Segments = append(b.Segments, segment{Y: y, Height: h, Class: item.Class,
				Title: fmt.Sprintf("%s %s: %s %s", m.Start.Format("January 2006"), item.Label, format(v), unit)})
		}
		b.Value = "–"
		if known {
			b.Value = format(total)
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

type metricsPage struct {
	chrome
	Charts []chart
	Counts []store.StatusCount
	Months []stats.Month
	Years  []int // the years a report can be asked for, latest first
}

// requestTimes reads the dates of every request received since.
func (s *Server) requestTimes(c echo.Context, since time.Time) ([]stats.Request, error) {
	rows, err := s.store.RequestTimesSince(c.Request().Context(), since)
	if err != nil {
		return nil, err
	}
	rs := make([]stats.Request, len(rows))
	for i, r := range rows {
		rs[i] = stats.Request{Type: r.Type, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, ClosedAt: r.ClosedAt}
	}
	return rs, nil
}

// months reads the last metricsMonths months of figures.
func (s *Server) months(c echo.Context) ([]stats.Month, error) {
	now := s.now()
	since := stats.MonthStart(now).AddDate(0, 1-metricsMonths, 0)
	// Requests received before the window may close inside it; a year
	// before is far enough for any legal clock.
	rs, err := s.requestTimes(c, since.AddDate(-1, 0, 0))
	if err != nil {
		return nil, err
	}
	return stats.Monthly(rs, now, metricsMonths), nil
}

func (s *Server) dashboardMetrics(c echo.Context) error {
	ctx := c.Request().Context()
	months, err := s.months(c)
	if err != nil {
		return err
	}
	counts, err := s.store.CountRequests(ctx)
	if err != nil {
		return err
	}

	var types []legendItem
	for _, t := range domain.RequestTypes {
		types = append(types, legendItem{Class: "t-" + string(t), Label: t.Label()})
	}
	whole := func(v float64) string { return strconv.Itoa(int(math.Round(v))) }
	p := metricsPage{chrome: s.chrome(c, "metrics"), Counts: counts, Months: months, Years: reportYears(s.now())}
	p.Charts = []chart{
		newChart("Requests received", "requests", months, types, 0,
			func(m stats.Month, i int) float64 { return float64(m.Received[domain.RequestTypes[i]]) }, whole),
		newChart("Median days to close", "days", months, []legendItem{{Class: "m-days", Label: "median"}}, 0,
			func(m stats.Month, _ int) float64 { return m.MedianDays }, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }),
		newChart("Closed on time", "%", months, []legendItem{{Class: "m-ontime", Label: "on time"}}, 100,
			func(m stats.Month, _ int) float64 {
				if m.OnTimeShare() < 0 {
					return -1
				}
				return 100 * m.OnTimeShare()
			}, whole),
	}
	return s.render(c, http.StatusOK, "officer/metrics", p)
}
