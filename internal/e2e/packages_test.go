package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackages builds the RPM and deb packages with scripts/package, installs
// them with the real rpm and dpkg into scratch roots, and has
// systemd-analyze verify the units they carry.
func TestPackages(t *testing.T) {
	dist := buildPackages(t, "enmeid enmei", "9.8.7~test1")
	glob := func(p string) string {
		m, _ := filepath.Glob(filepath.Join(dist, p))
		if len(m) != 1 {
			t.Fatalf("%s: %v", p, m)
		}
		return m[0]
	}
	runOK := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	units := []string{"usr/lib/systemd/system/enmeid.service", "usr/lib/systemd/system/enmei-heartbeat.service",
		"usr/lib/systemd/system/enmei-heartbeat.timer"}
	check := func(root, how string) {
		t.Helper()
		for _, f := range append([]string{"usr/bin/enmeid", "usr/bin/enmei", "etc/enmei/enmeid.env"}, units...) {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("%s: %s is not installed: %v", how, f, err)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, "etc/enmei/enmeid.env")); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: enmeid.env mode %v, want 0600 (it may hold credentials)", how, fi.Mode().Perm())
		}
		if out := runOK(filepath.Join(root, "usr/bin/enmeid"), "version"); !strings.Contains(out, "9.8.7~test1") {
			t.Errorf("%s: enmeid version says %q", how, out)
		}
		// systemd-analyze checks the units as written, with ExecStart
		// pointing at the binaries in the scratch root.
		dir := t.TempDir()
		var paths []string
		for _, u := range units {
			b, err := os.ReadFile(filepath.Join(root, u))
			must(t, err)
			p := filepath.Join(dir, filepath.Base(u))
			must(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "/usr/bin/", filepath.Join(root, "usr/bin")+"/")), 0o644))
			paths = append(paths, p)
		}
		if out := runOK("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...); strings.TrimSpace(out) != "" {
			t.Errorf("%s: systemd-analyze verify:\n%s", how, out)
		}
		unit, _ := os.ReadFile(filepath.Join(root, units[0]))
		for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=enmei", "NoNewPrivileges=yes"} {
			if !strings.Contains(string(unit), want) {
				t.Errorf("%s: enmeid.service lacks %s", how, want)
			}
		}
	}

	rpmRoot := t.TempDir()
	runOK("rpm", "--root", rpmRoot, "--initdb")
	runOK("rpm", "--root", rpmRoot, "-i", "--nodeps", "--noscripts", glob("enmeid-*.x86_64.rpm"), glob("enmei-*.x86_64.rpm"))
	if out := runOK("rpm", "--root", rpmRoot, "-q", "enmeid", "enmei"); !strings.Contains(out, "enmeid-9.8.7~test1") {
		t.Errorf("rpm -q: %s", out)
	}
	check(rpmRoot, "rpm")

	debRoot := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(debRoot, "var/lib/dpkg/info"), 0o755))
	must(t, os.MkdirAll(filepath.Join(debRoot, "var/lib/dpkg/updates"), 0o755))
	must(t, os.WriteFile(filepath.Join(debRoot, "var/lib/dpkg/status"), nil, 0o644))
	runOK("dpkg", "--root="+debRoot, "--log=/dev/null", "-i", glob("enmeid_*_amd64.deb"), glob("enmei_*_amd64.deb"))
	if out := runOK("dpkg-query", "--admindir="+filepath.Join(debRoot, "var/lib/dpkg"), "-W", "enmeid"); !strings.Contains(out, "9.8.7~test1") {
		t.Errorf("dpkg-query: %s", out)
	}
	check(debRoot, "dpkg")
}
