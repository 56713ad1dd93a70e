package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// LifeKeeper is a SIOS LifeKeeper for Linux (v9) cluster seen through the
// commands under /opt/LifeKeeper/bin, run by a Runner so that tests can
// replay recorded output.
//
// LifeKeeper has no standby mode and no shared configuration store, so:
//
//   - Standby(node, true) switches every resource hierarchy in service on
//     node over to its backup server (perform_action -a restore run there,
//     through lcdremexec), and Standby(node, false) brings back to node
//     every hierarchy whose primary (highest-priority) server is node; a
//     hierarchy put in service elsewhere on purpose before the update is
//     thus moved to its primary too.
//   - The update lock is a file (LockPath) on every node, read and written
//     on the other nodes through lcdremexec. Taking it needs every node
//     reachable; each node's file is created atomically (noclobber) or
//     compared-and-swapped, and a run that loses a race on one node undoes
//     what it wrote on the others. It is not atomic across nodes the way
//     Pacemaker's CIB is: two runs racing can both fail (then run again),
//     and a node that was unreachable while the lock was released keeps
//     its copy until it expires.
type LifeKeeper struct {
	run Runner
	// Bin is where LifeKeeper's commands are (/opt/LifeKeeper/bin).
	Bin string
	// ConfigDir is where lkbackup writes its archives
	// (/opt/LifeKeeper/config).
	ConfigDir string
	// LockPath is the update lock file on every node
	// (/var/lib/enmei/cluster-update.lock).
	LockPath string

	mu    sync.Mutex
	local string // lcduname, once asked
}

// The LifeKeeper defaults.
const (
	LifeKeeperBin       = "/opt/LifeKeeper/bin"
	LifeKeeperConfigDir = "/opt/LifeKeeper/config"
	LifeKeeperLockPath  = "/var/lib/enmei/cluster-update.lock"
)

// NewLifeKeeper returns the LifeKeeper cluster whose commands run is given
// (ExecRunner{} for the real ones), with the default paths.
func NewLifeKeeper(run Runner) *LifeKeeper {
	return &LifeKeeper{run: run, Bin: LifeKeeperBin, ConfigDir: LifeKeeperConfigDir, LockPath: LifeKeeperLockPath}
}

// Kind is "lifekeeper".
func (k *LifeKeeper) Kind() string { return "lifekeeper" }

func (k *LifeKeeper) bin(name string) string { return path.Join(k.Bin, name) }

// LocalNode is lcduname: the name LifeKeeper uses for this server.
func (k *LifeKeeper) LocalNode(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.local != "" {
		return k.local, nil
	}
	out, err := k.run.Run(ctx, k.bin("lcduname"))
	name := strings.TrimSpace(string(out))
	if err != nil {
		return "", fmt.Errorf("asking LifeKeeper for this server's name: %w", err)
	}
	if name == "" {
		return "", errors.New("lcduname printed no server name")
	}
	k.local = name
	return name, nil
}

// lkRow is a line of lcdstatus's resource hierarchy table, as seen from
// one server.
type lkRow struct {
	Tag, ID, State, Backup, Primary string
	Parent                          string // the tag above it; "" for a root
}

// parseLcdstatus reads the tables of lcdstatus's short status display
// (-e, and -q, which prints the same tables): resource hierarchies, with
// children indented under their parent in the TAG column, and
// communication paths. Title lines and blank lines are skipped, so either
// table may be missing.
func parseLcdstatus(out string) (rows []lkRow, paths []Path) {
	const (
		none = iota
		resources
		comms
	)
	mode, tagCol := none, 0
	var stack []struct {
		depth int
		tag   string
	}
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimRight(line, " \t\r")
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && (f[0] == "BACKUP" || f[0] == "LOCAL") && f[1] == "TAG":
			mode, tagCol, stack = resources, strings.Index(line, "TAG"), nil
			continue
		case len(f) >= 5 && f[0] == "MACHINE" && f[1] == "NETWORK":
			mode = comms
			continue
		}
		switch {
		case mode == resources && len(f) >= 6:
			n := len(f)
			r := lkRow{Backup: f[0], Tag: f[1], ID: strings.Join(f[2:n-3], " "), State: f[n-3], Primary: f[n-1]}
			depth := strings.Index(line[len(f[0]):], f[1]) + len(f[0]) - tagCol
			for len(stack) > 0 && stack[len(stack)-1].depth >= depth {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 {
				r.Parent = stack[len(stack)-1].tag
			}
			stack = append(stack, struct {
				depth int
				tag   string
			}{depth, r.Tag})
			rows = append(rows, r)
		case mode == comms && len(f) >= 5:
			n := len(f)
			paths = append(paths, Path{Remote: f[0], Kind: f[1], Address: strings.Join(f[2:n-2], " "), State: f[n-2]})
		}
	}
	return rows, paths
}

// lcdstatus runs lcdstatus with args on this server, or on node.
func (k *LifeKeeper) lcdstatus(ctx context.Context, node string, args ...string) ([]lkRow, []Path, error) {
	if node != "" {
		args = append(args, "-d", node)
	}
	out, err := k.run.Run(ctx, k.bin("lcdstatus"), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading LifeKeeper's status: %w", err)
	}
	rows, paths := parseLcdstatus(string(out))
	return rows, paths, nil
}

// view is one server's resource table.
func (k *LifeKeeper) view(ctx context.Context, local, node string) ([]lkRow, error) {
	if node == local {
		node = ""
	}
	rows, _, err := k.lcdstatus(ctx, node, "-e")
	return rows, err
}

// Status is lcdstatus -q (communication paths) and lcdstatus -e on this
// server and, through -d, on every server reachable over a live path. A
// server is online when one of its paths is ALIVE.
func (k *LifeKeeper) Status(ctx context.Context) (Status, error) {
	local, err := k.LocalNode(ctx)
	if err != nil {
		return Status{}, err
	}
	_, paths, err := k.lcdstatus(ctx, "", "-q")
	if err != nil {
		return Status{}, err
	}
	st := Status{Quorum: true, Nodes: []Node{{Name: local, Online: true}}}
	for _, p := range paths {
		p.Local = local
		st.Paths = append(st.Paths, p)
		i := slices.IndexFunc(st.Nodes, func(n Node) bool { return n.Name == p.Remote })
		if i < 0 {
			st.Nodes = append(st.Nodes, Node{Name: p.Remote})
			i = len(st.Nodes) - 1
		}
		st.Nodes[i].Online = st.Nodes[i].Online || p.State == "ALIVE"
	}
	byTag := map[string]*Resource{}
	var order []string
	for _, n := range st.Nodes {
		if !n.Online {
			continue
		}
		rows, err := k.view(ctx, local, n.Name)
		if err != nil {
			return Status{}, err
		}
		for _, row := range rows {
			r := byTag[row.Tag]
			if r == nil {
				r = &Resource{ID: row.Tag, Parent: row.Parent, Agent: row.ID, Managed: true, States: map[string]string{}}
				byTag[row.Tag] = r
				order = append(order, row.Tag)
			}
			r.States[n.Name] = row.State
			switch row.State {
			case "ISP", "ISU":
				r.Node, r.Active, r.Role = n.Name, true, row.State
				r.Nodes = append(r.Nodes, n.Name)
			case "OSF":
				r.Failed = true
			}
			if r.Role == "" && n.Name == local {
				r.Role = row.State
			}
		}
	}
	for _, tag := range order {
		st.Resources = append(st.Resources, *byTag[tag])
	}
	return st, nil
}

// safeArg matches tags, node names and paths that can go through
// lcdremexec, which hands its command to ksh -c as one string.
var safeArg = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// onNode runs a LifeKeeper command on node: directly on this server,
// through lcdremexec elsewhere.
func (k *LifeKeeper) onNode(ctx context.Context, local, node string, cmd ...string) ([]byte, error) {
	if node == local {
		return k.run.Run(ctx, cmd[0], cmd[1:]...)
	}
	for _, a := range append([]string{node}, cmd...) {
		if !safeArg.MatchString(a) {
			return nil, errs.E(errs.Invalid, "%q cannot be passed to another server through lcdremexec: rename it or run the command on that server", a)
		}
	}
	return k.run.Run(ctx, k.bin("lcdremexec"), append([]string{"-d", node, "--"}, cmd...)...)
}

// Standby switches node's hierarchies to their backups (on) or brings
// node's primary hierarchies back to it (!on); see the type's comment.
func (k *LifeKeeper) Standby(ctx context.Context, node string, on bool) error {
	local, err := k.LocalNode(ctx)
	if err != nil {
		return err
	}
	rows, err := k.view(ctx, local, node)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Parent != "" {
			continue // restoring the root brings its dependencies along
		}
		inService := r.State == "ISP" || r.State == "ISU"
		target := ""
		switch {
		case on && inService:
			target = r.Backup
			if strings.Trim(target, "-") == "" || target == node {
				// node is the lowest priority: the highest one is free.
				target = r.Primary
			}
			if target == node || target == "" {
				return errs.E(errs.Other, "resource hierarchy %s has no other server to switch over to: add a backup server to it or take it out of service by hand", r.Tag)
			}
		case !on && !inService && r.Primary == node:
			target = node
		default:
			continue
		}
		if _, err := k.onNode(ctx, local, target, k.bin("perform_action"), "-t", r.Tag, "-a", "restore"); err != nil {
			return fmt.Errorf("bringing resource hierarchy %s in service on %s: %w", r.Tag, target, err)
		}
	}
	return nil
}

// Backup runs lkbackup -c and copies the archive it created into dir:
// uninstalling LifeKeeper deletes ConfigDir, archives included.
func (k *LifeKeeper) Backup(ctx context.Context, dir string) ([]string, error) {
	before, err := k.archives()
	if err != nil {
		return nil, err
	}
	if _, err := k.run.Run(ctx, k.bin("lkbackup"), "-c"); err != nil {
		return nil, fmt.Errorf("backing up the LifeKeeper configuration: %w", err)
	}
	after, err := k.archives()
	if err != nil {
		return nil, err
	}
	var newest string
	var newestTime time.Time
	for name, mod := range after {
		if _, old := before[name]; !old && (newest == "" || mod.After(newestTime)) {
			newest, newestTime = name, mod
		}
	}
	if newest == "" {
		return nil, fmt.Errorf("lkbackup -c created no new archive in %s", k.ConfigDir)
	}
	dst := filepath.Join(dir, newest)
	if err := copyFile(filepath.Join(k.ConfigDir, newest), dst); err != nil {
		return nil, fmt.Errorf("copying the LifeKeeper backup: %w", err)
	}
	return []string{dst}, nil
}

// archives lists ConfigDir's lkbackup archives with their times.
func (k *LifeKeeper) archives() (map[string]time.Time, error) {
	ents, err := os.ReadDir(k.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("listing the LifeKeeper backups: %w", err)
	}
	m := map[string]time.Time{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "archive.") && strings.HasSuffix(e.Name(), ".tar.gz") {
			if fi, err := e.Info(); err == nil {
				m[e.Name()] = fi.ModTime()
			}
		}
	}
	return m, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// lkLock is the lock file's content, one line of JSON.
type lkLock struct {
	Owner   string    `json:"owner"`
	Node    string    `json:"node"`
	Expires time.Time `json:"expires"`
	Note    string    `json:"note,omitempty"`
}

func encodeLKLock(l Lock) string {
	b, _ := json.Marshal(lkLock{Owner: l.Owner, Node: l.Node, Expires: l.Expires.UTC().Truncate(time.Second), Note: oneLineNote(l.Note)})
	return string(b)
}

// nodeLock is one node's copy of the lock: raw is the file's content as
// read (for compare-and-swap), "" with present false when there is none.
type nodeLock struct {
	node    string
	present bool
	raw     string
	lock    *Lock // nil when absent or unreadable
}

// heldAgainst reports whether the copy stops owner from taking the lock at
// now.
func (n nodeLock) heldAgainst(owner string, now time.Time) bool {
	return n.lock != nil && n.lock.Owner != owner && !n.lock.Expired(now)
}

// shq quotes s for a POSIX shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lockScript runs script on node with the lock path in it: through sh on
// this server, through lcdremexec -e (stdout only) elsewhere.
func (k *LifeKeeper) lockScript(ctx context.Context, local, node, script string) ([]byte, error) {
	if node == local {
		return k.run.Run(ctx, "sh", "-c", script)
	}
	if !safeArg.MatchString(node) {
		return nil, errs.E(errs.Invalid, "server name %q cannot be passed to lcdremexec", node)
	}
	return k.run.Run(ctx, k.bin("lcdremexec"), "-e", "-d", node, "--", script)
}

// readLock reads node's copy of the lock.
func (k *LifeKeeper) readLock(ctx context.Context, local, node string) (nodeLock, error) {
	p := shq(k.LockPath)
	out, err := k.lockScript(ctx, local, node, "if test -e "+p+"; then echo present; cat "+p+"; else echo absent; fi")
	if err != nil {
		return nodeLock{}, fmt.Errorf("reading the update lock on %s: %w", node, err)
	}
	first, rest, _ := strings.Cut(string(out), "\n")
	nl := nodeLock{node: node}
	switch strings.TrimSpace(first) {
	case "absent":
		return nl, nil
	case "present":
	default:
		return nl, fmt.Errorf("reading the update lock on %s: unexpected output %q", node, oneLine(string(out)))
	}
	nl.present, nl.raw = true, strings.TrimRight(rest, "\n")
	var ll lkLock
	if json.Unmarshal([]byte(nl.raw), &ll) == nil && ll.Owner != "" {
		// An unreadable file reads as no lock: it must not block updates
		// for ever, and it is replaced by compare-and-swap.
		nl.lock = &Lock{Owner: ll.Owner, Node: ll.Node, Note: ll.Note, Expires: ll.Expires}
	}
	return nl, nil
}

// swapLock replaces node's copy cur by content ("" deletes it), only if
// the file still holds cur; false means it did not.
func (k *LifeKeeper) swapLock(ctx context.Context, local string, cur nodeLock, content string) bool {
	p := shq(k.LockPath)
	tmp := shq(k.LockPath + ".tmp")
	var script string
	switch {
	case !cur.present && content != "":
		// noclobber makes the create fail if another run created it first.
		script = "mkdir -p " + shq(path.Dir(k.LockPath)) + " && (set -C && printf '%s\\n' " + shq(content) + " > " + p + ")"
	case !cur.present:
		return true
	case content == "":
		script = `test "$(cat ` + p + ` 2>/dev/null)" = ` + shq(cur.raw) + " && rm -f " + p
	default:
		script = `test "$(cat ` + p + ` 2>/dev/null)" = ` + shq(cur.raw) + " && printf '%s\\n' " + shq(content) + " > " + tmp + " && mv -f " + tmp + " " + p
	}
	_, err := k.lockScript(ctx, local, cur.node, script)
	return err == nil
}

// lockNodes is this server and every server it has a path to.
func (k *LifeKeeper) lockNodes(ctx context.Context) (local string, nodes []string, err error) {
	local, err = k.LocalNode(ctx)
	if err != nil {
		return "", nil, err
	}
	_, paths, err := k.lcdstatus(ctx, "", "-q")
	if err != nil {
		return "", nil, err
	}
	nodes = []string{local}
	for _, p := range paths {
		if !slices.Contains(nodes, p.Remote) {
			nodes = append(nodes, p.Remote)
		}
	}
	return local, nodes, nil
}

// Lock takes the lock on every node; see the type's comment.
func (k *LifeKeeper) Lock(ctx context.Context, l Lock) error {
	if err := checkLock(l); err != nil {
		return err
	}
	local, nodes, err := k.lockNodes(ctx)
	if err != nil {
		return err
	}
	var cur []nodeLock
	for _, n := range nodes {
		nl, err := k.readLock(ctx, local, n)
		if err != nil {
			return fmt.Errorf("%w (LifeKeeper keeps the update lock on every server, so every one must be reachable)", err)
		}
		if nl.heldAgainst(l.Owner, time.Now()) {
			return lockedError(*nl.lock)
		}
		cur = append(cur, nl)
	}
	content := encodeLKLock(l)
	for i, nl := range cur {
		if k.swapLock(ctx, local, nl, content) {
			continue
		}
		// Lost a race (or the server): undo, then tell which.
		for _, done := range cur[:i] {
			mine := nodeLock{node: done.node, present: true, raw: content}
			k.swapLock(ctx, local, mine, done.raw)
		}
		now, err := k.readLock(ctx, local, nl.node)
		if err == nil && now.heldAgainst(l.Owner, time.Now()) {
			return lockedError(*now.lock)
		}
		return errs.E(errs.Other, "the update lock on %s changed while this run took it: run this command again", nl.node)
	}
	return nil
}

// Locked returns this server's copy of the lock or, if it has none, the
// first other server's. Servers that cannot be reached are skipped: Status
// reports them.
func (k *LifeKeeper) Locked(ctx context.Context) (*Lock, error) {
	local, nodes, err := k.lockNodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		nl, err := k.readLock(ctx, local, n)
		if err != nil && n == local {
			return nil, err
		}
		if err == nil && nl.lock != nil {
			return nl.lock, nil
		}
	}
	return nil, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// NoteLock sets the note on every copy of owner's lock.
func (k *LifeKeeper) NoteLock(ctx context.Context, owner, note string) error {
	return k.eachCopy(ctx, owner, func(l Lock) string {
		l.Note = note
		return encodeLKLock(l)
	})
}

// Unlock removes owner's lock from every server.
func (k *LifeKeeper) Unlock(ctx context.Context, owner string) error {
	err := k.eachCopy(ctx, owner, func(Lock) string { return "" })
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	return err
}

// eachCopy replaces every copy of owner's lock by change(copy) and fails
// with a *LockedError if another owner's copy is found, with NotFound if
// owner's is found nowhere, or with the first error after trying every
// server.
func (k *LifeKeeper) eachCopy(ctx context.Context, owner string, change func(Lock) string) error {
	local, nodes, err := k.lockNodes(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	var other *Lock
	found := false
	for _, n := range nodes {
		nl, err := k.readLock(ctx, local, n)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		switch {
		case nl.lock == nil:
		case nl.lock.Owner != owner:
			other = nl.lock
		case k.swapLock(ctx, local, nl, change(*nl.lock)):
			found = true
		default:
			firstErr = cmpOr(firstErr, errs.E(errs.Other, "the update lock on %s changed meanwhile: run this command again", n))
		}
	}
	switch {
	case firstErr != nil:
		return firstErr
	case other != nil:
		return lockedError(*other)
	case !found:
		return errs.E(errs.NotFound, "no server holds an update lock of %s", owner)
	}
	return nil
}
