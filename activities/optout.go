package activities

import (
	"context"
	"slices"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// optOut applies the data map's opt-out actions to the person's rows,
// system by system, recording each finished system as erase does. Every
// row it changed gets a tombstone of kind opt_out, written before the
// system is recorded done, so a backup restored later is opted out too.
func (a *Fulfilment) optOut(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	ids := identities(r)
	for _, c := range conns {
		if slices.Contains(f.SystemsDone, c.System.Name) {
			continue
		}
		done, err := c.OptOut(ctx, ids)
		if err != nil {
			return err
		}
		if err := a.Store.AddTombstones(ctx, archive.OptOutTombstones(r.ID, done, a.Sealer.Hash, a.Now())); err != nil {
			return err
		}
		if len(done) > 0 {
			f.Systems++
		}
		for _, o := range done {
			f.OptedOut = append(f.OptedOut, o.OptedOutTable)
			f.Rows += o.Rows
		}
		if err := a.systemDone(ctx, r.ID, c.System.Name, f); err != nil {
			return err
		}
	}
	return nil
}
