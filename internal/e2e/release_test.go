package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dsar-project/dsar/internal/sendgridtest"
)

// problem is an API error's body: the error, and field errors for bad
// input.
type problem struct {
	Error  string
	Fields map[string]string
}

// Detail is everything the body says.
func (p problem) Detail() string {
	out := p.Error
	for k, v := range p.Fields {
		out += "; " + k + ": " + v
	}
	return out
}

// packageTable is one table of a package as the officer's API lists it.
type packageTable struct {
	System, Table string
	Columns       []string
	Rows          []json.RawMessage
}

// packageTables reads the tables of a request's package from the API.
func (s *system) packageTables(id string) map[string]packageTable {
	s.t.Helper()
	var detail struct {
		Fulfilment struct {
			Package struct{ Tables []packageTable }
		}
	}
	if code := s.call("GET", "/api/v1/officer/requests/"+id, s.token, nil, &detail); code != http.StatusOK {
		s.t.Fatalf("request %s: %d", id, code)
	}
	out := map[string]packageTable{}
	for _, t := range detail.Fulfilment.Package.Tables {
		out[t.System+"."+t.Table] = t
	}
	return out
}

func sentSteps(ms []sendgridtest.Mail, id string) []string {
	var out []string
	for _, m := range ms {
		if m.RequestID == id {
			out = append(out, m.Step)
		}
	}
	return out
}

func TestAccessPackageWaitsForReleaseAndLeavesOutWhatWasWithheld(t *testing.T) {
	s := newSystemEnv(t, "", map[string]string{"DSAR_REVIEW_BEFORE_RELEASE": "true"})
	const person = 0 // Ada Lovelace
	r := s.reviewed(person, "access")
	path := "/api/v1/officer/requests/" + r.ID

	var decided struct{ Status string }
	if code := s.call("POST", path+"/approve", s.token, nil, &decided); code != http.StatusOK || decided.Status != "awaiting_release" {
		t.Fatalf("approve: %d %+v, want 200 awaiting_release", code, decided)
	}
	s.waitStatus(r.ID, "awaiting_release")
	if slices.Contains(sentSteps(s.sendgrid.Mails(), r.ID), "completed") {
		t.Fatal("the requester was emailed before the package was released")
	}

	tables := s.packageTables(r.ID)
	orders, ok := tables["shop.orders"]
	if !ok || len(orders.Rows) < 2 {
		t.Fatalf("package tables %v: want shop.orders with at least two rows", tables)
	}
	withheld := orders.Rows[0]
	var key []int64
	if err := json.Unmarshal(withheld, &key); err != nil || len(key) != 1 {
		t.Fatalf("row key %s: %v", withheld, err)
	}

	// Bad withholdings change nothing and say what is wrong.
	for _, bad := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"unknown table", map[string]any{"table": "shop.invoices_archive", "reason": "third party"}, "holds no table"},
		{"row not in the package", map[string]any{"table": "shop.orders", "rows": []any{[]int64{999999}}, "reason": "third party"}, "no row with the key"},
		{"unknown column", map[string]any{"table": "shop.orders", "columns": []string{"nope"}, "reason": "third party"}, "no column"},
		{"no reason", map[string]any{"table": "shop.orders", "rows": []any{withheld}}, "reason"},
	} {
		var p problem
		if code := s.call("POST", path+"/withhold", s.token, bad.body, &p); code != http.StatusBadRequest || !strings.Contains(p.Detail(), bad.want) {
			t.Errorf("%s: %d %+v, want 400 naming %q", bad.name, code, p, bad.want)
		}
	}
	if got := s.packageTables(r.ID)["shop.orders"]; len(got.Rows) != len(orders.Rows) {
		t.Fatalf("a refused withholding changed the package: %d rows, was %d", len(got.Rows), len(orders.Rows))
	}

	const reason = "Names a delivery recipient who is not the requester"
	var held struct {
		Package struct {
			Tables   []packageTable
			Withheld []struct{ Reason string }
		}
	}
	if code := s.call("POST", path+"/withhold", s.token, map[string]any{"table": "shop.orders", "rows": []any{withheld}, "reason": reason}, &held); code != http.StatusOK {
		t.Fatalf("withhold: %d", code)
	}
	for _, tb := range held.Package.Tables {
		if tb.Table == "orders" && slices.ContainsFunc(tb.Rows, func(k json.RawMessage) bool { return string(k) == string(withheld) }) {
			t.Errorf("the rebuilt package still lists row %s", withheld)
		}
	}

	// The preview is the requester's report, withheld part and reason included.
	req, _ := http.NewRequest("GET", s.base+path+"/preview", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code, preview := resp.StatusCode, string(body)
	if code != http.StatusOK || !strings.Contains(preview, "Withheld from this report") || !strings.Contains(preview, reason) || !strings.Contains(preview, "Ada Lovelace") {
		t.Errorf("preview: %d\n%.2000s", code, preview)
	}

	if code := s.call("POST", path+"/release", s.token, nil, &decided); code != http.StatusOK || decided.Status != "completed" {
		t.Fatalf("release: %d %+v", code, decided)
	}
	mail := s.waitMail(r.ID, "completed").Text
	s.recordHistory(r.ID, "subject_request_access_released.json")

	// Released once only; nothing is withheld afterwards.
	var p problem
	if code := s.call("POST", path+"/release", s.token, nil, &p); code != http.StatusConflict || !strings.Contains(p.Detail(), "already released") {
		t.Errorf("release twice: %d %+v, want 409", code, p)
	}
	if code := s.call("POST", path+"/withhold", s.token, map[string]any{"table": "shop.orders", "reason": reason}, &p); code != http.StatusConflict || !strings.Contains(p.Detail(), "already released") {
		t.Errorf("withhold after release: %d %+v, want 409", code, p)
	}

	z, _ := s.download(mail)
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
	for _, tb := range doc.Tables {
		if tb.Table != "orders" {
			continue
		}
		for _, row := range tb.Rows {
			if id, _ := row["id"].(float64); int64(id) == key[0] {
				t.Errorf("%s.orders still holds the withheld row %d", tb.System, key[0])
			}
		}
	}
	if len(doc.Withheld) != 1 || doc.Withheld[0].Reason != reason || doc.Withheld[0].Table != "orders" {
		t.Errorf("data.json lists withheld %+v, want the orders row with its reason", doc.Withheld)
	}
	if !strings.Contains(files["report.html"], reason) {
		t.Error("report.html does not give the reason the row was withheld")
	}

	// The trail names each step.
	var trail struct {
		Timeline []struct{ Action, Actor, Detail string }
	}
	s.call("GET", path, s.token, nil, &trail)
	var actions []string
	for _, e := range trail.Timeline {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"package_withheld", "package_previewed", "package_released"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit trail %v lacks %s", actions, want)
		}
	}
}

func TestReleaseOffSendsThePackageOnApproval(t *testing.T) {
	s := newSystemEnv(t, "", map[string]string{"DSAR_REVIEW_BEFORE_RELEASE": "false"})
	r, mail := s.run(1, "export")
	s.waitStatus(r.ID, "completed")
	z, _ := s.download(mail)
	if files := readZip(t, z); files["manifest.json"] == "" || strings.Contains(files["manifest.json"], "withheld") {
		t.Errorf("export without review: files %v", keys(files))
	}
	var p problem
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/release", s.token, nil, &p); code != http.StatusConflict {
		t.Errorf("release with review off: %d %+v, want 409", code, p)
	}
}

// TestBrowserOfficerPreviewsWithholdsAndReleases: an officer approves an
// access request, previews the package, withholds a row with a reason
// (confirming on the page), sees the preview without it, and releases
// it (confirming again); only then is the requester emailed.
func TestBrowserOfficerPreviewsWithholdsAndReleases(t *testing.T) {
	ctx := newBrowser(t)
	s := newSystemEnv(t, "", map[string]string{"DSAR_REVIEW_BEFORE_RELEASE": "true"})
	signInAsOfficer(t, ctx, s)
	r := s.reviewed(3, "access")
	page := s.base + "/officer/requests/" + r.ID
	run(t, ctx, "approve",
		chromedp.Navigate(page),
		chromedp.Click(`//button[text()="Approve"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		chromedp.WaitVisible(chromedp.CSS(`#release`)),
		shot("44-awaiting-release"),
	)
	if flash, status := text(t, ctx, ".notice"), text(t, ctx, ".status-label"); !strings.Contains(flash, "waits for your preview") || status != "Package ready; awaiting release" {
		t.Errorf("after approving: notice %q, status %q", flash, status)
	}
	if slices.Contains(sentSteps(s.sendgrid.Mails(), r.ID), "completed") {
		t.Fatal("the requester was emailed before the release")
	}
	key := string(s.packageTables(r.ID)["shop.orders"].Rows[0])

	// The preview is the report the requester will read.
	preview := func() string {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('#preview-link').href).then(async r => r.status + "\n" + await r.text())`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.HasPrefix(got, "200\n") {
			t.Fatalf("fetching the preview: %v\n%.300s", err, got)
		}
		return got
	}
	if p := preview(); !strings.Contains(p, "Your data held by Example Shop Ltd") || strings.Contains(p, "Withheld from this report") {
		t.Errorf("the preview before withholding:\n%.1500s", p)
	}
	run(t, ctx, "see the preview", chromedp.Navigate(page+"/preview"), shot("45-preview"), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#withhold`)))

	const reason = "Names the person the parcel was for, who is not the requester"
	run(t, ctx, "withhold a row",
		chromedp.SetValue(chromedp.CSS(`#withhold-table`), "shop.orders"),
		chromedp.SendKeys(chromedp.CSS(`#withhold-rows`), key),
		chromedp.SendKeys(chromedp.CSS(`#withhold-reason`), reason),
		chromedp.Click(`//button[text()="Withhold…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		shot("46-confirm-withhold"),
	)
	if c := text(t, ctx, "#confirm"); !strings.Contains(c, "rows "+key+" of shop.orders") || !strings.Contains(c, reason) {
		t.Errorf("the confirmation says:\n%s", c)
	}
	if rows := s.packageTables(r.ID)["shop.orders"].Rows; !slices.ContainsFunc(rows, func(k json.RawMessage) bool { return string(k) == key }) {
		t.Error("asking for confirmation withheld the row already")
	}
	run(t, ctx, "confirm the withholding",
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Withheld")]`),
		shot("47-withheld"),
	)
	if w := text(t, ctx, "#withholds"); !strings.Contains(w, key) || !strings.Contains(w, reason) {
		t.Errorf("the withheld list says:\n%s", w)
	}
	if p := preview(); !strings.Contains(p, "Withheld from this report") || !strings.Contains(p, reason) {
		t.Errorf("the preview after withholding:\n%.3000s", p)
	}
	run(t, ctx, "see the preview without the row", chromedp.Navigate(page+"/preview"), shot("48-preview-withheld"), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#release-form`)))

	run(t, ctx, "release",
		chromedp.Click(`//button[text()="Release to the requester…"]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		shot("49-confirm-release"),
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		chromedp.WaitVisible(`//div[@class="notice"][contains(., "Released")]`),
		shot("50-released"),
	)
	if status := text(t, ctx, ".status-label"); status != "Completed" {
		t.Errorf("after the release the status is %q", status)
	}
	z, _ := s.download(s.waitMail(r.ID, "completed").Text)
	if data := readZip(t, z)["data.json"]; !strings.Contains(data, reason) {
		t.Errorf("data.json does not list the withheld row's reason")
	}
}
