package activities

import (
	"context"
	"encoding/json"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// ErrTypeNotAwaitingRelease is returned when a package is withheld from
// or released while the request has none waiting.
const ErrTypeNotAwaitingRelease = "NotAwaitingRelease"

// Withholding is what an officer withholds from a package awaiting
// release: a whole table, some rows or some columns, with the reason the
// requester reads. ID makes recording it idempotent.
type Withholding struct {
	RequestID string
	ID        string
	System    string
	Table     string
	Rows      []json.RawMessage
	Columns   []string
	Reason    string
	Actor     string
}

// Withhold records a withholding and rebuilds the package without it
// (and without everything withheld before), replacing the previous
// package, so what the officer previews next is exactly what the
// requester will download.
func (a *Fulfilment) Withhold(ctx context.Context, w Withholding) (domain.PackageInfo, error) {
	defer keepAlive(ctx)()
	err := a.Store.AddWithhold(ctx, store.Withhold{
		ID: w.ID, RequestID: w.RequestID, SystemName: w.System, Table: w.Table,
		RowKeys: w.Rows, ColumnNames: w.Columns, Reason: w.Reason, Actor: w.Actor, WithheldAt: a.Now(),
	})
	if err != nil {
		return domain.PackageInfo{}, err
	}
	r, err := a.Store.GetRequest(ctx, w.RequestID)
	if err != nil {
		return domain.PackageInfo{}, classify(err)
	}
	var f domain.Fulfilment
	if _, err := a.Store.Fulfilment(ctx, r.ID, &f); err != nil {
		return domain.PackageInfo{}, err
	}
	if f.Package == nil || r.ReleasedAt != nil {
		return domain.PackageInfo{}, temporal.NewNonRetryableApplicationError("the request has no package awaiting release", ErrTypeNotAwaitingRelease, nil)
	}
	others, err := a.others(ctx, r.ID)
	if err != nil {
		return domain.PackageInfo{}, err
	}
	f.Systems, f.Rows = 0, 0
	if err := a.buildPackage(ctx, r, others, &f); err != nil {
		return domain.PackageInfo{}, err
	}
	if err := a.Store.SaveFulfilment(ctx, r.ID, f, a.Now()); err != nil {
		return domain.PackageInfo{}, err
	}
	if err := a.Store.DeleteOtherPackages(ctx, r.ID, f.Package.ID); err != nil {
		return domain.PackageInfo{}, err
	}
	return *f.Package, nil
}

// Release starts the download period of a request's package (from now,
// not from when it was built) and records who released it. The
// completion email then carries the link.
func (a *Fulfilment) Release(ctx context.Context, requestID, actor string) error {
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return classify(err)
	}
	if r.ReleasedAt != nil {
		return nil
	}
	var f domain.Fulfilment
	if _, err := a.Store.Fulfilment(ctx, r.ID, &f); err != nil {
		return err
	}
	if f.Package == nil {
		return temporal.NewNonRetryableApplicationError("the request has no package to release", ErrTypeNotAwaitingRelease, errors.New("no package"))
	}
	f.Package.ExpiresAt = a.Now().Add(a.DownloadTTL).UTC()
	if err := a.Store.SaveFulfilment(ctx, r.ID, f, a.Now()); err != nil {
		return err
	}
	return a.Store.ReleasePackage(ctx, r.ID, f.Package.ID, actor, a.Now(), f.Package.ExpiresAt)
}
