package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
)

// The officers' list: filters, a search, a sort and keyset paging. A page
// starts after (or ends before) the row its cursor names, compared on
// (open or closed, sort date, id): the id breaks ties, so rows sharing a
// date are neither repeated nor skipped between pages, and a page costs
// the same at row 10 as at row 10,000.

// Page sizes of the list.
const (
	DefaultListLimit = 100
	MaxListLimit     = 500
)

// RequestSort is the order of the list. Open requests always come before
// closed ones; within each, by the date named, earliest first, or latest
// first with a leading "-".
type RequestSort string

const (
	SortDue          RequestSort = "due"
	SortDueDesc      RequestSort = "-due"
	SortReceived     RequestSort = "received"
	SortReceivedDesc RequestSort = "-received"
)

// RequestSorts lists every sort, the default first.
var RequestSorts = []RequestSort{SortDue, SortDueDesc, SortReceived, SortReceivedDesc}

// Valid reports whether s is a known sort.
func (s RequestSort) Valid() bool { return slices.Contains(RequestSorts, s) }

func (s RequestSort) orDefault() RequestSort {
	if s == "" {
		return SortDue
	}
	return s
}

func (s RequestSort) column() string {
	if strings.TrimPrefix(string(s), "-") == string(SortReceived) {
		return "received_at"
	}
	return "due_at"
}

func (s RequestSort) desc() bool { return strings.HasPrefix(string(s), "-") }

func (s RequestSort) key(r *Request) time.Time {
	if s.column() == "received_at" {
		return r.ReceivedAt
	}
	return r.DueAt
}

// RequestFilter narrows the list. Zero fields match everything.
type RequestFilter struct {
	Status domain.Status
	Type   domain.RequestType
	Regime deadline.Regime
	Open   bool // only requests whose clock still runs
	// Overdue, when set, keeps only requests that are (true) or are not
	// (false) open past their due date at Now.
	Overdue *bool
	Now     time.Time
	// ReceivedFrom and ReceivedBefore bound the date received: from is
	// included, before is not. Zero means unbounded.
	ReceivedFrom   time.Time
	ReceivedBefore time.Time
	// AssigneeID keeps only the requests assigned to that officer;
	// Unassigned only those assigned to no one.
	AssigneeID *int64
	Unassigned bool
	// Search is a reference or its beginning (any case), an email address
	// (anything with an @: matched exactly, ignoring case, through its
	// keyed hash) or part of the requester's name (ignoring case).
	Search string
	Sort   RequestSort
	// Cursor continues from a page's Next or Prev.
	Cursor *Cursor
	Limit  int // DefaultListLimit when 0 or out of range; at most MaxListLimit
}

// RequestPage is one page of the list.
type RequestPage struct {
	Requests []Request
	// Total counts every request the filter matches, on all pages.
	Total int64
	// Next and Prev are the cursors of the pages after and before this
	// one; nil when there is none.
	Next, Prev *Cursor
}

// Cursor is a place in the list: the page it opens starts just after the
// row it names, or, for a previous page, ends just before it.
type Cursor struct {
	Sort   RequestSort
	Before bool
	Closed bool
	At     time.Time
	ID     string
}

// ErrBadCursor refuses a cursor the list did not make.
var ErrBadCursor = errors.New("not a cursor from this list: start again from the first page")

// String encodes the cursor for a URL.
func (c Cursor) String() string {
	dir, closed := "a", "0"
	if c.Before {
		dir = "b"
	}
	if c.Closed {
		closed = "1"
	}
	raw := strings.Join([]string{"v1", string(c.Sort), dir, closed, c.At.UTC().Format(time.RFC3339Nano), c.ID}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes what Cursor.String made; anything else is
// ErrBadCursor.
func ParseCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	p := strings.Split(string(raw), "|")
	if len(p) != 6 || p[0] != "v1" || (p[2] != "a" && p[2] != "b") || (p[3] != "0" && p[3] != "1") || !plausibleID(p[5]) {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Sort: RequestSort(p[1]), Before: p[2] == "b", Closed: p[3] == "1", ID: p[5]}
	if !c.Sort.Valid() {
		return Cursor{}, ErrBadCursor
	}
	if c.At, err = time.Parse(time.RFC3339Nano, p[4]); err != nil {
		return Cursor{}, ErrBadCursor
	}
	c.At = c.At.UTC()
	return c, nil
}

// plausibleID: a reference is short printable ASCII.
func plausibleID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

// ListRequests returns the first page of requests the filter matches
// (or the page its cursor opens), without counting the total.
func (s *Store) ListRequests(ctx context.Context, f RequestFilter) ([]Request, error) {
	p, err := s.listRequests(ctx, f, false)
	return p.Requests, err
}

// PageRequests returns a page of the requests the filter matches, the
// total they number and the cursors of the pages around it.
func (s *Store) PageRequests(ctx context.Context, f RequestFilter) (RequestPage, error) {
	return s.listRequests(ctx, f, true)
}

// NextRequests is PageRequests without counting the total, for reading
// every page (the CSV export).
func (s *Store) NextRequests(ctx context.Context, f RequestFilter) (RequestPage, error) {
	return s.listRequests(ctx, f, false)
}

// openRank orders open requests (0) before closed ones (1).
const openRank = "CASE WHEN status IN ? THEN 0 ELSE 1 END"

func (s *Store) listRequests(ctx context.Context, f RequestFilter, withTotal bool) (RequestPage, error) {
	f.Sort = f.Sort.orDefault()
	if f.Limit <= 0 || f.Limit > MaxListLimit {
		f.Limit = DefaultListLimit
	}
	if f.Cursor != nil && f.Cursor.Sort != f.Sort {
		return RequestPage{}, fmt.Errorf("store: list requests: %w", ErrBadCursor)
	}
	var page RequestPage
	if withTotal {
		if err := s.filtered(ctx, f).Count(&page.Total).Error; err != nil {
			return RequestPage{}, fmt.Errorf("store: count requests: %w", err)
		}
	}
	open := openStatuses()
	col := f.Sort.column()
	back := f.Cursor != nil && f.Cursor.Before
	// Read backwards for a previous page, then turn the rows round.
	keyDesc := f.Sort.desc() != back
	q := s.filtered(ctx, f)
	if c := f.Cursor; c != nil {
		rankOp, keyOp := ">", ">"
		if back {
			rankOp = "<"
		}
		if keyDesc {
			keyOp = "<"
		}
		rank := 0
		if c.Closed {
			rank = 1
		}
		q = q.Where(fmt.Sprintf("(%[1]s %[2]s ? OR (%[1]s = ? AND (%[3]s %[4]s ? OR (%[3]s = ? AND id %[4]s ?))))", openRank, rankOp, col, keyOp),
			open, rank, open, rank, c.At, c.At, c.ID)
	}
	rankDir, keyDir := "", ""
	if back {
		rankDir = " DESC"
	}
	if keyDesc {
		keyDir = " DESC"
	}
	order := clause.OrderBy{Expression: clause.Expr{
		SQL:  openRank + rankDir + ", " + col + keyDir + ", id" + keyDir,
		Vars: []any{open},
	}}
	var rs []Request
	if err := q.Order(order).Limit(f.Limit + 1).Find(&rs).Error; err != nil {
		return RequestPage{}, fmt.Errorf("store: list requests: %w", err)
	}
	more := len(rs) > f.Limit
	if more {
		rs = rs[:f.Limit]
	}
	if back {
		slices.Reverse(rs)
	}
	page.Requests = rs
	if len(rs) == 0 {
		return page, nil
	}
	first, last := cursorOf(f.Sort, &rs[0]), cursorOf(f.Sort, &rs[len(rs)-1])
	first.Before = true
	if back {
		// Came back from the page after: it exists.
		page.Next = &last
		if more {
			page.Prev = &first
		}
	} else {
		if more {
			page.Next = &last
		}
		if f.Cursor != nil {
			page.Prev = &first
		}
	}
	return page, nil
}

func cursorOf(sort RequestSort, r *Request) Cursor {
	return Cursor{Sort: sort, Closed: r.Status.Final(), At: sort.key(r).UTC(), ID: r.ID}
}

// filtered is the list's query with every filter but the cursor.
func (s *Store) filtered(ctx context.Context, f RequestFilter) *gorm.DB {
	q := s.db.WithContext(ctx).Model(&Request{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Regime != "" {
		q = q.Where("regime = ?", f.Regime)
	}
	if f.Open {
		q = q.Where("status IN ?", openStatuses())
	}
	if f.Overdue != nil {
		const overdue = "status IN ? AND due_at < ?"
		if *f.Overdue {
			q = q.Where(overdue, openStatuses(), f.Now.UTC())
		} else {
			q = q.Where("NOT ("+overdue+")", openStatuses(), f.Now.UTC())
		}
	}
	if !f.ReceivedFrom.IsZero() {
		q = q.Where("received_at >= ?", f.ReceivedFrom.UTC())
	}
	if !f.ReceivedBefore.IsZero() {
		q = q.Where("received_at < ?", f.ReceivedBefore.UTC())
	}
	switch {
	case f.AssigneeID != nil:
		q = q.Where("assignee_id = ?", *f.AssigneeID)
	case f.Unassigned:
		q = q.Where("assignee_id IS NULL")
	}
	switch term := strings.TrimSpace(f.Search); {
	case term == "":
	case strings.Contains(term, "@"):
		// Every key's hash, so rows not yet hashed again after a key
		// rotation are still found.
		var hashes []string
		for _, k := range s.lookupKeys() {
			hashes = append(hashes, k.EmailHash(term))
		}
		q = q.Where("email_hash IN ?", hashes)
	default:
		q = q.Where("(id LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')",
			likePrefix.Replace(strings.ToUpper(term))+"%", "%"+likePrefix.Replace(strings.ToLower(term))+"%")
	}
	return q
}

// openStatuses is domain.OpenStatuses as plain strings, which GORM expands
// into an IN list.
func openStatuses() []string {
	var out []string
	for _, st := range domain.OpenStatuses() {
		out = append(out, string(st))
	}
	return out
}

// likePrefix escapes LIKE's wildcards in a searched term.
var likePrefix = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// SetLookupKeys sets the keys of email lookup hashes: new hashes are made
// with the first, and searches try all of them. internal/app sets them
// from DSAR_SECRET_KEY and DSAR_SECRET_KEY_PREVIOUS; a store given none
// uses auth.DevLookupKey.
func (s *Store) SetLookupKeys(keys ...auth.LookupKey) {
	s.lookup.mu.Lock()
	defer s.lookup.mu.Unlock()
	s.lookup.keys = append([]auth.LookupKey(nil), keys...)
}

func (s *Store) lookupKeys() []auth.LookupKey {
	s.lookup.mu.RLock()
	defer s.lookup.mu.RUnlock()
	if len(s.lookup.keys) == 0 {
		return []auth.LookupKey{auth.DevLookupKey}
	}
	return s.lookup.keys
}

// HashEmails gives every request without a hash under the current lookup
// key (stored before migration 0011, or before a key rotation) its hash,
// in batches, and answers how many it hashed. Processes run it at start;
// two running it at once write the same values.
func (s *Store) HashEmails(ctx context.Context) (int, error) {
	key := s.lookupKeys()[0]
	done := 0
	for {
		var rs []Request
		err := s.db.WithContext(ctx).Select("id", "email").
			Where("email_hash NOT LIKE ? ESCAPE '\\'", likePrefix.Replace(key.Prefix())+"%").
			Order("id").Limit(500).Find(&rs).Error
		if err != nil {
			return done, fmt.Errorf("store: hash emails: %w", err)
		}
		if len(rs) == 0 {
			return done, nil
		}
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, r := range rs {
				if err := tx.Model(&Request{}).Where("id = ?", r.ID).Update("email_hash", key.EmailHash(r.Email)).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("store: hash emails: %w", err)
		}
		done += len(rs)
	}
}
