package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/testutil/sbomschema"
)

// dpkgRoot makes a scratch Debian 12 root (amd64, with i386 as a foreign
// architecture) whose status file the real dpkg writes.
func dpkgRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/lib", "var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644))
	// As Debian has it: /etc/os-release is a relative link.
	must(t, os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte(debianRelease), 0o644))
	must(t, os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")))
	must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("deb01.example.jp\n"), 0o644))
	dpkg(t, root, "--add-architecture", "i386")
	return root
}

// dpkg runs the real dpkg on a scratch root: not as root, maintainer
// scripts (none of these packages has any) outside a chroot, whatever the
// machine's own architecture.
func dpkg(t *testing.T, root string, args ...string) {
	t.Helper()
	base := []string{"--root", root, "--force-not-root", "--force-script-chrootless", "--force-architecture", "--log=/dev/null"}
	cmd := exec.Command("dpkg", append(base, args...)...)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
}

// buildDeb builds a package with dpkg-deb that no vendor publishes, from
// control fields after "Package", its files and which of them are
// conffiles.
func buildDeb(t *testing.T, name, control string, files map[string]string, conffiles ...string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), name)
	must(t, os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755))
	for p, body := range files {
		must(t, os.MkdirAll(filepath.Join(tree, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(tree, p), []byte(body), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte("Package: "+name+"\n"+control+
		"Maintainer: Local Admin <admin@example.jp>\nDescription: built here\n Built on this host.\n"), 0o644))
	if len(conffiles) > 0 {
		must(t, os.WriteFile(filepath.Join(tree, "DEBIAN/conffiles"), []byte(strings.Join(conffiles, "\n")+"\n"), 0o644))
	}
	out := tree + ".deb"
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", tree, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, b)
	}
	return out
}

// TestHostSBOMDebian: enmei cert import and enmei sbom on a Debian 12 root
// into which the real dpkg installed the vendor's published debs and
// locally built ones: a tool, a Multi-Arch: same library for amd64 and
// i386, and a package removed with its conffiles left ("rc"). In all six
// formats, read back with independent readers (the JSON ones and CycloneDX
// XML also checked against the official schemas), exactly the packages
// dpkg-query lists as installed are in the SBOM, with their versions and
// the PURL pkg:deb/debian/NAME@VERSION?arch=ARCH[&epoch=E]&distro=debian-12;
// the vendor's packages carry the vendor as supplier and the published
// file's SHA-256; the local ones are marked not vendor-verified and are
// the only ones named on stderr.
func TestHostSBOMDebian(t *testing.T) {
	v, dir, names, p12 := tlsSBOMVendor(t, "deb12")
	sums := map[string]string{} // package name → SHA-256 of the published .deb
	var debs []string
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		must(t, err)
		sum := sha256.Sum256(data)
		sums[strings.SplitN(n, "_", 2)[0]] = hex.EncodeToString(sum[:])
		debs = append(debs, filepath.Join(dir, n))
	}
	local := []string{
		buildDeb(t, "local-tool", "Version: 2.0-1\nArchitecture: amd64\n", map[string]string{"usr/bin/local-tool": "#!/bin/sh\necho local\n"}),
		buildDeb(t, "local-lib", "Version: 0.9+git20240101-1\nArchitecture: amd64\nMulti-Arch: same\n",
			map[string]string{"usr/lib/x86_64-linux-gnu/liblocal.so.1": "amd64\n", "usr/share/doc/local-lib/README": "shared\n"}),
		buildDeb(t, "local-lib", "Version: 0.9+git20240101-1\nArchitecture: i386\nMulti-Arch: same\n",
			map[string]string{"usr/lib/i386-linux-gnu/liblocal.so.1": "i386\n", "usr/share/doc/local-lib/README": "shared\n"}),
		buildDeb(t, "local-conf", "Version: 1.0\nArchitecture: all\n", map[string]string{"etc/local-conf.conf": "x=1\n"}, "/etc/local-conf.conf"),
	}
	root := dpkgRoot(t)
	dpkg(t, root, append([]string{"-i"}, append(debs, local[0], local[1], local[3])...)...)
	dpkg(t, root, "-i", local[2]) // the i386 one beside the amd64 one
	dpkg(t, root, "-r", "local-conf")

	// What dpkg itself says is installed ("ii"), and that local-conf is
	// left with its configuration only ("rc").
	q := exec.Command("dpkg-query", "--admindir", filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n")
	qout, err := q.Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	installed := map[string]string{} // name:arch → version
	configOnly := false
	for line := range strings.Lines(string(qout)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 4 {
			t.Fatalf("dpkg-query printed %q", line)
		}
		switch st := strings.TrimSpace(f[3]); {
		case st == "ii":
			installed[f[0]+":"+f[2]] = f[1]
		case f[0] == "local-conf" && st == "rc":
			configOnly = true
		default:
			t.Fatalf("dpkg-query printed %q", line)
		}
	}
	// The PURLs, written out: syft's form, the epoch as a qualifier, '+'
	// percent-encoded.
	wantPURL := map[string]string{
		"enmei-demo-lib:amd64":   "pkg:deb/debian/enmei-demo-lib@1.0-1?arch=amd64&epoch=1&distro=debian-12",
		"enmei-demo-hello:amd64": "pkg:deb/debian/enmei-demo-hello@1.0-1?arch=amd64&distro=debian-12",
		"enmei-demo-doc:all":     "pkg:deb/debian/enmei-demo-doc@1.0-1?arch=all&distro=debian-12",
		"local-tool:amd64":       "pkg:deb/debian/local-tool@2.0-1?arch=amd64&distro=debian-12",
		"local-lib:amd64":        "pkg:deb/debian/local-lib@0.9%2Bgit20240101-1?arch=amd64&distro=debian-12",
		"local-lib:i386":         "pkg:deb/debian/local-lib@0.9%2Bgit20240101-1?arch=i386&distro=debian-12",
	}
	if len(installed) != len(wantPURL) || installed["enmei-demo-lib:amd64"] != "1:1.0-1" || !configOnly {
		t.Fatalf("dpkg-query lists %v installed, local-conf in rc state: %v", installed, configOnly)
	}
	unverified := []string{"local-lib-0.9+git20240101-1.amd64", "local-lib-0.9+git20240101-1.i386", "local-tool-2.0-1.amd64"}

	certImport(t, root, p12)
	for _, format := range sbomFormats {
		r := run(t, nil, bin.enmei, "--root", root, "sbom", "--server", v.url, "--format", format)
		if r.code != 0 {
			t.Fatalf("sbom --format %s: exit %d %s", format, r.code, r.stderr)
		}
		sbomschema.Validate(t, format, []byte(r.stdout))
		if want := "enmei: 3 of 6 installed packages are not published by the vendor and are listed as not vendor-verified: " +
			strings.Join(unverified, ", ") + "\n"; r.stderr != want {
			t.Errorf("%s: stderr = %q, want %q", format, r.stderr, want)
		}
		all := readHostSBOM(t, format, []byte(r.stdout))
		if root, ok := all["debian"]; !ok || !root.OS || root.Version != "12" {
			t.Errorf("%s: no Debian 12 root component: %+v", format, all["debian"])
		}
		pkgs := packagesOf(all)
		if len(pkgs) != len(installed) {
			t.Errorf("%s: %d packages, dpkg lists %d: %v", format, len(pkgs), len(installed), pkgs)
		}
		for key, version := range installed {
			p, ok := pkgs[key]
			if !ok {
				t.Errorf("%s: %s is missing", format, key)
				continue
			}
			if p.Version != version || p.PURL != wantPURL[key] {
				t.Errorf("%s: %s = version %q purl %q, want %q %q", format, key, p.Version, p.PURL, version, wantPURL[key])
			}
			if strings.HasPrefix(key, "local-") {
				if p.Verified || p.SHA256 != "" || (p.Supplier != "NOASSERTION" && p.Supplier != "") {
					t.Errorf("%s: the local package %s is shown as the vendor's: %+v", format, key, p)
				}
				continue
			}
			if !p.Verified || p.SHA256 != sums[p.Name] || p.Supplier == "" || p.Supplier == "NOASSERTION" {
				t.Errorf("%s: %s is not the vendor's verified package (sha256 want %s): %+v", format, key, sums[p.Name], p)
			}
		}
	}
}
