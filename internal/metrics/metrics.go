// Package metrics defines dsar's Prometheus metrics.
package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// Email counts emails by template kind and outcome. Each process counts
// what it sent; Prometheus sums across workers.
type Email struct {
	Sent   *prometheus.CounterVec
	Failed *prometheus.CounterVec
}

// NewEmail registers the email counters.
func NewEmail(reg prometheus.Registerer) *Email {
	e := &Email{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsar_emails_sent_total", Help: "Emails handed to the mail provider, by kind.",
		}, []string{"kind"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsar_emails_failed_total", Help: "Email send attempts that failed, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(e.Sent, e.Failed)
	return e
}

// requestsCollector reads request counts from the database at scrape time,
// so every web replica reports the same truth.
type requestsCollector struct {
	store   *store.Store
	now     func() time.Time
	log     *slog.Logger
	desc    *prometheus.Desc
	overdue *prometheus.Desc
	// unstarted: requests stored while Temporal did not answer, whose
	// workflow has not started yet.
	unstarted *prometheus.Desc
	// breaches: open breaches whose authority is not yet notified, by
	// whether the 72 hours have passed.
	breaches *prometheus.Desc
}

// RegisterRequests registers the dsar_requests gauge (requests by type and
// status), dsar_requests_overdue (open requests past their due date, by
// type: the number to alert on) and the Go runtime collectors.
func RegisterRequests(reg prometheus.Registerer, s *store.Store, now func() time.Time, log *slog.Logger) {
	reg.MustRegister(
		&requestsCollector{store: s, now: now, log: log,
			desc: prometheus.NewDesc("dsar_requests", "Requests by type and status.", []string{"type", "status"}, nil),
			overdue: prometheus.NewDesc("dsar_requests_overdue",
				"Open requests past their legal due date, by type.", []string{"type"}, nil),
			unstarted: prometheus.NewDesc("dsar_requests_unstarted",
				"Requests stored whose workflow has not started yet (Temporal did not answer at intake); started within seconds once it does.", nil, nil),
			breaches: prometheus.NewDesc("dsar_breaches_unnotified",
				"Open breaches whose supervisory authority is not yet notified, by whether their 72 hours have passed.", []string{"overdue"}, nil),
		},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.overdue
	ch <- c.unstarted
	ch <- c.breaches
}

func (c *requestsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.CountRequests(ctx)
	if err != nil {
		c.log.Error("metrics: count requests", "error", err)
		return
	}
	for _, sc := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(sc.Count), string(sc.Type), string(sc.Status))
	}
	overdue, err := c.store.CountOverdue(ctx, c.now())
	if err != nil {
		c.log.Error("metrics: count overdue requests", "error", err)
		return
	}
	// Every type is reported, zero included, so an alert sees the series.
	for _, t := range domain.RequestTypes {
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(overdue[t]), string(t))
	}
	unstarted, err := c.store.CountUnstarted(ctx)
	if err != nil {
		c.log.Error("metrics: count unstarted requests", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.unstarted, prometheus.GaugeValue, float64(unstarted))
	open, err := c.store.ListBreaches(ctx, true, 0)
	if err != nil {
		c.log.Error("metrics: list breaches", "error", err)
		return
	}
	late, pending := 0, 0
	for _, b := range open {
		switch {
		case b.AuthorityNotifiedAt != nil:
		case b.Overdue(c.now()):
			late++
		default:
			pending++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.breaches, prometheus.GaugeValue, float64(pending), "false")
	ch <- prometheus.MustNewConstMetric(c.breaches, prometheus.GaugeValue, float64(late), "true")
}
