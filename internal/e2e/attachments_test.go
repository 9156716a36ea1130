package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOfficerAttachesEvidence: on a request's page the officer
// attaches a scan as identity evidence, sees it listed, downloads it as
// it was, and the stored file is sealed.
func TestBrowserOfficerAttachesEvidence(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystem(t)
	signInAsOfficer(t, ctx, s)
	r := s.submit("ada@example.com", "Ada Lovelace", "access")

	const content = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nDRIVING LICENCE LOVELACE 0042\n%%EOF\n"
	file := filepath.Join(t.TempDir(), "Ada licence.pdf")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "attach the scan",
		chromedp.Navigate(s.base+"/officer/requests/"+r.ID),
		chromedp.WaitVisible(chromedp.CSS(`#attachment-file`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#attachment-file`), []string{file}),
		chromedp.SetValue(chromedp.CSS(`#attachment-kind`), "identity"),
		chromedp.Click(`//button[text()="Attach"]`),
		chromedp.WaitVisible(chromedp.CSS(`#attachment-list`)),
		shot("44-request-attachment"),
	)
	if list := text(t, ctx, "#attachment-list"); !strings.Contains(list, "Ada licence.pdf") || !strings.Contains(list, "identity") || !strings.Contains(list, "application/pdf") {
		t.Errorf("the attachments listed:\n%s", list)
	}
	if notice := text(t, ctx, "main"); !strings.Contains(notice, "File attached") {
		t.Errorf("no notice that the file was attached:\n%s", notice)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fetchFile(`document.querySelector("#attachment-list a").href`, "GET"), chromedp.EvalAwaitPromise))
	if err != nil || got != "200 application/pdf %P" {
		t.Errorf("the download answered %q (%v)", got, err)
	}
	as, err := s.app.Store.Attachments(context.Background(), r.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("stored attachments: %v, %v", as, err)
	}
	sealed, err := s.app.Store.AttachmentOf(context.Background(), r.ID, as[0].ID)
	if err != nil || bytes.Contains(sealed.Sealed, []byte("LOVELACE")) {
		t.Errorf("the stored file is not sealed (%v)", err)
	}
}
