package sbom

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestFormats(t *testing.T) {
	want := []struct {
		f           Format
		ext, ctype  string
		startsWith  string
		mustContain string
	}{
		{SPDXJSON, ".spdx.json", "application/spdx+json", "{", `"spdxVersion": "SPDX-2.3"`},
		{SPDXYAML, ".spdx.yaml", "application/yaml", "SPDXID:", "spdxVersion: SPDX-2.3"},
		{SPDXTagValue, ".spdx", "text/spdx", "SPDXVersion: SPDX-2.3", "Relationship: "},
		{SPDXXML, ".spdx.xml", "application/spdx+xml", "<?xml", "<Document>"},
		{CycloneDXJSON, ".cdx.json", "application/vnd.cyclonedx+json; version=1.6", "{", `"specVersion": "1.6"`},
		{CycloneDXXML, ".cdx.xml", "application/vnd.cyclonedx+xml; version=1.6", "<?xml", `xmlns="http://cyclonedx.org/schema/bom/1.6"`},
	}
	got := Formats()
	if len(got) != len(want) {
		t.Fatalf("Formats() = %v", got)
	}
	for i, w := range want {
		if got[i] != w.f || w.f.Ext() != w.ext || w.f.ContentType() != w.ctype || w.f.String() != string(w.f) {
			t.Errorf("format %d: %q ext %q type %q; want %q %q %q", i, got[i], got[i].Ext(), got[i].ContentType(), w.f, w.ext, w.ctype)
		}
		p, err := ParseFormat(" " + strings.ToUpper(string(w.f)) + " ")
		if err != nil || p != w.f {
			t.Errorf("ParseFormat(%q) = %q, %v", w.f, p, err)
		}
		out := string(encode(t, packageDocument(), w.f))
		if !strings.HasPrefix(out, w.startsWith) || !strings.Contains(out, w.mustContain) || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s output does not look right:\n%.200s", w.f, out)
		}
	}
	if Format("nope").Ext() != "" || Format("nope").ContentType() != "" {
		t.Error("unknown format has an extension or content type")
	}
}

func TestParseFormatError(t *testing.T) {
	_, err := ParseFormat("spdx")
	if err == nil {
		t.Fatal("ParseFormat(spdx) succeeded")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), string(f)) {
			t.Errorf("error %q does not list %s", err, f)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, packageDocument(), "cyclonedx"); err == nil || !strings.Contains(err.Error(), "cyclonedx-json") {
		t.Errorf("Write with unknown format: %v", err)
	}
	if buf.Len() != 0 {
		t.Error("Write wrote output for an unknown format")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Document)
		want   string
	}{
		{"empty name", func(d *Document) { d.Name = " " }, "document name is empty"},
		{"relative namespace", func(d *Document) { d.Namespace = "sbom/123" }, "not an absolute URI"},
		{"namespace with fragment", func(d *Document) { d.Namespace += "#x" }, "must not contain '#'"},
		{"upper-case serial", func(d *Document) { d.Serial = strings.ToUpper(d.Serial) }, "serial"},
		{"serial without urn", func(d *Document) { d.Serial = "0f8fad5b-d9cb-469f-a165-70867728950e" }, "serial"},
		{"zero time", func(d *Document) { d.Created = time.Time{} }, "created time is zero"},
		{"no author", func(d *Document) { d.Author = "" }, "author is empty"},
		{"no tool", func(d *Document) { d.Tool = "" }, "tool is empty"},
		{"newline in name", func(d *Document) { d.Root.Name = "a\nb" }, "control characters"},
		{"no ref", func(d *Document) { d.Packages[0].Ref = "" }, "ref is empty"},
		{"duplicate ref", func(d *Document) { d.Packages[1].Ref = d.Packages[0].Ref }, "duplicate ref"},
		{"root ref reused", func(d *Document) { d.Packages[0].Ref = d.Root.Ref }, "duplicate ref"},
		{"bad format", func(d *Document) { d.Packages[0].Format = "apk" }, `unknown format "apk"`},
		{"os below root", func(d *Document) { d.Packages[0].Format = FormatOS }, "only allowed for the root"},
		{"no package name", func(d *Document) { d.Packages[0].Name = "" }, "name is empty"},
		{"bad epoch", func(d *Document) { d.Root.Epoch = "1a" }, "epoch"},
		{"bad package digest", func(d *Document) { d.Root.SHA256 = "abc" }, "sha256"},
		{"bad file digest", func(d *Document) { d.Root.Files[0].SHA256 = strings.Repeat("g", 64) }, "sha256"},
		{"empty file path", func(d *Document) { d.Root.Files[0].Path = "" }, "empty path"},
		{"duplicate file", func(d *Document) { d.Root.Files[1].Path = d.Root.Files[0].Path }, "duplicate file"},
		{"unknown dependency", func(d *Document) { d.Root.DependsOn = append(d.Root.DependsOn, "rpm:nope") }, `depends on "rpm:nope"`},
		{"self dependency", func(d *Document) { d.Packages[0].DependsOn = []string{d.Packages[0].Ref} }, "depends on itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := packageDocument()
			tt.modify(&d)
			err := d.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			for _, f := range Formats() {
				var buf bytes.Buffer
				if Write(&buf, d, f) == nil || buf.Len() != 0 {
					t.Errorf("Write(%s) accepted the invalid document or wrote output", f)
				}
			}
		})
	}
	for _, fx := range fixtures() {
		if err := fx.doc.Validate(); err != nil {
			t.Errorf("%s fixture: %v", fx.name, err)
		}
	}
}

// Digests are accepted in either case and written in lower case.
func TestDigestCase(t *testing.T) {
	d := packageDocument()
	d.Root.SHA256 = strings.ToUpper(d.Root.SHA256)
	d.Root.Files[0].SHA256 = strings.ToUpper(d.Root.Files[0].SHA256)
	for _, f := range Formats() {
		if got, want := encode(t, d, f), encode(t, packageDocument(), f); !bytes.Equal(got, want) {
			t.Errorf("%s: upper-case digests change the output:\n%s", f, lineDiff(string(want), string(got)))
		}
	}
}

// Refs that sanitise to the same SPDX ID still get unique IDs.
func TestSPDXIDCollision(t *testing.T) {
	d := packageDocument()
	d.Packages[0].Ref = "rpm:zlib@1.2.11-40.el9.x86_64"
	d.Packages[1].Ref = "rpm:zlib@1.2.11-40.el9.x86-64" // same after sanitising
	d.Packages[1].DependsOn = []string{d.Packages[0].Ref}
	d.Root.DependsOn = []string{d.Packages[0].Ref, d.Packages[1].Ref}
	p, err := prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, pp := range p.all() {
		if seen[pp.spdxID] || !spdxIDRE.MatchString(pp.spdxID) {
			t.Errorf("SPDX ID %q duplicate or malformed", pp.spdxID)
		}
		seen[pp.spdxID] = true
	}
	spdx, _ := loadSchemas(t)
	validateJSON(t, spdx, encode(t, d, SPDXJSON))
}

func TestToolNameVersion(t *testing.T) {
	for in, want := range map[string][2]string{
		"enmei-1.2.3":      {"enmei", "1.2.3"},
		"enmei-1.2.3-rc.1": {"enmei", "1.2.3-rc.1"},
		"enmei":            {"enmei", ""},
		"my-tool-2":        {"my-tool", "2"},
		"x-y":              {"x-y", ""},
	} {
		if n, v := toolNameVersion(in); n != want[0] || v != want[1] {
			t.Errorf("toolNameVersion(%q) = %q, %q; want %q", in, n, v, want)
		}
	}
}

// Awkward but legal text survives every format: markup characters,
// non-ASCII, multi-line summaries and licence texts.
func TestAwkwardText(t *testing.T) {
	d := packageDocument()
	d.Name = `nodejs <"&'> 日本語`
	d.Author = "株式会社エグザンプル & Co."
	d.Root.Summary = "JavaScript <runtime> & \"tools\" — 日本語\nsecond line\twith tab"
	d.Root.License = "MIT and ASL 2.0\n\nSee COPYING for <details> & more."
	d.Packages[0].Summary = "a ]]> b"
	spdx, cdxSchema := loadSchemas(t)
	validateJSON(t, spdx, encode(t, d, SPDXJSON))
	validateJSON(t, cdxSchema, encode(t, d, CycloneDXJSON))
	if err := xmllintCycloneDX(t, encode(t, d, CycloneDXXML)); err != nil {
		t.Fatal(err)
	}
	want := readSPDX(t, SPDXJSON, encode(t, d, SPDXJSON))
	if want.Packages[0].PackageSummary != d.Root.Summary || want.CreationInfo.Creators[0].Creator != d.Author {
		t.Fatalf("SPDX JSON lost text: %q / %q", want.Packages[0].PackageSummary, want.CreationInfo.Creators[0].Creator)
	}
	compareSPDX(t, readSPDX(t, SPDXJSON, encode(t, d, SPDXJSON)), readSPDX(t, SPDXTagValue, encode(t, d, SPDXTagValue)))
	var jsonDoc, yamlDoc any
	if err := json.Unmarshal(encode(t, d, SPDXJSON), &jsonDoc); err != nil {
		t.Fatal(err)
	}
	// tools-golang's YAML reader goes YAML → HTML-escaped JSON → Creator and
	// Supplier parsers that do not unescape, so "&" comes back as "\u0026";
	// compare the YAML as generic data instead.
	if err := yaml.Unmarshal(encode(t, d, SPDXYAML), &yamlDoc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jsonDoc, yamlDoc) {
		t.Fatal("SPDX YAML differs from SPDX JSON")
	}
	xmlDoc, err := readSPDXXML(bytes.NewReader(encode(t, d, SPDXXML)), spdxJSONSchemaTree(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jsonDoc, xmlDoc) {
		t.Fatal("SPDX XML differs from SPDX JSON")
	}
	for _, f := range []Format{CycloneDXJSON, CycloneDXXML} {
		bom := cdxDecode(t, encode(t, d, f), f)
		if bom.Metadata.Component.Description != d.Root.Summary || (*bom.Metadata.Component.Licenses)[0].License.Name != d.Root.License {
			t.Errorf("%s lost text: %q", f, bom.Metadata.Component.Description)
		}
	}
}

func TestMinimalDocument(t *testing.T) {
	d := Document{
		Name:      "hello-1-1.noarch",
		Namespace: "https://els.example.jp/sbom/minimal",
		Serial:    "urn:uuid:00000000-0000-4000-8000-000000000000",
		Created:   fixtureCreated,
		Author:    vendor,
		Tool:      "enmei",
		Root:      Package{Ref: "rpm:hello", Format: FormatRPM, Name: "hello"},
	}
	spdx, cdxSchema := loadSchemas(t)
	validateJSON(t, spdx, encode(t, d, SPDXJSON))
	validateJSON(t, cdxSchema, encode(t, d, CycloneDXJSON))
	if err := xmllintCycloneDX(t, encode(t, d, CycloneDXXML)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{SPDXYAML, SPDXTagValue} {
		compareSPDX(t, readSPDX(t, SPDXJSON, encode(t, d, SPDXJSON)), readSPDX(t, f, encode(t, d, f)))
	}
}
