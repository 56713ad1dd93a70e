package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/enmei-project/enmei/internal/testutil/sbomschema"
)

// unxzFixture decompresses an rpm database fixture of the inventory
// package's testdata into dst.
func unxzFixture(t *testing.T, fixture, dst string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "inventory", "testdata", "rpmdb", fixture))
	must(t, err)
	defer f.Close()
	r, err := xz.NewReader(f)
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	out, err := os.Create(dst)
	must(t, err)
	if _, err := io.Copy(out, r); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
}

// TestHostSBOMOldRPMDB: enmei sbom on roots whose rpm database is a real
// distribution's Berkeley DB (CentOS 5, /var/lib/rpm/Packages) or NDB
// (SUSE Linux Enterprise 15 SP3, /usr/lib/sysimage/rpm/Packages.db, with
// /var/lib/rpm an absolute link to its directory). None
// of their packages is the vendor's: the command still succeeds (exit 0),
// lists every package — as many as the real rpm (Berkeley DB) or go-rpmdb's
// tests (NDB) count — each marked not vendor-verified with no supplier or
// checksum, names them all on stderr, and gives the PURLs of syft's form
// for the distribution named by os-release (or, on CentOS 5, by
// /etc/redhat-release).
func TestHostSBOMOldRPMDB(t *testing.T) {
	v, _, _, p12 := tlsSBOMVendor(t, "el9")
	for _, c := range []struct {
		name, fixture, db, releaseFile, osRelease, osID, osVersion string
		count                                                      int
		useRPM                                                     bool                 // count and check versions with the real rpm (bdb_ro)
		known                                                      map[string][2]string // name:arch → version in the SBOM, PURL
	}{
		{
			name: "centos5-bdb", fixture: "centos5-plain-Packages.xz", db: "var/lib/rpm/Packages",
			// CentOS 5 predates os-release: only /etc/redhat-release.
			releaseFile: "etc/redhat-release", osRelease: "CentOS release 5.11 (Final)\n",
			osID: "centos", osVersion: "5.11", count: 110, useRPM: true,
			known: map[string][2]string{
				"bind-libs:x86_64": {"30:9.3.6-25.P1.el5_11.8",
					"pkg:rpm/centos/bind-libs@9.3.6-25.P1.el5_11.8?arch=x86_64&epoch=30&upstream=bind-9.3.6-25.P1.el5_11.8.src.rpm&distro=centos-5.11"},
				"bash:x86_64": {"3.2-33.el5_11.4",
					"pkg:rpm/centos/bash@3.2-33.el5_11.4?arch=x86_64&upstream=bash-3.2-33.el5_11.4.src.rpm&distro=centos-5.11"},
				"basesystem:noarch": {"8.0-5.1.1.el5.centos",
					"pkg:rpm/centos/basesystem@8.0-5.1.1.el5.centos?arch=noarch&upstream=basesystem-8.0-5.1.1.el5.centos.src.rpm&distro=centos-5.11"},
				"libstdc++:x86_64": {"4.1.2-55.el5", // escaped as the purl specification says
					"pkg:rpm/centos/libstdc%2B%2B@4.1.2-55.el5?arch=x86_64&upstream=gcc-4.1.2-55.el5.src.rpm&distro=centos-5.11"},
			},
		},
		{
			name: "sles15-ndb", fixture: "sle15-bci-Packages.db.xz", db: "usr/lib/sysimage/rpm/Packages.db", releaseFile: "etc/os-release",
			osRelease: "NAME=\"SLES\"\nVERSION=\"15-SP3\"\nVERSION_ID=\"15.3\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP3\"\nID=\"sles\"\nID_LIKE=\"suse\"\n",
			osID:      "sles", osVersion: "15.3", count: 35,
			known: map[string][2]string{
				"glibc:x86_64": {"2.31-9.3.2",
					"pkg:rpm/sles/glibc@2.31-9.3.2?arch=x86_64&upstream=glibc-2.31-9.3.2.src.rpm&distro=sles-15.3"},
				"sles-release:x86_64": {"15.3-55.4.1",
					"pkg:rpm/sles/sles-release@15.3-55.4.1?arch=x86_64&upstream=sles-release-15.3-55.4.1.src.rpm&distro=sles-15.3"},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			unxzFixture(t, c.fixture, filepath.Join(root, c.db))
			must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
			must(t, os.WriteFile(filepath.Join(root, c.releaseFile), []byte(c.osRelease), 0o644))
			must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte(c.name+".example.jp\n"), 0o644))
			if strings.HasPrefix(c.db, "usr/lib/sysimage/") {
				// As on SUSE: the old path is a link to the new one, absolute
				// (so it means the root's own directory, not this machine's).
				must(t, os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
				must(t, os.Symlink("/usr/lib/sysimage/rpm", filepath.Join(root, "var/lib/rpm")))
			}

			// The reference list: the real rpm where it can read the format
			// (Debian's rpm reads Berkeley DB read-only, has no NDB).
			var want map[string]string // name → [epoch:]version-release
			if c.useRPM {
				cmd := exec.Command("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend bdb_ro",
					"-qa", "--qf", `%{NAME}\t%{EPOCH}\t%{VERSION}-%{RELEASE}\n`)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("rpm -qa: %v", err)
				}
				want = map[string]string{}
				for line := range strings.Lines(string(out)) {
					f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
					if len(f) != 3 || f[0] == "gpg-pubkey" {
						continue
					}
					evr := f[2]
					if f[1] != "(none)" {
						evr = f[1] + ":" + evr
					}
					want[f[0]] = evr
				}
				if len(want) != c.count {
					t.Fatalf("rpm lists %d packages, the fixture's README %d", len(want), c.count)
				}
			}

			certImport(t, root, p12)
			r := run(t, nil, bin.enmei, "--root", root, "sbom", "--server", v.url, "--format", "spdx-json")
			if r.code != 0 {
				t.Fatalf("sbom: exit %d %s", r.code, r.stderr)
			}
			sbomschema.Validate(t, "spdx-json", []byte(r.stdout))
			prefix := "enmei: " + strconv.Itoa(c.count) + " of " + strconv.Itoa(c.count) + " installed packages are not published by the vendor"
			if !strings.HasPrefix(r.stderr, prefix) {
				t.Errorf("stderr = %.300s, want it to start %q", r.stderr, prefix)
			}
			all := readHostSBOM(t, "spdx-json", []byte(r.stdout))
			if root, ok := all[c.osID]; !ok || !root.OS || root.Version != c.osVersion {
				t.Errorf("no %s %s root component: %+v", c.osID, c.osVersion, all[c.osID])
			}
			pkgs := packagesOf(all)
			if len(pkgs) != c.count {
				t.Errorf("%d packages in the SBOM, want %d", len(pkgs), c.count)
			}
			for key, p := range pkgs {
				if p.Verified || p.SHA256 != "" || p.Supplier != "NOASSERTION" {
					t.Errorf("%s is not marked as not vendor-verified: %+v", key, p)
				}
				wantPrefix := "pkg:rpm/" + c.osID + "/"
				if !strings.HasPrefix(p.PURL, wantPrefix) || !strings.HasSuffix(p.PURL, "&distro="+c.osID+"-"+c.osVersion) || !strings.Contains(p.PURL, "?arch=") {
					t.Errorf("%s: purl %q", key, p.PURL)
				}
				if want != nil && want[p.Name] != p.Version {
					t.Errorf("%s: version %q, rpm says %q", key, p.Version, want[p.Name])
				}
				if !strings.Contains(r.stderr, " "+p.Name+"-"+p.Version+"."+p.Arch) {
					t.Errorf("stderr does not name %s", key)
				}
			}
			for name, k := range c.known {
				p, ok := pkgs[name]
				switch {
				case !ok:
					t.Errorf("%s is missing", name)
				case p.Version != k[0] || p.PURL != k[1]:
					t.Errorf("%s = %q %q, want %q %q", name, p.Version, p.PURL, k[0], k[1])
				}
			}
		})
	}
}
