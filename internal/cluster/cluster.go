// Package cluster is how enmei sees the high-availability cluster a host
// belongs to, so that updates on cluster nodes are applied one node at a
// time with nothing running on the node being updated: a cluster-wide
// update lock, a health check (Status and its Problems), a configuration
// backup and a standby switch. Two cluster managers are supported: Pacemaker
// through its command-line tools (crm_mon, cibadmin, crm_attribute,
// crm_node), which work on the live CIB or, with CIB_file=… in their
// environment, on a CIB file, and SIOS LifeKeeper for Linux through the
// commands under /opt/LifeKeeper/bin. Every tool runs under the caller's
// context, so a hung cluster stack costs a timeout, not a hung update.
package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Cluster is an HA cluster manager as enmei update and preflight need it.
type Cluster interface {
	// Kind is "pacemaker" or "lifekeeper".
	Kind() string
	// LocalNode is this host's name in the cluster.
	LocalNode(ctx context.Context) (string, error)
	Status(ctx context.Context) (Status, error)
	// Standby moves every resource away from node (on) or lets it host
	// resources again (!on). It returns once the cluster manager has taken
	// the request; resources move afterwards, so callers poll Status.
	Standby(ctx context.Context, node string, on bool) error
	// Backup writes the cluster configuration into dir (already created,
	// 0700) and returns the files written.
	Backup(ctx context.Context, dir string) ([]string, error)
	// Lock takes the cluster-wide update lock for l.Owner until l.Expires.
	// It fails with a *LockedError when another owner holds an unexpired
	// lock; an expired lock is taken over, and taking it again as the same
	// owner renews it (and replaces its node and note).
	Lock(ctx context.Context, l Lock) error
	// Locked returns the current lock, expired or not (check Expired), or
	// nil when there is none: an expired lock that was never released is
	// worth showing, since its note says why a run stopped.
	Locked(ctx context.Context) (*Lock, error)
	// NoteLock keeps owner's lock but records why a run stopped, for the
	// next run and for preflight to show.
	NoteLock(ctx context.Context, owner, note string) error
	// Unlock releases owner's lock. Unlocking a lock that is not there is
	// not an error; unlocking another owner's is a *LockedError.
	Unlock(ctx context.Context, owner string) error
}

// Lock is the cluster-wide update lock.
type Lock struct {
	Owner   string    // who holds it, e.g. "node1:4242" (node and pid)
	Node    string    // the node being updated
	Note    string    // why the holder stopped, if it did
	Expires time.Time // after this anyone may take it over; stored to the second
}

// checkLock refuses a lock without an owner or an expiry: a zero expiry
// would be a lock anyone may take over at once.
func checkLock(l Lock) error {
	if l.Owner == "" || l.Expires.IsZero() {
		return errs.E(errs.Invalid, "the cluster update lock needs an owner and an expiry")
	}
	return nil
}

// Expired reports whether the lock may be taken over at now.
func (l Lock) Expired(now time.Time) bool { return !now.Before(l.Expires) }

// LockedError is Lock refused because another owner holds the lock.
type LockedError struct {
	Owner, Node, Note string
	Expires           time.Time
}

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "another update holds the cluster update lock (owner %s, updating %s, until %s",
		e.Owner, orDash(e.Node), e.Expires.UTC().Format(time.RFC3339))
	if e.Note != "" {
		fmt.Fprintf(&b, ", note: %s", e.Note)
	}
	b.WriteString("): wait until it finishes or its lock expires, then run this command again")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Status is a snapshot of the cluster.
type Status struct {
	Nodes     []Node
	Resources []Resource
	// Quorum: this partition has quorum. LifeKeeper has no quorum of its
	// own to report and always sets it.
	Quorum bool
	// Maintenance: the whole cluster is in maintenance mode (Pacemaker's
	// maintenance-mode property): it manages no resource.
	Maintenance bool
	// Paths are LifeKeeper's communication paths; empty for Pacemaker.
	Paths []Path
	// Failures are failed actions (Pacemaker's <failures>), one line each.
	Failures []string
}

// Node is a cluster node.
type Node struct {
	Name        string
	Online      bool
	Standby     bool
	Maintenance bool
	Unclean     bool // Pacemaker: lost and not yet fenced
	Pending     bool // Pacemaker: still joining
}

// Resource is a resource (a Pacemaker primitive, or one clone instance;
// a LifeKeeper resource instance, by tag).
type Resource struct {
	ID     string // Pacemaker resource id (clone instances share it); LifeKeeper tag
	Parent string // Pacemaker group or clone id; LifeKeeper parent tag; "" at the top
	Agent  string // Pacemaker class:provider:type; LifeKeeper resource ID
	Node   string // where it runs; "" when stopped
	Nodes  []string
	// Role is Pacemaker's role (Started, Stopped, Promoted, …) or
	// LifeKeeper's state where the resource is in service, else on the
	// local node (ISP, ISU, OSU, OSF, ILLSTATE, UNKNOWN).
	Role    string
	Active  bool
	Failed  bool
	Managed bool
	// States is LifeKeeper's state of the resource on each server; nil for
	// Pacemaker.
	States map[string]string
}

// Path is a LifeKeeper communication path between two servers.
type Path struct {
	Local, Remote string
	Kind          string // TCP or TTY
	Address       string // local/remote addresses, or the TTY device
	State         string // ALIVE, DEAD, …
}

// Problems lists every reason the cluster is not healthy for an update,
// one sentence each naming the node or resource, in a stable order; none
// means healthy.
func (s Status) Problems() []string {
	var p []string
	if !s.Quorum {
		p = append(p, "the cluster partition has no quorum")
	}
	if s.Maintenance {
		p = append(p, "the cluster is in maintenance mode")
	}
	for _, n := range s.Nodes {
		switch {
		case n.Unclean:
			p = append(p, fmt.Sprintf("node %s is unclean (lost and not fenced)", n.Name))
		case !n.Online:
			p = append(p, fmt.Sprintf("node %s is offline", n.Name))
		case n.Pending:
			p = append(p, fmt.Sprintf("node %s is still joining the cluster", n.Name))
		}
		if n.Standby {
			p = append(p, fmt.Sprintf("node %s is in standby", n.Name))
		}
		if n.Maintenance {
			p = append(p, fmt.Sprintf("node %s is in maintenance mode", n.Name))
		}
	}
	for _, path := range s.Paths {
		if path.State != "ALIVE" {
			p = append(p, fmt.Sprintf("communication path %s from %s to %s (%s) is %s",
				path.Kind, path.Local, path.Remote, path.Address, path.State))
		}
	}
	for _, r := range s.Resources {
		if r.States != nil {
			p = append(p, lifeKeeperProblems(r)...)
			continue
		}
		switch {
		case r.Failed && r.Node != "":
			p = append(p, fmt.Sprintf("resource %s has failed on %s", r.ID, r.Node))
		case r.Failed:
			p = append(p, fmt.Sprintf("resource %s has failed", r.ID))
		case !r.Managed && !s.Maintenance:
			p = append(p, fmt.Sprintf("resource %s is not managed by the cluster", r.ID))
		}
	}
	for _, f := range s.Failures {
		p = append(p, "failed action "+f)
	}
	return p
}

// lifeKeeperProblems names the servers where r is failed or in an
// unknown state, in server order.
func lifeKeeperProblems(r Resource) []string {
	var p []string
	servers := make([]string, 0, len(r.States))
	for s := range r.States {
		servers = append(servers, s)
	}
	slices.Sort(servers)
	for _, s := range servers {
		switch st := r.States[s]; st {
		case "ISP", "ISU", "OSU":
		case "OSF":
			p = append(p, fmt.Sprintf("resource %s is OSF (out of service, failed) on %s", r.ID, s))
		default:
			p = append(p, fmt.Sprintf("resource %s is in state %s on %s", r.ID, st, s))
		}
	}
	return p
}

// RunningOn lists the active resources on node.
func (s Status) RunningOn(node string) []Resource {
	var rs []Resource
	for _, r := range s.Resources {
		if r.Active && (r.Node == node || slices.Contains(r.Nodes, node)) {
			rs = append(rs, r)
		}
	}
	return rs
}

// Node returns the node called name.
func (s Status) Node(name string) (Node, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}
