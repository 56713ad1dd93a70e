package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
)

// dnf runs the real dnf against a scratch root with the configuration
// `enmei register` wrote there, signature checks on.
func (h *host) dnf(args ...string) (string, error) {
	h.t.Helper()
	return h.dnfWith(h.root, args...)
}

// dnfWith runs dnf on the host's root with the repository configuration
// and signing key found under conf (a container build's secret mounts).
func (h *host) dnfWith(conf string, args ...string) (string, error) {
	h.t.Helper()
	must(h.t, os.MkdirAll(filepath.Join(h.root, "var/log"), 0o755))
	base := []string{
		"-y", "--installroot=" + h.root, "--releasever=9", "--noplugins",
		"--setopt=reposdir=" + filepath.Join(conf, "etc/yum.repos.d"),
		"--setopt=cachedir=" + filepath.Join(h.root, "var/cache/dnf"),
		"--setopt=logdir=" + filepath.Join(h.root, "var/log"),
		"--setopt=install_weak_deps=0",
		"--setopt=*.gpgkey=file://" + filepath.Join(conf, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"),
		"--setopt=gpgcheck=1", "--setopt=repo_gpgcheck=1",
	}
	cmd := exec.Command("dnf", append(base, args...)...)
	cmd.Env = append(cleanEnv(), h.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (h *host) rpmQuery(name string) string {
	h.t.Helper()
	cmd := exec.Command("rpm", "--root", h.root, "-q", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}", name)
	cmd.Env = append(cleanEnv(), h.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "not installed: " + strings.TrimSpace(string(out))
	}
	return string(out)
}

// TestDNF: register a scratch AlmaLinux root, install a package with a
// dependency and an epoch with the real dnf (gpgcheck=1, repo_gpgcheck=1),
// then publish a newer release and upgrade to it.
func TestDNF(t *testing.T) {
	v, c := demoVendor(t, "el9", 3)

	h := newHost(t, almaRelease, machineID(500))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	for path, mode := range map[string]os.FileMode{"etc/yum.repos.d/enmei.repo": 0o600, "etc/enmei/host.json": 0o600} {
		fi, err := os.Stat(filepath.Join(h.root, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", path, err, fi.Mode().Perm(), mode)
		}
	}
	repoConf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	for _, want := range []string{"baseurl=" + v.url + "/repos/el9-x86_64/", "gpgcheck=1", "repo_gpgcheck=1", "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"} {
		if !strings.Contains(string(repoConf), want) {
			t.Errorf("enmei.repo lacks %q:\n%s", want, repoConf)
		}
	}
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei-demo-lib"); got != "1:1.0-1" {
		t.Errorf("dependency enmei-demo-lib = %q, want 1:1.0-1 (epoch 1)", got)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("enmei-demo-hello = %q, want 1.0-1", got)
	}
	if _, err := os.Stat(filepath.Join(h.root, "usr/bin/enmei-hello")); err != nil {
		t.Errorf("installed file missing: %v", err)
	}

	// A newer release, published while the server runs.
	spec := demo.Catalogue()[1]
	if spec.Name != "enmei-demo-hello" {
		t.Fatalf("catalogue order changed: %s", spec.Name)
	}
	spec.Release = "2"
	data, err := demo.RPM(spec)
	must(t, err)
	p := filepath.Join(t.TempDir(), "enmei-demo-hello-1.0-2.x86_64.rpm")
	must(t, os.WriteFile(p, data, 0o644))
	v.must("publish", "el9-x86_64", p)
	time.Sleep(1500 * time.Millisecond) // the server rereads a repository's current publication every second
	if out, err := h.dnf("--refresh", "upgrade"); err != nil {
		t.Fatalf("dnf upgrade: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-2") {
		t.Errorf("after upgrade enmei-demo-hello = %q, want 1.0-2", got)
	}

	// A package signed by nobody we trust is refused by dnf: tamper the key.
	other := newHost(t, almaRelease, machineID(501))
	other.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	must(t, os.WriteFile(filepath.Join(other.root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"), []byte(wrongKey(t)), 0o644))
	if out, err := other.dnf("install", "enmei-demo-hello"); err == nil {
		t.Errorf("dnf accepted packages with a key that did not sign them:\n%s", out)
	}
}
