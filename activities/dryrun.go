package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// ErrTypeInvalidCorrection is returned when a correction's value cannot
// be written in its category's form (a phone number that is none): the
// officer must deny the request or have the requester submit it again.
const ErrTypeInvalidCorrection = "InvalidCorrection"

// DryRunInput asks for a dry run of a request's deletion or correction.
// ID is made by the caller, so a retried activity stores it once.
type DryRunInput struct {
	RequestID string
	ID        string
	Actor     string
}

// DryRun works out what approving the request's deletion or correction
// would do in every system dsar reaches itself, changing nothing, and
// stores the plan sealed (it lists values) in place of the one before,
// with an audit entry that counts it. The workflow keeps only its ID.
func (a *Fulfilment) DryRun(ctx context.Context, in DryRunInput) error {
	defer keepAlive(ctx)()
	r, err := a.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return classify(err)
	}
	now := a.Now().UTC()
	plan := domain.DryRun{ID: in.ID, RequestID: r.ID, Type: r.Type, CreatedAt: now, CreatedBy: in.Actor}
	if a.Systems == nil {
		plan.NoDataMap = true
	} else {
		for _, s := range a.Systems.Map.Systems {
			if s.Kind == datamap.KindWebhook || s.Kind == datamap.KindManual {
				plan.Others = append(plan.Others, domain.OtherSystem{System: s.Name, Kind: string(s.Kind)})
			}
		}
		conns, err := a.connectors()
		if err != nil {
			return err
		}
		switch r.Type {
		case domain.TypeDeletion:
			err = a.planErase(ctx, r, conns, &plan)
		case domain.TypeCorrection:
			err = a.planCorrect(ctx, r, conns, &plan)
		default:
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("a %s request has no dry run", r.Type), ErrTypeInvalidCorrection, nil)
		}
		if err != nil {
			return err
		}
	}
	plain, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	keyID, sealed := a.Sealer.SealBlob(store.DryRunBlobName(r.ID, in.ID), plain)
	return a.Store.SaveDryRun(ctx, store.DryRun{
		RequestID: r.ID, ID: in.ID, KeyID: keyID, Sealed: sealed, CreatedAt: now, CreatedBy: in.Actor,
	}, plan.Summary())
}

// planErase plans the erasure in each system under the holds in force,
// as erase would carry it out.
func (a *Fulfilment) planErase(ctx context.Context, r *store.Request, conns []datamap.Connector, plan *domain.DryRun) error {
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	for _, c := range conns {
		held, _ := heldTables(holds, r.Email, c.System())
		e, err := c.PlanErase(ctx, identities(r), datamap.Rules{Now: a.Now(), Held: held})
		if errors.Is(err, datamap.ErrNoPlan) {
			plan.Unplanned = append(plan.Unplanned, domain.UnplannedSystem{System: c.System().Name, Reason: err.Error()})
			continue
		}
		if err != nil {
			return err
		}
		plan.Tables = append(plan.Tables, e.Tables...)
	}
	return nil
}

// planCorrect plans the correction in each system, with the values
// normalised as they would be written; a value that cannot be is refused.
func (a *Fulfilment) planCorrect(ctx context.Context, r *store.Request, conns []datamap.Connector, plan *domain.DryRun) error {
	changes, field, unmatched, err := a.changes(r, true)
	if err != nil {
		return err
	}
	plan.Unmatched = unmatched
	for _, c := range conns {
		planned, err := c.PlanCorrect(ctx, identities(r), changes)
		if errors.Is(err, datamap.ErrNoPlan) {
			plan.Unplanned = append(plan.Unplanned, domain.UnplannedSystem{System: c.System().Name, Reason: err.Error()})
			continue
		}
		if err != nil {
			return err
		}
		for _, p := range planned {
			col := p.CorrectedColumn
			col.Field = field[p.Category]
			plan.Columns = append(plan.Columns, domain.DryRunColumn{CorrectedColumn: col, Before: p.Before, After: p.After})
		}
	}
	for _, ch := range changes {
		reached := false
		for _, c := range plan.Columns {
			reached = reached || (c.Category == ch.Category && (c.Rows > 0 || c.Shared > 0))
		}
		if !reached && len(plan.Unplanned) == 0 {
			plan.Unmatched = append(plan.Unmatched, field[ch.Category])
		}
	}
	return nil
}

// changes maps each requested correction to a category, with its value
// normalised for the category (PhoneRegion): field maps a category back
// to the requester's field, unmatched lists fields no category answers.
// strict refuses a value that cannot be normalised, naming the field but
// not the value (errors reach the workflow's history); otherwise such a
// value is written as the requester typed it, as before dry runs.
func (a *Fulfilment) changes(r *store.Request, strict bool) (changes []datamap.Change, field map[string]string, unmatched []string, err error) {
	field = map[string]string{}
	for _, c := range r.Corrections {
		cat, ok := domain.CorrectionCategory(c.Field)
		if !ok {
			unmatched = append(unmatched, c.Field)
			continue
		}
		v, err := domain.NormaliseValue(cat, c.Value, a.PhoneRegion)
		if err != nil {
			if strict {
				return nil, nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the correction of %s cannot be written: %v", c.Field, err), ErrTypeInvalidCorrection, nil)
			}
			v = c.Value
		}
		changes = append(changes, datamap.Change{Category: cat, Value: v})
		field[cat] = c.Field
	}
	return changes, field, unmatched, nil
}

// ConfirmDryRun records that the officer who approved the request
// confirmed the dry run with the ID.
func (a *Fulfilment) ConfirmDryRun(ctx context.Context, requestID, id, actor string) error {
	return a.Store.ConfirmDryRun(ctx, requestID, id, actor, a.Now())
}
