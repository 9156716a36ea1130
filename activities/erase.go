package activities

import (
	"context"
	"slices"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// erase erases the person's rows system by system, each in one
// transaction, respecting retention rules and legal holds. Each finished
// system is recorded, so if a later one fails the retry goes on from
// there and the email still lists them all.
func (a *Fulfilment) erase(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	err = a.eachSystem(ctx, r.ID, f, func(c datamap.Connector) (bool, error) {
		erasure, err := a.eraseSystem(ctx, r, c, holds)
		if err != nil {
			return false, err
		}
		f.Erased = append(f.Erased, erasure.Tables...)
		for _, t := range erasure.Tables {
			f.Rows += t.Deleted + t.Masked + t.Kept + t.Retained + t.Held
		}
		return len(erasure.Tables) > 0, nil
	})
	if err != nil {
		return err
	}
	return a.eraseArchives(ctx, r, f)
}

// eraseSystem erases the person in one system under the holds in force.
// Before the system's transaction commits, dsar records the rows kept for
// their retention period, the tombstones of what went, and any part a
// hold deferred, so nothing is erased without its record.
func (a *Fulfilment) eraseSystem(ctx context.Context, r *store.Request, c datamap.Connector, holds []store.LegalHold) (*datamap.Erasure, error) {
	held, holdIDs := heldTables(holds, r.Email, c.System())
	now := a.Now()
	rules := datamap.Rules{Now: now, Held: held, BeforeCommit: func(e *datamap.Erasure) error {
		var keep []store.RetainedRow
		for _, row := range e.Retained {
			keep = append(keep, store.RetainedRow{
				RequestID: r.ID, SystemName: c.System().Name, TableName: row.Table,
				RowKey: store.RowKeyJSON(row.Key), Basis: c.System().Table(row.Table).Retain.Basis, Until: row.Until,
			})
		}
		if err := a.Store.RetainRows(ctx, keep); err != nil {
			return err
		}
		if err := a.Store.AddTombstones(ctx, a.tombstones(r, c.System().Name, e.Gone, now)); err != nil {
			return err
		}
		heldRows := 0
		for _, t := range e.Tables {
			heldRows += t.Held
		}
		if heldRows > 0 {
			return a.Store.Defer(ctx, store.DeferredErasure{RequestID: r.ID, SystemName: c.System().Name, HoldIDs: holdIDs, Tables: held, DeferredAt: now})
		}
		return nil
	}}
	return c.Erase(ctx, identities(r), rules)
}

// tombstones are the keyed hashes a restored backup is checked against.
func (a *Fulfilment) tombstones(r *store.Request, system string, gone []datamap.GoneRow, now time.Time) []store.Tombstone {
	return archive.Tombstones(r.ID, system, r.Email, gone, a.Sealer.Hash, now)
}

// heldTables lists the system's tables the holds cover for the person,
// and the holds that cover them.
func heldTables(holds []store.LegalHold, email string, s *datamap.System) (tables, holdIDs []string) {
	for _, h := range holds {
		covered := false
		for _, t := range s.Tables {
			if h.Covers(email, s.Name, t.Name) {
				covered = true
				if !slices.Contains(tables, t.Name) {
					tables = append(tables, t.Name)
				}
			}
		}
		if covered {
			holdIDs = append(holdIDs, h.ID)
		}
	}
	return tables, holdIDs
}
