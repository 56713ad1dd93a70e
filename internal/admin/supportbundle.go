package admin

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/version"
)

// The support bundle follows the lksupport convention of the seed's HA
// vendor: one tar.gz named <node>.enmeid.<timestamp>.tar.gz holding what
// support needs to see the server's state. It is built from an allow-list:
// every file is made here from fields chosen one by one (a URL's scheme and
// host, never its user, password or query; the names of settings, never
// their values), so no secret can slip in through a field nobody thought of.

func (a *app) supportBundleCommand() *cobra.Command {
	var out, metrics string
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "support-bundle [--out DIR] [--metrics-url URL] [--logs-since 24h]",
		Short: "collect version, redacted configuration, schema, repository state, logs and metrics for the vendor's support",
		Long: `Collect what enmei's developers need to look into a problem into
DIR/<node>.enmeid.<YYYYmmddHHMMSS>.tar.gz (default DIR /tmp/enmeid, file mode
0600): the version, the configuration with every secret left out (URLs keep
only scheme, host, port and path), the database schema version, products,
repositories and publications, counts of contracts, hosts and mail, the names
(never the values) of stored settings, the host's OS and disk space, enmeid's
journal (journalctl -u enmeid) when there is one, and the server's /metrics
when it answers. Keys, passwords, tokens, licence keys and host secrets are
never collected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			node, _ := os.Hostname()
			var u syscall.Utsname
			if syscall.Uname(&u) == nil {
				node = utsString(u.Nodename[:])
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("support bundle: %w", err)
			}
			name := filepath.Join(out, fmt.Sprintf("%s.enmeid.%s.tar.gz", safeName(node), a.now().Format("20060102150405")))
			files, err := a.bundleFiles(ctx, metrics, since)
			if err != nil {
				return err
			}
			if err := writeBundle(name, node, a.now(), files); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"bundle": name, "files": len(files)})
			}
			fmt.Fprintln(a.stdout, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "/tmp/enmeid", "directory the bundle is written to")
	cmd.Flags().StringVar(&metrics, "metrics-url", "", "the running server's /metrics (default: <public URL>/metrics, skipped when it does not answer)")
	cmd.Flags().DurationVar(&since, "logs-since", 24*time.Hour, "how much of the journal to include")
	return cmd
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// safeName keeps a host name usable as a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
	if s == "" {
		return "localhost"
	}
	return s
}

// publicURLOf keeps scheme, host, port and path of a URL: never its user
// information, query or fragment, where credentials live.
func publicURLOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(not a URL)"
	}
	keep := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.Scheme == "s3" {
		// The endpoint and region are not secrets and say where blobs are.
		if ep, err := url.Parse(u.Query().Get("endpoint")); err == nil && ep.Host != "" {
			keep.RawQuery = url.Values{"endpoint": {ep.Scheme + "://" + ep.Host}, "region": {u.Query().Get("region")}}.Encode()
		}
	}
	return keep.String()
}

type bundleFile struct {
	name string
	data []byte
}

func jsonFile(name string, v any) bundleFile {
	b, _ := json.MarshalIndent(v, "", "  ")
	return bundleFile{name, append(b, '\n')}
}

func (a *app) bundleFiles(ctx context.Context, metricsURL string, since time.Duration) ([]bundleFile, error) {
	var files []bundleFile
	files = append(files, jsonFile("version.json", version.Get().JSON()))

	// Configuration: allow-listed fields only.
	keyInfo := map[string]any{"path": a.cfg.SigningKey}
	if fi, err := os.Stat(a.cfg.SigningKey); err == nil {
		keyInfo["exists"], keyInfo["mode"] = true, fi.Mode().Perm().String()
	} else {
		keyInfo["exists"] = false
	}
	var envNames []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ENMEI_") || strings.HasPrefix(k, "AWS_") {
			envNames = append(envNames, k) // names only: values can be secrets
		}
	}
	sort.Strings(envNames)
	files = append(files, jsonFile("config.json", map[string]any{
		"data": a.cfg.Data, "db": publicURLOf(a.cfg.DB), "blobs": publicURLOf(a.cfg.Blobs),
		"public_url": publicURLOf(a.cfg.PublicURL), "signing_key": keyInfo, "log_format": a.cfg.LogFormat,
		"allow_password_reset": a.cfg.AllowPasswordReset, "environment_set": envNames,
	}))

	schema, err := a.st.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("support bundle: schema version: %w", err)
	}
	files = append(files, jsonFile("schema.json", map[string]any{"schema_version": schema}))

	// Catalogue and publications.
	prods, err := a.st.Products(ctx)
	if err != nil {
		return nil, err
	}
	var repos []map[string]any
	for _, p := range prods {
		rs, err := a.st.Repos(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			pubs, err := a.st.Publications(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			var ps []map[string]any
			for _, pb := range pubs {
				ps = append(ps, map[string]any{"id": pb.ID, "created_at": pb.CreatedAt.UTC(), "packages": pb.Packages,
					"manifest": pb.Manifest, "rollback_of": pb.RollbackOf})
			}
			repos = append(repos, map[string]any{"id": r.ID, "product": r.ProductID, "format": r.Format, "arch": r.Arch,
				"suite": r.Suite, "component": r.Component, "current": r.Current, "publications": ps})
		}
	}
	var products []map[string]any
	for _, p := range prods {
		products = append(products, productJSON(p))
	}
	files = append(files, jsonFile("catalogue.json", map[string]any{"products": products, "repos": repos}))

	// Counts, not contents: contracts, hosts and mail.
	cs, err := a.st.ListContracts(ctx)
	if err != nil {
		return nil, err
	}
	plans := map[string]int{}
	for _, c := range cs {
		plans[c.Plan]++
	}
	seats, err := a.st.SeatCounts(ctx, a.now())
	if err != nil {
		return nil, err
	}
	used := 0
	for _, s := range seats {
		used += s.Used
	}
	mails, err := a.st.Mails(ctx, 10000)
	if err != nil {
		return nil, err
	}
	byStatus := map[string]int{}
	for _, m := range mails {
		byStatus[m.Status]++
	}
	tickets, err := a.st.Tickets(ctx, store.TicketFilter{})
	if err != nil {
		return nil, err
	}
	ticketStates := map[string]int{}
	for _, t := range tickets {
		ticketStates[t.Status]++
	}
	files = append(files, jsonFile("state.json", map[string]any{"contracts": len(cs), "contracts_by_plan": plans,
		"licence_keys": len(seats), "seats_used": used, "outbox_by_status": byStatus, "tickets_by_status": ticketStates}))

	// Settings: names only.
	files = append(files, jsonFile("settings.json", map[string]any{"names": a.settingNames(ctx)}))

	files = append(files, bundleFile{"system.txt", a.systemInfo()})
	if logs := journal(ctx, since); logs != nil {
		files = append(files, bundleFile{"logs/journal-enmeid.txt", logs})
	}
	if m := a.scrapeMetrics(ctx, metricsURL); m != nil {
		files = append(files, bundleFile{"metrics.txt", m})
	}
	return files, nil
}

// settingNames lists the names of known settings that are stored, never
// their values (the signing key and the CA key of older versions lived
// there).
func (a *app) settingNames(ctx context.Context) []string {
	var names []string
	for _, n := range knownSettings {
		if _, err := a.st.Setting(ctx, n); err == nil {
			names = append(names, n)
		}
	}
	return names
}

// knownSettings are the settings whose presence says something.
var knownSettings = []string{"signing-key", "signing-key-public", "pki-ca-cert", "csaf/manifest", "tracker/config", "tracker/notified", "support/config", "demo"}

func (a *app) systemInfo() []byte {
	var b strings.Builder
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		fmt.Fprintf(&b, "kernel: %s %s %s\n", utsString(u.Sysname[:]), utsString(u.Release[:]), utsString(u.Machine[:]))
	}
	fmt.Fprintf(&b, "cpus: %d\ngo: %s\n", runtime.NumCPU(), runtime.Version())
	if osr, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(osr), "\n") {
			if strings.HasPrefix(l, "PRETTY_NAME=") || strings.HasPrefix(l, "ID=") || strings.HasPrefix(l, "VERSION_ID=") {
				b.WriteString("os-release " + l + "\n")
			}
		}
	}
	var st syscall.Statfs_t
	if syscall.Statfs(a.cfg.Data, &st) == nil {
		fmt.Fprintf(&b, "data directory free: %d MiB of %d MiB\n", st.Bavail*uint64(st.Bsize)>>20, st.Blocks*uint64(st.Bsize)>>20)
	}
	return []byte(b.String())
}

// journal is enmeid's systemd journal since since, or nil without one.
func journal(ctx context.Context, since time.Duration) []byte {
	if _, err := exec.LookPath("journalctl"); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "-u", "enmeid", "--no-pager", "-o", "short-iso",
		"--since", fmt.Sprintf("-%ds", int(since.Seconds()))).Output()
	if err != nil || len(out) == 0 {
		return nil
	}
	return out
}

func (a *app) scrapeMetrics(ctx context.Context, u string) []byte {
	if u == "" {
		if a.cfg.PublicURL == "" {
			return nil
		}
		u = strings.TrimSuffix(a.cfg.PublicURL, "/") + "/metrics"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return b
}

// writeBundle writes the files as a tar.gz under a top directory, atomically
// (a temporary file renamed into place), mode 0600.
func writeBundle(name, node string, now time.Time, files []bundleFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".bundle-*")
	if err != nil {
		return fmt.Errorf("support bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	top := strings.TrimSuffix(filepath.Base(name), ".tar.gz")
	for _, f := range files {
		hdr := &tar.Header{Name: top + "/" + f.name, Mode: 0o600, Size: int64(len(f.data)), ModTime: now, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
