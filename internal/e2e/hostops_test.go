package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/cluster"
	"github.com/enmei-project/enmei/internal/cluster/clustertest"
	"github.com/enmei-project/enmei/internal/demo"
)

// check is one line of enmei preflight --json.
type check struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (h *host) preflight(args ...string) (map[string]check, result) {
	h.t.Helper()
	r := h.enmei(append([]string{"preflight", "--json"}, args...)...)
	var list []check
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		h.t.Fatalf("preflight --json printed no JSON list (exit %d): %v\nstdout: %s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	out := map[string]check{}
	for _, c := range list {
		if c.Status != "pass" && c.Status != "warn" && c.Status != "fail" {
			h.t.Errorf("check %s has status %q", c.Name, c.Status)
		}
		if c.Message == "" {
			h.t.Errorf("check %s has no message", c.Name)
		}
		out[c.Name] = c
	}
	return out, r
}

// elHost is a scratch AlmaLinux root whose rpm database is where an EL
// host keeps it, /var/lib/rpm: Debian's rpm defaults to ~/.rpmdb, so rpm
// and dnf run with a HOME whose .rpmmacros says so.
func elHost(t *testing.T, id string) *host {
	h := newHost(t, almaRelease, id)
	home := t.TempDir()
	must(t, os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte("%_dbpath /var/lib/rpm\n"), 0o644))
	h.env = append(h.env, "HOME="+home)
	return h
}

// publishRPM publishes a variant of a demo catalogue package.
func publishRPM(t *testing.T, v *vendor, repo string, spec demo.Spec) {
	t.Helper()
	data, err := demo.RPM(spec)
	must(t, err)
	p := filepath.Join(t.TempDir(), spec.Name+"-"+spec.Version+"-"+spec.Release+".x86_64.rpm")
	must(t, os.WriteFile(p, data, 0o644))
	v.must("publish", repo, p)
	time.Sleep(1500 * time.Millisecond) // the server rereads a repository's publication every second
}

func demoSpec(t *testing.T, name string) demo.Spec {
	for _, s := range demo.Catalogue() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no demo package %s", name)
	return demo.Spec{}
}

// TestPreflight runs enmei preflight on scratch roots against the real
// server: all pass; EPEL enabled warns; the community's final versions
// missing before the extended phase warns; an upgrade-path rule refuses a
// jump; an unsupported OS and an unreachable server fail with exit 1.
func TestPreflight(t *testing.T) {
	v, c := demoVendor(t, "el9", 3)
	h := elHost(t, machineID(700))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}

	checks, r := h.preflight("--cluster", "none")
	if r.code != 0 {
		t.Fatalf("preflight on a healthy host: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"os", "package-db", "disk", "third-party-repos", "excludepkgs", "server", "clock", "entitlement", "lifecycle", "upgrade-path"} {
		if got := checks[name]; got.Status != "pass" {
			t.Errorf("check %s = %+v, want pass", name, got)
		}
	}
	if !strings.Contains(checks["package-db"].Message, "2 packages") {
		t.Errorf("package-db: %q, want the 2 installed packages counted", checks["package-db"].Message)
	}
	text := h.enmei("preflight", "--cluster", "none")
	if text.code != 0 || !strings.Contains(text.stdout, "PASS  entitlement") {
		t.Errorf("preflight text output: exit %d\n%s", text.code, text.stdout)
	}

	// EPEL enabled: a warning, not a failure.
	must(t, os.WriteFile(filepath.Join(h.root, "etc/yum.repos.d/epel.repo"), []byte("[epel]\nname=Extra Packages for Enterprise Linux 9 - x86_64\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel-9&arch=x86_64\nenabled=1\ngpgcheck=1\n"), 0o644))
	checks, r = h.preflight("--cluster", "none")
	if r.code != 0 || checks["third-party-repos"].Status != "warn" || !strings.Contains(checks["third-party-repos"].Message, "epel") {
		t.Errorf("EPEL enabled: exit %d, %+v; want exit 0 and a warning naming epel", r.code, checks["third-party-repos"])
	}
	must(t, os.Remove(filepath.Join(h.root, "etc/yum.repos.d/epel.repo")))

	// Before the extended period, packages older than the repositories'
	// final versions are a warning.
	v.must("product", "lifecycle", "el9", "--full-until", date(today().AddDate(0, 6, 0)), "--security-until", date(today().AddDate(1, 0, 0)), "--extended-until", date(today().AddDate(5, 0, 0)))
	hello := demoSpec(t, "enmei-demo-hello")
	hello.Release = "2"
	publishRPM(t, v, "el9-x86_64", hello)
	if out, err := h.dnf("makecache"); err != nil {
		t.Fatalf("dnf makecache: %v\n%s", err, out)
	}
	checks, r = h.preflight("--cluster", "none")
	if r.code != 0 || checks["lifecycle"].Status != "pass" || !strings.Contains(checks["lifecycle"].Message, "full") {
		t.Errorf("lifecycle: exit %d %+v, want pass in the full phase", r.code, checks["lifecycle"])
	}
	if f := checks["final-versions"]; f.Status != "warn" || !strings.Contains(f.Message, "enmei-demo-hello") {
		t.Errorf("final-versions = %+v, want a warning naming enmei-demo-hello", f)
	}

	// An upgrade-path rule: 2.0 only from 1.5, so 1.0 must step to 1.5.
	v.must("product", "upgrade-path", "el9", "--package", "enmei-demo-hello", "--to", "2.0", "--from", "1.5", "--via", "1.5")
	hello.Version, hello.Release = "2.0", "1"
	publishRPM(t, v, "el9-x86_64", hello)
	checks, r = h.preflight("--cluster", "none")
	if u := checks["upgrade-path"]; r.code != 1 || u.Status != "fail" || !strings.Contains(u.Message, "1.5") {
		t.Errorf("upgrade path 1.0 → 2.0: exit %d %+v, want exit 1 and a failure naming 1.5", r.code, u)
	}
	if r := h.enmei("update", "--cluster", "none"); r.code != 1 || !strings.Contains(r.stdout, "1.5") || !strings.Contains(r.stderr, "preflight failed (upgrade-path)") {
		t.Errorf("update across an unsupported jump: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("a refused update changed enmei-demo-hello to %s", got)
	}
	v.must("product", "upgrade-path", "el9", "--remove", "--package", "enmei-demo-hello", "--to", "2.0")

	// Without the rule the plain update runs: preflight, plan, the real
	// dnf, and a summary whose transaction dnf history undo reverses.
	r = h.enmei("update", "--cluster", "none", "--json")
	if r.code != 0 {
		t.Fatalf("update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ev := events(t, r)
	for _, step := range []string{"preflight", "plan", "upgrade", "summary"} {
		if ev[step].Status != "ok" {
			t.Errorf("step %s = %+v, want ok", step, ev[step])
		}
	}
	if _, ok := ev["standby"]; ok {
		t.Error("a host that is no cluster node went through standby")
	}
	if p := ev["summary"].Packages; len(p) != 1 || p[0].Name != "enmei-demo-hello" || p[0].From != "1.0-1" || p[0].To != "2.0-1" {
		t.Errorf("summary packages %+v, want enmei-demo-hello 1.0-1 → 2.0-1", p)
	}
	trans := ev["upgrade"].Transaction
	if trans == 0 || !strings.HasSuffix(ev["summary"].Undo, fmt.Sprintf("history undo %d", trans)) {
		t.Errorf("upgrade %+v / summary %+v: want the transaction and its undo", ev["upgrade"], ev["summary"])
	}
	if out, err := h.dnf("history", "undo", fmt.Sprint(trans)); err != nil {
		t.Fatalf("dnf history undo %d: %v\n%s", trans, err, out)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("after dnf history undo enmei-demo-hello = %s, want 1.0-1 again", got)
	}

	// An unsupported OS fails.
	osr := filepath.Join(h.root, "etc/os-release")
	must(t, os.WriteFile(osr, []byte("NAME=\"openSUSE Leap\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n"), 0o644))
	checks, r = h.preflight("--cluster", "none")
	if r.code != 1 || checks["os"].Status != "fail" {
		t.Errorf("openSUSE: exit %d %+v, want exit 1 and os failing", r.code, checks["os"])
	}
	must(t, os.WriteFile(osr, []byte(almaRelease), 0o644))

	// The server down: fail, exit 1, naming the layer.
	st := filepath.Join(h.root, "etc/enmei/host.json")
	data, err := os.ReadFile(st)
	must(t, err)
	down := "http://" + freePort(t)
	must(t, os.WriteFile(st, []byte(strings.ReplaceAll(string(data), v.url, down)), 0o600))
	checks, r = h.preflight("--cluster", "none")
	if s := checks["server"]; r.code != 1 || s.Status != "fail" || !strings.Contains(s.Message, "TCP") {
		t.Errorf("server down: exit %d %+v, want exit 1 and server failing at TCP", r.code, s)
	}
}

// updateEvent is one line of enmei update --json.
type updateEvent struct {
	Step        string `json:"step"`
	Status      string `json:"status"`
	Message     string `json:"message"`
	DurationMS  int64  `json:"duration_ms"`
	Transaction int64  `json:"transaction"`
	Undo        string `json:"undo"`
	Packages    []struct {
		Name, From, To string
	} `json:"packages"`
}

func events(t *testing.T, r result) map[string]updateEvent {
	t.Helper()
	out := map[string]updateEvent{}
	for line := range strings.Lines(r.stdout) {
		var e updateEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("update --json printed a line that is not an event: %v\n%s", err, line)
		}
		out[e.Step] = e
	}
	return out
}

// TestClusterUpdate updates a node of a Pacemaker cluster played by the
// real Pacemaker tools on a CIB file (crm_simulate run in a loop): the node
// goes to standby, its resources move, the real dnf upgrades the package in
// the node's scratch root, the node returns and nothing failed. A second
// node is refused while the first holds the lock, an unhealthy cluster is
// refused before anything changes, and a failing upgrade leaves the node in
// standby with the lock noted.
func TestClusterUpdate(t *testing.T) {
	v, c := demoVendor(t, "el9", 3)
	sim := clustertest.Start(t, "two-node")
	h := elHost(t, machineID(710))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	must(t, os.WriteFile(filepath.Join(h.root, "etc/hosts"), []byte("127.0.0.1 localhost\n10.0.0.1 node1\n10.0.0.2 node2\n"), 0o644))
	h.env = append(h.env, sim.Env()...)
	hello := demoSpec(t, "enmei-demo-hello")
	hello.Release = "2"
	publishRPM(t, v, "el9-x86_64", hello)
	pcmk := sim.Cluster("node1")

	// Preflight sees the cluster.
	checks, r := h.preflight("--node", "node1")
	if r.code != 0 {
		t.Fatalf("preflight on a healthy cluster node: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"cluster", "cluster-nodes", "cluster-standby", "cluster-resources", "cluster-quorum", "cluster-lock", "cluster-names", "localhost", "selinux"} {
		if checks[name].Status != "pass" {
			t.Errorf("check %s = %+v, want pass", name, checks[name])
		}
	}

	// --dry-run names the packages and the standby, and changes nothing.
	r = h.enmei("update", "--node", "node1", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "enmei-demo-hello") || !strings.Contains(r.stdout, "standby") || !strings.Contains(r.stdout, "web-ip") {
		t.Errorf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n, _ := sim.Status().Node("node1"); n.Standby {
		t.Error("the dry run put node1 in standby")
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("the dry run changed enmei-demo-hello to %s", got)
	}

	// Only the packages after --: the library has no newer version.
	r = h.enmei("update", "--node", "node1", "--dry-run", "--json", "--", "enmei-demo-lib")
	if ev := events(t, r); r.code != 0 || ev["plan"].Message != "0 packages to update of enmei-demo-lib" || ev["summary"].Message != "dry run: nothing to update; node node1 would stay in service" {
		t.Errorf("dry run of enmei-demo-lib: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Another node holds the lock: refused, naming it, nothing changed.
	must(t, sim.Cluster("node2").Lock(t.Context(), cluster.Lock{Owner: "node2", Node: "node2", Expires: time.Now().Add(time.Hour)}))
	r = h.enmei("update", "--node", "node1")
	if r.code != 1 || !strings.Contains(r.stderr, "node node2 holds the cluster update lock") {
		t.Errorf("update while node2 holds the lock: exit %d\n%s", r.code, r.stderr)
	}
	if n, _ := sim.Status().Node("node1"); n.Standby {
		t.Error("a refused update put node1 in standby")
	}
	must(t, sim.Cluster("node2").Unlock(t.Context(), "node2"))

	// An unhealthy cluster (a failed resource) is refused before anything
	// changes; so is a node offline.
	bad := clustertest.Start(t, "failed-resource")
	r = run(t, onCluster(h.env, bad), bin.enmei, "--root", h.root, "update", "--node", "node1")
	if r.code != 1 || !strings.Contains(r.stdout, "db (on node2)") || !strings.Contains(r.stderr, "cluster-resources") {
		t.Errorf("update with a failed resource: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if l, _ := bad.Cluster("node1").Locked(t.Context()); l != nil {
		t.Errorf("a refused update left the lock %+v", l)
	}
	offline := clustertest.Start(t, "node-offline")
	r = run(t, onCluster(h.env, offline), bin.enmei, "--root", h.root, "update", "--node", "node1")
	if r.code != 1 || !strings.Contains(r.stdout, "nodes offline (bring them back before updating): node2") {
		t.Errorf("update with node2 offline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("a refused update changed enmei-demo-hello to %s", got)
	}

	// The rolling update.
	r = h.enmei("update", "--node", "node1", "--json", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ev := events(t, r)
	for _, step := range []string{"preflight", "plan", "lock", "health", "backup", "standby", "wait-away", "upgrade", "unstandby", "wait-healthy", "unlock", "summary"} {
		if ev[step].Status != "ok" {
			t.Errorf("step %s = %+v, want ok", step, ev[step])
		}
	}
	if !strings.Contains(ev["standby"].Message, "web-ip") || !strings.Contains(ev["wait-away"].Message, "no resource runs on node1") {
		t.Errorf("standby %q / wait-away %q: want web-ip moving away and none left", ev["standby"].Message, ev["wait-away"].Message)
	}
	if ev["upgrade"].Transaction == 0 || !strings.Contains(ev["summary"].Undo, fmt.Sprintf("history undo %d", ev["upgrade"].Transaction)) {
		t.Errorf("upgrade %+v / summary %+v: want the dnf transaction and its undo", ev["upgrade"], ev["summary"])
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-2") {
		t.Errorf("after the update enmei-demo-hello = %s, want 1.0-2", got)
	}
	st := sim.Status()
	if n, _ := st.Node("node1"); n.Standby || !n.Online {
		t.Errorf("after the update node1 = %+v, want online and out of standby", n)
	}
	if p := st.Problems(); len(p) > 0 {
		t.Errorf("after the update the cluster has problems: %v", p)
	}
	if l, _ := pcmk.Locked(t.Context()); l != nil {
		t.Errorf("after the update the lock is still held: %+v", l)
	}
	backups, _ := filepath.Glob(filepath.Join(h.root, "var/lib/enmei/backup/*/cib.xml"))
	if len(backups) != 1 {
		t.Errorf("backups of the CIB: %v, want one", backups)
	}

	// A failing upgrade (the new package's file conflicts with another
	// package's): the node stays in standby, the lock holds a note.
	hello.Release = "3"
	hello.Files = map[string]string{"/usr/lib/enmei-demo/lib.txt": "conflicts with enmei-demo-lib\n"}
	publishRPM(t, v, "el9-x86_64", hello)
	r = h.enmei("update", "--node", "node1", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stderr, "stopped at upgrade") || !strings.Contains(r.stderr, "enmei update --unlock") {
		t.Fatalf("failing upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n, _ := sim.Status().Node("node1"); !n.Standby {
		t.Error("after a failed upgrade node1 is not in standby")
	}
	l, err := pcmk.Locked(t.Context())
	if err != nil || l == nil || l.Owner != "node1" || !strings.Contains(l.Note, "stopped at upgrade") {
		t.Errorf("after a failed upgrade the lock = %+v, %v; want node1's with a note", l, err)
	}
	// Node2 is refused, naming node1 and its note.
	r = run(t, h.env, bin.enmei, "--root", h.root, "update", "--node", "node2")
	if r.code != 1 || !strings.Contains(r.stdout, "the update of node node1 stopped and holds the lock") || !strings.Contains(r.stderr, "cluster-lock") {
		t.Errorf("node2 while node1's update is stopped: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Giving up: --unlock takes node1 out of standby and releases the lock.
	h.mustEnmei("update", "--node", "node1", "--unlock")
	sim.WaitFor("node1 back", 30*time.Second, func(s cluster.Status) bool {
		n, _ := s.Node("node1")
		return !n.Standby && len(s.RunningOn("node1")) > 0
	})
	if l, _ := pcmk.Locked(t.Context()); l != nil {
		t.Errorf("after --unlock the lock is %+v", l)
	}
}

// onCluster is env with the CIB file of sim instead of another's.
func onCluster(env []string, sim *clustertest.Sim) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "CIB_file=") {
			out = append(out, e)
		}
	}
	return append(out, sim.Env()...)
}

// TestHostSupportBundle collects a registered cluster node's bundle with
// secrets planted in its repository configuration and logs, finds none of
// them anywhere in the archive, and sends it to a ticket of the host's
// contract, where the vendor sees it.
func TestHostSupportBundle(t *testing.T) {
	const proxyPass, authPass, logPass = "PlantedProxyPass1x", "PlantedAuthPass2x", "PlantedLogPass3x"
	v, c := demoVendor(t, "el9", 2)
	sim := clustertest.Start(t, "two-node")
	h := elHost(t, machineID(720))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	h.env = append(h.env, sim.EnvAs("node1")...)
	secret := h.identity().Secret
	plant := map[string]string{
		"etc/yum.repos.d/corp.repo": "[corp]\nname=Corporate mirror\nbaseurl=https://mirror:" + proxyPass + "@mirror.corp.example/el9/\nproxy=http://proxy.corp.example:3128\nproxy_username=ops\nproxy_password=" + proxyPass + "\n",
		"etc/apt/auth.conf":         "machine mirror.corp.example login ops password " + authPass + "\n",
		"var/log/dnf.librepo.log":   "2026-11-24T10:00:00Z INFO Downloading https://ops:" + logPass + "@mirror.corp.example/el9/repodata/repomd.xml\n",
	}
	for p, content := range plant {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(h.root, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(h.root, p), []byte(content), 0o600))
	}
	out := t.TempDir()
	r := h.enmei("support-bundle", "--out", out)
	if r.code != 0 {
		t.Fatalf("support-bundle: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	path := strings.TrimSpace(r.stdout)
	if ok, _ := regexp.MatchString(`^`+regexp.QuoteMeta(out)+`/host-`+machineID(720)[:6]+`\.enmei\.\d{14}\.tar\.gz$`, path); !ok {
		t.Errorf("bundle path %q, want %s/<hostname>.enmei.<YYYYmmddHHMMSS>.tar.gz", path, out)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle %s: %v, want mode 0600", path, err)
	}
	entries := readTarGz(t, path)
	var all strings.Builder
	for name, data := range entries {
		all.WriteString(name + "\n")
		all.Write(data)
	}
	for _, s := range []string{secret, proxyPass, authPass, logPass, c.LicenseKey} {
		if strings.Contains(all.String(), s) {
			t.Errorf("the bundle contains the secret %q", s)
		}
	}
	want := map[string]string{
		"/packages.txt":               "enmei-demo-hello",
		"/enmei/host.json":            c.SupportID,
		"/etc/yum.repos.d/enmei.repo": "baseurl=" + v.url,
		"/etc/yum.repos.d/corp.repo":  "proxy_password",
		"/etc/os-release":             "AlmaLinux",
		"/cluster/status.xml":         "node1",
		"/logs/dnf.librepo.log":       "mirror.corp.example/el9/repodata/repomd.xml",
		"/etc/apt/auth.conf":          "machine mirror.corp.example login ops",
	}
	for suffix, text := range want {
		found := false
		for name, data := range entries {
			if strings.HasSuffix(name, suffix) && strings.Contains(string(data), text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no entry *%s containing %q", suffix, text)
		}
	}

	// Sent to a ticket of the host's contract.
	cmd := exec.Command(bin.enmeid, "mail", "ingest")
	cmd.Env = append(cleanEnv(), v.env()...)
	cmd.Stdin = strings.NewReader(string(japaneseMail("ops@example.co.jp", "クラスタ更新の失敗", "ノード1の更新が止まりました。", "hb1@example.co.jp")))
	o, err := cmd.CombinedOutput()
	id := regexp.MustCompile(`ENM-T-\d{6}`).FindString(string(o))
	if err != nil || id == "" {
		t.Fatalf("mail ingest: %v\n%s", err, o)
	}
	r = h.enmei("support-bundle", "--out", out, "--ticket", id)
	if r.code != 0 || !strings.Contains(r.stdout, "sent to ticket "+id) {
		t.Fatalf("support-bundle --ticket: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sent := filepath.Base(strings.SplitN(r.stdout, "\n", 2)[0])
	if show := v.must("ticket", "show", id); !strings.Contains(show, sent) {
		t.Errorf("ticket show %s does not list %s:\n%s", id, sent, show)
	}
	// A ticket of nobody's: refused, the bundle kept.
	r = h.enmei("support-bundle", "--out", out, "--ticket", "ENM-T-999999")
	if r.code == 0 || !strings.Contains(r.stderr, "no ticket ENM-T-999999") || !strings.Contains(r.stderr, "the bundle is at") {
		t.Errorf("support-bundle to an unknown ticket: exit %d\n%s", r.code, r.stderr)
	}
}

// readTarGz reads every regular file of a .tar.gz.
func readTarGz(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		data, err := io.ReadAll(tr)
		must(t, err)
		out[hd.Name] = data
	}
}

// TestSwitch turns off the distribution's repositories on a registered
// AlmaLinux root in the extended phase, so the real dnf sees only the
// vendor's, and --revert puts the files back byte for byte.
func TestSwitch(t *testing.T) {
	v, c := demoVendor(t, "el9", 2)
	v.must("product", "lifecycle", "el9", "--full-until", date(today().AddDate(-3, 0, 0)), "--security-until", date(today().AddDate(-1, 0, 0)), "--extended-until", date(today().AddDate(3, 0, 0)))
	h := elHost(t, machineID(730))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	distro := map[string]string{
		"etc/yum.repos.d/almalinux-baseos.repo":    "[baseos]\nname=AlmaLinux $releasever - BaseOS\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\nenabled=1\ngpgcheck=1\ncountme=1\nsslverify=1\nmetadata_expire=86400\nenabled_metadata=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n",
		"etc/yum.repos.d/almalinux-appstream.repo": "[appstream]\nname=AlmaLinux $releasever - AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\nenabled=1\ngpgcheck=1\ncountme=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n\n[appstream-debuginfo]\nname=AlmaLinux $releasever - AppStream debuginfo\nbaseurl=https://vault.almalinux.org/$releasever/AppStream/debug/$basearch/\nenabled=0\n",
	}
	for p, content := range distro {
		must(t, os.WriteFile(filepath.Join(h.root, p), []byte(content), 0o644))
	}
	checks, r := h.preflight("--cluster", "none")
	if d := checks["distribution-repos"]; r.code != 0 || d.Status != "warn" || !strings.Contains(d.Message, "appstream, baseos") || !strings.Contains(d.Message, "enmei switch") {
		t.Errorf("extended phase with the distribution's repositories: exit %d %+v", r.code, d)
	}

	out := h.mustEnmei("switch")
	if !strings.Contains(out, "/etc/yum.repos.d/almalinux-baseos.repo: baseos") || !strings.Contains(out, "/var/lib/enmei/switch/") {
		t.Errorf("switch output:\n%s", out)
	}
	list, err := h.dnf("-q", "repolist", "--enabled")
	if err != nil || !strings.Contains(list, "enmei-el9-x86_64") || strings.Contains(list, "baseos") || strings.Contains(list, "appstream") {
		t.Errorf("dnf repolist --enabled after switch: %v\n%s", err, list)
	}
	backups, _ := filepath.Glob(filepath.Join(h.root, "var/lib/enmei/switch/*/etc_yum.repos.d_almalinux-baseos.repo"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != distro["etc/yum.repos.d/almalinux-baseos.repo"] {
		t.Errorf("the backup differs from the original:\n%s", b)
	}
	if checks, _ := h.preflight("--cluster", "none"); checks["distribution-repos"].Status != "pass" {
		t.Errorf("after switch: %+v", checks["distribution-repos"])
	}
	if r := h.enmei("switch"); r.code != 1 || !strings.Contains(r.stderr, "already switched") {
		t.Errorf("switch twice: exit %d\n%s", r.code, r.stderr)
	}

	h.mustEnmei("switch", "--revert")
	for p, content := range distro {
		if b, _ := os.ReadFile(filepath.Join(h.root, p)); string(b) != content {
			t.Errorf("%s after --revert:\n%s", p, b)
		}
	}
	if r := h.enmei("switch", "--revert"); r.code != 1 || !strings.Contains(r.stderr, "was not switched") {
		t.Errorf("revert twice: exit %d\n%s", r.code, r.stderr)
	}

	// A file changed after switch is not overwritten by --revert.
	h.mustEnmei("switch")
	p := filepath.Join(h.root, "etc/yum.repos.d/almalinux-appstream.repo")
	changed, _ := os.ReadFile(p)
	changed = append(changed, []byte("# the admin's own note\n")...)
	must(t, os.WriteFile(p, changed, 0o644))
	if r := h.enmei("switch", "--revert"); r.code != 1 || !strings.Contains(r.stderr, "almalinux-appstream.repo was changed after enmei switch") {
		t.Errorf("revert over a changed file: exit %d\n%s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(p); string(b) != string(changed) {
		t.Error("the refused revert changed the file")
	}
}
