package activities

import (
	"context"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// optOut applies the data map's opt-out actions to the person's rows,
// system by system, recording each finished system as erase does. Every
// row it changed gets a tombstone of kind opt_out, written before the
// system's transaction commits, so a backup restored later is opted out
// too. Rows a legal hold covers are not deleted: the opt-out is deferred
// there, like a deletion, and the request's purge deletes them once the
// hold ends.
func (a *Fulfilment) optOut(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	ids := identities(r)
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	return a.eachSystem(ctx, r.ID, f, func(c datamap.Connector) (bool, error) {
		held, holdIDs := heldTables(holds, r.Email, c.System())
		done, err := c.OptOut(ctx, ids, held, func(done []datamap.OptedOut) error {
			return a.optedOut(ctx, r, c.System().Name, done, held, holdIDs, a.Now())
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

// optedOut records, before an opt-out's transaction commits, the
// tombstones of the rows it changed and, when a hold kept rows from
// deletion, the deferral the request's purge resumes.
func (a *Fulfilment) optedOut(ctx context.Context, r *store.Request, system string, done []datamap.OptedOut, held, holdIDs []string, now time.Time) error {
	if err := a.Store.AddTombstones(ctx, archive.OptOutTombstones(r.ID, done, a.Sealer.Hash, now)); err != nil {
		return err
	}
	if heldOptOut(done) == 0 {
		return nil
	}
	return a.Store.Defer(ctx, store.DeferredErasure{RequestID: r.ID, SystemName: system, HoldIDs: holdIDs, Tables: held, DeferredAt: now})
}

// heldOptOut counts the rows a hold kept from an opt-out's deletion.
func heldOptOut(done []datamap.OptedOut) int {
	n := 0
	for _, o := range done {
		n += o.Held
	}
	return n
}
