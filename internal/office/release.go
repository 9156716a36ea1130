package office

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/workflows"
)

// Withholding is what an officer asks to withhold from a package awaiting
// release: Table as "system.table", and rows (primary keys as JSON
// arrays, or a bare value for a one-column key) or columns, or neither
// for the whole table, with the reason the requester reads.
type Withholding struct {
	Table   string            `json:"table"`
	Rows    []json.RawMessage `json:"rows,omitempty"`
	Columns []string          `json:"columns,omitempty"`
	Reason  string            `json:"reason"`
}

// packageAwaitingRelease reads the package of a request awaiting
// release, or says why there is none.
func (s *Service) packageAwaitingRelease(ctx context.Context, requestID string) (*store.Request, *domain.PackageInfo, error) {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	if r.ReleasedAt != nil {
		return r, nil, refused("the package of request %s was already released to the requester", r.ID)
	}
	if r.Status != domain.StatusAwaitingRelease {
		return r, nil, refused("request %s is %s; it has no package awaiting release", r.ID, r.Status.OfficerLabel())
	}
	var f domain.Fulfilment
	if _, err := s.Store.Fulfilment(ctx, r.ID, &f); err != nil {
		return r, nil, err
	}
	if f.Package == nil {
		return r, nil, refused("request %s has no package", r.ID)
	}
	return r, f.Package, nil
}

// Withhold withholds part of a package awaiting release, with a reason,
// and answers the rebuilt package. What it names must be in the package:
// a table, rows or columns it does not hold are a field error.
func (s *Service) Withhold(ctx context.Context, requestID string, in Withholding, actor string) (*domain.PackageInfo, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	in.Table = strings.TrimSpace(in.Table)
	r, p, err := s.packageAwaitingRelease(ctx, requestID)
	if err != nil {
		return nil, err
	}
	var t *domain.PackageTable
	var names []string
	for i := range p.Tables {
		name := p.Tables[i].System + "." + p.Tables[i].Table
		names = append(names, name)
		if name == in.Table {
			t = &p.Tables[i]
		}
	}
	switch {
	case in.Table == "":
		return nil, invalid("table", "name the table to withhold from, as system.table")
	case t == nil:
		return nil, invalid("table", fmt.Sprintf("the package holds no table %q; it holds %s", in.Table, strings.Join(names, ", ")))
	case len(in.Rows) > 0 && len(in.Columns) > 0:
		return nil, invalid("rows", "withhold rows or columns, not both at once")
	case in.Reason == "":
		return nil, invalid("reason", "say why it is withheld; the requester reads it in the package")
	case domain.CheckText(in.Reason) != nil:
		return nil, invalid("reason", domain.CheckText(in.Reason).Error())
	case utf8.RuneCountInString(in.Reason) > workflows.MaxReasonLen:
		return nil, invalid("reason", fmt.Sprintf("at most %d characters", workflows.MaxReasonLen))
	}
	rows := make([]json.RawMessage, 0, len(in.Rows))
	for _, raw := range in.Rows {
		key, err := RowKey(raw)
		if err != nil || !slices.ContainsFunc(t.Rows, func(k json.RawMessage) bool { return bytes.Equal(k, key) }) {
			return nil, invalid("rows", fmt.Sprintf("the package's %s holds no row with the key %s", in.Table, string(raw)))
		}
		if !slices.ContainsFunc(rows, func(k json.RawMessage) bool { return bytes.Equal(k, key) }) {
			rows = append(rows, key)
		}
	}
	var cols []string
	for _, c := range in.Columns {
		c = strings.TrimSpace(c)
		if !slices.Contains(t.Columns, c) {
			return nil, invalid("columns", fmt.Sprintf("the package's %s has no column %q; it has %s", in.Table, c, strings.Join(t.Columns, ", ")))
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	if len(cols) > 0 && len(cols) == len(t.Columns) {
		cols = nil // every column is the whole table
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	res, err := update[workflows.WithholdResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateWithhold,
		workflows.Withhold{ID: hex.EncodeToString(id), System: t.System, Table: t.Table, Rows: rows, Columns: cols, Reason: in.Reason, Actor: actor},
		closedRequest(r))
	if err != nil {
		return nil, err
	}
	return &res.Package, nil
}

// RowKey puts a row key an officer gave in the form a package lists it:
// a compact JSON array; a bare value (42, "a7") is a one-column key.
func RowKey(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, isList := v.([]any); !isList {
		v = []any{v}
	}
	return json.Marshal(v)
}

// Release releases a package awaiting release: the requester is emailed
// the download link. It answers the status it led to (completed).
func (s *Service) Release(ctx context.Context, requestID, actor string) (domain.Status, error) {
	r, _, err := s.packageAwaitingRelease(ctx, requestID)
	if err != nil {
		return "", err
	}
	res, err := update[workflows.ReleaseResult](ctx, s.Temporal, workflows.SubjectRequestWorkflowID(r.ID), workflows.UpdateRelease,
		workflows.Release{Actor: actor}, closedRequest(r))
	return res.Status, err
}
