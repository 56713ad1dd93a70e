// Package exitcode maps errors to the exit codes of CLI.md, in one place for
// both binaries: 0 success, 1 other failure, 2 usage error, 3 refused by the
// entitlement, 4 server unreachable.
package exitcode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// The exit codes.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Entitlement = 3
	Unreachable = 4
)

// UsageError marks a mistake on the command line.
type UsageError struct{ error }

// Usagef makes a usage error.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// cobraUsage recognises the argument errors cobra makes itself.
var cobraUsage = []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least",
	"requires at most", "required flag", "invalid argument", "flag needs an argument"}

// IsUsage reports whether err is a command-line mistake.
func IsUsage(err error) bool {
	var ue UsageError
	if errors.As(err, &ue) {
		return true
	}
	for _, p := range cobraUsage {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}

// For returns the exit code for err (nil: OK).
func For(err error) int {
	switch {
	case err == nil:
		return OK
	case IsUsage(err):
		return Usage
	}
	switch errs.KindOf(err) {
	case errs.Entitlement:
		return Entitlement
	case errs.Unavailable:
		return Unreachable
	}
	return Failure
}

// AsUsage marks err as a usage error (for cobra's flag errors).
func AsUsage(err error) error { return UsageError{err} }
