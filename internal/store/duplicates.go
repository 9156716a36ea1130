package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/dsar-project/dsar/internal/domain"
)

// Possible duplicates: two open requests of the same type from the same
// verified address. The flag is not stored; it is read for the requests
// a page shows, in one query through the email hash's index
// (migration 0011), so it costs the same at 50 requests as at 50,000
// and is never stale.

// duplicateCandidate reports whether a request can be flagged (or flag
// another): open, its address verified, and an address to compare.
func duplicateCandidate(r *Request) bool {
	return !r.Status.Final() && r.VerifiedAt != nil && r.Email != "" && r.EmailHash != "" && r.Type != domain.TypeUnclassified
}

// OpenDuplicates answers, for each request of rs that is open and
// verified, the other open and verified requests of the same type from
// the same address, oldest first (by receipt, then reference). Requests
// without any are not in the map.
func (s *Store) OpenDuplicates(ctx context.Context, rs []Request) (map[string][]string, error) {
	var hashes []string
	for i := range rs {
		if duplicateCandidate(&rs[i]) && !slices.Contains(hashes, rs[i].EmailHash) {
			hashes = append(hashes, rs[i].EmailHash)
		}
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	var found []Request
	err := s.db.WithContext(ctx).Model(&Request{}).
		Select("id", "type", "status", "email", "email_hash", "verified_at", "received_at").
		Where("email_hash IN ? AND status IN ? AND verified_at IS NOT NULL", hashes, openStatuses()).
		Order("received_at, id").Find(&found).Error
	if err != nil {
		return nil, fmt.Errorf("store: open duplicates: %w", err)
	}
	out := map[string][]string{}
	for i := range rs {
		r := &rs[i]
		if !duplicateCandidate(r) {
			continue
		}
		for j := range found {
			o := &found[j]
			if o.ID != r.ID && o.EmailHash == r.EmailHash && o.Type == r.Type && duplicateCandidate(o) {
				out[r.ID] = append(out[r.ID], o.ID)
			}
		}
	}
	return out, nil
}
