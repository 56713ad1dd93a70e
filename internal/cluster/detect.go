package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
)

// DetectOptions says where Detect looks.
type DetectOptions struct {
	// Env is added to the Pacemaker tools' environment (see NewPacemaker);
	// CIB_file in it, or in enmei's own environment, means Pacemaker.
	Env []string
	// Root is prefixed to the files Detect looks for and to LifeKeeper's
	// paths, for tests on a scratch root; "" is the host.
	Root string
	// LifeKeeperRunner runs LifeKeeper's commands; nil runs the real ones.
	LifeKeeperRunner Runner
	// LookPath finds crm_mon; nil is exec.LookPath.
	LookPath func(string) (string, error)
}

// pacemakerCIB is where a configured Pacemaker node keeps its CIB.
const pacemakerCIB = "/var/lib/pacemaker/cib/cib.xml"

// Detect finds the cluster this host belongs to, for --cluster auto:
// Pacemaker when crm_mon is installed and CIB_file is set, crm_mon reads a
// cluster status, or the node has a CIB (its cluster stack may be stopped,
// which Status then reports); else LifeKeeper when lcdstatus is installed;
// else nil: no cluster.
func Detect(ctx context.Context, o DetectOptions) (Cluster, error) {
	lookPath := o.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join(o.Root, p))
		return err == nil
	}
	if _, err := lookPath("crm_mon"); err == nil {
		p := NewPacemaker(o.Env)
		if p.cibFile != "" || exists(pacemakerCIB) {
			return p, nil
		}
		if out, err := p.crmMon(ctx); err == nil {
			if _, _, err := parseCrmMon(out); err == nil {
				return p, nil
			}
		}
	}
	if exists(filepath.Join(LifeKeeperBin, "lcdstatus")) {
		run := o.LifeKeeperRunner
		if run == nil {
			run = ExecRunner{}
		}
		k := NewLifeKeeper(run)
		k.Bin = filepath.Join(o.Root, LifeKeeperBin)
		k.ConfigDir = filepath.Join(o.Root, LifeKeeperConfigDir)
		k.LockPath = filepath.Join(o.Root, LifeKeeperLockPath)
		return k, nil
	}
	return nil, nil
}
