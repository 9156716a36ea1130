package domain

import (
	"errors"
	"fmt"
	"time"
)

// ExtensionRefused says why a request's deadline cannot be extended now,
// or nil when it can: the law allows one extension, announced within the
// first period, of a request still open.
func ExtensionRefused(typ RequestType, status Status, extended bool, noticeBy, now time.Time) error {
	switch {
	case typ == TypeOptOut:
		return errors.New("an opt-out cannot be extended; the law asks for it without delay")
	case status.Final():
		return fmt.Errorf("request is %s; there is nothing to extend", status)
	case extended:
		return errors.New("the request was already extended once; the law allows one extension")
	case now.After(noticeBy):
		return fmt.Errorf("the first period ended on %s; an extension had to be announced within it", noticeBy.UTC().Format("2 January 2006, 15:04 MST"))
	}
	return nil
}
