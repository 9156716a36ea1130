package web

import (
	"context"
	"io"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/sendgridtest"
	"github.com/dsar-project/dsar/internal/store"
)

const inboundSecret = "inbound-secret-for-tests-0123456789"

func withInbound(c *config.Config) {
	c.InboundSecret = inboundSecret
	c.InboundMaxBytes = 1 << 20
}

func (h *harness) postInbound(path string, body io.Reader, contentType string, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func fixture(name string) io.Reader {
	return strings.NewReader(string(sendgridtest.InboundFixture(name)))
}

func TestInboundAndEventEndpointsAreOffUntilConfigured(t *testing.T) {
	h := newHarness(t, false)
	for _, path := range []string{"/inbound/sendgrid", "/inbound/sendgrid/anything", "/events/sendgrid"} {
		if r := h.postInbound(path, fixture(sendgridtest.InboundUnsubscribe), sendgridtest.InboundContentType); r.code != http.StatusNotFound {
			t.Errorf("POST %s with nothing configured: %d, want 404", path, r.code)
		}
	}
	if h.count() != 0 {
		t.Error("a post to an endpoint that is off stored a request")
	}
}

func TestInboundRefusesPostsWithoutTheSecret(t *testing.T) {
	h := newHarness(t, false, withInbound)
	for name, c := range map[string]struct {
		path   string
		header []string
	}{
		"no secret":          {path: "/inbound/sendgrid"},
		"wrong path secret":  {path: "/inbound/sendgrid/" + strings.Repeat("x", len(inboundSecret))},
		"secret's prefix":    {path: "/inbound/sendgrid/" + inboundSecret[:10]},
		"wrong basic auth":   {path: "/inbound/sendgrid", header: []string{"Authorization", "Basic " + basic("sendgrid", "guess")}},
		"not basic auth":     {path: "/inbound/sendgrid", header: []string{"Authorization", "Bearer " + inboundSecret}},
		"secret as the user": {path: "/inbound/sendgrid", header: []string{"Authorization", "Basic " + basic(inboundSecret, "")}},
	} {
		r := h.postInbound(c.path, fixture(sendgridtest.InboundUnsubscribe), sendgridtest.InboundContentType, c.header...)
		if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "inbound secret") {
			t.Errorf("%s: %d %s, want 401 naming the secret", name, r.code, r.body)
		}
	}
	if h.count() != 0 {
		t.Error("a post without the secret stored a request")
	}
	if strings.Contains(h.logs.String(), inboundSecret[:10]) || strings.Contains(h.logs.String(), "ada@example.com") {
		t.Errorf("the log holds the secret or the sender:\n%s", h.logs.String())
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// chunked hides a body's length, so only reading it finds its size.
type chunked struct{ io.Reader }

func TestInboundRefusesTooLargeAndMalformedPosts(t *testing.T) {
	h := newHarness(t, false, withInbound)
	path := "/inbound/sendgrid/" + inboundSecret
	big := strings.Replace(string(sendgridtest.InboundFixture(sendgridtest.InboundRequest)), "Alan Turing\n2 Bletchley", strings.Repeat("x", 2<<20)+"\n2 Bletchley", 1)
	for name, body := range map[string]io.Reader{"with a length": strings.NewReader(big), "chunked": chunked{strings.NewReader(big)}} {
		r := h.postInbound(path, body, sendgridtest.InboundContentType)
		if r.code != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "DSAR_INBOUND_MAX_MB") {
			t.Errorf("a 2 MB email %s: %d %s, want 413 naming DSAR_INBOUND_MAX_MB", name, r.code, r.body)
		}
	}
	part := func(name, value string) string {
		return "--xYzZY\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	// Mail with no sender dsar can write to is taken (200, so SendGrid
	// does not post it again for days) and ignored; a post that is not
	// Inbound Parse's is refused.
	for name, c := range map[string]struct {
		body, contentType string
		code              int
		says              string
	}{
		"JSON":                {`{"from":"ada@example.com"}`, "application/json", http.StatusUnsupportedMediaType, "multipart/form-data"},
		"no sender fields":    {part("subject", "Unsubscribe") + "--xYzZY--\r\n", sendgridtest.InboundContentType, http.StatusBadRequest, "neither from nor envelope"},
		"unreadable sender":   {part("from", "not an address") + part("envelope", `{"to":["privacy@example.org"],"from":"nobody"}`) + "--xYzZY--\r\n", sendgridtest.InboundContentType, http.StatusOK, "ignored"},
		"broken multipart":    {"--xYzZY\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nada@exa", sendgridtest.InboundContentType, http.StatusBadRequest, "multipart"},
		"no boundary":         {part("from", "ada@example.com"), "multipart/form-data", http.StatusBadRequest, "multipart"},
		"address too strange": {part("from", "ada@localhost") + "--xYzZY--\r\n", sendgridtest.InboundContentType, http.StatusOK, "ignored"},
	} {
		r := h.postInbound(path, strings.NewReader(c.body), c.contentType)
		if r.code != c.code || !strings.Contains(r.body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", name, r.code, r.body, c.code, c.says)
		}
	}
	// An auto-reply or a bounce is answered 200, so SendGrid stops, and
	// ignored.
	auto := strings.Replace(string(sendgridtest.InboundFixture(sendgridtest.InboundRequest)), "MIME-Version: 1.0\n", "MIME-Version: 1.0\nAuto-Submitted: auto-replied\n", 1)
	bounce := strings.Replace(string(sendgridtest.InboundFixture(sendgridtest.InboundRequest)), `"from":"alan@example.com"`, `"from":""`, 1)
	for name, body := range map[string]string{"auto-reply": auto, "bounce": bounce} {
		if r := h.postInbound(path, strings.NewReader(body), sendgridtest.InboundContentType); r.code != http.StatusOK || !strings.Contains(r.body, "ignored") {
			t.Errorf("%s: %d %s, want 200 ignored", name, r.code, r.body)
		}
	}
	if h.count() != 0 {
		t.Errorf("refused posts stored %d requests", h.count())
	}
}

func TestInboundUnsubscribeBecomesAnOptOutForTheSender(t *testing.T) {
	h := newHarness(t, false, withInbound)
	auth := []string{"Authorization", "Basic " + basic("sendgrid", inboundSecret)}
	r := h.postInbound("/inbound/sendgrid", fixture(sendgridtest.InboundUnsubscribe), sendgridtest.InboundContentType, auth...)
	var got inboundReceived
	r.json(t, &got)
	if r.code != http.StatusOK || got.Type != string(domain.TypeOptOut) || got.ID == "" {
		t.Fatalf("an Unsubscribe email: %d %s, want 200 and an opt-out", r.code, r.body)
	}
	req, err := h.store.GetRequest(context.Background(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Email != "ada@example.com" || req.Name != "Ada Lovelace" || req.Type != domain.TypeOptOut {
		t.Errorf("stored %s %q <%s>, want an opt-out for Ada Lovelace <ada@example.com>", req.Type, req.Name, req.Email)
	}
	// SendGrid delivering the same post again stores nothing new.
	r = h.postInbound("/inbound/sendgrid", fixture(sendgridtest.InboundUnsubscribe), sendgridtest.InboundContentType, auth...)
	r.json(t, &got)
	if r.code != http.StatusOK || !got.Duplicate || h.count() != 1 {
		t.Errorf("the same post again: %d %s with %d requests, want 200, duplicate, one request", r.code, r.body, h.count())
	}
	if strings.Contains(h.logs.String(), "ada@example.com") || strings.Contains(h.logs.String(), inboundSecret) {
		t.Errorf("the log holds the sender or the secret:\n%s", h.logs.String())
	}
}

func TestInboundOtherMailWaitsForAnOfficerToClassifyIt(t *testing.T) {
	h := newHarness(t, false, withInbound)
	ctx := context.Background()
	r := h.postInbound("/inbound/sendgrid/"+inboundSecret, fixture(sendgridtest.InboundRequest), sendgridtest.InboundContentType)
	var got inboundReceived
	r.json(t, &got)
	if r.code != http.StatusOK || got.Type != string(domain.TypeUnclassified) {
		t.Fatalf("a request by email: %d %s, want 200 and unclassified", r.code, r.body)
	}
	req, err := h.store.GetRequest(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if req.WorkflowStartedAt != nil || req.Status != domain.StatusReceived || !req.DueAt.After(req.ReceivedAt) {
		t.Errorf("stored %+v, want received with a clock and no workflow", req)
	}
	unstarted, err := h.store.UnstartedRequests(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(unstarted) != 0 {
		t.Error("recovery would start an unclassified request")
	}
	// Sealed at rest: the stored bytes do not hold the message.
	msg, err := h.store.InboundMessageOf(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(msg.Sealed), "Bletchley") || strings.Contains(string(msg.Sealed), "alan@example.com") {
		t.Error("the message is stored in clear")
	}

	// The officer reads the email and sees it needs classifying.
	m := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID+"/message", "")
	if m.code != http.StatusOK || !strings.Contains(m.body, "Request for my personal data") || !strings.Contains(m.body, "proof-of-address.txt") || strings.Contains(m.body, "Bletchley") {
		t.Errorf("the message: %d %s, want the subject and the attachment listed without its content", m.code, m.body)
	}
	list := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests?type=unclassified", "")
	if list.code != http.StatusOK || !strings.Contains(list.body, got.ID) {
		t.Errorf("the list of unclassified requests: %d %s", list.code, list.body)
	}
	h.addOfficer("classifier@example.org", store.RoleOfficer)
	b := h.browser()
	b.signIn("classifier@example.org", officerPassword)
	if listed := b.get("/officer/requests?type=unclassified"); !strings.Contains(listed.body, got.ID) || !strings.Contains(listed.body, "Needs classification") {
		t.Errorf("the dashboard's list does not show the email as needing classification:\n%s", listed.body)
	}
	page := b.get("/officer/requests/" + got.ID)
	for _, want := range []string{"Needs classification", `action="/officer/requests/` + got.ID + `/classify"`, "Under the GDPR I would like a copy", "proof-of-address.txt"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the request page lacks %q", want)
		}
	}

	// Bad classifications change nothing.
	for body, code := range map[string]int{`{"type":"correction"}`: 400, `{"type":"unclassified"}`: 400, `{"type":"nonsense"}`: 400, `{}`: 400} {
		if c := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+got.ID+"/classify", body); c.code != code {
			t.Errorf("classify %s: %d %s, want %d", body, c.code, c.body, code)
		}
	}
	if c := h.officer(store.RoleViewer, "POST", "/api/v1/officer/requests/"+got.ID+"/classify", `{"type":"access"}`); c.code != http.StatusForbidden {
		t.Errorf("a viewer classified a request: %d", c.code)
	}
	if still, _ := h.store.GetRequest(ctx, got.ID); still.Type != domain.TypeUnclassified {
		t.Fatalf("a refused classification changed the type to %s", still.Type)
	}

	// The officer classifies it from the dashboard.
	if bad := b.post("/officer/requests/"+got.ID+"/classify", url.Values{"type": {"correction"}, "csrf": {csrfOf(t, page.body)}}); bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "use the form") {
		t.Errorf("classify as correction on the dashboard: %d, want 400 explaining why", bad.code)
	}
	c := b.post("/officer/requests/"+got.ID+"/classify", url.Values{"type": {"access"}, "csrf": {csrfOf(t, page.body)}})
	if c.code != http.StatusSeeOther || !strings.HasSuffix(c.header.Get("Location"), "?done=classified") {
		t.Fatalf("classify as access on the dashboard: %d %s", c.code, c.header.Get("Location"))
	}
	if now, _ := h.store.GetRequest(ctx, got.ID); now.Type != domain.TypeAccess {
		t.Errorf("classified as %s, want access", now.Type)
	}
	if again := h.officer(store.RoleOfficer, "POST", "/api/v1/officer/requests/"+got.ID+"/classify", `{"type":"deletion"}`); again.code != http.StatusConflict {
		t.Errorf("classified twice: %d %s, want 409", again.code, again.body)
	}
	if m := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID+"/message", ""); m.code != http.StatusOK {
		t.Errorf("the message is gone after classification: %d", m.code)
	}
}

// TestInboundIsRateLimitedPerSenderAndInAll: one address sending more
// than DSAR_INBOUND_RATE emails a minute, or everyone together more than
// DSAR_INBOUND_RATE_TOTAL, is answered 429 with Retry-After (SendGrid
// posts it again later), and a refused post stores nothing.
func TestInboundIsRateLimitedPerSenderAndInAll(t *testing.T) {
	h := newHarness(t, false, withInbound, func(c *config.Config) { c.InboundRate, c.InboundRateTotal = 2, 4 })
	from := func(addr string) io.Reader {
		return strings.NewReader(strings.ReplaceAll(string(sendgridtest.InboundFixture(sendgridtest.InboundRequest)), "alan@example.com", addr))
	}
	post := func(addr string) response {
		t.Helper()
		return h.postInbound("/inbound/sendgrid/"+inboundSecret, from(addr), sendgridtest.InboundContentType)
	}
	for i, addr := range []string{"alan@example.com", "Alan@Example.com"} {
		if r := post(addr); r.code != http.StatusOK {
			t.Fatalf("email %d from the sender: %d %s", i+1, r.code, r.body)
		}
	}
	r := post("alan@example.com")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "30" || !strings.Contains(r.body, "from this sender") {
		t.Errorf("third email a minute from one sender: %d Retry-After %q %s", r.code, r.header.Get("Retry-After"), r.body)
	}
	if h.count() != 2 {
		t.Errorf("%d requests stored, want 2: the refused email stored one", h.count())
	}
	// Others still get through, up to the limit in all (which the
	// refused post counted towards: it is checked before the body is read).
	if r := post("grace@example.com"); r.code != http.StatusOK {
		t.Errorf("another sender: %d %s", r.code, r.body)
	}
	r = post("edsger@example.com")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "15" || !strings.Contains(r.body, "in all") {
		t.Errorf("over the limit in all: %d Retry-After %q %s", r.code, r.header.Get("Retry-After"), r.body)
	}
	if h.count() != 3 {
		t.Errorf("%d requests stored, want 3", h.count())
	}
}

// TestInboundEmailAndItsAttachmentsAreDownloadable: the email a request
// arrived as is served as an .eml file, and its own attachments under
// the same type and size rules as an upload.
func TestInboundEmailAndItsAttachmentsAreDownloadable(t *testing.T) {
	h := newHarness(t, false, withInbound)
	r := h.postInbound("/inbound/sendgrid/"+inboundSecret, fixture(sendgridtest.InboundRequest), sendgridtest.InboundContentType)
	var got inboundReceived
	r.json(t, &got)
	list := h.attachments(got.ID)
	if len(list) != 2 || list[0].ID != "email" || list[0].ContentType != "message/rfc822" || list[1].ID != "email-1" ||
		list[1].FileName != "proof-of-address.txt" || !list[1].Downloadable || list[1].Source != "email" {
		t.Fatalf("the email's files: %+v", list)
	}
	eml := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID+"/attachments/email", "")
	msg, err := netmail.ReadMessage(strings.NewReader(eml.body))
	if eml.code != 200 || err != nil || msg.Header.Get("From") != "Alan Turing <alan@example.com>" || msg.Header.Get("Subject") != "Request for my personal data" {
		t.Fatalf("the .eml: %d %v\n%s", eml.code, err, eml.body)
	}
	if eml.header.Get("Content-Disposition") != "attachment; filename=email.eml" || !strings.Contains(eml.body, "filename=proof-of-address.txt") {
		t.Errorf("the .eml's headers: %v", eml.header)
	}
	if a := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID+"/attachments/email-1", ""); a.code != 200 || !strings.HasPrefix(a.body, "Alan Turing\n2 Bletchley Park Road") {
		t.Errorf("the email's attachment: %d %q", a.code, a.body)
	}
	if a := h.officer(store.RoleViewer, "GET", "/api/v1/officer/requests/"+got.ID+"/attachments/email-2", ""); a.code != http.StatusNotFound {
		t.Errorf("an attachment the email did not have: %d", a.code)
	}
}
