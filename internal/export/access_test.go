package export_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/i18n"
)

const accessMap = `version: 1
systems:
  - name: shop
    kind: sqlite
    dsn_env: SHOP_DSN
    purposes: [{en: To deliver your orders, de: Um Ihre Bestellungen zu liefern}]
    legal_basis: contract
    recipients: [Our parcel carrier]
    tables:
      - name: customers
        primary_key: id
        identities: {email: email}
        label: {en: Your customer record, de: Ihr Kundenkonto}
        columns:
          email: user.contact.email
          full_name: user.name
        erase: delete
      - name: invoices
        primary_key: id
        labels:
          issued_at: {en: Date of issue, de: Ausstellungsdatum}
        columns:
          card_last4: user.financial.credit_card
          total_cents: user.behavior.purchase_history
        references: {customer_id: customers.id}
        erase: delete
        retain: {basis: tax law, period: 7y, from: issued_at, detach: [customer_id]}
        source: Our payment provider
archives:
  - name: nightly
    system: shop
    dir_env: BACKUPS
    retention: 35d
`

// accessShop is a live shop database and two nightly backups of it.
type accessShop struct {
	m       *datamap.Map
	sources []export.Source
}

func newAccessShop(t *testing.T) *accessShop {
	t.Helper()
	m, err := datamap.Parse("map.yaml", []byte(accessMap))
	if err != nil {
		t.Fatal(err)
	}
	sys := m.System("shop")
	open := func(name string, invoices [][]any) datamap.Connector {
		db, kind, err := datamap.OpenSQL("sqlite:" + filepath.Join(t.TempDir(), name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		for _, q := range []string{
			`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT)`,
			`CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER, card_last4 TEXT, total_cents INTEGER, issued_at TEXT)`,
			`INSERT INTO customers VALUES (1, 'ada@example.com', 'Ada Lovelace')`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		for _, row := range invoices {
			if _, err := db.Exec(`INSERT INTO invoices VALUES (?, 1, ?, ?, ?)`, row...); err != nil {
				t.Fatal(err)
			}
		}
		return datamap.NewSQLConnector(sys, db, kind)
	}
	found := func(invoiceIDs ...int64) *datamap.Found {
		var rows []*datamap.FoundRow
		for _, id := range invoiceIDs {
			rows = append(rows, &datamap.FoundRow{Key: []any{id}, Owned: true})
		}
		return &datamap.Found{System: sys, Tables: []*datamap.FoundTable{
			{Table: sys.Table("customers"), Rows: []*datamap.FoundRow{{Key: []any{int64(1)}, Owned: true}}},
			{Table: sys.Table("invoices"), Rows: rows},
		}}
	}
	// Invoice 7 is in both backups and live; invoice 8 was deleted after
	// the first backup, so only that backup holds it.
	live := open("live", [][]any{{7, "4242", 1999, "2026-01-05"}})
	first := open("b1", [][]any{{7, "4242", 1999, "2026-01-05"}, {8, "1111", 500, "2026-02-01"}})
	second := open("b2", [][]any{{7, "4242", 1999, "2026-01-05"}})
	ar := m.Archives[0]
	return &accessShop{m: m, sources: []export.Source{
		{Conn: live, Found: found(7)},
		{Conn: first, Found: found(7, 8), Snapshot: "2026-11-20", Archive: ar},
		{Conn: second, Found: found(7), Snapshot: "2026-11-21", Archive: ar},
	}}
}

func (s *accessShop) report(t *testing.T, meta export.Meta) string {
	t.Helper()
	var buf bytes.Buffer
	if err := export.WriteAccess(context.Background(), &buf, s.sources, meta); err != nil {
		t.Fatal(err)
	}
	return string(unzip(t, buf.Bytes())[export.ReportFile])
}

func TestAccessReportShowsEachBackupCopyOnceWithItsDates(t *testing.T) {
	shop := newAccessShop(t)
	meta := export.Meta{RequestID: "DSR-ACCESS0001", Organisation: "Example Shop", GeneratedAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	report := shop.report(t, meta)

	// The customer is in the live shop and both backups: one record.
	if n := strings.Count(report, "ada@example.com"); n != 1 {
		t.Errorf("the customer's email appears %d times, want once:\n%s", n, report)
	}
	if !strings.Contains(report, "In our systems, and in our backups of 20 November 2026, 21 November 2026") {
		t.Errorf("the report does not say the customer was found live and in both backups:\n%s", report)
	}
	// Invoice 7 once, invoice 8 once and marked as only in the first backup.
	if n := strings.Count(report, "<dd>4242</dd>"); n != 1 {
		t.Errorf("invoice 7 appears %d times, want once", n)
	}
	if n := strings.Count(report, "<dd>1111</dd>"); n != 1 {
		t.Errorf("invoice 8 appears %d times, want once", n)
	}
	if !strings.Contains(report, "Only in our backups of 20 November 2026") {
		t.Errorf("invoice 8 is not marked as found only in the backup of 20 November:\n%s", report)
	}
	if n := strings.Count(report, "Record 1 of 2"); n != 1 {
		t.Errorf("the invoices should be two records; %q appears %d times", "Record 1 of 2", n)
	}
}

func TestAccessReportNamesSectionsInPlainWords(t *testing.T) {
	shop := newAccessShop(t)
	meta := export.Meta{
		RequestID: "DSR-ACCESS0001", Organisation: "Example Shop", GeneratedAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
		PrivacyEmail: "privacy@shop.example", Authority: export.Authority{Name: "Data Protection Authority", URL: "https://dpa.example/complaints"},
	}
	report := shop.report(t, meta)
	for _, want := range []string{
		`<html lang="en">`,
		// Sections by what the data is, tables and columns by the map's
		// labels or their categories in plain words.
		"<h2 id=\"data-contact\">Your contact details</h2>", "Your customer record", "<dt>Email address</dt>", "<dt>Name</dt>",
		"<h2 id=\"data-orders\">Your orders and payments</h2>", "<h3 id=\"t-shop-invoices\">Invoices</h3>", "<dt>Date of issue</dt>", "<dt>Payment card</dt>",
		// What Art. 15(1) and (2) require.
		"Why we use your data", "To deliver your orders",
		"The legal basis for using it", "A contract with you",
		"Who receives your data", "Our parcel carrier",
		"How long we keep your data", "We must keep it for 7 years from the date of issue (tax law); then it is erased.",
		"Copies in our backups are deleted 35 days after each backup is made.",
		"Where your data comes from", "Our payment provider", "Applies to: Invoices", "From you:",
		"Automated decisions", "We make no decisions about you based solely on automated processing",
		"Your rights", "Rectification:", "Erasure:", "Restriction:", "Objection:", "privacy@shop.example",
		"such as Data Protection Authority", `<a href="https://dpa.example/complaints">Data Protection Authority</a>`,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, code := range []string{"user.contact.email", "user.financial.credit_card", "purchase_history", "card_last4"} {
		if strings.Contains(report, code) {
			t.Errorf("the report shows the code %q to the person", code)
		}
	}

	meta.Lang = i18n.German
	report = shop.report(t, meta)
	for _, want := range []string{
		`<html lang="de">`, "Ihre Kontaktdaten", "Ihr Kundenkonto", "E-Mail-Adresse", "Ausstellungsdatum", "Zahlungskarte",
		"Um Ihre Bestellungen zu liefern", "Wofür wir Ihre Daten verwenden", "7 Jahre", "35 Tage",
		"In unseren Systemen und in unseren Sicherungskopien vom 20. November 2026, 21. November 2026", "Ihre Rechte",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the German report lacks %q", want)
		}
	}
}

// Every built-in category has a name in plain words in every language.
func TestEveryCategoryHasAPlainName(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range i18n.Langs {
		for _, c := range (&datamap.Map{}).AllCategories() {
			if _, err := cat.Printer(l).T("report.category."+c, nil); err != nil {
				t.Errorf("%s: category %s has no plain name: %v", l, c, err)
			}
		}
	}
}
