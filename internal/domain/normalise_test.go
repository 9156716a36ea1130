package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestNormaliseValue(t *testing.T) {
	for _, tc := range []struct {
		category, value, region, want string
	}{
		{CategoryPhone, "+31 6 1234 5678", "", "+31612345678"},
		{CategoryPhone, "0031 6 12345678", "", "+31612345678"},
		{CategoryPhone, "06 1234 5678", "NL", "+31612345678"},
		{CategoryPhone, "+44 20 7946 0958", "", "+442079460958"},
		{CategoryPhone, "020 7946 0958", "GB", "+442079460958"},
		{CategoryPhone, "+49 30 901820", "NL", "+4930901820"},
		{CategoryPhone, "030 901820", "DE", "+4930901820"},
		{CategoryPhone, "(415) 555-2671", "US", "+14155552671"},
		{CategoryPhone, "+33 1 42 68 53 00", "", "+33142685300"},
		{CategoryPhone, "  +34 912 345 678 ", "", "+34912345678"},
		{CategoryEmail, "  Ada.Lovelace@Example.COM ", "", "ada.lovelace@example.com"},
		{"user.name", "  Ada Lovelace ", "", "Ada Lovelace"},
		{"user.contact.address.city", "Amsterdam", "NL", "Amsterdam"},
	} {
		got, err := NormaliseValue(tc.category, tc.value, tc.region)
		if err != nil || got != tc.want {
			t.Errorf("NormaliseValue(%s, %q, %q) = %q, %v; want %q", tc.category, tc.value, tc.region, got, err, tc.want)
		}
	}
}

func TestNormaliseValueRefuses(t *testing.T) {
	for _, tc := range []struct {
		category, value, region, want string
	}{
		{CategoryPhone, "06 1234 5678", "", "international form"},
		{CategoryPhone, "+31 6 1234", "", "not a valid phone number"},
		{CategoryPhone, "call me", "NL", "not a valid phone number in NL"},
		{CategoryPhone, "+999 123 456", "", "not a valid phone number"},
		{CategoryPhone, "12", "DE", "not a valid phone number in DE"},
		{CategoryEmail, "not an address", "", "email address like"},
		{CategoryEmail, "a@b", "", "email address like"},
	} {
		got, err := NormaliseValue(tc.category, tc.value, tc.region)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NormaliseValue(%s, %q, %q) = %q, %v; want an error saying %q", tc.category, tc.value, tc.region, got, err, tc.want)
		}
	}
}

func TestCheckCorrectionValues(t *testing.T) {
	cs := []Correction{{Field: "name", Value: "Ada"}, {Field: "phone", Value: "06 1234"}, {Field: "email", Value: "ADA@example.org"}, {Field: "shoe size", Value: "44"}}
	err := CheckCorrectionValues(cs, "")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || !strings.Contains(ve.Fields["corrections[1].value"], "international form") {
		t.Fatalf("CheckCorrectionValues = %v; want one problem, on corrections[1].value", err)
	}
	if cs[1].Value != "06 1234" {
		t.Errorf("the value was changed to %q", cs[1].Value)
	}
	if err := CheckCorrectionValues(cs[:1], ""); err != nil {
		t.Errorf("a name: %v", err)
	}
	if !ValidPhoneRegion("NL") || !ValidPhoneRegion("") || ValidPhoneRegion("XX") || ValidPhoneRegion("nl") {
		t.Error("ValidPhoneRegion accepts NL and empty only of NL, '', XX, nl")
	}
}
