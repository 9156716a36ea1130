package activities

import (
	"context"
	"encoding/json"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/i18n"
	"github.com/dsar-project/dsar/internal/store"
)

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
	withholds, err := a.Store.Withholds(ctx, r.ID)
	if err != nil {
		return err
	}
	var contents []domain.PackageTable
	meta := export.Meta{
		RequestID: r.ID, Organisation: a.Organisation, GeneratedAt: now, Others: others, Contents: &contents,
		Lang: i18n.Lang(r.Language), PrivacyEmail: a.PrivacyEmail, Authority: a.Authority,
	}
	for _, wh := range withholds {
		meta.Withheld = append(meta.Withheld, domain.Withheld{System: wh.SystemName, Table: wh.Table, Rows: wh.RowKeys, Columns: wh.ColumnNames, Reason: wh.Reason})
	}
	if a.Systems != nil {
		meta.Map = a.Systems.Map
	}
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
	f.Package = &domain.PackageInfo{ID: p.ID, FileName: p.FileName, Size: p.Size, ExpiresAt: p.ExpiresAt,
		Tables: contents, Withheld: meta.Withheld}
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
