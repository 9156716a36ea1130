package bench

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
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
	rep, err := Run(context.Background(), Options{Sizes: Smoke, AdminURL: admin, MySQLURL: os.Getenv("DSAR_TEST_MYSQL_URL"), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if len(rep.Results) != len(Names()) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(Names()))
	}
	for _, r := range rep.Results {
		if len(r.Figures) == 0 || len(r.BaselineFigures) == 0 || r.Ratio <= 0 {
			t.Errorf("%s: figures %+v, baseline %+v, ratio %v", r.Name, r.Figures, r.BaselineFigures, r.Ratio)
		}
		for _, f := range append(r.Figures, r.BaselineFigures...) {
			if !(f.Value > 0) && !strings.Contains(f.Name, "growth") {
				t.Errorf("%s: %s is %v", r.Name, f.Name, f.Value)
			}
		}
	}
	dir := t.TempDir()
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil || !strings.Contains(string(md), "| intake |") || !strings.Contains(string(md), "PostgreSQL") {
		t.Errorf("summary.md: %v\n%s", err, md)
	}
}
