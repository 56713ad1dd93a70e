package e2e

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/sbomschema"
)

// TestPortalSBOMWithClientCertificate: a customer whose Chromium holds the
// contract's client certificate (the PKCS#12 from the one-time page,
// imported with the real pk12util) opens /sbom, sees the packages of its
// products, downloads a package's SBOM (valid by the official schema) and
// the companion disk that bundle create offered (the same bytes, carrying
// the agent's package); a browser without the certificate is told how to
// get in; after revocation the same browser is refused with the reason.
func TestPortalSBOMWithClientCertificate(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 2, "2026-01-01", "2099-12-31")
	caPEM := v.must("ca", "export")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)

	agent, err := demo.RPM(demo.Spec{Name: "enmei", Version: "1.2.0", Release: "1", Arch: "x86_64", Summary: "enmei agent",
		Files: map[string]string{"/usr/bin/enmei": "#!/bin/sh\n"}})
	must(t, err)
	agentFile := filepath.Join(t.TempDir(), "enmei.rpm")
	must(t, os.WriteFile(agentFile, agent, 0o644))
	iso := filepath.Join(t.TempDir(), "disk.iso")
	// Not a package: refused before anything is written or offered.
	junk := filepath.Join(t.TempDir(), "enmei.rpm")
	must(t, os.WriteFile(junk, []byte("not a package"), 0o644))
	if r := v.admin("bundle", "create", "el9-x86_64", "--out", iso, "--agent", junk); r.code != 1 || !strings.Contains(r.stderr, "neither an RPM nor a Debian package") {
		t.Errorf("bundle create --agent junk: exit %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(iso); err == nil {
		t.Error("a refused bundle create wrote the ISO")
	}
	var made struct {
		SHA256 string   `json:"sha256"`
		Agent  []string `json:"agent"`
	}
	v.mustJSON(&made, "bundle", "create", "el9-x86_64", "--out", iso, "--agent", agentFile)
	if len(made.Agent) != 1 || made.Agent[0] != "enmei-1.2.0-1.x86_64.rpm" {
		t.Errorf("bundle create --agent: agent packages %v", made.Agent)
	}
	isoBytes, err := os.ReadFile(iso)
	must(t, err)

	// Without a certificate: told what to do, no package list.
	plain := newCertBrowser(t, "sbom-nocert", v.url, caPEM, nil, "")
	if status := plain.open(v.url + "/sbom"); status != 401 {
		t.Errorf("/sbom without a certificate: status %d, want 401", status)
	}
	plain.sees("クライアント証明書が必要", "PKCS#12")
	if strings.Contains(plain.text(), "enmei-demo-hello") {
		t.Error("/sbom without a certificate lists packages")
	}

	p12 := v.downloadP12(t, pool, c.SupportID)
	b := newCertBrowser(t, "sbom-cert", v.url, caPEM, p12, p12Password)
	if status := b.open(v.url + "/sbom"); status != 200 {
		t.Fatalf("/sbom with the certificate: status %d", status)
	}
	b.sees(c.SupportID, "el9-x86_64", "enmei-demo-hello", "enmei-demo-lib", "1:1.0-1", "コンパニオンディスク (ISO) をダウンロード")
	b.shot("sbom")
	row := `//tr[th[normalize-space(.)="enmei-demo-hello"]]`
	doc := b.download(row, "spdx-json")
	sbomschema.Validate(t, "spdx-json", doc)
	if !bytes.Contains(doc, []byte(`"name": "enmei-demo-hello"`)) && !bytes.Contains(doc, []byte(`"name":"enmei-demo-hello"`)) {
		t.Errorf("the downloaded SBOM is not enmei-demo-hello's:\n%.500s", doc)
	}
	xml := b.download(row, "cyclonedx-xml")
	sbomschema.Validate(t, "cyclonedx-xml", xml)
	disk := b.download("//section", "コンパニオンディスク (ISO) をダウンロード")
	if !bytes.Equal(disk, isoBytes) {
		t.Errorf("the portal's companion disk (%d bytes) is not the one bundle create wrote (%d bytes)", len(disk), len(isoBytes))
	}
	// The disk carries the agent's package, signed, under agent/.
	r := run(t, cleanEnv(), "xorriso", "-indev", iso, "-find", "/agent", "-type", "f")
	if !strings.Contains(r.stdout, "enmei-1.2.0-1.x86_64.rpm") {
		t.Errorf("the disk has no agent package: %s %s", r.stdout, r.stderr)
	}
	// Search narrows the list.
	b.open(v.url + "/sbom?q=lib")
	if strings.Contains(b.text(), "enmei-demo-hello") || !strings.Contains(b.text(), "enmei-demo-lib") {
		t.Errorf("search for lib:\n%s", b.text())
	}
	// Other pages are unaffected by the certificate.
	if status := b.open(v.url + "/"); status != 200 {
		t.Errorf("/ with a certificate: %d", status)
	}

	// A disk with the packages goes only to contracts allowed offline use.
	v.must("bundle", "create", "el9-x86_64", "--with-packages")
	b.open(v.url + "/sbom")
	if strings.Contains(b.text(), "コンパニオンディスク (ISO) をダウンロード") {
		t.Error("the portal offers a disk with packages to a contract without offline use")
	}
	if status := b.open(v.url + "/sbom/disk/el9-x86_64"); status != 403 {
		t.Errorf("the disk with packages without offline use: status %d, want 403", status)
	}
	v.must("contract", "terms", c.SupportID, "--allow-offline")
	b.open(v.url + "/sbom")
	b.sees("コンパニオンディスク (ISO) をダウンロード")
	if disk := b.download("//section", "コンパニオンディスク (ISO) をダウンロード"); !bytes.Contains(disk, []byte("repomd.xml")) || len(disk) <= len(isoBytes) {
		t.Errorf("the offline contract's download (%d bytes) is not the disk with packages", len(disk))
	}

	// Revoked: the same browser is refused, with the reason.
	v.must("cert", "revoke", c.SupportID, "--reason", "key lost")
	if status := b.open(v.url + "/sbom"); status != 403 {
		t.Errorf("/sbom after revocation: status %d, want 403", status)
	}
	b.sees("現在ご利用いただけません", "revoked", "key lost")
}
