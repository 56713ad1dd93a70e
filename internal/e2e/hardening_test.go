package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// helloSpec is the demo catalogue's enmei-demo-hello at another version.
func helloSpec(t *testing.T, version string) demo.Spec {
	t.Helper()
	for _, s := range demo.Catalogue() {
		if s.Name == "enmei-demo-hello" {
			s.Version = version
			return s
		}
	}
	t.Fatal("no enmei-demo-hello in the demo catalogue")
	return demo.Spec{}
}

func writePackage(t *testing.T, format string, spec demo.Spec) string {
	t.Helper()
	build, name := demo.RPM, demo.FileName(spec, "rpm")
	if format == "deb" {
		build, name = demo.Deb, demo.FileName(spec, "deb")
	}
	data, err := build(spec)
	must(t, err)
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, data, 0o644))
	return p
}

var candidateRE = regexp.MustCompile(`(?m)^\s*Candidate:\s*(\S+)`)

func candidate(t *testing.T, apt *aptroot.Root, pkg string) string {
	t.Helper()
	ctx := context.Background()
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	out, err := apt.AptCache(ctx, "policy", pkg)
	if err != nil {
		t.Fatalf("apt-cache policy: %v\n%s", err, out)
	}
	m := candidateRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("apt-cache policy %s shows no candidate:\n%s", pkg, out)
	}
	return m[1]
}

// TestAPTSeesRollback: after a rollback, the real apt-get update on a host
// that already read the newer index shows the rolled-back version. apt
// ignores an InRelease older than the one it has, so a rollback must be a
// new, newer index of the old packages.
func TestAPTSeesRollback(t *testing.T) {
	v, c := demoVendor(t, "deb12", 3)
	h := newHost(t, debianRelease, machineID(950))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	apt := aptroot.New(t, h.root)
	if got := candidate(t, apt, "enmei-demo-hello"); got != "1.0-1" {
		t.Fatalf("first candidate %s, want 1.0-1", got)
	}
	old := v.publications("deb12-main")[0]
	time.Sleep(1100 * time.Millisecond) // InRelease dates have second precision
	v.must("publish", "deb12-main", writePackage(t, "deb", helloSpec(t, "1.1")))
	if got := candidate(t, apt, "enmei-demo-hello"); got != "1.1-1" {
		t.Fatalf("candidate after publishing 1.1: %s, want 1.1-1", got)
	}
	time.Sleep(1100 * time.Millisecond)
	v.must("publication", "rollback", "deb12-main", strconv.FormatInt(old.ID, 10))
	if got := candidate(t, apt, "enmei-demo-hello"); got != "1.0-1" {
		t.Errorf("candidate after rolling back to publication %d: %s, want 1.0-1", old.ID, got)
	}
}

// TestReadAfterPublish: right after enmeid publish returns, the served
// repomd.xml names a primary.xml that lists the new package, every time.
func TestReadAfterPublish(t *testing.T) {
	v, c := demoVendor(t, "el9", 3)
	h := newHost(t, almaRelease, machineID(951))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := h.identity()
	base := v.url + "/repos/el9-x86_64/"
	for i := 0; i < 8; i++ {
		// Read first, so a cache would hold the old snapshot.
		get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
		name := fmt.Sprintf("fresh-%d", i)
		v.must("publish", "el9-x86_64", writePackage(t, "rpm", demo.Spec{Name: name, Version: "1", Release: "1", Arch: "x86_64",
			Summary: name, Files: map[string]string{"/usr/share/" + name: name}}))
		resp, repomd := get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("repomd.xml: %d", resp.StatusCode)
		}
		found := false
		for _, href := range hrefs(string(repomd)) {
			if strings.Contains(href, "primary.xml") {
				_, gz := get(t, "GET", base+href, id.HostID, id.Secret, nil)
				found = strings.Contains(gunzip(t, gz), "<name>"+name+"</name>")
			}
		}
		if !found {
			t.Fatalf("publish %d: repomd.xml served right after the publish returned does not list %s", i, name)
		}
	}
}

// TestRepublishKeepsBytes: publishing the same directory again keeps every
// package's bytes and stores no copy of them.
func TestRepublishKeepsBytes(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	files1, size1 := dirStats(t, filepath.Join(v.data, "blobs"))
	time.Sleep(1100 * time.Millisecond)
	var out struct {
		Added  int `json:"added"`
		Reused int `json:"reused"`
	}
	v.mustJSON(&out, "publish", "el9-x86_64", dir)
	files2, size2 := dirStats(t, filepath.Join(v.data, "blobs"))
	if out.Reused != out.Added || out.Added == 0 {
		t.Errorf("republish reused %d of %d packages", out.Reused, out.Added)
	}
	// New metadata and a manifest only: a few small files.
	if files2-files1 > 8 || size2-size1 > 64<<10 {
		t.Errorf("republishing unchanged packages stored %d files, %d bytes", files2-files1, size2-size1)
	}
	// A rebuild with the same version but other content is refused with both
	// digests, and accepted with --replace.
	spec := helloSpec(t, "1.0")
	spec.Files = map[string]string{"/usr/bin/enmei-hello": "#!/bin/sh\necho rebuilt\n"}
	rebuilt := writePackage(t, "rpm", spec)
	r := v.admin("publish", "el9-x86_64", rebuilt)
	if r.code != 1 || !strings.Contains(r.stderr, "different content") || !strings.Contains(r.stderr, "--replace") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("publish of a same-version rebuild: exit %d\n%s", r.code, r.stderr)
	}
	v.must("publish", "--replace", "el9-x86_64", rebuilt)
}

func dirStats(t *testing.T, dir string) (n int, size int64) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/tmp/") {
			fi, _ := d.Info()
			n++
			size += fi.Size()
		}
		return nil
	})
	return n, size
}

// TestKeyCustody: the private key is only in the key file (mode 0600), never
// in the database or its WAL; serve runs without it.
func TestKeyCustody(t *testing.T) {
	v := newVendor(t, "")
	v.must("signing-key", "generate", "--name", "Example ELS", "--email", "els@example.jp", "--bits", "3072")
	v.catalog()
	keyFile := filepath.Join(v.data, "signing-key.asc")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	for _, f := range []string{"enmei.db", "enmei.db-wal"} {
		data, _ := os.ReadFile(filepath.Join(v.data, f))
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", f)
		}
	}
	exported := v.must("signing-key", "export")
	if !strings.Contains(exported, "PUBLIC KEY") {
		t.Fatalf("signing-key export printed %q", exported)
	}
	if r := v.admin("signing-key", "generate", "--name", "X", "--email", "x@example.jp"); r.code == 0 {
		t.Error("signing-key generate replaced an existing key")
	}
	// Serve and register without the private key file.
	hidden := keyFile + ".away"
	must(t, os.Rename(keyFile, hidden))
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()
	h := newHost(t, almaRelease, machineID(952))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	got, err := os.ReadFile(filepath.Join(h.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"))
	if err != nil || strings.TrimSpace(string(got)) != strings.TrimSpace(exported) {
		t.Errorf("the host got another key than signing-key export prints (%v)", err)
	}
	// A command that signs refuses clearly without the key file, and makes
	// no new key.
	r := v.admin("publish", "el9-x86_64", writePackage(t, "rpm", helloSpec(t, "2.0")))
	if r.code != 1 || !strings.Contains(r.stderr, "signing key file") {
		t.Errorf("publish without the key file: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Error("publish without the key file made a new key")
	}
}

// TestOperability: health, readiness, metrics, version, 4xx for unknown
// repositories, and a graceful stop on SIGTERM that reports not ready while
// draining and exits 0.
func TestOperability(t *testing.T) {
	v, c := demoVendor(t, "el9", 3, "--drain-time", "3s")
	h := newHost(t, almaRelease, machineID(953))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := h.identity()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		if resp, _ := get(t, "GET", v.url+path, "", "", nil); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	for _, p := range []string{"/repos/nope/repodata/repomd.xml", "/repos/el9-x86_64/nope", "/repos/" + strings.Repeat("x", 200) + "/a"} {
		if resp, _ := get(t, "GET", v.url+p, id.HostID, id.Secret, nil); resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("GET %s: %d, want 4xx", p, resp.StatusCode)
		}
	}
	_, metrics := get(t, "GET", v.url+"/metrics", "", "", nil)
	for _, want := range []string{`enmei_http_requests_total{method="GET",route="GET /repos/{repo}/{path...}",status="404"}`, `enmei_registrations_total{result="new"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, b := range []string{bin.enmeid, bin.enmei} {
		r := run(t, nil, b, "version", "--json")
		var out struct {
			Version   string `json:"version"`
			GoVersion string `json:"go_version"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Version == "" || out.GoVersion == "" {
			t.Errorf("%s version --json: exit %d, %q", filepath.Base(b), r.code, r.stdout)
		}
	}
	// SIGTERM: readiness fails at once, the server keeps answering during
	// the drain, and exits 0.
	must(t, v.cmd.Process.Signal(syscall.SIGTERM))
	deadline := time.Now().Add(2 * time.Second)
	ready := 200
	for time.Now().Before(deadline) && ready == 200 {
		resp, err := http.Get(v.url + "/readyz")
		if err != nil {
			t.Fatalf("the server stopped answering during the drain: %v", err)
		}
		resp.Body.Close()
		ready = resp.StatusCode
	}
	if ready != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain: %d, want 503", ready)
	}
	done := make(chan error, 1)
	go func() { done <- v.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("enmeid serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("enmeid serve did not stop within 20 s of SIGTERM")
	}
}

func gunzip(t *testing.T, gz []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(zr); err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return buf.String()
}

// TestOSBoundProduct: a product bound to an OS refuses a host of another OS
// before taking a seat (exit 3, nothing written) and accepts its own.
func TestOSBoundProduct(t *testing.T) {
	v := newVendor(t, "")
	v.must("product", "add", "alma9", "--name", "AlmaLinux 9 ELS", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
	v.must("repo", "add", "alma9-x86_64", "--product", "alma9", "--arch", "x86_64")
	if r := v.admin("product", "add", "bad", "--name", "B", "--format", "rpm", "--os-version", "9"); r.code != 2 {
		t.Errorf("--os-version without --os: exit %d, want 2", r.code)
	}
	c := v.contract("alma9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()
	deb := newHost(t, debianRelease, machineID(960))
	r := deb.enmei("register", "--server", v.url, "--key", c.LicenseKey)
	if r.code != 3 || !strings.Contains(r.stderr, "no seat was taken") {
		t.Errorf("a Debian host with an AlmaLinux 9 key: exit %d\n%s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(deb.root, "etc", "enmei")); len(entries) != 0 {
		t.Errorf("a refused registration wrote %v", entries)
	}
	var show struct {
		SeatsUsed int `json:"seats_used"`
	}
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if show.SeatsUsed != 0 {
		t.Errorf("a refused registration took %d seats", show.SeatsUsed)
	}
	alma := newHost(t, almaRelease, machineID(961))
	alma.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--hostname", "web01.example.jp")
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if show.SeatsUsed != 1 {
		t.Errorf("after the AlmaLinux host registered: %d seats, want 1", show.SeatsUsed)
	}
}
