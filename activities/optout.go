package activities

import (
	"context"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// optOut applies the data map's opt-out actions to the person's rows,
// system by system, recording each finished system as erase does. Every
// row it changed gets a tombstone of kind opt_out, written before the
// system's transaction commits, so a backup restored later is opted out
// too. Rows a legal hold covers are not deleted.
func (a *Fulfilment) optOut(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	ids := identities(r)
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	return a.eachSystem(ctx, r.ID, f, func(c datamap.Connector) (bool, error) {
		held, _ := heldTables(holds, r.Email, c.System())
		done, err := c.OptOut(ctx, ids, held, func(done []datamap.OptedOut) error {
			return a.Store.AddTombstones(ctx, archive.OptOutTombstones(r.ID, done, a.Sealer.Hash, a.Now()))
		})
		if err != nil {
			return false, err
		}
		for _, o := range done {
			f.OptedOut = append(f.OptedOut, o.OptedOutTable)
			f.Rows += o.Rows
		}
		return len(done) > 0, nil
	})
}
