package activities

import (
	"context"
	"fmt"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// snapshots lists each archive of the data map with its snapshots.
func (a *Fulfilment) snapshots() ([]*datamap.Archive, [][]archive.Snapshot, error) {
	if a.Systems == nil {
		return nil, nil, nil
	}
	var archives []*datamap.Archive
	var snaps [][]archive.Snapshot
	for _, ar := range a.Systems.Map.Archives {
		dir, err := ar.Dir()
		if err != nil {
			return nil, nil, err
		}
		list, err := archive.List(dir)
		if err != nil {
			return nil, nil, err
		}
		archives = append(archives, ar)
		snaps = append(snaps, list)
	}
	return archives, snaps, nil
}

// eachSnapshot loads every snapshot of every archive in turn and hands
// it to fn, with its archive; the temporary copy is removed after.
func (a *Fulfilment) eachSnapshot(ctx context.Context, fn func(*datamap.Archive, *archive.Loaded) error) error {
	archives, snaps, err := a.snapshots()
	if err != nil {
		return err
	}
	for i, ar := range archives {
		sys := a.Systems.Map.System(ar.System)
		for _, snap := range snaps[i] {
			l, err := archive.Load(ctx, sys, snap)
			if err != nil {
				return err
			}
			err = fn(ar, l)
			l.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// archivedSources finds the person in every backup snapshot, for access
// and export packages: each snapshot's rows are marked with its date.
// The snapshots stay loaded until the returned function is called.
func (a *Fulfilment) archivedSources(ctx context.Context, r *store.Request) ([]export.Source, func(), error) {
	var loaded []*archive.Loaded
	closeAll := func() {
		for _, l := range loaded {
			l.Close()
		}
	}
	archives, snaps, err := a.snapshots()
	if err != nil {
		return nil, closeAll, err
	}
	var out []export.Source
	for i, ar := range archives {
		sys := a.Systems.Map.System(ar.System)
		for _, snap := range snaps[i] {
			l, err := archive.Load(ctx, sys, snap)
			if err != nil {
				return nil, closeAll, err
			}
			found, err := l.Conn.Discover(ctx, identities(r))
			if err != nil || len(found.Tables) == 0 {
				l.Close()
				if err != nil {
					return nil, closeAll, err
				}
				continue
			}
			loaded = append(loaded, l)
			out = append(out, export.Source{Conn: l.Conn, Found: found, Snapshot: snap.Date(), Archive: ar})
		}
	}
	return out, closeAll, nil
}

// eraseArchives takes the person out of the backups. In a rewritable
// archive every snapshot holding them is rewritten without them (what the
// law keeps stays, as in the live system); in the others they remain
// until the snapshot ages out. Either way each row that went gets a
// tombstone, so restoring a snapshot does not bring them back.
func (a *Fulfilment) eraseArchives(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	results := map[string]*domain.ArchiveResult{}
	var order []string
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	err = a.eachSnapshot(ctx, func(ar *datamap.Archive, l *archive.Loaded) error {
		res, ok := results[ar.Name]
		if !ok {
			res = &domain.ArchiveResult{Archive: ar.Name, Rewritten: ar.Rewritable}
			results[ar.Name] = res
			order = append(order, ar.Name)
		}
		if !ar.Rewritable {
			found, err := l.Conn.Discover(ctx, identities(r))
			if err != nil {
				return err
			}
			if len(found.Tables) > 0 {
				res.Snapshots++
				if gone := ar.Retention.After(l.Snapshot.TakenAt); gone.After(res.GoneBy) {
					res.GoneBy = gone
				}
			}
			return nil
		}
		held, _ := heldTables(holds, r.Email, l.Conn.System())
		e, err := l.Conn.Erase(ctx, identities(r), datamap.Rules{Now: a.Now(), Held: held})
		if err != nil {
			return err
		}
		if len(e.Gone) == 0 {
			return nil
		}
		if err := a.Store.AddTombstones(ctx, a.tombstones(r, ar.System, e.Gone, a.Now())); err != nil {
			return err
		}
		if err := l.WriteBack(ctx); err != nil {
			return err
		}
		res.Snapshots++
		return nil
	})
	if err != nil {
		return fmt.Errorf("archives: %w", err)
	}
	f.Archives = nil
	for _, name := range order {
		if res := results[name]; res.Snapshots > 0 {
			f.Archives = append(f.Archives, *res)
		}
	}
	return nil
}
