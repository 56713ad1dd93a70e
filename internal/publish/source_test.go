package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/store"
)

// srpm builds name-1.0-rel as a source RPM and a noarch binary with the
// real rpmbuild.
func srpm(t *testing.T, name, rel string) (binary, source string) {
	t.Helper()
	top := t.TempDir()
	tree := filepath.Join(top, "tree", name+"-1.0")
	for _, d := range []string{"SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS"} {
		must(t, os.MkdirAll(filepath.Join(top, d), 0o755))
	}
	must(t, os.MkdirAll(tree, 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "README"), []byte(name+"\n"), 0o644))
	if out, err := exec.Command("tar", "-C", filepath.Dir(tree), "-czf", filepath.Join(top, "SOURCES", name+"-1.0.tar.gz"), name+"-1.0").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	spec := fmt.Sprintf("Name: %[1]s\nVersion: 1.0\nRelease: %[2]s\nSummary: %[1]s\nLicense: GPL-2.0-only\nSource0: %[1]s-1.0.tar.gz\nBuildRequires: make\nBuildArch: noarch\n%%description\n%[1]s\n%%prep\n%%setup -q\n%%install\nmkdir -p %%{buildroot}/usr/share/%[1]s\ncp README %%{buildroot}/usr/share/%[1]s/\n%%files\n/usr/share/%[1]s/README\n", name, rel)
	specFile := filepath.Join(top, "SPECS", name+".spec")
	must(t, os.WriteFile(specFile, []byte(spec), 0o644))
	cmd := exec.Command("rpmbuild", "-ba", "--nodeps", "--define", "_topdir "+top, specFile)
	cmd.Env = append(os.Environ(), "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	return filepath.Join(top, "RPMS/noarch", name+"-1.0-"+rel+".noarch.rpm"), filepath.Join(top, "SRPMS", name+"-1.0-"+rel+".src.rpm")
}

// debSource builds a Debian source package with the real dpkg-source in
// dir (3.0 (quilt), the orig tarball made once and shared by revisions).
func debSource(t *testing.T, dir, name, rev string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-1.0")
	must(t, os.MkdirAll(filepath.Join(tree, "debian/source"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "README"), []byte(name+"\n"), 0o644))
	orig := filepath.Join(dir, name+"_1.0.orig.tar.gz")
	if _, err := os.Stat(orig); err != nil {
		if out, err := exec.Command("tar", "-C", dir, "-czf", orig, "--exclude=debian", name+"-1.0").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	for p, body := range map[string]string{
		"debian/source/format": "3.0 (quilt)\n",
		"debian/control":       "Source: " + name + "\nMaintainer: V <v@example.jp>\n\nPackage: " + name + "\nArchitecture: all\nDescription: d\n x\n",
		"debian/changelog":     name + " (1:1.0-" + rev + ") bookworm; urgency=low\n\n  * r.\n\n -- V <v@example.jp>  Mon, 01 Jan 2024 00:00:00 +0000\n",
		"debian/rules":         "#!/usr/bin/make -f\n%:\n\tdh $@\n",
	} {
		must(t, os.WriteFile(filepath.Join(tree, p), []byte(body), 0o755))
	}
	cmd := exec.Command("dpkg-source", "-b", name+"-1.0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source: %v\n%s", err, out)
	}
	must(t, os.RemoveAll(tree))
	return filepath.Join(dir, name+"_1.0-"+rev+".dsc")
}

func addRepos(t *testing.T, p *Publisher, repos ...store.Repo) {
	t.Helper()
	ctx := context.Background()
	st := p.Store.(interface {
		AddProduct(context.Context, store.Product) error
		AddRepo(context.Context, store.Repo) error
	})
	for _, r := range repos {
		if r.Format == "deb" {
			st.AddProduct(ctx, store.Product{ID: "d", Name: "D", Format: "deb"})
		}
		must(t, st.AddRepo(ctx, r))
	}
}

func refused(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("got %v, want a refusal", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q lacks %q", err, w)
		}
	}
}

// TestSourceRPMs: a source RPM goes into a source repository (--arch src)
// only, signed like a binary and listed with arch src; a binary is refused
// there, a source RPM from a binary repository, each in one sentence.
func TestSourceRPMs(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	addRepos(t, p, store.Repo{ID: "x86-source", ProductID: "p", Format: "rpm", Arch: "src"})
	bin, src := srpm(t, "gpl", "1")

	for _, repo := range []string{"x86", "r"} {
		_, err := p.Publish(ctx, repo, []string{src}, Options{})
		refused(t, err, "it is a source RPM, but repository "+repo+" holds binary packages", "enmeid repo add "+repo+"-source --product p --arch src", "nothing was published")
	}
	_, err := p.Publish(ctx, "x86-source", []string{bin}, Options{})
	refused(t, err, "it is a binary RPM (noarch), but repository x86-source holds source RPMs only")

	res, err := p.Publish(ctx, "x86-source", []string{src}, Options{})
	must(t, err)
	pub, files := served(t, p, "x86-source")
	if res.Added != 1 || pub.Packages != 1 || files["Packages/g/gpl-1.0-1.src.rpm"] == "" {
		t.Fatalf("publish of a source RPM: %+v, served %v", res, files)
	}
	// Signed by the vendor, and listed as dnf lists source packages.
	signed := readServed(t, p, files["Packages/g/gpl-1.0-1.src.rpm"])
	if bytes.Equal(signed, mustRead(t, src)) {
		t.Error("the source RPM was served unsigned")
	}
	primary := ""
	for path, sum := range files {
		if strings.HasSuffix(path, "-primary.xml.gz") {
			primary = gunzip(t, readServed(t, p, sum))
		}
	}
	for _, want := range []string{"<arch>src</arch>", `<location href="Packages/g/gpl-1.0-1.src.rpm"/>`, `<rpm:entry name="make"/>`} {
		if !strings.Contains(primary, want) {
			t.Errorf("primary.xml lacks %q:\n%s", want, primary)
		}
	}
	// Publishing it again reuses the signed copy: its bytes stay.
	res, err = p.Publish(ctx, "x86-source", []string{src}, Options{})
	must(t, err)
	if _, again := served(t, p, "x86-source"); res.Reused != 1 || again["Packages/g/gpl-1.0-1.src.rpm"] != files["Packages/g/gpl-1.0-1.src.rpm"] {
		t.Errorf("republish of the source RPM: %+v, blob %s then %s", res, files["Packages/g/gpl-1.0-1.src.rpm"], again["Packages/g/gpl-1.0-1.src.rpm"])
	}
	// The SBOM knows the source package by what it is.
	facts, err := p.Store.(interface {
		PackageFacts(context.Context, []string) (map[string][]byte, error)
	}).PackageFacts(ctx, []string{packageID(files["Packages/g/gpl-1.0-1.src.rpm"], "Packages/g/gpl-1.0-1.src.rpm")})
	must(t, err)
	for _, raw := range facts {
		f, err := pkgfacts.Decode(raw)
		must(t, err)
		if f.Name != "gpl" || f.Arch != "src" || f.License != "GPL-2.0-only" || len(f.Files) != 0 || len(f.Requires) != 0 {
			t.Errorf("facts of the source RPM: %+v", f)
		}
	}
	if len(facts) != 1 {
		t.Errorf("%d facts stored for the source RPM", len(facts))
	}
	// A mirror keeps the upstream's signature on source RPMs too.
	res, err = p.Publish(ctx, "x86-source", []string{src}, Options{KeepSignatures: true, Signer: "D1STR0"})
	must(t, err)
	if _, kept := served(t, p, "x86-source"); !bytes.Equal(readServed(t, p, kept["Packages/g/gpl-1.0-1.src.rpm"]), mustRead(t, src)) {
		t.Errorf("a kept source RPM was not served as given (%+v)", res)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	must(t, err)
	return b
}

// TestDebianSourcePackages: a .dsc and the files it lists become one
// package of a deb source repository: every file served from the source's
// pool directory, the Sources index listing them with their checksums,
// Release naming Architectures: source. A second revision shares the orig
// tarball; what is wrong is refused with nothing stored.
func TestDebianSourcePackages(t *testing.T) {
	p, blobDir := setup(t)
	ctx := context.Background()
	addRepos(t, p, store.Repo{ID: "deb-src", ProductID: "d", Format: "deb", Arch: "source", Suite: "bookworm", Component: "main"},
		store.Repo{ID: "deb", ProductID: "d", Format: "deb", Suite: "bookworm", Component: "main"})
	dir := t.TempDir()
	dsc := debSource(t, dir, "libgpl", "1")

	_, err := p.Publish(ctx, "deb", []string{dsc}, Options{})
	refused(t, err, "it is a Debian source package, but repository deb holds binary packages", "--arch source --suite bookworm --component main")
	_, err = p.Publish(ctx, "r", []string{dsc}, Options{})
	refused(t, err, "it is a Debian package, but repository r holds rpm packages")
	deb, _ := dpkgDeb(t)
	_, err = p.Publish(ctx, "deb-src", []string{deb}, Options{})
	refused(t, err, "it is a binary Debian package, but repository deb-src holds source packages")
	_, err = p.Publish(ctx, "deb-src", []string{filepath.Join(dir, "libgpl_1.0.orig.tar.gz")}, Options{})
	refused(t, err, "it is not a Debian source package", "give the .dsc")

	// Damaged, missing and mismatched: refused before anything is stored.
	blobs, _ := countBlobs(blobDir)
	bad := t.TempDir()
	for name, data := range map[string]string{
		"garbage_1.dsc": "\x00\x01 not a control file",
		"nosums_1.dsc":  "Format: 1.0\nSource: nosums\nVersion: 1\nFiles:\n 0123456789abcdef0123456789abcdef 3 nosums_1.tar.gz\n",
		"missing_1.dsc": "Format: 1.0\nSource: missing\nVersion: 1\nChecksums-Sha256:\n " + strings.Repeat("ab", 32) + " 3 missing_1.tar.gz\n",
		"climb_1.dsc":   "Format: 1.0\nSource: climb\nVersion: 1\nChecksums-Sha256:\n " + strings.Repeat("ab", 32) + " 3 ../etc/passwd\n",
	} {
		must(t, os.WriteFile(filepath.Join(bad, name), []byte(data), 0o644))
	}
	for name, want := range map[string]string{
		"garbage_1.dsc": "invalid Debian source package",
		"nosums_1.dsc":  "lists no Checksums-Sha256",
		"missing_1.dsc": "it lists missing_1.tar.gz, which is not beside it",
		"climb_1.dsc":   "not a plain file name",
	} {
		_, err := p.Publish(ctx, "deb-src", []string{filepath.Join(bad, name)}, Options{})
		refused(t, err, want, "refusing "+filepath.Join(bad, name), "nothing was published")
	}
	tampered := t.TempDir()
	for _, name := range []string{"libgpl_1.0-1.dsc", "libgpl_1.0.orig.tar.gz", "libgpl_1.0-1.debian.tar.xz"} {
		b := mustRead(t, filepath.Join(dir, name))
		if strings.HasSuffix(name, ".orig.tar.gz") {
			b = append(b, 0)
		}
		must(t, os.WriteFile(filepath.Join(tampered, name), b, 0o644))
	}
	_, err = p.Publish(ctx, "deb-src", []string{tampered}, Options{})
	refused(t, err, "libgpl_1.0.orig.tar.gz does not match the size and checksums the .dsc lists for it")
	if n, _ := countBlobs(blobDir); n != blobs {
		t.Errorf("refused publishes stored %d blobs", n-blobs)
	}

	// The .dsc with its files named too: they come with it.
	res, err := p.Publish(ctx, "deb-src", []string{dsc, filepath.Join(dir, "libgpl_1.0.orig.tar.gz"), filepath.Join(dir, "libgpl_1.0-1.debian.tar.xz")}, Options{})
	must(t, err)
	pub, files := served(t, p, "deb-src")
	if res.Added != 1 || pub.Packages != 1 {
		t.Errorf("publish of one source package: %+v, publication of %d packages", res, pub.Packages)
	}
	pool := "pool/main/libg/libgpl/"
	for _, name := range []string{"libgpl_1.0-1.dsc", "libgpl_1.0.orig.tar.gz", "libgpl_1.0-1.debian.tar.xz"} {
		if got := readServed(t, p, files[pool+name]); !bytes.Equal(got, mustRead(t, filepath.Join(dir, name))) {
			t.Errorf("%s is not served as given", pool+name)
		}
	}
	sources := string(readServed(t, p, files["dists/bookworm/main/source/Sources"]))
	for _, want := range []string{"Package: libgpl\n", "Version: 1:1.0-1\n", "Directory: pool/main/libg/libgpl\n", "Format: 3.0 (quilt)\n",
		fmt.Sprintf(" %x %d libgpl_1.0-1.dsc\n", sha256Of(mustRead(t, dsc)), len(mustRead(t, dsc))), "Checksums-Sha1:\n", "Files:\n"} {
		if !strings.Contains(sources, want) {
			t.Errorf("Sources lacks %q:\n%s", want, sources)
		}
	}
	if strings.Contains(sources, "\nSource:") {
		t.Errorf("Sources keeps the .dsc's Source field:\n%s", sources)
	}
	release := string(readServed(t, p, files["dists/bookworm/Release"]))
	for _, want := range []string{"Architectures: source\n", " main/source/Sources.xz\n", " main/source/Sources.gz\n"} {
		if !strings.Contains(release, want) {
			t.Errorf("Release lacks %q:\n%s", want, release)
		}
	}
	if strings.Contains(release, "binary-") {
		t.Errorf("a source repository's Release lists binary indexes:\n%s", release)
	}

	// A build directory holding the .deb too: each repository takes its own.
	must(t, os.WriteFile(filepath.Join(dir, filepath.Base(deb)), mustRead(t, deb), 0o644))
	if res, err := p.Publish(ctx, "deb", []string{dir}, Options{}); err != nil || res.Added != 1 {
		t.Errorf("publishing the build directory into the binary repository: %+v, %v", res, err)
	}
	if _, files := served(t, p, "deb"); files["pool/main/t/tool/tool_2.0-1_amd64.deb"] == "" || len(files) == 0 {
		t.Errorf("the binary repository serves %v", files)
	}
	_, err = p.Publish(ctx, "deb-src", []string{t.TempDir()}, Options{})
	refused(t, err, "no source packages given")

	// Again: nothing new. A second revision: the orig tarball is shared.
	res, err = p.Publish(ctx, "deb-src", []string{dir}, Options{})
	if err != nil || res.Added != 1 || res.Reused != 1 {
		t.Errorf("publishing the same source package again: %+v, %v", res, err)
	}
	debSource(t, dir, "libgpl", "2")
	res, err = p.Publish(ctx, "deb-src", []string{dir}, Options{})
	must(t, err)
	pub, files = served(t, p, "deb-src")
	if res.Added != 2 || pub.Packages != 2 {
		t.Errorf("two revisions: %+v, publication of %d packages", res, pub.Packages)
	}
	m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
	must(t, err)
	if len(m.Packages) != 5 {
		t.Errorf("two revisions sharing their orig tarball are %d records, want 5", len(m.Packages))
	}
	if sources := string(readServed(t, p, files["dists/bookworm/main/source/Sources"])); strings.Count(sources, "Package: libgpl\n") != 2 {
		t.Errorf("Sources of two revisions:\n%s", sources)
	}
	// Another orig tarball under the published one's name: refused.
	dsc3 := debSourceWithOrig(t, t.TempDir(), "libgpl", "3")
	_, err = p.Publish(ctx, "deb-src", []string{dsc3}, Options{})
	refused(t, err, "it lists libgpl_1.0.orig.tar.gz, which is already published in deb-src with different content")
}

// debSourceWithOrig is debSource with an orig tarball of other content.
func debSourceWithOrig(t *testing.T, dir, name, rev string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-1.0")
	must(t, os.MkdirAll(tree, 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "README"), []byte(name+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(tree, "OTHER"), []byte("another upstream tarball\n"), 0o644))
	if out, err := exec.Command("tar", "-C", dir, "-czf", filepath.Join(dir, name+"_1.0.orig.tar.gz"), name+"-1.0").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return debSource(t, dir, name, rev)
}

func sha256Of(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
