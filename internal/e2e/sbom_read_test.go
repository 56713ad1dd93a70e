package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/tagvalue"
	spdxyaml "github.com/spdx/tools-golang/yaml"
)

// The six formats of enmei sbom.
var sbomFormats = []string{"spdx-json", "spdx-yaml", "spdx-tv", "spdx-xml", "cyclonedx-json", "cyclonedx-xml"}

// sbomEntry is one package of a host SBOM as a reader of the format sees it.
type sbomEntry struct {
	Name, Version, PURL string
	Arch                string // the PURL's arch qualifier
	Supplier            string // "Organization: X", "NOASSERTION" or "" (CycloneDX: the name)
	SHA256              string
	Verified            bool // no "not vendor-verified" mark
	OS                  bool // the root: the operating system
}

// SPDX's and CycloneDX's marks of a package listed from local data only.
const (
	spdxUnverified = "Not vendor-verified: listed from the host's local package database only."
	cdxVerifiedKey = "enmei:vendor-verified"
)

// readHostSBOM parses a host SBOM with an independent reader of its format
// (tools-golang for SPDX JSON, YAML and tag-value, encoding/xml for SPDX
// XML, cyclonedx-go for CycloneDX, packageurl-go for the PURLs) and returns
// its packages by "name:arch" (the OS root by its name alone).
func readHostSBOM(t *testing.T, format string, data []byte) map[string]sbomEntry {
	t.Helper()
	out := map[string]sbomEntry{}
	add := func(e sbomEntry) {
		key := e.Name
		if e.PURL != "" {
			p, err := packageurl.FromString(e.PURL)
			if err != nil {
				t.Errorf("%s: %s has the PURL %q: %v", format, e.Name, e.PURL, err)
			}
			e.Arch = p.Qualifiers.Map()["arch"]
			key += ":" + e.Arch
		}
		if _, dup := out[key]; dup {
			t.Errorf("%s: package %s listed twice", format, key)
		}
		out[key] = e
	}
	switch format {
	case "spdx-json", "spdx-yaml", "spdx-tv":
		var doc *spdx.Document
		var err error
		switch format {
		case "spdx-json":
			doc, err = spdxjson.Read(bytes.NewReader(data))
		case "spdx-yaml":
			doc, err = spdxyaml.Read(bytes.NewReader(data))
		default:
			doc, err = tagvalue.Read(bytes.NewReader(data))
		}
		if err != nil {
			t.Fatalf("%s: the SPDX reader refuses the document: %v\n%.1500s", format, err, data)
		}
		for _, p := range doc.Packages {
			e := sbomEntry{Name: p.PackageName, Version: p.PackageVersion, Verified: p.PackageComment != spdxUnverified,
				OS: strings.HasPrefix(p.PrimaryPackagePurpose, "OPERATING")}
			if s := p.PackageSupplier; s != nil {
				e.Supplier = s.Supplier
				if s.SupplierType != "" {
					e.Supplier = s.SupplierType + ": " + s.Supplier
				}
			}
			for _, c := range p.PackageChecksums {
				if c.Algorithm == "SHA256" {
					e.SHA256 = c.Value
				}
			}
			for _, r := range p.PackageExternalReferences {
				if r.RefType == "purl" {
					e.PURL = r.Locator
				}
			}
			add(e)
		}
	case "spdx-xml":
		var doc struct {
			XMLName  xml.Name `xml:"Document"`
			Packages []struct {
				Name        string `xml:"name"`
				VersionInfo string `xml:"versionInfo"`
				Supplier    string `xml:"supplier"`
				Comment     string `xml:"comment"`
				Purpose     string `xml:"primaryPackagePurpose"`
				Checksums   []struct {
					Algorithm string `xml:"algorithm"`
					Value     string `xml:"checksumValue"`
				} `xml:"checksums"`
				ExternalRefs []struct {
					Type    string `xml:"referenceType"`
					Locator string `xml:"referenceLocator"`
				} `xml:"externalRefs"`
			} `xml:"packages"`
		}
		if err := xml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("spdx-xml: not XML of an SPDX document: %v", err)
		}
		for _, p := range doc.Packages {
			e := sbomEntry{Name: p.Name, Version: p.VersionInfo, Supplier: p.Supplier, Verified: p.Comment != spdxUnverified,
				OS: strings.HasPrefix(p.Purpose, "OPERATING")}
			for _, c := range p.Checksums {
				if c.Algorithm == "SHA256" {
					e.SHA256 = c.Value
				}
			}
			for _, r := range p.ExternalRefs {
				if r.Type == "purl" {
					e.PURL = r.Locator
				}
			}
			add(e)
		}
	case "cyclonedx-json", "cyclonedx-xml":
		ff := cdx.BOMFileFormatJSON
		if format == "cyclonedx-xml" {
			ff = cdx.BOMFileFormatXML
		}
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(bytes.NewReader(data), ff).Decode(&bom); err != nil {
			t.Fatalf("%s: cyclonedx-go refuses the document: %v", format, err)
		}
		entry := func(c cdx.Component) sbomEntry {
			e := sbomEntry{Name: c.Name, Version: c.Version, PURL: c.PackageURL, Verified: true, OS: c.Type == cdx.ComponentTypeOS}
			if c.Supplier != nil {
				e.Supplier = c.Supplier.Name
			}
			if c.Hashes != nil {
				for _, h := range *c.Hashes {
					if h.Algorithm == cdx.HashAlgoSHA256 {
						e.SHA256 = h.Value
					}
				}
			}
			if c.Properties != nil {
				for _, p := range *c.Properties {
					if p.Name == cdxVerifiedKey && p.Value == "false" {
						e.Verified = false
					}
				}
			}
			return e
		}
		if bom.Metadata != nil && bom.Metadata.Component != nil {
			add(entry(*bom.Metadata.Component))
		}
		if bom.Components != nil {
			for _, c := range *bom.Components {
				if c.Type == cdx.ComponentTypeFile {
					continue
				}
				add(entry(c))
			}
		}
	default:
		t.Fatalf("unknown format %s", format)
	}
	return out
}

// packagesOf drops the OS root.
func packagesOf(m map[string]sbomEntry) map[string]sbomEntry {
	out := map[string]sbomEntry{}
	for k, e := range m {
		if !e.OS {
			out[k] = e
		}
	}
	return out
}

// tlsSBOMVendor is a vendor with the catalogue, the demo packages published
// to product's repository ("el9" or "deb12"), a contract, serve --tls auto,
// and the contract's client certificate downloaded as a PKCS#12 file
// (password p12Password).
func tlsSBOMVendor(t *testing.T, product string) (v *vendor, demoDir string, demoNames []string, p12 string) {
	t.Helper()
	v = newVendor(t, "")
	v.catalog()
	format, repo := "rpm", "el9-x86_64"
	if product == "deb12" {
		format, repo = "deb", "deb12-main"
	}
	demoDir, demoNames = writeDemo(t, format)
	v.must("publish", repo, demoDir)
	c := v.contract(product, 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(v.must("ca", "export"))) {
		t.Fatal("ca export printed no certificate")
	}
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	p12 = filepath.Join(t.TempDir(), "cert.p12")
	must(t, os.WriteFile(p12, v.downloadP12(t, pool, c.SupportID), 0o600))
	return v, demoDir, demoNames, p12
}

// certImport runs enmei cert import on root.
func certImport(t *testing.T, root, p12 string) {
	t.Helper()
	if r := run(t, nil, bin.enmei, "--root", root, "cert", "import", p12, "--password", p12Password); r.code != 0 {
		t.Fatalf("cert import: exit %d %s", r.code, r.stderr)
	}
}
