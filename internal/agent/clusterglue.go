package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/cluster"
	"github.com/enmei-project/enmei/internal/errs"
)

// clusterOptions are the flags preflight and update share.
type clusterOptions struct {
	kind string // auto, pacemaker, lifekeeper, none
	node string
}

func (o *clusterOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.kind, "cluster", "auto", "the HA cluster this host is a node of: auto (detect), pacemaker, lifekeeper or none")
	cmd.Flags().StringVar(&o.node, "node", "", "this node's name in the cluster (default: crm_node -n, or the LifeKeeper node name)")
}

// clusterView is the cluster preflight saw: the manager, this node's name
// and the status then. cl is nil on a host that is no cluster node.
type clusterView struct {
	cl     cluster.Cluster
	node   string
	status cluster.Status
	lock   *cluster.Lock
	err    error // the cluster could not be read
}

// toolEnv is what the cluster tools get on top of the agent's own
// environment: CIB_file (and the node name that stands for crm_node -n on
// a CIB file) when the caller's environment names them, for tests and for
// operators rehearsing on a copy of the CIB.
func (a *app) toolEnv() []string {
	var env []string
	for _, k := range []string{"CIB_file", cluster.NodeEnv} {
		if v := a.env(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// openCluster finds the cluster the options name.
func (a *app) openCluster(ctx context.Context, o clusterOptions) (cluster.Cluster, error) {
	switch o.kind {
	case "none":
		return nil, nil
	case "pacemaker":
		return cluster.NewPacemaker(a.toolEnv()), nil
	case "lifekeeper":
		return cluster.NewLifeKeeper(cluster.ExecRunner{}), nil
	case "auto", "":
		return cluster.Detect(ctx, cluster.DetectOptions{Env: a.toolEnv()})
	}
	return nil, usageErr("--cluster must be auto, pacemaker, lifekeeper or none, not %q", o.kind)
}

// clusterChecks reads the cluster (when this host is a node of one) and
// judges its health for an update.
func (a *app) clusterChecks(ctx context.Context, v *hostView, o clusterOptions) []Check {
	cl, err := a.openCluster(ctx, o)
	if err != nil {
		return []Check{{"cluster", checkFail, oneSentence(err)}}
	}
	if cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v.cl.cl = cl
	node := o.node
	if node == "" {
		if node, err = cl.LocalNode(ctx); err != nil {
			v.cl.err = err
			return []Check{{"cluster", checkFail, fmt.Sprintf("cannot tell this node's name in the %s cluster: %s: pass --node NAME", cl.Kind(), oneSentence(err))}}
		}
	}
	v.cl.node = node
	st, err := cl.Status(ctx)
	if err != nil {
		v.cl.err = err
		return []Check{{"cluster", checkFail, fmt.Sprintf("cannot read the %s cluster's status: %s", cl.Kind(), oneSentence(err))}}
	}
	v.cl.status = st
	if !slices.ContainsFunc(st.Nodes, func(n cluster.Node) bool { return n.Name == node }) {
		return []Check{{"cluster", checkFail, fmt.Sprintf("the %s cluster has no node %q: pass this node's name with --node", cl.Kind(), node)}}
	}
	if l, err := cl.Locked(ctx); err == nil && l != nil && !l.Expired(time.Now()) {
		v.cl.lock = l
	}
	out := []Check{{"cluster", checkPass, fmt.Sprintf("%s cluster, this node is %s, %d nodes, %d resources", cl.Kind(), node, len(st.Nodes), len(st.Resources))}}
	out = append(out, healthChecks(st, node, v.cl.lock)...)
	out = append(out, a.lockCheck(v.cl.lock, node))
	out = append(out, a.namesCheck(ctx, st))
	out = append(out, a.localhostCheck(ctx))
	return append(out, a.selinuxCheck(cl.Kind()))
}

// mine reports whether lock is this node's own, left by a run that
// stopped: its standby is then expected, and update carries on.
func mine(lock *cluster.Lock, node string) bool {
	return lock != nil && lock.Owner == node
}

// healthChecks turn the status into the cluster checks of preflight; this
// node's standby is no problem while it holds the lock (a stopped update
// that is being continued).
func healthChecks(st cluster.Status, node string, lock *cluster.Lock) []Check {
	var offline, standby, maint []string
	for _, n := range st.Nodes {
		switch {
		case !n.Online:
			offline = append(offline, n.Name)
		case n.Maintenance:
			maint = append(maint, n.Name)
		case n.Standby && !(n.Name == node && mine(lock, node)):
			standby = append(standby, n.Name)
		}
	}
	var failed []string
	for _, r := range st.Resources {
		if r.Failed {
			where := r.Node
			if where == "" {
				where = "no node"
			}
			failed = append(failed, fmt.Sprintf("%s (on %s)", r.ID, where))
		}
	}
	failed = append(failed, st.Failures...)
	var dead []string
	for _, p := range st.Paths {
		if p.State != "ALIVE" {
			dead = append(dead, fmt.Sprintf("%s→%s %s %s", p.Local, p.Remote, p.Address, p.State))
		}
	}
	check := func(name string, bad []string, ok, what string) Check {
		if len(bad) == 0 {
			return Check{name, checkPass, ok}
		}
		return Check{name, checkFail, what + strings.Join(bad, ", ")}
	}
	out := []Check{
		check("cluster-nodes", offline, "every node is online", "nodes offline (bring them back before updating): "),
		check("cluster-standby", append(standby, maint...), "no node is in standby or maintenance", "nodes in standby or maintenance (another update or maintenance is under way): "),
		check("cluster-resources", failed, "no resource or action has failed", "failed resources or actions (clean them up first, e.g. crm_resource --cleanup): "),
	}
	q := Check{"cluster-quorum", checkPass, "the cluster has quorum"}
	if !st.Quorum {
		q = Check{"cluster-quorum", checkFail, "the cluster has no quorum: resources cannot move safely; restore the missing nodes first"}
	}
	out = append(out, q)
	if len(st.Paths) > 0 {
		out = append(out, check("cluster-paths", dead, "every communication path is ALIVE", "communication paths not ALIVE: "))
	}
	return out
}

// lockCheck shows an update under way on another node, or one that stopped.
func (a *app) lockCheck(lock *cluster.Lock, node string) Check {
	switch {
	case lock == nil:
		return Check{"cluster-lock", checkPass, "no update holds the cluster update lock"}
	case lock.Note != "":
		return Check{"cluster-lock", checkFail, fmt.Sprintf("the update of node %s stopped and holds the lock: %s", lock.Node, lock.Note)}
	case lock.Owner == node:
		return Check{"cluster-lock", checkWarn, fmt.Sprintf("this node holds the cluster update lock until %s", lock.Expires.Format(time.RFC3339))}
	}
	return Check{"cluster-lock", checkWarn, fmt.Sprintf("node %s is updating (it holds the cluster update lock until %s); update the nodes one at a time", lock.Node, lock.Expires.Format(time.RFC3339))}
}

// namesCheck: every node's name must resolve, through the root's
// /etc/hosts or DNS, or the cluster's own communication breaks over a name
// server outage.
func (a *app) namesCheck(ctx context.Context, st cluster.Status) Check {
	hosts := hostsFile(a.root)
	var bad []string
	for _, n := range st.Nodes {
		if len(hosts[strings.ToLower(n.Name)]) > 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := net.DefaultResolver.LookupHost(ctx, n.Name)
		cancel()
		if err != nil {
			bad = append(bad, n.Name)
		}
	}
	if len(bad) > 0 {
		return Check{"cluster-names", checkFail, fmt.Sprintf("node names that do not resolve: %s: add them to /etc/hosts on every node", strings.Join(bad, ", "))}
	}
	return Check{"cluster-names", checkPass, "every node's name resolves"}
}

// localhostCheck: localhost must be 127.0.0.1, which cluster software
// binds to.
func (a *app) localhostCheck(ctx context.Context) Check {
	addrs := hostsFile(a.root)["localhost"]
	if len(addrs) == 0 && filepathIsRoot(a.root) {
		addrs, _ = net.DefaultResolver.LookupHost(ctx, "localhost")
	}
	if slices.Contains(addrs, "127.0.0.1") {
		return Check{"localhost", checkPass, "localhost resolves to 127.0.0.1"}
	}
	return Check{"localhost", checkFail, fmt.Sprintf("localhost resolves to %v, not 127.0.0.1: add \"127.0.0.1 localhost\" to /etc/hosts", addrs)}
}

func filepathIsRoot(root string) bool { return strings.TrimRight(root, "/") == "" }

// hostsFile reads the root's /etc/hosts: name (lower case) → addresses.
func hostsFile(root string) map[string][]string {
	out := map[string][]string{}
	data, err := readRootFile(root, "/etc/hosts")
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, name := range f[1:] {
			out[strings.ToLower(name)] = append(out[strings.ToLower(name)], f[0])
		}
	}
	return out
}

// selinuxCheck reports the SELinux mode. LifeKeeper's guide asks for it to
// be disabled (permissive only where tested); Pacemaker works with it.
func (a *app) selinuxCheck(kind string) Check {
	mode := "disabled"
	if data, err := readRootFile(a.root, "/etc/selinux/config"); err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "SELINUX="); ok {
				mode = strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))
			}
		}
	}
	if filepathIsRoot(a.root) {
		if data, err := os.ReadFile("/sys/fs/selinux/enforce"); err == nil {
			mode = map[string]string{"1": "enforcing", "0": "permissive"}[strings.TrimSpace(string(data))]
		}
	}
	c := Check{"selinux", checkPass, "SELinux is " + mode}
	if kind == "lifekeeper" {
		switch mode {
		case "enforcing":
			c = Check{"selinux", checkFail, "SELinux is enforcing: LifeKeeper requires it disabled (SELINUX=disabled in /etc/selinux/config, then reboot)"}
		case "permissive":
			c = Check{"selinux", checkWarn, "SELinux is permissive: LifeKeeper supports that only where it was tested; disabled is the supported setting"}
		}
	}
	return c
}

// lockedRefusal is the sentence for a lock held by another node.
func lockedRefusal(node string, l *cluster.LockedError) error {
	msg := fmt.Sprintf("node %s cannot update now: node %s holds the cluster update lock until %s", node, l.Node, l.Expires.Format(time.RFC3339))
	if l.Note != "" {
		msg += " (its update stopped: " + l.Note + ")"
	}
	return errs.E(errs.Other, "%s: update the nodes one at a time; run enmei update on %s again to continue there, or wait", msg, l.Node)
}
