package domain

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// HoldScope is what a legal hold covers.
type HoldScope string

const (
	// HoldPerson covers everything about one person, by email.
	HoldPerson HoldScope = "person"
	// HoldSystem covers a whole system of the data map.
	HoldSystem HoldScope = "system"
	// HoldTable covers one table of a system.
	HoldTable HoldScope = "table"
)

// NewHold is a legal hold as an officer places it: litigation, an
// investigation or a regulator's order that forbids erasing data it
// covers until it is released or ends.
type NewHold struct {
	Scope  HoldScope  `json:"scope"`
	Email  string     `json:"email,omitempty"`
	System string     `json:"system,omitempty"`
	Table  string     `json:"table,omitempty"`
	Reason string     `json:"reason"`
	EndsAt *time.Time `json:"ends_at,omitempty"`
}

// MaxHoldReasonLen bounds a hold's reason.
const MaxHoldReasonLen = 2000

// Normalize trims the hold and checks it against the data map's systems
// and tables. It returns a *ValidationError when anything is wrong.
func (h *NewHold) Normalize(now time.Time, knownTable func(system, table string) bool) error {
	h.Scope = HoldScope(strings.ToLower(strings.TrimSpace(string(h.Scope))))
	h.Email = strings.ToLower(strings.TrimSpace(h.Email))
	h.System, h.Table = strings.TrimSpace(h.System), strings.TrimSpace(h.Table)
	h.Reason = strings.TrimSpace(h.Reason)
	errs := map[string]string{}
	switch h.Scope {
	case HoldPerson:
		if a, err := mail.ParseAddress(h.Email); err != nil || a.Address != h.Email {
			errs["email"] = "enter the person's email address, such as name@example.com"
		}
		h.System, h.Table = "", ""
	case HoldSystem, HoldTable:
		h.Email = ""
		if h.Scope == HoldSystem {
			h.Table = ""
		}
		switch {
		case h.System == "":
			errs["system"] = "name the system the hold covers"
		case h.Scope == HoldTable && h.Table == "":
			errs["table"] = "name the table the hold covers"
		case !knownTable(h.System, h.Table):
			if h.Scope == HoldTable && knownTable(h.System, "") {
				errs["table"] = "system " + h.System + " has no table " + h.Table + " in the data map"
			} else {
				errs["system"] = "the data map has no system " + h.System
			}
		}
	default:
		errs["scope"] = "choose person, system or table"
	}
	switch {
	case h.Reason == "":
		errs["reason"] = "give the reason for the hold (litigation, an investigation, an order); the requester never sees it"
	case utf8.RuneCountInString(h.Reason) > MaxHoldReasonLen:
		errs["reason"] = "keep the reason under 2000 characters"
	}
	if h.EndsAt != nil && !h.EndsAt.After(now) {
		errs["ends_at"] = "the end must be in the future, or left out for a hold until released"
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// HoldCovers reports whether a hold of scope on (holdEmail, holdSystem,
// holdTable) covers a person's data in a system's table: a person hold
// covers everything about that address (case aside), a system hold the
// whole system, a table hold that one table.
func HoldCovers(scope HoldScope, holdEmail, holdSystem, holdTable, email, system, table string) bool {
	switch scope {
	case HoldPerson:
		return strings.EqualFold(holdEmail, email)
	case HoldSystem:
		return holdSystem == system
	case HoldTable:
		return holdSystem == system && holdTable == table
	}
	return false
}
