package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/stats"
)

// reportYears are the years the metrics page offers reports for: this
// one (so far) and the four before, latest first.
func reportYears(now time.Time) []int {
	y := now.UTC().Year()
	return []int{y, y - 1, y - 2, y - 3, y - 4}
}

// yearReport is a calendar year's figures by request type.
type yearReport struct {
	Year    int              `json:"year"`
	Partial bool             `json:"partial"` // the year is not over yet
	Types   []stats.TypeYear `json:"types"`
}

// ccpaName is how the CCPA regulations name each right in §7102.
func ccpaName(t domain.RequestType) string {
	switch t {
	case domain.TypeAccess, domain.TypeExport:
		return "request to know"
	case domain.TypeDeletion:
		return "request to delete"
	case domain.TypeCorrection:
		return "request to correct"
	case domain.TypeOptOut:
		return "request to opt out of sale or sharing"
	}
	return string(t)
}

// report reads the year in the path ("2025", or "2025.csv" for CSV) and
// computes its figures. A year before 2000 or after this one is refused.
func (s *Server) report(c echo.Context) (yearReport, bool, error) {
	param, asCSV := strings.CutSuffix(c.Param("year"), ".csv")
	now := s.now().UTC()
	year, err := strconv.Atoi(param)
	if err != nil || year < 2000 || year > now.Year() {
		return yearReport{}, false, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("year must be a calendar year from 2000 to %d", now.Year()))
	}
	rs, err := s.requestTimes(c, time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return yearReport{}, false, err
	}
	return yearReport{Year: year, Partial: year == now.Year(), Types: stats.Yearly(rs, year)}, asCSV, nil
}

// apiReport answers a year's report as JSON, or as CSV for YEAR.csv.
func (s *Server) apiReport(c echo.Context) error {
	rep, asCSV, err := s.report(c)
	if err != nil {
		return err
	}
	if asCSV {
		return s.reportCSV(c, rep)
	}
	return c.JSON(http.StatusOK, rep)
}

type yearReportPage struct {
	chrome
	Report yearReport
	Names  map[domain.RequestType]string
}

// dashboardReport shows a year's report, or sends it as CSV.
func (s *Server) dashboardReport(c echo.Context) error {
	rep, asCSV, err := s.report(c)
	if err != nil {
		return err
	}
	if asCSV {
		return s.reportCSV(c, rep)
	}
	names := map[domain.RequestType]string{}
	for _, t := range rep.Types {
		names[t.Type] = ccpaName(t.Type)
	}
	return s.render(c, http.StatusOK, "officer/report", yearReportPage{chrome: s.chrome(c, "metrics"), Report: rep, Names: names})
}

// days writes a figure of days with one decimal, or nothing when there
// is none (-1).
func days(v float64) string {
	if v < 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func (s *Server) reportCSV(c echo.Context, rep yearReport) error {
	rows := [][]string{{"year", "type", "ccpa_category", "received", "complied_in_whole_or_part", "denied", "closed_unverified", "withdrawn", "duplicate", "open", "median_days_to_respond", "mean_days_to_respond"}}
	for _, t := range rep.Types {
		rows = append(rows, []string{strconv.Itoa(rep.Year), string(t.Type), ccpaName(t.Type), strconv.Itoa(t.Received), strconv.Itoa(t.Complied),
			strconv.Itoa(t.Denied), strconv.Itoa(t.Unverified), strconv.Itoa(t.Withdrawn), strconv.Itoa(t.Duplicate), strconv.Itoa(t.Open), days(t.MedianDays), days(t.MeanDays)})
	}
	return writeCSV(c, fmt.Sprintf("requests-%d.csv", rep.Year), rows)
}

// dashboardMetricsCSV sends the metrics page's monthly figures as CSV.
func (s *Server) dashboardMetricsCSV(c echo.Context) error {
	months, err := s.months(c)
	if err != nil {
		return err
	}
	head := []string{"month"}
	for _, t := range domain.RequestTypes {
		head = append(head, "received_"+string(t))
	}
	head = append(head, "received", "closed", "closed_on_time", "median_days_to_close")
	rows := [][]string{head}
	for _, m := range months {
		row := []string{m.Start.Format("2006-01")}
		for _, t := range domain.RequestTypes {
			row = append(row, strconv.Itoa(m.Received[t]))
		}
		row = append(row, strconv.Itoa(m.TotalReceived()), strconv.Itoa(m.Closed), strconv.Itoa(m.OnTime), days(m.MedianDays))
		rows = append(rows, row)
	}
	return writeCSV(c, "metrics-"+s.now().Format("2006-01-02")+".csv", rows)
}

// writeCSV sends rows of figures (no personal data, nothing a
// spreadsheet would run) as a CSV download.
func writeCSV(c echo.Context, name string, rows [][]string) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.WriteAll(rows); err != nil {
		return nil // the client went away
	}
	return nil
}
