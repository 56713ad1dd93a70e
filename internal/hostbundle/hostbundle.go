// Package hostbundle writes the host support bundle of `enmei
// support-bundle`: one tar.gz named like LifeKeeper's lksupport archives,
// <host>.enmei.<YYYYmmddHHMMSS>.tar.gz, holding what the vendor's support
// needs to look into a host's update problem: the release files, enmei's
// state, the dnf/yum or apt repository configuration, the package
// managers' logs and history, the installed packages, the cluster status
// and an index of it all. Configuration that may hold credentials is never
// copied: it is parsed and re-emitted with every password, token, key and
// URL password replaced by <redacted>, leaving out comments and whatever
// does not parse. A safety net then scrubs every entry (the secrets the
// caller knows, URL passwords, password=-like text, Authorization headers,
// private keys) before it is written, because logs and the caller's
// entries are free text. Host files are read under Options.Root with links
// resolved as the host would resolve them and never outside it, and the
// bundle appears whole, mode 0600, or not at all.
package hostbundle

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// DefaultOutDir is where the bundle goes when Options.OutDir is empty.
const DefaultOutDir = "/tmp/enmei"

// Options say what Create collects and where the bundle goes.
type Options struct {
	// Root is the host's "/" ("" is "/"); a scratch root in tests and
	// image builds. Every host file is read under it.
	Root string
	// OutDir is the directory the bundle is written to, on the machine
	// running enmei (not under Root); "" is DefaultOutDir. It is created
	// 0700 when missing.
	OutDir string
	// Now names the bundle and dates its entries; zero is time.Now().
	Now time.Time
	// Hostname names the bundle; "" is the first line of
	// <Root>/etc/hostname, else os.Hostname(). It is made safe for a file
	// name.
	Hostname string
	// State is enmei's own state, already redacted JSON, written as
	// enmei/host.json; nil when the host is not registered.
	State []byte
	// Secrets are every secret the caller knows (host secrets, licence
	// keys, proxy passwords). Each one of at least 6 bytes is replaced by
	// <redacted> wherever it still occurs, in every entry and entry name.
	Secrets []string
	// Cluster returns the cluster status (crm_mon --output-as=xml, or
	// LifeKeeper's status); nil when the host is in no cluster.
	Cluster func(ctx context.Context) ([]byte, error)
	// Extra are more entries from the caller, by name inside the bundle
	// ("enmei/status.txt"): clean relative slash-separated paths that do
	// not collide with the bundle's own entries.
	Extra map[string][]byte
	// Progress, when not nil, gets one line per collected or missing item.
	Progress io.Writer

	lim limits // zero: defaultLimits (tests shrink them)
}

// Result describes the bundle written.
type Result struct {
	// Path is the bundle, OutDir/<host>.enmei.<YYYYmmddHHMMSS>.tar.gz.
	Path string
	// Entries are the names inside the bundle, below its top directory
	// <host>.enmei.<YYYYmmddHHMMSS>, in the order written.
	Entries []string
	// Missing are what could not be collected, each "item: why". Files the
	// host simply does not have (dnf.log on Debian) are not missing; the
	// index lists them as absent.
	Missing []string
	// Scrubbed counts what the safety net replaced: occurrences of
	// Options.Secrets and credential-like text that redaction by
	// construction does not cover (logs, the caller's entries).
	Scrubbed int
}

// limits bound what the bundle copies from logs and history.
type limits struct {
	config  int64 // one configuration or release file
	log     int64 // the tail kept of one log
	history int64 // one history database (copied whole or left out)
	total   int64 // logs and history together
}

var defaultLimits = limits{config: 1 << 20, log: 8 << 20, history: 32 << 20, total: 64 << 20}

// Create collects the host's support bundle into OutDir and returns where
// it is. What cannot be collected is listed in Result.Missing and the
// index rather than failing the bundle; errors are for a root that cannot
// be opened, an output directory that cannot be used, a write that fails
// and a cancelled ctx, and leave no bundle and no temporary file behind.
func Create(ctx context.Context, o Options) (Result, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.OutDir == "" {
		o.OutDir = DefaultOutDir
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.lim == (limits{}) {
		o.lim = defaultLimits
	}
	extra, err := extraNames(o.Extra)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	h, err := openHost(o.Root)
	if err != nil {
		return Result{}, err
	}
	defer h.close()

	host := o.Hostname
	if host == "" {
		host = h.hostname()
	}
	top := safeName(host) + ".enmei." + o.Now.Format("20060102150405")
	a, err := createArchive(o.OutDir, top, o.Now)
	if err != nil {
		return Result{}, err
	}
	defer a.abort()

	c := &collector{o: o, h: h, a: a, scrub: newScrubber(o.Secrets), host: host}
	if err := c.collect(ctx, extra); err != nil {
		return Result{}, err
	}
	if err := c.writeIndex(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	p, err := a.commit()
	if err != nil {
		return Result{}, err
	}
	res := Result{Path: p, Scrubbed: c.scrubbed}
	for _, e := range a.entries {
		res.Entries = append(res.Entries, e.Name)
	}
	for _, m := range c.missing {
		res.Missing = append(res.Missing, m.Item+": "+m.Reason)
	}
	return res, nil
}

// reserved are the bundle's own entry names and prefixes, which Extra may
// not use.
var (
	reservedNames    = []string{"index.txt", "manifest.json", "packages.txt", "enmei/host.json"}
	reservedPrefixes = []string{"etc/", "usr/", "logs/", "history/", "cluster/"}
)

// extraNames checks the caller's entry names and returns them sorted, so
// the bundle's order does not depend on map iteration.
func extraNames(extra map[string][]byte) ([]string, error) {
	names := make([]string, 0, len(extra))
	for name := range extra {
		bad := name == "" || path.Clean(name) != name || path.IsAbs(name) || name == "." ||
			name == ".." || strings.HasPrefix(name, "../") || strings.ContainsAny(name, "\\\x00")
		if !bad && (slices.Contains(reservedNames, name) ||
			slices.ContainsFunc(reservedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })) {
			return nil, errs.E(errs.Invalid, "the support bundle entry %q would replace one the bundle makes itself: give it another name", name)
		}
		if bad {
			return nil, errs.E(errs.Invalid, "the support bundle entry name %q is not a clean relative path: use one like enmei/status.txt", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// safeName keeps a host name usable as a file name, as enmeid's bundle
// does; a leading dot is replaced too, so the bundle is neither hidden nor
// "..".
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
	}
	if s == "" {
		return "localhost"
	}
	return s
}

// hostnameOf is the name /etc/hostname gives: its first line that is
// neither empty nor a comment, as hostname(5) reads it.
func hostnameOf(data []byte) string {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// hostname is the host's name under its root, else this machine's.
func (h *hostFS) hostname() string {
	if data, err := h.readFile("/etc/hostname", 4096); err == nil {
		if name := hostnameOf(data); name != "" {
			return name
		}
	}
	name, err := os.Hostname()
	if err != nil {
		return ""
	}
	return name
}

// progress writes one line for the caller's terminal.
func (c *collector) progress(format string, args ...any) {
	if c.o.Progress != nil {
		fmt.Fprintf(c.o.Progress, format+"\n", args...)
	}
}
