package agent

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/advisory/scan"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/inventory"
)

// advisoryCacheDir keeps each product's advisory data between scans, so a
// scan asks the server only for what changed (usually nothing: a 304).
const advisoryCacheDir = "/var/lib/enmei/advisories"

// advisoryCache is what the agent keeps of a product's advisory data.
// Descriptions and references are dropped: a scan never shows them.
type advisoryCache struct {
	Server     string
	Product    string
	Seq        int64
	ETag       string
	Advisories map[string]advisory.Advisory
	Records    map[string]api.CVERecord
}

// ScanReport is what `enmei scan --format json` prints.
type ScanReport struct {
	Server     string         `json:"server"`
	Product    string         `json:"product"`
	Seq        int64          `json:"seq"`
	Cached     bool           `json:"cached"` // the server was not asked or could not be reached
	Installed  int            `json:"installed"`
	Vulnerable int            `json:"vulnerable"`
	Findings   []scan.Finding `json:"findings"`
}

func (a *app) scanCommand() *cobra.Command {
	var server, format, proxy string
	var offline bool
	cmd := &cobra.Command{
		Use:   "scan [--server URL] [--format table|json] [--offline]",
		Short: "Compare installed packages with the vendor's advisories; exit 5 when something is vulnerable",
		Long: `Compare the installed packages (rpmdb or dpkg) with the vendor's released
advisories and the tracker's CVE statuses for this host's product, and list
each vulnerable package with its CVEs, their status (so a fix still in testing
is visible) and the fixed version.

The advisory data is fetched once and kept under /var/lib/enmei/advisories;
later scans ask only for what changed. When the server cannot be reached the
kept data is used, with a warning. --offline never asks the server.

Exit codes: 0 nothing known is vulnerable, 5 something is, and the usual 1-4.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.json {
				format = "json"
			}
			if format != "table" && format != "json" {
				return exitcode.Usagef("--format must be table or json, not %q", format)
			}
			return a.scan(cmd.Context(), server, proxy, format, offline)
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "the enmei server (default: the one the host registered with)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().StringVar(&proxy, "proxy", "", "HTTP(S) proxy URL (default: the one register used, or the proxy environment)")
	cmd.Flags().BoolVar(&offline, "offline", false, "use the advisory data already on the host; do not ask the server")
	return cmd
}

func (a *app) scan(ctx context.Context, server, proxy, format string, offline bool) error {
	st, err := LoadState(a.root)
	if err != nil {
		return err
	}
	if server == "" {
		server = st.Server
	}
	pkgs, db, err := inventory.ReadWith(ctx, a.root, inventory.Options{Brief: true})
	if err != nil {
		return err
	}
	installed := make([]scan.Installed, len(pkgs))
	for i, p := range pkgs {
		installed[i] = scan.FromInventory(p)
	}
	var reports []ScanReport
	vulnerable := 0
	seen := map[string]bool{}
	for _, reg := range st.Registrations {
		if seen[reg.Product] {
			continue
		}
		seen[reg.Product] = true
		cache, cached, err := a.advisoryData(ctx, st, reg, server, proxy, offline)
		if err != nil {
			return err
		}
		data := scan.Data{Advisories: make([]advisory.Advisory, 0, len(cache.Advisories)), Records: make([]advisory.Record, 0, len(cache.Records))}
		for _, adv := range cache.Advisories {
			data.Advisories = append(data.Advisories, adv)
		}
		for _, r := range cache.Records {
			data.Records = append(data.Records, advisory.Record{CVE: r.CVE, Product: reg.Product, Status: advisory.Status(r.Status),
				Statement: r.Statement, Score: r.Score, Published: r.Published, Packages: r.Packages, Fixed: r.Fixed})
		}
		findings := scan.Match(installed, data, reg.Product)
		if findings == nil {
			findings = []scan.Finding{}
		}
		rep := ScanReport{Server: server, Product: reg.Product, Seq: cache.Seq, Cached: cached, Installed: len(installed), Findings: findings}
		for _, f := range findings {
			if f.Vulnerable {
				rep.Vulnerable++
			}
		}
		vulnerable += rep.Vulnerable
		reports = append(reports, rep)
	}
	if format == "json" {
		for _, rep := range reports {
			if err := a.printJSON(rep); err != nil {
				return err
			}
		}
	} else {
		a.printScan(reports, db)
	}
	if vulnerable > 0 {
		return exitcode.ErrVulnerable
	}
	return nil
}

func (a *app) printScan(reports []ScanReport, db inventory.DB) {
	for _, rep := range reports {
		if rep.Cached {
			fmt.Fprintf(a.stderr, "enmei: using the advisory data kept on this host (tracker sequence %d)\n", rep.Seq)
		}
		if len(rep.Findings) == 0 {
			fmt.Fprintf(a.stdout, "%s: %d installed packages (%s), nothing known to be vulnerable\n", rep.Product, rep.Installed, db.Format())
			continue
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PACKAGE\tINSTALLED\tFIXED IN\tADVISORY\tSEVERITY\tCVES")
		for _, f := range rep.Findings {
			var cves []string
			for _, c := range f.CVEs {
				cves = append(cves, fmt.Sprintf("%s (%s, %.1f)", c.ID, c.Status, c.Score))
			}
			name := f.Package
			if f.Arch != "" {
				name += "." + f.Arch
			}
			if !f.Vulnerable {
				name += " (under investigation)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, f.Installed, orDash(f.Fixed), orDash(f.Advisory), orDash(f.Severity), strings.Join(cves, ", "))
		}
		tw.Flush()
		fmt.Fprintf(a.stdout, "%s: %d installed packages, %d vulnerable\n", rep.Product, rep.Installed, rep.Vulnerable)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) cachePath(product string) string {
	return filepath.Join(a.root, advisoryCacheDir, product+".gob")
}

func (a *app) loadCache(server, product string) (*advisoryCache, bool) {
	b, err := os.ReadFile(a.cachePath(product))
	if err != nil {
		return nil, false
	}
	var c advisoryCache
	if gob.NewDecoder(bytes.NewReader(b)).Decode(&c) != nil || c.Product != product || !sameServer(c.Server, server) {
		return nil, false // damaged or another server's: start again
	}
	return &c, true
}

// advisoryData returns the product's advisory data, brought up to date
// with the server unless offline; cached reports the server was not used.
func (a *app) advisoryData(ctx context.Context, st *HostState, reg Registration, server, proxy string, offline bool) (*advisoryCache, bool, error) {
	cache, ok := a.loadCache(server, reg.Product)
	if offline {
		if !ok {
			return nil, false, errs.E(errs.NotFound, "no advisory data for %s is kept on this host yet: run enmei scan once with the server reachable", reg.Product)
		}
		return cache, true, nil
	}
	if !ok {
		cache = &advisoryCache{Server: server, Product: reg.Product, Advisories: map[string]advisory.Advisory{}, Records: map[string]api.CVERecord{}}
	}
	if proxy == "" {
		proxy = st.Proxy
	}
	if proxy == "" {
		proxy = proxyFor(server, "", a.env)
	}
	ca := ""
	if st.CA {
		ca = filepath.Join(a.root, caPath)
	}
	c, err := newClient(server, ca, proxy)
	if err != nil {
		return nil, false, err
	}
	defer c.close()
	upd, etag, err := c.advisories(ctx, reg, cache.Seq, cache.ETag)
	if errs.Is(err, errs.Unavailable) && ok {
		fmt.Fprintf(a.stderr, "enmei: warning: %s; using the advisory data kept on this host\n", oneSentence(err))
		return cache, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if upd == nil { // 304: nothing changed
		return cache, false, nil
	}
	if upd.Since == 0 {
		cache.Advisories, cache.Records = map[string]advisory.Advisory{}, map[string]api.CVERecord{}
	}
	for _, adv := range upd.Advisories {
		adv.Description, adv.References = advisory.Text{}, nil
		cache.Advisories[adv.ID] = adv
	}
	for _, r := range upd.Records {
		cache.Records[r.CVE] = r
	}
	cache.Seq, cache.ETag = upd.Seq, etag
	if err := a.saveCache(cache); err != nil {
		fmt.Fprintf(a.stderr, "enmei: warning: cannot keep the advisory data (%v); the next scan fetches it again\n", err)
	}
	return cache, false, nil
}

func (a *app) saveCache(c *advisoryCache) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		return err
	}
	p := a.cachePath(c.Product)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// Written aside and renamed: a scan killed halfway leaves the old data.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// advisories asks for what changed after since; nil (and no error) when
// nothing did.
func (c *client) advisories(ctx context.Context, reg Registration, since int64, etag string) (*api.Advisories, string, error) {
	path := fmt.Sprintf("/api/v1/advisories?since=%d", since)
	req, err := http.NewRequestWithContext(ctx, "GET", c.server+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.SetBasicAuth(reg.HostID, reg.Secret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "enmei-agent")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, etag, nil
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, "", c.answerError(resp, data, path)
	}
	var out api.Advisories
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, "", c.unreachable(fmt.Errorf("reading the advisory data: %w", err))
	}
	sort.Slice(out.Advisories, func(i, j int) bool { return out.Advisories[i].Seq < out.Advisories[j].Seq })
	return &out, resp.Header.Get("ETag"), nil
}
