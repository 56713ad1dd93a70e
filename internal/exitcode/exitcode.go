// Package exitcode maps errors to the exit codes of the command-line
// contract, in one place for both binaries: 0 success, 1 other failure, 2
// usage error, 3 refused by the entitlement, 4 server unreachable. A usage
// error is a type (UsageError), never recognised by its text.
package exitcode

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/enmei-project/enmei/internal/errs"
)

// The exit codes.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Entitlement = 3
	Unreachable = 4
	// Vulnerable is enmei scan's answer when something installed is
	// known to be vulnerable.
	Vulnerable = 5
)

// ErrVulnerable is what a scan that found vulnerable packages returns,
// after printing its report: exit code 5.
var ErrVulnerable = errors.New("vulnerable packages are installed: apply the updates listed (dnf upgrade --security, or apt-get dist-upgrade)")

// UsageError marks a mistake on the command line.
type UsageError struct{ error }

// Unwrap returns the underlying error.
func (u UsageError) Unwrap() error { return u.error }

// Usagef makes a usage error.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// AsUsage marks err as a usage error (for cobra's flag errors).
func AsUsage(err error) error { return UsageError{err} }

// IsUsage reports whether err is a command-line mistake.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue)
}

// For returns the exit code for err (nil: OK).
func For(err error) int {
	switch {
	case err == nil:
		return OK
	case IsUsage(err):
		return Usage
	case errors.Is(err, ErrVulnerable):
		return Vulnerable
	}
	switch errs.KindOf(err) {
	case errs.Entitlement:
		return Entitlement
	case errs.Unavailable:
		return Unreachable
	}
	return Failure
}

// TypeArgs makes every argument and required-flag error of the command
// tree a UsageError, so no exit code depends on cobra's wording: argument
// validators are wrapped, unknown sub-commands are refused as usage errors,
// and flags marked required are checked before the command runs. Call it
// once the tree is built; flag parsing errors go through SetFlagErrorFunc.
func TypeArgs(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			var err error
			switch {
			case orig != nil:
				err = orig(cmd, args)
			case cmd.HasSubCommands() && len(args) > 0:
				err = fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			if err != nil {
				return UsageError{err}
			}
			return nil
		}
		if c.HasSubCommands() && !c.Runnable() {
			// Runnable, so an unknown sub-command reaches the Args check
			// above instead of cobra's untyped error or its help text.
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		var required []string
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if _, ok := f.Annotations[cobra.BashCompOneRequiredFlag]; ok {
				required = append(required, f.Name)
				delete(f.Annotations, cobra.BashCompOneRequiredFlag)
			}
		})
		if len(required) > 0 && c.RunE != nil {
			run := c.RunE
			c.RunE = func(cmd *cobra.Command, args []string) error {
				for _, n := range required {
					if !cmd.Flags().Changed(n) {
						return Usagef("--%s is required: see %s --help", n, cmd.CommandPath())
					}
				}
				return run(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
