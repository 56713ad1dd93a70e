// Package clustertest gives tests a simulated Pacemaker cluster made of
// the real Pacemaker tools and a CIB file: Start copies a fixture from
// internal/cluster/testdata and runs crm_simulate on it every Interval, so
// the cluster reacts like a live one — a node put in standby loses its
// resources on the next iteration, a node taken out of standby gets them
// back. The code under test reaches it with Env (CIB_file=…) through
// cluster.NewPacemaker or any Pacemaker tool. Tests never skip: missing
// Pacemaker tools (Debian's pacemaker-cli-utils) are a clear failure.
//
// The simulator never loses a write made by the code under test. The
// Pacemaker tools rewrite a CIB file in place (read, change in memory,
// O_TRUNC and write), so a simulator that read the file, simulated and
// wrote the result back would overwrite whatever was written in between,
// and a reader could see half a file. So each iteration holds the CIB file
// lock (cluster.LockCIBFile, which the Pacemaker adapter holds around its
// every tool call) from reading the file to installing the result, which
// it writes to a temporary file and renames over the CIB file; the code
// under test waits for the lock at most one simulation (some 40 ms). As a
// safety net for writers that bypass the lock (a test running a Pacemaker
// tool itself), the result is installed only if the file still holds
// exactly the bytes that were simulated; otherwise it is dropped and the
// next iteration simulates from the newer file.
package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/cluster"
)

// TB is what the simulator needs of a test: testing.TB has it, and so can
// a benchmark program that plays a cluster outside go test.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

var _ TB = testing.TB(nil)

// Interval is the simulator's period, what a cluster's reaction time is
// here.
const Interval = 150 * time.Millisecond

// MonitorInterval is the recurring monitor interval of every resource in
// the fixtures, which FailMonitor fails.
const MonitorInterval = 10 * time.Second

// Sim is a running simulated cluster.
type Sim struct {
	t    TB
	path string // the CIB file the code under test works on
	work string // the simulator's own files

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	mu    sync.Mutex
	stats Stats
	err   error // the first failed iteration

	// naive drops the discipline of the package comment (no lock, no
	// check before installing), for this package's test that shows the
	// discipline is needed.
	naive atomic.Bool
}

// Stats counts the simulator's iterations.
type Stats struct {
	Iterations int // simulations run
	Applied    int // results written to the CIB file
	Dropped    int // results dropped because the file changed meanwhile
}

// Fixture is the path of the CIB fixture name (without .xml) in
// internal/cluster/testdata.
func Fixture(t TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("clustertest: cannot locate internal/cluster/testdata")
	}
	p := filepath.Join(filepath.Dir(file), "..", "testdata", name+".xml")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("clustertest: no fixture %q: %v", name, err)
	}
	return p
}

// Start copies the fixture (a name from internal/cluster/testdata such as
// "two-node", or a path to a CIB file) into t.TempDir(), settles it with
// one simulation and starts the simulator, which t.Cleanup stops.
func Start(t TB, fixture string) *Sim {
	t.Helper()
	for _, tool := range []string{"crm_simulate", "crm_mon", "cibadmin", "crm_attribute"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("clustertest: %s is not installed (apt-get install pacemaker-cli-utils): %v", tool, err)
		}
	}
	src := fixture
	if !strings.ContainsRune(fixture, os.PathSeparator) && !strings.HasSuffix(fixture, ".xml") {
		src = Fixture(t, fixture)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	dir := t.TempDir()
	s := &Sim{t: t, path: filepath.Join(dir, "cib.xml"), work: filepath.Join(dir, "sim"), done: make(chan struct{})}
	if err := os.Mkdir(s.work, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.step(ctx); err != nil {
		cancel()
		t.Fatalf("clustertest: settling %s: %v", fixture, err)
	}
	go s.loop(ctx)
	t.Cleanup(s.Stop)
	return s
}

// Path is the CIB file.
func (s *Sim) Path() string { return s.path }

// Env is the environment that points the Pacemaker tools at the
// simulated cluster.
func (s *Sim) Env() []string { return []string{"CIB_file=" + s.path} }

// EnvAs is Env for code running as node: cluster.NodeEnv names it, since
// crm_node cannot.
func (s *Sim) EnvAs(node string) []string {
	return append(s.Env(), cluster.NodeEnv+"="+node)
}

// Cluster is the Pacemaker adapter on the simulated cluster, as node.
func (s *Sim) Cluster(node string) *cluster.Pacemaker {
	return cluster.NewPacemaker(s.EnvAs(node))
}

// Stats returns the iteration counters so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Stop stops the simulator and fails the test if an iteration failed. It
// is idempotent.
func (s *Sim) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil {
			s.t.Errorf("clustertest: the simulator failed: %v", err)
		}
	})
}

func (s *Sim) loop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}
}

// step runs one simulation; see the package comment for why it is safe.
func (s *Sim) step(ctx context.Context) error {
	if s.naive.Load() {
		return s.naiveStep(ctx)
	}
	unlock, err := cluster.LockCIBFile(ctx, s.path)
	if err != nil {
		return err
	}
	defer unlock()
	in, out, err := s.simulate(ctx, "in", "--simulate")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.Iterations++
	s.mu.Unlock()
	if bytes.Equal(in, out) {
		return nil // nothing happened
	}
	// Only a writer that bypasses the lock (a test running a Pacemaker
	// tool itself) can have changed the file meanwhile.
	cur, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, in) {
		s.mu.Lock()
		s.stats.Dropped++
		s.mu.Unlock()
		return nil
	}
	if err := s.install(out); err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.Applied++
	s.mu.Unlock()
	return nil
}

// simulate runs crm_simulate with args on a copy of the CIB file (named
// after use, so step and inject never share one) and returns the file as
// read and crm_simulate's result. The caller holds the CIB file lock.
func (s *Sim) simulate(ctx context.Context, use string, args ...string) (in, out []byte, err error) {
	if in, err = os.ReadFile(s.path); err != nil {
		return nil, nil, err
	}
	inFile, outFile := filepath.Join(s.work, use+"-in.xml"), filepath.Join(s.work, use+"-out.xml")
	if err := os.WriteFile(inFile, in, 0o600); err != nil {
		return nil, nil, err
	}
	if err := crmSimulate(ctx, append([]string{"--xml-file", inFile, "--save-output", outFile}, args...)...); err != nil {
		return nil, nil, err
	}
	out, err = os.ReadFile(outFile)
	return in, out, err
}

// naiveStep is step without the discipline: read, simulate, install.
func (s *Sim) naiveStep(ctx context.Context) error {
	in, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	inFile, outFile := filepath.Join(s.work, "in.xml"), filepath.Join(s.work, "out.xml")
	if err := os.WriteFile(inFile, in, 0o600); err != nil {
		return err
	}
	if crmSimulate(ctx, "--simulate", "--xml-file", inFile, "--save-output", outFile) != nil {
		return nil // a torn read; naive mode does not care
	}
	out, err := os.ReadFile(outFile)
	if err != nil || bytes.Equal(in, out) {
		return err
	}
	s.mu.Lock()
	s.stats.Applied++
	s.mu.Unlock()
	return s.install(out)
}

// install replaces the CIB file with data atomically; the caller holds the
// CIB file lock.
func (s *Sim) install(data []byte) error {
	tmp := filepath.Join(filepath.Dir(s.path), ".cib.xml.sim")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

// crmSimulate runs crm_simulate without a CIB_file of the test's own in
// its environment.
func crmSimulate(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "crm_simulate", append(args, "--quiet")...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CIB_file=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("crm_simulate %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// inject applies crm_simulate's synthetic-event options to the CIB file
// without simulating the cluster's reaction, holding the CIB file lock
// through read, change and write; the next iteration reacts.
func (s *Sim) inject(args ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := func() error {
		unlock, err := cluster.LockCIBFile(ctx, s.path)
		if err != nil {
			return err
		}
		defer unlock()
		_, out, err := s.simulate(ctx, "inject", args...)
		if err != nil {
			return err
		}
		return s.install(out)
	}()
	if err != nil {
		s.t.Fatalf("clustertest: %v", err)
	}
}

// FailResource makes id's stop on node fail: without fencing the resource
// stays FAILED and blocked (unmanaged) on node, with a failed action,
// until the CIB is replaced — crm_resource --cleanup does not work on a
// CIB file (it crashes in 2.1.5).
func (s *Sim) FailResource(id, node string) {
	s.t.Helper()
	s.inject("--op-inject", fmt.Sprintf("%s_stop_0@%s=1", id, node))
}

// FailMonitor makes id's recurring monitor on node report an error: the
// cluster recovers the resource (restarts it) on the next iteration and
// the failed action stays recorded.
func (s *Sim) FailMonitor(id, node string) {
	s.t.Helper()
	s.inject("--op-inject", fmt.Sprintf("%s_monitor_%d@%s=1", id, MonitorInterval.Milliseconds(), node))
}

// NodeDown takes node out of the cluster, cleanly (no fencing needed);
// its resources are recovered elsewhere on the next iteration.
func (s *Sim) NodeDown(node string) {
	s.t.Helper()
	s.inject("--node-down", node)
}

// NodeUp brings node back into the cluster.
func (s *Sim) NodeUp(node string) {
	s.t.Helper()
	s.inject("--node-up", node)
}

// Status is the cluster's status now.
func (s *Sim) Status() cluster.Status {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cluster.NewPacemaker(s.Env()).Status(ctx)
	if err != nil {
		s.t.Fatalf("clustertest: %v", err)
	}
	return st
}

// WaitFor polls the status until cond holds and returns it, failing the
// test after timeout with what is described by what.
func (s *Sim) WaitFor(what string, timeout time.Duration, cond func(cluster.Status) bool) cluster.Status {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := s.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("clustertest: %s did not happen within %v; status: %+v", what, timeout, st)
		}
		time.Sleep(Interval / 3)
	}
}
