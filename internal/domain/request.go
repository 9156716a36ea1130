// Package domain holds dsar's vocabulary and rules as pure functions: request
// types and statuses, which status may follow which, due dates, and the
// validation of a new request. Nothing here does I/O.
package domain

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/i18n"
)

// RequestType is the right a requester exercises.
type RequestType string

const (
	TypeAccess     RequestType = "access"
	TypeCorrection RequestType = "correction"
	TypeDeletion   RequestType = "deletion"
	TypeExport     RequestType = "export"
	// TypeOptOut stops marketing to the person, and the sale or sharing
	// of their personal information.
	TypeOptOut RequestType = "opt_out"
)

// RequestTypes lists every type in the order the form shows them.
var RequestTypes = []RequestType{TypeAccess, TypeCorrection, TypeDeletion, TypeExport, TypeOptOut}

// Valid reports whether t is a known type.
func (t RequestType) Valid() bool {
	for _, k := range RequestTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Label is the type as a requester reads it.
func (t RequestType) Label() string {
	switch t {
	case TypeAccess:
		return "Access my data"
	case TypeCorrection:
		return "Correct my data"
	case TypeDeletion:
		return "Delete my data"
	case TypeExport:
		return "Export my data"
	case TypeOptOut:
		return "Stop marketing to me and do not sell or share my data"
	case TypeUnclassified:
		return "Email, to be classified"
	}
	return string(t)
}

// Status is where a request stands.
type Status string

const (
	StatusReceived          Status = "received"           // stored; workflow not yet started
	StatusVerifying         Status = "verifying"          // waiting for the requester to prove their identity
	StatusExpiredUnverified Status = "expired_unverified" // identity never proven in time
	StatusInReview          Status = "in_review"          // verified; waiting for an officer
	StatusFulfilling        Status = "fulfilling"         // approved; being carried out, or waiting for other systems or manual tasks
	StatusAwaitingRelease   Status = "awaiting_release"   // package built; an officer previews it before the requester gets it
	StatusCompleted         Status = "completed"          // approved and fulfilled
	StatusDenied            Status = "denied"             // refused with a reason
	StatusWithdrawn         Status = "withdrawn"          // the requester withdrew it before fulfilment began
	StatusDuplicate         Status = "duplicate"          // closed by an officer: the same person's open request of the same type continues
)

// Statuses lists every status in workflow order.
var Statuses = []Status{StatusReceived, StatusVerifying, StatusExpiredUnverified, StatusInReview, StatusFulfilling, StatusAwaitingRelease, StatusCompleted, StatusDenied, StatusWithdrawn, StatusDuplicate}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// Final reports whether no further transition can follow s.
func (s Status) Final() bool {
	return s == StatusExpiredUnverified || s == StatusCompleted || s == StatusDenied || s == StatusWithdrawn || s == StatusDuplicate
}

// Duplicable reports whether an officer may still close a request in
// status s as a duplicate of another: while it is open and before
// fulfilment starts, as a withdrawal.
func (s Status) Duplicable() bool {
	return CanTransition(s, StatusDuplicate)
}

// Withdrawable reports whether the requester may still withdraw a
// request in status s: while it is open and before fulfilment starts.
// Once an officer approved it (fulfilling), systems may already have
// been changed or data sent, which a withdrawal could not undo.
func (s Status) Withdrawable() bool {
	return CanTransition(s, StatusWithdrawn)
}

// OpenStatuses lists the statuses whose legal clock is still running.
func OpenStatuses() []Status {
	var open []Status
	for _, s := range Statuses {
		if !s.Final() {
			open = append(open, s)
		}
	}
	return open
}

// Label is the status as a requester reads it.
func (s Status) Label() string {
	switch s {
	case StatusReceived:
		return "Received"
	case StatusVerifying:
		return "Waiting for you to confirm your email address"
	case StatusExpiredUnverified:
		return "Closed: email address not confirmed in time"
	case StatusInReview:
		return "Being reviewed by our privacy team"
	case StatusFulfilling:
		return "Approved; we are carrying it out"
	case StatusAwaitingRelease:
		return "Approved; your data is being checked before we send it"
	case StatusCompleted:
		return "Completed"
	case StatusDenied:
		return "Declined"
	case StatusWithdrawn:
		return "Withdrawn by you"
	case StatusDuplicate:
		return "Closed: a duplicate of another request of yours"
	}
	return string(s)
}

// OfficerLabel is the status as the privacy team reads it.
func (s Status) OfficerLabel() string {
	switch s {
	case StatusReceived:
		return "Received (workflow not started)"
	case StatusVerifying:
		return "Verifying identity"
	case StatusExpiredUnverified:
		return "Expired unverified"
	case StatusInReview:
		return "Awaiting decision"
	case StatusFulfilling:
		return "Approved; being carried out"
	case StatusAwaitingRelease:
		return "Package ready; awaiting release"
	case StatusCompleted:
		return "Completed"
	case StatusDenied:
		return "Denied"
	case StatusWithdrawn:
		return "Withdrawn by the requester"
	case StatusDuplicate:
		return "Closed as a duplicate"
	}
	return string(s)
}

var transitions = map[Status][]Status{
	StatusReceived:   {StatusVerifying, StatusWithdrawn, StatusDuplicate},
	StatusVerifying:  {StatusInReview, StatusExpiredUnverified, StatusFulfilling, StatusWithdrawn, StatusDuplicate}, // an opt-out goes straight to fulfilling
	StatusInReview:   {StatusFulfilling, StatusCompleted, StatusDenied, StatusWithdrawn, StatusDuplicate},
	StatusFulfilling: {StatusCompleted, StatusAwaitingRelease},
	// An access or export package waits for an officer's preview and
	// release (DSAR_REVIEW_BEFORE_RELEASE).
	StatusAwaitingRelease: {StatusCompleted},
}

// CanTransition reports whether a request may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// VerificationReminderAt is when, after the verification email, a reminder
// goes out: two days before the link expires, or half way for short links.
func VerificationReminderAt(ttl time.Duration) time.Duration {
	if ttl > 4*24*time.Hour {
		return ttl - 2*24*time.Hour
	}
	return ttl / 2
}

// Correction is one value a requester asks to change.
type Correction struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// NewRequest is what a requester submits.
type NewRequest struct {
	Type        RequestType  `json:"type"`
	Email       string       `json:"email"`
	Name        string       `json:"name"`
	Details     string       `json:"details"`
	Corrections []Correction `json:"corrections"`
	// Regime is the law the requester invokes (default, gdpr, ccpa);
	// empty means the organisation's configured default.
	Regime deadline.Regime `json:"regime,omitempty"`
	// Language is the language every page and email to the requester
	// uses from now on (en, de, fr, es); empty means English.
	Language string `json:"language,omitempty"`
	// GPC is the browser's Global Privacy Control signal (Sec-GPC: 1),
	// read from the request's headers, never from its body.
	GPC bool `json:"-"`
	// ByEmail is set for a request made by an email to the privacy
	// address, which alone may be TypeUnclassified; never from a body.
	ByEmail bool `json:"-"`
}

// Limits on free text, so a form cannot be used to store arbitrary blobs.
const (
	MaxNameLen        = 200
	MaxDetailsLen     = 5000
	MaxCorrections    = 20
	MaxFieldLen       = 100
	MaxValueLen       = 1000
	maxEmailAddrBytes = 254
)

// ValidationError lists what is wrong with input, field by field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Summary is the problems in one sentence, for a page that shows one
// message.
func (e *ValidationError) Summary() string {
	parts := make([]string, 0, len(e.Fields))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		p := e.Fields[k]
		if len(e.Fields) > 1 {
			p = k + ": " + p
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, "; ")
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:] + "."
	}
	return s
}

// Normalize trims the request and lower-cases the email's domain, then
// validates it. It returns a *ValidationError when anything is wrong.
func (r *NewRequest) Normalize() error { return r.normalize(false) }

// NormalizeWithoutEmail is Normalize for a request an officer logs from a
// person who gave no email address: an empty Email is accepted, any
// other is checked as usual.
func (r *NewRequest) NormalizeWithoutEmail() error { return r.normalize(true) }

func (r *NewRequest) normalize(emailOptional bool) error {
	r.Type = RequestType(strings.ToLower(strings.TrimSpace(string(r.Type))))
	r.Email = strings.TrimSpace(r.Email)
	r.Name = strings.TrimSpace(r.Name)
	r.Details = strings.TrimSpace(r.Details)
	var kept []Correction
	for _, c := range r.Corrections {
		c.Field, c.Value = strings.TrimSpace(c.Field), strings.TrimSpace(c.Value)
		if c.Field != "" || c.Value != "" {
			kept = append(kept, c)
		}
	}
	r.Corrections = kept

	errs := map[string]string{}
	if !r.Type.Valid() && !(r.ByEmail && r.Type == TypeUnclassified) {
		errs["type"] = "choose one of access, correction, deletion, export"
	}
	if r.Regime != "" {
		if reg, err := deadline.Parse(string(r.Regime)); err != nil {
			errs["regime"] = "choose one of default, gdpr, ccpa, or leave it out"
		} else {
			r.Regime = reg
		}
	}
	r.Language = strings.ToLower(strings.TrimSpace(r.Language))
	if r.Language != "" {
		if l, ok := i18n.Parse(r.Language); ok {
			r.Language = string(l)
		} else {
			errs["language"] = "choose one of en, de, fr, es, or leave it out"
		}
	}
	if emailOptional && r.Email == "" {
		// no address: the officer who logs the request verifies it
	} else if email, err := NormalizeEmail(r.Email); err != nil {
		errs["email"] = err.Error()
	} else {
		r.Email = email
	}
	switch {
	case r.Name == "":
		errs["name"] = "enter your name"
	case CheckLine(r.Name) != nil:
		errs["name"] = CheckLine(r.Name).Error()
	case utf8.RuneCountInString(r.Name) > MaxNameLen:
		errs["name"] = fmt.Sprintf("use at most %d characters", MaxNameLen)
	}
	switch {
	case CheckText(r.Details) != nil:
		errs["details"] = CheckText(r.Details).Error()
	case utf8.RuneCountInString(r.Details) > MaxDetailsLen:
		errs["details"] = fmt.Sprintf("use at most %d characters", MaxDetailsLen)
	}
	switch {
	case r.Type == TypeCorrection && len(r.Corrections) == 0:
		errs["corrections"] = "say which value to correct and what it should be"
	case r.Type != TypeCorrection && len(r.Corrections) > 0 && r.Type.Valid():
		errs["corrections"] = "corrections belong only to a correction request"
	case len(r.Corrections) > MaxCorrections:
		errs["corrections"] = fmt.Sprintf("at most %d corrections in one request", MaxCorrections)
	}
	for i, c := range r.Corrections {
		key := fmt.Sprintf("corrections[%d]", i)
		switch {
		case c.Field == "":
			errs[key+".field"] = "say which value to correct"
		case CheckLine(c.Field) != nil:
			errs[key+".field"] = CheckLine(c.Field).Error()
		case utf8.RuneCountInString(c.Field) > MaxFieldLen:
			errs[key+".field"] = fmt.Sprintf("use at most %d characters", MaxFieldLen)
		}
		switch {
		case c.Value == "":
			errs[key+".value"] = "give the correct value"
		case CheckLine(c.Value) != nil:
			errs[key+".value"] = CheckLine(c.Value).Error()
		case utf8.RuneCountInString(c.Value) > MaxValueLen:
			errs[key+".value"] = fmt.Sprintf("use at most %d characters", MaxValueLen)
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// NormalizeEmail checks that s is one plain address and lower-cases its
// domain (the local part is case-sensitive by the standard).
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("enter your email address")
	}
	a, err := mail.ParseAddress(s)
	// net/mail takes any non-ASCII rune as a letter, control characters
	// and U+2028 included; an address is printed in headers and pages.
	if err != nil || a.Name != "" || a.Address != s || len(s) > maxEmailAddrBytes || CheckLine(s) != nil {
		return "", fmt.Errorf("enter an email address like name@example.com")
	}
	at := strings.LastIndexByte(s, '@')
	domain := strings.ToLower(s[at+1:])
	if !strings.Contains(domain, ".") {
		return "", fmt.Errorf("enter an email address like name@example.com")
	}
	return s[:at+1] + domain, nil
}
