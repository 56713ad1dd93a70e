// Package agent is the enmei command on a customer host: it registers the
// host with a licence key (one seat, reused when the same machine registers
// again), writes the dnf/yum or apt configuration and signing key so plain
// `dnf upgrade` / `apt-get upgrade` reach the vendor's repositories, and
// removes all of it again on unregister. Every host file lives under --root,
// so tests and image builders can work on a scratch root.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
)

var usageErr = exitcode.Usagef

type app struct {
	root   string
	json   bool
	env    func(string) string
	stdout io.Writer
	stderr io.Writer
}

// Main runs enmei with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	a := &app{env: env, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "enmei",
		Short:         "enmei agent: register this host for extended lifecycle support updates",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return exitcode.AsUsage(err) })
	root.PersistentFlags().StringVar(&a.root, "root", "/", "directory standing for the host's /")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "machine-readable output on stdout")
	root.AddCommand(a.registerCommand(), a.unregisterCommand(), a.statusCommand())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitcode.For(err)
	switch code {
	case exitcode.OK:
	case exitcode.Usage:
		fmt.Fprintf(stderr, "enmei: %v\nRun 'enmei --help' for usage.\n", err)
	default:
		fmt.Fprintf(stderr, "enmei: %v\n", err)
	}
	return code
}

func (a *app) registerCommand() *cobra.Command {
	var server, key, ca, proxy string
	cmd := &cobra.Command{
		Use:   "register --server URL --key KEY [--ca FILE] [--proxy URL]",
		Short: "activate this host with a licence key and configure dnf/yum or apt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.register(cmd.Context(), server, key, ca, proxy)
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "the vendor's enmei server URL")
	cmd.Flags().StringVar(&key, "key", "", "licence key from the support certificate")
	cmd.Flags().StringVar(&ca, "ca", "", "PEM file of a CA to trust for the server's certificate")
	cmd.Flags().StringVar(&proxy, "proxy", "", "HTTP(S) proxy URL, optionally with user:password@ (default: HTTPS_PROXY)")
	cmd.MarkFlagRequired("server")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) register(ctx context.Context, server, key, caFile, proxyFlag string) error {
	server = strings.TrimRight(server, "/")
	osr, err := readOSRelease(a.root)
	if err != nil {
		return err
	}
	family, err := osr.Family()
	if err != nil {
		return err
	}
	machine, err := MachineIdentity(a.root)
	if err != nil {
		return err
	}
	var caPEM []byte
	if caFile != "" {
		if caPEM, err = os.ReadFile(caFile); err != nil {
			return errs.E(errs.Invalid, "cannot read the CA file %s: %v", caFile, err)
		}
	}
	proxy := proxyFor(server, proxyFlag, a.env)
	c, err := newClient(server, caFile, proxy)
	if err != nil {
		return err
	}
	var resp api.RegisterResponse
	if err := c.do(ctx, "POST", "/api/v1/register", [2]string{}, api.RegisterRequest{
		Key: key, MachineID: machine, Hostname: hostname(a.root),
	}, &resp); err != nil {
		return err
	}
	var repos []api.Repo
	for _, r := range resp.Repos {
		if r.Format == family {
			repos = append(repos, r)
		}
	}
	s := settings{server: server, hostID: resp.HostID, secret: resp.Secret, ca: caPEM != nil, proxy: proxy, repos: repos, armored: resp.SigningKey}
	var files []file
	if family == "rpm" {
		files = yumFiles(s)
	} else if files, err = aptFiles(s); err != nil {
		return err
	}
	if caPEM != nil {
		files = append(files, file{caPath, caPEM, 0o644})
	}
	st := state{Server: server, HostID: resp.HostID, Secret: resp.Secret, SupportID: resp.Contract.SupportID,
		Product: resp.Contract.Product, Family: family, CA: caPEM != nil, Proxy: proxy}
	for _, f := range files {
		st.Files = append(st.Files, f.path)
	}
	sort.Strings(st.Files)
	stateJSON, _ := json.MarshalIndent(st, "", "  ")
	previous, _ := loadState(a.root)
	files = append(files, file{statePath, append(stateJSON, '\n'), 0o600})
	if err := writeFiles(a.root, files); err != nil {
		return fmt.Errorf("%w: the seat is held by this machine; run enmei register again once the problem is fixed", err)
	}
	// Files of an earlier registration that this one no longer needs.
	if previous != nil {
		keep := map[string]bool{}
		for _, f := range st.Files {
			keep[f] = true
		}
		for _, f := range previous.Files {
			if !keep[f] {
				os.Remove(filepath.Join(a.root, f))
			}
		}
	}
	seat := "took a new seat"
	if resp.Reused {
		seat = "kept this machine's seat"
	}
	fmt.Fprintf(a.stderr, "Registered with %s: contract %s (%s – %s), %s (%d of %d used).\n",
		server, resp.Contract.SupportID, resp.Contract.Start, resp.Contract.End, seat, resp.Contract.SeatsUsed, resp.Contract.Quantity)
	if len(repos) == 0 {
		fmt.Fprintf(a.stderr, "Warning: the contract grants no %s repository for this host's OS yet; nothing to update from.\n", family)
		return nil
	}
	names := make([]string, len(repos))
	for i, r := range repos {
		names[i] = r.ID
	}
	fmt.Fprintf(a.stderr, "Configured repositories: %s\n", strings.Join(names, ", "))
	if family == "rpm" {
		fmt.Fprintln(a.stderr, "Next: dnf upgrade   (or yum update)")
	} else {
		fmt.Fprintln(a.stderr, "Next: apt-get update && apt-get upgrade")
	}
	return nil
}

func (a *app) clientFor(st *state) (*client, error) {
	ca := ""
	if st.CA {
		ca = filepath.Join(a.root, caPath)
	}
	return newClient(st.Server, ca, st.Proxy)
}

func (a *app) unregisterCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unregister",
		Short: "return this host's seat and remove everything register wrote",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := loadState(a.root)
			if err != nil {
				return err
			}
			c, err := a.clientFor(st)
			if err != nil {
				return err
			}
			err = c.do(cmd.Context(), "POST", "/api/v1/unregister", [2]string{st.HostID, st.Secret}, nil, nil)
			switch {
			case err == nil:
			case errs.Is(err, errs.Entitlement):
				fmt.Fprintf(a.stderr, "Note: the server no longer knows this host (%v); removing the local configuration anyway.\n", err)
			default:
				return fmt.Errorf("%w (nothing was removed; run enmei unregister again)", err)
			}
			for _, f := range append(st.Files, statePath) {
				if err := os.Remove(filepath.Join(a.root, f)); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("removing %s: %w", f, err)
				}
			}
			os.Remove(filepath.Join(a.root, stateDirLabel)) // only if empty
			fmt.Fprintf(a.stderr, "Unregistered: the seat of contract %s is free again and enmei's configuration is removed.\n", st.SupportID)
			return nil
		},
	}
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "show the server, contract validity, seat, repositories and host OS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := loadState(a.root)
			if err != nil {
				return err
			}
			osr, _ := readOSRelease(a.root)
			c, err := a.clientFor(st)
			if err != nil {
				return err
			}
			var s api.Status
			if err := c.do(cmd.Context(), "GET", "/api/v1/status", [2]string{st.HostID, st.Secret}, nil, &s); err != nil {
				return err
			}
			if a.json {
				out := map[string]any{"server": st.Server, "host_id": s.HostID, "hostname": s.Hostname,
					"registered_at": s.RegisteredAt, "last_seen": s.LastSeen, "contract": s.Contract, "repos": s.Repos,
					"os": osr.PrettyName, "os_id": osr.ID, "os_version": osr.VersionID}
				enc := json.NewEncoder(a.stdout)
				enc.SetEscapeHTML(false)
				return enc.Encode(out)
			}
			valid := "valid now"
			if !s.Contract.Valid {
				valid = "NOT valid now: updates are refused until the contract is renewed"
			}
			w := a.stdout
			fmt.Fprintf(w, "server:      %s\nsupport ID:  %s (%s)\nproduct:     %s\nvalidity:    %s – %s (Asia/Tokyo), %s\n",
				st.Server, s.Contract.SupportID, s.Contract.Customer, s.Contract.Product, s.Contract.Start, s.Contract.End, valid)
			fmt.Fprintf(w, "seat:        host %s (%s), %d of %d seats used\nregistered:  %s\nlast seen:   %s\n",
				s.HostID, s.Hostname, s.Contract.SeatsUsed, s.Contract.Quantity,
				s.RegisteredAt.Local().Format(time.DateTime), s.LastSeen.Local().Format(time.DateTime))
			for _, r := range s.Repos {
				fmt.Fprintf(w, "repository:  %s (%s)\n", r.ID, r.Format)
			}
			if osr.PrettyName != "" {
				fmt.Fprintf(w, "host OS:     %s\n", osr.PrettyName)
			}
			return nil
		},
	}
}
