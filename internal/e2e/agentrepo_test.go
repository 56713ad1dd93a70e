package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// buildPackages runs scripts/package for amd64 only, building packages
// ("enmeid enmei", "enmei", …) at version into a new directory.
func buildPackages(t *testing.T, packages, version string) string {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("../../scripts/package", dist)
	cmd.Env = append(os.Environ(), "ARCHES=amd64", "PACKAGES="+packages, "VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package: %v\n%s", err, out)
	}
	return dist
}

// installScript runs `curl -fsSL URL/install.sh | sh -s -- ARGS…` with the
// real curl and sh, as a user would.
func installScript(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	line := "curl -fsSL " + url + "/install.sh | sh -s --"
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAgentRepository: the vendor publishes the agent's packages (built by
// scripts/package) into the public enmei-agent repository; a new AlmaLinux
// host installs the agent with `curl …/install.sh | sh` and the real dnf
// (repository and key set up, gpgcheck and repo_gpgcheck on), registers,
// and later updates the agent from the same repository; a Debian host gets
// the apt source and key and installs the agent with the real apt-get. Only
// the agent may go there; the products' repositories stay closed.
func TestAgentRepository(t *testing.T) {
	v1 := buildPackages(t, "enmei", "9.8.7~agent1")
	v, c := demoVendor(t, "el9", 3)

	// Before anything is published the script says so and fails.
	if out, err := installScript(t, v.url); err == nil || !strings.Contains(out, "does not offer the enmei agent yet") {
		t.Errorf("install.sh before agent publish: %v\n%s", err, out)
	}

	// Only the agent goes into the public repository: a product's package
	// (here the server's own package) is refused and nothing is published.
	enmeid := buildPackages(t, "enmeid", "9.8.7~agent1")
	r := v.admin("agent", "publish", v1, enmeid)
	if r.code != 1 || !strings.Contains(r.stderr, "not the agent's") {
		t.Errorf("agent publish with enmeid's package: exit %d, %s", r.code, r.stderr)
	}
	if r := v.admin("publication", "list", "enmei-agent-rpm"); r.code == 0 && strings.Contains(r.stdout, "enmei-agent-rpm") && strings.Count(r.stdout, "\n") > 1 {
		t.Errorf("a refused agent publish published something:\n%s", r.stdout)
	}
	out := v.must("agent", "publish", v1)
	if !strings.Contains(out, "enmei-agent-rpm: 1 packages") || !strings.Contains(out, "enmei-agent-deb: 1 packages") {
		t.Errorf("agent publish: %s", out)
	}
	// The reserved names cannot be used for anything else.
	for _, args := range [][]string{
		{"product", "add", "enmei-agent", "--name", "x", "--format", "rpm"},
		{"repo", "add", "extra", "--product", "enmei-agent"},
		{"publish", "enmei-agent-rpm", v1},
		{"contract", "add", "--customer", "c", "--product", "enmei-agent", "--plan", "server", "--quantity", "1",
			"--start", date(today()), "--end", date(today().AddDate(1, 0, 0)), "--contact", "a@example.com"},
	} {
		if r := v.admin(args...); r.code == 0 || !strings.Contains(r.stderr, "agent") {
			t.Errorf("enmeid %v: exit %d, %s", args, r.code, r.stderr)
		}
	}

	// The agent's repository is public; the products' are not.
	if resp, _ := get(t, http.MethodGet, v.url+"/agent/rpm/repodata/repomd.xml", "", "", nil); resp.StatusCode != 200 {
		t.Errorf("agent repodata without credentials: %d", resp.StatusCode)
	}
	if resp, _ := get(t, http.MethodGet, v.url+"/repos/el9-x86_64/repodata/repomd.xml", "", "", nil); resp.StatusCode != 401 {
		t.Errorf("product repodata without credentials: %d", resp.StatusCode)
	}
	if resp, _ := get(t, http.MethodGet, v.url+"/agent/deb/dists/stable/InRelease", "", "", nil); resp.StatusCode != 200 {
		t.Errorf("agent InRelease: %d", resp.StatusCode)
	}

	// An AlmaLinux host: install with the real dnf and register in one go.
	h := newHost(t, almaRelease, machineID(1100))
	out, err := installScript(t, v.url, "--root", h.root, "--register", "--key", c.LicenseKey)
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei"); !strings.Contains(got, "9.8.7~agent1") {
		t.Errorf("after install.sh rpm -q enmei = %s\n%s", got, out)
	}
	for _, f := range []string{"etc/yum.repos.d/enmei-agent.repo", "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-agent", "usr/bin/enmei",
		"usr/lib/systemd/system/enmei-heartbeat.timer", "etc/enmei/host.json", "etc/yum.repos.d/enmei.repo"} {
		if _, err := os.Stat(filepath.Join(h.root, f)); err != nil {
			t.Errorf("after install.sh --register: %v", err)
		}
	}
	repo, _ := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei-agent.repo"))
	for _, want := range []string{"gpgcheck=1", "repo_gpgcheck=1", "baseurl=" + v.url + "/agent/rpm/"} {
		if !strings.Contains(string(repo), want) {
			t.Errorf("enmei-agent.repo lacks %s:\n%s", want, repo)
		}
	}
	if got := run(t, nil, "rpm", "--root", h.root, "-q", "gpg-pubkey"); got.code != 0 {
		t.Errorf("the repository key is not imported into rpm: %s%s", got.stdout, got.stderr)
	}
	if out := h.mustEnmei("status"); !strings.Contains(out, c.SupportID) {
		t.Errorf("enmei status after install.sh --register: %s", out)
	}

	// A new agent release reaches the host through its own repository.
	v.must("agent", "publish", buildPackages(t, "enmei", "9.8.7~agent2"))
	if out, err := h.dnf("--refresh", "--disablerepo=*", "--enablerepo=enmei-agent", "upgrade", "enmei"); err != nil {
		t.Fatalf("dnf upgrade enmei: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei"); !strings.Contains(got, "9.8.7~agent2") {
		t.Errorf("after dnf upgrade rpm -q enmei = %s", got)
	}
	// Running the script again changes nothing and succeeds.
	if out, err := installScript(t, v.url, "--root", h.root); err != nil || !strings.Contains(h.rpmQuery("enmei"), "9.8.7~agent2") {
		t.Errorf("install.sh again: %v\n%s", err, out)
	}

	// A Debian host: the script sets up the apt source and key under the
	// root; the real apt-get verifies and fetches the agent, dpkg installs it.
	d := newHost(t, debianRelease, machineID(1101))
	out, err = installScript(t, v.url, "--root", d.root)
	if err != nil || !strings.Contains(out, "chroot "+d.root) {
		t.Fatalf("install.sh on a Debian root: %v\n%s", err, out)
	}
	apt := aptroot.New(t, d.root)
	ctx := context.Background()
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	deb, err := apt.Download(ctx, "enmei")
	if err != nil {
		t.Fatalf("apt-get download enmei: %v", err)
	}
	if !strings.Contains(filepath.Base(deb), "9.8.7~agent2") {
		t.Errorf("apt fetched %s, want the newest agent", deb)
	}
	if r := run(t, nil, "dpkg", "--root="+d.root, "--log=/dev/null", "-i", deb); r.code != 0 {
		t.Fatalf("dpkg -i: %s%s", r.stdout, r.stderr)
	}
	if r := run(t, nil, filepath.Join(d.root, "usr/bin/enmei"), "version"); !strings.Contains(r.stdout, "9.8.7~agent2") {
		t.Errorf("installed agent says %q", r.stdout)
	}
	// A key other than the server's makes apt refuse the repository.
	must(t, os.WriteFile(filepath.Join(d.root, "etc/apt/keyrings/enmei-agent.asc"), []byte(wrongKey(t)), 0o644))
	if out, err := apt.AptGet(ctx, "update"); err == nil {
		t.Errorf("apt-get update with a wrong key: %v\n%s", err, out)
	}
}
