package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

const testPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nPASSPORT NUMBER X1234567 GRACE HOPPER\n%%EOF\n"

// upload builds a multipart body with a file (when name is not empty)
// and the other fields.
func upload(t *testing.T, name string, content []byte, fields map[string]string) (body, contentType string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if name != "" {
		fw, err := w.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), w.FormDataContentType()
}

func (h *harness) attachments(id string) []office.AttachmentInfo {
	h.t.Helper()
	var list struct{ Attachments []office.AttachmentInfo }
	r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+id+"/attachments", "")
	if r.code != http.StatusOK {
		h.t.Fatalf("listing attachments: %d %s", r.code, r.body)
	}
	r.json(h.t, &list)
	return list.Attachments
}

// TestAttachmentsAPI: officers attach identity evidence; the file is
// sealed at rest, typed by its bytes, bounded in size, served only to
// officers as a download under a safe name, and every upload and
// download is in the trail without the file's name. A refused upload
// stores and audits nothing.
func TestAttachmentsAPI(t *testing.T) {
	h := newHarness(t, false, func(c *config.Config) { c.AttachmentMaxBytes = 1 << 20 })
	id, other := h.submitted("Grace"), h.submitted("Alan")
	path := "/api/v1/officer/requests/" + id + "/attachments"
	post := func(role store.Role, path, body, ct string) response {
		t.Helper()
		return h.do("POST", path, ct, body, "Authorization", "Bearer "+h.tokens[role])
	}

	kind := map[string]string{"kind": "identity"}
	for _, tc := range []struct {
		what, name string
		content    []byte
		fields     map[string]string
		role       store.Role
		code       int
		want       string
	}{
		{"no file", "", nil, kind, store.RoleOfficer, http.StatusBadRequest, "attach one file"},
		{"an empty file", "empty.pdf", nil, kind, store.RoleOfficer, http.StatusBadRequest, "this one is empty"},
		{"no kind", "passport.pdf", []byte(testPDF), nil, store.RoleOfficer, http.StatusBadRequest, "choose one of identity, correspondence"},
		{"HTML called a PDF", "passport.pdf", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), kind, store.RoleOfficer, http.StatusBadRequest, "this one is text/html"},
		{"a program", "scan.png", append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), make([]byte, 200)...), kind, store.RoleOfficer, http.StatusBadRequest, "a PDF, PNG, JPEG, plain text or email"},
		{"too large", "big.txt", bytes.Repeat([]byte("a"), 1<<20+1), kind, store.RoleOfficer, http.StatusRequestEntityTooLarge, "DSAR_ATTACHMENT_MAX_MB"},
		{"a viewer", "passport.pdf", []byte(testPDF), kind, store.RoleViewer, http.StatusForbidden, "may read"},
	} {
		body, ct := upload(t, tc.name, tc.content, tc.fields)
		if r := post(tc.role, path, body, ct); r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d %s", tc.what, r.code, r.body)
		}
	}
	if r := post(store.RoleOfficer, path, `{"file":"x"}`, "application/json"); r.code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON instead of a file: %d %s", r.code, r.body)
	}
	body, ct := upload(t, "passport.pdf", []byte(testPDF), kind)
	if r := post(store.RoleOfficer, "/api/v1/officer/requests/DSR-NOPE000000/attachments", body, ct); r.code != http.StatusNotFound {
		t.Errorf("attaching to no request: %d %s", r.code, r.body)
	}
	if got := h.attachments(id); len(got) != 0 || strings.Contains(h.trail(id), "attachment") {
		t.Fatalf("refused uploads left %v and trail:\n%s", got, h.trail(id))
	}

	// Without an officer's token nothing is stored or served: neither a
	// stranger nor the requester (whose status link is not an API
	// token) gets in.
	if r := h.do("POST", path, ct, body); r.code != http.StatusUnauthorized {
		t.Errorf("anonymous upload: %d", r.code)
	}

	body, ct = upload(t, `..\..\Grace "Hopper"/passport<scan>.exe`, []byte(testPDF), kind)
	r := post(store.RoleOfficer, path, body, ct)
	var a store.Attachment
	r.json(t, &a)
	if r.code != http.StatusCreated || a.FileName != "passport_scan_.exe.pdf" || a.ContentType != "application/pdf" || a.Size != int64(len(testPDF)) || a.Kind != "identity" || a.AddedBy != "officer@example.org" {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}

	// Sealed at rest: the stored bytes do not hold the document.
	stored, err := h.store.AttachmentOf(context.Background(), id, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.Sealed, []byte("PASSPORT")) || bytes.Contains(stored.Sealed, []byte("%PDF")) || len(stored.Sealed) <= len(testPDF) {
		t.Errorf("the attachment is stored in clear: %q", stored.Sealed)
	}

	list := h.attachments(id)
	if len(list) != 1 || list[0].ID != a.ID || !list[0].Downloadable || list[0].Source != "upload" {
		t.Errorf("list: %+v", list)
	}
	dl := "/api/v1/officer/requests/" + id + "/attachments/" + a.ID
	for _, who := range []string{"", "Bearer " + strings.TrimPrefix(h.statusLinkOf(id), "/status/")} {
		hdr := []string{}
		if who != "" {
			hdr = []string{"Authorization", who}
		}
		if r := h.do("GET", dl, "", "", hdr...); r.code != http.StatusUnauthorized || strings.Contains(r.body, "PASSPORT") {
			t.Errorf("download by %q: %d %s", who, r.code, r.body)
		}
	}
	// Signed out, the dashboard's link leads to the sign-in page.
	if r := h.do("GET", "/officer/requests/"+id+"/attachments/"+a.ID, "", ""); !strings.Contains(r.body, `action="/officer/login"`) || strings.Contains(r.body, "PASSPORT") {
		t.Errorf("dashboard download signed out: %d %s", r.code, r.body)
	}
	if page := h.do("GET", h.statusLinkOf(id), "", ""); strings.Contains(page.body, a.ID) || strings.Contains(page.body, "passport") {
		t.Error("the requester's status page shows the attachment")
	}
	if r := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+other+"/attachments/"+a.ID, ""); r.code != http.StatusNotFound {
		t.Errorf("the attachment under another request: %d %s", r.code, r.body)
	}
	r = h.officer(store.RoleViewer, "GET", dl, "")
	if r.code != http.StatusOK || r.body != testPDF {
		t.Fatalf("download: %d %q", r.code, r.body)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/pdf", "Content-Disposition": `attachment; filename=passport_scan_.exe.pdf`,
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	trail := h.trail(id)
	for _, want := range []string{
		"officer@example.org attachment_added attachment " + a.ID + " (identity, application/pdf, ",
		"viewer@example.org attachment_downloaded attachment " + a.ID,
	} {
		if !strings.Contains(trail, want) {
			t.Errorf("trail lacks %q:\n%s", want, trail)
		}
	}
	if strings.Contains(trail, "passport") || strings.Contains(h.logs.String(), "passport") {
		t.Error("the file's name reached the trail or the log")
	}

	// Verification by hand can name the attachment as its evidence; one
	// of another request is refused.
	if r := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+other+"/verify", `{"attachment":"`+a.ID+`"}`); r.code != http.StatusBadRequest || !strings.Contains(r.body, "not one of this request's attachments") {
		t.Errorf("verifying with another request's attachment: %d %s", r.code, r.body)
	}
}

// TestAttachmentOnTheRequestPage: the officer attaches a file from the
// request's page, sees it listed and downloads it; a refused file is
// shown on the page with what was wrong.
func TestAttachmentOnTheRequestPage(t *testing.T) {
	h := newHarness(t, false)
	h.addOfficer("ada@example.org", store.RoleOfficer)
	_, id := h.addVerifyToken(testNow.Add(time.Hour))
	b := h.browser()
	b.signIn("ada@example.org", officerPassword)
	page := b.get("/officer/requests/" + id)
	csrf := csrfOf(t, page.body)
	send := func(name string, content []byte) response {
		t.Helper()
		body, ct := upload(t, name, content, map[string]string{"csrf": csrf, "kind": "correspondence"})
		req, err := http.NewRequest("POST", h.srv.URL+"/officer/requests/"+id+"/attachments", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, resp)
	}
	if r := send("letter.html", []byte("<html><body>hi</body></html>")); r.code != http.StatusBadRequest || !strings.Contains(r.body, "this one is text/html") {
		t.Errorf("an HTML file: %d", r.code)
	}
	r := send("letter.txt", []byte("Dear privacy team,\nplease send me my data.\n"))
	if r.code != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "?done=attached#attachments") {
		t.Fatalf("attach: %d %s", r.code, r.header.Get("Location"))
	}
	page = b.get("/officer/requests/" + id)
	list := h.attachments(id)
	if len(list) != 1 || !strings.Contains(page.body, "letter.txt") || !strings.Contains(page.body, "/attachments/"+list[0].ID) {
		t.Fatalf("the page does not list the file: %+v", list)
	}
	if dl := b.get("/officer/requests/" + id + "/attachments/" + list[0].ID); dl.code != 200 || !strings.Contains(dl.body, "please send me my data") || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download from the page: %d %v", dl.code, dl.header)
	}
	// The verification form offers it as evidence.
	r = b.post("/officer/requests/"+id+"/verify", url.Values{"csrf": {csrf}, "attachment": {list[0].ID}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("verify with the attachment: %d %s", r.code, r.body)
	}
	if trail := h.trail(id); !strings.Contains(trail, "evidence: attachment "+list[0].ID) {
		t.Errorf("the verification does not name its evidence:\n%s", trail)
	}
}
