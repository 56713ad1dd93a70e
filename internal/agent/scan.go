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
	"runtime/debug"
	"sort"
	"strconv"
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
	// A scan allocates much and lives a fraction of a second: collecting
	// less often saves a third of its time, for a few tens of MB at most.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
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
		data, seq, cached, err := a.advisoryData(ctx, st, reg, server, proxy, offline, installed)
		if err != nil {
			return err
		}
		findings := scan.Match(installed, data, reg.Product)
		if findings == nil {
			findings = []scan.Finding{}
		}
		rep := ScanReport{Server: server, Product: reg.Product, Seq: seq, Cached: cached, Installed: len(installed), Findings: findings}
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

// advisoryData returns the product's advisory data for the installed
// packages, brought up to date with the server unless offline; cached
// reports the server was not used. An up-to-date host reads only the scan
// index (the server answers 304); the full data is read only to merge an
// update.
func (a *app) advisoryData(ctx context.Context, st *HostState, reg Registration, server, proxy string, offline bool, installed []scan.Installed) (scan.Data, int64, bool, error) {
	idx, ok := a.loadIndex(server, reg.Product, installed)
	if offline {
		if !ok {
			return scan.Data{}, 0, false, errs.E(errs.NotFound, "no advisory data for %s is kept on this host yet: run enmei scan once with the server reachable", reg.Product)
		}
		return idx.data, idx.seq, true, nil
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
		return scan.Data{}, 0, false, err
	}
	defer c.close()
	upd, etag, err := c.advisories(ctx, reg, idx.seq, idx.etag)
	if errs.Is(err, errs.Unavailable) && ok {
		fmt.Fprintf(a.stderr, "enmei: warning: %s; using the advisory data kept on this host\n", oneSentence(err))
		return idx.data, idx.seq, true, nil
	}
	if err != nil {
		return scan.Data{}, 0, false, err
	}
	if upd == nil && ok { // 304: nothing changed
		return idx.data, idx.seq, false, nil
	}
	cache, found := a.loadCache(server, reg.Product)
	if !found || upd == nil || upd.Since != cache.Seq {
		// Nothing to merge into: ask for everything.
		if upd, etag, err = c.advisories(ctx, reg, 0, ""); err != nil {
			return scan.Data{}, 0, false, err
		}
		cache = &advisoryCache{Server: server, Product: reg.Product}
	}
	if upd.Since == 0 || cache.Advisories == nil {
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
	data := scan.Data{Advisories: make([]advisory.Advisory, 0, len(cache.Advisories)), Records: make([]advisory.Record, 0, len(cache.Records))}
	for _, adv := range cache.Advisories {
		data.Advisories = append(data.Advisories, adv)
	}
	for _, r := range cache.Records {
		data.Records = append(data.Records, recordOf(r, reg.Product))
	}
	return data, cache.Seq, false, nil
}

func recordOf(r api.CVERecord, product string) advisory.Record {
	return advisory.Record{CVE: r.CVE, Product: product, Status: advisory.Status(r.Status),
		Statement: r.Statement, Score: r.Score, Published: r.Published, Packages: r.Packages, Fixed: r.Fixed}
}

// saveCache writes the full data (for merging updates) and the scan index
// (what a scan reads when nothing changed). The index goes last: it names
// the sequence both hold, so a crash between the two only costs a full
// download.
func (a *app) saveCache(c *advisoryCache) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		return err
	}
	p := a.cachePath(c.Product)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := writeAside(p, buf.Bytes()); err != nil {
		return err
	}
	return writeAside(strings.TrimSuffix(p, ".gob")+".idx", encodeIndex(c))
}

// writeAside writes a file beside its place and renames it there: a scan
// killed halfway leaves the old one.
func writeAside(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// The scan index is text, one item per line, tab-separated:
//
//	enmei-scan-index 1 SERVER PRODUCT SEQ ETAG
//	A ID SEVERITY TYPE CVE,CVE…           an advisory, followed by
//	P NAME ARCH EPOCH VERSION RELEASE FORMAT   its packages
//	R CVE STATUS SCORE PACKAGE,… FIXED,… STATEMENT
//
// A scan splits only the lines of installed package names, so reading it
// costs far less than decoding the full data.
const indexMagic = "enmei-scan-index 1"

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func encodeIndex(c *advisoryCache) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\n", indexMagic, clean(c.Server), clean(c.Product), c.Seq, clean(c.ETag))
	ids := make([]string, 0, len(c.Advisories))
	for id := range c.Advisories {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		adv := c.Advisories[id]
		cves := make([]string, len(adv.CVEs))
		for i, cv := range adv.CVEs {
			cves[i] = cv.ID
		}
		fmt.Fprintf(&b, "A\t%s\t%s\t%s\t%s\n", clean(adv.ID), clean(adv.Severity), clean(adv.Type), strings.Join(cves, ","))
		for _, p := range adv.Packages {
			fmt.Fprintf(&b, "P\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(p.Name), clean(p.Arch), clean(p.Epoch), clean(p.Version), clean(p.Release), clean(p.Format))
		}
	}
	for _, r := range c.Records {
		fmt.Fprintf(&b, "R\t%s\t%s\t%g\t%s\t%s\t%s\n", clean(r.CVE), clean(r.Status), r.Score, clean(strings.Join(r.Packages, ",")), clean(strings.Join(r.Fixed, ",")), clean(r.Statement))
	}
	return b.Bytes()
}

type scanIndex struct {
	seq  int64
	etag string
	data scan.Data
}

// loadIndex reads the scan index, keeping only the advisories that list an
// installed package name; ok is false when there is none (or it is another
// server's, or damaged).
func (a *app) loadIndex(server, product string, installed []scan.Installed) (scanIndex, bool) {
	raw, err := os.ReadFile(strings.TrimSuffix(a.cachePath(product), ".gob") + ".idx")
	if err != nil {
		return scanIndex{}, false
	}
	names := make(map[string]bool, len(installed))
	for _, p := range installed {
		names[p.Name] = true
	}
	var ix scanIndex
	line, rest, _ := bytes.Cut(raw, []byte("\n"))
	head := strings.Split(string(line), "\t")
	if len(head) != 5 || head[0] != indexMagic || head[2] != product || !sameServer(head[1], server) {
		return scanIndex{}, false
	}
	if ix.seq, err = strconv.ParseInt(head[3], 10, 64); err != nil {
		return scanIndex{}, false
	}
	ix.etag = head[4]
	sources := make(map[string]bool, len(installed))
	for _, p := range installed {
		if p.Source != "" {
			sources[p.Source] = true
		}
	}
	// Values that repeat (severities, architectures, epochs…) are made
	// into strings once.
	interned := map[string]string{}
	intern := func(b []byte) string {
		if v, ok := interned[string(b)]; ok {
			return v
		}
		v := string(b)
		interned[v] = v
		return v
	}
	field := func(line []byte) ([]byte, []byte) {
		f, rest, _ := bytes.Cut(line, []byte("\t"))
		return f, rest
	}
	keptCVE := map[string]bool{}
	var cur *advisory.Advisory // the advisory whose packages follow
	var curLine []byte
	taken := false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) < 2 {
			continue
		}
		switch line[0] {
		case 'A':
			cur, curLine, taken = nil, line[2:], false
		case 'P':
			name, tail := field(line[2:])
			if !names[string(name)] || curLine == nil {
				continue
			}
			if !taken {
				id, t := field(curLine)
				sev, t := field(t)
				typ, cves := field(t)
				adv := advisory.Advisory{ID: string(id), Severity: intern(sev), Type: intern(typ)}
				for len(cves) > 0 {
					var c []byte
					c, cves, _ = bytes.Cut(cves, []byte(","))
					if len(c) > 0 {
						adv.CVEs = append(adv.CVEs, advisory.CVERef{ID: string(c)})
						keptCVE[adv.CVEs[len(adv.CVEs)-1].ID] = true
					}
				}
				ix.data.Advisories = append(ix.data.Advisories, adv)
				cur, taken = &ix.data.Advisories[len(ix.data.Advisories)-1], true
			}
			arch, t := field(tail)
			epoch, t := field(t)
			version, t := field(t)
			release, format := field(t)
			cur.Packages = append(cur.Packages, advisory.Package{Name: intern(name), Arch: intern(arch), Epoch: intern(epoch),
				Version: intern(version), Release: string(release), Format: intern(format)})
		case 'R':
			cve, t := field(line[2:])
			status, t := field(t)
			score, t := field(t)
			pkgs, t := field(t)
			fixed, statement := field(t)
			// Only records a scan can use: of a kept advisory's CVE, or
			// naming an installed package.
			use := keptCVE[string(cve)]
			for p := pkgs; !use && len(p) > 0; {
				var name []byte
				name, p, _ = bytes.Cut(p, []byte(","))
				use = names[string(name)] || sources[string(name)]
			}
			if !use {
				continue
			}
			sc, _ := strconv.ParseFloat(string(score), 64)
			r := api.CVERecord{CVE: string(cve), Status: intern(status), Score: sc, Statement: string(statement)}
			if len(pkgs) > 0 {
				r.Packages = strings.Split(string(pkgs), ",")
			}
			if len(fixed) > 0 {
				r.Fixed = strings.Split(string(fixed), ",")
			}
			ix.data.Records = append(ix.data.Records, recordOf(r, product))
		}
	}
	return ix, true
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
