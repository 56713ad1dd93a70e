package hostbundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/inventory"
	"github.com/enmei-project/enmei/internal/version"
)

// collector gathers the entries of one bundle.
type collector struct {
	o        Options
	h        *hostFS
	a        *archive
	scrub    *scrubber
	host     string // as found, before safeName
	missing  []missingItem
	absent   []string // host paths looked for that the host does not have
	scrubbed int
	budget   int64 // bytes left for logs and history
	cluster  string
}

// missingItem is something that could not be collected, and why.
type missingItem struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// collect writes every entry but the index.
func (c *collector) collect(ctx context.Context, extra []string) error {
	c.budget = c.o.lim.total
	for _, step := range []func(context.Context) error{c.release, c.state, c.config, c.logs, c.history, c.packages, c.clusterStatus} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	for _, name := range extra {
		data := c.o.Extra[name]
		if err := c.put(ctx, name, data, "enmei", isBinary(data)); err != nil {
			return err
		}
	}
	return nil
}

// put scrubs an entry and writes it.
func (c *collector) put(ctx context.Context, name string, data []byte, source string, binary bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name = c.scrub.scrubName(name)
	data, n := c.scrub.scrub(data, binary)
	c.scrubbed += n
	if err := c.a.add(name, data, source, n); err != nil {
		return err
	}
	c.progress("collected %s (%s)", name, bytesize.Exact(int64(len(data))))
	return nil
}

// miss records what could not be collected; the reason goes through the
// safety net too, since an error may quote what it read.
func (c *collector) miss(item, why string) {
	b, n := c.scrub.scrub([]byte(why), false)
	c.scrubbed += n
	c.missing = append(c.missing, missingItem{item, string(b)})
	c.progress("missing %s: %s", item, b)
}

// failed sorts an error reading host path p: a file the host does not
// have is absent, anything else is missing.
func (c *collector) failed(p string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		if !slices.Contains(c.absent, p) {
			c.absent = append(c.absent, p)
		}
		return
	}
	c.miss(p, reason(err))
}

// release copies the files that say which OS the host runs.
func (c *collector) release(ctx context.Context) error {
	found := false
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := c.h.readFile(p, c.o.lim.config)
		if err != nil {
			c.failed(p, err)
			continue
		}
		if err := c.put(ctx, p[1:], data, p, isBinary(data)); err != nil {
			return err
		}
		found = true
		break // /etc/os-release is usually a link to the other
	}
	if !found {
		c.miss("os-release", "neither /etc/os-release nor /usr/lib/os-release could be read")
	}
	for _, p := range []string{"/etc/redhat-release", "/etc/debian_version"} {
		data, err := c.h.readFile(p, c.o.lim.config)
		if err != nil {
			c.failed(p, err)
			continue
		}
		if err := c.put(ctx, p[1:], data, p, isBinary(data)); err != nil {
			return err
		}
	}
	return nil
}

// state writes enmei's own state as the caller gave it.
func (c *collector) state(ctx context.Context) error {
	if c.o.State == nil {
		c.absent = append(c.absent, "enmei state (this host is not registered)")
		return nil
	}
	return c.put(ctx, "enmei/host.json", c.o.State, "enmei", false)
}

// confSource is one file, or the files of a directory matching a
// pattern, of one configuration format.
type confSource struct {
	dir, pattern string // pattern "": dir is itself the file
	emit         reemitter
}

// reemitter re-emits one configuration file read from host path src.
type reemitter func(data []byte, src string) ([]byte, error)

// infallible makes a reemitter of a format that always parses.
func infallible(f func(data []byte, src string) []byte) reemitter {
	return func(data []byte, src string) ([]byte, error) { return f(data, src), nil }
}

// confSources are the repository configuration of dnf, yum and apt.
var confSources = []confSource{
	{"/etc/yum.conf", "", infallible(reemitINI)},
	{"/etc/dnf/dnf.conf", "", infallible(reemitINI)},
	{"/etc/yum.repos.d", "*.repo", infallible(reemitINI)},
	{"/etc/dnf/vars", "*", infallible(reemitVar)},
	{"/etc/yum/vars", "*", infallible(reemitVar)},
	{"/etc/dnf/plugins", "*.conf", infallible(reemitINI)},
	{"/etc/yum/pluginconf.d", "*.conf", infallible(reemitINI)},
	{"/etc/apt/sources.list", "", infallible(reemitSourcesList)},
	{"/etc/apt/sources.list.d", "*.list", infallible(reemitSourcesList)},
	{"/etc/apt/sources.list.d", "*.sources", infallible(reemitDeb822)},
	{"/etc/apt/auth.conf", "", infallible(reemitNetrc)},
	{"/etc/apt/auth.conf.d", "*", infallible(reemitNetrc)},
	{"/etc/apt/apt.conf", "", reemitAptConf},
	{"/etc/apt/apt.conf.d", "*", reemitAptConf},
}

// config re-emits the repository configuration, redacted by construction.
func (c *collector) config(ctx context.Context) error {
	for _, s := range confSources {
		paths := []string{s.dir}
		if s.pattern != "" {
			names, err := c.h.list(s.dir, s.pattern)
			if err != nil {
				c.failed(s.dir, err)
				continue
			}
			paths = paths[:0]
			for _, n := range names {
				paths = append(paths, path.Join(s.dir, n))
			}
		}
		for _, p := range paths {
			if err := c.confFile(ctx, p, s.emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *collector) confFile(ctx context.Context, p string, emit reemitter) error {
	data, err := c.h.readFile(p, c.o.lim.config)
	if err != nil {
		c.failed(p, err)
		return nil
	}
	switch {
	case isBinary(data):
		// Not configuration (a DER key, say): what its "lines" hold
		// cannot be told.
		c.miss(p, "not a text file; left out")
		return nil
	case bytes.Contains(data, []byte("PRIVATE KEY")):
		c.miss(p, "holds a private key; left out")
		return nil
	}
	out, err := emit(data, p)
	if err != nil {
		c.miss(p, err.Error()+"; left out")
		return nil
	}
	return c.put(ctx, p[1:], out, p, false)
}

// logFiles are the package managers' logs, each kept as logs/<path below
// /var/log>.
var logFiles = []string{
	"/var/log/dnf.log", "/var/log/dnf.rpm.log", "/var/log/dnf.librepo.log", "/var/log/hawkey.log", "/var/log/yum.log",
	"/var/log/apt/history.log", "/var/log/apt/term.log", "/var/log/dpkg.log",
}

// logs copies the end of each log, within the bundle's limits.
func (c *collector) logs(ctx context.Context) error {
	for _, p := range logFiles {
		limit := min(c.o.lim.log, c.budget)
		if limit <= 0 {
			if f, _, err := c.h.open(p); err == nil {
				f.Close()
				c.miss(p, fmt.Sprintf("left out: the bundle's %s for logs and history are used up", bytesize.Exact(c.o.lim.total)))
			}
			continue
		}
		data, cut, err := c.h.tail(p, limit)
		if err != nil {
			c.failed(p, err)
			continue
		}
		c.budget -= int64(len(data))
		if cut > 0 {
			note := fmt.Sprintf("[enmei support-bundle: the first %d bytes of %s are left out; this is its last %s]\n", cut, p, bytesize.Exact(int64(len(data))))
			data = append([]byte(note), data...)
		}
		if err := c.put(ctx, "logs/"+strings.TrimPrefix(p, "/var/log/"), data, p, false); err != nil {
			return err
		}
	}
	return nil
}

// history copies the package managers' transaction history: dnf's SQLite
// database and its write-ahead log, or yum's databases, newest first. A
// database is copied whole or not at all, since a cut one does not open.
func (c *collector) history(ctx context.Context) error {
	paths := []string{"/var/lib/dnf/history.sqlite", "/var/lib/dnf/history.sqlite-wal"}
	const yumDir = "/var/lib/yum/history"
	names, err := c.h.list(yumDir, "history-*.sqlite")
	if err != nil {
		c.failed(yumDir, err)
	}
	slices.Reverse(names) // dated names: newest first
	for _, n := range names {
		paths = append(paths, path.Join(yumDir, n))
	}
	for _, p := range paths {
		f, fi, err := c.h.open(p)
		if err != nil {
			c.failed(p, err)
			continue
		}
		f.Close()
		limit := min(c.o.lim.history, c.budget)
		if fi.Size() > limit {
			c.miss(p, fmt.Sprintf("%s, more than the %s the bundle has left for it; left out", bytesize.Exact(fi.Size()), bytesize.Exact(max(limit, 0))))
			continue
		}
		data, err := c.h.readFile(p, limit)
		if err != nil {
			c.failed(p, err)
			continue
		}
		c.budget -= int64(len(data))
		name := "history/" + strings.TrimPrefix(p, "/var/lib/") // history/dnf/history.sqlite
		if strings.HasPrefix(p, yumDir+"/") {
			name = "history/yum/" + path.Base(p)
		}
		if err := c.put(ctx, name, data, p, true); err != nil {
			return err
		}
	}
	return nil
}

// packages lists the installed packages from the rpm or dpkg database,
// one "name epoch:version arch" a line, as inventory sorts them (name,
// arch, version).
func (c *collector) packages(ctx context.Context) error {
	pkgs, db, err := inventory.ReadWith(ctx, c.o.Root, inventory.Options{Brief: true})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.miss("installed packages", err.Error())
		return nil
	}
	src := db.Path
	if rel, err := filepath.Rel(c.o.Root, db.Path); err == nil && !strings.HasPrefix(rel, "..") {
		src = "/" + filepath.ToSlash(rel)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %d %s packages from %s: name epoch:version arch\n", len(pkgs), db.Format(), src)
	for _, p := range pkgs {
		epoch := p.Epoch
		if epoch == "" {
			epoch = "0"
		}
		fmt.Fprintf(&b, "%s %s:%s %s\n", p.Name, epoch, p.Version, p.Arch)
	}
	return c.put(ctx, "packages.txt", []byte(b.String()), src, false)
}

// clusterStatus writes what the caller's cluster probe returned, output
// that came with an error included.
func (c *collector) clusterStatus(ctx context.Context) error {
	if c.o.Cluster == nil {
		c.cluster = "none (not in a cluster)"
		return nil
	}
	data, err := c.o.Cluster(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		c.miss("cluster status", err.Error())
	}
	if len(data) == 0 {
		c.cluster = "no status"
		return nil
	}
	name := "cluster/status.txt"
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
		name = "cluster/status.xml"
	}
	c.cluster = name
	return c.put(ctx, name, data, "cluster", isBinary(data))
}

// manifest is manifest.json, the index for tools.
type manifest struct {
	Host     string         `json:"host"`
	Time     time.Time      `json:"time"`
	Enmei    map[string]any `json:"enmei"`
	Root     string         `json:"root"`
	Cluster  string         `json:"cluster"`
	Entries  []entry        `json:"entries"`
	Missing  []missingItem  `json:"missing"`
	Absent   []string       `json:"absent"`
	Scrubbed int            `json:"scrubbed"`
}

// writeIndex writes index.txt, for people, and manifest.json, for tools:
// every entry with its size and SHA-256, what is missing and why, what
// the host does not have, the host, the time and enmei's version.
func (c *collector) writeIndex() error {
	v := version.Get()
	m := manifest{Host: c.host, Time: c.o.Now, Enmei: v.JSON(), Root: c.o.Root, Cluster: c.cluster,
		Entries: slices.Clone(c.a.entries), Missing: slices.Clone(c.missing), Absent: slices.Clone(c.absent), Scrubbed: c.scrubbed}
	if m.Missing == nil {
		m.Missing = []missingItem{}
	}
	if m.Absent == nil {
		m.Absent = []string{}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "enmei support bundle\n\nhost:       %s\ntime:       %s\nenmei:      %s\nroot:       %s\ncluster:    %s\nsafety net: %d replacements\n",
		m.Host, m.Time.Format(time.RFC3339), v.String(), m.Root, m.Cluster, m.Scrubbed)
	b.WriteString("\nentries (size in bytes, SHA-256, from):\n")
	for _, e := range m.Entries {
		fmt.Fprintf(&b, "  %s  %d  %s  %s\n", e.Name, e.Size, e.SHA256, e.Source)
	}
	b.WriteString("\nmissing (could not be collected):\n")
	if len(m.Missing) == 0 {
		b.WriteString("  nothing\n")
	}
	for _, x := range m.Missing {
		fmt.Fprintf(&b, "  %s: %s\n", x.Item, x.Reason)
	}
	b.WriteString("\nabsent (looked for; this host has none):\n")
	for _, p := range m.Absent {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the support bundle's index: %w", err)
	}
	ctx := context.Background() // the caller checks its ctx before committing
	if err := c.put(ctx, "index.txt", []byte(b.String()), "enmei", false); err != nil {
		return err
	}
	return c.put(ctx, "manifest.json", append(j, '\n'), "enmei", false)
}

// isBinary reports whether data is not text: it holds a NUL byte.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data, 0) >= 0
}
