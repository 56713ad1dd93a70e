package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// bundleReport is enmeid --json bundle create.
type bundleReport struct {
	Publication  int64  `json:"publication"`
	Packages     int    `json:"packages"`
	WithPackages bool   `json:"with_packages"`
	PackageFiles int    `json:"package_files"`
	SHA256       string `json:"sha256"`
}

// extractDisk extracts an ISO as an operator without loop devices would,
// and makes the copy writable so the test can alter it and clean it up.
func extractDisk(t *testing.T, iso, dir string) {
	t.Helper()
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dir).CombinedOutput(); err != nil {
		t.Fatalf("xorriso extract: %v\n%s", err, out)
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chmod(p, fi.Mode()|0o200)
		}
		return nil
	})
}

// offlineRepoFile is the .repo section the disk's README gives, with the
// README's mount point replaced by where the disk was extracted.
func offlineRepoFile(t *testing.T, readme, mnt string) string {
	t.Helper()
	var out []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[enmei-offline-") {
			in = true
		}
		if in {
			out = append(out, strings.ReplaceAll(line, bundle.MountPoint, mnt))
			if strings.HasPrefix(line, "gpgkey=") {
				return strings.Join(out, "\n") + "\n"
			}
		}
	}
	t.Fatalf("the README has no .repo section:\n%s", readme)
	return ""
}

// canUnshareNet reports whether commands can run without any network
// (a new network namespace: no interface but a downed loopback).
func canUnshareNet() bool { return exec.Command("unshare", "--net", "true").Run() == nil }

// offlineDNF runs the real dnf on h's root with only the repositories in
// reposdir, and without a network: in a network namespace of its own
// where that is allowed, and with every proxy pointing at a closed port.
func offlineDNF(t *testing.T, h *host, reposdir string, args ...string) (string, error) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(h.root, "var/log"), 0o755))
	cmdline := append([]string{"dnf", "-y", "--installroot=" + h.root, "--releasever=9", "--noplugins",
		"--setopt=reposdir=" + reposdir,
		"--setopt=cachedir=" + filepath.Join(h.root, "var/cache/dnf"),
		"--setopt=logdir=" + filepath.Join(h.root, "var/log"),
		"--setopt=install_weak_deps=0"}, args...)
	if canUnshareNet() {
		cmdline = append([]string{"unshare", "--net"}, cmdline...)
	}
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(cleanEnv(), h.env...)
	cmd.Env = append(cmd.Env, "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeOfflineRepo writes the README's .repo section for a disk extracted
// at mnt into a new repository directory and returns that directory.
func writeOfflineRepo(t *testing.T, mnt string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(mnt, "README.txt"))
	must(t, err)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "enmei-offline.repo"), []byte(offlineRepoFile(t, string(readme), mnt)), 0o644))
	return dir
}

// copyTree copies the extracted disk at src to a new directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	return dst
}

func flipByte(t *testing.T, p string, at func(size int) int) {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	data[at(len(data))] ^= 0xff
	must(t, os.WriteFile(p, data, 0o644))
}

// TestBundleWithPackages: enmeid bundle create --with-packages puts the
// publication on the disk under repo/ exactly as served, listed in the
// signed MANIFEST; the real dnf, with the .repo section the disk's README
// gives (gpgcheck=1, repo_gpgcheck=1, the disk's key) and no network,
// installs a package with its dependency from the extracted disk; an
// altered package or repomd.xml on the disk is refused by dnf and by the
// MANIFEST check.
func TestBundleWithPackages(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, names := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	iso := filepath.Join(t.TempDir(), "companion.iso")
	var rep bundleReport
	v.mustJSON(&rep, "bundle", "create", "el9-x86_64", "--with-packages", "--out", iso)
	if !rep.WithPackages || rep.PackageFiles != len(names) || rep.Packages != len(names) {
		t.Errorf("bundle create --json = %+v, want with_packages and %d package files", rep, len(names))
	}

	mnt := filepath.Join(t.TempDir(), "enmei")
	extractDisk(t, iso, mnt)
	readme, err := os.ReadFile(filepath.Join(mnt, "README.txt"))
	must(t, err)
	for _, want := range []string{"baseurl=file:///mnt/enmei/repo\n", "gpgcheck=1\n", "repo_gpgcheck=1\n", "gpgkey=file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc\n"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.txt lacks %q:\n%s", want, readme)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(mnt, "MANIFEST"))
	must(t, err)
	for _, want := range []string{"  repo/repodata/repomd.xml\n", "  repo/repodata/repomd.xml.asc\n", "  repo/Packages/e/enmei-demo-hello-1.0-1.x86_64.rpm\n", "  sbom/index.json\n"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("MANIFEST lacks %q:\n%s", want, manifest)
		}
	}
	check := exec.Command("sha256sum", "--strict", "--quiet", "-c", "MANIFEST")
	check.Dir = mnt
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c MANIFEST on the extracted disk: %v\n%s", err, out)
	}
	// The metadata on the disk is what the server serves, byte for byte.
	v.serve()
	c := v.contract("el9", 1, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	reg := newHost(t, almaRelease, machineID(961))
	reg.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := reg.identity()
	for _, p := range []string{"repodata/repomd.xml", "repodata/repomd.xml.asc"} {
		resp, body := get(t, "GET", v.url+"/repos/el9-x86_64/"+p, id.HostID, id.Secret, nil)
		onDisk, err := os.ReadFile(filepath.Join(mnt, "repo", p))
		must(t, err)
		if resp.StatusCode != 200 || string(body) != string(onDisk) {
			t.Errorf("%s on the disk differs from what the server serves (%d)", p, resp.StatusCode)
		}
	}

	// The real dnf installs from the disk with signatures checked.
	h := elHost(t, machineID(960))
	repos := writeOfflineRepo(t, mnt)
	if out, err := offlineDNF(t, h, repos, "install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install from the companion disk: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("enmei-demo-hello = %q, want 1.0-1", got)
	}
	if got := h.rpmQuery("enmei-demo-lib"); got != "1:1.0-1" {
		t.Errorf("dependency enmei-demo-lib = %q, want 1:1.0-1", got)
	}

	// The same disk still serves enmei sbom --offline on the host.
	var exported struct {
		Fingerprint string `json:"fingerprint"`
	}
	v.mustJSON(&exported, "signing-key", "export")
	if r := h.enmei("sbom", "--offline", mnt, "--fingerprint", exported.Fingerprint); r.code != 0 || !strings.Contains(r.stdout, "enmei-demo-hello") {
		t.Errorf("enmei sbom --offline with the disk of packages: exit %d\n%s", r.code, r.stderr)
	}

	key := v.must("signing-key", "export")
	verify := func(dir string) error {
		d, err := bundle.Open(dir)
		must(t, err)
		defer d.Close()
		_, err = d.Verify([][]byte{[]byte(key)})
		return err
	}
	must(t, verify(mnt))

	// A flipped byte in a package on the disk: dnf refuses it, and so
	// does the MANIFEST check.
	altered := copyTree(t, mnt)
	flipByte(t, filepath.Join(altered, "repo/Packages/e/enmei-demo-hello-1.0-1.x86_64.rpm"), func(n int) int { return n - 200 })
	other := elHost(t, machineID(962))
	if out, err := offlineDNF(t, other, writeOfflineRepo(t, altered), "install", "enmei-demo-hello"); err == nil {
		t.Errorf("dnf installed an altered package from the disk:\n%s", out)
	}
	if got := other.rpmQuery("enmei-demo-hello"); !strings.HasPrefix(got, "not installed") {
		t.Errorf("after the refusal enmei-demo-hello = %q", got)
	}
	if err := verify(altered); err == nil || !strings.Contains(err.Error(), "repo/Packages/e/enmei-demo-hello-1.0-1.x86_64.rpm on the companion disk does not match its MANIFEST entry") {
		t.Errorf("Verify of a disk with an altered package = %v", err)
	}

	// Altered metadata: repo_gpgcheck refuses repomd.xml.
	altered = copyTree(t, mnt)
	repomd := filepath.Join(altered, "repo/repodata/repomd.xml")
	data, err := os.ReadFile(repomd)
	must(t, err)
	must(t, os.WriteFile(repomd, []byte(strings.Replace(string(data), "<revision>", "<revision>1", 1)), 0o644))
	third := elHost(t, machineID(963))
	if out, err := offlineDNF(t, third, writeOfflineRepo(t, altered), "install", "enmei-demo-hello"); err == nil {
		t.Errorf("dnf accepted an altered repomd.xml from the disk:\n%s", out)
	}

	// A blob missing from the store: one sentence naming the file, and no
	// disk written.
	var sum string
	for _, line := range strings.Split(string(manifest), "\n") {
		if strings.HasSuffix(line, "  repo/Packages/e/enmei-demo-hello-1.0-1.x86_64.rpm") {
			sum = line[:64]
		}
	}
	blobPath := filepath.Join(v.data, "blobs", sum[:2], sum)
	must(t, os.Rename(blobPath, blobPath+".away"))
	out := filepath.Join(t.TempDir(), "no.iso")
	r := v.admin("bundle", "create", "el9-x86_64", "--with-packages", "--out", out)
	if r.code != 1 || !strings.Contains(r.stderr, "Packages/e/enmei-demo-hello-1.0-1.x86_64.rpm of publication") ||
		!strings.Contains(r.stderr, "missing from the blob store") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("bundle create with a blob missing: exit %d\n%s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("a refused bundle create left %v", entries)
	}
	must(t, os.Rename(blobPath+".away", blobPath))

	// A disk that cannot be written: one sentence, and no disk.
	r = v.admin("bundle", "create", "el9-x86_64", "--with-packages", "--out", filepath.Join(t.TempDir(), "missing", "x.iso"))
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("bundle create into a missing directory: exit %d\n%s", r.code, r.stderr)
	}
}

// TestBundleWithPackagesMirror: a disk of a mirror carries the upstream
// distribution's key beside the vendor's and its README names both; dnf
// installs a package signed by the distribution from it, and refuses it
// with the vendor's key alone.
func TestBundleWithPackagesMirror(t *testing.T) {
	up := newUpstream(t, "")
	up.add(upstreamSpec("distro-base", "1"), "distro")
	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos", "--product", "el9", "--arch", "x86_64")
	v.must("repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	iso := filepath.Join(t.TempDir(), "mirror.iso")
	var rep bundleReport
	v.mustJSON(&rep, "bundle", "create", "el9-baseos", "--with-packages", "--out", iso)
	if !rep.WithPackages || rep.PackageFiles != 1 {
		t.Errorf("bundle create --json = %+v", rep)
	}
	mnt := filepath.Join(t.TempDir(), "enmei")
	extractDisk(t, iso, mnt)
	upKey, err := os.ReadFile(filepath.Join(mnt, "KEYS/RPM-GPG-KEY-enmei-upstream-el9-baseos.asc"))
	must(t, err)
	want, err := os.ReadFile(up.pubKey["distro"])
	must(t, err)
	if strings.TrimSpace(string(upKey)) != strings.TrimSpace(string(want)) {
		t.Errorf("the disk's upstream key is not the distribution's:\n%s", upKey)
	}
	readme, err := os.ReadFile(filepath.Join(mnt, "README.txt"))
	must(t, err)
	if line := "gpgkey=file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei-upstream-el9-baseos.asc\n"; !strings.Contains(string(readme), line) {
		t.Errorf("README.txt does not name both keys:\n%s", readme)
	}

	h := elHost(t, machineID(965))
	if out, err := offlineDNF(t, h, writeOfflineRepo(t, mnt), "install", "distro-base"); err != nil {
		t.Fatalf("dnf install of a mirrored package from the disk: %v\n%s", err, out)
	}
	if got := h.rpmQuery("distro-base"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("distro-base = %q", got)
	}

	// With the vendor's key alone the distribution's signature is unknown.
	vendorOnly := t.TempDir()
	conf := offlineRepoFile(t, string(readme), mnt)
	conf = strings.Replace(conf, " file://"+mnt+"/KEYS/RPM-GPG-KEY-enmei-upstream-el9-baseos.asc", "", 1)
	must(t, os.WriteFile(filepath.Join(vendorOnly, "enmei-offline.repo"), []byte(conf), 0o644))
	other := elHost(t, machineID(966))
	if out, err := offlineDNF(t, other, vendorOnly, "install", "distro-base"); err == nil {
		t.Errorf("dnf installed a distribution-signed package without the distribution's key:\n%s", out)
	}
}

// TestBundleWithPackagesAPT: a deb publication on the disk is an apt
// source as the README gives it (file: with signed-by the disk's key):
// the real apt-get reads the signed InRelease and fetches the package
// from the disk; an altered .deb is refused.
func TestBundleWithPackagesAPT(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "deb")
	v.must("publish", "deb12-main", dir)
	iso := filepath.Join(t.TempDir(), "deb.iso")
	var rep bundleReport
	v.mustJSON(&rep, "bundle", "create", "deb12-main", "--with-packages", "--out", iso)
	if !rep.WithPackages || rep.PackageFiles == 0 {
		t.Errorf("bundle create --json = %+v", rep)
	}

	// The disk extracted where the README mounts it, inside the scratch
	// root: aptroot resolves Signed-By paths under the root.
	h := newHost(t, debianRelease, machineID(970))
	mnt := filepath.Join(h.root, bundle.MountPoint)
	must(t, os.MkdirAll(filepath.Dir(mnt), 0o755))
	extractDisk(t, iso, mnt)
	readme, err := os.ReadFile(filepath.Join(mnt, "README.txt"))
	must(t, err)
	var source string
	for _, line := range strings.Split(string(readme), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "deb [signed-by=") {
			source = l
		}
	}
	if source != "deb [signed-by=/mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc] file:/mnt/enmei/repo bookworm main" {
		t.Fatalf("README.txt's apt line = %q:\n%s", source, readme)
	}
	apt := aptroot.New(t, h.root)
	// The README's line in deb822 form, which aptroot reads.
	must(t, os.WriteFile(filepath.Join(h.root, "etc/apt/sources.list.d/enmei-offline.sources"), []byte(
		"Types: deb\nURIs: file:"+mnt+"/repo\nSuites: bookworm\nComponents: main\nSigned-By: /mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc\n"), 0o644))
	ctx := context.Background()
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update from the disk: %v\n%s", err, out)
	}
	if out, err := apt.AptGet(ctx, "install", "--simulate", "enmei-demo-hello"); err != nil || !strings.Contains(out, "Inst enmei-demo-hello") {
		t.Errorf("apt-get install --simulate: %v\n%s", err, out)
	}
	got, err := apt.Download(ctx, "enmei-demo-hello")
	if err != nil {
		t.Fatalf("apt-get download from the disk: %v", err)
	}
	pool, err := filepath.Glob(filepath.Join(mnt, "repo/pool/main/*/*/enmei-demo-hello_*.deb"))
	must(t, err)
	if len(pool) != 1 {
		t.Fatalf("pool files %v", pool)
	}
	a, _ := os.ReadFile(got)
	b, _ := os.ReadFile(pool[0])
	if len(a) == 0 || string(a) != string(b) {
		t.Error("the downloaded .deb is not the one on the disk")
	}

	flipByte(t, pool[0], func(n int) int { return n / 2 })
	if path, err := apt.Download(ctx, "enmei-demo-hello"); err == nil {
		t.Errorf("apt-get download took an altered .deb from the disk: %s", path)
	}
}
