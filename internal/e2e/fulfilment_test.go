package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/internal/mysqltest"
)

// These tests run each request type against the demo organisation, from
// the API to the final email, and then look in the organisation's
// database and in the requester's download: the person's rows are
// exported, erased or corrected, and no one else's row is touched or
// handed out.

var downloadLink = regexp.MustCompile(`https?://\S+/download/[A-Za-z0-9_-]+`)

// snapshot reads the demo organisation's rows.
func (s *system) snapshot() map[string]map[int64]string {
	s.t.Helper()
	db, _, err := datamap.OpenSQL(s.shop)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	snap, err := demo.Snapshot(context.Background(), db)
	if err != nil {
		s.t.Fatal(err)
	}
	return snap
}

// run takes a demo person's request of the given type through
// verification and approval and returns the completion email.
func (s *system) run(person int, typ string, corrections ...map[string]string) (created, string) {
	s.t.Helper()
	r := s.reviewed(person, typ, corrections...)
	if status := s.approve(r.ID, typ); status != "completed" {
		s.t.Fatalf("approve: %s", status)
	}
	return r, s.waitMail(r.ID, "completed").Text
}

// approve approves a request in review through the API and answers the
// status it led to: a deletion or correction by making a dry run and
// confirming it, as an officer must.
func (s *system) approve(id, typ string) string {
	s.t.Helper()
	var body any
	if typ == "deletion" || typ == "correction" {
		var d struct{ ID string }
		if code := s.call("POST", "/api/v1/officer/requests/"+id+"/dry-run", s.token, nil, &d); code != http.StatusOK || d.ID == "" {
			s.t.Fatalf("dry run: %d %+v", code, d)
		}
		body = map[string]string{"dry_run_id": d.ID}
	}
	var decided struct{ Status string }
	if code := s.call("POST", "/api/v1/officer/requests/"+id+"/approve", s.token, body, &decided); code != http.StatusOK {
		s.t.Fatalf("approve: %d %+v", code, decided)
	}
	return decided.Status
}

// reviewed takes a demo person's request of the given type through
// verification to the officer's review, its findings stored.
func (s *system) reviewed(person int, typ string, corrections ...map[string]string) created {
	s.t.Helper()
	p := demo.PersonAt(person)
	body := map[string]any{"type": typ, "email": p.Email, "name": p.Name}
	if corrections != nil {
		body["corrections"] = corrections
	}
	var r created
	if code := s.call("POST", "/api/v1/requests", "", body, &r); code != http.StatusCreated {
		s.t.Fatalf("submit: %d", code)
	}
	link := verifyLink.FindString(s.waitMail(r.ID, "verification").Text)
	if code, _ := s.confirm(link); code != http.StatusOK {
		s.t.Fatalf("verify: %d", code)
	}
	s.waitStatus(r.ID, "in_review")

	// Findings are there for the officer before the decision.
	var detail struct {
		Findings []struct {
			Table      string
			OwnedRows  int `json:"owned_rows"`
			Categories []string
		}
	}
	// Discovery runs beside the wait for a decision.
	for deadline := time.Now().Add(30 * time.Second); len(detail.Findings) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
	}
	owned := map[string]int{}
	for _, f := range detail.Findings {
		owned[f.Table] = f.OwnedRows
	}
	if owned["customers"] != 1 || owned["orders"] == 0 || owned["web_logs"] == 0 {
		s.t.Errorf("findings before approval: %+v", detail.Findings)
	}
	return r
}

// unchangedExcept checks that every row not belonging to person is as it
// was.
func unchangedExcept(t *testing.T, before, after map[string]map[int64]string, person int) {
	t.Helper()
	for table, rows := range before {
		for id, row := range rows {
			if demo.Owner(table, id) == person {
				continue
			}
			if after[table][id] != row {
				t.Errorf("%s row %d of person %d changed: %q -> %q", table, id, demo.Owner(table, id), row, after[table][id])
			}
		}
	}
}

// download fetches the package through the emailed link: the page, then
// the file.
func (s *system) download(email string) (*zip.Reader, string) {
	s.t.Helper()
	link := downloadLink.FindString(email)
	if link == "" {
		s.t.Fatalf("completion email has no download link:\n%s", email)
	}
	code, page := s.page(link)
	if code != http.StatusOK || !strings.Contains(page, "Your data is ready") || !strings.Contains(page, "Downloads left") {
		s.t.Fatalf("download page: %d\n%s", code, page)
	}
	resp, err := http.PostForm(link, url.Values{})
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		s.t.Fatalf("download: %d %s\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		s.t.Fatalf("the download is not a ZIP: %v", err)
	}
	return z, link
}

func readZip(t *testing.T, z *zip.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(b)
	}
	return out
}

// othersIn reports any other demo person's email or name in text.
func othersIn(t *testing.T, text string, person int) {
	t.Helper()
	for i := range demoPeople {
		if i == person {
			continue
		}
		p := demo.PersonAt(i)
		if strings.Contains(text, p.Email) || strings.Contains(text, p.Name) {
			t.Errorf("the package holds person %d's data (%s)", i, p.Email)
		}
	}
}

func TestAccessRequestDeliversAReportOfEverythingFound(t *testing.T) {
	s := newSystem(t)
	before := s.snapshot()
	const person = 0 // Ada Lovelace
	r, mail := s.run(person, "access")

	s.waitStatus(r.ID, "completed")
	s.recordHistory(r.ID, "subject_request_access_fulfilled_local_steps.json")
	z, link := s.download(mail)
	files := readZip(t, z)
	report, data := files["report.html"], files["data.json"]
	if report == "" || data == "" {
		t.Fatalf("the package holds %v, want report.html and data.json", keys(files))
	}
	for _, want := range []string{"ada@example.com", "Ada Lovelace", r.ID,
		// Sections in plain words, the data map's labels.
		"Your contact details", "Your orders and payments", "Your orders", "Your invoices", "Email address", "Ordered on",
		// What GDPR Art. 15(1) and (2) require.
		"Why we use your data", "To sell you our software and deliver it",
		"The legal basis for using it", "A contract with you",
		"Who receives your data", "Our hosting provider", "Our tax advisers and the tax office",
		"How long we keep your data", "We must keep it for 7 years from the date of issue", "Copies in our backups are deleted 35 days after",
		"Where your data comes from", "Automated decisions", "We make no decisions about you based solely on automated processing",
		"Your rights", "Rectification:", "Erasure:", "Restriction:", "Objection:", "lodge a complaint with",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(report, "user.contact.email") {
		t.Error("report.html shows category codes to the person")
	}
	var doc struct {
		Tables []struct {
			System, Table string
			Categories    map[string]string
			Rows          []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	rows := map[string]int{}
	backups := map[string]int{} // backup snapshot -> tables
	for _, tb := range doc.Tables {
		if tb.System != "shop" {
			backups[tb.System]++
			continue
		}
		rows[tb.Table] = len(tb.Rows)
		if tb.Table == "accounts" && tb.Rows[0]["password_hash"] != "[withheld for security]" {
			t.Errorf("the password hash is handed out: %v", tb.Rows[0]["password_hash"])
		}
	}
	for table, want := range countOwned(before, person) {
		if rows[table] != want {
			t.Errorf("data.json has %d %s rows, the database %d", rows[table], table, want)
		}
	}
	// Both nightly backups hold Ada too; the package says so, by date.
	// Each row is shown once, saying where it was found: a row both
	// backups hold is one record naming both dates.
	if len(backups) != 2 || !regexp.MustCompile(`in our backups of \d+ \w+ 20\d\d, \d+ \w+ 20\d\d<`).MatchString(report) {
		t.Errorf("data.json has backup tables %v; want both demo backups, marked in the report", backups)
	}
	for name, n := range backups {
		if !strings.HasPrefix(name, "shop (backup 20") || n != len(rows) {
			t.Errorf("backup %q has %d tables, the live shop %d", name, n, len(rows))
		}
	}
	othersIn(t, report+data, person)
	unchangedExcept(t, before, s.snapshot(), -1)

	// The officer can review it without using the requester's downloads.
	req, _ := http.NewRequest("GET", s.base+"/api/v1/officer/requests/"+r.ID+"/package", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("officer package download: %d", resp.StatusCode)
	}
	// The same report reads in the browser from the download page,
	// without spending a download.
	_, page := s.page(link)
	if !strings.Contains(page, `href="/download/`) || !strings.Contains(page, "View in the browser") {
		t.Errorf("the download page offers no view in the browser:\n%s", page)
	}
	resp, err = http.Get(link + "/report")
	if err != nil {
		t.Fatal(err)
	}
	viewed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || string(viewed) != report {
		t.Errorf("viewing the report: %d %s, same as report.html: %v", resp.StatusCode, resp.Header.Get("Content-Type"), string(viewed) == report)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("the report is served with CSP %q", csp)
	}
	if _, page := s.page(link); !strings.Contains(page, "<dd>4</dd>") {
		t.Errorf("after one download of five and a view, the page should say 4 left:\n%s", page)
	}
	// Someone else's guess is not a link.
	if code, _ := s.page(s.base + "/download/" + strings.Repeat("A", 43)); code != http.StatusNotFound {
		t.Errorf("a made-up download link answers %d", code)
	}
}

// countOwned counts a person's rows per table in a snapshot.
func countOwned(snap map[string]map[int64]string, person int) map[string]int {
	out := map[string]int{}
	for table, rows := range snap {
		for id := range rows {
			if demo.Owner(table, id) == person {
				out[table]++
			}
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestExportRequestDeliversJSONAndCSVPerTable(t *testing.T) {
	s := newSystem(t)
	before := s.snapshot()
	const person = 3 // Katherine Johnson
	_, mail := s.run(person, "export")
	z, _ := s.download(mail)
	files := readZip(t, z)

	var man struct {
		Systems []string
		Tables  []struct {
			System, Table string
			Categories    map[string]string
			Files         []string
		}
		GeneratedAt string `json:"generated_at"`
	}
	if err := json.Unmarshal([]byte(files["manifest.json"]), &man); err != nil {
		t.Fatalf("manifest.json: %v\n%v", err, keys(files))
	}
	if len(man.Systems) != 1 || man.Systems[0] != "shop" || man.GeneratedAt == "" {
		t.Errorf("manifest: %+v", man)
	}
	owned := countOwned(before, person)
	live, archived := 0, 0
	for _, tb := range man.Tables {
		if len(tb.Files) != 2 {
			t.Fatalf("%s lists files %v", tb.Table, tb.Files)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(files[tb.Files[0]]), &rows); err != nil {
			t.Errorf("%s: %v", tb.Files[0], err)
		}
		csvLines := strings.Count(strings.TrimSpace(files[tb.Files[1]]), "\n") // header + rows - 1
		if want := owned[tb.Table]; len(rows) != want || csvLines != want {
			t.Errorf("%s: %d JSON rows and %d CSV rows, want %d", tb.Files[0], len(rows), csvLines, want)
		}
		if strings.HasPrefix(tb.Files[0], "shop/backups/20") {
			archived++
		} else if strings.HasPrefix(tb.Files[0], "shop/") {
			live++
		}
	}
	if live < 8 || archived != 2*live {
		t.Errorf("the export covers %d live tables and %d from backups; want every table Katherine has rows in, and each in both backups", live, archived)
	}
	all := ""
	for _, f := range files {
		all += f
	}
	if !strings.Contains(all, "katherine@example.com") {
		t.Error("the export lacks the person's own email")
	}
	othersIn(t, all, person)
}

// The shop's database is PostgreSQL, and MariaDB, where booleans are
// numbers and text compares without regard to case.
func TestDeletionRequestErasesTheirRowsAndNoOneElses(t *testing.T) {
	t.Run("postgres", func(t *testing.T) { deletionErasesTheirRows(t, newSystem(t)) })
	t.Run("mysql", func(t *testing.T) {
		deletionErasesTheirRows(t, newSystemEnv(t, "", map[string]string{demo.DSNEnv: mysqltest.NewDatabase(t)}))
	})
}

// deletionErasesTheirRows runs Alan's deletion on the demo shop, checks
// it, and returns the completion email.
func deletionErasesTheirRows(t *testing.T, s *system) string {
	before := s.snapshot()
	const person = 1 // Alan Turing
	_, mail := s.run(person, "deletion")

	after := s.snapshot()
	unchangedExcept(t, before, after, person)
	for table, rows := range before {
		for id := range rows {
			if demo.Owner(table, id) != person {
				continue
			}
			row, kept := after[table][id]
			switch {
			case table == "web_logs":
				// Masked: the visit stays, without the person.
				if !kept || strings.Contains(row, "203.0.") || !strings.Contains(row, "NULL") {
					t.Errorf("web_logs row %d not anonymised: %q", id, row)
				}
			case table == "invoices":
				// Kept for tax, restricted, detached from the erased order.
				restricted := strings.HasSuffix(row, "|true") || strings.HasSuffix(row, "|1")
				if !kept || !strings.Contains(row, "NULL") || !restricted {
					t.Errorf("invoice %d not kept restricted and detached: %q", id, row)
				}
			case kept:
				t.Errorf("%s row %d of the person is still there: %q", table, id, row)
			}
		}
	}
	for _, want := range []string{"shop / customers: 1 deleted", "shop / orders:", "shop / web_logs:", "anonymised"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, mail)
		}
	}
	return mail
}

func TestCorrectionRequestChangesTheirRecords(t *testing.T) {
	s := newSystem(t)
	before := s.snapshot()
	const person = 2 // Grace Hopper
	_, mail := s.run(person, "correction",
		map[string]string{"field": "name", "value": "Grace Brewster Hopper"},
		map[string]string{"field": "street", "value": "1 Navy Yard"},
		map[string]string{"field": "favourite colour", "value": "navy"})

	after := s.snapshot()
	unchangedExcept(t, before, after, person)
	if !strings.Contains(after["customers"][person], "|Grace Brewster Hopper|") {
		t.Errorf("customer row not corrected: %q", after["customers"][person])
	}
	if !strings.Contains(after["addresses"][person], "|1 Navy Yard|") {
		t.Errorf("address not corrected: %q", after["addresses"][person])
	}
	for id, row := range after["invoices"] {
		if demo.Owner("invoices", id) == person && row != before["invoices"][id] {
			t.Errorf("invoice %d was rewritten; invoices keep the name they were issued to", id)
		}
	}
	for _, want := range []string{"name: shop / customers.full_name (1 record)", "street: shop / addresses.street (1 record)", "favourite colour"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, mail)
		}
	}
}
