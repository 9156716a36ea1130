package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// Aftercare is what remains of a deletion once the request completed:
// rows kept for a retention period and parts a legal hold deferred.
type Aftercare struct {
	// Remaining is false once nothing is left to erase.
	Remaining bool
	// Next is when to look again: the next period's end, a hold's end,
	// or a day from now while an open-ended hold stops something.
	Next time.Time
	// HoldsEnded is set once every part legal holds deferred has been
	// erased and the requester has not yet been told (mail.KindHoldReleased):
	// the purge then sends that email, at most once per request.
	HoldsEnded bool
}

// HoldRecheck is how often aftercare looks at open-ended holds, in case
// the signal of a release was lost.
const HoldRecheck = 24 * time.Hour

// Aftercare resumes deferred erasures no hold stops any more and purges
// retained rows whose period has ended (unless a hold now covers them),
// then says what remains and when to look again. Running it twice does no
// harm: what was done is recorded.
func (a *Fulfilment) Aftercare(ctx context.Context, requestID string) (Aftercare, error) {
	defer keepAlive(ctx)()
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return Aftercare{}, classify(err)
	}
	now := a.Now()
	holds, err := a.Store.Holds(ctx, true, now)
	if err != nil {
		return Aftercare{}, err
	}
	var out Aftercare
	later := func(t time.Time) {
		out.Remaining = true
		if out.Next.IsZero() || t.Before(out.Next) {
			out.Next = t
		}
	}
	// A hold that stops something: wake at its end, or daily if it has none.
	waitFor := func(holdIDs []string) {
		for _, h := range holds {
			if slices.Contains(holdIDs, h.ID) && h.EndsAt != nil {
				later(*h.EndsAt)
				continue
			}
			if slices.Contains(holdIDs, h.ID) {
				later(now.Add(HoldRecheck))
			}
		}
	}
	if err := a.resumeDeferred(ctx, r, holds, waitFor); err != nil {
		return Aftercare{}, err
	}
	if err := a.purgeRetained(ctx, r, holds, later, waitFor); err != nil {
		return Aftercare{}, err
	}
	ended, err := a.holdsEnded(ctx, r)
	if err != nil {
		return Aftercare{}, err
	}
	out.HoldsEnded = ended
	return out, nil
}

// holdsEnded reports whether the requester is owed the email saying the
// legal holds ended: every deferred part of the request was resumed,
// at least one with its outcome recorded (one resumed before dsar
// recorded outcomes had no such email), and the email was neither sent
// nor refused. It is asked of the database on every look, so an
// attempt that resumed the erasure and then failed still leads to the
// email.
func (a *Fulfilment) holdsEnded(ctx context.Context, r *store.Request) (bool, error) {
	ds, err := a.Store.DeferredAll(ctx, r.ID)
	if err != nil || len(ds) == 0 {
		return false, err
	}
	recorded := false
	for _, d := range ds {
		if d.ResumedAt == nil {
			return false, nil
		}
		recorded = recorded || d.Outcome != nil
	}
	if !recorded || r.MailFailedStep == string(mail.KindHoldReleased) {
		return false, nil
	}
	sent, err := a.Store.EmailSent(ctx, r.ID, string(mail.KindHoldReleased))
	return !sent, err
}

// resumeDeferred erases again, under today's holds, every system where a
// hold deferred part of the deletion and the holds have changed since.
func (a *Fulfilment) resumeDeferred(ctx context.Context, r *store.Request, holds []store.LegalHold, waitFor func([]string)) error {
	deferred, err := a.Store.Deferred(ctx, r.ID)
	if err != nil || len(deferred) == 0 {
		return err
	}
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	for _, d := range deferred {
		c := connectorOf(conns, d.SystemName)
		if c == nil {
			return fmt.Errorf("system %s, where erasure was deferred, is no longer in the data map", d.SystemName)
		}
		held, holdIDs := heldTables(holds, r.Email, c.System())
		if slices.Equal(held, d.Tables) {
			if !slices.Equal(holdIDs, d.HoldIDs) { // other holds keep the same tables
				d.HoldIDs = holdIDs
				if err := a.Store.Defer(ctx, d); err != nil {
					return err
				}
			}
			waitFor(holdIDs)
			continue
		}
		var tables []domain.ErasedTable
		var stillHeld int
		if r.Type == domain.TypeOptOut {
			tables, stillHeld, err = a.resumeOptOut(ctx, r, c, held, holdIDs)
		} else {
			tables, stillHeld, err = a.resumeErasure(ctx, r, c, holds)
		}
		if err != nil {
			return err
		}
		var done, retained int
		for _, t := range tables {
			done += t.Deleted + t.Masked
			retained += t.Retained
		}
		if err := a.Store.SaveOutcome(ctx, r.ID, d.SystemName, tables); err != nil {
			return err
		}
		if stillHeld > 0 {
			waitFor(holdIDs)
		} else if err := a.Store.Resumed(ctx, r.ID, d.SystemName, a.Now()); err != nil {
			return err
		}
		detail := fmt.Sprintf("legal hold lifted in system %s: erased %s", d.SystemName, count(done, "row"))
		if retained > 0 {
			detail += fmt.Sprintf(", retained %d by law", retained)
		}
		if stillHeld > 0 {
			detail += fmt.Sprintf("; %d still held", stillHeld)
		}
		if err := a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem, Action: "erasure resumed", Detail: detail, At: a.Now()}); err != nil {
			return err
		}
	}
	return nil
}

// resumeErasure erases the person in a system again under today's
// holds, and the backups with it: what it did per table, and how many
// rows a hold still keeps.
func (a *Fulfilment) resumeErasure(ctx context.Context, r *store.Request, c datamap.Connector, holds []store.LegalHold) ([]domain.ErasedTable, int, error) {
	erasure, err := a.eraseSystem(ctx, r, c, holds)
	if err != nil {
		return nil, 0, err
	}
	var stillHeld int
	for _, t := range erasure.Tables {
		stillHeld += t.Held
	}
	// The backups held the same rows back; they go now too.
	var scratch domain.Fulfilment
	if err := a.eraseArchives(ctx, r, &scratch); err != nil {
		return nil, 0, err
	}
	return erasure.Tables, stillHeld, nil
}

// resumeOptOut applies an opt-out again under today's holds, as a
// resumed deletion erases again: the rows a hold kept from deletion go
// now, and the columns it sets are set again. Only what it deleted
// counts as erased.
func (a *Fulfilment) resumeOptOut(ctx context.Context, r *store.Request, c datamap.Connector, held, holdIDs []string) ([]domain.ErasedTable, int, error) {
	now := a.Now()
	done, err := c.OptOut(ctx, identities(r), held, func(done []datamap.OptedOut) error {
		return a.optedOut(ctx, r, c.System().Name, done, held, holdIDs, now)
	})
	if err != nil {
		return nil, 0, err
	}
	var tables []domain.ErasedTable
	for _, o := range done {
		if o.Deleted && o.Rows > 0 {
			tables = append(tables, domain.ErasedTable{System: o.System, Table: o.Table, Deleted: o.Rows})
		}
	}
	return tables, heldOptOut(done), nil
}

// purgeRetained erases the retained rows whose period has ended, table by
// table, leaving those a hold now covers (directly, or because a held
// table refers to them). A row something still refers to stays and is
// looked at again a day later.
func (a *Fulfilment) purgeRetained(ctx context.Context, r *store.Request, holds []store.LegalHold, later func(time.Time), waitFor func([]string)) error {
	rows, err := a.Store.RetainedRows(ctx, r.ID)
	if err != nil {
		return err
	}
	now := a.Now()
	var due []store.RetainedRow
	for _, row := range rows {
		switch {
		case row.PurgedAt != nil:
		case row.Until.After(now):
			later(row.Until)
		default:
			due = append(due, row)
		}
	}
	if len(due) == 0 {
		return nil
	}
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	bySystem := map[string][]store.RetainedRow{}
	for _, row := range due {
		bySystem[row.SystemName] = append(bySystem[row.SystemName], row)
	}
	for _, system := range slices.Sorted(maps.Keys(bySystem)) {
		c := connectorOf(conns, system)
		if c == nil {
			return fmt.Errorf("system %s, where rows are retained, is no longer in the data map", system)
		}
		held, holdIDs := heldTables(holds, r.Email, c.System())
		closure := c.System().HeldClosure(held)
		keys := map[string][][]any{}
		var rowsDue []store.RetainedRow
		for _, row := range bySystem[system] {
			if closure[row.TableName] {
				waitFor(holdIDs)
				continue
			}
			key, err := parseRowKey(row.RowKey)
			if err != nil {
				return fmt.Errorf("retained row %d: %w", row.ID, err)
			}
			keys[row.TableName] = append(keys[row.TableName], key)
			rowsDue = append(rowsDue, row)
		}
		if len(rowsDue) == 0 {
			continue
		}
		e, err := c.Purge(ctx, keys)
		if err != nil {
			return err
		}
		if err := a.Store.AddTombstones(ctx, a.tombstones(r, system, e.Gone, now)); err != nil {
			return err
		}
		stayed := map[string]bool{}
		for _, g := range e.Stayed {
			stayed[g.Table+"/"+store.RowKeyJSON(g.Key)] = true
		}
		var done []int64
		for _, row := range rowsDue {
			key, _ := parseRowKey(row.RowKey)
			if stayed[row.TableName+"/"+store.RowKeyJSON(key)] {
				later(now.Add(HoldRecheck)) // referenced still: look again tomorrow
				continue
			}
			done = append(done, row.ID) // erased, or already gone from the source
		}
		if err := a.Store.MarkPurged(ctx, done, now); err != nil {
			return err
		}
		var parts []string
		for _, res := range e.Tables {
			part := fmt.Sprintf("%s.%s: %d deleted, %d masked", system, res.Table, res.Deleted, res.Masked)
			if res.Kept > 0 {
				part += fmt.Sprintf(", %d still referenced (kept for now)", res.Kept)
			}
			parts = append(parts, part)
		}
		detail := "retention period ended; " + strings.Join(parts, "; ")
		if err := a.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: store.ActorSystem, Action: "retained rows purged", Detail: detail, At: now}); err != nil {
			return err
		}
	}
	return nil
}

func connectorOf(conns []datamap.Connector, system string) datamap.Connector {
	for _, c := range conns {
		if c.System().Name == system {
			return c
		}
	}
	return nil
}

// parseRowKey reads a stored primary key back, integers as int64 so they
// bind as the database's own.
func parseRowKey(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var key []any
	if err := dec.Decode(&key); err != nil {
		return nil, err
	}
	for i, v := range key {
		if n, ok := v.(json.Number); ok {
			if x, err := n.Int64(); err == nil {
				key[i] = x
			} else {
				key[i] = n.String()
			}
		}
	}
	return key, nil
}
