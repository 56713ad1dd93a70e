package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
)

// publishNewer publishes the demo package name at release rel and returns
// its file's path.
func publishNewer(t *testing.T, v *vendor, name, rel string) {
	t.Helper()
	for _, spec := range demo.Catalogue() {
		if spec.Name != name {
			continue
		}
		spec.Release = rel
		data, err := demo.RPM(spec)
		must(t, err)
		p := filepath.Join(t.TempDir(), demo.FileName(spec, "rpm"))
		must(t, os.WriteFile(p, data, 0o644))
		v.must("publish", "el9-x86_64", p)
		return
	}
	t.Fatalf("no demo package %s", name)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// TestAdvisoryDNF: the real dnf sees a released advisory in updateinfo,
// shows it, and upgrades exactly its packages; a bugfix advisory is not
// taken by --security; drafts are invisible.
func TestAdvisoryDNF(t *testing.T) {
	v, c := demoVendor(t, "el9", 3)
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url) // links in updateinfo
	h := newHost(t, almaRelease, machineID(800))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	// Newer builds of both packages; only hello's is a security fix.
	publishNewer(t, v, "enmei-demo-hello", "2")
	publishNewer(t, v, "enmei-demo-lib", "2")

	sec := writeFile(t, "sec.yaml", `
type: security
severity: important
issued: "2026-11-02"
title:
  ja: "重要: enmei-demo-hello のセキュリティ更新"
  en: "Important: enmei-demo-hello security update"
description:
  en: "A crafted greeting could overflow a buffer."
cves:
  - id: CVE-2026-40001
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
packages:
  - repo: el9-x86_64
    nevra: enmei-demo-hello-1.0-2.x86_64
references:
  - https://example.com/bug/1
`)
	var added struct {
		ID string `json:"id"`
	}
	v.mustJSON(&added, "advisory", "add", sec)
	if !strings.HasPrefix(added.ID, "ENMEI-SA-2026:") {
		t.Fatalf("assigned ID = %q, want ENMEI-SA-2026:NNNN", added.ID)
	}
	fix := writeFile(t, "fix.json", `[{"type": "bugfix", "issued": "2026-11-03", "title": {"en": "enmei-demo-lib bug fix"},
	  "packages": [{"repo": "el9-x86_64", "nevra": "enmei-demo-lib-1:1.0-2.x86_64"}]}]`)
	var bugfix struct {
		ID string `json:"id"`
	}
	v.mustJSON(&bugfix, "advisory", "add", "--publish", fix)

	// The security advisory is a draft: dnf does not see it.
	time.Sleep(1500 * time.Millisecond)
	out, err := h.dnf("--refresh", "updateinfo", "list", "--security")
	if err != nil {
		t.Fatalf("dnf updateinfo list: %v\n%s", err, out)
	}
	if strings.Contains(out, added.ID) {
		t.Errorf("a draft advisory is in updateinfo:\n%s", out)
	}

	v.must("advisory", "publish", added.ID)
	time.Sleep(1500 * time.Millisecond)
	out, err = h.dnf("--refresh", "updateinfo", "list", "--security")
	if err != nil {
		t.Fatalf("dnf updateinfo list: %v\n%s", err, out)
	}
	if !strings.Contains(out, added.ID) || !strings.Contains(out, "enmei-demo-hello-1.0-2.x86_64") || strings.Contains(out, bugfix.ID) {
		t.Errorf("dnf updateinfo list --security does not list exactly %s for enmei-demo-hello:\n%s", added.ID, out)
	}
	out, err = h.dnf("updateinfo", "info", added.ID)
	if err != nil {
		t.Fatalf("dnf updateinfo info: %v\n%s", err, out)
	}
	for _, want := range []string{"CVE-2026-40001", "Important", "security update", "A crafted greeting"} {
		if !strings.Contains(out, want) {
			t.Errorf("dnf updateinfo info lacks %q:\n%s", want, out)
		}
	}

	// dnf upgrade --advisory takes exactly the advisory's package.
	if out, err := h.dnf("upgrade", "--advisory", added.ID); err != nil {
		t.Fatalf("dnf upgrade --advisory: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-2") {
		t.Errorf("after upgrade --advisory enmei-demo-hello = %q, want 1.0-2", got)
	}
	if got := h.rpmQuery("enmei-demo-lib"); got != "1:1.0-1" {
		t.Errorf("upgrade --advisory also upgraded enmei-demo-lib to %q; want it left at 1:1.0-1", got)
	}

	// --security on a fresh host: the security fix, not the bug fix.
	h2 := newHost(t, almaRelease, machineID(801))
	h2.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h2.dnf("install", "enmei-demo-hello-1.0-1", "enmei-demo-lib-1:1.0-1"); err != nil {
		t.Fatalf("dnf install old versions: %v\n%s", err, out)
	}
	if out, err := h2.dnf("upgrade", "--security"); err != nil {
		t.Fatalf("dnf upgrade --security: %v\n%s", err, out)
	}
	if got := h2.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-2") {
		t.Errorf("after upgrade --security enmei-demo-hello = %q, want 1.0-2", got)
	}
	if got := h2.rpmQuery("enmei-demo-lib"); got != "1:1.0-1" {
		t.Errorf("upgrade --security took the bug fix: enmei-demo-lib = %q, want 1:1.0-1", got)
	}

	// A later package publish keeps the advisories in updateinfo.
	publishNewer(t, v, "enmei-demo-doc", "2")
	time.Sleep(1500 * time.Millisecond)
	out, _ = h.dnf("--refresh", "updateinfo", "list", "--all")
	if !strings.Contains(out, added.ID) || !strings.Contains(out, bugfix.ID) {
		t.Errorf("a package publish dropped the advisories from updateinfo:\n%s", out)
	}

	// The tracker: the CVE is released for the product, with history.
	var row struct {
		CVE, Product, Status string
		Score                float64
		Targeted             bool
		Advisories           []string
	}
	v.mustJSON(&row, "cve", "list", "--product", "el9")
	if row.CVE != "CVE-2026-40001" || row.Status != "released" || row.Score != 9.8 || !row.Targeted || len(row.Advisories) != 1 || row.Advisories[0] != added.ID {
		t.Errorf("cve list = %+v; want CVE-2026-40001 released by %s, score 9.8, targeted", row, added.ID)
	}
}
