package agent

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/proxyenv"
)

// settings is what the package-manager configuration is rendered from.
type settings struct {
	server  string   // without trailing slash
	ca      bool     // a CA was given; its copy is at caPath
	proxy   *url.URL // nil: direct
	repos   []hostRepo
	armored string // the signing key
	// authConf: apt reads no auth.conf.d (before 1.5), so the
	// credentials go into a managed block of /etc/apt/auth.conf.
	authConf bool
}

// hostRepo is a repository with the credential of the registration that
// grants it.
type hostRepo struct {
	api.Repo
	hostID, secret string
}

// registerOptions are register's flags.
type registerOptions struct {
	server, key, keyFile, ca, proxy, fingerprint, hostname string
	insecure, noHostname                                   bool
	keySet, keyFileSet, hostnameSet                        bool
	ephemeral                                              bool
	lease                                                  time.Duration
}

func (a *app) registerCommand() *cobra.Command {
	var o registerOptions
	cmd := &cobra.Command{
		Use:   "register --server URL (--key KEY | --key-file FILE) [--fingerprint FPR] [--ca FILE] [--proxy URL]",
		Short: "Activate this host with a licence key and configure dnf/yum or apt",
		Long: `Activate this host with a licence key (one seat of the contract; registering the
same machine again reuses its seat), then write the dnf/yum or apt configuration
and the signing key, so that plain "dnf upgrade" or "apt-get update && apt-get
upgrade" reach the vendor's repositories. Honours HTTPS_PROXY/https_proxy
(HTTP_PROXY for an http:// server) and NO_PROXY unless --proxy is given.

A host may register once per licence key (for example the OS and PHP): each
key takes its own seat and adds its repositories; all use the same server.

The licence key comes from --key, else --key-file (- for standard input),
else the ENMEI_KEY environment variable; the last two keep it out of ps.
With --fingerprint, the server's signing key is checked before a seat is
taken. A plain http:// server other than this machine needs --insecure.

With --ephemeral the seat is a lease (--lease, default 15m, at least 5s) for
containers and autoscaled instances: it is renewed by "enmei heartbeat" and by
every repository request, and returns to the contract by itself when it is
not renewed in time. A container without /etc/machine-id gets a generated
identity, kept in /etc/enmei/host.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.keySet, o.keyFileSet, o.hostnameSet = f.Changed("key"), f.Changed("key-file"), f.Changed("hostname")
			if f.Changed("lease") && !o.ephemeral {
				return usageErr("--lease is the length of an ephemeral seat's lease: add --ephemeral")
			}
			if o.ephemeral {
				if err := entitle.CheckLease(o.lease); err != nil {
					return exitcode.AsUsage(err)
				}
			}
			return a.register(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "the vendor's enmei server URL, e.g. https://els.example.jp")
	f.StringVar(&o.key, "key", "", "the licence key from the support certificate (visible in ps: prefer --key-file or ENMEI_KEY)")
	f.StringVar(&o.keyFile, "key-file", "", "file holding the licence key, - for standard input")
	f.StringVar(&o.fingerprint, "fingerprint", "", "the signing key fingerprint the vendor published (40 hex digits); refuse any other key")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain http:// server that is not this machine")
	f.StringVar(&o.ca, "ca", "", "PEM file of a CA to trust for the server's certificate, besides the system's")
	f.StringVar(&o.proxy, "proxy", "", "HTTP proxy URL, optionally with user:password@ (default: HTTPS_PROXY)")
	f.StringVar(&o.hostname, "hostname", "", "host name the vendor sees (default: /etc/hostname)")
	f.BoolVar(&o.noHostname, "no-hostname", false, "do not tell the vendor this host's name")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "take the seat as a lease that ends unless renewed (containers, autoscaling)")
	f.DurationVar(&o.lease, "lease", entitle.DefaultLease, "length of an --ephemeral seat's lease, e.g. 30s, 15m")
	cmd.MarkFlagRequired("server")
	return cmd
}

func (a *app) register(ctx context.Context, o registerOptions) error {
	server := strings.TrimRight(strings.TrimSpace(o.server), "/")
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return usageErr("--server must be an http:// or https:// URL like https://els.example.jp, not %q", server)
	}
	if u.Scheme == "http" && !isLoopback(u) && !o.insecure {
		return usageErr("--server %s is plain http:// to another machine, so the licence key, the host credential and the signing key could be read or replaced on the way: use the server's https:// URL, or add --insecure if the network between is trusted", server)
	}
	key, err := a.licenceKey(o)
	if err != nil {
		return err
	}
	want := ""
	if o.fingerprint != "" {
		if want, err = parseFingerprint(o.fingerprint); err != nil {
			return err
		}
	}
	name, err := a.hostnameToSend(o)
	if err != nil {
		return err
	}
	osr, err := readOSRelease(a.root)
	if err != nil {
		return err
	}
	family, err := osr.Family()
	if err != nil {
		return err
	}
	tr, err := releaseTraits(a.root, osr)
	if err != nil {
		return err
	}
	arch := hostArch(a.env)
	var caPEM []byte
	if o.ca != "" {
		if caPEM, err = os.ReadFile(o.ca); err != nil {
			return errs.E(errs.Invalid, "cannot read the CA file %s: %v: pass the PEM file of the CA that signed the server's certificate", o.ca, err)
		}
	}

	unlock, err := lock(ctx, a.root)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(a.root, scriptStatePath)); err == nil {
		// register.sh keeps its seat's credential there, not in host.json:
		// writing over its enmei.repo would leave that seat taken.
		return errs.E(errs.Invalid, "this host was registered by register.sh (%s records its seat): give the seat back with register.sh --unregister first, then run enmei register", scriptStatePath)
	}
	prev, err := LoadState(a.root)
	switch {
	case err == nil:
		if !sameServer(prev.Server, server) {
			return errs.E(errs.Invalid, "this host is registered with %s, and a host uses one enmei server: run enmei unregister first to register it with %s", prev.Server, server)
		}
	case errs.Is(err, errs.NotFound):
	case errs.Is(err, errs.Invalid):
		// Registering again is how a damaged host.json is repaired.
		fmt.Fprintf(a.stderr, "enmei: warning: %s is damaged and is replaced; seats it recorded stay taken until the vendor releases them (enmeid seat release)\n", statePath)
		prev = nil
	default:
		return err
	}

	machine, generated, err := a.machineIdentity(prev, o.ephemeral)
	if err != nil {
		return err
	}
	proxy := proxyFor(server, o.proxy, a.env)
	if err := checkProxyFor(tr, osr, proxy); err != nil {
		return err
	}
	c, err := newClient(server, o.ca, proxy)
	if err != nil {
		return err
	}
	defer c.close()

	if want != "" {
		// Before the registration: a server with another key gets no seat.
		armored, err := c.getText(ctx, "/api/v1/signing-key")
		if err != nil {
			return err
		}
		got, err := keyFingerprint(armored)
		if err != nil {
			return fmt.Errorf("%s sent a signing key enmei cannot use (%v): check that --server is the enmei server", server, err)
		}
		if got != want {
			return errs.E(errs.Entitlement, "the signing key of %s has the fingerprint %s, not %s as --fingerprint says: enmei took no seat and wrote nothing; check --server and the fingerprint the vendor published", server, groupFingerprint(got), groupFingerprint(want))
		}
	}
	if prev != nil {
		if prev, err = a.completeState(ctx, c, prev, family, arch); err != nil {
			return err
		}
	}

	// The credentials this host holds: the server keeps the secret of this
	// key's seat instead of rotating it, so if anything below fails, the
	// configuration already on the host keeps working.
	var creds []api.Credential
	if prev != nil {
		for _, r := range prev.Registrations {
			creds = append(creds, api.Credential{HostID: r.HostID, Secret: r.Secret})
		}
	}
	var resp api.RegisterResponse
	if err := c.do(ctx, "POST", "/api/v1/register", "", "", api.RegisterRequest{
		Key: key, MachineID: machine, Hostname: name,
		OSID: osr.ID, OSVersion: osr.VersionID, OSLike: strings.Fields(osr.IDLike), Arch: arch,
		Virt: hostVirt(ctx, a.env), Credentials: creds, LeaseMS: leaseMS(o),
	}, &resp); err != nil {
		return err
	}
	// From here on a failure must not leak a seat this run took.
	giveBack := func(cause error) error {
		if resp.Reused {
			return fmt.Errorf("%w: the seat stays with this machine; fix the problem and run enmei register again (it reuses the seat)", cause)
		}
		// Even when the user interrupted us: the seat must go back.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		if err := c.do(bctx, "POST", "/api/v1/unregister", resp.HostID, resp.Secret, nil, nil); err != nil {
			return fmt.Errorf("%w; giving the new seat back failed too (%v): ask the vendor to release host %s (enmeid seat release)", cause, oneSentence(err), resp.HostID)
		}
		return fmt.Errorf("%w: the new seat was given back; fix the problem and run enmei register again", cause)
	}
	if err := checkResponse(&resp); err != nil {
		return giveBack(fmt.Errorf("%s sent a registration enmei cannot use (%v): check that --server is the enmei server and the agent is up to date", server, err))
	}
	fpr, err := keyFingerprint(resp.SigningKey)
	if err != nil {
		return giveBack(fmt.Errorf("%s sent a signing key enmei cannot use (%v): check that --server is the enmei server", server, err))
	}
	if want != "" && fpr != want {
		return giveBack(errs.E(errs.Entitlement, "the signing key %s sent with the registration has the fingerprint %s, not %s as --fingerprint says: enmei wrote nothing; check --server and the fingerprint the vendor published", server, groupFingerprint(fpr), groupFingerprint(want)))
	}

	repos, skipped := hostRepos(resp.Repos, family, arch)
	reg := Registration{HostID: resp.HostID, Secret: resp.Secret, SupportID: resp.Contract.SupportID,
		Product: resp.Contract.Product, Repos: repos}
	st := &HostState{Server: server, Family: family, CA: caPEM != nil, Proxy: proxy, Fingerprint: fpr, SigningKey: resp.SigningKey,
		MachineID: generated, AuthConfBlock: family == FamilyDeb && !tr.AptAuthD}
	if prev != nil && prev.AuthConfBlock {
		st.AuthConfCreated = prev.AuthConfCreated
	}
	var replaced []Registration
	placed := false
	if prev != nil {
		for _, r := range prev.Registrations {
			// The same key on this machine: the server reused its seat
			// (same host ID), or it was released and this is a new one.
			if r.HostID == reg.HostID || (r.SupportID == reg.SupportID && r.Product == reg.Product) {
				replaced = append(replaced, r)
				if !placed {
					st.Registrations, placed = append(st.Registrations, reg), true
				}
				continue
			}
			st.Registrations = append(st.Registrations, r)
		}
	}
	if !placed {
		st.Registrations = append(st.Registrations, reg)
	}
	files, err := st.files(a.root, caPEM)
	if err != nil {
		return giveBack(err)
	}
	if err := writeFiles(a.root, files); err != nil {
		return giveBack(err)
	}
	if prev != nil {
		// Files of the earlier configuration this one no longer needs.
		var stale []string
		for _, f := range prev.Files {
			if !slices.Contains(st.Files, f) {
				stale = append(stale, f)
			}
		}
		if err := removeFiles(a.root, stale); err != nil {
			fmt.Fprintf(a.stderr, "enmei: warning: %v: remove it by hand\n", err)
		}
		if prev.AuthConfBlock && !st.AuthConfBlock {
			if err := removeAuthBlock(a.root, prev.AuthConfCreated); err != nil {
				fmt.Fprintf(a.stderr, "enmei: warning: %v: remove the block between %q and %q by hand\n", err, blockBegin, blockEnd)
			}
		}
	}
	for _, r := range replaced {
		if r.HostID != reg.HostID {
			fmt.Fprintf(a.stderr, "Note: this host held the seat of host %s for %s (%s) before; if the vendor still counts it (a changed machine identity, a cloned machine), have it released (enmeid seat release).\n", r.HostID, r.SupportID, r.Product)
		}
	}
	a.registerSummary(&resp, st, tr, family, arch, repos, skipped)
	if a.json {
		rep := RegisterReport{SupportID: reg.SupportID, Product: reg.Product, HostID: resp.HostID,
			Reused: resp.Reused, Family: family, Repos: repoIDs(repos), Skipped: repoIDs(skipped), Files: st.Files,
			Fingerprint: fpr, Registrations: len(st.Registrations), Lease: resp.Lease}
		if st.AuthConfBlock {
			rep.ManagedBlock = aptAuthConf
		}
		return a.printJSON(rep)
	}
	return nil
}

// completeState fills in what a version 1 host.json did not record (the
// repositories of its registration) from the server, so that its
// configuration can be written again next to a new registration's. A
// registration the server no longer knows is dropped: its seat is gone.
func (a *app) completeState(ctx context.Context, c *client, prev *HostState, family, arch string) (*HostState, error) {
	out := *prev
	out.Registrations = nil
	for _, r := range prev.Registrations {
		if !r.legacy && prev.Family == family {
			out.Registrations = append(out.Registrations, r)
			continue
		}
		var s api.Status
		err := c.do(ctx, "GET", "/api/v1/status", r.HostID, r.Secret, nil, &s)
		if isUnauthorized(err) {
			fmt.Fprintf(a.stderr, "Note: %s no longer knows host %s of %s (its seat was released); its configuration is removed.\n", prev.Server, r.HostID, r.SupportID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w (asking for the repositories of the earlier registration %s; nothing was changed)", err, r.SupportID)
		}
		r.Repos, _ = hostRepos(s.Repos, family, arch)
		r.legacy = false
		out.Registrations = append(out.Registrations, r)
	}
	return &out, nil
}

// licenceKey is the key from --key, else --key-file, else ENMEI_KEY.
func (a *app) licenceKey(o registerOptions) (string, error) {
	var key, from string
	switch {
	case o.keySet && o.keyFileSet:
		return "", usageErr("--key and --key-file both give the licence key: use one of them")
	case o.keySet:
		key, from = o.key, "--key"
	case o.keyFileSet:
		from = "--key-file " + o.keyFile
		var data []byte
		var err error
		switch o.keyFile {
		case "":
			return "", usageErr("--key-file needs a file name, or - for standard input")
		case "-":
			from = "the licence key on standard input"
			data, err = io.ReadAll(io.LimitReader(a.stdin, 64<<10))
		default:
			data, err = os.ReadFile(o.keyFile)
		}
		if err != nil {
			return "", errs.E(errs.Invalid, "cannot read the licence key from %s: %v: pass the file that holds only the key", o.keyFile, err)
		}
		key = string(data)
	default:
		key, from = a.env("ENMEI_KEY"), "ENMEI_KEY"
		if strings.TrimSpace(key) == "" {
			return "", usageErr("no licence key: pass --key-file FILE (- for standard input), set ENMEI_KEY, or pass --key KEY")
		}
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", usageErr("%s is empty: pass the licence key from the support certificate", from)
	}
	if strings.ContainsFunc(key, unicode.IsControl) {
		return "", usageErr("%s holds more than the licence key (a line break or control character): give only the key", from)
	}
	return key, nil
}

// hostnameToSend is the name the vendor sees: --hostname, nothing with
// --no-hostname, else /etc/hostname. The server refuses control characters
// and more than 255 bytes; refusing them here says which flag to change.
func (a *app) hostnameToSend(o registerOptions) (string, error) {
	if o.noHostname && o.hostnameSet {
		return "", usageErr("--hostname and --no-hostname contradict each other: give one of them")
	}
	if o.noHostname {
		return "", nil
	}
	name, from := hostname(a.root), "the host name"
	if o.hostnameSet {
		name, from = strings.TrimSpace(o.hostname), "--hostname"
	}
	// The server's own rule, so nothing is sent that it would refuse.
	if !entitle.ValidHostname(name) {
		return "", usageErr("%s %.64q has control characters, spaces or more than 253 bytes, which the server refuses: pass --hostname NAME or --no-hostname", from, name)
	}
	return name, nil
}

// RegisterReport is what `enmei register --json` prints on standard output.
type RegisterReport struct {
	SupportID     string     `json:"support_id"`
	Product       string     `json:"product"`
	HostID        string     `json:"host_id"`
	Reused        bool       `json:"reused"` // the machine kept its seat
	Family        string     `json:"family"`
	Repos         []string   `json:"repos"`             // IDs of this registration's repositories configured
	Skipped       []string   `json:"skipped,omitempty"` // IDs of its repositories for other architectures
	Files         []string   `json:"files"`             // host paths written, for all registrations
	Fingerprint   string     `json:"fingerprint"`       // of the signing key, upper-case hex
	Registrations int        `json:"registrations"`     // how many this host now holds
	Lease         *api.Lease `json:"lease,omitempty"`   // an ephemeral seat's lease
	// ManagedBlock is a file of the user's in which enmei keeps a managed
	// block (/etc/apt/auth.conf where apt is older than 1.5).
	ManagedBlock string `json:"managed_block,omitempty"`
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

func (a *app) registerSummary(resp *api.RegisterResponse, st *HostState, tr traits, family, arch string, repos, skipped []api.Repo) {
	w := a.stderr
	seat := "took a new seat"
	if resp.Reused {
		seat = "kept this machine's seat"
	}
	fmt.Fprintf(w, "Registered: support ID %s (%s), contract %s – %s; %s (%d of %d used); host ID %s.\n",
		resp.Contract.SupportID, resp.Contract.Product, resp.Contract.Start, resp.Contract.End, seat,
		resp.Contract.SeatsUsed, resp.Contract.Quantity, resp.HostID)
	fmt.Fprintf(w, "Signing key fingerprint: %s\n", groupFingerprint(st.Fingerprint))
	if resp.Lease != nil {
		fmt.Fprintln(w, leaseLine(resp.Lease))
	}
	if len(skipped) > 0 {
		var names []string
		for _, r := range skipped {
			names = append(names, r.ID+" ("+r.Arch+")")
		}
		fmt.Fprintf(w, "Skipped repositories for other architectures than this host's %s: %s\n", arch, strings.Join(names, ", "))
	}
	var others []string
	for _, r := range st.Registrations {
		if r.HostID != resp.HostID {
			others = append(others, r.SupportID+" ("+r.Product+")")
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(w, "Also registered on this host: %s\n", strings.Join(others, ", "))
	}
	if len(repos) == 0 {
		fmt.Fprintf(w, "enmei: warning: the key grants no %s repository for this host's OS and architecture: nothing to update from yet; ask the vendor which key fits this OS\n", family)
		return
	}
	fmt.Fprintf(w, "Configured repositories: %s\n", strings.Join(repoIDs(repos), ", "))
	if st.AuthConfBlock {
		fmt.Fprintf(w, "Credentials: in a managed block of %s (apt %s reads no auth.conf.d).\n", aptAuthConf, orDash(tr.AptVersion))
	}
	switch {
	case tr.PM == pmYum:
		// yum 3 asks before importing the key repo_gpgcheck needs.
		fmt.Fprintln(w, "Next: yum -y makecache (imports the signing key once), then yum update")
	case family == FamilyRPM:
		fmt.Fprintln(w, "Next: dnf upgrade")
	default:
		fmt.Fprintln(w, "Next: apt-get update && apt-get upgrade")
	}
}

// checkProxyFor refuses a proxy the release's package manager cannot use:
// yum on EL6 and EL7 hands proxy= to a libcurl older than 7.52, which
// knows no https:// proxies.
func checkProxyFor(tr traits, osr OSRelease, proxy string) error {
	if tr.PM != pmYum || osr.ID == "amzn" || !strings.HasPrefix(strings.ToLower(proxy), "https://") {
		return nil
	}
	return errs.E(errs.Invalid, "yum on %s cannot use the https:// proxy %s (its libcurl is older than 7.52), and enmei writes the proxy into its configuration: pass the proxy's http:// address with --proxy; nothing was changed", tr.Release, proxyenv.Redact(proxy))
}
