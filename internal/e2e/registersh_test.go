package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// centos6Root is a scratch CentOS 6 root as that release has it: no
// os-release, no /etc/machine-id (D-Bus's instead), no /etc/hostname (the
// name is in /etc/sysconfig/network).
func centos6Root(t *testing.T, machineID string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range map[string]string{
		"etc/redhat-release":      "CentOS release 6.10 (Final)\n",
		"var/lib/dbus/machine-id": machineID + "\n",
		"etc/sysconfig/network":   "NETWORKING=yes\nHOSTNAME=legacy-" + machineID[:6] + ".example.jp\n",
	} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(root, p), []byte(data), 0o644))
	}
	return root
}

// busyboxPath is a directory holding busybox's applets for every tool
// register.sh uses, and the real curl, so a run with PATH set to it uses
// nothing of GNU's.
func busyboxPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bb, err := exec.LookPath("busybox")
	must(t, err)
	for _, tool := range []string{"sh", "sed", "grep", "cat", "mkdir", "chmod", "mv", "rm", "rmdir", "sha256sum", "uname", "date"} {
		must(t, os.Symlink(bb, filepath.Join(dir, tool)))
	}
	curl, err := exec.LookPath("curl")
	must(t, err)
	must(t, os.Symlink(curl, filepath.Join(dir, "curl")))
	return dir
}

// TestRegisterScript: an EL6 host, which cannot run the agent, registers
// with `curl …/register.sh | sh -s -- --key-file FILE` under dash and under
// busybox sh (with busybox's tools); the script writes the enmei.repo the
// agent writes for a CentOS 6 host (same renderer, byte for byte but the
// credential) and the signing key, takes one seat (registering again keeps
// it and its secret), and the real dnf reads the repository with it;
// refusals (unknown key, a key without an RPM repository, a Debian host,
// plain http to another machine) print one sentence, exit non-zero and
// write nothing; --unregister gives the seat back and removes the files.
func TestRegisterScript(t *testing.T) {
	v := newVendor(t, "")
	v.must("product", "add", "el6", "--name", "CentOS 6 ELS", "--format", "rpm", "--os", "centos", "--os-version", "6")
	v.must("repo", "add", "el6-x86_64", "--product", "el6", "--arch", "x86_64")
	v.must("product", "add", "deb12", "--name", "Debian 12 ELS", "--format", "deb")
	v.must("repo", "add", "deb12-main", "--product", "deb12", "--suite", "bookworm", "--component", "main")
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el6-x86_64", dir)
	start, end := date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0))
	c := v.contract("el6", 2, start, end)
	debC := v.contract("deb12", 1, start, end)
	v.serve()

	resp, script := get(t, "GET", v.url+"/register.sh", "", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(script), "#!/bin/sh") || !strings.Contains(string(script), "server='"+v.url+"'") {
		t.Fatalf("GET /register.sh: %s\n%.300s", resp.Status, script)
	}
	_, armored := get(t, "GET", v.url+"/api/v1/signing-key", "", "", nil)
	for _, sh := range [][]string{{"dash", "-n"}, {"busybox", "sh", "-n"}} {
		cmd := exec.Command(sh[0], append(sh[1:], "/dev/stdin")...)
		cmd.Stdin = strings.NewReader(string(script))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(sh, " "), err, out)
		}
	}
	keyFile := filepath.Join(t.TempDir(), "licence-key")
	must(t, os.WriteFile(keyFile, []byte(c.LicenseKey+"\n"), 0o600))

	// runScript pipes the script into the shell as users do. With busybox,
	// PATH holds only busybox's applets and curl.
	bbPath := busyboxPath(t)
	runScript := func(shell string, args ...string) result {
		t.Helper()
		line := "curl -s " + v.url + "/register.sh | "
		if shell == "busybox sh" {
			line += "PATH=" + bbPath + " " + bbPath + "/sh -s --"
		} else {
			line += "dash -s --"
		}
		for _, a := range args {
			line += " '" + a + "'"
		}
		return run(t, nil, "dash", "-c", line)
	}
	type shown struct {
		SeatsUsed int `json:"seats_used"`
		Hosts     []struct {
			HostID   string `json:"host_id"`
			Hostname string `json:"hostname"`
		} `json:"hosts"`
	}
	show := func() shown {
		t.Helper()
		var s shown
		v.mustJSON(&s, "contract", "show", c.SupportID)
		return s
	}
	state := func(root, k string) string {
		t.Helper()
		data, _ := os.ReadFile(filepath.Join(root, "etc/enmei/register.conf"))
		m := regexp.MustCompile("(?m)^" + k + "=(.*)$").FindStringSubmatch(string(data))
		if m == nil {
			return ""
		}
		return m[1]
	}

	// What the agent writes for a CentOS 6 host (it runs here, on a newer
	// kernel, on a scratch root): the script must write the same.
	agentRoot := centos6Root(t, machineID(1600))
	agent := &host{t: t, root: agentRoot}
	agent.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	agentRepo, err := os.ReadFile(filepath.Join(agentRoot, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	agent.mustEnmei("unregister")

	for i, shell := range []string{"dash", "busybox sh"} {
		t.Run(shell, func(t *testing.T) {
			root := centos6Root(t, machineID(1610+i))
			h := &host{t: t, root: root}
			empty := rootFiles(t, root)

			// Refusals: the server's sentence, a non-zero exit, nothing written.
			r := runScript(shell, "--root", root, "--key", "EK-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
			if r.code != 3 || !strings.Contains(r.stderr, "register.sh: the licence key is not known: check it against your support certificate") {
				t.Errorf("unknown key: exit %d, %s", r.code, r.stderr)
			}
			r = runScript(shell, "--root", root, "--key", debC.LicenseKey)
			if r.code != 3 || !strings.Contains(r.stderr, "no RPM repository") || !strings.Contains(r.stderr, "no seat was taken") {
				t.Errorf("a key without an RPM repository: exit %d, %s", r.code, r.stderr)
			}
			deb := newHost(t, debianRelease, machineID(1620+i))
			debBefore := rootFiles(t, deb.root)
			r = runScript(shell, "--root", deb.root, "--key", c.LicenseKey)
			if r.code != 1 || !strings.Contains(r.stderr, "install.sh") || !slices.Equal(rootFiles(t, deb.root), debBefore) {
				t.Errorf("a Debian host: exit %d, %s", r.code, r.stderr)
			}
			if got := rootFiles(t, root); !slices.Equal(got, empty) {
				t.Errorf("refused registrations wrote %v", got)
			}
			if s := show(); s.SeatsUsed != 0 {
				t.Errorf("refused registrations took %d seats", s.SeatsUsed)
			}

			// The registration.
			r = runScript(shell, "--root", root, "--key-file", keyFile)
			if r.code != 0 || !strings.Contains(r.stderr, "configured repositories: el6-x86_64") || !strings.Contains(r.stderr, "yum -y makecache") {
				t.Fatalf("register.sh: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			id, secret := state(root, "host_id"), state(root, "secret")
			repo := h.read("etc/yum.repos.d/enmei.repo")
			if blankCredential(repo) != blankCredential(string(agentRepo)) {
				t.Errorf("register.sh wrote\n%s\nthe agent writes\n%s", repo, agentRepo)
			}
			for _, want := range []string{"[enmei-el6-x86_64]\n", "baseurl=" + v.url + "/repos/el6-x86_64/\n", "username=" + id + "\n",
				"gpgcheck=1\n", "repo_gpgcheck=1\n", "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei\n"} {
				if !strings.Contains(repo, want) {
					t.Errorf("enmei.repo lacks %q:\n%s", want, repo)
				}
			}
			if got := h.read("etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"); strings.TrimSpace(got) != strings.TrimSpace(string(armored)) {
				t.Errorf("the key file is not the server's signing key:\n%s", got)
			}
			for p, mode := range map[string]os.FileMode{"etc/yum.repos.d/enmei.repo": 0o600, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei": 0o644, "etc/enmei/register.conf": 0o600} {
				if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode().Perm() != mode {
					t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), mode)
				}
			}
			s := show()
			if s.SeatsUsed != 1 || len(s.Hosts) != 1 || s.Hosts[0].HostID != id || s.Hosts[0].Hostname != "legacy-"+machineID(1610 + i)[:6]+".example.jp" {
				t.Errorf("contract show after register.sh: %+v, want host %s", s, id)
			}
			// The agent leaves a register.sh host alone.
			if r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey); r.code == 0 || !strings.Contains(r.stderr, "register.sh --unregister") {
				t.Errorf("enmei register on a register.sh host: exit %d, %s", r.code, r.stderr)
			}

			// The real dnf reads the repository with this configuration.
			if out, err := h.dnf("--refresh", "list", "--available"); err != nil || !strings.Contains(out, "enmei-demo-hello") {
				t.Errorf("dnf list with register.sh's enmei.repo: %v\n%s", err, out)
			}

			// Again: the same seat, the same secret.
			if r := runScript(shell, "--root", root, "--key-file", keyFile); r.code != 0 {
				t.Fatalf("register.sh again: exit %d\n%s", r.code, r.stderr)
			}
			if state(root, "host_id") != id || state(root, "secret") != secret || show().SeatsUsed != 1 {
				t.Errorf("registering again: host %s secret kept %v, %d seats", state(root, "host_id"), state(root, "secret") == secret, show().SeatsUsed)
			}

			// --unregister gives the seat back and removes the files.
			r = runScript(shell, "--root", root, "--unregister")
			if r.code != 0 || !strings.Contains(r.stderr, "is free again") {
				t.Errorf("register.sh --unregister: exit %d\n%s", r.code, r.stderr)
			}
			// (dnf's cache and logs, outside /etc, are dnf's to keep.)
			etc := func(files []string) []string {
				return slices.DeleteFunc(files, func(f string) bool { return !strings.HasPrefix(f, "etc/") })
			}
			if got := etc(rootFiles(t, root)); !slices.Equal(got, etc(empty)) {
				t.Errorf("after --unregister /etc holds %v, want %v", got, etc(empty))
			}
			if _, err := os.Stat(filepath.Join(root, "etc/enmei")); !os.IsNotExist(err) {
				t.Errorf("/etc/enmei after --unregister: %v", err)
			}
			if s := show(); s.SeatsUsed != 0 {
				t.Errorf("after --unregister %d seats are used", s.SeatsUsed)
			}
			if r := runScript(shell, "--root", root, "--unregister"); r.code != 1 || !strings.Contains(r.stderr, "not registered by register.sh") {
				t.Errorf("--unregister again: exit %d, %s", r.code, r.stderr)
			}
		})
	}

	// Plain http to another machine is refused before anything is sent,
	// as the agent refuses it (the address is never dialled).
	other := strings.Replace(string(script), "server='"+v.url+"'", "server='http://els.example.invalid'", 1)
	root := centos6Root(t, machineID(1630))
	cmd := exec.Command("dash", "-s", "--", "--root", root, "--key", c.LicenseKey)
	cmd.Stdin = strings.NewReader(other)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--insecure") {
		t.Errorf("plain http to another machine: %v\n%s", err, out)
	}
}

// blankCredential is a .repo with its credential blanked.
func blankCredential(repo string) string {
	return regexp.MustCompile(`(?m)^(username|password)=.*$`).ReplaceAllString(repo, "$1=…")
}

func (h *host) read(p string) string {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.root, p))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}
