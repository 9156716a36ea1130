package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/store"
)

// auditExport is one request's audit trail with its links in the audit
// chain, as an officer downloads it for a regulator (GET
// .../requests/{id}/audit).
type auditExport struct {
	RequestID  string           `json:"request_id"`
	ExportedAt time.Time        `json:"exported_at"`
	ExportedBy string           `json:"exported_by"`
	Chain      auditExportChain `json:"chain"`
	// Intact: every chained entry's MAC checks, and so does its link to
	// the entry before it in the chain.
	Intact  bool               `json:"intact"`
	Entries []auditExportEntry `json:"entries"`
	// HowToCheck explains the fields to whoever receives the file.
	HowToCheck []string `json:"how_to_check"`
}

type auditExportChain struct {
	Algorithm string          `json:"algorithm"`
	KeyID     string          `json:"key_id"` // the key new entries are chained with
	StartedAt time.Time       `json:"started_at"`
	Head      auditchain.Link `json:"head"`
}

type auditExportEntry struct {
	ID        int64  `json:"id"`
	Seq       int64  `json:"seq"`
	RequestID string `json:"request_id"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Detail    string `json:"detail"`
	// At is written exactly as it enters the MAC.
	At      string `json:"at"`
	PrevMAC string `json:"prev_mac"`
	MAC     string `json:"mac"`
	KeyID   string `json:"key_id"`
	// Check is "ok", "unchained" (from before the chain existed), or the
	// kind of problem: changed, deleted, inserted, reordered,
	// unverifiable; Problem says what.
	Check   string `json:"check"`
	Problem string `json:"problem,omitempty"`
}

var auditHowToCheck = []string{
	"Every entry of this organisation's audit trail, for all requests, is one link of a single chain: seq numbers them from 1 in the order they were written, so gaps in seq here are other requests' entries.",
	"An entry's mac is " + auditchain.Algorithm + ", hex-encoded, under the organisation's audit-chain key (named by key_id; derived from its secret for this purpose only), over these fields in order, each preceded by its length in bytes as a 4-byte big-endian integer: the text \"dsar audit entry v1\", prev_mac, id and seq in decimal, request_id, actor, action, detail, and at exactly as written here.",
	"An entry's prev_mac is the mac of the entry with seq one lower, so no entry can be changed, removed, added or moved without breaking the links after it. The first entry's prev_mac records where the chain starts instead (genesis:LAST_ID_BEFORE:COUNT_BEFORE); entries whose check is \"unchained\" were written before the chain existed and cannot be checked.",
	"check says what dsar found when this file was made. The organisation can check the whole chain at any time with `dsar audit verify`; anyone given the audit-chain key can recompute each mac.",
}

// auditTrail answers GET /api/v1/officer/requests/{id}/audit and the
// dashboard's /officer/requests/{id}/audit: the request's trail with its
// chain, as a JSON download. The export itself is recorded in the trail
// first, so it appears in what it exports.
func (s *Server) auditTrail(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.store.GetRequest(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	officer := officerFrom(c).Email
	now := s.now()
	if err := s.store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: officer, Action: "audit_exported", At: now}); err != nil {
		return err
	}
	trail, chain, err := s.store.AuditTrail(ctx, r.ID)
	if err != nil {
		return err
	}
	out := auditExport{
		RequestID: r.ID, ExportedAt: now.UTC(), ExportedBy: officer, Intact: true,
		Chain:      auditExportChain{Algorithm: auditchain.Algorithm, KeyID: chain.KeyID, StartedAt: chain.StartedAt, Head: chain.Head},
		Entries:    make([]auditExportEntry, len(trail)),
		HowToCheck: auditHowToCheck,
	}
	for i, e := range trail {
		x := auditExportEntry{
			ID: e.ID, Seq: e.Seq, RequestID: e.RequestID, Actor: e.Actor, Action: e.Action, Detail: e.Detail,
			At: auditchain.FormatTime(e.At), PrevMAC: e.PrevMAC, MAC: e.MAC, KeyID: e.KeyID, Check: "ok",
		}
		switch {
		case e.Unchained:
			x.Check = "unchained"
		case e.Problem != nil:
			x.Check, x.Problem = string(e.Problem.Kind), e.Problem.Reason
			out.Intact = false
		}
		out.Entries[i] = x
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+r.ID+`-audit.json"`)
	return c.JSONPretty(http.StatusOK, out, "  ")
}
