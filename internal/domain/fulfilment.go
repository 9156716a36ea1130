package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// Fulfilment is what carrying out an approved request did, as the
// completion email and the dashboard show it.
type Fulfilment struct {
	// Package is the requester's download (access and export).
	Package *PackageInfo `json:"package,omitempty"`
	// Erased lists, per system and table, what deletion did.
	Erased []ErasedTable `json:"erased,omitempty"`
	// Archives lists what deletion did in the backups.
	Archives []ArchiveResult `json:"archives,omitempty"`
	// Corrected lists where each corrected value was written.
	Corrected []CorrectedColumn `json:"corrected,omitempty"`
	// OptedOut lists, per system and table, what an opt-out did.
	OptedOut []OptedOutTable `json:"opted_out,omitempty"`
	// Unmatched lists correction fields that name no kind of data dsar
	// knows; an officer follows them up by hand.
	Unmatched []string `json:"unmatched,omitempty"`
	// Others are the webhook and manual systems and what each reported.
	Others []OtherSystem `json:"others,omitempty"`
	// SystemsDone lists the systems already erased or corrected, so a
	// retry after a failure in a later system goes on where it stopped
	// and still reports what the earlier ones did.
	SystemsDone []string `json:"systems_done,omitempty"`
	// Complete is set once fulfilment finished.
	Complete bool `json:"complete"`
	// Systems and Rows count what was found.
	Systems int `json:"systems"`
	Rows    int `json:"rows"`
}

// OptedOutTable is what an opt-out did in one table: the person's rows
// whose marketing columns it set, or that it deleted.
type OptedOutTable struct {
	System  string `json:"system"`
	Table   string `json:"table"`
	Rows    int    `json:"rows"`
	Deleted bool   `json:"deleted,omitempty"`
	// Held rows a legal hold kept from deletion.
	Held int `json:"held,omitempty"`
}

// OtherSystem is a webhook or manual system's part of a request.
type OtherSystem struct {
	System string `json:"system"`
	Kind   string `json:"kind"`
	Note   string `json:"note,omitempty"` // the webhook's summary or the officer's note
}

// PackageInfo describes a download without granting it.
type PackageInfo struct {
	ID        string    `json:"id"`
	FileName  string    `json:"file_name"`
	Size      int64     `json:"size"`
	ExpiresAt time.Time `json:"expires_at"`
	// Tables lists what the package holds, table by table, for the
	// officer who previews it before release (empty in packages built
	// before review before release).
	Tables []PackageTable `json:"tables,omitempty"`
	// Withheld lists what an officer withheld from it, with why.
	Withheld []Withheld `json:"withheld,omitempty"`
}

// PackageTable is one table of a package: its columns and the primary
// keys of its rows (each key a JSON array, as the officer names a row to
// withhold), after what was withheld.
type PackageTable struct {
	System  string            `json:"system"`
	Table   string            `json:"table"`
	Columns []string          `json:"columns"`
	Rows    []json.RawMessage `json:"rows"`
}

// Withheld is one part of a package an officer withheld, and why: a whole
// table when Rows and Columns are empty, else those rows (left out
// entirely) or those columns (left out of every row).
type Withheld struct {
	System  string            `json:"system"`
	Table   string            `json:"table"`
	Rows    []json.RawMessage `json:"rows,omitempty"`
	Columns []string          `json:"columns,omitempty"`
	Reason  string            `json:"reason"`
}

// ErasedTable is what deletion did in one table.
type ErasedTable struct {
	System  string `json:"system"`
	Table   string `json:"table"`
	Deleted int    `json:"deleted"`
	Masked  int    `json:"masked"`
	// Kept counts linked rows left in place because rows outside the
	// request still reference them (an address shared with someone else).
	Kept int `json:"kept"`
	// Retained rows the law requires keeping stay, restricted, on Basis,
	// and are erased when their period ends, by RetainedUntil at the
	// latest.
	Retained      int       `json:"retained,omitempty"`
	RetainedUntil time.Time `json:"retained_until,omitzero"`
	Basis         string    `json:"basis,omitempty"`
	// Held rows wait for a legal hold to end (its reason is not shown).
	Held int `json:"held,omitempty"`
}

// ArchiveResult is what deletion did in one archive of backups.
type ArchiveResult struct {
	Archive string `json:"archive"`
	// Snapshots counts the snapshots that held the person's rows.
	Snapshots int `json:"snapshots"`
	// Rewritten archives had the person removed from every snapshot;
	// others keep them until GoneBy, when the last such snapshot ages
	// out, and a restore drops them again by their tombstones.
	Rewritten bool      `json:"rewritten"`
	GoneBy    time.Time `json:"gone_by,omitzero"`
}

// CorrectedColumn is one column a correction was written to.
type CorrectedColumn struct {
	Field    string `json:"field"`
	Category string `json:"category"`
	System   string `json:"system"`
	Table    string `json:"table"`
	Column   string `json:"column"`
	Rows     int    `json:"rows"`
	// Shared counts rows left as they were because another person's data
	// points at them too (an address two customers share).
	Shared int `json:"shared,omitempty"`
}

// correctionFields maps what requesters write in a correction's field to
// a data-map category.
var correctionFields = map[string]string{
	"name": "user.name", "full name": "user.name", "full_name": "user.name",
	"first name": "user.name.first", "last name": "user.name.last", "surname": "user.name.last",
	"email": "user.contact.email", "email address": "user.contact.email", "e-mail": "user.contact.email",
	"phone": "user.contact.phone_number", "phone number": "user.contact.phone_number", "telephone": "user.contact.phone_number", "mobile": "user.contact.phone_number",
	"address": "user.contact.address", "postal address": "user.contact.address", "street": "user.contact.address.street",
	"city": "user.contact.address.city", "postcode": "user.contact.address.postal_code", "postal code": "user.contact.address.postal_code",
	"zip": "user.contact.address.postal_code", "country": "user.contact.address.country",
	"username": "user.account.username", "user name": "user.account.username",
	"date of birth": "user.demographic.date_of_birth", "birth date": "user.demographic.date_of_birth",
}

// CorrectionFields lists the field names the form suggests.
var CorrectionFields = []string{"name", "email", "phone", "street", "city", "postal code", "country", "username", "date of birth"}

// CorrectionCategory maps a correction's field to a category: a known
// field name (in any case) or a category written out (user.name).
func CorrectionCategory(field string) (string, bool) {
	f := strings.Join(strings.Fields(strings.ToLower(field)), " ")
	if c, ok := correctionFields[f]; ok {
		return c, true
	}
	if strings.HasPrefix(f, "user.") && !strings.ContainsAny(f, " ") {
		return f, true
	}
	return "", false
}
