// Package agent is the enmei command on a customer host: it registers the
// host with one or more licence keys (one seat each, reused when the same
// machine registers the same key again), writes the dnf/yum or apt
// configuration for the repositories of all of them, each with its own
// credential, and the signing key (checked against --fingerprint before a
// seat is taken), so that plain `dnf upgrade` / `apt-get upgrade` reach the
// vendor's repositories. status shows every registration; unregister returns
// one seat or all and rewrites or removes the files. register and
// unregister hold a lock, and a failed run leaves the earlier configuration
// and no new seat behind. Every host file lives under --root, so tests and
// image builders can work on a scratch root.
package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/version"
)

var usageErr = exitcode.Usagef

// app holds what every command shares.
type app struct {
	root   string
	json   bool
	env    func(string) string
	stdin  io.Reader // for --key-file -
	stdout io.Writer
	stderr io.Writer
}

// Main runs the enmei command line with args (without the program name) and
// returns the exit code: 0 ok, 1 other failure, 2 usage error, 3 refused by
// the entitlement, 4 server unreachable (network, TLS, proxy).
func Main(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, args, env, os.Stdin, stdout, stderr)
}

// run is Main with standard input as a parameter, for tests.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	a := &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr}
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
	root.AddCommand(a.registerCommand(), a.unregisterCommand(), a.statusCommand(), a.heartbeatCommand(), a.buildSecretsCommand(), a.versionCommand(), a.certCommand(), a.sbomCommand(), a.scanCommand(), a.preflightCommand(), a.updateCommand(), a.supportBundleCommand(), a.switchCommand())
	root.CompletionOptions.DisableDefaultCmd = true
	root.Version = version.Get().String()
	root.SetVersionTemplate("{{.Version}}\n")
	exitcode.TypeArgs(root)
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

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version.Get()
			if a.json {
				return a.printJSON(v.JSON())
			}
			_, err := fmt.Fprintln(a.stdout, v.String())
			return err
		},
	}
}
