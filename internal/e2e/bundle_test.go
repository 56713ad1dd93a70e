package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/sbomschema"
)

// TestBundleCreate: enmeid bundle create writes an ISO that xorriso reads,
// whose MANIFEST verifies with the exported signing key, holding every
// package's SBOM of the publication in each format, valid by the schemas.
func TestBundleCreate(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, names := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	iso := filepath.Join(t.TempDir(), "companion.iso")
	v.must("bundle", "create", "el9-x86_64", "--out", iso)
	if out, err := exec.Command("xorriso", "-indev", iso, "-find", "/sbom", "-type", "f").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "enmei-demo-hello-1.0-1.x86_64.cdx.json") {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	key := v.must("signing-key", "export")
	d, err := bundle.Open(iso)
	must(t, err)
	defer d.Close()
	if _, err := d.Verify([][]byte{[]byte(key)}); err != nil {
		t.Fatalf("verify with the exported key: %v", err)
	}
	raw, err := d.ReadFile("sbom/index.json")
	must(t, err)
	var index bundle.Index
	must(t, json.Unmarshal(raw, &index))
	if len(index.Packages) != len(names) {
		t.Fatalf("index lists %d packages, want %d", len(index.Packages), len(names))
	}
	lib := index.Packages["enmei-demo-lib|1:1.0-1|x86_64"]
	if len(lib.SHA256) != 64 || lib.Supplier == "" {
		t.Errorf("index entry = %+v", lib)
	}
	paths := lib.Files
	if len(paths) != 6 {
		t.Fatalf("enmei-demo-lib has %d formats on the disk: %v", len(paths), paths)
	}
	for format, p := range paths {
		data, err := d.ReadFile(p)
		must(t, err)
		sbomschema.Validate(t, format, data)
	}
	if r := v.admin("bundle", "create", "el9-x86_64", "--out", iso, "--publication", "999"); r.code != 1 {
		t.Errorf("unknown publication: exit %d %s", r.code, r.stderr)
	}
}

// TestOfflineSBOM: enmei sbom --offline with the companion disk and no
// network: an unmodified root works (the disk's key trusted by the
// fingerprint from the support certificate); an extra package fails naming
// it unless --allow-missing; a wrong fingerprint and a tampered MANIFEST are
// refused.
func TestOfflineSBOM(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, names := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	iso := filepath.Join(t.TempDir(), "companion.iso")
	v.must("bundle", "create", "el9-x86_64", "--out", iso)
	var key struct {
		Fingerprint string `json:"fingerprint"`
	}
	v.mustJSON(&key, "signing-key", "export")
	var files []string
	for _, n := range names {
		files = append(files, filepath.Join(dir, n))
	}
	root := rpmRoot(t, files...)
	// HTTPS_PROXY to a closed port: any network use would fail.
	env := append(cleanEnv(), "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9")
	enmei := func(root string, args ...string) result {
		return run(t, env, bin.enmei, append([]string{"--root", root, "sbom", "--offline"}, args...)...)
	}
	r := enmei(root, iso, "--fingerprint", key.Fingerprint, "--format", "cyclonedx-json")
	if r.code != 0 {
		t.Fatalf("offline sbom: %d %s", r.code, r.stderr)
	}
	sbomschema.Validate(t, "cyclonedx-json", []byte(r.stdout))
	if !strings.Contains(r.stdout, "enmei-demo-hello") || strings.Contains(r.stdout, `"enmei:vendor-verified","value":"false"`) {
		t.Errorf("offline host SBOM:\n%.1500s", r.stdout)
	}
	if r := enmei(root, iso); r.code != 2 || !strings.Contains(r.stderr, "--fingerprint") {
		t.Errorf("no trusted key: exit %d %s", r.code, r.stderr)
	}
	if r := enmei(root, iso, "--fingerprint", strings.Repeat("AB12", 10)); r.code != 1 || !strings.Contains(r.stderr, "do not trust") {
		t.Errorf("wrong fingerprint: exit %d %s", r.code, r.stderr)
	}

	local, err := demo.RPM(demo.Spec{Name: "local-tool", Version: "2.0", Release: "1", Arch: "x86_64", Summary: "built here",
		Files: map[string]string{"/usr/bin/local-tool": "#!/bin/sh\n"}})
	must(t, err)
	localFile := filepath.Join(t.TempDir(), "local-tool-2.0-1.x86_64.rpm")
	must(t, os.WriteFile(localFile, local, 0o644))
	extra := rpmRoot(t, append(files, localFile)...)
	if r := enmei(extra, iso, "--fingerprint", key.Fingerprint); r.code != 1 || !strings.Contains(r.stderr, "local-tool-2.0-1.x86_64") {
		t.Errorf("extra package: exit %d %s", r.code, r.stderr)
	}
	if r := enmei(extra, iso, "--fingerprint", key.Fingerprint, "--allow-missing"); r.code != 0 {
		t.Errorf("--allow-missing: exit %d %s", r.code, r.stderr)
	}

	// A tampered MANIFEST on a mounted (here: extracted) disk is refused.
	mnt := t.TempDir()
	extractDisk(t, iso, mnt)
	if r := enmei(root, mnt, "--fingerprint", key.Fingerprint); r.code != 0 {
		t.Fatalf("extracted disk: exit %d %s", r.code, r.stderr)
	}
	manifest := filepath.Join(mnt, "MANIFEST")
	data, err := os.ReadFile(manifest)
	must(t, err)
	must(t, os.WriteFile(manifest, append(data, []byte("0000000000000000000000000000000000000000000000000000000000000000  extra\n")...), 0o644))
	if r := enmei(root, mnt, "--fingerprint", key.Fingerprint); r.code != 1 || !strings.Contains(r.stderr, "MANIFEST") {
		t.Errorf("tampered MANIFEST: exit %d %s", r.code, r.stderr)
	}
}
