// Package bench measures dsar where privacy teams need it to be fast:
// intake under load, a request end to end, discovery in a ten-million-row
// database, erasure and export of a person with many rows, the deadline
// monitor over a million open requests, a breach fan-out and the memory of
// parked workflows. Every figure is reported beside a baseline measured in
// the same run (the bare platform doing the same work), so the ratio
// survives a noisy machine. `make bench` runs it at full size; a smoke run
// with tiny sizes is part of the tests so this code keeps working.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Sizes are how much work each benchmark does.
type Sizes struct {
	Name string `json:"name"`
	// IntakeRequests are submitted by IntakeClients concurrent clients.
	IntakeRequests int `json:"intake_requests"`
	IntakeClients  int `json:"intake_clients"`
	// EndToEnd requests run at each concurrency (1 and 10).
	EndToEnd int `json:"end_to_end"`
	// Subjects are the demo organisation's people (about ten rows each).
	Subjects int `json:"subjects"`
	// Lookups are the discoveries timed.
	Lookups int `json:"lookups"`
	// MySQLSubjects are the demo organisation's people in MySQL.
	MySQLSubjects int `json:"mysql_subjects"`
	// ManyRows is how many rows the person erased at once owns.
	ManyRows int `json:"many_rows"`
	// ExportBytes is the size of the large export.
	ExportBytes int64 `json:"export_bytes"`
	// OpenRequests are the requests the deadline monitor scans.
	OpenRequests int `json:"open_requests"`
	// BreachPeople are notified in the fan-out.
	BreachPeople int `json:"breach_people"`
	// Parked workflows wait in a worker whose memory is measured.
	Parked int `json:"parked"`
}

// Smoke is small enough for every test run (under two minutes). It parks
// enough requests that their heap (about 2 MB for 100) outweighs what a
// GC leaves behind by chance (with 40, a run measured -54 bytes each).
var Smoke = Sizes{
	Name: "smoke", IntakeRequests: 40, IntakeClients: 4, EndToEnd: 3, Subjects: 300, MySQLSubjects: 300, Lookups: 20,
	ManyRows: 2000, ExportBytes: 4 << 20, OpenRequests: 2000, BreachPeople: 300, Parked: 100,
}

// Full is what `make bench` runs and docs/benchmarks.md records.
var Full = Sizes{
	Name: "full", IntakeRequests: 3000, IntakeClients: 50, EndToEnd: 40, Subjects: 1_000_000, MySQLSubjects: 200_000, Lookups: 300,
	ManyRows: 200_000, ExportBytes: 1 << 30, OpenRequests: 1_000_000, BreachPeople: 100_000, Parked: 10_000,
}

// Figure is one measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Result is one benchmark: its figures, the baseline's, and the goal.
type Result struct {
	Name string `json:"name"`
	// Temporal is the configuration measured (Memory or Postgres).
	Temporal string   `json:"temporal"`
	What     string   `json:"what"`
	Baseline string   `json:"baseline"`
	Figures  []Figure `json:"figures"`
	// BaselineFigures are the baseline's figures, named as in Figures.
	BaselineFigures []Figure `json:"baseline_figures,omitempty"`
	// Ratio is dsar's throughput over the baseline's (higher is better)
	// or its time over the baseline's (lower is better), as RatioMeans
	// says.
	Ratio      float64 `json:"ratio,omitempty"`
	RatioMeans string  `json:"ratio_means,omitempty"`
	Goal       string  `json:"goal"`
	Met        bool    `json:"met"`
	Notes      string  `json:"notes,omitempty"`
	Seconds    float64 `json:"seconds"`
}

// Report is a whole run.
type Report struct {
	Sizes    Sizes     `json:"sizes"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Machine  Machine   `json:"machine"`
	Results  []Result  `json:"results"`
	Failures []string  `json:"failures,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	OS, Arch   string
	CPUs       int
	CPU        string `json:"cpu,omitempty"`
	MemoryGiB  float64
	Go         string
	PostgreSQL string
	MySQL      string `json:"mysql,omitempty"`
	Temporal   string
	// Configurations are the Temporal configurations measured, in order.
	Configurations []string           `json:"configurations"`
	Setup          map[string]float64 `json:"setup_seconds"`
}

// The Temporal configurations a run measures.
const (
	// Memory is the embedded server keeping its state in memory, as
	// `dsar dev` and the tests run it.
	Memory = "memory"
	// Postgres is the embedded server persisting to PostgreSQL, as a
	// production Temporal cluster does.
	Postgres = "postgres"
)

// configurationTitle names a configuration in the summary.
var configurationTitle = map[string]string{
	Memory:   "Temporal in memory (the embedded server as `dsar dev` runs it)",
	Postgres: "Temporal on PostgreSQL (the embedded server persisting as a production cluster does)",
}

// Options configure a run.
type Options struct {
	Sizes Sizes
	// AdminURL is a PostgreSQL server where the run may create and drop
	// databases.
	AdminURL string
	// MySQLURL is a MySQL or MariaDB server (mysql://...) where the run
	// may create and drop a database; empty means DefaultMySQLURL.
	MySQLURL string
	// Only, if set, names the benchmarks to run.
	Only []string
	// Temporal lists the configurations to measure (Memory, Postgres);
	// empty means both. The benchmarks that go through Temporal run in
	// each; the others, which never touch it, in the first only.
	Temporal []string
	Log      *slog.Logger
	// ChildHeapProfile, if set, is where the parked-workflows worker
	// writes its heap profile, once a second.
	ChildHeapProfile string
}

type benchmark struct {
	name string
	// temporal: the benchmark goes through Temporal, so each
	// configuration measures it.
	temporal bool
	run      func(ctx context.Context, e *Env) (Result, error)
}

var benchmarks = []benchmark{
	{"intake", true, intakeCase},
	{"end_to_end", true, endToEnd},
	{"discovery", false, discovery},
	{"erasure", false, erasure},
	{"discovery_mysql", false, discoveryMySQL},
	{"erasure_mysql", false, erasureMySQL},
	{"export", false, exportLarge},
	{"deadline_monitor", false, deadlineMonitor},
	{"breach_fanout", true, breachFanOut},
	{"parked_workflows", true, parkedWorkflows},
	{"scale_out", true, scaleOut},
}

// Names lists the benchmarks in the order they run.
func Names() []string {
	var out []string
	for _, b := range benchmarks {
		out = append(out, b.name)
	}
	return out
}

// Run sets up the environment (embedded Temporal, PostgreSQL databases,
// the demo organisation, a local SendGrid) and runs the benchmarks in
// order, once per Temporal configuration for those that go through
// Temporal. A benchmark that fails is recorded and the others still run.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if len(o.Temporal) == 0 {
		o.Temporal = []string{Memory, Postgres}
	}
	for _, c := range o.Temporal {
		if c != Memory && c != Postgres {
			return nil, fmt.Errorf("no Temporal configuration %q (there are %s and %s)", c, Memory, Postgres)
		}
	}
	for _, n := range o.Only {
		if !slices.Contains(Names(), n) {
			return nil, fmt.Errorf("no benchmark %q (there are %s)", n, strings.Join(Names(), ", "))
		}
	}
	rep := &Report{Sizes: o.Sizes, Started: start.UTC()}
	e, err := newEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	rep.Machine = e.machine()
	for i, config := range o.Temporal {
		var todo []benchmark
		for _, b := range benchmarks {
			if (len(o.Only) == 0 || slices.Contains(o.Only, b.name)) && (i == 0 || b.temporal) {
				todo = append(todo, b)
			}
		}
		if len(todo) == 0 {
			continue
		}
		o.Log.Info("configuration", "temporal", config)
		if err := e.configure(ctx, config); err != nil {
			return nil, err
		}
		for _, b := range todo {
			o.Log.Info("benchmark", "name", b.name, "temporal", config)
			t0 := time.Now()
			r, err := b.run(ctx, e)
			r.Name, r.Temporal, r.Seconds = b.name, config, time.Since(t0).Seconds()
			if err != nil {
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s (Temporal %s): %v", b.name, config, err))
				o.Log.Error("benchmark failed", "name", b.name, "temporal", config, "error", err)
				continue
			}
			rep.Results = append(rep.Results, r)
			o.Log.Info("benchmark done", "name", b.name, "temporal", config, "seconds", fmt.Sprintf("%.1f", r.Seconds), "met", r.Met)
		}
	}
	rep.Machine.Setup = e.setup
	rep.Machine.MySQL = e.mysqlVersion
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// Write saves report.json and summary.md in dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "summary.md"))
	if err != nil {
		return err
	}
	r.Markdown(f)
	return f.Close()
}

// Markdown writes the summary table.
func (r *Report) Markdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Run of %s (%s sizes), %.0f s in all.\n\n", r.Started.Format("2006-01-02 15:04 MST"), r.Sizes.Name, r.Seconds)
	mysql := ""
	if m.MySQL != "" {
		mysql = "; MySQL " + m.MySQL
	}
	fmt.Fprintf(w, "Machine: %s/%s, %d CPUs%s, %.0f GiB; %s; PostgreSQL %s%s; Temporal server %s (embedded).\n\n",
		m.OS, m.Arch, m.CPUs, cpuName(m.CPU), m.MemoryGiB, m.Go, m.PostgreSQL, mysql, m.Temporal)
	for _, config := range m.Configurations {
		var rows []Result
		for _, res := range r.Results {
			if res.Temporal == config {
				rows = append(rows, res)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n\n", configurationTitle[config])
		fmt.Fprintln(w, "| benchmark | dsar | baseline | ratio | goal | met |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, res := range rows {
			met := "yes"
			if !res.Met {
				met = "**no**"
			}
			ratio := ""
			if res.Ratio != 0 {
				ratio = fmt.Sprintf("%.2f (%s)", res.Ratio, res.RatioMeans)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", res.Name, figures(res.Figures), figures(res.BaselineFigures), ratio, res.Goal, met)
		}
		fmt.Fprintln(w)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "Failed: %s\n\n", f)
	}
	described := map[string]bool{}
	for _, res := range r.Results {
		if described[res.Name] {
			continue // described once, from the first configuration that ran it
		}
		described[res.Name] = true
		fmt.Fprintf(w, "- **%s**: %s Baseline: %s.", res.Name, res.What, res.Baseline)
		if res.Notes != "" {
			fmt.Fprintf(w, " %s", res.Notes)
		}
		fmt.Fprintln(w)
	}
}

func cpuName(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func figures(fs []Figure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s %s %s", f.Name, number(f.Value), f.Unit)
	}
	return strings.Join(parts, "; ")
}

func number(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// percentile returns the p-th percentile (0-100) of ds in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return float64(s[i].Microseconds()) / 1000
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// machineFacts reads what the run can about the machine.
func machineFacts() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb := procField("/proc/meminfo", "MemTotal"); kb > 0 {
		m.MemoryGiB = float64(kb) / (1 << 20)
	}
	return m
}

// procField reads a "Name: 123 kB" line of a /proc file, in kB.
func procField(file, name string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return 0
}
