package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// isAppError reports whether err is an application error of the given
// type, as the activities raise for what retrying cannot fix.
func isAppError(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}
