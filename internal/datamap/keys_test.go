package datamap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
)

// everyBlock uses every block of the format, one key a line, so each
// case below can misspell one key and know its line.
const everyBlock = `version: 1
categories: [user.loyalty.points]
systems:
  - name: shop
    kind: sqlite
    dsn_env: SHOP_DSN
    tables:
      - name: customers
        primary_key: id
        identities: {email: email}
        columns: {email: user.contact.email}
        erase: delete
      - name: invoices
        primary_key: id
        columns: {billing_name: user.name}
        references: {customer_id: customers.id}
        erase:
          strategy: delete
          mask: {billing_name: erased}
        retain:
          basis: tax law
          period: 7y
          from: issued_at
          detach: [customer_id]
          flag: restricted
  - name: crm
    kind: webhook
    url_env: CRM_URL
    secret_env: CRM_SECRET
  - name: paper
    kind: manual
    instructions: Look in the cabinet.
archives:
  - name: nightly
    system: shop
    dir_env: BACKUPS
    retention: 35d
    rewritable: true
`

func TestEveryBlockLoads(t *testing.T) {
	m, err := datamap.Parse("map.yaml", []byte(everyBlock))
	if err != nil {
		t.Fatal(err)
	}
	inv := m.System("shop").Table("invoices")
	if inv.Retain == nil || inv.Retain.Flag != "restricted" || *inv.MaskWith["billing_name"] != "erased" {
		t.Fatalf("invoices parsed as %+v", inv)
	}
}

// A misspelt key in any block is refused with the file, its line, where
// it is and, when one is close, the key that was meant.
func TestParseRefusesUnknownKeysInEveryBlock(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"top level", "version: 1", "versoin: 1",
			`map.yaml:1: unknown key "versoin" at the top level; did you mean "version"? (allowed keys: version, categories, systems, archives)`},
		{"system", "dsn_env: SHOP_DSN", "dsn_evn: SHOP_DSN",
			`map.yaml:6: unknown key "dsn_evn" in system shop; did you mean "dsn_env"? (allowed keys: name, kind, dsn_env, tables, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"table", "identities: {email: email}", "identites: {email: email}",
			`map.yaml:10: unknown key "identites" in table shop.customers; did you mean "identities"? (allowed keys: name, primary_key, identities, columns, references, correctable, erase, retain, opt_out, label, labels, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"erase", "mask: {billing_name: erased}", "maks: {billing_name: erased}",
			`map.yaml:19: unknown key "maks" in erase of table shop.invoices; did you mean "mask"? (allowed keys: strategy, mask)`},
		{"retain", "flag: restricted", "falg: restricted",
			`map.yaml:25: unknown key "falg" in retain of table shop.invoices; did you mean "flag"? (allowed keys: basis, period, from, detach, flag)`},
		{"webhook system", "secret_env: CRM_SECRET", "secret: CRM_SECRET",
			`map.yaml:29: unknown key "secret" in system crm; did you mean "secret_env"? (allowed keys: name, kind, url_env, secret_env, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"manual system", "instructions: Look", "instruction: Look",
			`map.yaml:32: unknown key "instruction" in system paper; did you mean "instructions"? (allowed keys: name, kind, instructions, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"archive", "rewritable: true", "rewriteable: true",
			`map.yaml:38: unknown key "rewriteable" in archive nightly; did you mean "rewritable"?`},
		{"no close match", "rewritable: true", "owner: ops",
			`map.yaml:38: unknown key "owner" in archive nightly (allowed keys: name, system, dir_env, retention, rewritable)`},
		{"table without a name", "      - name: customers\n", "      - nmae: customers\n",
			`map.yaml:8: unknown key "nmae" in a table of system shop; did you mean "name"?`},
		{"webhook with a connection string", "url_env: CRM_URL", "dsn_env: CRM_URL",
			`map.yaml:28: key "dsn_env" in system crm does not apply to a webhook system (its keys: name, kind, url_env, secret_env, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"sql system with a webhook key", "dsn_env: SHOP_DSN", "dsn_env: SHOP_DSN\n    url_env: SHOP_URL",
			`map.yaml:7: key "url_env" in system shop does not apply to a sqlite system (its keys: name, kind, dsn_env, tables, purposes, legal_basis, recipients, source, automated_decisions)`},
		{"manual system with tables", "instructions: Look in the cabinet.", "instructions: Look in the cabinet.\n    tables: []",
			`map.yaml:33: key "tables" in system paper does not apply to a manual system (its keys: name, kind, instructions, purposes, legal_basis, recipients, source, automated_decisions)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(everyBlock, c.old) {
				t.Fatalf("the map has no %q", c.old)
			}
			_, err := datamap.Parse("map.yaml", []byte(strings.Replace(everyBlock, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// The misspellings from the report, in the flow style they were written
// in: every unknown key is listed at once, and nothing else.
func TestParseRefusesUnknownKeysInFlowMappings(t *testing.T) {
	y := strings.Replace(everyBlock, `        erase:
          strategy: delete
          mask: {billing_name: erased}
        retain:
          basis: tax law
          period: 7y
          from: issued_at
          detach: [customer_id]
          flag: restricted
`, `        erase: {strategy: delete, maks: {billing_name: erased}}
        retain: {basis: tax law, period: 7y, start: issued_at, detach: [customer_id], falg: restricted}
`, 1)
	_, err := datamap.Parse("map.yaml", []byte(y))
	if err == nil {
		t.Fatal("the map loaded")
	}
	for _, want := range []string{
		"map.yaml: 3 problem(s)",
		`map.yaml:17: unknown key "maks" in erase of table shop.invoices; did you mean "mask"?`,
		`map.yaml:18: unknown key "start" in retain of table shop.invoices (allowed keys: basis, period, from, detach, flag)`,
		`map.yaml:18: unknown key "falg" in retain of table shop.invoices; did you mean "flag"?`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant it to contain %q", err, want)
		}
	}
}

// Keys merged in from an anchor are checked like keys written in place.
func TestParseChecksMergedKeys(t *testing.T) {
	y := strings.Replace(everyBlock, "        erase: delete\n", "        erase: &del {strategy: delete}\n", 1)
	y = strings.Replace(y, "        erase:\n          strategy: delete\n", "        erase:\n          <<: *del\n", 1)
	if _, err := datamap.Parse("map.yaml", []byte(y)); err != nil {
		t.Fatalf("a merged erase: %v", err)
	}
	y = strings.Replace(y, "{strategy: delete}", "{strategy: delete, maks: {}}", 1)
	_, err := datamap.Parse("map.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), `map.yaml:12: unknown key "maks" in erase of table shop.customers`) ||
		!strings.Contains(err.Error(), `map.yaml:12: unknown key "maks" in erase of table shop.invoices`) {
		t.Fatalf("error = %v", err)
	}
}

func TestParseRefusesASecondDocument(t *testing.T) {
	_, err := datamap.Parse("map.yaml", []byte(goodMap+"---\nsystems: []\n"))
	if err == nil || !strings.Contains(err.Error(), "map.yaml:12: a second YAML document") {
		t.Fatalf("error = %v", err)
	}
}

func TestParseRefusesAnEmptyFile(t *testing.T) {
	_, err := datamap.Parse("map.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "map.yaml: the file is empty") {
		t.Fatalf("error = %v", err)
	}
}

// Type errors each keep their own line.
func TestParseReportsEveryTypeErrorWithItsLine(t *testing.T) {
	y := strings.Replace(everyBlock, "period: 7y", "period: [7y]", 1)
	y = strings.Replace(y, "rewritable: true", "rewritable: maybe", 1)
	_, err := datamap.Parse("map.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "map.yaml:22: cannot unmarshal !!seq into string") ||
		!strings.Contains(err.Error(), "map.yaml:38: cannot unmarshal !!str `maybe` into bool") {
		t.Fatalf("error = %v", err)
	}
}

func TestLoadFileReadsAMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datamap.yaml")
	if err := os.WriteFile(path, []byte(everyBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := datamap.LoadFile(path)
	if err != nil || m.Source != path || len(m.Systems) != 3 {
		t.Fatalf("LoadFile = %+v, %v", m, err)
	}
}

func TestLoadFileRefusesAFileOverTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datamap.yaml")
	big := everyBlock + "# " + strings.Repeat("x", datamap.MaxFileSize) + "\n"
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := datamap.LoadFile(path)
	if err == nil || err.Error() != "data map "+path+" is larger than 8 MiB" {
		t.Fatalf("error = %v", err)
	}
}

// A device has no size to check first; reading stops at the limit
// instead of filling memory.
func TestLoadFileStopsReadingADeviceAtTheLimit(t *testing.T) {
	const device = "/dev/urandom"
	if _, err := os.Stat(device); err != nil {
		t.Skipf("no %s here", device)
	}
	_, err := datamap.LoadFile(device)
	if err == nil || err.Error() != "data map "+device+" is larger than 8 MiB" {
		t.Fatalf("error = %v", err)
	}
}
