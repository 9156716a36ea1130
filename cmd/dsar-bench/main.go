// Command dsar-bench measures dsar against baselines taken in the same
// run and writes report.json and summary.md (see docs/benchmarks.md).
//
//	dsar-bench [-size full|smoke] [-out DIR] [-only a,b] [-temporal memory,postgres] [-pg URL] [-mysql URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/dsar-project/dsar/internal/bench"
	"github.com/dsar-project/dsar/internal/pgtest"
)

func main() {
	if bench.ChildWorker() { // started by the parked-workflows benchmark
		return
	}
	size := flag.String("size", "full", "full (what docs/benchmarks.md records) or smoke (seconds)")
	out := flag.String("out", "test-output/bench", "where report.json and summary.md go")
	only := flag.String("only", "", "comma-separated benchmarks to run (default all: "+strings.Join(bench.Names(), ", ")+")")
	subjects := flag.Int("subjects", 0, "the demo organisation's people, instead of the size's (for a quick look at one benchmark)")
	temporal := flag.String("temporal", bench.Memory+","+bench.Postgres, "the Temporal configurations to measure: "+bench.Memory+" (the embedded server in memory, as dsar dev runs it) and "+bench.Postgres+" (persisting to PostgreSQL, as a production cluster does); the benchmarks that go through Temporal run in each")
	breachPeople := flag.Int("breach-people", 0, "the people a breach notifies, instead of the size's")
	parked := flag.Int("parked", 0, "the requests parked in the worker whose memory is measured, instead of the size's")
	childHeap := flag.String("child-heapprofile", "", "where the parked-workflows worker writes its heap profile (after its last GC)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	pg := flag.String("pg", "", "a PostgreSQL server where the run may create databases (default DSAR_TEST_DATABASE_URL, else the local server as postgres)")
	mysqlURL := flag.String("mysql", "", "a MySQL or MariaDB server where the run may create a database (default DSAR_TEST_MYSQL_URL, else "+bench.DefaultMySQLURL+")")
	flag.Parse()
	sizes := bench.Full
	switch *size {
	case "full":
	case "smoke":
		sizes = bench.Smoke
	default:
		fmt.Fprintln(os.Stderr, "dsar-bench: -size is full or smoke")
		os.Exit(2)
	}
	if *subjects > 0 {
		sizes.Subjects = *subjects
	}
	if *breachPeople > 0 {
		sizes.BreachPeople = *breachPeople
	}
	if *parked > 0 {
		sizes.Parked = *parked
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dsar-bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	admin := *pg
	if admin == "" {
		admin = os.Getenv("DSAR_TEST_DATABASE_URL")
	}
	if admin == "" {
		admin = pgtest.DefaultAdminURL
	}
	if *mysqlURL == "" {
		*mysqlURL = os.Getenv("DSAR_TEST_MYSQL_URL")
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	rep, err := bench.Run(ctx, bench.Options{Sizes: sizes, AdminURL: admin, MySQLURL: *mysqlURL, Only: names, Temporal: strings.Split(*temporal, ","), Log: log, ChildHeapProfile: *childHeap})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dsar-bench:", err)
		os.Exit(1)
	}
	if err := rep.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dsar-bench:", err)
		os.Exit(1)
	}
	rep.Markdown(os.Stdout)
	fmt.Printf("\nreport: %s/report.json, %s/summary.md\n", *out, *out)
	if len(rep.Failures) > 0 {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
