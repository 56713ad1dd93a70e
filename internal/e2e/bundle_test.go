package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/bundle"
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
	var index struct {
		Packages map[string]map[string]string `json:"packages"`
	}
	must(t, json.Unmarshal(raw, &index))
	if len(index.Packages) != len(names) {
		t.Fatalf("index lists %d packages, want %d", len(index.Packages), len(names))
	}
	paths := index.Packages["enmei-demo-lib|1:1.0-1|x86_64"]
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
