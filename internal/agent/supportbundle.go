package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/hostbundle"
	"github.com/enmei-project/enmei/internal/proxyenv"
)

func (a *app) supportBundleCommand() *cobra.Command {
	var (
		out, ticket string
		o           clusterOptions
	)
	cmd := &cobra.Command{
		Use:   "support-bundle [--out DIR] [--ticket ENM-T-NNNNNN]",
		Short: "Collect this host's configuration and logs for the vendor's support, credentials left out",
		Long: `support-bundle writes DIR/<hostname>.enmei.<YYYYmmddHHMMSS>.tar.gz (default DIR
/tmp/enmei), as LifeKeeper's lksupport does: os-release, enmei's state and the
repository configuration with every credential left out, the package
managers' logs and history, the installed packages, and the cluster's status
(crm_mon --output-as=xml, or LifeKeeper's lcdstatus) on a cluster node.

--ticket ENM-T-NNNNNN also sends it to the vendor's support desk as an
attachment of that ticket of this host's contract.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.supportBundle(cmd.Context(), out, ticket, o)
		},
	}
	cmd.Flags().StringVar(&out, "out", "/tmp/enmei", "directory the bundle is written to")
	cmd.Flags().StringVar(&ticket, "ticket", "", "send the bundle to the support desk as an attachment of this ticket (ENM-T-NNNNNN)")
	o.flags(cmd)
	return cmd
}

// bundleState is host.json as the bundle shows it: everything support
// needs to see, and no field that could hold a credential. Built field by
// field, so a secret added to HostState later cannot leak into bundles.
type bundleState struct {
	Server        string               `json:"server"`
	Family        string               `json:"family"`
	CA            bool                 `json:"ca"`
	Proxy         string               `json:"proxy,omitempty"` // without its password
	Fingerprint   string               `json:"fingerprint,omitempty"`
	Registrations []bundleRegistration `json:"registrations"`
	Files         []string             `json:"files"`
}

type bundleRegistration struct {
	HostID    string     `json:"host_id"`
	SupportID string     `json:"support_id"`
	Product   string     `json:"product"`
	Repos     []api.Repo `json:"repos"`
}

func (a *app) supportBundle(ctx context.Context, out, ticket string, o clusterOptions) error {
	if ticket != "" && !validTicket(ticket) {
		return usageErr("--ticket must be a ticket number like ENM-T-000123, not %q", ticket)
	}
	st, stErr := LoadState(a.root)
	if ticket != "" && stErr != nil {
		return fmt.Errorf("cannot send the bundle to ticket %s: %w", ticket, stErr)
	}
	opts := hostbundle.Options{Root: a.root, OutDir: out, Now: time.Now()}
	if stErr == nil {
		view := bundleState{Server: st.Server, Family: st.Family, CA: st.CA, Proxy: proxyenv.Redact(st.Proxy), Fingerprint: st.Fingerprint, Files: st.Files}
		opts.Secrets = append(opts.Secrets, st.Secret)
		if u, err := url.Parse(st.Proxy); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				opts.Secrets = append(opts.Secrets, pw)
			}
		}
		for _, r := range st.Registrations {
			view.Registrations = append(view.Registrations, bundleRegistration{HostID: r.HostID, SupportID: r.SupportID, Product: r.Product, Repos: r.Repos})
			opts.Secrets = append(opts.Secrets, r.Secret)
		}
		data, err := json.MarshalIndent(view, "", "  ")
		if err != nil {
			return err
		}
		opts.State = data
	} else {
		opts.Extra = map[string][]byte{"enmei/not-registered.txt": []byte(oneSentence(stErr) + "\n")}
	}
	if cl, err := a.openCluster(ctx, o); err == nil && cl != nil {
		opts.Cluster = func(ctx context.Context) ([]byte, error) { return a.clusterReport(ctx, cl.Kind()) }
	}
	if isTerminal(a.stderr) {
		opts.Progress = a.stderr
	}
	res, err := hostbundle.Create(ctx, opts)
	if err != nil {
		return err
	}
	if ticket == "" {
		if a.json {
			return a.printJSON(map[string]any{"path": res.Path, "missing": res.Missing})
		}
		fmt.Fprintf(a.stdout, "%s\n", res.Path)
		return nil
	}
	att, err := a.sendBundle(ctx, st, ticket, res.Path)
	if err != nil {
		return fmt.Errorf("the bundle is at %s but could not be sent: %w", res.Path, err)
	}
	if a.json {
		return a.printJSON(map[string]any{"path": res.Path, "missing": res.Missing, "attached": att})
	}
	fmt.Fprintf(a.stdout, "%s\nsent to ticket %s as %s (%d bytes, sha256 %s)\n", res.Path, att.Ticket, att.Filename, att.Size, att.SHA256)
	return nil
}

// clusterReport is the cluster manager's own status output.
func (a *app) clusterReport(ctx context.Context, kind string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if kind == "lifekeeper" {
		cmd = exec.CommandContext(ctx, "/opt/LifeKeeper/bin/lcdstatus", "-e")
	} else {
		cmd = exec.CommandContext(ctx, "crm_mon", "--output-as=xml")
	}
	cmd.Env = append(os.Environ(), a.toolEnv()...)
	return cmd.Output()
}

// validTicket accepts the desk's ticket numbers: ENM-T- and six or more
// digits (the server checks the ticket is this contract's).
func validTicket(s string) bool {
	digits, ok := strings.CutPrefix(s, "ENM-T-")
	if !ok || len(digits) < 6 || len(digits) > 18 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// sendBundle uploads the bundle to the ticket with the first registration's
// credential; the server checks the ticket is this contract's.
func (a *app) sendBundle(ctx context.Context, st *HostState, ticket, path string) (*api.Attached, error) {
	if len(st.Registrations) == 0 {
		return nil, errs.E(errs.Invalid, "this host holds no registration: run enmei register first")
	}
	c, err := st.client(a.root, a.env)
	if err != nil {
		return nil, err
	}
	defer c.close()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := st.Registrations[0]
	var att api.Attached
	q := url.Values{"name": {filepath.Base(path)}}
	if err := c.upload(ctx, "/api/v1/tickets/"+ticket+"/attachments?"+q.Encode(), r.HostID, r.Secret, f, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

// upload sends body as a file (application/octet-stream) and decodes the
// JSON answer into out.
func (c *client) upload(ctx context.Context, path, user, pass string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", c.server+path, body)
	if err != nil {
		return fmt.Errorf("making the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "enmei-agent")
	req.SetBasicAuth(user, pass)
	// An upload may take longer than an API call: only the context bounds it.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.unreachable(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return c.answerError(resp, data, path)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s sent an answer enmei cannot read (%v): check that the agent is up to date", c.server, err)
	}
	return nil
}
