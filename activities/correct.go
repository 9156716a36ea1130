package activities

import (
	"context"
	"slices"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// correct maps each requested correction to a category and writes it,
// normalised for the category (an E.164 phone number), to every
// correctable column of that category in the person's rows, system by
// system, recording each finished system as erase does.
func (a *Fulfilment) correct(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	changes, field, unmatched, err := a.changes(r, false)
	if err != nil {
		return err
	}
	f.Unmatched = unmatched
	ids := identities(r)
	err = a.eachSystem(ctx, r.ID, f, func(c datamap.Connector) (bool, error) {
		changed, err := c.Correct(ctx, ids, changes)
		if err != nil {
			return false, err
		}
		if err := a.recordCorrections(ctx, r.ID, changed); err != nil {
			return false, err
		}
		for _, ch := range changed {
			col := ch.CorrectedColumn
			col.Field = field[ch.Category]
			f.Corrected = append(f.Corrected, col)
			f.Rows += ch.Rows
		}
		return len(changed) > 0, nil
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		reached := slices.ContainsFunc(f.Corrected, func(c domain.CorrectedColumn) bool {
			return c.Category == ch.Category && (c.Rows > 0 || c.Shared > 0)
		})
		if !reached {
			f.Unmatched = append(f.Unmatched, field[ch.Category])
		}
	}
	return nil
}

// recordCorrections keeps each corrected value, sealed, against the
// keyed hash of its row, so `dsar archive restore` corrects a backup too.
func (a *Fulfilment) recordCorrections(ctx context.Context, requestID string, changed []datamap.Changed) error {
	var out []store.RecordedCorrection
	for _, ch := range changed {
		for _, key := range ch.Keys {
			hash := archive.RowHash(a.Sealer.Hash, ch.System, ch.Table, key)
			keyID, sealed := a.Sealer.SealBlob(archive.CorrectionName(ch.System, ch.Table, ch.Column, hash), []byte(ch.Value))
			out = append(out, store.RecordedCorrection{
				RequestID: requestID, SystemName: ch.System, TableName: ch.Table, KeyHash: hash,
				ColumnName: ch.Column, KeyID: keyID, Value: sealed, CorrectedAt: a.Now(),
			})
		}
	}
	return a.Store.RecordCorrections(ctx, out)
}
