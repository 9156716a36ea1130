package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
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

// planless is a kind of system that can erase and correct but cannot
// show a change before making it: an SQL database whose connector
// answers ErrNoPlan.
type planless struct{ *datamap.SQLConnector }

func (planless) PlanErase(context.Context, datamap.Identities, datamap.Rules) (*datamap.Erasure, error) {
	return nil, datamap.ErrNoPlan
}

func (planless) PlanCorrect(context.Context, datamap.Identities, []datamap.Change) ([]datamap.PlannedChange, error) {
	return nil, datamap.ErrNoPlan
}

func init() {
	name := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	datamap.Register(&datamap.Driver{
		Kind:       "planless",
		SystemKeys: []string{"name", "kind", "dsn_env", "tables"},
		TablesKey:  "tables",
		TableKeys:  []string{"name", "primary_key", "identities", "columns", "references", "correctable", "erase", "retain", "opt_out"},
		Column:     name.MatchString,
		Open: func(s *datamap.System) (datamap.Connector, error) {
			dsn, err := s.DSN()
			if err != nil {
				return nil, err
			}
			db, kind, err := datamap.OpenSQL(dsn)
			if err != nil {
				return nil, err
			}
			return planless{datamap.NewSQLConnector(s, db, kind)}, nil
		},
	})
}

// TestDryRunSaysWhichSystemsItCannotShow: beside the demo shop, a system
// whose kind cannot plan is listed as not shown, with why; the shop's
// tables are planned, and nothing is changed.
func TestDryRunSaysWhichSystemsItCannotShow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	shop := "sqlite:" + filepath.Join(dir, "shop.db")
	branch := "sqlite:" + filepath.Join(dir, "branch.db")
	for _, dsn := range []string{shop, branch} {
		if _, err := demo.Prepare(ctx, dsn, 5, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(demo.DSNEnv, shop)
	t.Setenv("TEST_BRANCH_DSN", branch)
	shopYAML, _, _ := strings.Cut(strings.SplitN(demo.DataMapYAML(), "systems:\n", 2)[1], "\n# Nightly backups")
	branchYAML := strings.Replace(shopYAML, "name: shop", "name: branch", 1)
	branchYAML = strings.Replace(branchYAML, "kind: sqlite", "kind: planless", 1)
	branchYAML = strings.Replace(branchYAML, "dsn_env: "+demo.DSNEnv, "dsn_env: TEST_BRANCH_DSN", 1)
	m, err := datamap.Parse("map", []byte(strings.Replace(demo.DataMapYAML(), "systems:\n", "systems:\n"+branchYAML+"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-PLANLESS01", Type: domain.TypeDeletion, Status: domain.StatusInReview,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	sealer, _ := export.NewSealer(strings.Repeat("k", 40))
	systems := datamap.NewSystems(m)
	defer systems.Close()
	a := &activities.Fulfilment{Store: st, Systems: systems, Sealer: sealer, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := a.DryRun(ctx, activities.DryRunInput{RequestID: r.ID, ID: "d1", Actor: "grace@example.org"}); err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetDryRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sealer.OpenBlob(stored.KeyID, store.DryRunBlobName(r.ID, "d1"), stored.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.Sealed), "ada@example.com") {
		t.Error("the dry run is stored in clear")
	}
	var d domain.DryRun
	if err := json.Unmarshal(plain, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Unplanned) != 1 || d.Unplanned[0].System != "branch" || !strings.Contains(d.Unplanned[0].Reason, "cannot show what would change") {
		t.Errorf("systems not shown: %+v, want the branch, saying why", d.Unplanned)
	}
	shopTables := 0
	for _, tb := range d.Tables {
		if tb.System != "shop" {
			t.Errorf("planned %s.%s, which the dry run cannot show", tb.System, tb.Table)
		}
		shopTables++
	}
	if shopTables == 0 {
		t.Error("the shop's tables are not in the dry run")
	}

	// A correction whose phone number is none is refused by name, its
	// value not repeated.
	c := &store.Request{ID: "DSR-PLANLESS02", Type: domain.TypeCorrection, Status: domain.StatusInReview,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30),
		Corrections: []domain.Correction{{Field: "phone", Value: "06 1234 5678"}}}
	if err := st.CreateRequest(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	err = a.DryRun(ctx, activities.DryRunInput{RequestID: c.ID, ID: "d2", Actor: "grace@example.org"})
	if err == nil || !strings.Contains(err.Error(), "the correction of phone cannot be written") || strings.Contains(err.Error(), "06 1234 5678") {
		t.Errorf("dry run of an unwritable phone number: %v", err)
	}
	if _, err := st.GetDryRun(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused dry run was stored: %v", err)
	}
}
