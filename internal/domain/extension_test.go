package domain

import (
	"strings"
	"testing"
	"time"
)

func TestExtensionRefused(t *testing.T) {
	noticeBy := time.Date(2026, 6, 3, 9, 0, 0, 0, time.UTC)
	before, after := noticeBy.Add(-time.Hour), noticeBy.Add(time.Hour)
	for _, c := range []struct {
		typ      RequestType
		status   Status
		extended bool
		now      time.Time
		want     string
	}{
		{TypeAccess, StatusInReview, false, before, ""},
		{TypeDeletion, StatusVerifying, false, noticeBy, ""},
		{TypeAccess, StatusCompleted, false, before, "nothing to extend"},
		{TypeAccess, StatusInReview, true, before, "already extended once"},
		{TypeAccess, StatusInReview, false, after, "first period ended on 3 June 2026"},
		{TypeOptOut, StatusVerifying, false, before, "an opt-out cannot be extended"},
	} {
		err := ExtensionRefused(c.typ, c.status, c.extended, noticeBy, c.now)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s, extended %v, at %v: %v, want %q", c.status, c.extended, c.now, err, c.want)
		}
	}
}

func TestHoldCovers(t *testing.T) {
	for _, c := range []struct {
		scope                HoldScope
		email, system, table string
		want                 bool
	}{
		{HoldPerson, "Ada@Example.com", "crm", "contacts", true},
		{HoldPerson, "alan@example.com", "shop", "orders", false},
		{HoldSystem, "x@example.com", "shop", "anything", true},
		{HoldSystem, "x@example.com", "crm", "orders", false},
		{HoldTable, "x@example.com", "shop", "orders", true},
		{HoldTable, "x@example.com", "shop", "customers", false},
	} {
		if got := HoldCovers(c.scope, "ada@example.com", "shop", "orders", c.email, c.system, c.table); got != c.want {
			t.Errorf("%s hold, %s %s.%s: %v, want %v", c.scope, c.email, c.system, c.table, got, c.want)
		}
	}
}
