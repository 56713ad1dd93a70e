package cluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLK plays LifeKeeper's commands for node1 of a two-server cluster:
// lcduname and lcdstatus answer with the recorded output of a scenario in
// testdata/lifekeeper, perform_action succeeds, lkbackup -c writes an
// archive, and the lock scripts run for real in sh, node2's (reached
// through lcdremexec) on node2's copy of the lock file. It records every
// command line.
type fakeLK struct {
	t         *testing.T
	scenario  string
	lockPaths map[string]string // server → its lock file
	configDir string
	// down makes lcdremexec to these servers fail.
	down map[string]bool
	// before, when set, runs before a command and may answer it.
	before func(line string) (out []byte, err error, handled bool)

	mu    sync.Mutex
	calls []string
}

func newFakeLK(t *testing.T, scenario string) (*fakeLK, *LifeKeeper) {
	dir := t.TempDir()
	f := &fakeLK{t: t, scenario: scenario, configDir: filepath.Join(dir, "config"), down: map[string]bool{},
		lockPaths: map[string]string{
			"node1": filepath.Join(dir, "node1", "var/lib/enmei/cluster-update.lock"),
			"node2": filepath.Join(dir, "node2", "var/lib/enmei/cluster-update.lock"),
		}}
	os.MkdirAll(f.configDir, 0o700)
	k := NewLifeKeeper(f)
	k.ConfigDir = f.configDir
	k.LockPath = f.lockPaths["node1"]
	return f, k
}

func (f *fakeLK) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// line shows a command with node1's lock path as LOCK, for assertions.
func (f *fakeLK) line(name string, args []string) string {
	return strings.ReplaceAll(strings.Join(append([]string{name}, args...), " "), f.lockPaths["node1"], "LOCK")
}

func (f *fakeLK) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	line := f.line(name, args)
	f.mu.Lock()
	f.calls = append(f.calls, line)
	f.mu.Unlock()
	if f.before != nil {
		if out, err, ok := f.before(line); ok {
			return out, err
		}
	}
	fail := func(code int, stderr string) ([]byte, error) {
		return nil, &ToolError{Cmd: line, Code: code, Stderr: stderr, Err: errors.New("exit status")}
	}
	switch base := filepath.Base(name); base {
	case "lcduname":
		return []byte("node1\n"), nil
	case "lcdstatus":
		file := "node1-lcdstatus" + strings.Join(args, "") + ".txt"
		if len(args) == 3 && args[1] == "-d" {
			file = args[2] + "-lcdstatus" + args[0] + ".txt"
		}
		data, err := os.ReadFile(filepath.Join("testdata", "lifekeeper", f.scenario, file))
		if err != nil {
			return fail(1, "no recorded output "+file)
		}
		return data, nil
	case "perform_action":
		return nil, nil
	case "lkbackup":
		p := filepath.Join(f.configDir, "archive.20261124163000.tar.gz")
		return nil, os.WriteFile(p, []byte("recorded archive"), 0o600)
	case "sh":
		return f.sh(ctx, args[1], "node1")
	case "lcdremexec":
		i := slices.Index(args, "-d")
		node := args[i+1]
		if f.down[node] {
			return fail(1, "lcdremexec: no communication paths to "+node)
		}
		cmd := args[slices.Index(args, "--")+1:]
		if filepath.Base(cmd[0]) == "perform_action" {
			return nil, nil
		}
		return f.sh(ctx, cmd[0], node)
	}
	return fail(127, name+": not found")
}

// sh runs a lock script on node's copy of the lock file.
func (f *fakeLK) sh(ctx context.Context, script, node string) ([]byte, error) {
	root := func(n string) string { return strings.TrimSuffix(f.lockPaths[n], "var/lib/enmei/cluster-update.lock") }
	script = strings.ReplaceAll(script, root("node1"), root(node))
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &ToolError{Cmd: "sh", Code: 1, Stderr: stderr.String(), Err: err}
	}
	return out, nil
}

func (f *fakeLK) lockFile(node string) string {
	data, err := os.ReadFile(f.lockPaths[node])
	if err != nil {
		return ""
	}
	return string(data)
}

const lkBin = "/opt/LifeKeeper/bin/"

func TestLifeKeeperStatus(t *testing.T) {
	ctx := context.Background()
	f, k := newFakeLK(t, "healthy")
	st, err := k.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{lkBin + "lcduname", lkBin + "lcdstatus -q", lkBin + "lcdstatus -e", lkBin + "lcdstatus -e -d node2"}; !slices.Equal(f.Calls(), want) {
		t.Errorf("calls = %q", f.Calls())
	}
	if len(st.Nodes) != 2 || !st.Nodes[0].Online || !st.Nodes[1].Online || st.Nodes[1].Name != "node2" || !st.Quorum {
		t.Errorf("nodes %+v", st.Nodes)
	}
	wantPaths := []Path{
		{"node1", "node2", "TCP", "192.0.2.11/192.0.2.12", "ALIVE"},
		{"node1", "node2", "TCP", "198.51.100.11/198.51.100.12", "ALIVE"},
		{"node1", "node2", "TTY", "/dev/ttyS0", "ALIVE"},
	}
	if !slices.Equal(st.Paths, wantPaths) {
		t.Errorf("paths %+v", st.Paths)
	}
	type row struct{ id, parent, agent, node, role string }
	var got []row
	for _, r := range st.Resources {
		got = append(got, row{r.ID, r.Parent, r.Agent, r.Node, r.Role})
	}
	want := []row{
		{"pgsql-5432", "", "pgsql-5432", "node1", "ISP"},
		{"ip-192.0.2.10", "pgsql-5432", "IP-192.0.2.10", "node1", "ISP"},
		{"filesys4083", "pgsql-5432", "/var/lib/pgsql", "node1", "ISP"},
		{"lvm-datavg-pgdata", "filesys4083", "/dev/datavg/pgdata", "node1", "ISP"},
		{"disk2083", "lvm-datavg-pgdata", "36000c29a1b2c3d4e5f60718293a4b5c6", "node1", "ISP"},
		{"ip-192.0.2.20", "", "IP-192.0.2.20", "node1", "ISP"},
		{"nfs-exports", "", "/exports", "node2", "ISP"},
		{"filesys5120", "nfs-exports", "/exports", "node2", "ISP"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("resources\n got %v\nwant %v", got, want)
	}
	if r := st.Resources[6]; r.States["node1"] != "OSU" || r.States["node2"] != "ISP" || r.Failed || !r.Active {
		t.Errorf("nfs-exports = %+v", r)
	}
	if n := len(st.RunningOn("node1")); n != 6 {
		t.Errorf("RunningOn(node1): %d", n)
	}
	if p := st.Problems(); len(p) != 0 {
		t.Errorf("problems: %q", p)
	}
}

func TestLifeKeeperProblems(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		scenario string
		calls    []string
		problems []string
	}{
		{"unhealthy", []string{lkBin + "lcduname", lkBin + "lcdstatus -q", lkBin + "lcdstatus -e", lkBin + "lcdstatus -e -d node2"}, []string{
			"communication path TCP from node1 to node2 (198.51.100.11/198.51.100.12) is DEAD",
			"resource ip-192.0.2.20 is OSF (out of service, failed) on node1",
			"resource filesys5120 is in state UNKNOWN on node2",
		}},
		// A server without a live path is offline and not asked.
		{"node-down", []string{lkBin + "lcduname", lkBin + "lcdstatus -q", lkBin + "lcdstatus -e"}, []string{
			"node node2 is offline",
			"communication path TCP from node1 to node2 (192.0.2.11/192.0.2.12) is DEAD",
			"communication path TCP from node1 to node2 (198.51.100.11/198.51.100.12) is DEAD",
			"communication path TTY from node1 to node2 (/dev/ttyS0) is DEAD",
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			f, k := newFakeLK(t, tc.scenario)
			st, err := k.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c := f.Calls(); !slices.Equal(c, tc.calls) {
				t.Errorf("calls = %q", c)
			}
			if p := st.Problems(); !slices.Equal(p, tc.problems) {
				t.Errorf("problems\n got %q\nwant %q", p, tc.problems)
			}
		})
	}
}

func TestLifeKeeperStandby(t *testing.T) {
	ctx := context.Background()
	f, k := newFakeLK(t, "healthy")
	if err := k.Standby(ctx, "node1", true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		lkBin + "lcduname",
		lkBin + "lcdstatus -e",
		lkBin + "lcdremexec -d node2 -- " + lkBin + "perform_action -t pgsql-5432 -a restore",
		lkBin + "lcdremexec -d node2 -- " + lkBin + "perform_action -t ip-192.0.2.20 -a restore",
	}
	if c := f.Calls(); !slices.Equal(c, want) {
		t.Errorf("standby on: calls\n got %q\nwant %q", c, want)
	}

	f.scenario = "standby" // as LifeKeeper shows it once the switchover is done
	st, err := k.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.RunningOn("node1"); len(r) != 0 || len(st.RunningOn("node2")) != 8 || len(st.Problems()) != 0 {
		t.Errorf("after standby: on node1 %+v, problems %q", r, st.Problems())
	}
	f.Calls()

	if err := k.Standby(ctx, "node1", false); err != nil {
		t.Fatal(err)
	}
	want = []string{
		lkBin + "lcdstatus -e",
		lkBin + "perform_action -t pgsql-5432 -a restore",
		lkBin + "perform_action -t ip-192.0.2.20 -a restore",
	}
	if c := f.Calls(); !slices.Equal(c, want) {
		t.Errorf("standby off: calls\n got %q\nwant %q", c, want)
	}

	// node2's hierarchies come to node1, run here, seen through -d.
	f.scenario = "healthy"
	if err := k.Standby(ctx, "node2", true); err != nil {
		t.Fatal(err)
	}
	want = []string{lkBin + "lcdstatus -e -d node2", lkBin + "perform_action -t nfs-exports -a restore"}
	if c := f.Calls(); !slices.Equal(c, want) {
		t.Errorf("standby node2: calls %q", c)
	}
	// Nothing to bring back when everything is home.
	if err := k.Standby(ctx, "node1", false); err != nil {
		t.Fatal(err)
	}
	if c := f.Calls(); !slices.Equal(c, []string{lkBin + "lcdstatus -e"}) {
		t.Errorf("standby off when healthy: calls %q", c)
	}

	f.before = func(line string) ([]byte, error, bool) {
		if strings.Contains(line, "perform_action") {
			return nil, &ToolError{Cmd: line, Code: 1, Stderr: "restore of pgsql-5432 failed", Err: errors.New("exit status 1")}, true
		}
		return nil, nil, false
	}
	err = k.Standby(ctx, "node1", true)
	if err == nil || !strings.Contains(err.Error(), "pgsql-5432") || !strings.Contains(err.Error(), "restore of pgsql-5432 failed") {
		t.Errorf("failed switchover: %v", err)
	}
}

func TestLifeKeeperBackup(t *testing.T) {
	ctx := context.Background()
	f, k := newFakeLK(t, "healthy")
	old := filepath.Join(f.configDir, "archive.20250101000000.tar.gz")
	os.WriteFile(old, []byte("old"), 0o600)
	os.Chtimes(old, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	dir := t.TempDir()
	files, err := k.Backup(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Calls(); !slices.Equal(c, []string{lkBin + "lkbackup -c"}) {
		t.Errorf("calls = %q", c)
	}
	if want := []string{filepath.Join(dir, "archive.20261124163000.tar.gz")}; !slices.Equal(files, want) {
		t.Fatalf("files = %q", files)
	}
	data, _ := os.ReadFile(files[0])
	fi, _ := os.Stat(files[0])
	if string(data) != "recorded archive" || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup %q, %v", data, fi.Mode())
	}
	// No new archive is an error, not the old one.
	os.Remove(filepath.Join(f.configDir, "archive.20261124163000.tar.gz"))
	f.before = func(line string) ([]byte, error, bool) { return nil, nil, strings.Contains(line, "lkbackup") }
	if _, err := k.Backup(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no new archive") {
		t.Errorf("lkbackup writing nothing: %v", err)
	}
}

func TestLifeKeeperLock(t *testing.T) {
	ctx := context.Background()
	f, k := newFakeLK(t, "healthy")
	hour := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := k.Lock(ctx, Lock{Owner: "node1:100", Node: "node1", Expires: hour}); err != nil {
		t.Fatal(err)
	}
	read := `if test -e 'LOCK'; then echo present; cat 'LOCK'; else echo absent; fi`
	content := `{"owner":"node1:100","node":"node1","expires":"` + hour.UTC().Format(time.RFC3339) + `"}`
	create := `mkdir -p '` + filepath.Dir(f.lockPaths["node1"]) + `' && (set -C && printf '%s\n' '` + content + `' > 'LOCK')`
	want := []string{
		lkBin + "lcduname",
		lkBin + "lcdstatus -q",
		"sh -c " + read,
		lkBin + "lcdremexec -e -d node2 -- " + read,
		"sh -c " + create,
		lkBin + "lcdremexec -e -d node2 -- " + create,
	}
	if c := f.Calls(); !slices.Equal(c, want) {
		t.Errorf("calls\n got %q\nwant %q", c, want)
	}
	if f.lockFile("node1") != content+"\n" || f.lockFile("node2") != content+"\n" {
		t.Errorf("lock files %q, %q", f.lockFile("node1"), f.lockFile("node2"))
	}

	var le *LockedError
	if err := k.Lock(ctx, Lock{Owner: "node2:200", Expires: hour}); !errors.As(err, &le) || le.Owner != "node1:100" || !le.Expires.Equal(hour) {
		t.Fatalf("second Lock: %v", err)
	}
	later := hour.Add(time.Hour)
	if err := k.Lock(ctx, Lock{Owner: "node1:100", Node: "node1", Expires: later}); err != nil {
		t.Fatalf("renew: %v", err)
	}
	note := `dnf failed: it's "broken"`
	if err := k.NoteLock(ctx, "node1:100", note); err != nil {
		t.Fatal(err)
	}
	if l, err := k.Locked(ctx); err != nil || l == nil || l.Owner != "node1:100" || l.Note != note || !l.Expires.Equal(later) {
		t.Fatalf("Locked = %+v, %v", l, err)
	}
	if !strings.Contains(f.lockFile("node2"), `it's \"broken\"`) {
		t.Errorf("node2's copy: %q", f.lockFile("node2"))
	}
	if err := k.Unlock(ctx, "node2:200"); !errors.As(err, &le) {
		t.Errorf("Unlock by another owner: %v", err)
	}
	if err := k.Unlock(ctx, "node1:100"); err != nil {
		t.Fatal(err)
	}
	if f.lockFile("node1") != "" || f.lockFile("node2") != "" {
		t.Errorf("lock files left: %q, %q", f.lockFile("node1"), f.lockFile("node2"))
	}
	if l, err := k.Locked(ctx); err != nil || l != nil {
		t.Errorf("Locked after Unlock = %+v, %v", l, err)
	}
	if err := k.Unlock(ctx, "node1:100"); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if err := k.NoteLock(ctx, "node1:100", "x"); err == nil {
		t.Error("NoteLock without a lock: no error")
	}

	// An expired lock, even on one server only, is taken over.
	expired := `{"owner":"node2:9","node":"node2","expires":"2020-01-01T00:00:00Z","note":"crashed"}`
	os.MkdirAll(filepath.Dir(f.lockPaths["node2"]), 0o700)
	os.WriteFile(f.lockPaths["node2"], []byte(expired+"\n"), 0o600)
	if l, err := k.Locked(ctx); err != nil || l == nil || l.Owner != "node2:9" || !l.Expired(time.Now()) || l.Note != "crashed" {
		t.Fatalf("Locked with an expired copy on node2 = %+v, %v", l, err)
	}
	if err := k.Lock(ctx, Lock{Owner: "node1:101", Expires: hour}); err != nil {
		t.Fatalf("taking over: %v", err)
	}
	if !strings.Contains(f.lockFile("node2"), "node1:101") || !strings.Contains(f.lockFile("node1"), "node1:101") {
		t.Errorf("after take-over: %q, %q", f.lockFile("node1"), f.lockFile("node2"))
	}
	k.Unlock(ctx, "node1:101")
	f.Calls()

	// Another run creates node2's copy between our read and our write: we
	// lose, and undo node1's.
	rival := `{"owner":"node2:300","node":"node2","expires":"` + hour.UTC().Format(time.RFC3339) + `"}`
	f.before = func(line string) ([]byte, error, bool) {
		if strings.Contains(line, "lcdremexec") && strings.Contains(line, "set -C") {
			os.WriteFile(f.lockPaths["node2"], []byte(rival+"\n"), 0o600)
		}
		return nil, nil, false
	}
	if err := k.Lock(ctx, Lock{Owner: "node1:102", Expires: hour}); !errors.As(err, &le) || le.Owner != "node2:300" {
		t.Fatalf("racing Lock: %v", err)
	}
	f.before = nil
	if f.lockFile("node1") != "" || f.lockFile("node2") != rival+"\n" {
		t.Errorf("after losing the race: %q, %q", f.lockFile("node1"), f.lockFile("node2"))
	}
	os.Remove(f.lockPaths["node2"])

	// Every server must be reachable to take the lock.
	f.down["node2"] = true
	err := k.Lock(ctx, Lock{Owner: "node1:103", Expires: hour})
	if err == nil || !strings.Contains(err.Error(), "node2") || !strings.Contains(err.Error(), "no communication paths") || errors.As(err, &le) {
		t.Errorf("Lock with node2 down: %v", err)
	}
	if f.lockFile("node1") != "" {
		t.Errorf("lock written with node2 down: %q", f.lockFile("node1"))
	}
	if l, err := k.Locked(ctx); err != nil || l != nil {
		t.Errorf("Locked with node2 down = %+v, %v", l, err)
	}
}

func TestParseLcdstatusOldHeader(t *testing.T) {
	// LifeKeeper 7's short display titles the first column LOCAL.
	out := "LOCAL    TAG            ID       STATE     PRIO  PRIMARY\n" +
		"svr1     app3910-on-svr1 app4238 ISP          1  svr2\n" +
		"svr1      filesys4083    /jrl1   ISP          1  svr2\n" +
		"\nMACHINE  NETWORK ADDRESSES/DEVICE        STATE     PRIO\n" +
		"svr2     TCP     100.10.1.20/100.11.1.21 ALIVE        1\n"
	rows, paths := parseLcdstatus(out)
	if len(rows) != 2 || rows[1].Parent != "app3910-on-svr1" || rows[1].ID != "/jrl1" || len(paths) != 1 || paths[0].State != "ALIVE" {
		t.Errorf("rows %+v, paths %+v", rows, paths)
	}
}
