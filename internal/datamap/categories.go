package datamap

import (
	"regexp"
	"strings"
)

// builtinCategories are the personal-data categories a data map may use
// without declaring them: the user.* branch of the fideslang taxonomy, plus
// system.operations for columns kept only to run the service.
var builtinCategories = []string{
	"user",
	"user.account", "user.account.settings", "user.account.username",
	"user.authorization", "user.authorization.credentials", "user.authorization.password",
	"user.behavior", "user.behavior.browsing_history", "user.behavior.purchase_history", "user.behavior.media_consumption",
	"user.biometric", "user.childrens",
	"user.contact", "user.contact.address", "user.contact.address.city", "user.contact.address.country",
	"user.contact.address.postal_code", "user.contact.address.state", "user.contact.address.street",
	"user.contact.email", "user.contact.phone_number", "user.contact.fax_number", "user.contact.url",
	"user.content", "user.content.private", "user.content.public",
	"user.criminal_history",
	"user.demographic", "user.demographic.age_range", "user.demographic.date_of_birth", "user.demographic.gender",
	"user.demographic.language", "user.demographic.marital_status", "user.demographic.nationality",
	"user.device", "user.device.cookie_id", "user.device.device_id", "user.device.ip_address", "user.device.browser",
	"user.device.operating_system",
	"user.financial", "user.financial.bank_account", "user.financial.credit_card",
	"user.government_id", "user.government_id.passport_number", "user.government_id.national_identification_number",
	"user.health_and_medical",
	"user.location", "user.location.imprecise", "user.location.precise",
	"user.name", "user.name.first", "user.name.last",
	"user.payment",
	"user.privacy_preferences",
	"user.product", "user.product.license",
	"user.social",
	"user.unique_id",
	"user.workplace",
	"system.operations",
}

// AllCategories lists every category the map accepts: built-in and declared.
func (m *Map) AllCategories() []string {
	return append(append([]string(nil), builtinCategories...), m.Categories...)
}

// A guess from a column's name: the first rule that matches wins.
var guesses = []struct {
	re       *regexp.Regexp
	category string
	identity string
}{
	{regexp.MustCompile(`(^|_)e?mail(_?address)?$`), "user.contact.email", "email"},
	{regexp.MustCompile(`(^|_)(phone|mobile|tel|telephone)(_?number)?$`), "user.contact.phone_number", "phone"},
	{regexp.MustCompile(`(^|_)(first_?name|given_?name|forename)$`), "user.name.first", ""},
	{regexp.MustCompile(`(^|_)(last_?name|surname|family_?name)$`), "user.name.last", ""},
	{regexp.MustCompile(`(^|_)(full_?name|name|display_?name)$`), "user.name", ""},
	{regexp.MustCompile(`(^|_)(user_?name|login|handle)$`), "user.account.username", "username"},
	{regexp.MustCompile(`(^|_)(password|passwd|pass)(_?hash|_?digest)?$`), "user.authorization.credentials", ""},
	{regexp.MustCompile(`(^|_)(postcode|postal_?code|zip(_?code)?)$`), "user.contact.address.postal_code", ""},
	{regexp.MustCompile(`(^|_)city$`), "user.contact.address.city", ""},
	{regexp.MustCompile(`(^|_)country$`), "user.contact.address.country", ""},
	{regexp.MustCompile(`(^|_)(ip|ip_?addr(ess)?|remote_?addr)$`), "user.device.ip_address", ""},
	{regexp.MustCompile(`(^|_)street(_?address)?$`), "user.contact.address.street", ""},
	{regexp.MustCompile(`(^|_)(address|addr|address_?line_?\d?)$`), "user.contact.address", ""},
	{regexp.MustCompile(`(^|_)(user_?agent|browser)$`), "user.device.browser", ""},
	{regexp.MustCompile(`(^|_)(os|os_?version|operating_?system)$`), "user.device.operating_system", ""},
	{regexp.MustCompile(`(^|_)(birth_?date|date_?of_?birth|dob|birthday)$`), "user.demographic.date_of_birth", ""},
	{regexp.MustCompile(`(^|_)(gender|sex)$`), "user.demographic.gender", ""},
	{regexp.MustCompile(`(^|_)(card|card_?number|card_?last_?4|card_?last_?four|pan)$`), "user.financial.credit_card", ""},
	{regexp.MustCompile(`(^|_)(iban|bank_?account|account_?number)$`), "user.financial.bank_account", ""},
	{regexp.MustCompile(`(^|_)(ssn|national_?id|passport(_?number)?|tax_?id)$`), "user.government_id", ""},
	{regexp.MustCompile(`(^|_)(lat|latitude|lng|lon|longitude|location)$`), "user.location.precise", ""},
	{regexp.MustCompile(`(^|_)(licen[cs]e(_?key)?|serial(_?number)?)$`), "user.product.license", ""},
	{regexp.MustCompile(`(^|_)(body|message|notes?|comments?)$`), "user.content.private", ""},
}

// GuessCategory proposes a category (and identity type, if the column can
// identify a person) from a column's name. ok is false when nothing fits.
func GuessCategory(column string) (category, identity string, ok bool) {
	c := strings.ToLower(column)
	for _, g := range guesses {
		if g.re.MatchString(c) {
			return g.category, g.identity, true
		}
	}
	return "", "", false
}
