package domain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Categories whose corrected values are put in one canonical form before
// they are shown in a dry run or written.
const (
	CategoryPhone = "user.contact.phone_number"
	CategoryEmail = "user.contact.email"
)

// The problems NormaliseValue reports, which the request form translates.
var (
	ErrPhoneInternational = errors.New("give the phone number in international form, with + and the country code (+31 6 1234 5678)")
	ErrPhoneInvalid       = errors.New("not a valid phone number; give it with + and the country code (+31 6 1234 5678)")
	ErrCorrectionEmail    = errors.New("give an email address like name@example.com")
)

// PhoneInvalidInRegion is the problem of a phone number that is none in
// region; the form translates it.
const PhoneInvalidInRegion = "not a valid phone number in %s; give it as dialled there or with + and the country code"

// ValidPhoneRegion reports whether region is a region phone numbers can
// be read in (an ISO 3166 code such as NL or GB), or empty.
func ValidPhoneRegion(region string) bool {
	if region == "" {
		return true
	}
	_, ok := phonenumbers.GetSupportedRegions()[region]
	return ok
}

// NormaliseValue puts a corrected value of a category in the form it is
// written in: a phone number in E.164 (+31612345678), an email address
// trimmed and lower-cased; values of other categories are trimmed. A
// phone number without a country code is read in region (DSAR_PHONE_REGION);
// with no region it must be given in international form (+ and the
// country code). A value that is not a phone number or an email address
// of its category is refused with what is wrong, for the requester or
// officer to read.
func NormaliseValue(category, value, region string) (string, error) {
	value = strings.TrimSpace(value)
	switch {
	case category == CategoryPhone || strings.HasPrefix(category, CategoryPhone+"."):
		return normalisePhone(value, region)
	case category == CategoryEmail || strings.HasPrefix(category, CategoryEmail+"."):
		email, err := NormalizeEmail(value)
		if err != nil {
			return "", ErrCorrectionEmail
		}
		return strings.ToLower(email), nil
	}
	return value, nil
}

func normalisePhone(value, region string) (string, error) {
	international := strings.HasPrefix(value, "+") || strings.HasPrefix(value, "00")
	if !international && region == "" {
		return "", ErrPhoneInternational
	}
	if strings.HasPrefix(value, "00") {
		value = "+" + value[2:]
	}
	num, err := phonenumbers.Parse(value, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		// The value is not repeated: the message may reach logs and
		// the workflow's history, and the requester has it before them.
		if international {
			return "", ErrPhoneInvalid
		}
		return "", fmt.Errorf(PhoneInvalidInRegion, region)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// CheckCorrectionValues checks each correction's value against its
// field's category (a phone number must be one) and reports the problems
// as a *ValidationError on corrections[i].value; nothing is changed, the
// value stays as the requester typed it.
func CheckCorrectionValues(cs []Correction, region string) error {
	errs := map[string]string{}
	for i, c := range cs {
		cat, ok := CorrectionCategory(c.Field)
		if !ok {
			continue
		}
		if _, err := NormaliseValue(cat, c.Value, region); err != nil {
			errs[fmt.Sprintf("corrections[%d].value", i)] = err.Error()
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}
