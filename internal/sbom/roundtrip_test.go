package sbom

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/tagvalue"
	spdxyaml "github.com/spdx/tools-golang/yaml"
	"sigs.k8s.io/yaml"
)

// SPDX YAML, tag-value and XML have no official schema: each is read back
// and compared with the SPDX JSON document of the same Document, which the
// JSON schema validates.

func readSPDX(t *testing.T, f Format, data []byte) *spdx.Document {
	t.Helper()
	var doc spdx.Document
	var err error
	switch f {
	case SPDXJSON:
		err = spdxjson.ReadInto(bytes.NewReader(data), &doc)
	case SPDXYAML:
		err = spdxyaml.ReadInto(bytes.NewReader(data), &doc)
	case SPDXTagValue:
		err = tagvalue.ReadInto(bytes.NewReader(data), &doc)
	default:
		t.Fatalf("no reader for %s", f)
	}
	if err != nil {
		t.Fatalf("reading %s back: %v", f, err)
	}
	return &doc
}

// normalizeSPDX removes the differences the formats are allowed to have:
// element order, files nested in packages (tag-value) or at document level,
// the OPERATING-SYSTEM / OPERATING_SYSTEM spelling, and nil versus empty
// lists (the tag-value reader makes an empty ExternalDocumentReferences).
func normalizeSPDX(d *spdx.Document) {
	if len(d.ExternalDocumentReferences) == 0 {
		d.ExternalDocumentReferences = nil
	}
	for _, p := range d.Packages {
		d.Files = append(d.Files, p.Files...)
		p.Files = nil
		p.PrimaryPackagePurpose = strings.ReplaceAll(p.PrimaryPackagePurpose, "-", "_")
	}
	slices.SortFunc(d.Packages, func(a, b *spdx.Package) int {
		return strings.Compare(string(a.PackageSPDXIdentifier), string(b.PackageSPDXIdentifier))
	})
	slices.SortFunc(d.Files, func(a, b *spdx.File) int {
		return strings.Compare(string(a.FileSPDXIdentifier), string(b.FileSPDXIdentifier))
	})
	slices.SortFunc(d.OtherLicenses, func(a, b *spdx.OtherLicense) int {
		return strings.Compare(a.LicenseIdentifier, b.LicenseIdentifier)
	})
	id := func(e common.DocElementID) string { return common.RenderDocElementID(e) }
	slices.SortFunc(d.Relationships, func(a, b *spdx.Relationship) int {
		return cmp.Or(strings.Compare(id(a.RefA), id(b.RefA)),
			strings.Compare(a.Relationship, b.Relationship),
			strings.Compare(id(a.RefB), id(b.RefB)))
	})
}

func compareSPDX(t *testing.T, want, got *spdx.Document) {
	t.Helper()
	normalizeSPDX(want)
	normalizeSPDX(got)
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("document read back differs from the JSON document:\n%s\n%s", strings.Join(deepDiff(want, got, 10), "\n"), lineDiff(string(w), string(g)))
	}
}

func TestSPDXYAMLAndTagValueReadBack(t *testing.T) {
	for _, fx := range fixtures() {
		for _, f := range []Format{SPDXYAML, SPDXTagValue} {
			t.Run(fx.name+"/"+string(f), func(t *testing.T) {
				want := readSPDX(t, SPDXJSON, encode(t, fx.doc, SPDXJSON))
				got := readSPDX(t, f, encode(t, fx.doc, f))
				compareSPDX(t, want, got)
				if f == SPDXYAML {
					// Also as generic data: nothing the typed model drops may differ.
					var j, y any
					if err := json.Unmarshal(encode(t, fx.doc, SPDXJSON), &j); err != nil {
						t.Fatal(err)
					}
					if err := yaml.Unmarshal(encode(t, fx.doc, SPDXYAML), &y); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(j, y) {
						t.Fatal("SPDX YAML differs from SPDX JSON as generic data")
					}
				}
				// Guard against a vacuous comparison.
				if len(got.Packages) != len(fx.doc.Packages)+1 || len(got.Relationships) == 0 || len(got.Files) == 0 {
					t.Fatalf("read back %d packages, %d files, %d relationships", len(got.Packages), len(got.Files), len(got.Relationships))
				}
			})
		}
	}
}

// The comparison must be able to fail.
func TestSPDXReadBackDetectsDifference(t *testing.T) {
	d := packageDocument()
	want := readSPDX(t, SPDXJSON, encode(t, d, SPDXJSON))
	d.Root.Summary = "something else"
	got := readSPDX(t, SPDXTagValue, encode(t, d, SPDXTagValue))
	normalizeSPDX(want)
	normalizeSPDX(got)
	if reflect.DeepEqual(want, got) {
		t.Fatal("documents with different summaries compare equal")
	}
}

func TestSPDXXMLReadBack(t *testing.T) {
	schema := spdxJSONSchemaTree(t)
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			var want any
			if err := json.Unmarshal(encode(t, fx.doc, SPDXJSON), &want); err != nil {
				t.Fatal(err)
			}
			got, err := readSPDXXML(bytes.NewReader(encode(t, fx.doc, SPDXXML)), schema)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want, got) {
				w, _ := json.MarshalIndent(want, "", "  ")
				g, _ := json.MarshalIndent(got, "", "  ")
				t.Fatalf("SPDX XML read back differs from SPDX JSON:\n%s", lineDiff(string(w), string(g)))
			}
		})
	}
}

func TestSPDXXMLReaderRejects(t *testing.T) {
	schema := spdxJSONSchemaTree(t)
	for name, doc := range map[string]string{
		"wrong root":      `<Doc><spdxVersion>SPDX-2.3</spdxVersion></Doc>`,
		"unknown element": `<Document><spdxVersion>SPDX-2.3</spdxVersion><bogus>x</bogus></Document>`,
		"repeated scalar": `<Document><name>a</name><name>b</name></Document>`,
		"bad boolean":     `<Document><packages><filesAnalyzed>maybe</filesAnalyzed></packages></Document>`,
		"attribute":       `<Document version="2"><name>a</name></Document>`,
	} {
		if _, err := readSPDXXML(strings.NewReader(doc), schema); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}

func spdxJSONSchemaTree(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "schemas", "spdx-2.3", "spdx-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// readSPDXXML decodes SPDX XML (root <Document>, JSON member names as
// elements, arrays as repeated elements) into the value encoding/json would
// give for the equivalent SPDX JSON. Which elements are arrays, objects,
// booleans or numbers comes from the official SPDX JSON schema, not from the
// encoder, so this is an independent reader.
func readSPDXXML(r io.Reader, schema map[string]any) (any, error) {
	root, err := parseXMLTree(r)
	if err != nil {
		return nil, err
	}
	if root.name != spdxXMLRoot {
		return nil, fmt.Errorf("root element <%s>, want <%s>", root.name, spdxXMLRoot)
	}
	return xmlToJSONValue(root, schema, "/"+root.name)
}

type xmlNode struct {
	name     string
	text     string
	children []*xmlNode
}

func parseXMLTree(r io.Reader) (*xmlNode, error) {
	dec := xml.NewDecoder(r)
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(tok.Attr) > 0 {
				return nil, fmt.Errorf("<%s>: unexpected attributes", tok.Name.Local)
			}
			n := &xmlNode{name: tok.Name.Local}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

func xmlToJSONValue(n *xmlNode, schema map[string]any, where string) (any, error) {
	typ, _ := schema["type"].(string)
	if typ == "" && schema["enum"] != nil {
		typ = "string"
	}
	if typ != "object" && len(n.children) > 0 {
		return nil, fmt.Errorf("%s: %s value has child elements", where, typ)
	}
	switch typ {
	case "object":
		if strings.TrimSpace(n.text) != "" {
			return nil, fmt.Errorf("%s: text in an object element", where)
		}
		props, _ := schema["properties"].(map[string]any)
		out := map[string]any{}
		for _, c := range n.children {
			ps, ok := props[c.name].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: unknown element <%s>", where, c.name)
			}
			if ps["type"] == "array" {
				items, _ := ps["items"].(map[string]any)
				v, err := xmlToJSONValue(c, items, where+"/"+c.name)
				if err != nil {
					return nil, err
				}
				list, _ := out[c.name].([]any)
				out[c.name] = append(list, v)
				continue
			}
			if _, dup := out[c.name]; dup {
				return nil, fmt.Errorf("%s: <%s> repeated but not an array", where, c.name)
			}
			v, err := xmlToJSONValue(c, ps, where+"/"+c.name)
			if err != nil {
				return nil, err
			}
			out[c.name] = v
		}
		return out, nil
	case "string":
		return n.text, nil
	case "boolean":
		switch n.text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%s: %q is not a boolean", where, n.text)
	case "integer", "number":
		var f float64
		if err := json.Unmarshal([]byte(n.text), &f); err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", where, n.text)
		}
		return f, nil
	}
	return nil, fmt.Errorf("%s: schema type %q not handled", where, typ)
}
