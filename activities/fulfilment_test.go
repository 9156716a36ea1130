package activities_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

// TestErasureResumesAfterASystemFails: the second of two systems fails;
// the retry erases only what is left and the record still lists what the
// first system erased, so the requester's email is complete.
func TestErasureResumesAfterASystemFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	shop := "sqlite:" + filepath.Join(dir, "shop.db")
	branch := "sqlite:" + filepath.Join(dir, "branch.db")
	if _, err := demo.Prepare(ctx, shop, 5, nil); err != nil {
		t.Fatal(err)
	}
	// The map: the demo shop, and a branch office with the same schema.
	shopYAML, _, _ := strings.Cut(strings.SplitN(demo.DataMapYAML(), "systems:\n", 2)[1], "\n# Nightly backups")
	branchYAML := strings.Replace(shopYAML, "name: shop", "name: branch", 1)
	branchYAML = strings.Replace(branchYAML, "dsn_env: "+demo.DSNEnv, "dsn_env: TEST_BRANCH_DSN", 1)
	m, err := datamap.Parse("map", []byte(strings.Replace(demo.DataMapYAML(), "systems:\n", "systems:\n"+branchYAML+"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-RESUME0001", Type: domain.TypeDeletion, Status: domain.StatusCompleted,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	sealer, _ := export.NewSealer(strings.Repeat("k", 40))
	fulfil := func() error {
		systems := datamap.NewSystems(m)
		defer systems.Close()
		a := &activities.Fulfilment{Store: st, Systems: systems, Sealer: sealer, Now: func() time.Time { return now },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		_, err := a.Fulfil(ctx, r.ID)
		return err
	}

	// The branch database is not there yet: the shop is erased, the
	// branch fails.
	t.Setenv("TEST_BRANCH_DSN", "sqlite:"+filepath.Join(dir, "missing.db"))
	if err := fulfil(); err == nil {
		t.Fatal("fulfilment succeeded without the branch database")
	}
	// The branch comes back; the retry finishes the job.
	if _, err := demo.Prepare(ctx, branch, 5, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv(demo.DSNEnv, shop)
	t.Setenv("TEST_BRANCH_DSN", branch)
	if err := fulfil(); err != nil {
		t.Fatal(err)
	}
	var f domain.Fulfilment
	if ok, err := st.Fulfilment(ctx, r.ID, &f); err != nil || !ok || !f.Complete {
		t.Fatalf("fulfilment record %+v, %v", f, err)
	}
	deleted := map[string]int{}
	for _, e := range f.Erased {
		if e.Table == "customers" {
			deleted[e.System] += e.Deleted
		}
	}
	if deleted["shop"] != 1 || deleted["branch"] != 1 {
		t.Errorf("customers deleted per system: %v, want one in each (the shop's from the first attempt)", deleted)
	}
	// Running it again does nothing.
	if err := fulfil(); err != nil {
		t.Fatal(err)
	}
	var again domain.Fulfilment
	st.Fulfilment(ctx, r.ID, &again)
	if len(again.Erased) != len(f.Erased) {
		t.Errorf("a second run changed the record: %d tables, was %d", len(again.Erased), len(f.Erased))
	}
}
