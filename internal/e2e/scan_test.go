package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type scanOut struct {
	Product    string `json:"product"`
	Cached     bool   `json:"cached"`
	Vulnerable int    `json:"vulnerable"`
	Findings   []struct {
		Package, Installed, Fixed, Advisory string
		Vulnerable                          bool
		CVEs                                []struct {
			ID, Status string
		}
	} `json:"findings"`
}

func (h *host) scan(args ...string) (scanOut, result) {
	h.t.Helper()
	r := h.enmei(append([]string{"scan", "--format", "json"}, args...)...)
	var out scanOut
	if r.code == 0 || r.code == 5 {
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			h.t.Fatalf("enmei scan: not JSON: %v\n%s\n%s", err, r.stdout, r.stderr)
		}
	}
	return out, r
}

func findingKeys(o scanOut) []string {
	var ks []string
	for _, f := range o.Findings {
		k := f.Package + "@" + f.Installed + "→" + f.Fixed
		if !f.Vulnerable {
			k += "?"
		}
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestScanRPM: enmei scan on a scratch AlmaLinux root with packages the real
// rpm installed (SQLite rpmdb, as EL9 has it): an epoch that makes a fix older, a caret release that is
// newer, a tilde one that is older, a CVE whose fix is in testing; exit 5.
func TestScanRPM(t *testing.T) {
	v, c := demoVendor(t, "el9", 2)
	h := newHost(t, almaRelease, machineID(900))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	dir, _ := writeDemo(t, "rpm")
	base := []string{"--root", h.root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"}
	if out, err := exec.Command("rpm", append(base, "--initdb")...).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "enmei-demo-[hl]*.rpm"))
	if out, err := exec.Command("rpm", append(append(base, "-i", "--nodeps", "--nosignature", "--noscripts"), files...)...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	// Installed: enmei-demo-hello 1.0-1, enmei-demo-lib 1:1.0-1.
	advs := writeFile(t, "advs.yaml", `
- type: security
  severity: important
  issued: "2026-11-01"
  title: {en: lib fix}
  cves: [{id: CVE-2026-60001, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
  packages: [{repo: el9-x86_64, nevra: "enmei-demo-lib-1:1.0-2.x86_64"}]
- type: security
  severity: low
  issued: "2026-11-01"
  title: {en: an old build without the epoch}
  cves: [{id: CVE-2026-60002}]
  packages: [{repo: el9-x86_64, nevra: "enmei-demo-lib-1.0-9.x86_64"}]
- type: security
  severity: moderate
  issued: "2026-11-02"
  title: {en: a pre-release build}
  cves: [{id: CVE-2026-60003}]
  packages: [{repo: el9-x86_64, nevra: "enmei-demo-hello-1.0~rc1-5.x86_64"}]
- type: security
  severity: moderate
  issued: "2026-11-03"
  title: {en: a snapshot after 1.0}
  cves: [{id: CVE-2026-60004}]
  packages: [{repo: el9-x86_64, nevra: "enmei-demo-hello-1.0^git1-1.x86_64"}]
`)
	v.must("advisory", "add", "--publish", advs)
	v.must("cve", "set", "CVE-2026-60005", "--product", "el9", "--status", "in-testing", "--package", "enmei-demo-hello",
		"--cvss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")
	v.must("cve", "set", "CVE-2026-60006", "--product", "el9", "--status", "not-vulnerable", "--statement", "not built", "--package", "enmei-demo-hello")

	out, r := h.scan()
	if r.code != 5 {
		t.Fatalf("enmei scan: exit %d, want 5 (vulnerable)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := []string{"enmei-demo-hello@1.0-1→", "enmei-demo-hello@1.0-1→1.0^git1-1", "enmei-demo-lib@1:1.0-1→1:1.0-2"}
	if got := findingKeys(out); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("findings = %v, want %v", got, want)
	}
	for _, f := range out.Findings {
		if f.Fixed == "" && (len(f.CVEs) != 1 || f.CVEs[0].ID != "CVE-2026-60005" || f.CVEs[0].Status != "in-testing") {
			t.Errorf("the fix in testing shows as %+v", f)
		}
		if f.Fixed == "1:1.0-2" && (len(f.CVEs) != 1 || f.CVEs[0].Status != "released") {
			t.Errorf("the released fix shows as %+v", f)
		}
	}
	// Again, with the data kept (the server answers 304), and offline: the
	// same findings from the kept scan index.
	for _, args := range [][]string{nil, {"--offline"}} {
		again, r := h.scan(args...)
		if r.code != 5 || strings.Join(findingKeys(again), " ") != strings.Join(want, " ") {
			t.Errorf("enmei scan %v with kept data: exit %d, findings %v; want 5 and %v\n%s", args, r.code, findingKeys(again), want, r.stderr)
		}
	}
	// The table names the same, in words.
	tr := h.enmei("scan")
	if tr.code != 5 || !strings.Contains(tr.stdout, "CVE-2026-60005 (in-testing") || !strings.Contains(tr.stdout, "3 vulnerable") {
		t.Errorf("enmei scan (table): exit %d\n%s", tr.code, tr.stdout)
	}
	cache := filepath.Join(h.root, "var/lib/enmei/advisories/el9.gob")
	if _, err := os.Stat(cache); err != nil {
		t.Errorf("the advisory data is not kept: %v", err)
	}
}

// TestScanDeb: a Debian root whose packages the real dpkg installed, with
// epochs and tildes; exit 5, then 0 once the fix is installed; the kept data
// serves when the server is down, and --offline never asks it.
func TestScanDeb(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	v.serve()
	c := v.contract("deb12", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	h := newHost(t, debianRelease, machineID(901))
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		must(t, os.MkdirAll(filepath.Join(h.root, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(h.root, "var/lib/dpkg/status"), nil, 0o644))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	for _, p := range []struct{ name, version string }{{"libfoo", "1:2.0-1~deb12u1"}, {"bar", "1.0-1"}, {"baz", "2:1.0-1"}} {
		deb := buildDeb(t, p.name, "Version: "+p.version+"\nArchitecture: amd64\n", map[string]string{"usr/share/doc/" + p.name + "/README": p.name})
		dpkg(t, h.root, "-i", deb)
	}
	advs := writeFile(t, "advs.json", `[
	 {"type": "security", "severity": "critical", "issued": "2026-11-10", "title": {"en": "libfoo"},
	  "cves": [{"id": "CVE-2026-61001", "cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
	  "packages": [{"repo": "deb12-main", "nevra": "libfoo_1:2.0-1_amd64"}]},
	 {"type": "security", "severity": "low", "issued": "2026-11-10", "title": {"en": "bar"},
	  "cves": [{"id": "CVE-2026-61002"}], "packages": [{"repo": "deb12-main", "nevra": "bar_1.0-1~deb12u1_amd64"}]},
	 {"type": "security", "severity": "low", "issued": "2026-11-10", "title": {"en": "baz"},
	  "cves": [{"id": "CVE-2026-61003"}], "packages": [{"repo": "deb12-main", "nevra": "baz_1.5-1_amd64"}]}]`)
	v.must("advisory", "add", "--publish", advs)

	// The API refuses what it cannot serve, with the reason.
	id := h.identity()
	for _, c := range []struct {
		query, user, pass string
		want              int
	}{
		{"", "", "", http.StatusUnauthorized},
		{"", id.HostID, "wrong", http.StatusUnauthorized},
		{"?since=abc", id.HostID, id.Secret, http.StatusBadRequest},
		{"?product=el9", id.HostID, id.Secret, http.StatusForbidden},
		{"?product=deb12", id.HostID, id.Secret, http.StatusOK},
	} {
		resp, body := get(t, "GET", v.url+"/api/v1/advisories"+c.query, c.user, c.pass, nil)
		if resp.StatusCode != c.want || (c.want != http.StatusOK && !strings.Contains(string(body), `"error"`)) {
			t.Errorf("GET /api/v1/advisories%s as %q: %d %s, want %d with an error sentence", c.query, c.user, resp.StatusCode, body, c.want)
		}
	}

	out, r := h.scan()
	if r.code != 5 || strings.Join(findingKeys(out), " ") != "libfoo@1:2.0-1~deb12u1→1:2.0-1" {
		t.Fatalf("enmei scan: exit %d, findings %v; want 5 and libfoo only\n%s", r.code, findingKeys(out), r.stderr)
	}

	deb := buildDeb(t, "libfoo", "Version: 1:2.0-1\nArchitecture: amd64\n", map[string]string{"usr/share/doc/libfoo/README": "libfoo"})
	dpkg(t, h.root, "-i", deb)
	out, r = h.scan()
	if r.code != 0 || len(out.Findings) != 0 || out.Cached {
		t.Errorf("after the fix: exit %d, findings %v, cached %v; want 0, none, fresh\n%s", r.code, findingKeys(out), out.Cached, r.stderr)
	}
	// The server goes away: the kept data still answers, with a warning.
	v.cmd.Process.Kill()
	v.cmd.Wait()
	out, r = h.scan()
	if r.code != 0 || !out.Cached || !strings.Contains(r.stderr, "kept on this host") {
		t.Errorf("server down: exit %d, cached %v\n%s", r.code, out.Cached, r.stderr)
	}
	if _, r := h.scan("--offline"); r.code != 0 {
		t.Errorf("--offline: exit %d\n%s", r.code, r.stderr)
	}
	// No kept data and no server: exit 4 with a sentence.
	must(t, os.RemoveAll(filepath.Join(h.root, "var/lib/enmei/advisories")))
	if _, r := h.scan(); r.code != 4 {
		t.Errorf("no data, no server: exit %d, want 4\n%s", r.code, r.stderr)
	}
	if _, r := h.scan("--offline"); r.code != 1 || !strings.Contains(r.stderr, "run enmei scan once") {
		t.Errorf("--offline without data: exit %d\n%s", r.code, r.stderr)
	}
}
