package oval

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/rpmpack"
)

// These tests run OpenSCAP itself, the scanner the files are for: its
// validator on the golden files, and its rpminfo and dpkginfo probes on
// scratch roots, so that what is tested is what a customer's scanner
// concludes. On Debian they need
//
//	apt-get install -y openscap-scanner openscap-utils rpm
//
// openscap-scanner for oscap (and, through openscap-common, the OVAL
// schemas), openscap-utils for oscap-chroot, rpm to write the scratch
// rpm databases; dpkg and util-linux (unshare) are always there.

// toolPackages names the Debian package of each command the tests run.
var toolPackages = map[string]string{
	"oscap": "openscap-scanner", "oscap-chroot": "openscap-utils", "rpm": "rpm",
	"dpkg": "dpkg", "unshare": "util-linux",
}

// tool fails the test when a command is missing, naming the package.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: apt-get install -y %s (all the tests need: apt-get install -y openscap-scanner openscap-utils rpm)", name, toolPackages[name])
	}
	return p
}

// runCmd runs a command with extra environment and returns its output;
// a failure fails the test with everything it printed.
func runCmd(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// TestOscapValidate has OpenSCAP validate the golden files against the
// OVAL XML schemas and the schematron rules of the schema version each
// declares (5.11 for rpm, 5.11.1 for deb).
func TestOscapValidate(t *testing.T) {
	for _, product := range []string{"almalinux-9", "debian-12"} {
		t.Run(product, func(t *testing.T) {
			file := filepath.Join("testdata", product+".xml")
			out := runCmd(t, nil, "oscap", "oval", "validate", file)
			if strings.TrimSpace(out) != "" {
				// oscap is silent on a valid document; schematron
				// warnings (evr_string on a dpkginfo state, say) come
				// with a failure, but fail on any output all the same.
				t.Errorf("oscap oval validate %s printed:\n%s", file, out)
			}
		})
	}
	// A large document, with objects and states shared between many
	// definitions, against the schema only: the schematron's XSLT takes
	// seconds for a few dozen definitions (the golden files, which
	// share objects, states and tests too, get both).
	b, err := Definitions(synthetic(2000, 10), "p0", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "p0.xml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runCmd(t, nil, "oscap", "oval", "validate", "--skip-schematron", file); strings.TrimSpace(out) != "" {
		t.Errorf("oscap oval validate of 2000 synthetic definitions printed:\n%s", out)
	}
}

// evaluate runs
//
//	oscap-chroot ROOT oval eval --results RESULTS FILE
//
// (oscap-chroot sets OSCAP_PROBE_ROOT for the probes) and returns each
// definition's result from the results file.
func evaluate(t testing.TB, root string, env []string, doc []byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	file, results := filepath.Join(dir, "oval.xml"), filepath.Join(dir, "results.xml")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{root, "oval", "eval", "--results", results, file}
	name := "oscap-chroot"
	if os.Geteuid() != 0 {
		// The rpminfo probe chroots into the root, which needs root
		// privileges; a user namespace gives them to anyone.
		name, args = "unshare", append([]string{"--map-root-user", tool(t, "oscap-chroot")}, args...)
	}
	out := runCmd(t, env, name, args...)
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Definitions []struct {
			ID     string `xml:"definition_id,attr"`
			Result string `xml:"result,attr"`
		} `xml:"results>system>definitions>definition"`
	}
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range r.Definitions {
		got[d.ID] = d.Result
	}
	if len(got) == 0 {
		t.Fatalf("no definition results in %s; oscap printed:\n%s", results, out)
	}
	// A probe that cannot read the package database reports no items,
	// which would read as "not vulnerable": oscap says so only on stderr.
	if strings.Contains(out, "E: oscap") {
		t.Fatalf("oscap reported an error:\n%s", out)
	}
	return got
}

func checkResults(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: definition %s is %q, want %q (all: %v)", what, id, got[id], w, got)
		}
	}
}

// debRoot makes a root whose dpkg status lists the packages (name →
// version). Besides var/lib/dpkg/status, apt (which OpenSCAP 1.3's
// dpkginfo probe reads the database through) needs dpkg's CPU and tuple
// tables, which every Debian root has.
func debRoot(t testing.TB, pkgs map[string]string) string {
	t.Helper()
	root := t.TempDir()
	var status strings.Builder
	for name, version := range pkgs {
		// Architecture all: the test does not depend on the machine's.
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: Tests <tests@example.com>\nArchitecture: all\nVersion: %s\nDescription: test package\n\n", name, version)
	}
	write(t, filepath.Join(root, "var/lib/dpkg/status"), status.String())
	for _, table := range []string{"cputable", "tupletable"} {
		b, err := os.ReadFile(filepath.Join("/usr/share/dpkg", table))
		if err != nil {
			t.Fatalf("%v: install dpkg", err)
		}
		write(t, filepath.Join(root, "usr/share/dpkg", table), string(b))
	}
	return root
}

// aptEnv keeps the probe's apt to the scratch root: apt reads the host's
// /etc/apt/apt.conf.d before the probe points it at the root, and a
// host setting such as Docker images' Dir::Cache::pkgcache "" breaks
// the cache there. Naming the architectures spares apt running the
// root's own dpkg (in a chroot, which needs privileges) to ask.
func aptEnv(t testing.TB) []string {
	t.Helper()
	dir := t.TempDir()
	arch := strings.TrimSpace(runCmd(t, nil, "dpkg", "--print-architecture"))
	conf := filepath.Join(dir, "apt.conf")
	write(t, conf, fmt.Sprintf("Dir::Etc::parts %q;\nDir::Etc::main \"/dev/null\";\nAPT::Architectures { %q; };\n", filepath.Join(dir, "parts"), arch))
	if err := os.MkdirAll(filepath.Join(dir, "parts"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"APT_CONFIG=" + conf}
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOscapEvalDeb evaluates the Debian golden file with OpenSCAP's
// dpkginfo probe before and after the fix. The versions are ones where
// Debian's ordering matters: "~" sorts before the end of a version, and
// an epoch outranks any version.
func TestOscapEvalDeb(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "debian-12.xml"))
	if err != nil {
		t.Fatal(err)
	}
	env := aptEnv(t)
	const openssl, tar = "oval:io.enmei.enmei-sa:def:202600003", "oval:io.enmei.enmei-sa:def:202600004"
	for _, c := range []struct {
		name string
		pkgs map[string]string
		want map[string]string
	}{
		{"before the fix", map[string]string{"libssl3": "3.0.15-1~deb12u1", "tar": "1.34+dfsg-1.2+deb12u1"},
			map[string]string{openssl: "true", tar: "true"}},
		{"fixed", map[string]string{"libssl3": "3.0.15-1~deb12u1+els1", "openssl": "3.0.15-1~deb12u1+els1", "tar": "1:1.34+dfsg-1.2+deb12u1+els1"},
			map[string]string{openssl: "false", tar: "false"}},
		// 3.0.15-1 is after 3.0.15-1~deb12u1+els1 ("~" sorts first), so
		// nothing to fix; 1.35 has no epoch, so it is before 1:1.34.
		{"newer without tilde, older without epoch", map[string]string{"libssl3": "3.0.15-1", "tar": "1.35-1"},
			map[string]string{openssl: "false", tar: "true"}},
		{"one of two packages old", map[string]string{"libssl3": "3.0.15-1~deb12u1+els1", "openssl": "3.0.15-1~deb12u1"},
			map[string]string{openssl: "true", tar: "false"}},
		{"not installed", map[string]string{"bash": "5.2.15-2+b7"},
			map[string]string{openssl: "false", tar: "false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkResults(t, c.name, evaluate(t, debRoot(t, c.pkgs), env, doc), c.want)
		})
	}
}

// rpmSpec is an installed package of a scratch rpm root.
type rpmSpec struct {
	name, version, release, arch string
	epoch                        uint32 // rpmpack.NoEpoch for none
}

// rpmRoot makes a root whose rpm database (SQLite, in var/lib/rpm as on
// RHEL 9) holds the packages, built with rpmpack and registered with
// rpm --justdb. Debian's rpm keeps its database in ~/.rpmdb, hence the
// --dbpath.
func rpmRoot(t testing.TB, pkgs ...rpmSpec) string {
	t.Helper()
	root, pkgDir := t.TempDir(), t.TempDir()
	var files []string
	for _, s := range pkgs {
		r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{
			Name: s.name, Version: s.version, Release: s.release, Epoch: s.epoch, Arch: s.arch, OS: "linux",
			Summary: s.name, Description: s.name + ".", Licence: "MIT", Vendor: "enmei tests",
			BuildTime: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Compressor: "gzip",
		})
		if err != nil {
			t.Fatal(err)
		}
		r.AddFile(rpmpack.RPMFile{Name: "/usr/share/doc/" + s.name + "-" + s.arch + "/README", Body: []byte(s.name + "\n"), Mode: 0o644, Owner: "root", Group: "root"})
		var buf bytes.Buffer
		if err := r.Write(&buf); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(pkgDir, fmt.Sprintf("%s-%s-%s.%s.rpm", s.name, s.version, s.release, s.arch))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	db := []string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"}
	runCmd(t, nil, "rpm", append(db, "--initdb")...)
	if len(files) > 0 {
		runCmd(t, nil, "rpm", append(append(db, "-i", "--justdb", "--nodeps", "--noscripts", "--nosignature", "--ignorearch", "--ignoreos"), files...)...)
	}
	return root
}

// rpmEnv gives the rpminfo probe an EL host's database path. The probe
// reads the host's rpm macros before it chroots into the root, and
// Debian's define %_dbpath as the output of bash -c 'echo ~/.rpmdb',
// which fails in a root without bash (and would name the wrong place);
// ~/.rpmmacros is read last, so a HOME holding one that says
// /var/lib/rpm, as on RHEL, wins. (OSCAP_PROBE_RPMDB_PATH does not
// help: the shell expansion is attempted all the same.)
func rpmEnv(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	write(t, filepath.Join(home, ".rpmmacros"), "%_dbpath /var/lib/rpm\n")
	return []string{"HOME=" + home}
}

// TestOscapEvalRPM evaluates the AlmaLinux golden file with OpenSCAP's
// rpminfo probe before and after the fix.
func TestOscapEvalRPM(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "almalinux-9.xml"))
	if err != nil {
		t.Fatal(err)
	}
	env := rpmEnv(t)
	const (
		openssl27 = "oval:io.enmei.enmei-sa:def:202500042" // openssl < 1:3.0.7-27.el9 (x86_64)
		openssl28 = "oval:io.enmei.enmei-sa:def:202600001" // openssl, openssl-libs < 1:3.0.7-28.el9
		libs      = "oval:io.enmei.enmei-ba:def:202600001" // openssl-libs < 1:3.0.7-28.el9 (i686, x86_64)
		tzdata    = "oval:io.enmei.enmei-sa:def:202600002" // tzdata < 0:2026a-1.el9 (noarch)
	)
	for _, c := range []struct {
		name string
		pkgs []rpmSpec
		want map[string]string
	}{
		{"before the fix", []rpmSpec{
			{"openssl", "3.0.7", "27.el9", "x86_64", 1},
			{"openssl-libs", "3.0.7", "27.el9", "x86_64", 1},
			{"tzdata", "2025b", "1.el9", "noarch", rpmpack.NoEpoch},
		}, map[string]string{openssl27: "false", openssl28: "true", libs: "true", tzdata: "true"}},
		{"fixed", []rpmSpec{
			{"openssl", "3.0.7", "28.el9", "x86_64", 1},
			{"openssl-libs", "3.0.7", "28.el9", "x86_64", 1},
			{"tzdata", "2026a", "1.el9", "noarch", rpmpack.NoEpoch},
		}, map[string]string{openssl27: "false", openssl28: "false", libs: "false", tzdata: "false"}},
		// 9.9 is a later version, but epoch 0 is before epoch 1.
		{"epoch wins", []rpmSpec{
			{"openssl", "9.9", "1", "x86_64", 0},
			{"tzdata", "2030a", "1.el9", "noarch", 0},
		}, map[string]string{openssl27: "true", openssl28: "true", libs: "false", tzdata: "false"}},
		// The advisory fixed openssl-libs for i686 and x86_64: an old
		// aarch64 build is not this advisory's to fix, an old i686 one
		// beside a fixed x86_64 one (multilib) is.
		{"architectures", []rpmSpec{
			{"openssl-libs", "3.0.7", "27.el9", "aarch64", 1},
		}, map[string]string{openssl28: "false", libs: "false"}},
		{"multilib", []rpmSpec{
			{"openssl-libs", "3.0.7", "28.el9", "x86_64", 1},
			{"openssl-libs", "3.0.7", "27.el9", "i686", 1},
		}, map[string]string{openssl28: "true", libs: "true"}},
		{"not installed", []rpmSpec{
			{"bash", "5.1.8", "9.el9", "x86_64", rpmpack.NoEpoch},
		}, map[string]string{openssl27: "false", openssl28: "false", libs: "false", tzdata: "false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkResults(t, c.name, evaluate(t, rpmRoot(t, c.pkgs...), env, doc), c.want)
		})
	}
}
