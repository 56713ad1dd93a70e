package sbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validation against the official schemas in testdata/schemas (see its
// README). Nothing here uses the network: the JSON schemas' references are
// registered as resources and xmllint runs with --nonet and the catalog.

const (
	spdxSchemaID      = "http://spdx.org/rdf/terms/2.3"
	cyclonedxSchemaID = "http://cyclonedx.org/schema/bom-1.6.schema.json"
)

var (
	schemaOnce sync.Once
	spdxSchema *jsonschema.Schema
	cdxSchema  *jsonschema.Schema
	schemaErr  error
)

func loadSchemas(t testing.TB) (spdx, cdx *jsonschema.Schema) {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for id, file := range map[string]string{
			spdxSchemaID:      "spdx-2.3/spdx-schema.json",
			cyclonedxSchemaID: "cyclonedx-1.6/bom-1.6.schema.json",
			"http://cyclonedx.org/schema/spdx.schema.json":     "cyclonedx-1.6/spdx.schema.json",
			"http://cyclonedx.org/schema/jsf-0.82.schema.json": "cyclonedx-1.6/jsf-0.82.schema.json",
		} {
			f, err := os.Open(filepath.Join("testdata", "schemas", file))
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(id, doc); err != nil {
				schemaErr = err
				return
			}
		}
		if spdxSchema, schemaErr = c.Compile(spdxSchemaID); schemaErr != nil {
			return
		}
		cdxSchema, schemaErr = c.Compile(cyclonedxSchemaID)
	})
	if schemaErr != nil {
		t.Fatalf("loading schemas: %v", schemaErr)
	}
	return spdxSchema, cdxSchema
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("schema validation failed: %v", err)
	}
}

func TestSPDXJSONSchema(t *testing.T) {
	spdx, _ := loadSchemas(t)
	for _, fx := range append(fixtures(), struct {
		name string
		doc  Document
	}{"large", largePackageDocument(200)}) {
		t.Run(fx.name, func(t *testing.T) {
			validateJSON(t, spdx, encode(t, fx.doc, SPDXJSON))
		})
	}
}

func TestCycloneDXJSONSchema(t *testing.T) {
	_, cdx := loadSchemas(t)
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			validateJSON(t, cdx, encode(t, fx.doc, CycloneDXJSON))
		})
	}
}

// The schema checks must be able to fail: a broken document is rejected.
func TestSchemasRejectInvalid(t *testing.T) {
	spdx, cdx := loadSchemas(t)
	bad := bytes.Replace(encode(t, packageDocument(), SPDXJSON), []byte(`"downloadLocation"`), []byte(`"downloadLocationX"`), 1)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if spdx.Validate(inst) == nil {
		t.Error("SPDX schema accepted a package with an unknown property")
	}
	bad = bytes.Replace(encode(t, packageDocument(), CycloneDXJSON), []byte(`"type": "library"`), []byte(`"type": "bogus"`), 1)
	inst, _ = jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if cdx.Validate(inst) == nil {
		t.Error("CycloneDX schema accepted an unknown component type")
	}
	bad = bytes.Replace(encode(t, packageDocument(), CycloneDXXML), []byte(`type="library"`), []byte(`type="bogus"`), 1)
	if err := xmllintCycloneDX(t, bad); err == nil {
		t.Error("xmllint accepted an unknown component type")
	}
}

func TestCycloneDXXMLSchema(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			if err := xmllintCycloneDX(t, encode(t, fx.doc, CycloneDXXML)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// xmllintCycloneDX validates data against bom-1.6.xsd with xmllint, offline
// (the catalog maps the imported SPDX schema to the local copy).
func xmllintCycloneDX(t *testing.T, data []byte) error {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatalf("xmllint not found (install libxml2-utils: apt-get install -y libxml2-utils): %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "schemas", "cyclonedx-1.6"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bom.cdx.xml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint, "--nonet", "--noout", "--schema", filepath.Join(dir, "bom-1.6.xsd"), file)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+filepath.Join(dir, "xmlcatalog.xml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &xmllintError{err: err, out: string(out)}
	}
	if !strings.Contains(string(out), "validates") {
		return &xmllintError{out: string(out)}
	}
	return nil
}

type xmllintError struct {
	err error
	out string
}

func (e *xmllintError) Error() string {
	if e.err != nil {
		return "xmllint: " + e.err.Error() + "\n" + e.out
	}
	return "xmllint did not report validation:\n" + e.out
}
