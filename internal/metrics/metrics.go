// Package metrics defines dsar's Prometheus metrics.
package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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
	store *store.Store
	log   *slog.Logger
	desc  *prometheus.Desc
}

// RegisterRequests registers the dsar_requests gauge (requests by type and
// status) and the Go runtime collectors.
func RegisterRequests(reg prometheus.Registerer, s *store.Store, log *slog.Logger) {
	reg.MustRegister(
		&requestsCollector{store: s, log: log, desc: prometheus.NewDesc(
			"dsar_requests", "Requests by type and status.", []string{"type", "status"}, nil)},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

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
}
