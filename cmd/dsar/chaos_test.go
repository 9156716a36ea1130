package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/chaos"
	"github.com/dsar-project/dsar/internal/pgtest"
)

// TestChaosShort is `make chaos` in small: the production topology as
// separate processes (this test binary runs as dsar: a Temporal server on
// PostgreSQL, two workers, two web servers), under load of every request
// type and a breach fan-out, with one fault of each kind. Every request
// reaches its end, every email goes out once, the breach reaches everyone
// once, and no one else's rows change. The logs of every process are in
// test-output/chaos/short.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs seven processes for about a minute")
	}
	admin := os.Getenv("DSAR_TEST_DATABASE_URL")
	if admin == "" {
		admin = pgtest.DefaultAdminURL
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "test-output", "chaos", "short"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// Everything below is bounded well inside the package's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var progress strings.Builder
	rep, err := chaos.Run(ctx, chaos.Options{
		Dsar: []string{exe}, Env: []string{runMainEnv + "=1"}, AdminURL: admin, Dir: dir,
		FaultsPerKind: 1, Interval: 3 * time.Second, Concurrency: 3,
		People: 1200, BreachRate: 200, HangFor: 4 * time.Second, Drain: 60 * time.Second,
		Log: &progress,
	})
	if errors.Is(err, chaos.ErrNoPostgres) && os.Getenv("CI") == "" {
		t.Skipf("no PostgreSQL to run on: %v", err)
	}
	if err != nil {
		t.Fatalf("the chaos run could not be made: %v\nprogress:\n%s\nlogs in %s", err, progress.String(), dir)
	}
	t.Logf("progress:\n%s\n%s", progress.String(), rep.Summary())
	for _, k := range chaos.Kinds {
		if rep.Faults[k] != 1 {
			t.Errorf("%d faults of kind %s injected, want 1", rep.Faults[k], k)
		}
	}
	for _, typ := range []string{"access", "deletion", "correction", "export", "opt_out"} {
		if rep.ByType[typ] == 0 {
			t.Errorf("no %s request was made", typ)
		}
	}
	// A deletion carried out before the breach counts its people removes
	// that person from the shop, and from the breach.
	if n, erased := rep.BreachRecipients, rep.ByType["deletion"]; n > 1200 || n < 1200-erased {
		t.Errorf("the breach counted %d people affected, want the shop's 1200 less up to the %d erased meanwhile", n, erased)
	}
	if rep.OthersRows == 0 {
		t.Error("no row of anyone without a request was checked")
	}
	if !rep.OK() {
		t.Errorf("the run found problems (logs in %s):\n%s", dir, rep.Summary())
	}
}
