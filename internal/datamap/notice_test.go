package datamap_test

import (
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/datamap"
)

// noticeMap gives a system what the access report tells the person about
// it, and lets one table override part of it, one key a line.
const noticeMap = `version: 1
systems:
  - name: shop
    kind: sqlite
    dsn_env: SHOP_DSN
    purposes:
      - To deliver what you ordered
      - {en: To send our newsletter, de: Um Ihnen unseren Newsletter zu senden}
    legal_basis: [contract, consent]
    recipients: [Our parcel carrier]
    tables:
      - name: customers
        primary_key: id
        identities: {email: email}
        columns: {email: user.contact.email}
        erase: delete
      - name: scores
        primary_key: id
        label: {en: Your credit score, de: Ihre Bonität}
        labels:
          score: Score
        columns: {score: user.financial}
        references: {customer_id: customers.id}
        erase: delete
        legal_basis: legitimate_interests
        source: Credit agency Schufa
        automated_decisions:
          logic: Orders over 500 euros are refused below a score of 300.
          consequences: You may have to pay in advance.
  - name: crm
    kind: webhook
    url_env: CRM_URL
    secret_env: CRM_SECRET
    purposes: Customer support
    automated_decisions: false
`

func TestNoticeKeysLoadAndTablesOverrideTheirSystem(t *testing.T) {
	m, err := datamap.Parse("map.yaml", []byte(noticeMap))
	if err != nil {
		t.Fatal(err)
	}
	shop := m.System("shop")
	cust := shop.NoticeOf(shop.Table("customers"))
	if len(cust.Purposes) != 2 || cust.Purposes[1].In("de") != "Um Ihnen unseren Newsletter zu senden" ||
		cust.Purposes[1].In("fr") != "To send our newsletter" || cust.Purposes[0].In("de") != "To deliver what you ordered" {
		t.Errorf("customers' purposes are %v", cust.Purposes)
	}
	if len(cust.LegalBasis) != 2 || cust.LegalBasis[0] != datamap.Contract || cust.Source != nil || cust.Automated != nil {
		t.Errorf("customers' notice is %+v", cust)
	}
	scoresT := shop.Table("scores")
	scores := shop.NoticeOf(scoresT)
	if len(scores.LegalBasis) != 1 || scores.LegalBasis[0] != datamap.LegitimateInterests || len(scores.Purposes) != 2 {
		t.Errorf("scores keep the system's purposes and override its basis: %+v", scores)
	}
	if scores.Source == nil || scores.Source.In("en") != "Credit agency Schufa" {
		t.Errorf("scores' source is %v", scores.Source)
	}
	if scores.Automated == nil || !strings.Contains(scores.Automated.Logic.In("en"), "score of 300") {
		t.Errorf("scores' automated decisions are %+v", scores.Automated)
	}
	if scoresT.Label.In("de") != "Ihre Bonität" || scoresT.Labels["score"].In("es") != "Score" {
		t.Errorf("scores' labels are %v %v", scoresT.Label, scoresT.Labels)
	}
	crm := m.System("crm").NoticeOf(nil)
	if crm.Automated != nil || len(crm.Purposes) != 1 || crm.Purposes[0].In("en") != "Customer support" {
		t.Errorf("crm's notice is %+v", crm)
	}
}

// Each bad value is refused with the line it was written on.
func TestNoticeKeysRefuseBadValuesWithTheirLines(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown legal basis", "legal_basis: [contract, consent]", "legal_basis: [contract, consnet]",
			`map.yaml:9: system shop: legal_basis "consnet" is not one of consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests (GDPR Art. 6(1)); did you mean "consent"?`},
		{"table legal basis", "legal_basis: legitimate_interests", "legal_basis: interests",
			`map.yaml:25: table shop.scores: legal_basis "interests" is not one of`},
		{"empty purpose", "- To deliver what you ordered", `- ""`,
			`map.yaml:6: system shop: purpose 1 is empty`},
		{"language dsar does not speak", "de: Um Ihnen", "it: Um Ihnen",
			`map.yaml:6: system shop: purpose 2: "it" is not a language dsar speaks (en, de, fr, es)`},
		{"empty recipient", "recipients: [Our parcel carrier]", "recipients: [' ']",
			`map.yaml:10: system shop: recipient 1 is empty`},
		{"empty source", "source: Credit agency Schufa", "source: ''",
			`map.yaml:26: table shop.scores: source is empty`},
		{"automated yes", "automated_decisions: false", "automated_decisions: yes",
			`map.yaml:35: system crm: automated_decisions "yes" must be false, or {logic: ..., consequences: ...}`},
		{"automated without consequences", "consequences: You may have to pay in advance.", "",
			`map.yaml:27: table shop.scores: automated_decisions needs both logic (how the decision is made) and consequences`},
		{"misspelt automated key", "consequences: You may", "consequence: You may",
			`map.yaml:29: unknown key "consequence" in automated_decisions of table shop.scores; did you mean "consequences"?`},
		{"misspelt notice key", "recipients: [Our parcel carrier]", "recipeints: [Our parcel carrier]",
			`map.yaml:10: unknown key "recipeints" in system shop; did you mean "recipients"?`},
		{"label of an unmapped column", "score: Score", "points: Score",
			`map.yaml:21: table shop.scores: labels names column "points", which the table does not map`},
		{"empty table label", "label: {en: Your credit score, de: Ihre Bonität}", "label: {en: Your credit score, de: ''}",
			`map.yaml:19: table shop.scores: label: the de text is empty`},
		{"purposes not text", "- To deliver what you ordered", "- [a, b]",
			`map.yaml:7: cannot unmarshal !!seq into map[string]string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(noticeMap, c.old, c.new, 1)
			if text == noticeMap {
				t.Fatalf("%q is not in the map", c.old)
			}
			_, err := datamap.Parse("map.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
