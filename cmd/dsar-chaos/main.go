// Command dsar-chaos runs dsar's production topology on this machine, as
// separate processes, under steady load, kills and restarts them, cuts
// dsar's database connections and makes SendGrid fail, then checks that
// every request reached its end, every email went out once, and no one
// else's rows were touched. `make chaos` runs it in full; docs/reliability.md
// says what it does and records a run.
//
//	dsar-chaos -dsar bin/dsar [-faults 20] [-out test-output/chaos]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dsar-project/dsar/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dsar-chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dsar := flag.String("dsar", "bin/dsar", "the dsar binary to run (make build writes bin/dsar)")
	out := flag.String("out", "test-output/chaos/full", "the run directory: every process's log, the data map, report.txt and report.json (emptied first)")
	db := flag.String("db", envOr("DSAR_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "a PostgreSQL server to create the run's databases on (dropped after)")
	faults := flag.Int("faults", 20, "faults of each kind")
	interval := flag.Duration("interval", 3*time.Second, "mean time between two faults")
	concurrency := flag.Int("concurrency", 6, "requests in flight at once")
	people := flag.Int("people", 3000, "people in the demo shop (each request comes from another; the breach reaches all)")
	breachRate := flag.Int("breach-rate", 40, "breach notices a second (DSAR_BREACH_RATE)")
	hang := flag.Duration("hang", 15*time.Second, "how long SendGrid hangs before dropping the connection")
	drain := flag.Duration("drain", 5*time.Minute, "how long to wait after the last fault for every request and the breach to end")
	keep := flag.Bool("keep", false, "keep the databases after the run")
	flag.Parse()
	exe, err := filepath.Abs(*dsar)
	if err != nil {
		return err
	}
	if _, err := os.Stat(exe); err != nil {
		return fmt.Errorf("%w (build it with make build)", err)
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	rep, err := chaos.Run(ctx, chaos.Options{
		Dsar: []string{exe}, AdminURL: *db, Dir: *out,
		FaultsPerKind: *faults, Interval: *interval, Concurrency: *concurrency,
		People: *people, BreachRate: *breachRate, HangFor: *hang, Drain: *drain, Keep: *keep,
		Log: os.Stdout,
	})
	if rep != nil {
		fmt.Print("\n", rep.Summary())
	}
	if err != nil {
		return err
	}
	fmt.Printf("logs and report in %s\n", *out)
	if !rep.OK() {
		return errors.New("the run found problems")
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
