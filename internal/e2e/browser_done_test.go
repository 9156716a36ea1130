package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// within runs browser steps with their own bound, failing the test with
// the step's name (and the page it stopped on) when they take longer.
func within(t *testing.T, ctx context.Context, d time.Duration, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	run(t, c, fmt.Sprintf("%s (bounded to %s)", step, d), steps...)
}

// seedRequests stores n requests of other people directly through the
// store, in bulk: open and closed, of every type, received over the last
// 90 days. No workflow runs for them.
func seedRequests(t *testing.T, st *store.Store, n int) {
	t.Helper()
	now := time.Now().UTC()
	statuses := []domain.Status{domain.StatusInReview, domain.StatusVerifying, domain.StatusCompleted, domain.StatusDenied, domain.StatusWithdrawn}
	rs := make([]store.Request, n)
	for i := range rs {
		received := now.Add(-time.Duration(i%(90*24)) * time.Hour)
		r := store.Request{ID: fmt.Sprintf("DSR-L%09d", i), Type: domain.RequestTypes[i%len(domain.RequestTypes)],
			Status: statuses[i%len(statuses)], Email: fmt.Sprintf("someone%d@example.com", i), Name: fmt.Sprintf("Someone %d", i),
			ReceivedAt: received, DueAt: received.AddDate(0, 0, 30), WorkflowStartedAt: &received}
		if r.Status.Final() {
			r.ClosedAt = &now
		}
		rs[i] = r
	}
	if err := st.CreateRequests(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserOfficerWorksOneRequestAmongFiveThousand is issue 14's "done
// when": with 5,000 requests in the store, an officer finds one by the
// person's email, adds a note, an assignee and an attachment, previews
// its access package, withholds one row with a reason and releases it;
// the requester downloads the package from the emailed link, and it
// arrives without that row and with the reason.
func TestBrowserOfficerWorksOneRequestAmongFiveThousand(t *testing.T) {
	start := time.Now()
	s := newSystemEnv(t, "", map[string]string{"DSAR_REVIEW_BEFORE_RELEASE": "true"})
	const total = 5000
	seeded := time.Now()
	seedRequests(t, s.app.Store, total-1)
	t.Logf("stored %d requests in bulk in %s (%s since the start)", total-1, time.Since(seeded).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	const person = 3
	p := demo.PersonAt(person)
	r := s.reviewed(person, "access") // the one request that runs through its workflow

	ctx := newBrowser(t)
	signInAsOfficer(t, ctx, s)
	page := s.base + "/officer/requests/" + r.ID

	within(t, ctx, 20*time.Second, "list every request, then search by the person's email",
		chromedp.Navigate(s.base+"/officer/requests?all=1"),
		chromedp.WaitVisible(`//span[@id="total"][contains(., "5000 requests match")]`),
		shot("60-five-thousand"),
		chromedp.SendKeys(chromedp.CSS(`#q`), strings.ToUpper(p.Email)),
		chromedp.Submit(chromedp.CSS(`#q`)),
		chromedp.WaitVisible(`//span[@id="total"][contains(., "1 request matches")]`),
		shot("61-found-by-email"),
	)
	if rows := text(t, ctx, "table.requests tbody"); !strings.Contains(rows, r.ID) || !strings.Contains(rows, p.Name) || strings.Contains(rows, "Someone") {
		t.Errorf("searching %s lists:\n%s", p.Email, rows)
	}

	const note = "Phoned the requester: the 2019 orders are theirs."
	within(t, ctx, 20*time.Second, "open the request, add a note and an assignee",
		chromedp.Click(`//a[text()="`+r.ID+`"]`),
		chromedp.WaitVisible(`//button[text()="Approve"]`),
		chromedp.SendKeys(chromedp.CSS(`#note-body`), note),
		chromedp.Click(`//button[text()="Add note"]`),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Note added")]`),
		chromedp.SetValue(chromedp.CSS(`#assignee-select`), "grace@example.org"),
		chromedp.Click(`//button[text()="Save assignee"]`),
		chromedp.WaitVisible(`//dd[@id="assignee"][text()="grace@example.org"]`),
	)
	if notes := text(t, ctx, "ol.notes"); !strings.Contains(notes, note) {
		t.Errorf("the notes show:\n%s", notes)
	}

	file := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nLETTER FROM THE REQUESTER\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, ctx, 20*time.Second, "attach the requester's letter",
		chromedp.SetUploadFiles(chromedp.CSS(`#attachment-file`), []string{file}),
		chromedp.SetValue(chromedp.CSS(`#attachment-kind`), "correspondence"),
		chromedp.Click(`//button[text()="Attach"]`),
		chromedp.WaitVisible(chromedp.CSS(`#attachment-list`)),
		shot("62-note-assignee-attachment"),
	)
	if list := text(t, ctx, "#attachment-list"); !strings.Contains(list, "letter.pdf") || !strings.Contains(list, "correspondence") {
		t.Errorf("the attachments listed:\n%s", list)
	}

	within(t, ctx, 40*time.Second, "approve: the package is built and waits for release",
		chromedp.Click(`//button[text()="Approve"]`),
		chromedp.WaitVisible(chromedp.CSS(`#release`)),
	)
	if status := text(t, ctx, ".status-label"); status != "Package ready; awaiting release" {
		t.Fatalf("after approving, the status is %q", status)
	}
	orders := s.packageTables(r.ID)["shop.orders"]
	if len(orders.Rows) < 2 {
		t.Fatalf("the package's shop.orders has %d rows; the test needs two", len(orders.Rows))
	}
	key := string(orders.Rows[0])
	within(t, ctx, 20*time.Second, "preview the package",
		chromedp.Navigate(page+"/preview"),
		chromedp.WaitVisible(`//h1`),
		shot("63-preview"),
	)
	if preview := text(t, ctx, "body"); !strings.Contains(preview, p.Name) || strings.Contains(preview, "Withheld from this report") {
		t.Errorf("the preview before withholding:\n%.1500s", preview)
	}

	const reason = "Names the person the parcel was for, who is not the requester"
	within(t, ctx, 30*time.Second, "withhold one row with a reason, confirming on the page",
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS(`#withhold`)),
		chromedp.SetValue(chromedp.CSS(`#withhold-table`), "shop.orders"),
		chromedp.SendKeys(chromedp.CSS(`#withhold-rows`), key),
		chromedp.SendKeys(chromedp.CSS(`#withhold-reason`), reason),
		chromedp.Click(`//button[text()="Withhold…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Withheld")]`),
		shot("64-withheld"),
	)
	if w := text(t, ctx, "#withholds"); !strings.Contains(w, key) || !strings.Contains(w, reason) {
		t.Errorf("the withheld list says:\n%s", w)
	}
	within(t, ctx, 40*time.Second, "release, confirming on the page",
		chromedp.Click(`//button[text()="Release to the requester…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Released")]`),
		shot("65-released"),
	)
	if status := text(t, ctx, ".status-label"); status != "Completed" {
		t.Errorf("after the release the status is %q", status)
	}

	// The requester: the link in the completion email, then the file.
	link := downloadLink.FindString(s.waitMail(r.ID, "completed").Text)
	if link == "" {
		t.Fatal("the completion email has no download link")
	}
	within(t, ctx, 20*time.Second, "the requester opens the download page",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`//button[text()="Download the file"]`),
		shot("66-requester-download"),
	)
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, err := chromedp.Run(dctx, chromedp.Evaluate[string](`fetch(document.querySelector('form').action, {method: "POST"}).then(async r => {
		const b = new Uint8Array(await r.arrayBuffer());
		let s = "";
		for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
		return r.status + " " + r.headers.get("Content-Type") + " " + btoa(s);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("downloading the package in the requester's browser (bounded to 20s): %v", err)
	}
	if !strings.HasPrefix(got, "200 application/zip ") {
		t.Fatalf("the requester's download answered %.80q", got)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got, "200 application/zip "))
	if err != nil {
		t.Fatalf("the download: %v", err)
	}
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the download is not a ZIP: %v", err)
	}
	files := readZip(t, z)
	var doc struct {
		Tables []struct {
			System, Table string
			Rows          []map[string]any
		}
		Withheld []struct {
			System, Table, Reason string
			Rows                  []json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(files["data.json"]), &doc); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	var withheldID []int64
	if err := json.Unmarshal([]byte(key), &withheldID); err != nil || len(withheldID) != 1 {
		t.Fatalf("row key %s: %v", key, err)
	}
	sawOrders := false
	for _, tb := range doc.Tables {
		if tb.System != "shop" || tb.Table != "orders" {
			continue
		}
		sawOrders = true
		if len(tb.Rows) != len(orders.Rows)-1 {
			t.Errorf("the package holds %d orders, want %d (all but the withheld one)", len(tb.Rows), len(orders.Rows)-1)
		}
		for _, row := range tb.Rows {
			if id, _ := row["id"].(float64); int64(id) == withheldID[0] {
				t.Errorf("the package still holds the withheld order %d", withheldID[0])
			}
		}
	}
	if !sawOrders {
		t.Errorf("the package has no shop.orders table: %v", keys(files))
	}
	if len(doc.Withheld) != 1 || doc.Withheld[0].Reason != reason || doc.Withheld[0].Table != "orders" ||
		len(doc.Withheld[0].Rows) != 1 || string(doc.Withheld[0].Rows[0]) != key {
		t.Errorf("data.json lists withheld %+v, want the order %s with the reason", doc.Withheld, key)
	}
	if !strings.Contains(files["report.html"], reason) {
		t.Error("report.html does not give the reason the row was withheld")
	}
	t.Logf("the whole test took %s", time.Since(start).Round(time.Millisecond))
}
