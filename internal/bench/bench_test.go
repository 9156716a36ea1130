package bench

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/mysqltest"
	"github.com/dsar-project/dsar/internal/pgtest"
)

func TestMain(m *testing.M) {
	if ChildWorker() { // the parked-workflows benchmark re-runs this binary as its worker
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs every benchmark at tiny sizes, so the benchmark code
// keeps working; the figures themselves mean nothing here.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke benchmarks start a whole dsar")
	}
	admin := os.Getenv("DSAR_TEST_DATABASE_URL")
	if admin == "" {
		admin = pgtest.DefaultAdminURL
	}
	pgtest.NewDatabase(t)    // skips (or fails under CI) without PostgreSQL
	mysqltest.NewDatabase(t) // and without MySQL
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := Run(context.Background(), Options{Sizes: Smoke, AdminURL: admin, MySQLURL: os.Getenv("DSAR_TEST_MYSQL_URL"), Temporal: []string{Memory}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	check(t, rep, Names())
	// The production configuration differs in the Temporal server only;
	// intake keeps its set-up working without doubling the smoke run.
	prod, err := Run(context.Background(), Options{Sizes: Smoke, AdminURL: admin, Only: []string{"intake"}, Temporal: []string{Postgres}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	check(t, prod, []string{"intake"})
	for _, r := range prod.Results {
		if r.Temporal != Postgres {
			t.Errorf("%s measured Temporal %q, want %q", r.Name, r.Temporal, Postgres)
		}
	}
	rep.Results = append(rep.Results, prod.Results...)
	rep.Machine.Configurations = []string{Memory, Postgres}
	dir := t.TempDir()
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil || !strings.Contains(string(md), "| intake |") || !strings.Contains(string(md), configurationTitle[Postgres]) {
		t.Errorf("summary.md: %v\n%s", err, md)
	}
}

// check fails t unless rep has a result for each of names, with figures.
func check(t *testing.T, rep *Report, names []string) {
	t.Helper()
	for _, f := range rep.Failures {
		t.Error(f)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Name)
		if len(r.Figures) == 0 || len(r.BaselineFigures) == 0 || r.Ratio <= 0 {
			t.Errorf("%s: figures %+v, baseline %+v, ratio %v", r.Name, r.Figures, r.BaselineFigures, r.Ratio)
		}
		for _, f := range append(r.Figures, r.BaselineFigures...) {
			// A growth, or resident memory the runtime handed back to the
			// system, may be nothing or less at smoke sizes.
			if !(f.Value > 0) && !strings.Contains(f.Name, "growth") && !strings.Contains(f.Name, "RSS") {
				t.Errorf("%s: %s is %v", r.Name, f.Name, f.Value)
			}
		}
	}
	if !slices.Equal(got, names) {
		t.Fatalf("results %v, want %v", got, names)
	}
}
