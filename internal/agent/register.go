package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// settings is what the package-manager configuration is rendered from.
type settings struct {
	server  string // without trailing slash
	hostID  string
	secret  string
	ca      bool     // a CA was given; its copy is at caPath
	proxy   *url.URL // nil: direct
	repos   []api.Repo
	armored string // the signing key
}

func (a *app) registerCommand() *cobra.Command {
	var server, key, ca, proxy string
	cmd := &cobra.Command{
		Use:   "register --server URL --key KEY [--ca FILE] [--proxy URL]",
		Short: "Activate this host with a licence key and configure dnf/yum or apt",
		Long: `Activate this host with a licence key (one seat of the contract; registering the
same machine again reuses its seat), then write the dnf/yum or apt configuration
and the signing key, so that plain "dnf upgrade" or "apt-get update && apt-get
upgrade" reach the vendor's repositories. Honours HTTPS_PROXY/https_proxy
(HTTP_PROXY for an http:// server) and NO_PROXY unless --proxy is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.register(cmd.Context(), server, key, ca, proxy)
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "the vendor's enmei server URL, e.g. https://els.example.jp")
	cmd.Flags().StringVar(&key, "key", "", "the licence key from the support certificate")
	cmd.Flags().StringVar(&ca, "ca", "", "PEM file of a CA to trust for the server's certificate, besides the system's")
	cmd.Flags().StringVar(&proxy, "proxy", "", "HTTP proxy URL, optionally with user:password@ (default: HTTPS_PROXY)")
	cmd.MarkFlagRequired("server")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) register(ctx context.Context, server, key, caFile, proxyFlag string) error {
	server = strings.TrimRight(strings.TrimSpace(server), "/")
	key = strings.TrimSpace(key)
	if key == "" {
		return usageErr("--key is empty: pass the licence key from the support certificate")
	}
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return usageErr("--server must be an http:// or https:// URL like https://els.example.jp, not %q", server)
	}
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
			return errs.E(errs.Invalid, "cannot read the CA file %s: %v: pass the PEM file of the CA that signed the server's certificate", caFile, err)
		}
	}
	proxy := proxyFor(server, proxyFlag, a.env)
	c, err := newClient(server, caFile, proxy)
	if err != nil {
		return err
	}
	defer c.close()

	var resp api.RegisterResponse
	if err := c.do(ctx, "POST", "/api/v1/register", "", "", api.RegisterRequest{
		Key: key, MachineID: machine, Hostname: hostname(a.root),
	}, &resp); err != nil {
		return err
	}
	if err := checkResponse(&resp); err != nil {
		return fmt.Errorf("%s sent a registration enmei cannot use (%v): check that --server is the enmei server and the agent is up to date", server, err)
	}

	var repos []api.Repo
	for _, r := range resp.Repos {
		if r.Format == family {
			repos = append(repos, r)
		}
	}
	s := settings{server: server, hostID: resp.HostID, secret: resp.Secret, ca: caPEM != nil,
		proxy: proxyURL(proxy), repos: repos, armored: resp.SigningKey}
	var files []file
	switch {
	case len(repos) == 0:
		// Nothing to configure: an empty sources file only makes apt warn.
	case family == FamilyRPM:
		files = yumFiles(s)
	default:
		if files, err = aptFiles(s); err != nil {
			return err
		}
	}
	if caPEM != nil { // also for status and unregister, even with no repository
		files = append(files, file{caPath, caPEM, 0o644})
	}
	st := HostState{Server: server, HostID: resp.HostID, Secret: resp.Secret, SupportID: resp.Contract.SupportID,
		Product: resp.Contract.Product, Family: family, CA: caPEM != nil, Proxy: proxy}
	for _, f := range files {
		st.Files = append(st.Files, f.path)
	}
	st.Files = append(st.Files, statePath)
	sort.Strings(st.Files)
	stateJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", statePath, err)
	}
	previous, _ := LoadState(a.root)
	// host.json last: it is the record of a complete registration.
	files = append(files, file{statePath, append(stateJSON, '\n'), 0o600})
	if err := writeFiles(a.root, files); err != nil {
		return fmt.Errorf("%w: the seat stays with this machine; fix the problem and run enmei register again (it reuses the seat)", err)
	}
	if previous != nil {
		// Files of an earlier registration this one no longer needs.
		keep := map[string]bool{}
		for _, f := range st.Files {
			keep[f] = true
		}
		var stale []string
		for _, f := range previous.Files {
			if !keep[f] {
				stale = append(stale, f)
			}
		}
		if err := removeFiles(a.root, stale); err != nil {
			fmt.Fprintf(a.stderr, "enmei: warning: %v: remove it by hand\n", err)
		}
		if previous.Server != server || previous.HostID != resp.HostID {
			fmt.Fprintf(a.stderr, "Note: this host was registered with %s as host %s before; if that is another contract, free that seat with the vendor (enmeid seat release).\n", previous.Server, previous.HostID)
		}
	}
	a.registerSummary(&resp, family, repos)
	if a.json {
		return a.printJSON(RegisterReport{SupportID: resp.Contract.SupportID, Product: resp.Contract.Product,
			HostID: resp.HostID, Reused: resp.Reused, Family: family, Repos: repoIDs(repos), Files: st.Files})
	}
	return nil
}

// RegisterReport is what `enmei register --json` prints on standard output.
type RegisterReport struct {
	SupportID string   `json:"support_id"`
	Product   string   `json:"product"`
	HostID    string   `json:"host_id"`
	Reused    bool     `json:"reused"` // the machine kept its seat
	Family    string   `json:"family"`
	Repos     []string `json:"repos"` // IDs of the repositories configured
	Files     []string `json:"files"` // host paths written
}

func repoIDs(repos []api.Repo) []string {
	ids := make([]string, len(repos))
	for i, r := range repos {
		ids[i] = r.ID
	}
	return ids
}

// checkResponse refuses values that would break (or inject lines into) the
// configuration files they are written to.
func checkResponse(r *api.RegisterResponse) error {
	bad := func(what, v string, empty bool) error {
		if (v == "" && !empty) || strings.ContainsAny(v, " \t\r\n\"#") {
			return fmt.Errorf("%s %q is not usable", what, v)
		}
		return nil
	}
	if err := bad("host ID", r.HostID, false); err != nil {
		return err
	}
	if err := bad("secret", r.Secret, false); err != nil {
		return err
	}
	if !strings.Contains(r.SigningKey, "BEGIN PGP PUBLIC KEY BLOCK") {
		return fmt.Errorf("no armored signing key")
	}
	for _, repo := range r.Repos {
		for _, v := range []struct {
			what, v string
			empty   bool
		}{{"repository ID", repo.ID, false}, {"repository path", repo.Path, false}, {"suite", repo.Suite, true}, {"component", repo.Component, true}} {
			if err := bad(v.what, v.v, v.empty); err != nil {
				return err
			}
		}
		if !strings.HasPrefix(repo.Path, "/") {
			return fmt.Errorf("repository path %q is not absolute", repo.Path)
		}
		if repo.Format == FamilyDeb && (repo.Suite == "" || repo.Component == "") {
			return fmt.Errorf("deb repository %s has no suite or component", repo.ID)
		}
	}
	return nil
}

func (a *app) registerSummary(resp *api.RegisterResponse, family string, repos []api.Repo) {
	w := a.stderr
	seat := "took a new seat"
	if resp.Reused {
		seat = "kept this machine's seat"
	}
	fmt.Fprintf(w, "Registered: support ID %s (%s), contract %s – %s; %s (%d of %d used); host ID %s.\n",
		resp.Contract.SupportID, resp.Contract.Product, resp.Contract.Start, resp.Contract.End, seat,
		resp.Contract.SeatsUsed, resp.Contract.Quantity, resp.HostID)
	if len(repos) == 0 {
		fmt.Fprintf(w, "enmei: warning: the contract grants no %s repository for this host's OS: nothing to update from yet; ask the vendor which key fits this OS\n", family)
		return
	}
	fmt.Fprintf(w, "Configured repositories: %s\n", strings.Join(repoIDs(repos), ", "))
	if family == FamilyRPM {
		fmt.Fprintln(w, "Next: dnf upgrade   (yum update on older releases)")
	} else {
		fmt.Fprintln(w, "Next: apt-get update && apt-get upgrade")
	}
}
