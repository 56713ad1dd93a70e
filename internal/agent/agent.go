// Package agent is the enmei command on a customer host: it registers the
// host with a licence key (one seat, reused when the same machine registers
// again), writes the dnf/yum or apt configuration and signing key so that
// plain `dnf upgrade` / `apt-get upgrade` reach the vendor's repositories,
// shows the registration's status, and removes all of it again on
// unregister. Every host file lives under --root, so tests and image
// builders can work on a scratch root.
package agent

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/exitcode"
)

var usageErr = exitcode.Usagef

// app holds what every command shares.
type app struct {
	root   string
	json   bool
	env    func(string) string
	stdout io.Writer
	stderr io.Writer
}

// Main runs the enmei command line with args (without the program name) and
// returns the exit code: 0 ok, 1 other failure, 2 usage error, 3 refused by
// the entitlement, 4 server unreachable (network, TLS, proxy).
func Main(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	a := &app{env: env, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "enmei",
		Short: "Register this host for the vendor's extended lifecycle support updates",
		Long: `enmei registers this host with a licence key and configures dnf/yum or apt for
the vendor's extended lifecycle support repositories.

Exit codes: 0 success, 1 other failure, 2 usage error, 3 refused by the
entitlement, 4 the server could not be reached (network, TLS, proxy).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return exitcode.AsUsage(err) })
	root.PersistentFlags().StringVar(&a.root, "root", "/", "directory standing for the host's / (for scratch roots and image builds)")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print machine-readable JSON on standard output")
	root.AddCommand(a.registerCommand(), a.unregisterCommand(), a.statusCommand())
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	cmd, err := root.ExecuteC()
	if cmd == nil {
		cmd = root
	}
	code := exitcode.For(err)
	switch code {
	case exitcode.OK:
	case exitcode.Usage:
		fmt.Fprintf(stderr, "enmei: %s: run '%s --help' for usage\n", oneSentence(err), cmd.CommandPath())
	default:
		fmt.Fprintf(stderr, "enmei: %s\n", oneSentence(err))
	}
	return code
}

// oneSentence keeps an error on one line, so a script's log shows it whole.
func oneSentence(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
