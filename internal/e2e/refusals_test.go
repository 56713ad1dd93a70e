package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
)

// TestRefusals: every way of being turned away gives the right exit code and
// a sentence that says why.
func TestRefusals(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	live := v.contract("el9", 3, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	expired := v.contract("el9", 3, date(today().AddDate(-2, 0, 0)), date(today().AddDate(0, 0, -1)))
	future := v.contract("el9", 3, date(today().AddDate(0, 1, 0)), date(today().AddDate(1, 0, 0)))
	debOnly := v.contract("deb12", 3, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	tests := []struct {
		name string
		key  string
		code int
		says string
	}{
		{"unknown key", "EK-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", 3, "not known"},
		{"expired contract", expired.LicenseKey, 3, "expired"},
		{"contract not started", future.LicenseKey, 3, "has not started"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, almaRelease, machineID(100+i))
			r := h.enmei("register", "--server", v.url, "--key", tt.key)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
				t.Errorf("register: exit %d, stderr %q; want exit %d saying %q", r.code, r.stderr, tt.code, tt.says)
			}
			if _, err := os.Stat(filepath.Join(h.root, "etc/enmei/host.json")); err == nil {
				t.Error("a refused registration wrote host.json")
			}
		})
	}
	t.Run("server unreachable", func(t *testing.T) {
		h := newHost(t, almaRelease, machineID(110))
		r := h.enmei("register", "--server", "http://"+freePort(t), "--key", live.LicenseKey)
		if r.code != 4 {
			t.Errorf("register against a closed port: exit %d, want 4\n%s", r.code, r.stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		h := newHost(t, almaRelease, machineID(111))
		if r := h.enmei("register", "--server", v.url); r.code != 2 {
			t.Errorf("register without --key: exit %d, want 2", r.code)
		}
		if r := v.admin("contract", "add", "--customer", "x"); r.code != 2 {
			t.Errorf("contract add without required flags: exit %d, want 2", r.code)
		}
		if r := v.admin("publication", "rollback", "el9-x86_64", "not-a-number"); r.code != 2 {
			t.Errorf("rollback to a non-numeric ID: exit %d, want 2", r.code)
		}
		for _, cmd := range [][]string{{"serve"}, {"product", "add"}, {"repo", "add"}, {"publish"}, {"publication", "list"},
			{"publication", "rollback"}, {"contract", "add"}, {"contract", "show"}, {"contract", "renew"}, {"seat", "release"}, {"signing-key", "export"}} {
			if r := v.admin(append(cmd, "--help")...); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("enmeid %v --help: exit %d", cmd, r.code)
			}
		}
		for _, cmd := range []string{"register", "unregister", "status"} {
			if r := h.enmei(cmd, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("enmei %s --help: exit %d", cmd, r.code)
			}
		}
	})

	// A registered host of the deb contract must not read the rpm repository,
	// and credentials stop working once the host unregisters.
	t.Run("other contract and unregistered host", func(t *testing.T) {
		files, err := demo.Files("rpm")
		must(t, err)
		dir := t.TempDir()
		for name, data := range files {
			must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		}
		v.must("publish", "el9-x86_64", dir)

		rpmHost := newHost(t, almaRelease, machineID(120))
		rpmHost.mustEnmei("register", "--server", v.url, "--key", live.LicenseKey)
		debHost := newHost(t, debianRelease, machineID(121))
		debHost.mustEnmei("register", "--server", v.url, "--key", debOnly.LicenseKey)

		url := v.url + "/repos/el9-x86_64/repodata/repomd.xml"
		id := rpmHost.identity()
		if resp, _ := get(t, "GET", url, id.HostID, id.Secret, nil); resp.StatusCode != 200 {
			t.Fatalf("entitled host: status %d, want 200", resp.StatusCode)
		}
		other := debHost.identity()
		if resp, body := get(t, "GET", url, other.HostID, other.Secret, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("another contract's host: status %d (%s), want 403", resp.StatusCode, body)
		}
		resp, _ := get(t, "GET", url, "", "", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("no credentials: status %d, WWW-Authenticate %q; want 401 with Basic", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if resp, _ := get(t, "GET", url, id.HostID, id.Secret+"x", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong secret: status %d, want 401", resp.StatusCode)
		}
		rpmHost.mustEnmei("unregister")
		for _, p := range []string{"etc/yum.repos.d/enmei.repo", "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei", "etc/enmei/host.json"} {
			if _, err := os.Stat(filepath.Join(rpmHost.root, p)); err == nil {
				t.Errorf("unregister left %s behind", p)
			}
		}
		resp, body := get(t, "GET", url, id.HostID, id.Secret, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "unregistered") {
			t.Errorf("unregistered host: status %d (%s), want 401 saying it was unregistered", resp.StatusCode, body)
		}
		if r := rpmHost.enmei("status"); r.code == 0 {
			t.Errorf("status after unregister: exit 0, want a failure")
		}
	})
}

// TestExpiryCutsAccess: a host registered while its contract was valid loses
// the repositories the moment the contract ends (Asia/Tokyo), and gets them
// back after a renewal, with the same credential.
func TestExpiryCutsAccess(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	end := today().AddDate(0, 0, 10)
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(end))
	v.serve()
	h := newHost(t, almaRelease, machineID(700))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := h.identity()

	// The same data, served by an enmeid whose clock is after the end date.
	later := &vendor{t: t, data: v.data, extra: []string{"ENMEI_DEBUG_NOW=" + end.AddDate(0, 0, 1).Format(time.RFC3339)}}
	later.serve()
	resp, body := get(t, "GET", later.url+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "expired") {
		t.Errorf("after expiry: status %d %s, want 403 saying expired", resp.StatusCode, body)
	}
	h2 := &host{t: t, root: h.root}
	must(t, rewriteServer(h2.root, later.url))
	// status still answers for an expired contract, and says so.
	if r := h2.enmei("status", "--json"); !strings.Contains(r.stdout, c.SupportID) || !strings.Contains(r.stdout, `"valid":false`) {
		t.Errorf("status after expiry: exit %d stdout %s stderr %s; want the contract shown as not valid", r.code, r.stdout, r.stderr)
	}
	if r := h2.enmei("register", "--server", later.url, "--key", c.LicenseKey); r.code != 3 || !strings.Contains(r.stderr, "expired") {
		t.Errorf("register after expiry: exit %d %q, want 3 saying expired", r.code, r.stderr)
	}
	v.must("contract", "renew", c.SupportID, "--end", date(end.AddDate(1, 0, 0)))
	time.Sleep(6 * time.Second) // the server's entitlement cache lives 5 s
	resp, body = get(t, "GET", later.url+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
	if resp.StatusCode != 200 {
		t.Errorf("after renewal: status %d %s, want 200 with the same credential", resp.StatusCode, body)
	}
}

// rewriteServer points a host's enmei state at another server URL.
func rewriteServer(root, url string) error {
	p := filepath.Join(root, "etc/enmei/host.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	m["server"] = url
	out, _ := json.Marshal(m)
	return os.WriteFile(p, out, 0o600)
}
