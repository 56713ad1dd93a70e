package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

var (
	spdxIDRE    = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	createdRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
	licRefRE    = regexp.MustCompile(`LicenseRef-[A-Za-z0-9.-]+`)
	lowerUUIDRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// spdxJSONDoc is the part of an SPDX JSON document the checks look at.
type spdxJSONDoc struct {
	SPDXID       string `json:"SPDXID"`
	CreationInfo struct {
		Creators []string `json:"creators"`
		Created  string   `json:"created"`
	} `json:"creationInfo"`
	Packages []struct {
		Name          string `json:"name"`
		SPDXID        string `json:"SPDXID"`
		VersionInfo   string `json:"versionInfo"`
		Supplier      string `json:"supplier"`
		FilesAnalyzed bool   `json:"filesAnalyzed"`
		Declared      string `json:"licenseDeclared"`
		Comment       string `json:"comment"`
		Purpose       string `json:"primaryPackagePurpose"`
		Checksums     []struct {
			Algorithm string `json:"algorithm"`
		} `json:"checksums"`
		ExternalRefs []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Files []struct {
		SPDXID string `json:"SPDXID"`
	} `json:"files"`
	Extracted []struct {
		ID   string `json:"licenseId"`
		Text string `json:"extractedText"`
	} `json:"hasExtractedLicensingInfos"`
	Relationships []struct {
		A    string `json:"spdxElementId"`
		B    string `json:"relatedSpdxElement"`
		Type string `json:"relationshipType"`
	} `json:"relationships"`
}

func TestSPDXStructure(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			var doc spdxJSONDoc
			if err := json.Unmarshal(encode(t, fx.doc, SPDXJSON), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.CreationInfo.Created != fixtureCreatedString || !createdRE.MatchString(doc.CreationInfo.Created) {
				t.Errorf("created = %q, want %q", doc.CreationInfo.Created, fixtureCreatedString)
			}
			wantCreators := []string{"Organization: " + vendor, "Tool: enmei-1.2.3"}
			if strings.Join(doc.CreationInfo.Creators, "|") != strings.Join(wantCreators, "|") {
				t.Errorf("creators = %q, want %q", doc.CreationInfo.Creators, wantCreators)
			}

			ids := map[string]bool{doc.SPDXID: true}
			addID := func(id string) {
				if !spdxIDRE.MatchString(id) {
					t.Errorf("SPDX ID %q does not match %s", id, spdxIDRE)
				}
				if ids[id] {
					t.Errorf("duplicate SPDX ID %q", id)
				}
				ids[id] = true
			}
			defined := map[string]bool{}
			for _, e := range doc.Extracted {
				defined[e.ID] = true
				if e.Text == "" {
					t.Errorf("%s: empty extractedText", e.ID)
				}
			}
			fileIDs := map[string]bool{}
			for _, f := range doc.Files {
				fileIDs[f.SPDXID] = true
			}
			containsFiles := map[string]int{}
			for _, r := range doc.Relationships {
				if r.Type == "CONTAINS" && fileIDs[r.B] {
					containsFiles[r.A]++
				}
			}
			if len(doc.Packages) != len(fx.doc.Packages)+1 {
				t.Fatalf("%d packages, want %d", len(doc.Packages), len(fx.doc.Packages)+1)
			}
			for _, p := range doc.Packages {
				addID(p.SPDXID)
				if p.Supplier == "" || p.VersionInfo == "" {
					t.Errorf("%s: NTIA supplier/version missing", p.SPDXID)
				}
				for _, ref := range licRefRE.FindAllString(p.Declared, -1) {
					if !defined[ref] {
						t.Errorf("%s: %s used but not in hasExtractedLicensingInfos", p.SPDXID, ref)
					}
				}
				if p.FilesAnalyzed != (containsFiles[p.SPDXID] > 0) {
					t.Errorf("%s: filesAnalyzed %v but CONTAINS %d files", p.SPDXID, p.FilesAnalyzed, containsFiles[p.SPDXID])
				}
				if p.Purpose == "OPERATING_SYSTEM" {
					continue
				}
				if len(p.ExternalRefs) != 1 || p.ExternalRefs[0].Category != "PACKAGE-MANAGER" ||
					p.ExternalRefs[0].Type != "purl" || !strings.HasPrefix(p.ExternalRefs[0].Locator, "pkg:") {
					t.Errorf("%s: no purl externalRef: %+v", p.SPDXID, p.ExternalRefs)
				}
			}
			for _, f := range doc.Files {
				addID(f.SPDXID)
			}
			var describes int
			for _, r := range doc.Relationships {
				if !ids[r.A] || !ids[r.B] {
					t.Errorf("relationship %s %s %s names an unknown element", r.A, r.Type, r.B)
				}
				if r.Type == "DESCRIBES" {
					describes++
				}
			}
			if describes != 1 {
				t.Errorf("%d DESCRIBES relationships, want 1", describes)
			}
		})
	}
}

func TestSPDXPackageDocumentContent(t *testing.T) {
	var doc spdxJSONDoc
	if err := json.Unmarshal(encode(t, packageDocument(), SPDXJSON), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Packages[0]
	if root.Name != "nodejs" || root.VersionInfo != "1:16.20.2-8.el9_4" || root.Supplier != "Organization: "+vendor {
		t.Errorf("root = %+v", root)
	}
	if root.Declared != "LicenseRef-MIT-and-ASL-2.0-and-ISC-and-BSD" {
		t.Errorf("root licenseDeclared = %q", root.Declared)
	}
	if len(root.Checksums) != 1 || root.Checksums[0].Algorithm != "SHA256" {
		t.Errorf("root checksums = %+v", root.Checksums)
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[r.A+" "+r.Type+" "+r.B] = true
	}
	for _, want := range []string{
		"SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-rpm-nodejs-1-16.20.2-8.el9-4.x86-64",
		"SPDXRef-Package-rpm-nodejs-1-16.20.2-8.el9-4.x86-64 DEPENDS_ON SPDXRef-Package-rpm-zlib-1.2.11-40.el9.x86-64",
		"SPDXRef-Package-rpm-nodejs-1-16.20.2-8.el9-4.x86-64 DEPENDS_ON SPDXRef-Package-rpm-openssl-libs-1-3.0.7-27.el9.x86-64",
		"SPDXRef-Package-rpm-openssl-libs-1-3.0.7-27.el9.x86-64 DEPENDS_ON SPDXRef-Package-rpm-zlib-1.2.11-40.el9.x86-64",
	} {
		if !rels[want] {
			t.Errorf("missing relationship %s", want)
		}
	}
	// Two files with digests are listed; the directory is not.
	if len(doc.Files) != 2 {
		t.Errorf("%d files, want 2", len(doc.Files))
	}
}

func TestSPDXHostDocumentContent(t *testing.T) {
	var doc spdxJSONDoc
	if err := json.Unmarshal(encode(t, hostDocument(), SPDXJSON), &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, p := range doc.Packages {
		byName[p.Name] = i
	}
	root := doc.Packages[byName["almalinux"]]
	if root.Purpose != "OPERATING_SYSTEM" || root.Comment != "" {
		t.Errorf("OS root = %+v", root)
	}
	if c := doc.Packages[byName["base-files"]].Comment; !strings.Contains(c, "Not vendor-verified") {
		t.Errorf("unverified package comment = %q", c)
	}
	if c := doc.Packages[byName["libstdc++"]].Comment; c != "" {
		t.Errorf("verified package comment = %q", c)
	}
	if d := doc.Packages[byName["libstdc++"]].Declared; d != "GPL-3.0-or-later AND (GPL-3.0-or-later WITH GCC-exception-3.1)" {
		t.Errorf("valid expression written as %q", d)
	}
	contained := 0
	for _, r := range doc.Relationships {
		if r.A == root.SPDXID && r.Type == "CONTAINS" {
			contained++
		}
	}
	if contained != 2 {
		t.Errorf("OS root CONTAINS %d packages, want 2", contained)
	}
	tv := string(encode(t, hostDocument(), SPDXTagValue))
	if !strings.Contains(tv, "PrimaryPackagePurpose: OPERATING-SYSTEM\n") {
		t.Error("tag-value does not spell OPERATING-SYSTEM")
	}
}

// cdxDecode reads CycloneDX output back with cyclonedx-go.
func cdxDecode(t *testing.T, data []byte, f Format) *cdx.BOM {
	t.Helper()
	format := cdx.BOMFileFormatJSON
	if f == CycloneDXXML {
		format = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), format).Decode(&bom); err != nil {
		t.Fatalf("decoding %s: %v", f, err)
	}
	return &bom
}

func walkComponents(cs *[]cdx.Component, fn func(cdx.Component)) {
	if cs == nil {
		return
	}
	for _, c := range *cs {
		fn(c)
		walkComponents(c.Components, fn)
	}
}

func TestCycloneDXStructure(t *testing.T) {
	for _, fx := range fixtures() {
		for _, f := range []Format{CycloneDXJSON, CycloneDXXML} {
			t.Run(fx.name+"/"+string(f), func(t *testing.T) {
				data := encode(t, fx.doc, f)
				bom := cdxDecode(t, data, f)
				if f == CycloneDXJSON && (bom.SpecVersion != cdx.SpecVersion1_6 || !bytes.Contains(data, []byte(`"specVersion": "1.6"`))) {
					t.Errorf("specVersion = %v", bom.SpecVersion)
				}
				if f == CycloneDXXML && !bytes.Contains(data, []byte(`xmlns="http://cyclonedx.org/schema/bom/1.6"`)) {
					t.Error("XML namespace is not CycloneDX 1.6")
				}
				if !lowerUUIDRE.MatchString(bom.SerialNumber) || bom.SerialNumber != fx.doc.Serial {
					t.Errorf("serialNumber = %q", bom.SerialNumber)
				}
				m := bom.Metadata
				if m == nil || m.Timestamp != fixtureCreatedString || !createdRE.MatchString(m.Timestamp) {
					t.Fatalf("metadata/timestamp = %+v", m)
				}
				if m.Manufacturer == nil || m.Manufacturer.Name != vendor || m.Authors == nil || (*m.Authors)[0].Name != vendor {
					t.Errorf("author not recorded: %+v %+v", m.Manufacturer, m.Authors)
				}
				if m.Tools == nil || m.Tools.Components == nil || (*m.Tools.Components)[0].Name != "enmei" || (*m.Tools.Components)[0].Version != "1.2.3" {
					t.Errorf("tools = %+v", m.Tools)
				}
				if m.Component == nil || m.Component.BOMRef != fx.doc.Root.Ref {
					t.Fatalf("metadata.component = %+v", m.Component)
				}

				refs := map[string]int{}
				var libs []cdx.Component
				all := append([]cdx.Component{*m.Component}, derefComponents(bom.Components)...)
				walkComponents(&all, func(c cdx.Component) {
					if c.BOMRef == "" {
						t.Errorf("component %q without bom-ref", c.Name)
					}
					refs[c.BOMRef]++
					if c.Type == cdx.ComponentTypeLibrary {
						libs = append(libs, c)
					}
				})
				for ref, n := range refs {
					if n > 1 {
						t.Errorf("bom-ref %q used %d times", ref, n)
					}
				}
				if len(libs) != len(fx.doc.Packages)+boolInt(fx.doc.Root.Format != FormatOS) {
					t.Errorf("%d library components", len(libs))
				}
				for _, c := range libs {
					if c.PackageURL == "" || c.Supplier == nil || c.Version == "" {
						t.Errorf("%s: NTIA purl/supplier/version missing", c.BOMRef)
					}
				}
				if bom.Dependencies == nil || len(*bom.Dependencies) != len(fx.doc.Packages)+1 {
					t.Fatalf("dependencies = %+v", bom.Dependencies)
				}
				for _, d := range *bom.Dependencies {
					if refs[d.Ref] != 1 {
						t.Errorf("dependency ref %q is no component", d.Ref)
					}
					if d.Dependencies != nil {
						for _, on := range *d.Dependencies {
							if refs[on] != 1 {
								t.Errorf("dependsOn %q is no component", on)
							}
						}
					}
				}
			})
		}
	}
}

func derefComponents(cs *[]cdx.Component) []cdx.Component {
	if cs == nil {
		return nil
	}
	return *cs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCycloneDXHostContent(t *testing.T) {
	bom := cdxDecode(t, encode(t, hostDocument(), CycloneDXJSON), CycloneDXJSON)
	if bom.Metadata.Component.Type != cdx.ComponentTypeOS {
		t.Errorf("root type = %q", bom.Metadata.Component.Type)
	}
	verified := map[string]string{}
	for _, c := range *bom.Components {
		verified[c.Name] = "true"
		if c.Properties != nil {
			for _, p := range *c.Properties {
				if p.Name == "enmei:vendor-verified" {
					verified[c.Name] = p.Value
				}
			}
		}
	}
	if verified["base-files"] != "false" || verified["libstdc++"] != "true" {
		t.Errorf("vendor-verified properties: %v", verified)
	}
	for _, d := range *bom.Dependencies {
		if d.Ref == "os:almalinux@9.4" && (d.Dependencies == nil || len(*d.Dependencies) != 2) {
			t.Errorf("OS root dependsOn = %v", d.Dependencies)
		}
	}
	// Licences: a valid expression, free text as a name.
	for _, c := range *bom.Components {
		l := (*c.Licenses)[0]
		switch c.Name {
		case "libstdc++":
			if l.Expression != "GPL-3.0-or-later AND (GPL-3.0-or-later WITH GCC-exception-3.1)" {
				t.Errorf("libstdc++ licence = %+v", l)
			}
		case "base-files":
			if l.License == nil || l.License.Name != "GPL-2.0-or-later and (MIT or BSD-3-Clause)" {
				t.Errorf("base-files licence = %+v", l)
			}
		}
	}
}

func TestCycloneDXFiles(t *testing.T) {
	bom := cdxDecode(t, encode(t, packageDocument(), CycloneDXXML), CycloneDXXML)
	files := *bom.Metadata.Component.Components
	if len(files) != 3 {
		t.Fatalf("%d file components, want 3", len(files))
	}
	for _, f := range files {
		if f.Type != cdx.ComponentTypeFile {
			t.Errorf("%s: type %q", f.Name, f.Type)
		}
		dir := f.Name == "/usr/lib/node_modules"
		if dir != (f.Hashes == nil) {
			t.Errorf("%s: hashes %v", f.Name, f.Hashes)
		}
		if !dir && (*f.Hashes)[0].Algorithm != cdx.HashAlgoSHA256 {
			t.Errorf("%s: hash %v", f.Name, (*f.Hashes)[0])
		}
	}
	lic := (*bom.Components)[1] // zlib
	if lic.Name != "zlib" || lic.Licenses == nil || (*lic.Licenses)[0].License == nil || (*lic.Licenses)[0].License.ID != "Zlib" {
		t.Errorf("zlib licence = %+v", lic.Licenses)
	}
}

// Created is written in UTC with second precision in every format.
func TestCreatedEverywhere(t *testing.T) {
	for _, f := range Formats() {
		out := string(encode(t, packageDocument(), f))
		if !strings.Contains(out, fixtureCreatedString) {
			t.Errorf("%s: %s missing", f, fixtureCreatedString)
		}
		if strings.Contains(out, "2024-05-01T09:30") || strings.Contains(out, ".123") {
			t.Errorf("%s: local time or fraction leaked", f)
		}
	}
}
