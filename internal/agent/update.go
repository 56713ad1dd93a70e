package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/cluster"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/inventory"
)

// updateOptions are enmei update's flags.
type updateOptions struct {
	clusterOptions
	dryRun   bool
	pkgs     []string
	timeout  time.Duration // for resources to move away, and back
	lockTTL  time.Duration
	waitLock time.Duration
	unlock   bool
	poll     time.Duration
}

func (a *app) updateCommand() *cobra.Command {
	o := updateOptions{poll: 500 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "update [--cluster auto|pacemaker|lifekeeper|none] [--node NAME] [--dry-run] [-- PKG…]",
		Short: "Apply updates safely: preflight, then the upgrade; on a cluster node one node at a time, in standby",
		Long: `update runs preflight, then the package manager's upgrade (dnf -y upgrade,
yum -y upgrade or apt-get -y dist-upgrade; excludepkgs and holds are respected),
or only the packages given after --, and prints a summary with the command that
undoes the dnf transaction.

On a cluster node (--cluster auto detects Pacemaker and LifeKeeper) it takes the
cluster-wide update lock, refuses when the cluster is not healthy, backs up the
cluster configuration and enmei's state under /var/lib/enmei/backup/, puts this
node in standby, waits until none of its resources runs here, upgrades, leaves
standby, waits until every resource is back and none failed, and releases the
lock. A failed step stops there: the node stays in standby and keeps the lock
with a note; the message says how to continue or roll back.

--dry-run prints the plan and changes nothing. --json prints one event per line.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.pkgs = args
			return a.update(cmd.Context(), o)
		},
	}
	o.flags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan (the packages and the cluster steps) and change nothing")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to wait for resources to move away from this node, and back")
	f.DurationVar(&o.lockTTL, "lock-ttl", 2*time.Hour, "how long the cluster update lock holds without being renewed (a crashed run blocks no longer)")
	f.DurationVar(&o.waitLock, "wait-lock", 0, "wait this long for another node's update to release the lock instead of refusing at once")
	f.BoolVar(&o.unlock, "unlock", false, "release this node's cluster update lock after a stopped update was finished or rolled back by hand")
	return cmd
}

// event is one step of an update, as --json prints it (one per line).
type event struct {
	Step        string      `json:"step"`
	Status      string      `json:"status"` // ok, failed, planned, skipped
	Message     string      `json:"message"`
	DurationMS  int64       `json:"duration_ms"`
	Time        time.Time   `json:"time"`
	Node        string      `json:"node,omitempty"`
	Packages    []pkgUpdate `json:"packages,omitempty"`
	Transaction int64       `json:"transaction,omitempty"`
	Undo        string      `json:"undo,omitempty"`
}

// updater runs the steps of one update and reports each.
type updater struct {
	a      *app
	o      updateOptions
	v      *hostView
	cl     cluster.Cluster
	node   string
	owner  string
	locked bool // this run holds the lock
	inStby bool // this node is in standby because of this run (or the one it continues)
	before cluster.Status
	trans  int64
}

func (u *updater) emit(e event) {
	e.Time = time.Now().UTC()
	if e.Node == "" {
		e.Node = u.node
	}
	if u.a.json {
		_ = u.a.printJSON(e)
		return
	}
	mark := map[string]string{"ok": "ok  ", "failed": "FAIL", "planned": "plan", "skipped": "skip"}[e.Status]
	fmt.Fprintf(u.a.stdout, "%s  %-12s %7.2fs  %s\n", mark, e.Step, float64(e.DurationMS)/1000, e.Message)
	for _, p := range e.Packages {
		from := p.From
		if from == "" {
			from = "?"
		}
		fmt.Fprintf(u.a.stdout, "          %s.%s %s → %s\n", p.Name, p.Arch, from, p.To)
	}
}

// step runs f as one reported step.
func (u *updater) step(name string, f func() (event, error)) error {
	t0 := time.Now()
	e, err := f()
	e.Step, e.DurationMS = name, time.Since(t0).Milliseconds()
	if err != nil {
		e.Status, e.Message = "failed", oneSentence(err)
	} else if e.Status == "" {
		e.Status = "ok"
	}
	u.emit(e)
	return err
}

func (a *app) update(ctx context.Context, o updateOptions) error {
	if o.timeout <= 0 || o.lockTTL <= 0 {
		return usageErr("--timeout and --lock-ttl must be positive durations like 10m")
	}
	u := &updater{a: a, o: o}
	if o.unlock {
		return u.releaseByHand(ctx)
	}
	var checks []Check
	err := u.step("preflight", func() (event, error) {
		var v *hostView
		checks, v = a.preflight(ctx, o.clusterOptions, o.pkgs)
		u.v = v
		failed := failedChecks(checks)
		// Continuing a stopped update: its own lock note is no reason to
		// refuse, the run it continues left it.
		if mine(v.cl.lock, v.cl.node) {
			failed = withoutCheck(failed, "cluster-lock")
		}
		warns := 0
		for _, c := range checks {
			if c.Status == checkWarn {
				warns++
			}
		}
		if len(failed) > 0 {
			return event{}, errs.E(errs.Other, "preflight failed, nothing was changed: %s", strings.Join(failed, "; "))
		}
		return event{Message: fmt.Sprintf("%d checks passed, %d warnings", len(checks)-warns, warns)}, nil
	})
	if u.v != nil {
		defer u.v.close()
		u.v.pm.out = a.stderr
	}
	if err != nil {
		// The step's line already gave every reason.
		var names []string
		for _, c := range checks {
			if c.Status == checkFail {
				names = append(names, c.Name)
			}
		}
		return errs.E(errs.Other, "preflight failed (%s), so nothing was changed: fix what the preflight line above says, then run enmei update again", strings.Join(names, ", "))
	}
	u.cl, u.node = u.v.cl.cl, u.v.cl.node
	u.owner = u.node
	var plan []pkgUpdate
	if err := u.step("plan", func() (event, error) {
		ups, err := u.v.pm.pending(ctx, o.pkgs, false)
		if err != nil {
			return event{}, err
		}
		for i := range ups {
			if p, ok := u.v.installed[ups[i].Name]; ok && ups[i].From == "" {
				ups[i].From = p.EVR()
			}
		}
		plan = ups
		msg := fmt.Sprintf("%d packages to update", len(ups))
		if len(o.pkgs) > 0 {
			msg += " of " + strings.Join(o.pkgs, " ")
		}
		return event{Message: msg, Packages: ups}, nil
	}); err != nil {
		return err
	}
	if o.dryRun {
		return u.dryRun(plan)
	}
	if u.cl == nil {
		return u.plain(ctx, plan)
	}
	if len(plan) == 0 && !mine(u.v.cl.lock, u.node) {
		// No failover for nothing: the node stays in service.
		return u.step("summary", func() (event, error) {
			return event{Message: fmt.Sprintf("nothing to update: node %s stayed in service, the cluster was not touched", u.node)}, nil
		})
	}
	return u.clustered(ctx, plan)
}

func withoutCheck(failed []string, name string) []string {
	var out []string
	for _, f := range failed {
		if !strings.HasPrefix(f, name+":") {
			out = append(out, f)
		}
	}
	return out
}

// dryRun prints the steps an update would take.
func (u *updater) dryRun(plan []pkgUpdate) error {
	p := func(step, msg string) { u.emit(event{Step: step, Status: "planned", Message: msg}) }
	if len(plan) == 0 {
		msg := "dry run: nothing to update"
		if u.cl != nil {
			msg += fmt.Sprintf("; node %s would stay in service", u.node)
		}
		u.emit(event{Step: "summary", Status: "ok", Message: msg})
		return nil
	}
	if u.cl != nil {
		var here []string
		for _, r := range u.v.cl.status.RunningOn(u.node) {
			here = append(here, r.ID)
		}
		p("lock", fmt.Sprintf("take the %s cluster's update lock as %s", u.cl.Kind(), u.owner))
		p("backup", "back up the cluster configuration and enmei's state under /var/lib/enmei/backup/")
		p("standby", fmt.Sprintf("put node %s in standby; its resources move away: %s", u.node, orNone(here)))
	}
	p("upgrade", fmt.Sprintf("%s: %d packages", u.upgradeCommand(), len(plan)))
	if u.cl != nil {
		p("unstandby", fmt.Sprintf("take node %s out of standby and wait until every resource runs and none failed", u.node))
		p("unlock", "release the cluster update lock")
	}
	u.emit(event{Step: "summary", Status: "ok", Message: "dry run: nothing was changed"})
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none runs here"
	}
	return strings.Join(s, ", ")
}

func (u *updater) upgradeCommand() string {
	args := map[string]string{pmDNF: "dnf -y upgrade", pmYum: "yum -y upgrade", pmApt: "apt-get -y dist-upgrade"}[u.v.pm.kind]
	if len(u.o.pkgs) > 0 {
		if u.v.pm.kind == pmApt {
			args = "apt-get -y install --only-upgrade"
		}
		args += " " + strings.Join(u.o.pkgs, " ")
	}
	return args
}

// plain updates a host that is no cluster node.
func (u *updater) plain(ctx context.Context, plan []pkgUpdate) error {
	if err := u.upgrade(ctx, plan); err != nil {
		return err
	}
	return u.summary(ctx, plan)
}

// upgrade runs the package manager and records the transaction.
func (u *updater) upgrade(ctx context.Context, plan []pkgUpdate) error {
	return u.step("upgrade", func() (event, error) {
		if len(plan) == 0 {
			return event{Status: "skipped", Message: "nothing to update"}, nil
		}
		before, err := u.v.pm.lastTransaction(ctx)
		if err != nil {
			return event{}, err
		}
		if err := u.v.pm.upgrade(ctx, u.o.pkgs); err != nil {
			return event{}, err
		}
		after, err := u.v.pm.lastTransaction(ctx)
		if err != nil {
			return event{}, err
		}
		e := event{Message: u.upgradeCommand() + " finished"}
		if after != before {
			u.trans = after
			e.Transaction, e.Undo = after, u.v.pm.undoHint(after)
			e.Message += fmt.Sprintf(" (%s transaction %d)", u.v.pm.kind, after)
		}
		return e, nil
	})
}

// summary compares what is installed now with the plan.
func (u *updater) summary(ctx context.Context, plan []pkgUpdate) error {
	return u.step("summary", func() (event, error) {
		pkgs, _, err := inventory.ReadWith(ctx, u.a.root, inventory.Options{Brief: true})
		if err != nil {
			return event{}, err
		}
		now := map[string]string{}
		for _, p := range pkgs {
			now[p.Name] = p.EVR()
		}
		var done []pkgUpdate
		var missed []string
		for _, p := range plan {
			q := p
			q.To = now[p.Name]
			if q.To == "" || q.To == p.From {
				missed = append(missed, p.Name)
				continue
			}
			done = append(done, q)
		}
		e := event{Packages: done, Transaction: u.trans, Undo: u.v.pm.undoHint(u.trans)}
		e.Message = fmt.Sprintf("%d packages updated", len(done))
		if e.Undo != "" {
			e.Message += "; to undo: " + e.Undo
		}
		if len(missed) > 0 {
			return e, errs.E(errs.Other, "%d packages updated, but these were not: %s: see the package manager's output above", len(done), strings.Join(missed, ", "))
		}
		return e, nil
	})
}

// clustered is the rolling update of one cluster node.
func (u *updater) clustered(ctx context.Context, plan []pkgUpdate) error {
	resuming := mine(u.v.cl.lock, u.node)
	if err := u.step("lock", func() (event, error) { return u.takeLock(ctx) }); err != nil {
		return err
	}
	u.locked = true
	// Until standby, a refusal changes nothing: give the lock back.
	if err := u.step("health", func() (event, error) {
		st, err := u.cl.Status(ctx)
		if err != nil {
			return event{}, err
		}
		u.before = st
		if bad := failedChecks(healthChecks(st, u.node, &cluster.Lock{Owner: u.owner})); len(bad) > 0 {
			return event{}, errs.E(errs.Other, "the cluster is not healthy, nothing was changed: %s", strings.Join(bad, "; "))
		}
		return event{Message: fmt.Sprintf("%d nodes online, %d resources, quorum", len(st.Nodes), len(st.Resources))}, nil
	}); err != nil {
		if !resuming {
			u.giveBack(ctx)
		}
		return err
	}
	if err := u.step("backup", func() (event, error) { return u.backup(ctx) }); err != nil {
		if !resuming {
			u.giveBack(ctx)
		}
		return err
	}
	if err := u.step("standby", func() (event, error) {
		var here []string
		for _, r := range u.before.RunningOn(u.node) {
			here = append(here, r.ID)
		}
		u.inStby = true
		if err := u.cl.Standby(ctx, u.node, true); err != nil {
			return event{}, err
		}
		return event{Message: fmt.Sprintf("node %s is in standby; moving away: %s", u.node, orNone(here))}, nil
	}); err != nil {
		return u.stopped(ctx, "standby", err)
	}
	if err := u.step("wait-away", func() (event, error) { return u.waitAway(ctx) }); err != nil {
		return u.stopped(ctx, "wait-away", err)
	}
	_, _ = u.renew(ctx)
	if err := u.upgrade(ctx, plan); err != nil {
		return u.stopped(ctx, "upgrade", err)
	}
	_, _ = u.renew(ctx)
	if err := u.step("unstandby", func() (event, error) {
		if err := u.cl.Standby(ctx, u.node, false); err != nil {
			return event{}, err
		}
		u.inStby = false
		return event{Message: fmt.Sprintf("node %s is out of standby", u.node)}, nil
	}); err != nil {
		return u.stopped(ctx, "unstandby", err)
	}
	if err := u.step("wait-healthy", func() (event, error) { return u.waitHealthy(ctx) }); err != nil {
		return u.stopped(ctx, "wait-healthy", err)
	}
	if err := u.step("unlock", func() (event, error) {
		if err := u.cl.Unlock(ctx, u.owner); err != nil {
			return event{}, err
		}
		u.locked = false
		return event{Message: "the cluster update lock is released: the next node may update"}, nil
	}); err != nil {
		return err
	}
	return u.summary(ctx, plan)
}

// takeLock takes the cluster update lock, waiting up to --wait-lock for
// another node's update to end.
func (u *updater) takeLock(ctx context.Context) (event, error) {
	deadline := time.Now().Add(u.o.waitLock)
	for {
		exp, err := u.renew(ctx)
		var le *cluster.LockedError
		if errors.As(err, &le) && le.Owner != u.owner {
			if time.Now().Before(deadline) {
				select {
				case <-ctx.Done():
					return event{}, ctx.Err()
				case <-time.After(u.o.poll):
				}
				continue
			}
			return event{}, lockedRefusal(u.node, le)
		}
		if err != nil {
			return event{}, err
		}
		return event{Message: fmt.Sprintf("took the %s cluster update lock as %s until %s", u.cl.Kind(), u.owner, exp.Format(time.RFC3339))}, nil
	}
}

// renew takes the lock again as its owner, which moves its expiry on.
func (u *updater) renew(ctx context.Context) (time.Time, error) {
	exp := time.Now().Add(u.o.lockTTL).UTC().Truncate(time.Second)
	return exp, u.cl.Lock(ctx, cluster.Lock{Owner: u.owner, Node: u.node, Expires: exp})
}

// giveBack releases a lock this run took when nothing was changed.
func (u *updater) giveBack(ctx context.Context) {
	if u.locked {
		if err := u.cl.Unlock(context.WithoutCancel(ctx), u.owner); err == nil {
			u.locked = false
		}
	}
}

// backup keeps the cluster configuration and enmei's state, with a time
// stamp, before anything changes.
func (u *updater) backup(ctx context.Context) (event, error) {
	dir := filepath.Join(u.a.root, "var/lib/enmei/backup", time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return event{}, fmt.Errorf("creating the backup directory %s: %w", dir, err)
	}
	files, err := u.cl.Backup(ctx, dir)
	if err != nil {
		return event{}, fmt.Errorf("backing up the %s configuration: %w", u.cl.Kind(), err)
	}
	if data, err := readRootFile(u.a.root, statePath); err == nil {
		p := filepath.Join(dir, "enmei-host.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return event{}, fmt.Errorf("backing up enmei's state: %w", err)
		}
		files = append(files, p)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	return event{Message: fmt.Sprintf("%s: %s", hostPath(u.a.root, dir), strings.Join(names, ", "))}, nil
}

// waitAway polls the cluster until none of this node's resources runs on it.
func (u *updater) waitAway(ctx context.Context) (event, error) {
	return u.poll(ctx, func(st cluster.Status) (bool, string) {
		here := st.RunningOn(u.node)
		if len(here) == 0 {
			return true, fmt.Sprintf("no resource runs on %s", u.node)
		}
		var ids []string
		for _, r := range here {
			ids = append(ids, r.ID)
		}
		return false, "still on " + u.node + ": " + strings.Join(ids, ", ")
	})
}

// waitHealthy polls until this node is back, every resource that ran
// before the update runs again somewhere, and nothing failed.
func (u *updater) waitHealthy(ctx context.Context) (event, error) {
	return u.poll(ctx, func(st cluster.Status) (bool, string) {
		if bad := failedChecks(healthChecks(st, u.node, nil)); len(bad) > 0 {
			return false, strings.Join(bad, "; ")
		}
		active := map[string]bool{}
		for _, r := range st.Resources {
			if r.Active {
				active[r.ID] = true
			}
		}
		var down []string
		for _, r := range u.before.Resources {
			if r.Active && !active[r.ID] {
				down = append(down, r.ID)
			}
		}
		if len(down) > 0 {
			return false, "not running again yet: " + strings.Join(down, ", ")
		}
		return true, fmt.Sprintf("node %s is online, every resource runs, none failed", u.node)
	})
}

// poll reads the cluster's status until done says so or --timeout passes
// (crm_resource --wait does not see changes made to a CIB file, so enmei
// polls crm_mon itself).
func (u *updater) poll(ctx context.Context, done func(cluster.Status) (bool, string)) (event, error) {
	deadline := time.Now().Add(u.o.timeout)
	last := ""
	for {
		st, err := u.cl.Status(ctx)
		if err == nil {
			ok, msg := done(st)
			if ok {
				return event{Message: msg}, nil
			}
			last = msg
		} else {
			last = oneSentence(err)
		}
		if time.Now().After(deadline) {
			return event{}, errs.E(errs.Other, "gave up after %s: %s", u.o.timeout, last)
		}
		select {
		case <-ctx.Done():
			return event{}, ctx.Err()
		case <-time.After(u.o.poll):
		}
	}
}

// stopped handles a failed step after standby: the node stays in standby
// (putting it back when it had left), the lock stays with a note, and the
// user is told how to continue or roll back.
func (u *updater) stopped(ctx context.Context, step string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if !u.inStby {
		if err := u.cl.Standby(ctx, u.node, true); err == nil {
			u.inStby = true
		}
	}
	note := fmt.Sprintf("update of %s stopped at %s at %s: %s", u.node, step, time.Now().UTC().Format(time.RFC3339), oneSentence(cause))
	_ = u.cl.NoteLock(ctx, u.owner, note)
	how := fmt.Sprintf("node %s stays in standby and keeps the cluster update lock; to continue, fix the cause and run enmei update on %s again", u.node, u.node)
	if undo := u.v.pm.undoHint(u.trans); u.trans != 0 && undo != "" {
		how += fmt.Sprintf("; to roll back, run %s, then enmei update --unlock, which also takes %s out of standby", undo, u.node)
	} else {
		how += fmt.Sprintf("; to give up, run enmei update --unlock, which takes %s out of standby and releases the lock", u.node)
	}
	return errs.E(errs.Other, "enmei update stopped at %s: %s: %s", step, oneSentence(cause), how)
}

// releaseByHand ends a stopped update after the operator finished or rolled
// it back: this node leaves standby and its lock is released.
func (u *updater) releaseByHand(ctx context.Context) error {
	cl, err := u.a.openCluster(ctx, u.o.clusterOptions)
	if err != nil {
		return err
	}
	if cl == nil {
		return errs.E(errs.Invalid, "this host is no cluster node: there is no cluster update lock to release")
	}
	node := u.o.node
	if node == "" {
		if node, err = cl.LocalNode(ctx); err != nil {
			return fmt.Errorf("cannot tell this node's name: %w: pass --node NAME", err)
		}
	}
	u.cl, u.node, u.owner = cl, node, node
	lock, err := cl.Locked(ctx)
	if err != nil {
		return err
	}
	if lock != nil && lock.Owner != node {
		return errs.E(errs.Other, "node %s holds the cluster update lock, not %s: run enmei update --unlock on %s", lock.Node, node, lock.Node)
	}
	if err := u.step("unstandby", func() (event, error) {
		return event{Message: fmt.Sprintf("node %s is out of standby", node)}, cl.Standby(ctx, node, false)
	}); err != nil {
		return err
	}
	return u.step("unlock", func() (event, error) {
		if lock == nil {
			return event{Status: "skipped", Message: "no lock was held"}, nil
		}
		return event{Message: "the cluster update lock is released"}, cl.Unlock(ctx, node)
	})
}
