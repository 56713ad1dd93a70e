package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegisterScriptMirror: register.sh on an EL6 host installs the
// distribution's key of a mirrored repository where enmei.repo's gpgkey=
// names it, and --unregister removes it with the rest.
func TestRegisterScriptMirror(t *testing.T) {
	up := newUpstream(t, "")
	up.add(upstreamSpec("distro-base", "1.el6"), "distro")
	v := newVendor(t, "")
	v.must("product", "add", "el6", "--name", "CentOS 6 ELS", "--format", "rpm", "--os", "centos", "--os-version", "6")
	v.must("repo", "add", "el6-x86_64", "--product", "el6", "--arch", "x86_64")
	v.must("repo", "add", "el6-base", "--product", "el6", "--arch", "x86_64")
	v.must("repo", "sync", "el6-base", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	c := v.contract("el6", 1, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()
	keyFile := filepath.Join(t.TempDir(), "licence-key")
	must(t, os.WriteFile(keyFile, []byte(c.LicenseKey+"\n"), 0o600))
	root := centos6Root(t, machineID(1690))
	bb := busyboxPath(t)
	script := func(args ...string) result {
		t.Helper()
		line := "curl -s " + v.url + "/register.sh | PATH=" + bb + " " + bb + "/sh -s -- --root '" + root + "'"
		for _, a := range args {
			line += " '" + a + "'"
		}
		return run(t, nil, "dash", "-c", line)
	}
	if r := script("--key-file", keyFile); r.code != 0 {
		t.Fatalf("register.sh: exit %d\n%s", r.code, r.stderr)
	}
	upKey := "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-el6-base"
	got, err := os.ReadFile(filepath.Join(root, upKey))
	must(t, err)
	want, err := os.ReadFile(up.pubKey["distro"])
	must(t, err)
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("register.sh wrote %s:\n%s\nwant the distribution's key", upKey, got)
	}
	repo, err := os.ReadFile(filepath.Join(root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	if !strings.Contains(string(repo), "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei file:///"+upKey+"\n") {
		t.Errorf("enmei.repo does not name both keys for the mirror:\n%s", repo)
	}
	if r := script("--unregister"); r.code != 0 {
		t.Fatalf("register.sh --unregister: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, upKey)); !os.IsNotExist(err) {
		t.Errorf("%s after --unregister: %v", upKey, err)
	}
	// Only a registered host of the product gets the key.
	if resp, _ := get(t, "GET", v.url+"/api/v1/repos/el6-base/upstream-key", "", "", nil); resp.StatusCode != 401 {
		t.Errorf("upstream-key without a credential: %s", resp.Status)
	}
}
