// Package sbomschema validates SBOM output against the official schemas
// kept in internal/sbom/testdata/schemas, for tests outside the sbom
// package (the agent's host SBOMs): SPDX 2.3 and CycloneDX 1.6 JSON with a
// JSON Schema validator, CycloneDX XML with xmllint and the XSD.
package sbomschema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func dir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the schemas")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "sbom", "testdata", "schemas")
}

// Validate checks data of format ("spdx-json", "cyclonedx-json" or
// "cyclonedx-xml"; other formats are not checked here) and fails t.
func Validate(t testing.TB, format string, data []byte) {
	t.Helper()
	d := dir(t)
	switch format {
	case "spdx-json", "cyclonedx-json":
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		ids := map[string]string{
			"http://spdx.org/rdf/terms/2.3":                    "spdx-2.3/spdx-schema.json",
			"http://cyclonedx.org/schema/bom-1.6.schema.json":  "cyclonedx-1.6/bom-1.6.schema.json",
			"http://cyclonedx.org/schema/spdx.schema.json":     "cyclonedx-1.6/spdx.schema.json",
			"http://cyclonedx.org/schema/jsf-0.82.schema.json": "cyclonedx-1.6/jsf-0.82.schema.json",
		}
		for id, file := range ids {
			f, err := os.Open(filepath.Join(d, file))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.AddResource(id, doc); err != nil {
				t.Fatal(err)
			}
		}
		id := "http://spdx.org/rdf/terms/2.3"
		if format == "cyclonedx-json" {
			id = "http://cyclonedx.org/schema/bom-1.6.schema.json"
		}
		sch, err := c.Compile(id)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s output is not JSON: %v", format, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("%s output fails the official schema: %v", format, err)
		}
	case "cyclonedx-xml":
		xmllint, err := exec.LookPath("xmllint")
		if err != nil {
			t.Fatal("xmllint not found: install libxml2-utils")
		}
		cdx := filepath.Join(d, "cyclonedx-1.6")
		file := filepath.Join(t.TempDir(), "bom.cdx.xml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(xmllint, "--nonet", "--noout", "--schema", filepath.Join(cdx, "bom-1.6.xsd"), file)
		cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+filepath.Join(cdx, "xmlcatalog.xml"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "validates") {
			t.Fatalf("CycloneDX XML fails the XSD: %v\n%s", err, out)
		}
	}
}
