package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// upstreamRepo is a distribution's dnf repository built by the test with
// the tools a distribution uses: rpmsign (through gpg) signs the packages,
// createrepo_c writes the metadata, gpg signs repomd.xml; nginx serves it.
type upstreamRepo struct {
	t      *testing.T
	dir    string // nginx's root: the repository
	gnupg  string
	keys   map[string]string // name → fingerprint
	pubKey map[string]string // name → armored public key file
	url    string
	log    string // nginx's access log
	// docs are documents modifyrepo_c adds beside primary, by type
	// ("group", "modules", "updateinfo") → content.
	docs map[string]string
}

func newUpstream(t *testing.T, limitRate string) *upstreamRepo {
	t.Helper()
	// A short path: gpg-agent's socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "enmei-up-")
	must(t, err)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	u := &upstreamRepo{t: t, gnupg: home, keys: map[string]string{}, pubKey: map[string]string{}}
	// Keys made in Go (gpg takes seconds to find primes here), handed to gpg.
	for _, name := range []string{"distro", "stranger"} {
		k, err := sign.GenerateBits("Upstream "+name, "", name+"@distro.example", 2048, time.Now().Add(-time.Hour))
		must(t, err)
		priv, err := k.ArmoredPrivate()
		must(t, err)
		f := filepath.Join(home, name+".key")
		must(t, os.WriteFile(f, priv, 0o600))
		if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--import", f).CombinedOutput(); err != nil {
			t.Fatalf("gpg --import: %v\n%s", err, out)
		}
		pub, err := k.ArmoredPublic()
		must(t, err)
		u.keys[name] = k.Fingerprint()
		u.pubKey[name] = filepath.Join(t.TempDir(), name+".asc")
		must(t, os.WriteFile(u.pubKey[name], pub, 0o644))
	}
	root := t.TempDir()
	u.dir = filepath.Join(root, "www")
	must(t, os.MkdirAll(filepath.Join(u.dir, "Packages"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "tmp"), 0o755))
	addr := freePort(t)
	u.log = filepath.Join(root, "access.log")
	rate := ""
	if limitRate != "" {
		rate = "limit_rate " + limitRate + ";"
	}
	conf := fmt.Sprintf(`daemon off; user root; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 64; }
http { access_log %[1]s/access.log; sendfile on; %[3]s
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server { listen %[2]s; root %[1]s/www; } }
`, root, addr, rate)
	must(t, os.WriteFile(filepath.Join(root, "nginx.conf"), []byte(conf), 0o644))
	ng := exec.Command("nginx", "-c", filepath.Join(root, "nginx.conf"))
	must(t, ng.Start())
	t.Cleanup(func() { ng.Process.Signal(syscall.SIGTERM); ng.Wait() })
	waitPort(t, addr)
	u.url = "http://" + addr + "/"
	return u
}

// add builds a package, signs it with the named key, and rewrites and
// signs the repository's metadata.
func (u *upstreamRepo) add(spec demo.Spec, key string) {
	u.t.Helper()
	data, err := demo.RPM(spec)
	must(u.t, err)
	p := filepath.Join(u.dir, "Packages", fmt.Sprintf("%s-%s-%s.%s.rpm", spec.Name, spec.Version, spec.Release, spec.Arch))
	must(u.t, os.WriteFile(p, data, 0o644))
	u.sign(p, key)
}

// addFile adds a package built elsewhere (by rpmbuild), signed with the
// named key, and rewrites the metadata.
func (u *upstreamRepo) addFile(rpmFile, key string) {
	u.t.Helper()
	data, err := os.ReadFile(rpmFile)
	must(u.t, err)
	p := filepath.Join(u.dir, "Packages", filepath.Base(rpmFile))
	must(u.t, os.WriteFile(p, data, 0o644))
	u.sign(p, key)
}

// sign signs p with rpmsign and the named key, then rewrites the metadata.
func (u *upstreamRepo) sign(p, key string) {
	u.t.Helper()
	gpg, err := exec.LookPath("gpg")
	must(u.t, err)
	if out, err := exec.Command("rpmsign", "--define", "__gpg "+gpg, "--define", "_gpg_path "+u.gnupg,
		"--define", "_gpg_name "+u.keys[key], "--addsign", p).CombinedOutput(); err != nil {
		u.t.Fatalf("rpmsign: %v\n%s", err, out)
	}
	u.index()
}

// index runs createrepo_c and signs repomd.xml with the distribution's key.
func (u *upstreamRepo) index() {
	u.t.Helper()
	if out, err := exec.Command("createrepo_c", "--quiet", "--update", u.dir).CombinedOutput(); err != nil {
		u.t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	names := map[string]string{"group": "comps.xml", "modules": "modules.yaml", "updateinfo": "updateinfo.xml"}
	for _, typ := range slices.Sorted(maps.Keys(u.docs)) {
		f := filepath.Join(u.t.TempDir(), names[typ])
		must(u.t, os.WriteFile(f, []byte(u.docs[typ]), 0o644))
		if out, err := exec.Command("modifyrepo_c", "--mdtype="+typ, f, filepath.Join(u.dir, "repodata")).CombinedOutput(); err != nil {
			u.t.Fatalf("modifyrepo_c %s: %v\n%s", typ, err, out)
		}
	}
	if out, err := exec.Command("gpg", "--homedir", u.gnupg, "--batch", "--yes", "--local-user", u.keys["distro"],
		"--detach-sign", "--armor", filepath.Join(u.dir, "repodata/repomd.xml")).CombinedOutput(); err != nil {
		u.t.Fatalf("gpg --detach-sign: %v\n%s", err, out)
	}
}

// syncReport is enmeid repo sync --json.
type syncReport struct {
	Publication int64    `json:"publication"`
	New         []string `json:"new"`
	Downloaded  int      `json:"downloaded"`
	Resumed     int      `json:"resumed"`
	Refused     []string `json:"refused"`
	Frozen      string   `json:"frozen"`
	Metadata    []string `json:"metadata"`
}

func upstreamSpec(name, release string) demo.Spec {
	return demo.Spec{Name: name, Version: "1.0", Release: release, Arch: "x86_64", Summary: name + " from the distribution",
		Files: map[string]string{"/usr/share/" + name + "/README": name + " " + release + "\n"}}
}

// TestMirrorSync mirrors a distribution's dnf repository (signed packages
// and metadata, served by nginx): the sync keeps the distribution's
// signatures, a registered root installs from the mirror with the real dnf
// (gpgcheck=1, repo_gpgcheck=1, both keys installed by register), a later
// sync downloads only what is new, a package signed by another key is
// refused with the mirror left as it was, a frozen mirror refuses syncs,
// and a mirror refuses plain publish.
// The documents beside primary that a mirror of an EL8/9 repository
// must keep: comps groups, a module stream and the distribution's own
// advisories.
const (
	upstreamComps = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>distro-core</id>
    <name>Distro Core Tools</name>
    <description>The distribution's core tools.</description>
    <default>true</default>
    <uservisible>true</uservisible>
    <packagelist><packagereq type="mandatory">distro-base</packagereq></packagelist>
  </group>
</comps>
`
	upstreamModules = `---
document: modulemd
version: 2
data:
  name: distro-stack
  stream: "7"
  version: 9000020240101
  context: 9edba152
  arch: x86_64
  summary: The distribution's stack
  description: A module stream the mirror must keep.
  license:
    module: [MIT]
  profiles:
    common:
      rpms: [distro-tool]
  artifacts:
    rpms:
    - distro-tool-0:1.0-1.x86_64
...
`
	upstreamAdvisory = `  <update from="security@distro.example" status="final" type="security" version="2">
    <id>%s</id>
    <title>distro-base security update</title>
    <issued date="2024-01-02 00:00:00"/>
    <severity>Important</severity>
    <description>Fixes a flaw.</description>
    <pkglist><collection short="distro"><name>distro</name>
      <package name="distro-base" version="1.0" release="1" epoch="0" arch="x86_64" src="distro-base-1.0-1.src.rpm"><filename>distro-base-1.0-1.x86_64.rpm</filename></package>
    </collection></pkglist>
  </update>
`
)

func upstreamUpdateinfo(ids ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n")
	for _, id := range ids {
		fmt.Fprintf(&b, upstreamAdvisory, id)
	}
	b.WriteString("</updates>\n")
	return b.String()
}

func TestMirrorSync(t *testing.T) {
	up := newUpstream(t, "")
	up.docs = map[string]string{"group": upstreamComps, "modules": upstreamModules, "updateinfo": upstreamUpdateinfo("DSA-2024:0001")}
	up.add(upstreamSpec("distro-base", "1"), "distro")
	up.add(upstreamSpec("distro-tool", "1"), "distro")
	built, _ := srcRPMs(t, "distro-built", "2.0", "1.el9") // the real rpmbuild
	up.addFile(built, "distro")

	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos", "--product", "el9", "--arch", "x86_64")
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	// Without the key the upstream's repomd signature cannot be checked.
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"], "--dry-run")
	if len(rep.New) != 3 || rep.Publication != 0 {
		t.Errorf("dry run: %+v, want 3 new and no publication", rep)
	}
	v.mustJSON(&rep, "repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	if rep.Publication == 0 || rep.Downloaded != 3 || len(rep.Refused) != 0 {
		t.Fatalf("first sync: %+v", rep)
	}
	if key := v.must("repo", "key", "el9-baseos"); !strings.Contains(key, "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("repo key: %q", key)
	}

	// A registered root gets both keys and installs with the real dnf.
	h := elHost(t, machineID(740))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	conf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	upKey := "/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-el9-baseos"
	if !strings.Contains(string(conf), "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei file://"+upKey) {
		t.Errorf("enmei.repo does not name both keys for the mirror:\n%s", conf)
	}
	mirrorDNF := func(args ...string) (string, error) {
		base := []string{"-y", "--installroot=" + h.root, "--releasever=9", "--noplugins",
			"--setopt=reposdir=" + filepath.Join(h.root, "etc/yum.repos.d"),
			"--setopt=cachedir=" + filepath.Join(h.root, "var/cache/dnf"),
			"--setopt=logdir=" + filepath.Join(h.root, "var/log"),
			"--setopt=gpgcheck=1", "--setopt=repo_gpgcheck=1",
			"--setopt=enmei-el9-x86_64.gpgkey=file://" + filepath.Join(h.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"),
			"--setopt=enmei-el9-baseos.gpgkey=file://" + filepath.Join(h.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei") + " file://" + filepath.Join(h.root, upKey),
		}
		must(t, os.MkdirAll(filepath.Join(h.root, "var/log"), 0o755))
		cmd := exec.Command("dnf", append(base, args...)...)
		cmd.Env = append(cleanEnv(), h.env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := mirrorDNF("install", "distro-base", "distro-built"); err != nil {
		t.Fatalf("dnf install from the mirror: %v\n%s", err, out)
	}
	if got := h.rpmQuery("distro-base"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("distro-base = %s", got)
	}
	// The upstream's groups, module streams and advisories came along.
	if out, err := mirrorDNF("group", "list", "--hidden"); err != nil || !strings.Contains(out, "Distro Core Tools") {
		t.Errorf("dnf group list does not show the upstream's comps group: %v\n%s", err, out)
	}
	if out, err := mirrorDNF("module", "list"); err != nil || !regexp.MustCompile(`distro-stack\s+7\s`).MatchString(out) {
		t.Errorf("dnf module list does not show the upstream's module stream: %v\n%s", err, out)
	}
	if out, err := mirrorDNF("updateinfo", "list", "--all"); err != nil || !strings.Contains(out, "DSA-2024:0001") {
		t.Errorf("dnf updateinfo list does not show the upstream's advisory: %v\n%s", err, out)
	}
	// The kept signature is the distribution's: rpm names its key.
	if out, _ := exec.Command("rpm", "-qp", "--qf", "%{RSAHEADER:pgpsig}", filepath.Join(up.dir, "Packages/distro-base-1.0-1.x86_64.rpm")).Output(); !strings.Contains(strings.ToLower(string(out)), strings.ToLower(up.keys["distro"][24:])) {
		t.Errorf("upstream package signature %q does not name the distribution's key %s", out, up.keys["distro"])
	}

	// Incremental: one new package upstream, one download.
	up.add(upstreamSpec("distro-extra", "1"), "distro")
	v.mustJSON(&rep, "repo", "sync", "el9-baseos")
	if rep.Downloaded != 1 || len(rep.New) != 1 || rep.New[0] != "distro-extra-1.0-1.x86_64" {
		t.Errorf("incremental sync: %+v, want only distro-extra", rep)
	}
	time.Sleep(1500 * time.Millisecond)
	if out, err := mirrorDNF("--refresh", "install", "distro-extra"); err != nil {
		t.Fatalf("dnf install of the new package: %v\n%s", err, out)
	}

	// A package signed by a stranger: refused, named, nothing published.
	before := v.must("publication", "list", "el9-baseos")
	up.add(upstreamSpec("distro-evil", "1"), "stranger")
	r := v.admin("repo", "sync", "el9-baseos")
	if r.code != 1 || !strings.Contains(r.stderr, "distro-evil") || !strings.Contains(r.stderr, "keeps its current publication") {
		t.Errorf("sync with a stranger's package: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := v.must("publication", "list", "el9-baseos"); after != before {
		t.Errorf("a refused sync changed the publications:\n%s\nnow\n%s", before, after)
	}
	must(t, os.Remove(filepath.Join(up.dir, "Packages/distro-evil-1.0-1.x86_64.rpm")))
	up.index()

	// A new advisory upstream, no new package: a publication with it.
	up.docs["updateinfo"] = upstreamUpdateinfo("DSA-2024:0001", "DSA-2024:0002")
	up.index()
	v.mustJSON(&rep, "repo", "sync", "el9-baseos")
	if rep.Publication == 0 || len(rep.New) != 0 || !slices.Equal(rep.Metadata, []string{"updateinfo"}) {
		t.Errorf("sync of a new upstream advisory: %+v, want a publication for updateinfo alone", rep)
	}
	time.Sleep(1500 * time.Millisecond)
	if out, err := mirrorDNF("--refresh", "updateinfo", "list", "--all"); err != nil || !strings.Contains(out, "DSA-2024:0002") {
		t.Errorf("dnf updateinfo list lacks the new upstream advisory: %v\n%s", err, out)
	}

	// Frozen at the community's last state; plain publish refused.
	v.mustJSON(&rep, "repo", "sync", "el9-baseos", "--snapshot", "almalinux-9-final")
	if rep.Frozen != "almalinux-9-final" {
		t.Errorf("freeze: %+v", rep)
	}
	if r := v.admin("repo", "sync", "el9-baseos"); r.code != 1 || !strings.Contains(r.stderr, "frozen at almalinux-9-final") {
		t.Errorf("sync of a frozen mirror: exit %d\n%s", r.code, r.stderr)
	}
	dir, _ := writeDemo(t, "rpm")
	if r := v.admin("publish", "el9-baseos", dir); r.code != 1 || !strings.Contains(r.stderr, "changes only with enmeid repo sync") {
		t.Errorf("publish into a mirror: exit %d\n%s", r.code, r.stderr)
	}
}

// TestMirrorSyncResumes kills a sync in the middle of a slow download and
// runs it again: the finished files are not fetched again, the partial one
// continues with a Range request, and no half publication ever appears.
func TestMirrorSyncResumes(t *testing.T) {
	up := newUpstream(t, "256k")
	big := upstreamSpec("distro-big", "1")
	noise := make([]byte, 1<<20) // incompressible: 4 s at nginx's limit_rate
	_, err := rand.Read(noise)
	must(t, err)
	big.Files["/usr/share/distro-big/blob"] = string(noise)
	up.add(upstreamSpec("distro-small", "1"), "distro")
	up.add(big, "distro")

	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos", "--product", "el9", "--arch", "x86_64")
	cmd := exec.Command(bin.enmeid, "repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"], "--parallel", "1")
	cmd.Env = append(cleanEnv(), v.env()...)
	must(t, cmd.Start())
	stage := filepath.Join(v.data, "sync", "el9-baseos")
	deadline := time.Now().Add(30 * time.Second)
	for {
		parts, _ := filepath.Glob(filepath.Join(stage, "Packages", "*.part"))
		if len(parts) > 0 {
			if fi, err := os.Stat(parts[0]); err == nil && fi.Size() > 64<<10 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no partial download appeared within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if out := v.must("publication", "list", "el9-baseos"); strings.Count(strings.TrimSpace(out), "\n") > 1 {
		t.Errorf("the killed sync left a publication:\n%s", out)
	}
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "el9-baseos")
	if rep.Publication == 0 || rep.Resumed != 1 {
		t.Errorf("the second sync: %+v, want a publication and one resumed download", rep)
	}
	log, err := os.ReadFile(up.log)
	must(t, err)
	if n := strings.Count(string(log), "distro-small-1.0-1.x86_64.rpm"); n != 1 {
		t.Errorf("the finished package was fetched %d times, want once:\n%s", n, log)
	}
	if !strings.Contains(string(log), `distro-big-1.0-1.x86_64.rpm HTTP/1.1" 206`) {
		t.Errorf("no Range request (206) continued the partial download:\n%s", log)
	}
	if cur := v.current("el9-baseos"); !cur.Current || cur.Packages != 2 {
		t.Errorf("the current publication after the resumed sync: %+v, want 2 packages", cur)
	}
}

// addDeb puts a .deb into the upstream's pool and rewrites its signed
// suite: apt-ftparchive writes Packages and Release, gpg clearsigns
// InRelease with the distribution's key.
func (u *upstreamRepo) addDeb(spec demo.Spec) {
	u.t.Helper()
	data, err := demo.Deb(spec)
	must(u.t, err)
	pool := filepath.Join(u.dir, "pool/main")
	must(u.t, os.MkdirAll(pool, 0o755))
	must(u.t, os.WriteFile(filepath.Join(pool, fmt.Sprintf("%s_%s-%s_amd64.deb", spec.Name, spec.Version, spec.Release)), data, 0o644))
	dists := filepath.Join(u.dir, "dists/bookworm")
	bin := filepath.Join(dists, "main/binary-amd64")
	must(u.t, os.MkdirAll(bin, 0o755))
	cmd := exec.Command("apt-ftparchive", "packages", "pool/main")
	cmd.Dir = u.dir
	pk, err := cmd.Output()
	if err != nil {
		u.t.Fatalf("apt-ftparchive packages: %v", err)
	}
	must(u.t, os.WriteFile(filepath.Join(bin, "Packages"), pk, 0o644))
	if out, err := exec.Command("sh", "-c", "xz -kf "+filepath.Join(bin, "Packages")).CombinedOutput(); err != nil {
		u.t.Fatalf("xz: %v\n%s", err, out)
	}
	cmd = exec.Command("apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=bookworm", "-o", "APT::FTPArchive::Release::Codename=bookworm",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64", "release", ".")
	cmd.Dir = dists
	rel, err := cmd.Output()
	if err != nil {
		u.t.Fatalf("apt-ftparchive release: %v", err)
	}
	must(u.t, os.WriteFile(filepath.Join(dists, "Release"), rel, 0o644))
	if out, err := exec.Command("gpg", "--homedir", u.gnupg, "--batch", "--yes", "--local-user", u.keys["distro"],
		"--clearsign", "--output", filepath.Join(dists, "InRelease"), filepath.Join(dists, "Release")).CombinedOutput(); err != nil {
		u.t.Fatalf("gpg --clearsign: %v\n%s", err, out)
	}
}

// TestMirrorSyncAPT mirrors a distribution's signed APT suite: the real
// apt-get on a registered Debian root fetches the mirrored package through
// the vendor's InRelease; a later sync downloads only the new package; a
// suite signed by another key is refused.
func TestMirrorSyncAPT(t *testing.T) {
	up := newUpstream(t, "")
	debSpec := func(name string) demo.Spec {
		return demo.Spec{Name: name, Version: "1.0", Release: "1", Arch: "x86_64", Summary: name + " from Debian",
			Files: map[string]string{"/usr/share/doc/" + name + "/README": name + "\n"}}
	}
	up.addDeb(debSpec("deb-base"))

	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "deb12-mirror", "--product", "deb12", "--suite", "bookworm", "--component", "main")
	c := v.contract("deb12", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "deb12-mirror", "--from", up.url, "--suite", "bookworm", "--component", "main", "--arch", "amd64", "--gpgkey", up.pubKey["distro"])
	if rep.Publication == 0 || rep.Downloaded != 1 {
		t.Fatalf("first sync: %+v", rep)
	}

	h := newHost(t, debianRelease, machineID(750))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	ctx := t.Context()
	apt := aptroot.New(t, h.root)
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	got, err := apt.Download(ctx, "deb-base")
	if err != nil {
		t.Fatalf("apt-get download deb-base from the mirror: %v", err)
	}
	want, err := os.ReadFile(filepath.Join(up.dir, "pool/main/deb-base_1.0-1_amd64.deb"))
	must(t, err)
	if b, _ := os.ReadFile(got); string(b) != string(want) {
		t.Error("the mirrored .deb differs from the distribution's")
	}

	up.addDeb(debSpec("deb-extra"))
	v.mustJSON(&rep, "repo", "sync", "deb12-mirror")
	if rep.Downloaded != 1 || len(rep.New) != 1 || !strings.HasPrefix(rep.New[0], "deb-extra ") {
		t.Errorf("incremental sync: %+v, want only deb-extra", rep)
	}

	// A frozen suite whose Valid-Until has passed: refused, then taken
	// with --allow-expired, which later syncs remember.
	dists := filepath.Join(up.dir, "dists/bookworm")
	rel, err := os.ReadFile(filepath.Join(dists, "Release"))
	must(t, err)
	expired := regexp.MustCompile(`(?m)^Date: .*$`).ReplaceAllStringFunc(string(rel), func(d string) string {
		return d + "\nValid-Until: " + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC1123)
	})
	must(t, os.WriteFile(filepath.Join(dists, "Release"), []byte(expired), 0o644))
	if out, err := exec.Command("gpg", "--homedir", up.gnupg, "--batch", "--yes", "--local-user", up.keys["distro"],
		"--clearsign", "--output", filepath.Join(dists, "InRelease"), filepath.Join(dists, "Release")).CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	if r := v.admin("repo", "sync", "deb12-mirror"); r.code != 1 || !strings.Contains(r.stderr, "Valid-Until") || !strings.Contains(r.stderr, "--allow-expired") {
		t.Errorf("sync of an expired Release: exit %d\n%s", r.code, r.stderr)
	}
	v.must("repo", "sync", "deb12-mirror", "--allow-expired")
	v.must("repo", "sync", "deb12-mirror")

	// The suite re-signed by a stranger: refused before any download.
	before := v.must("publication", "list", "deb12-mirror")
	if out, err := exec.Command("gpg", "--homedir", up.gnupg, "--batch", "--yes", "--local-user", up.keys["stranger"],
		"--clearsign", "--output", filepath.Join(dists, "InRelease"), filepath.Join(dists, "Release")).CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	if r := v.admin("repo", "sync", "deb12-mirror"); r.code == 0 || !strings.Contains(r.stderr, "InRelease") {
		t.Errorf("sync of a suite signed by a stranger: exit %d\n%s", r.code, r.stderr)
	}
	if after := v.must("publication", "list", "deb12-mirror"); after != before {
		t.Errorf("a refused sync changed the publications")
	}
}

// TestMirrorSBOM: a mirrored package has an SBOM like a published one,
// from the SBOM API over mutual TLS.
func TestMirrorSBOM(t *testing.T) {
	up := newUpstream(t, "")
	up.add(upstreamSpec("distro-base", "1"), "distro")
	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos", "--product", "el9", "--arch", "x86_64")
	v.must("repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	c := v.contract("el9", 1, "2026-01-01", "2099-12-31")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(v.must("ca", "export")))
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	cert := v.downloadCert(t, pool, c.SupportID)
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp, err := cl.Get(v.url + "/api/v1/sbom/packages/distro-base/1.0-1/x86_64?format=spdx-json")
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"SPDX-2.3"`) || !strings.Contains(string(body), "distro-base") {
		t.Errorf("SBOM of a mirrored package = %d: %.300s", resp.StatusCode, body)
	}
}
