package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/dsar-project/dsar/internal/archive"
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

// Fulfilment are the activities that find a person's data and act on it:
// discovery, access and export packages, deletion and correction.
type Fulfilment struct {
	Store        *store.Store
	Systems      *datamap.Systems // nil: no data map configured
	Sealer       *export.Sealer
	Organisation string
	DownloadTTL  time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// Discovered summarises a discovery; the findings themselves are in the
// database.
type Discovered struct {
	Systems, Tables, Rows int
}

// connectors returns a connector to every SQL system of the data map.
func (a *Fulfilment) connectors() ([]*datamap.Connector, error) {
	if a.Systems == nil {
		return nil, temporal.NewNonRetryableApplicationError("no data map is configured (DSAR_DATAMAP)", ErrTypeNoDataMap, nil)
	}
	return a.Systems.Connectors()
}

// identities are what a request's verified requester is known by. Only
// the email is proven by verification, so it is the only identity used.
func identities(r *store.Request) datamap.Identities {
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

// Fulfilled says what an approved request left to do after it completes.
type Fulfilled struct {
	// Aftercare is set when a deletion kept rows for a retention period
	// or a legal hold deferred part of it: a RetentionPurge finishes it.
	Aftercare bool
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
	return Fulfilled{Aftercare: aftercare}, err
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

// systemDone records that one system was erased or corrected, so a retry
// skips it and the email still lists what it did.
func (a *Fulfilment) systemDone(ctx context.Context, requestID, system string, f *domain.Fulfilment) error {
	f.SystemsDone = append(f.SystemsDone, system)
	return a.Store.SaveFulfilment(ctx, requestID, *f, a.Now())
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
	}
	if f.Package != nil {
		return fmt.Sprintf("package of %s from %s, %d bytes", count(f.Rows, "row"), count(f.Systems, "system"), f.Package.Size)
	}
	return ""
}

// buildPackage writes the requester's package, sealed, in chunks. A build
// cut off by a crash leaves an incomplete package, discarded here first.
func (a *Fulfilment) buildPackage(ctx context.Context, r *store.Request, others []export.Other, f *domain.Fulfilment) error {
	if err := a.Store.DiscardIncompletePackages(ctx, r.ID); err != nil {
		return err
	}
	sources, err := a.discover(ctx, r)
	if err != nil {
		return err
	}
	archived, closeArchives, err := a.archivedSources(ctx, r)
	defer closeArchives()
	if err != nil {
		return err
	}
	for _, s := range sources {
		if len(s.Found.Tables) > 0 {
			f.Systems++
		}
		for _, ft := range s.Found.Tables {
			for _, row := range ft.Rows {
				if ft.Personal(row) {
					f.Rows++
				}
			}
		}
	}
	now := a.Now()
	name := "personal-data-" + r.ID + ".zip"
	if r.Type == domain.TypeExport {
		name = "data-export-" + r.ID + ".zip"
	}
	p := &store.Package{
		ID: newID(), RequestID: r.ID, FileName: name, ContentType: "application/zip",
		ExpiresAt: now.Add(a.DownloadTTL), DownloadsLeft: PackageDownloads,
	}
	w, err := export.Create(ctx, a.Store, a.Sealer, p, a.Now)
	if err != nil {
		return err
	}
	meta := export.Meta{RequestID: r.ID, Organisation: a.Organisation, GeneratedAt: now, Others: others}
	sources = append(sources, archived...)
	if r.Type == domain.TypeExport {
		err = export.WriteExport(ctx, w, sources, meta)
	} else {
		err = export.WriteAccess(ctx, w, sources, meta)
	}
	if err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	f.Package = &domain.PackageInfo{ID: p.ID, FileName: p.FileName, Size: p.Size, ExpiresAt: p.ExpiresAt}
	return nil
}

// others reads what the request's webhook and manual systems reported,
// opening the webhooks' sealed answers.
func (a *Fulfilment) others(ctx context.Context, requestID string) ([]export.Other, error) {
	ts, err := a.Store.Tasks(ctx, requestID)
	if err != nil {
		return nil, err
	}
	var out []export.Other
	for _, t := range ts {
		o := export.Other{System: t.System, Kind: t.Kind, Note: t.Note}
		if len(t.Answer) > 0 {
			plain, err := a.Sealer.OpenBlob(t.AnswerKey, requestID+"/"+t.System, t.Answer)
			if err != nil {
				return nil, err
			}
			var ans WebhookAnswer
			if err := json.Unmarshal(plain, &ans); err == nil {
				o.Records = ans.Records
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// erase erases the person's rows system by system, each in one
// transaction, respecting retention rules and legal holds. Each finished
// system is recorded, so if a later one fails the retry goes on from
// there and the email still lists them all.
func (a *Fulfilment) erase(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	holds, err := a.Store.Holds(ctx, true, a.Now())
	if err != nil {
		return err
	}
	for _, c := range conns {
		if slices.Contains(f.SystemsDone, c.System.Name) {
			continue
		}
		erasure, err := a.eraseSystem(ctx, r, c, holds)
		if err != nil {
			return err
		}
		if len(erasure.Tables) > 0 {
			f.Systems++
		}
		for _, t := range erasure.Tables {
			f.Erased = append(f.Erased, domain.ErasedTable{
				System: t.System, Table: t.Table, Deleted: t.Deleted, Masked: t.Masked, Kept: t.Kept,
				Retained: t.Retained, RetainedUntil: t.RetainedUntil, Basis: t.Basis, Held: t.Held,
			})
			f.Rows += t.Deleted + t.Masked + t.Kept + t.Retained + t.Held
		}
		if err := a.systemDone(ctx, r.ID, c.System.Name, f); err != nil {
			return err
		}
	}
	return a.eraseArchives(ctx, r, f)
}

// eraseSystem erases the person in one system under the holds in force.
// Before the system's transaction commits, dsar records the rows kept for
// their retention period, the tombstones of what went, and any part a
// hold deferred, so nothing is erased without its record.
func (a *Fulfilment) eraseSystem(ctx context.Context, r *store.Request, c *datamap.Connector, holds []store.LegalHold) (*datamap.Erasure, error) {
	held, holdIDs := heldTables(holds, r.Email, c.System)
	now := a.Now()
	rules := datamap.Rules{Now: now, Held: held, BeforeCommit: func(e *datamap.Erasure) error {
		var keep []store.RetainedRow
		for _, row := range e.Retained {
			keep = append(keep, store.RetainedRow{
				RequestID: r.ID, SystemName: c.System.Name, TableName: row.Table,
				RowKey: store.RowKeyJSON(row.Key), Basis: c.System.Table(row.Table).Retain.Basis, Until: row.Until,
			})
		}
		if err := a.Store.RetainRows(ctx, keep); err != nil {
			return err
		}
		if err := a.Store.AddTombstones(ctx, a.tombstones(r, c.System.Name, e.Gone, now)); err != nil {
			return err
		}
		heldRows := 0
		for _, t := range e.Tables {
			heldRows += t.Held
		}
		if heldRows > 0 {
			return a.Store.Defer(ctx, store.DeferredErasure{RequestID: r.ID, SystemName: c.System.Name, HoldIDs: holdIDs, Tables: held, DeferredAt: now})
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

// correct maps each requested correction to a category and writes it to
// every correctable column of that category in the person's rows, system
// by system, recording each finished system as erase does.
func (a *Fulfilment) correct(ctx context.Context, r *store.Request, f *domain.Fulfilment) error {
	conns, err := a.connectors()
	if err != nil {
		return err
	}
	var changes []datamap.Change
	field := map[string]string{} // category -> the requester's field name
	f.Unmatched = nil
	for _, c := range r.Corrections {
		cat, ok := domain.CorrectionCategory(c.Field)
		if !ok {
			f.Unmatched = append(f.Unmatched, c.Field)
			continue
		}
		changes = append(changes, datamap.Change{Category: cat, Value: c.Value})
		field[cat] = c.Field
	}
	ids := identities(r)
	for _, c := range conns {
		if slices.Contains(f.SystemsDone, c.System.Name) {
			continue
		}
		changed, err := c.Correct(ctx, ids, changes)
		if err != nil {
			return err
		}
		if err := a.recordCorrections(ctx, r.ID, changed); err != nil {
			return err
		}
		if len(changed) > 0 {
			f.Systems++
		}
		for _, ch := range changed {
			f.Corrected = append(f.Corrected, domain.CorrectedColumn{
				Field: field[ch.Category], Category: ch.Category, System: ch.System, Table: ch.Table, Column: ch.Column, Rows: ch.Rows, Shared: ch.Shared,
			})
			f.Rows += ch.Rows
		}
		if err := a.systemDone(ctx, r.ID, c.System.Name, f); err != nil {
			return err
		}
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
