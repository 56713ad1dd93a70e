package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// The GPL sources of a product: source RPMs and Debian source packages in
// source repositories beside the binary ones, mirrored from upstream, and
// configured disabled on hosts until dnf download --source or apt-get
// source asks for them.

// srcSpec is the spec file of a small package rpmbuild builds as a source
// RPM and a noarch binary.
const srcSpec = `Name: %[1]s
Version: %[2]s
Release: %[3]s
Summary: %[1]s, with its sources
License: GPL-2.0-or-later
Source0: %[1]s-%[2]s.tar.gz
BuildArch: noarch
%%description
A package whose sources the GPL asks for.
%%prep
%%setup -q
%%install
mkdir -p %%{buildroot}/usr/share/%[1]s
cp README %%{buildroot}/usr/share/%[1]s/
%%files
/usr/share/%[1]s/README
`

// srcRPMs builds name-version-release with the real rpmbuild and returns
// its binary RPM and its source RPM.
func srcRPMs(t *testing.T, name, version, release string) (binary, source string) {
	t.Helper()
	top := t.TempDir()
	for _, d := range []string{"SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "tree/" + name + "-" + version} {
		must(t, os.MkdirAll(filepath.Join(top, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(top, "tree", name+"-"+version, "README"), []byte(name+" "+version+"\n"), 0o644))
	if out, err := exec.Command("tar", "-C", filepath.Join(top, "tree"), "-czf", filepath.Join(top, "SOURCES", name+"-"+version+".tar.gz"), name+"-"+version).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	spec := filepath.Join(top, "SPECS", name+".spec")
	must(t, os.WriteFile(spec, []byte(fmt.Sprintf(srcSpec, name, version, release)), 0o644))
	cmd := exec.Command("rpmbuild", "-ba", "--define", "_topdir "+top, spec)
	cmd.Env = append(cleanEnv(), "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	nvr := name + "-" + version + "-" + release
	return filepath.Join(top, "RPMS/noarch", nvr+".noarch.rpm"), filepath.Join(top, "SRPMS", nvr+".src.rpm")
}

// srcDeb builds a Debian source package (3.0 (quilt): an orig tarball and
// a debian tarball) with the real dpkg-source in dir and returns its .dsc.
func srcDeb(t *testing.T, dir, name, upstream, revision string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-"+upstream)
	must(t, os.MkdirAll(filepath.Join(tree, "debian/source"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "README"), []byte(name+" "+upstream+"\n"), 0o644))
	orig := filepath.Join(dir, name+"_"+upstream+".orig.tar.gz")
	if _, err := os.Stat(orig); err != nil {
		if out, err := exec.Command("tar", "-C", dir, "-czf", orig, "--exclude=debian", name+"-"+upstream).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	files := map[string]string{
		"debian/source/format": "3.0 (quilt)\n",
		"debian/control": "Source: " + name + "\nSection: misc\nPriority: optional\nMaintainer: Vendor <els@example.jp>\nStandards-Version: 4.6.2\n\n" +
			"Package: " + name + "\nArchitecture: all\nDescription: " + name + ", with its sources\n A package whose sources the GPL asks for.\n",
		"debian/changelog": name + " (" + upstream + "-" + revision + ") bookworm; urgency=medium\n\n  * Release " + revision + ".\n\n -- Vendor <els@example.jp>  Mon, 01 Jan 2024 00:00:00 +0900\n",
		"debian/rules":     "#!/usr/bin/make -f\n%:\n\tdh $@\n",
	}
	for p, content := range files {
		must(t, os.WriteFile(filepath.Join(tree, p), []byte(content), 0o755))
	}
	cmd := exec.Command("dpkg-source", "-b", name+"-"+upstream)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	must(t, os.RemoveAll(tree))
	return filepath.Join(dir, name+"_"+upstream+"-"+revision+".dsc")
}

// srcDNF runs the real dnf with its plugins (dnf download is one) on the
// host's root and its enmei.repo, signature checks on.
func srcDNF(h *host, args ...string) (string, error) {
	h.t.Helper()
	must(h.t, os.MkdirAll(filepath.Join(h.root, "var/log"), 0o755))
	base := []string{
		"-y", "--installroot=" + h.root, "--releasever=9",
		"--setopt=reposdir=" + filepath.Join(h.root, "etc/yum.repos.d"),
		"--setopt=cachedir=" + filepath.Join(h.root, "var/cache/dnf"),
		"--setopt=logdir=" + filepath.Join(h.root, "var/log"),
		"--setopt=*.gpgkey=file://" + filepath.Join(h.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"),
		"--setopt=gpgcheck=1", "--setopt=repo_gpgcheck=1",
	}
	cmd := exec.Command("dnf", append(base, args...)...)
	cmd.Env = append(cleanEnv(), h.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// srcRPMCheck runs rpm -K on file with a database trusting the armored key.
func srcRPMCheck(t *testing.T, key, file string) string {
	t.Helper()
	db := t.TempDir()
	if out, err := exec.Command("rpm", "--dbpath", db, "--import", key).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	out, err := exec.Command("rpm", "--dbpath", db, "-K", file).CombinedOutput()
	if err != nil {
		return "FAILED: " + string(out)
	}
	return string(out)
}

// srcEnableDebSrc sets Enabled: yes in the host's enmei.sources, as a user
// who wants apt-get source does.
func srcEnableDebSrc(t *testing.T, h *host) {
	t.Helper()
	p := filepath.Join(h.root, "etc/apt/sources.list.d/enmei.sources")
	data, err := os.ReadFile(p)
	must(t, err)
	if !strings.Contains(string(data), "Enabled: no") {
		t.Fatalf("enmei.sources has no disabled stanza:\n%s", data)
	}
	must(t, os.WriteFile(p, bytes.ReplaceAll(data, []byte("Enabled: no"), []byte("Enabled: yes")), 0o644))
}

// srcRefused runs a publish that must be refused with every part of want
// in its message, and checks nothing was stored.
func srcRefused(t *testing.T, v *vendor, repo string, want []string, args ...string) {
	t.Helper()
	before := v.must("publication", "list", repo)
	blobs, _ := dirStats(t, filepath.Join(v.data, "blobs"))
	r := v.admin(append([]string{"publish", repo}, args...)...)
	if r.code != 1 {
		t.Errorf("publish %s %v: exit %d, want 1\n%s%s", repo, args, r.code, r.stdout, r.stderr)
	}
	for _, w := range append(want, "nothing was published") {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("publish %s %v: the refusal lacks %q:\n%s", repo, args, w, r.stderr)
		}
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("the refusal is more than one line:\n%s", r.stderr)
	}
	if after := v.must("publication", "list", repo); after != before {
		t.Errorf("a refused publish changed the publications of %s:\n%s\nnow\n%s", repo, before, after)
	}
	if n, _ := dirStats(t, filepath.Join(v.data, "blobs")); n != blobs {
		t.Errorf("a refused publish stored %d blobs", n-blobs)
	}
}

// TestSourceRPM: a source RPM published into the product's source
// repository (named after the binary one plus -source) is fetched by the
// real dnf download --source on a registered root, where enmei register
// configured that repository disabled; source and binary RPMs are refused
// from each other's repositories.
func TestSourceRPM(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-x86_64-source", "--product", "el9", "--arch", "src")
	bin, src := srcRPMs(t, "enmei-src-hello", "1.0", "1")

	srcRefused(t, v, "el9-x86_64", []string{"it is a source RPM", "el9-x86_64-source", "--arch src"}, src)
	srcRefused(t, v, "el9-x86_64-source", []string{"it is a binary RPM", "source RPMs only"}, bin)

	v.must("publish", "el9-x86_64", bin)
	out := v.must("publish", "el9-x86_64-source", src)
	if !strings.Contains(out, "1 packages (1 given") {
		t.Errorf("publish of the source RPM: %s", out)
	}
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	h := elHost(t, machineID(770))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	conf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	if !strings.Contains(string(conf), "[enmei-el9-x86_64-source]\nname=EL9 ELS (el9-x86_64-source)\nbaseurl="+v.url+"/repos/el9-x86_64-source/\nenabled=0\n") {
		t.Errorf("enmei.repo does not configure the source repository disabled:\n%s", conf)
	}
	if !strings.Contains(string(conf), "[enmei-el9-x86_64]\nname=EL9 ELS (el9-x86_64)\nbaseurl="+v.url+"/repos/el9-x86_64/\nenabled=1\n") {
		t.Errorf("enmei.repo does not configure the binary repository enabled:\n%s", conf)
	}
	// Disabled: dnf does not read it for installs and updates.
	if out, err := srcDNF(h, "repolist"); err != nil || strings.Contains(out, "el9-x86_64-source") {
		t.Errorf("dnf repolist lists the source repository as enabled: %v\n%s", err, out)
	}

	// dnf download --source enables enmei-el9-x86_64-source by itself (the
	// binary repository's ID plus -source) and fetches the source RPM.
	dest := t.TempDir()
	if out, err := srcDNF(h, "download", "--source", "--destdir", dest, "enmei-src-hello"); err != nil {
		t.Fatalf("dnf download --source: %v\n%s", err, out)
	}
	got := filepath.Join(dest, "enmei-src-hello-1.0-1.src.rpm")
	if out, err := exec.Command("rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE} %{SOURCERPM}", got).Output(); err != nil || string(out) != "enmei-src-hello-1.0-1 (none)" {
		t.Errorf("downloaded source RPM: %v %s", err, out)
	}
	key := filepath.Join(h.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei")
	if out := srcRPMCheck(t, key, got); !strings.Contains(out, "signatures OK") {
		t.Errorf("the source RPM is not signed by the vendor's key: %s", out)
	}

	// The same by naming the repository, with nothing else enabled.
	dest2 := t.TempDir()
	if out, err := srcDNF(h, "--disablerepo=*", "--enablerepo=enmei-el9-x86_64-source", "download", "--source", "--destdir", dest2, "enmei-src-hello"); err != nil {
		t.Fatalf("dnf --enablerepo download --source: %v\n%s", err, out)
	}
	a, _ := os.ReadFile(got)
	b, _ := os.ReadFile(filepath.Join(dest2, "enmei-src-hello-1.0-1.src.rpm"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the two downloads of the source RPM differ (%d and %d bytes)", len(a), len(b))
	}
}

// TestSourceAPT: a Debian source package (.dsc, orig and debian tarballs)
// published into the product's deb source repository is fetched and
// unpacked by the real apt-get source on a registered root, once the
// deb-src stanza enmei register wrote disabled is enabled. A .dsc is
// refused from a binary repository and a .deb from a source repository; a
// damaged .dsc, one whose files are missing, and one whose files do not
// match its checksums are refused, and nothing is stored.
func TestSourceAPT(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "deb12-main-source", "--product", "deb12", "--suite", "bookworm", "--component", "main", "--arch", "source")
	dir := t.TempDir()
	dsc := srcDeb(t, dir, "enmei-src-hello", "1.0", "1")

	srcRefused(t, v, "deb12-main", []string{"it is a Debian source package", "deb12-main-source", "--arch source"}, dsc)
	demoDir, demoNames := writeDemo(t, "deb")
	srcRefused(t, v, "deb12-main-source", []string{"it is a binary Debian package", "source packages"}, filepath.Join(demoDir, demoNames[0]))
	// Damaged: not a control file at all.
	bad := filepath.Join(t.TempDir(), "broken_1.0-1.dsc")
	must(t, os.WriteFile(bad, []byte("this is not\x00a dsc\n"), 0o644))
	srcRefused(t, v, "deb12-main-source", []string{"invalid Debian source package"}, bad)
	// Missing: the .dsc alone.
	alone := filepath.Join(t.TempDir(), filepath.Base(dsc))
	data, err := os.ReadFile(dsc)
	must(t, err)
	must(t, os.WriteFile(alone, data, 0o644))
	srcRefused(t, v, "deb12-main-source", []string{"enmei-src-hello_1.0.orig.tar.gz, which is not beside it"}, alone)
	// Mismatched: the debian tarball changed after dpkg-source wrote the .dsc.
	tampered := t.TempDir()
	for _, name := range []string{filepath.Base(dsc), "enmei-src-hello_1.0.orig.tar.gz", "enmei-src-hello_1.0-1.debian.tar.xz"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		if strings.HasSuffix(name, ".debian.tar.xz") {
			b[len(b)/2] ^= 0xff
		}
		must(t, os.WriteFile(filepath.Join(tampered, name), b, 0o644))
	}
	srcRefused(t, v, "deb12-main-source", []string{"enmei-src-hello_1.0-1.debian.tar.xz does not match the size and checksums the .dsc lists"}, tampered)

	// The directory holding the three files publishes the package.
	out := v.must("publish", "deb12-main-source", dir)
	if !strings.Contains(out, "1 packages (1 given") {
		t.Errorf("publish of the source package: %s", out)
	}
	// gc keeps every file of a published source package (apt-get source
	// below fetches them all), with nothing young left to protect them.
	time.Sleep(2500 * time.Millisecond)
	v.must("gc", "--grace", "0")
	c := v.contract("deb12", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	h := newHost(t, debianRelease, machineID(771))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	sources, err := os.ReadFile(filepath.Join(h.root, "etc/apt/sources.list.d/enmei.sources"))
	must(t, err)
	if !strings.Contains(string(sources), "Types: deb-src\nURIs: "+v.url+"/repos/deb12-main-source/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/enmei.gpg\nEnabled: no\n") {
		t.Errorf("enmei.sources does not configure the source repository disabled:\n%s", sources)
	}
	ctx := t.Context()
	apt := aptroot.New(t, h.root)
	if out, err := apt.AptGet(ctx, "update"); err != nil || strings.Contains(out, "deb12-main-source") {
		t.Fatalf("apt-get update read the disabled source repository (or failed): %v\n%s", err, out)
	}

	srcEnableDebSrc(t, h)
	if out, err := apt.AptGet(ctx, "update"); err != nil || !strings.Contains(out, "deb12-main-source") {
		t.Fatalf("apt-get update with the source repository enabled: %v\n%s", err, out)
	}
	work := t.TempDir()
	t.Chdir(work)
	if out, err := apt.AptGet(ctx, "source", "enmei-src-hello"); err != nil {
		t.Fatalf("apt-get source: %v\n%s", err, out)
	}
	for _, name := range []string{filepath.Base(dsc), "enmei-src-hello_1.0.orig.tar.gz", "enmei-src-hello_1.0-1.debian.tar.xz"} {
		want, _ := os.ReadFile(filepath.Join(dir, name))
		got, err := os.ReadFile(filepath.Join(work, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("apt-get source fetched %s differing from the published file: %v", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(work, "enmei-src-hello-1.0/debian/changelog")); err != nil || !strings.Contains(string(b), "1.0-1") {
		t.Errorf("apt-get source did not unpack the package: %v", err)
	}
}

// srcUpstreamSRPM puts a source RPM, signed by the named key with the real
// rpmsign, into the upstream's SRPMS/ and rewrites its signed metadata.
func srcUpstreamSRPM(t *testing.T, u *upstreamRepo, srpm, key string) string {
	t.Helper()
	data, err := os.ReadFile(srpm)
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(u.dir, "SRPMS"), 0o755))
	p := filepath.Join(u.dir, "SRPMS", filepath.Base(srpm))
	must(t, os.WriteFile(p, data, 0o644))
	gpg, err := exec.LookPath("gpg")
	must(t, err)
	if out, err := exec.Command("rpmsign", "--define", "__gpg "+gpg, "--define", "_gpg_path "+u.gnupg,
		"--define", "_gpg_name "+u.keys[key], "--addsign", p).CombinedOutput(); err != nil {
		t.Fatalf("rpmsign: %v\n%s", err, out)
	}
	u.index()
	return p
}

// TestSourceMirrorRPM: enmeid repo sync of an upstream holding signed
// source RPMs (createrepo_c) into a source repository takes the source
// RPMs alone and keeps the distribution's signatures; the real dnf
// download --source fetches them byte for byte from the mirror.
func TestSourceMirrorRPM(t *testing.T) {
	up := newUpstream(t, "")
	up.add(upstreamSpec("distro-base", "1"), "distro")
	_, src := srcRPMs(t, "distro-src", "2.0", "3")
	upFile := srcUpstreamSRPM(t, up, src, "distro")

	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos-source", "--product", "el9", "--arch", "src")
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "el9-baseos-source", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	if rep.Publication == 0 || rep.Downloaded != 1 || len(rep.New) != 1 || rep.New[0] != "distro-src-2.0-3.src" {
		t.Fatalf("sync of the upstream's source RPMs: %+v, want distro-src-2.0-3.src alone", rep)
	}
	if r := v.admin("repo", "sync", "el9-baseos-source", "--arch", "x86_64"); r.code == 0 || !strings.Contains(r.stderr, "without --arch") {
		t.Errorf("sync of a source repository with --arch x86_64: exit %d\n%s", r.code, r.stderr)
	}
	c := v.contract("el9", 1, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	h := elHost(t, machineID(772))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	dest := t.TempDir()
	if out, err := srcDNF(h, "--enablerepo=enmei-el9-baseos-source", "download", "--source", "--destdir", dest, "distro-src"); err != nil {
		t.Fatalf("dnf download --source from the mirror: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dest, "distro-src-2.0-3.src.rpm"))
	must(t, err)
	want, err := os.ReadFile(upFile)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Error("the mirrored source RPM differs from the distribution's signed one")
	}
	if out := srcRPMCheck(t, up.pubKey["distro"], filepath.Join(dest, "distro-src-2.0-3.src.rpm")); !strings.Contains(out, "signatures OK") {
		t.Errorf("the mirrored source RPM does not carry the distribution's signature: %s", out)
	}
}

// srcUpstreamDeb puts a Debian source package into the upstream's pool
// and rewrites its signed suite with the real apt-ftparchive: Sources (and
// an empty Packages) and Release, clearsigned as InRelease.
func srcUpstreamDeb(t *testing.T, u *upstreamRepo, name, upstream, revision string) string {
	t.Helper()
	pool := filepath.Join(u.dir, "pool/main", name[:1], name)
	must(t, os.MkdirAll(pool, 0o755))
	dsc := srcDeb(t, pool, name, upstream, revision)
	dists := filepath.Join(u.dir, "dists/bookworm")
	for _, d := range []string{"main/source", "main/binary-amd64"} {
		must(t, os.MkdirAll(filepath.Join(dists, d), 0o755))
	}
	for _, idx := range []struct{ kind, file string }{{"sources", "main/source/Sources"}, {"packages", "main/binary-amd64/Packages"}} {
		cmd := exec.Command("apt-ftparchive", idx.kind, "pool/main")
		cmd.Dir = u.dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("apt-ftparchive %s: %v", idx.kind, err)
		}
		must(t, os.WriteFile(filepath.Join(dists, idx.file), out, 0o644))
		if out, err := exec.Command("xz", "-kf", filepath.Join(dists, idx.file)).CombinedOutput(); err != nil {
			t.Fatalf("xz: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=bookworm", "-o", "APT::FTPArchive::Release::Codename=bookworm",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64", "release", ".")
	cmd.Dir = dists
	rel, err := cmd.Output()
	if err != nil {
		t.Fatalf("apt-ftparchive release: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dists, "Release"), rel, 0o644))
	if out, err := exec.Command("gpg", "--homedir", u.gnupg, "--batch", "--yes", "--local-user", u.keys["distro"],
		"--clearsign", "--output", filepath.Join(dists, "InRelease"), filepath.Join(dists, "Release")).CombinedOutput(); err != nil {
		t.Fatalf("gpg --clearsign: %v\n%s", err, out)
	}
	return dsc
}

// TestSourceMirrorAPT: enmeid repo sync of an APT suite's Sources index
// (apt-ftparchive sources) into a deb source repository downloads each
// source package's files, verified, and serves them: the real apt-get
// source on a registered root fetches them byte for byte; a later sync
// takes only the new version.
func TestSourceMirrorAPT(t *testing.T) {
	up := newUpstream(t, "")
	dsc := srcUpstreamDeb(t, up, "distro-srcpkg", "1.0", "1")

	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "deb12-src-mirror", "--product", "deb12", "--suite", "bookworm", "--component", "main", "--arch", "source")
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "deb12-src-mirror", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	if rep.Publication == 0 || rep.Downloaded != 3 || len(rep.New) != 1 || rep.New[0] != "distro-srcpkg 1.0-1 (source)" {
		t.Fatalf("sync of the upstream's Sources: %+v, want distro-srcpkg 1.0-1 and its 3 files", rep)
	}
	c := v.contract("deb12", 1, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	h := newHost(t, debianRelease, machineID(773))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	srcEnableDebSrc(t, h)
	ctx := t.Context()
	apt := aptroot.New(t, h.root)
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	work := t.TempDir()
	t.Chdir(work)
	if out, err := apt.AptGet(ctx, "source", "--download-only", "distro-srcpkg"); err != nil {
		t.Fatalf("apt-get source from the mirror: %v\n%s", err, out)
	}
	for _, name := range []string{filepath.Base(dsc), "distro-srcpkg_1.0.orig.tar.gz", "distro-srcpkg_1.0-1.debian.tar.xz"} {
		want, _ := os.ReadFile(filepath.Join(filepath.Dir(dsc), name))
		got, err := os.ReadFile(filepath.Join(work, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("apt-get source fetched %s differing from the distribution's: %v", name, err)
		}
	}

	// A new revision upstream, sharing the orig tarball: only it is new.
	srcUpstreamDeb(t, up, "distro-srcpkg", "1.0", "2")
	v.mustJSON(&rep, "repo", "sync", "deb12-src-mirror")
	if rep.Publication == 0 || len(rep.New) != 1 || rep.New[0] != "distro-srcpkg 1.0-2 (source)" {
		t.Errorf("incremental sync: %+v, want only distro-srcpkg 1.0-2", rep)
	}
	if cur := v.current("deb12-src-mirror"); !cur.Current || cur.Packages != 2 {
		t.Errorf("the current publication after the second sync: %+v, want 2 source packages", cur)
	}
}
