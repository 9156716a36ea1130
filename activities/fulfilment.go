package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// ErrTypeNoDataMap is returned when a request needs the data map and none
// is configured.
const ErrTypeNoDataMap = "NoDataMap"

// PackageDownloads is how many times a requester may download a package.
const PackageDownloads = 5

// Fulfilment are the activities that find a person's data and act on it
// in the systems dsar reaches itself: discovery, access and export
// packages, deletion (and its aftercare), correction and opt-out. Tasks
// are the other systems'.
type Fulfilment struct {
	Store        *store.Store
	Systems      *datamap.Systems // nil: no data map configured
	Sealer       *export.Sealer
	Organisation string
	// PrivacyEmail and Authority are named in the access report, where
	// it tells the person their rights.
	PrivacyEmail string
	Authority    export.Authority
	DownloadTTL  time.Duration
	// ReviewBeforeRelease holds every access or export package for an
	// officer's preview and release (DSAR_REVIEW_BEFORE_RELEASE).
	ReviewBeforeRelease bool
	// PhoneRegion is the region a corrected phone number without a
	// country code is read in (DSAR_PHONE_REGION); empty: it needs one.
	PhoneRegion string
	Now         func() time.Time
	Log         *slog.Logger
}

// Fulfilled says what an approved request left to do after it completes.
type Fulfilled struct {
	// Aftercare is set when a deletion kept rows for a retention period
	// or a legal hold deferred part of it: a RetentionPurge finishes it.
	Aftercare bool
	// Release is set when the package waits for an officer's preview and
	// release before the requester is told of it; Tables then names the
	// package's tables ("system.table"), which a withholding may name.
	Release bool
	Tables  []string
}

// Fulfil carries out an approved request: it builds the access or export
// package, erases, or corrects, and records what it did for the
// completion email. Running it again after it finished does nothing.
func (a *Fulfilment) Fulfil(ctx context.Context, requestID string) (Fulfilled, error) {
	defer keepAlive(ctx)()
	var f domain.Fulfilment // what an earlier, interrupted attempt did, if any
	if _, err := a.Store.Fulfilment(ctx, requestID, &f); err != nil {
		return Fulfilled{}, err
	}
	if !f.Complete {
		if err := a.fulfil(ctx, requestID, &f); err != nil {
			return Fulfilled{}, err
		}
	}
	// Asked of the database, not of f: an attempt cut short after a
	// system committed has its retained rows recorded there only.
	aftercare, err := a.Store.HasAftercare(ctx, requestID)
	done := Fulfilled{Aftercare: aftercare}
	if a.ReviewBeforeRelease && f.Package != nil {
		done.Release = true
		for _, t := range f.Package.Tables {
			done.Tables = append(done.Tables, t.System+"."+t.Table)
		}
	}
	return done, err
}

func (a *Fulfilment) fulfil(ctx context.Context, requestID string, f *domain.Fulfilment) error {
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return classify(err)
	}
	others, err := a.others(ctx, requestID)
	if err != nil {
		return err
	}
	f.Others = nil
	for _, o := range others {
		f.Others = append(f.Others, domain.OtherSystem{System: o.System, Kind: o.Kind, Note: o.Note})
	}
	switch r.Type {
	case domain.TypeAccess, domain.TypeExport:
		err = a.buildPackage(ctx, r, others, f)
	case domain.TypeDeletion:
		err = a.erase(ctx, r, f)
	case domain.TypeCorrection:
		err = a.correct(ctx, r, f)
	case domain.TypeOptOut:
		err = a.optOut(ctx, r, f)
	default:
		err = fmt.Errorf("unknown request type %q", r.Type)
	}
	if err != nil {
		return err
	}
	f.Complete = true
	if err := a.Store.SaveFulfilment(ctx, requestID, *f, a.Now()); err != nil {
		return err
	}
	return a.Store.Audit(ctx, store.AuditEvent{RequestID: requestID, Actor: store.ActorSystem, Action: "fulfilled", Detail: describe(r.Type, *f), At: a.Now()})
}

// eachSystem runs act on every system of the data map not yet done for
// the request, in map order. After each, it counts the system when act
// touched it and records the system as done with what f holds by then,
// so a retry after a failure in a later system goes on from there and
// the email still lists what the earlier ones did.
func (a *Fulfilment) eachSystem(ctx context.Context, requestID string, f *domain.Fulfilment, act func(c datamap.Connector) (touched bool, err error)) error {
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	for _, c := range conns {
		if slices.Contains(f.SystemsDone, c.System().Name) {
			continue
		}
		touched, err := act(c)
		if err != nil {
			return err
		}
		if touched {
			f.Systems++
		}
		f.SystemsDone = append(f.SystemsDone, c.System().Name)
		if err := a.Store.SaveFulfilment(ctx, requestID, *f, a.Now()); err != nil {
			return err
		}
	}
	return nil
}

func describe(t domain.RequestType, f domain.Fulfilment) string {
	switch t {
	case domain.TypeDeletion:
		var del, mask, kept, retained, held int
		for _, e := range f.Erased {
			del, mask, kept, retained, held = del+e.Deleted, mask+e.Masked, kept+e.Kept, retained+e.Retained, held+e.Held
		}
		return fmt.Sprintf("deleted %s, masked %d, kept %d shared with others, retained %d by law, held %d", count(del, "row"), mask, kept, retained, held)
	case domain.TypeCorrection:
		return fmt.Sprintf("corrected %s; %s not matched", count(len(f.Corrected), "column"), count(len(f.Unmatched), "field"))
	case domain.TypeOptOut:
		return fmt.Sprintf("opted out in %s (%s)", count(len(f.OptedOut), "table"), count(f.Rows, "row"))
	}
	if f.Package != nil {
		return fmt.Sprintf("package of %s from %s, %d bytes", count(f.Rows, "row"), count(f.Systems, "system"), f.Package.Size)
	}
	return ""
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// count writes "1 row" or "3 rows".
func count(n int, noun string) string { return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s")) }

func lower(s string) string { return strings.ToLower(s) }

// uniq drops repeats, keeping order.
func uniq(vals ...string) []string {
	var out []string
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
