package e2e

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/sbomschema"
)

// rpmRoot makes a scratch EL9 root whose SQLite rpmdb the real rpm wrote,
// with the given packages installed.
func rpmRoot(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=almalinux\nVERSION_ID=\"9.4\"\nID_LIKE=\"rhel centos fedora\"\nPRETTY_NAME=\"AlmaLinux 9.4\"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("web01.example.jp\n"), 0o644))
	base := []string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"}
	if out, err := exec.Command("rpm", append(base, "--initdb")...).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	if len(files) == 0 {
		return root
	}
	args := append(base, "-i", "--nodeps", "--nosignature", "--noscripts", "--ignorearch", "--ignoreos")
	if out, err := exec.Command("rpm", append(args, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	return root
}

// TestHostSBOM: enmei cert import and enmei sbom on a root the real rpm
// installed into: every installed package in the host SBOM, in all six
// formats (the JSON ones and CycloneDX XML checked against the official
// schemas), the vendor's packages verified, a local one named as not
// verified; a warm run uses the cache; a revoked certificate exits 3.
func TestHostSBOM(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, names := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 2, "2026-01-01", "2099-12-31")
	ca := v.must("ca", "export")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca))
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)

	local, err := demo.RPM(demo.Spec{Name: "local-tool", Version: "2.0", Release: "1", Arch: "x86_64", Summary: "built here",
		Files: map[string]string{"/usr/bin/local-tool": "#!/bin/sh\n"}})
	must(t, err)
	localFile := filepath.Join(t.TempDir(), "local-tool-2.0-1.x86_64.rpm")
	must(t, os.WriteFile(localFile, local, 0o644))
	var files []string
	for _, n := range names {
		files = append(files, filepath.Join(dir, n))
	}
	root := rpmRoot(t, append(files, localFile)...)

	p12 := filepath.Join(t.TempDir(), "cert.p12")
	must(t, os.WriteFile(p12, v.downloadP12(t, pool, c.SupportID), 0o600))
	enmei := func(args ...string) result {
		return run(t, cleanEnv(), bin.enmei, append([]string{"--root", root}, args...)...)
	}
	if r := enmei("cert", "import", p12, "--password", "wrong"); r.code == 0 {
		t.Error("import with a wrong password succeeded")
	}
	if r := enmei("cert", "import", p12, "--password", p12Password); r.code != 0 {
		t.Fatalf("cert import: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{"etc/enmei/client.key", "etc/enmei/client.crt"} {
		if fi, err := os.Stat(filepath.Join(root, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi, err)
		}
	}
	for _, format := range []string{"spdx-json", "spdx-yaml", "spdx-tv", "spdx-xml", "cyclonedx-json", "cyclonedx-xml"} {
		r := enmei("sbom", "--server", v.url, "--format", format)
		if r.code != 0 {
			t.Fatalf("sbom --format %s: %d %s", format, r.code, r.stderr)
		}
		for _, want := range []string{"enmei-demo-hello", "enmei-demo-lib", "enmei-demo-doc", "local-tool", "almalinux"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s host SBOM lacks %q", format, want)
			}
		}
		if !strings.Contains(r.stderr, "local-tool-2.0-1.x86_64") || strings.Contains(r.stderr, "enmei-demo-hello") {
			t.Errorf("%s: stderr should name only the unpublished package: %s", format, r.stderr)
		}
		sbomschema.Validate(t, format, []byte(r.stdout))
		if format == "spdx-json" {
			for _, purl := range []string{"pkg:rpm/almalinux/enmei-demo-lib@1.0-1?arch=x86_64\\u0026epoch=1", "pkg:rpm/almalinux/enmei-demo-lib@1.0-1?arch=x86_64&epoch=1"} {
				if strings.Contains(r.stdout, purl) {
					goto purlOK
				}
			}
			t.Errorf("no PURL with epoch=1 for enmei-demo-lib:\n%.2000s", r.stdout)
		purlOK:
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var/cache/enmei/sbom/index.json")); err != nil {
		t.Errorf("no SBOM cache: %v", err)
	}
	// Warm: from the cache.
	start := time.Now()
	if r := enmei("sbom", "--server", v.url, "--output", filepath.Join(t.TempDir(), "host.json")); r.code != 0 {
		t.Fatalf("warm sbom: %d %s", r.code, r.stderr)
	}
	t.Logf("warm host SBOM: %v", time.Since(start))

	// Through a real proxy: without auth, named by IP address, and with
	// Basic auth, named by host name.
	for _, pc := range []struct{ user, pass, host string }{{"", "", "127.0.0.1"}, {"puser", "ppass", "localhost"}} {
		addr, logFile := startTinyproxy(t, pc.user, pc.pass)
		proxy := "http://" + pc.host + addr[strings.LastIndex(addr, ":"):]
		if pc.user != "" {
			proxy = "http://" + pc.user + ":" + pc.pass + "@" + pc.host + addr[strings.LastIndex(addr, ":"):]
		}
		must(t, os.RemoveAll(filepath.Join(root, "var/cache/enmei")))
		r := run(t, append(cleanEnv(), "HTTPS_PROXY="+proxy), bin.enmei, "--root", root, "sbom", "--server", v.url)
		log, _ := os.ReadFile(logFile)
		if r.code != 0 || !strings.Contains(string(log), "CONNECT") {
			t.Errorf("sbom through %s: exit %d %s\nproxy log:\n%s", proxy, r.code, r.stderr, log)
		}
	}

	// An empty package database is an error, never an empty SBOM.
	empty := rpmRoot(t)
	if r := run(t, cleanEnv(), bin.enmei, "--root", empty, "sbom", "--server", v.url); r.code == 0 || !strings.Contains(r.stderr, "no packages") {
		t.Errorf("empty rpmdb: %d %s", r.code, r.stderr)
	}
	// Revoked: exit 3 naming the revocation, although every package is in
	// the cache (the certificate is checked on every run).
	v.must("cert", "revoke", c.SupportID, "--reason", "key lost")
	if r := enmei("sbom", "--server", v.url); r.code != 3 || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("revoked: exit %d %s", r.code, r.stderr)
	}
}
