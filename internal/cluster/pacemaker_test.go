package cluster_test

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/cluster"
	"github.com/enmei-project/enmei/internal/cluster/clustertest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cibCopy copies a fixture into a temporary directory, for tests that need
// no simulator.
func cibCopy(t *testing.T, fixture string) string {
	t.Helper()
	data, err := os.ReadFile(clustertest.Fixture(t, fixture))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tool runs a Pacemaker tool on the CIB file, as an administrator would.
func tool(t *testing.T, cib string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "CIB_file="+cib)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

type placed struct{ id, parent, node, role string }

func placement(st cluster.Status) []placed {
	var ps []placed
	for _, r := range st.Resources {
		ps = append(ps, placed{r.ID, r.Parent, r.Node, r.Role})
	}
	return ps
}

func TestPacemakerStatusFixtures(t *testing.T) {
	ctx := ctxT(t)
	failedAt := regexp.MustCompile(` at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)
	for _, tc := range []struct {
		fixture   string
		placement []placed
		problems  []string
	}{
		{"two-node", []placed{
			{"web-ip", "web", "node1", "Started"},
			{"web-app", "web", "node1", "Started"},
			{"db", "", "node2", "Started"},
			{"health", "health-clone", "node1", "Started"},
			{"health", "health-clone", "node2", "Started"},
		}, nil},
		{"node-offline", []placed{
			{"web-ip", "web", "node1", "Started"},
			{"web-app", "web", "node1", "Started"},
			{"db", "", "node1", "Started"},
			{"health", "health-clone", "node1", "Started"},
			{"health", "health-clone", "", "Stopped"},
		}, []string{"node node2 is offline"}},
		{"failed-resource", nil, []string{
			"resource db has failed on node2",
			"failed action db_stop_0 on node2: error (exit code 1, Simulated action result)",
		}},
		{"failed-action", nil, []string{
			"failed action db_monitor_10000 on node2: error (exit code 1, Simulated action result)",
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			p := cluster.NewPacemaker([]string{"CIB_file=" + cibCopy(t, tc.fixture)})
			st, err := p.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Quorum || len(st.Nodes) != 2 || st.Nodes[0].Name != "node1" || st.Nodes[1].Name != "node2" {
				t.Errorf("quorum %v, nodes %+v", st.Quorum, st.Nodes)
			}
			if tc.placement != nil && !slices.Equal(placement(st), tc.placement) {
				t.Errorf("placement\n got %v\nwant %v", placement(st), tc.placement)
			}
			var problems []string
			for _, p := range st.Problems() {
				problems = append(problems, failedAt.ReplaceAllString(p, ""))
			}
			if !slices.Equal(problems, tc.problems) {
				t.Errorf("problems\n got %q\nwant %q", st.Problems(), tc.problems)
			}
		})
	}
}

func TestPacemakerStatusDetails(t *testing.T) {
	ctx := ctxT(t)
	p := cluster.NewPacemaker([]string{"CIB_file=" + cibCopy(t, "failed-resource")})
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var db cluster.Resource
	for _, r := range st.Resources {
		if r.ID == "db" {
			db = r
		}
	}
	if !db.Failed || db.Managed || !db.Active || db.Agent != "ocf:pacemaker:Dummy" || !slices.Equal(db.Nodes, []string{"node2"}) {
		t.Errorf("db = %+v", db)
	}
	if got := st.RunningOn("node1"); len(got) != 3 {
		t.Errorf("RunningOn(node1) = %+v", got)
	}
	if n, ok := st.Node("node2"); !ok || !n.Online || n.Standby {
		t.Errorf("Node(node2) = %+v, %v", n, ok)
	}
}

// Problems names every kind of trouble an administrator can cause with
// the ordinary tools.
func TestPacemakerProblems(t *testing.T) {
	ctx := ctxT(t)
	cib := cibCopy(t, "two-node")
	tool(t, cib, "crm_attribute", "--node", "node1", "--name", "standby", "--update", "on")
	tool(t, cib, "crm_attribute", "--node", "node2", "--name", "maintenance", "--update", "on")
	tool(t, cib, "cibadmin", "--modify", "--xml-text", `<cib have-quorum="0"/>`)
	st, err := cluster.NewPacemaker([]string{"CIB_file=" + cib}).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"the cluster partition has no quorum",
		"node node1 is in standby",
		"node node2 is in maintenance mode",
		"resource db is not managed by the cluster",
		"resource health is not managed by the cluster",
	}
	if !slices.Equal(st.Problems(), want) {
		t.Errorf("problems\n got %q\nwant %q", st.Problems(), want)
	}

	tool(t, cib, "crm_attribute", "--type", "crm_config", "--name", "maintenance-mode", "--update", "true")
	st, err = cluster.NewPacemaker([]string{"CIB_file=" + cib}).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Problems(); !slices.Contains(p, "the cluster is in maintenance mode") || slices.Contains(p, "resource db is not managed by the cluster") {
		t.Errorf("problems in maintenance mode: %q", p)
	}
}

func TestPacemakerStatusErrors(t *testing.T) {
	ctx := ctxT(t)
	missing := filepath.Join(t.TempDir(), "missing.xml")
	_, err := cluster.NewPacemaker([]string{"CIB_file=" + missing}).Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "Could not connect to the CIB") {
		t.Errorf("missing CIB file: %v", err)
	}
	// A truncated file is what a reader sees in the middle of an in-place
	// write; crm_mon reads it as an empty cluster and exits 0.
	data, _ := os.ReadFile(clustertest.Fixture(t, "two-node"))
	cut := filepath.Join(t.TempDir(), "cib.xml")
	os.WriteFile(cut, data[:len(data)/3], 0o600)
	_, err = cluster.NewPacemaker([]string{"CIB_file=" + cut}).Status(ctx)
	if err == nil {
		t.Error("truncated CIB file: no error")
	} else if strings.Contains(err.Error(), "\n") {
		t.Errorf("error on several lines: %q", err)
	}
	t.Logf("truncated: %v", err)

	_, err = cluster.NewPacemaker([]string{"CIB_file=" + missing}).LocalNode(ctx)
	if err == nil || !strings.Contains(err.Error(), cluster.NodeEnv) {
		t.Errorf("LocalNode on a CIB file: %v", err)
	}
	n, err := cluster.NewPacemaker([]string{"CIB_file=" + missing, cluster.NodeEnv + "=node2"}).LocalNode(ctx)
	if err != nil || n != "node2" {
		t.Errorf("LocalNode = %q, %v", n, err)
	}
	err = cluster.NewPacemaker([]string{"CIB_file=" + cibCopy(t, "two-node")}).Standby(ctx, "node9", true)
	if err == nil || !strings.Contains(err.Error(), "node9") || !strings.Contains(err.Error(), "Could not map name=node9") {
		t.Errorf("Standby(node9): %v", err)
	}
}

// A node put in standby loses its resources on the simulator's next
// iterations, as in a live cluster, and gets them back afterwards.
func TestPacemakerStandby(t *testing.T) {
	ctx := ctxT(t)
	sim := clustertest.Start(t, "two-node")
	c := sim.Cluster("node1")
	node, err := c.LocalNode(ctx)
	if err != nil || node != "node1" {
		t.Fatalf("LocalNode = %q, %v", node, err)
	}
	if err := c.Standby(ctx, node, true); err != nil {
		t.Fatal(err)
	}
	st := sim.WaitFor("node1's resources leaving it", 5*time.Second, func(st cluster.Status) bool {
		return len(st.RunningOn("node1")) == 0
	})
	if n, _ := st.Node("node1"); !n.Standby || !n.Online {
		t.Errorf("node1 = %+v", n)
	}
	if got := st.RunningOn("node2"); len(got) != 4 {
		t.Errorf("on node2: %+v", got)
	}
	if p := st.Problems(); !slices.Equal(p, []string{"node node1 is in standby"}) {
		t.Errorf("problems in standby: %q", p)
	}

	if err := c.Standby(ctx, node, false); err != nil {
		t.Fatal(err)
	}
	st = sim.WaitFor("node1's resources coming back", 5*time.Second, func(st cluster.Status) bool {
		return len(st.RunningOn("node1")) == 3
	})
	if p := st.Problems(); len(p) != 0 {
		t.Errorf("problems after standby off: %q", p)
	}
	if !slices.Equal(placement(st), placement(clustertest.Start(t, "two-node").Status())) {
		t.Errorf("placement after standby off: %v", placement(st))
	}
}

// The update lock, with the simulator rewriting the CIB meanwhile.
func TestPacemakerLock(t *testing.T) {
	ctx := ctxT(t)
	sim := clustertest.Start(t, "two-node")
	a, b := sim.Cluster("node1"), sim.Cluster("node2")
	// Keep the simulator busy so that it rewrites the file while the lock
	// is taken and changed.
	if err := a.Standby(ctx, "node1", true); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(time.Hour).Truncate(time.Second)

	if l, err := a.Locked(ctx); err != nil || l != nil {
		t.Fatalf("Locked before = %+v, %v", l, err)
	}
	if err := a.Lock(ctx, cluster.Lock{Owner: "node1:100", Node: "node1", Expires: hour}); err != nil {
		t.Fatal(err)
	}
	err := b.Lock(ctx, cluster.Lock{Owner: "node2:200", Node: "node2", Expires: hour})
	var le *cluster.LockedError
	if !errors.As(err, &le) || le.Owner != "node1:100" || le.Node != "node1" || !le.Expires.Equal(hour) {
		t.Fatalf("second Lock: %v", err)
	}
	if !strings.Contains(err.Error(), "node1:100") {
		t.Errorf("message does not name the holder: %v", err)
	}
	// Renewing as the same owner.
	later := hour.Add(time.Hour)
	if err := a.Lock(ctx, cluster.Lock{Owner: "node1:100", Node: "node1", Expires: later}); err != nil {
		t.Fatalf("renew: %v", err)
	}
	note := `upgrade failed: "dnf" exited 1 & <nothing> changed`
	if err := a.NoteLock(ctx, "node1:100", note); err != nil {
		t.Fatal(err)
	}
	l, err := b.Locked(ctx)
	if err != nil || l == nil || l.Owner != "node1:100" || l.Node != "node1" || l.Note != note || !l.Expires.Equal(later) || l.Expired(time.Now()) {
		t.Fatalf("Locked = %+v, %v", l, err)
	}
	err = b.Lock(ctx, cluster.Lock{Owner: "node2:200", Node: "node2", Expires: hour})
	if !errors.As(err, &le) || le.Note != note || !strings.Contains(err.Error(), note) {
		t.Errorf("Lock with a note: %v", err)
	}
	if err := b.NoteLock(ctx, "node2:200", "x"); !errors.As(err, &le) {
		t.Errorf("NoteLock by another owner: %v", err)
	}
	if err := b.Unlock(ctx, "node2:200"); !errors.As(err, &le) || le.Owner != "node1:100" {
		t.Errorf("Unlock by another owner: %v", err)
	}
	if err := a.Unlock(ctx, "node1:100"); err != nil {
		t.Fatal(err)
	}
	if l, err := b.Locked(ctx); err != nil || l != nil {
		t.Fatalf("Locked after Unlock = %+v, %v", l, err)
	}
	if err := a.Unlock(ctx, "node1:100"); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if err := a.NoteLock(ctx, "node1:100", "x"); err == nil {
		t.Error("NoteLock without a lock: no error")
	}

	// An expired lock is taken over.
	if err := a.Lock(ctx, cluster.Lock{Owner: "node1:101", Node: "node1", Note: "crashed", Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if l, err := b.Locked(ctx); err != nil || l == nil || !l.Expired(time.Now()) || l.Note != "crashed" {
		t.Fatalf("expired lock = %+v, %v", l, err)
	}
	if err := b.Lock(ctx, cluster.Lock{Owner: "node2:200", Node: "node2", Expires: hour}); err != nil {
		t.Fatalf("taking over an expired lock: %v", err)
	}
	if l, err := a.Locked(ctx); err != nil || l == nil || l.Owner != "node2:200" || l.Note != "" {
		t.Fatalf("after take-over = %+v, %v", l, err)
	}
	// Owners with quotes still match exactly.
	if err := b.Unlock(ctx, "node2:200"); err != nil {
		t.Fatal(err)
	}
	odd := `it's "odd"`
	if err := a.Lock(ctx, cluster.Lock{Owner: odd, Expires: hour}); err != nil {
		t.Fatal(err)
	}
	if err := a.NoteLock(ctx, odd, "n"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, odd); err != nil {
		t.Fatal(err)
	}
	// The simulator kept working throughout, and the lock never confused
	// Pacemaker.
	sim.WaitFor("node1's resources leaving it", 5*time.Second, func(st cluster.Status) bool {
		return len(st.RunningOn("node1")) == 0
	})
}

// Of many owners racing for a free lock, exactly one wins.
func TestPacemakerLockRace(t *testing.T) {
	ctx := ctxT(t)
	sim := clustertest.Start(t, "two-node")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = sim.Cluster("node1").Lock(ctx, cluster.Lock{Owner: string(rune('A' + i)), Expires: time.Now().Add(time.Hour)})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var le *cluster.LockedError
		switch {
		case err == nil:
			won++
		case !errors.As(err, &le):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d owners took the lock: %v", won, errs)
	}
}

func TestPacemakerBackup(t *testing.T) {
	ctx := ctxT(t)
	sim := clustertest.Start(t, "two-node")
	c := sim.Cluster("node1")
	if err := c.Lock(ctx, cluster.Lock{Owner: "node1:1", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := c.Backup(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "cib.xml")}; !slices.Equal(files, want) {
		t.Fatalf("files = %q", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode: %v, %v", fi, err)
	}
	data, _ := os.ReadFile(files[0])
	var cib struct {
		XMLName   xml.Name `xml:"cib"`
		Resources []struct {
			ID string `xml:"id,attr"`
		} `xml:"configuration>resources>primitive"`
		Sets []struct {
			ID string `xml:"id,attr"`
		} `xml:"configuration>crm_config>cluster_property_set"`
	}
	if err := xml.Unmarshal(data, &cib); err != nil {
		t.Fatal(err)
	}
	if len(cib.Resources) != 1 || cib.Resources[0].ID != "db" || len(cib.Sets) != 2 {
		t.Errorf("backup: %+v", cib)
	}
	// The backup is a CIB the tools accept.
	st, err := cluster.NewPacemaker([]string{"CIB_file=" + files[0]}).Status(ctx)
	if err != nil || len(st.Resources) != 5 {
		t.Errorf("status of the backup: %+v, %v", st, err)
	}
}

// The fixtures must load in Pacemaker 2.1.5, whose newest feature set is
// 3.16.2.
func TestFixtureFeatureSet(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(clustertest.Fixture(t, "two-node")), "*.xml"))
	if len(files) < 4 {
		t.Fatalf("fixtures: %q", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`crm_feature_set="([0-9.]+)"`).FindAllStringSubmatch(string(data), -1) {
			if versionLess("3.16.2", m[1]) {
				t.Errorf("%s: crm_feature_set %s is newer than 3.16.2", filepath.Base(f), m[1])
			}
		}
	}
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x = atoi(as[i])
		}
		if i < len(bs) {
			y = atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
