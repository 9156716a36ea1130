package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// Discovered summarises a discovery; the findings themselves are in the
// database.
type Discovered struct {
	Systems, Tables, Rows int
}

// connectors returns a connector to every system of the data map that
// dsar queries itself.
func (a *Fulfilment) connectors() ([]datamap.Connector, error) {
	if a.Systems == nil {
		return nil, temporal.NewNonRetryableApplicationError("no data map is configured (DSAR_DATAMAP)", ErrTypeNoDataMap, nil)
	}
	return a.Systems.Connectors()
}

// identities are what a request's verified requester is known by. Only
// the email is proven by verification, so it is the only identity used.
// A request an officer logged without an address has none: it matches
// no row (an empty email must never match rows whose email is empty).
func identities(r *store.Request) datamap.Identities {
	if r.Email == "" {
		return datamap.Identities{}
	}
	return datamap.Identities{"email": uniq(r.Email, lower(r.Email))}
}

// Discover searches every system for the requester and stores the
// findings (counts, categories and row keys) for the officer's review.
func (a *Fulfilment) Discover(ctx context.Context, requestID string) (Discovered, error) {
	defer keepAlive(ctx)()
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return Discovered{}, classify(err)
	}
	sources, err := a.discover(ctx, r)
	if err != nil {
		return Discovered{}, err
	}
	var d Discovered
	var fs []store.Finding
	for _, s := range sources {
		if len(s.Found.Tables) > 0 {
			d.Systems++
		}
		for _, ft := range s.Found.Tables {
			owned, linked := ft.Counts()
			fs = append(fs, store.Finding{
				System: s.Found.System.Name, Table: ft.Table.Name, Categories: ft.Table.CategoriesOf(),
				OwnedRows: owned, LinkedRows: linked, RowKeys: ft.Keys(nil),
			})
			d.Tables++
			d.Rows += owned + linked
		}
	}
	if err := a.Store.SaveFindings(ctx, requestID, fs, a.Now()); err != nil {
		return Discovered{}, err
	}
	detail := fmt.Sprintf("found %s in %s of %s", count(d.Rows, "row"), count(d.Tables, "table"), count(d.Systems, "system"))
	if err := a.Store.Audit(ctx, store.AuditEvent{RequestID: requestID, Actor: store.ActorSystem, Action: "discovered", Detail: detail, At: a.Now()}); err != nil {
		return Discovered{}, err
	}
	return d, nil
}

func (a *Fulfilment) discover(ctx context.Context, r *store.Request) ([]export.Source, error) {
	conns, err := a.connectors()
	if err != nil {
		return nil, err
	}
	ids := identities(r)
	var out []export.Source
	for _, c := range conns {
		found, err := c.Discover(ctx, ids)
		if err != nil {
			return nil, err
		}
		out = append(out, export.Source{Conn: c, Found: found})
	}
	return out, nil
}
