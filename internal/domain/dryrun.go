package domain

import (
	"fmt"
	"time"
)

// DryRun is what approving a deletion or correction would do, worked out
// without doing it, for the officer to confirm before anything is erased
// or written. It holds personal data (a correction's values), so it is
// stored sealed and shown only to officers.
type DryRun struct {
	ID        string      `json:"id"`
	RequestID string      `json:"request_id"`
	Type      RequestType `json:"type"`
	CreatedAt time.Time   `json:"created_at"`
	CreatedBy string      `json:"created_by"`
	// Tables are a deletion's, per system and table: rows it would
	// delete, mask, keep because others still use them, keep by law
	// (retained) or leave for a legal hold.
	Tables []ErasedTable `json:"tables,omitempty"`
	// Columns are a correction's, per column.
	Columns []DryRunColumn `json:"columns,omitempty"`
	// Unmatched lists correction fields no category of the map answers;
	// nothing would be written for them.
	Unmatched []string `json:"unmatched,omitempty"`
	// Unplanned are systems dsar reaches itself whose kind cannot work
	// out a change without making it: the dry run cannot show them.
	Unplanned []UnplannedSystem `json:"unplanned,omitempty"`
	// Others are the systems dsar does not reach itself (webhooks,
	// manual tasks), asked only after approval.
	Others []OtherSystem `json:"others,omitempty"`
	// NoDataMap is set when no data map is configured: dsar changes
	// nothing itself.
	NoDataMap   bool       `json:"no_data_map,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	ConfirmedBy string     `json:"confirmed_by,omitempty"`
}

// DryRunColumn is one column a correction would write: Rows rows (Shared
// left alone), holding the Before values now (distinct; "" is empty),
// and After, the normalised value, then.
type DryRunColumn struct {
	CorrectedColumn
	Before []string `json:"before"`
	After  string   `json:"after"`
}

// UnplannedSystem is a system a dry run could not show, and why.
type UnplannedSystem struct {
	System string `json:"system"`
	Reason string `json:"reason"`
}

// Summary is the dry run in counts, with no personal data, for the audit
// trail and the confirmation's heading.
func (d *DryRun) Summary() string {
	if d.Type == TypeCorrection {
		rows, shared := 0, 0
		for _, c := range d.Columns {
			rows, shared = rows+c.Rows, shared+c.Shared
		}
		return fmt.Sprintf("correct %s in %s (%d shared with others left alone); %s not matched",
			counted(len(d.Columns), "column"), counted(rows, "row"), shared, counted(len(d.Unmatched), "field"))
	}
	var del, mask, kept, retained, held int
	for _, t := range d.Tables {
		del, mask, kept, retained, held = del+t.Deleted, mask+t.Masked, kept+t.Kept, retained+t.Retained, held+t.Held
	}
	return fmt.Sprintf("delete %s, mask %d, keep %d shared with others, keep %d by law, hold %d for a legal hold", counted(del, "row"), mask, kept, retained, held)
}

// counted writes "1 row" or "3 rows".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
