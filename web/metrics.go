package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

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

// newChart scales values (per month, per series) into bars.
func newChart(title, unit string, months []stats.Month, series []legendItem, value func(m stats.Month, series int) float64, format func(float64) string) chart {
	c := chart{Title: title, Unit: unit, Height: chartHeight}
	if len(series) > 1 {
		c.Legend = series
	}
	top := 0.0
	for _, m := range months {
		sum := 0.0
		for s := range series {
			sum += math.Max(0, value(m, s))
		}
		top = math.Max(top, sum)
	}
	if top == 0 {
		top = 1
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
			h := int(math.Round(v / top * chartHeight))
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
}

func (s *Server) dashboardMetrics(c echo.Context) error {
	ctx := c.Request().Context()
	now := s.now()
	since := stats.MonthStart(now).AddDate(0, 1-metricsMonths, 0)
	// Requests received before the window may close inside it; a year
	// before is far enough for any legal clock.
	rows, err := s.store.RequestTimesSince(ctx, since.AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	rs := make([]stats.Request, len(rows))
	for i, r := range rows {
		rs[i] = stats.Request{Type: r.Type, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, ClosedAt: r.ClosedAt}
	}
	months := stats.Monthly(rs, now, metricsMonths)
	counts, err := s.store.CountRequests(ctx)
	if err != nil {
		return err
	}

	var types []legendItem
	for _, t := range domain.RequestTypes {
		types = append(types, legendItem{Class: "t-" + string(t), Label: t.Label()})
	}
	whole := func(v float64) string { return strconv.Itoa(int(math.Round(v))) }
	p := metricsPage{chrome: s.chrome(c, "metrics"), Counts: counts, Months: months}
	p.Charts = []chart{
		newChart("Requests received", "requests", months, types,
			func(m stats.Month, i int) float64 { return float64(m.Received[domain.RequestTypes[i]]) }, whole),
		newChart("Median days to close", "days", months, []legendItem{{Class: "m-days", Label: "median"}},
			func(m stats.Month, _ int) float64 { return m.MedianDays }, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }),
		newChart("Closed on time", "%", months, []legendItem{{Class: "m-ontime", Label: "on time"}},
			func(m stats.Month, _ int) float64 {
				if m.OnTimeShare() < 0 {
					return -1
				}
				return 100 * m.OnTimeShare()
			}, whole),
	}
	return s.render(c, http.StatusOK, "officer/metrics", p)
}
