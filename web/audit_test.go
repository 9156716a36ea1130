package web

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/store"
)

// recomputeMAC follows the export's how_to_check, without dsar's code: the
// key derived from the secret as documented, the fields length-prefixed.
func recomputeMAC(t *testing.T, secret string, e auditExportEntry) string {
	t.Helper()
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "dsar audit chain v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	for _, p := range []string{"dsar audit entry v1", e.PrevMAC, strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.Seq, 10),
		e.RequestID, e.Actor, e.Action, e.Detail, e.At} {
		binary.Write(m, binary.BigEndian, uint32(len(p)))
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// TestOfficerDownloadsTheAuditTrail: an officer downloads one request's
// trail with its chain, through the API and the dashboard; every entry
// carries its MAC and its predecessor's, and a regulator given the key
// can recompute the MACs from the file alone.
func TestOfficerDownloadsTheAuditTrail(t *testing.T) {
	h := newHarness(t, false)
	const secret = "the-web-audit-test-secret-of-enough-length"
	keys, err := auditchain.Keys(secret)
	if err != nil {
		t.Fatal(err)
	}
	h.store.SetAuditKeys(keys...)
	var created requestCreated
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"access","email":"a@example.com","name":"Ada"}`).json(t, &created)
	var other requestCreated
	h.do("POST", "/api/v1/requests", "application/json", `{"type":"export","email":"b@example.com","name":"Bea"}`).json(t, &other)
	// Temporal is away in this harness: record the starts as the
	// workflows' first activity would, which writes their "received"
	// entries.
	for _, id := range []string{created.ID, other.ID} {
		if err := h.store.MarkWorkflowStarted(context.Background(), id, testNow); err != nil {
			t.Fatal(err)
		}
	}

	r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+created.ID+"/audit", "")
	if r.code != 200 || !strings.Contains(r.header.Get("Content-Disposition"), `attachment; filename="`+created.ID+`-audit.json"`) {
		t.Fatalf("download: %d %v\n%s", r.code, r.header, r.body)
	}
	var x auditExport
	r.json(t, &x)
	if x.RequestID != created.ID || x.ExportedBy != "viewer@example.org" || !x.Intact || len(x.HowToCheck) == 0 ||
		x.Chain.Algorithm != "HMAC-SHA256" || x.Chain.KeyID != keys[0].ID || x.Chain.Head.Seq != 3 {
		t.Errorf("export: %+v", x)
	}
	if len(x.Entries) != 2 || x.Entries[0].Action != "received" || x.Entries[1].Action != "audit_exported" || x.Entries[1].Actor != "viewer@example.org" {
		t.Fatalf("entries: %+v", x.Entries)
	}
	// Request 2's entry sits between this request's two in the chain.
	if x.Entries[0].Seq != 1 || x.Entries[1].Seq != 3 || x.Entries[0].PrevMAC != "genesis:0:0" || x.Entries[1].PrevMAC == "" || x.Entries[1].PrevMAC == x.Entries[0].MAC {
		t.Errorf("links: %+v", x.Entries)
	}
	for _, e := range x.Entries {
		if e.Check != "ok" || e.Problem != "" {
			t.Errorf("entry %d: %s %s", e.ID, e.Check, e.Problem)
		}
		if got := recomputeMAC(t, secret, e); got != e.MAC {
			t.Errorf("entry %d: the MAC recomputed from the file is %s, the file says %s", e.ID, got, e.MAC)
		}
	}
	if x.Chain.Head.MAC != x.Entries[1].MAC {
		t.Errorf("the head %v is not the export's own entry", x.Chain.Head)
	}

	if r := h.officer(store.RoleOfficer, "GET", "/api/v1/officer/requests/DSR-NOPE000000/audit", ""); r.code != 404 {
		t.Errorf("unknown request: %d", r.code)
	}
	if r := h.do("GET", "/api/v1/officer/requests/"+created.ID+"/audit", "", ""); r.code != 401 {
		t.Errorf("without a token: %d", r.code)
	}

	// The dashboard serves the same file to a signed-in officer.
	b := h.browser()
	if r := b.get("/officer/requests/" + created.ID + "/audit"); r.code != 303 && r.code != 302 {
		t.Errorf("signed out: %d", r.code)
	}
	h.addOfficer("dash@example.org", store.RoleOfficer)
	b.signIn("dash@example.org", officerPassword)
	r = b.get("/officer/requests/" + created.ID + "/audit")
	x = auditExport{}
	r.json(t, &x)
	if r.code != 200 || len(x.Entries) != 3 || x.Entries[2].Actor != "dash@example.org" || !x.Intact {
		t.Errorf("dashboard download: %d %+v", r.code, x)
	}
}
