package agent

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// pkgManager runs the host's package manager, on --root when it is not /:
// dnf with --installroot (its release version and the repositories' key
// and CA paths taken from the root), apt with Dir= and dpkg chrooted.
type pkgManager struct {
	kind string
	root string
	rel  OSRelease
	// stdout and stderr take the package manager's own output during an
	// upgrade (the agent's stderr, so --json keeps stdout to events).
	out io.Writer
}

// pkgUpdate is one package an upgrade would change.
type pkgUpdate struct {
	Name string `json:"name"`
	Arch string `json:"arch,omitempty"`
	From string `json:"from,omitempty"` // installed version
	To   string `json:"to"`             // version the repositories offer
	Repo string `json:"repo,omitempty"`
}

// errNoCache: a cache-only query found no metadata to compare with.
var errNoCache = errors.New("no package metadata cached")

func newPkgManager(root string, rel OSRelease, kind string) *pkgManager {
	if kind == "" {
		kind = pmDNF
		if fam, err := rel.Family(); err == nil && fam == FamilyDeb {
			kind = pmApt
		}
	}
	return &pkgManager{kind: kind, root: root, rel: rel, out: io.Discard}
}

// underRoot reports whether the package manager works on a root other than
// this machine's /.
func (p *pkgManager) underRoot() bool {
	return filepath.Clean(p.root) != "/"
}

func (p *pkgManager) cacheDir() string {
	switch p.kind {
	case pmApt:
		return "/var/cache/apt/archives"
	case pmYum:
		return "/var/cache/yum"
	}
	return "/var/cache/dnf"
}

// rpmArgs are dnf's or yum's options for the root: on a scratch root, dnf
// reads the root's configuration but takes gpgkey= and sslcacert= paths
// from the machine it runs on, so they are pointed into the root.
func (p *pkgManager) rpmArgs() []string {
	if !p.underRoot() {
		return nil
	}
	major, _, _ := strings.Cut(p.rel.VersionID, ".")
	args := []string{"--installroot=" + p.root,
		"--setopt=reposdir=" + filepath.Join(p.root, "etc/yum.repos.d"),
		"--setopt=cachedir=" + filepath.Join(p.root, "var/cache", p.kind),
		"--setopt=logdir=" + filepath.Join(p.root, "var/log"),
	}
	if major != "" {
		args = append(args, "--releasever="+major)
	}
	repos, _ := yumRepos(p.root)
	for _, r := range repos {
		var keys []string
		for _, k := range r.GPGKeys {
			keys = append(keys, p.rootURL(k))
		}
		if len(keys) > 0 {
			args = append(args, fmt.Sprintf("--setopt=%s.gpgkey=%s", r.ID, strings.Join(keys, " ")))
		}
		if r.CACert != "" {
			args = append(args, fmt.Sprintf("--setopt=%s.sslcacert=%s", r.ID, filepath.Join(p.root, r.CACert)))
		}
	}
	return args
}

// rootURL points a file:// URL into the root.
func (p *pkgManager) rootURL(k string) string {
	u, err := url.Parse(k)
	if err != nil || u.Scheme != "file" {
		return k
	}
	return "file://" + filepath.Join(p.root, u.Path)
}

// aptArgs are apt-get's options for the root: its configuration, lists and
// dpkg status under Dir, and dpkg run inside the root.
func (p *pkgManager) aptArgs() []string {
	if !p.underRoot() {
		return nil
	}
	return []string{"-o", "Dir=" + p.root, "-o", "DPkg::Chroot-Directory=" + p.root}
}

// command builds the package manager's command line.
func (p *pkgManager) command(ctx context.Context, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	switch p.kind {
	case pmApt:
		cmd = exec.CommandContext(ctx, "apt-get", append(p.aptArgs(), args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	default:
		if p.underRoot() {
			// dnf fails without its log directory; a fresh image root may lack it.
			_ = os.MkdirAll(filepath.Join(p.root, "var/log"), 0o755)
		}
		cmd = exec.CommandContext(ctx, p.kind, append(p.rpmArgs(), args...)...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	return cmd
}

// pending lists what an upgrade (of pkgs, or of everything) would change.
// cacheOnly reads only cached metadata (preflight makes no downloads).
func (p *pkgManager) pending(ctx context.Context, pkgs []string, cacheOnly bool) ([]pkgUpdate, error) {
	if p.kind == pmApt {
		return p.aptPending(ctx, pkgs)
	}
	args := []string{"-q", "check-update"}
	if cacheOnly {
		args = append(args, "--cacheonly")
	} else {
		// The plan must see what the repositories hold now, not what
		// the cache held when metadata last expired.
		args = append(args, "--refresh")
	}
	var stderr bytes.Buffer
	cmd := p.command(ctx, append(args, pkgs...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &ee) && ee.ExitCode() == 100:
		return parseCheckUpdate(out), nil
	case cacheOnly && strings.Contains(stderr.String(), "Cache-only enabled but no cache"):
		return nil, errNoCache
	case errors.Is(err, exec.ErrNotFound):
		return nil, errs.E(errs.Invalid, "%s is not installed on this machine: enmei runs the host's own package manager", p.kind)
	}
	return nil, errs.E(errs.Other, "%s check-update failed: %s", p.kind, lastLines(stderr.String(), 3))
}

// parseCheckUpdate reads `dnf check-update` output: "name.arch version
// repo" triples, which dnf wraps onto two lines when a name is long, up to
// the "Obsoleting Packages" section.
func parseCheckUpdate(out []byte) []pkgUpdate {
	var fields []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Obsoleting") {
			break
		}
		if strings.HasPrefix(line, "Security:") || strings.HasPrefix(line, "Last metadata") {
			continue
		}
		fields = append(fields, strings.Fields(line)...)
	}
	var ups []pkgUpdate
	for i := 0; i+2 < len(fields); i += 3 {
		na := fields[i]
		name, arch := na, ""
		if j := strings.LastIndex(na, "."); j > 0 {
			name, arch = na[:j], na[j+1:]
		}
		ups = append(ups, pkgUpdate{Name: name, Arch: arch, To: fields[i+1], Repo: fields[i+2]})
	}
	return ups
}

// aptInst matches apt-get -s's "Inst name [old] (new release [arch])".
var aptInst = regexp.MustCompile(`^Inst (\S+) (?:\[(\S+)\] )?\((\S+) ([^\[)]*?)(?: \[(\S+)\])?\)`)

func (p *pkgManager) aptPending(ctx context.Context, pkgs []string) ([]pkgUpdate, error) {
	args := []string{"-s", "dist-upgrade"}
	if len(pkgs) > 0 {
		args = append([]string{"-s", "install", "--only-upgrade"}, pkgs...)
	}
	var stderr bytes.Buffer
	cmd := p.command(ctx, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errs.E(errs.Other, "apt-get -s failed: %s", lastLines(stderr.String(), 3))
	}
	var ups []pkgUpdate
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := aptInst.FindStringSubmatch(sc.Text()); m != nil {
			ups = append(ups, pkgUpdate{Name: m[1], From: m[2], To: m[3], Repo: strings.TrimSpace(m[4]), Arch: m[5]})
		}
	}
	return ups, nil
}

// upgrade runs the upgrade (of pkgs, or of everything), its output going
// to p.out.
func (p *pkgManager) upgrade(ctx context.Context, pkgs []string) error {
	var args []string
	switch p.kind {
	case pmApt:
		args = []string{"-y", "-o", "Dpkg::Options::=--force-confold", "dist-upgrade"}
		if len(pkgs) > 0 {
			args = append([]string{"-y", "-o", "Dpkg::Options::=--force-confold", "install", "--only-upgrade"}, pkgs...)
		}
	default:
		args = append([]string{"-y", "upgrade"}, pkgs...)
	}
	var tail bytes.Buffer
	cmd := p.command(ctx, args...)
	cmd.Stdout = p.out
	cmd.Stderr = io.MultiWriter(p.out, &tail)
	if err := cmd.Run(); err != nil {
		name := p.kind
		if p.kind == pmApt {
			name = "apt-get"
		}
		return errs.E(errs.Other, "%s %s failed (%v): %s", name, strings.Join(args, " "), err, lastLines(tail.String(), 3))
	}
	return nil
}

// lastTransaction is the newest transaction ID in dnf's history database
// (0 when there is none), read directly: asking dnf costs a second.
func (p *pkgManager) lastTransaction(ctx context.Context) (int64, error) {
	if p.kind != pmDNF {
		return 0, nil
	}
	path := filepath.Join(p.root, "var/lib/dnf/history.sqlite")
	if _, err := os.Stat(path); err != nil {
		return 0, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var id sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(id) FROM trans").Scan(&id); err != nil {
		return 0, fmt.Errorf("reading dnf's history %s: %w", path, err)
	}
	return id.Int64, nil
}

// undoHint is the command that reverses transaction id.
func (p *pkgManager) undoHint(id int64) string {
	switch {
	case p.kind == pmApt:
		return "apt has no undo: reinstall the previous versions listed in /var/log/apt/history.log with apt-get install NAME=VERSION"
	case id == 0:
		return ""
	case p.underRoot():
		return fmt.Sprintf("%s --installroot=%s history undo %d", p.kind, p.root, id)
	}
	return fmt.Sprintf("%s history undo %d", p.kind, id)
}

func (p *pkgManager) refreshHint() string {
	if p.kind == pmApt {
		return "apt-get update"
	}
	return p.kind + " makecache"
}

func (p *pkgManager) upgradeHint() string {
	if p.kind == pmApt {
		return "apt-get dist-upgrade"
	}
	return p.kind + " upgrade"
}

// lastLines keeps the end of a tool's output for an error sentence.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}
