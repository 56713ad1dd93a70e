package sbom

import (
	"bytes"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/tagvalue"
	spdxyaml "github.com/spdx/tools-golang/yaml"
)

// SPDX 2.3 choices.
//
// Files: a package whose files are listed has filesAnalyzed true, its files
// are document-level files (with their SHA-256) related by "<package>
// CONTAINS <file>", and it has no packageVerificationCode. A package without
// listed files has filesAnalyzed false.
//
//   - filesAnalyzed false together with files would contradict SPDX 2.3
//     7.8.1 ("If false, the package shall not contain any files").
//   - The packageVerificationCode (7.9) is a SHA-1 over the files' SHA-1
//     digests; enmei has SHA-256 digests only, so it cannot be computed
//     honestly. Its cardinality is 0..1 when filesAnalyzed is true (SPDX
//     2.3.1 marks it "not required" outright), so it is left out rather than
//     faked from other digests.
//   - The official JSON schema forbids nesting files inside packages
//     ("hasFiles" is tools-golang-unsupported and redundant with CONTAINS).
//   - Entries without a digest (directories, ghost files) are not SPDX
//     files, which need a checksum; CycloneDX lists them.
//   - Known gap: SPDX 2.3 8.4 wants a SHA-1 for every file; the model only
//     carries SHA-256 (which the JSON schema accepts).
//
// Tag-value writes each package's files right after the package (the
// format's way to say a package contains them) rather than under tools-
// golang's "Unpackaged files" heading; the CONTAINS relationships are there
// too.
//
// primaryPackagePurpose of an OS root: the SPDX 2.3 text spells it
// OPERATING-SYSTEM (used in tag-value) while the official 2.3 JSON schema
// only accepts OPERATING_SYSTEM (used in JSON, YAML and XML, which share
// the JSON field names and values; SPDX 2.3.1's schema switches to the
// hyphen).

const (
	spdxDocumentID      = "DOCUMENT"
	unverifiedComment   = "Not vendor-verified: listed from the host's local package database only."
	purposeOSJSON       = "OPERATING_SYSTEM"
	purposeOSTagValue   = "OPERATING-SYSTEM"
	spdxRefPrefixLength = len("SPDXRef-")
)

func elementID(spdxID string) common.ElementID {
	return common.ElementID(spdxID[spdxRefPrefixLength:])
}

func docElementID(spdxID string) common.DocElementID {
	return common.DocElementID{ElementRefID: elementID(spdxID)}
}

// licenseListVersion is "M.N" of the licence tables.
func licenseListVersion() string {
	parts := strings.SplitN(spdxLicenseListVersion, ".", 3)
	if len(parts) < 2 {
		return spdxLicenseListVersion
	}
	return parts[0] + "." + parts[1]
}

// spdxDocument builds the SPDX 2.3 model of p. tagValue selects the
// tag-value flavour (files nested in their packages, OPERATING-SYSTEM).
func (p *prepared) spdxDocument(tagValue bool) *spdx.Document {
	d := p.doc
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    spdxDocumentID,
		DocumentName:      d.Name,
		DocumentNamespace: d.Namespace,
		CreationInfo: &spdx.CreationInfo{
			LicenseListVersion: licenseListVersion(),
			Creators: []common.Creator{
				{CreatorType: "Organization", Creator: d.Author},
				{CreatorType: "Tool", Creator: d.Tool},
			},
			Created: p.created,
		},
	}
	rel := func(a, typ, b string) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         docElementID(a),
			RefB:         docElementID(b),
			Relationship: typ,
		})
	}
	rel("SPDXRef-"+spdxDocumentID, common.TypeRelationshipDescribe, p.root.spdxID)

	for _, pp := range p.all() {
		sp := p.spdxPackage(pp, tagValue)
		doc.Packages = append(doc.Packages, sp)
		for _, dep := range pp.deps {
			rel(pp.spdxID, common.TypeRelationshipDependsOn, p.byRef[dep].spdxID)
		}
		if pp == p.root && pp.Format == FormatOS {
			for _, other := range p.packages {
				rel(pp.spdxID, common.TypeRelationshipContains, other.spdxID)
			}
		}
		for _, f := range pp.files {
			if f.SHA256 == "" {
				continue
			}
			sf := &spdx.File{
				FileName:           spdxFileName(f.Path),
				FileSPDXIdentifier: elementID(f.spdxID),
				Checksums:          []common.Checksum{{Algorithm: common.SHA256, Value: f.SHA256}},
				LicenseConcluded:   noAssertion,
				FileCopyrightText:  noAssertion,
			}
			if tagValue {
				sp.Files = append(sp.Files, sf)
			} else {
				doc.Files = append(doc.Files, sf)
			}
			rel(pp.spdxID, common.TypeRelationshipContains, f.spdxID)
		}
	}
	for _, l := range p.licenses.refs() {
		ol := &spdx.OtherLicense{
			LicenseIdentifier: l.ref,
			ExtractedText:     l.declared,
			LicenseComment:    "The licence as the package declares it; not an SPDX License List expression.",
		}
		if !hasControl(l.declared) { // a name is one line (tag-value)
			ol.LicenseName = l.declared
		}
		doc.OtherLicenses = append(doc.OtherLicenses, ol)
	}
	return doc
}

func (p *prepared) spdxPackage(pp *prepPackage, tagValue bool) *spdx.Package {
	supplier := &common.Supplier{Supplier: noAssertion}
	if pp.Supplier != "" {
		supplier = &common.Supplier{SupplierType: "Organization", Supplier: pp.Supplier}
	}
	sp := &spdx.Package{
		PackageName:               pp.Name,
		PackageSPDXIdentifier:     elementID(pp.spdxID),
		PackageVersion:            pp.VersionString(),
		PackageSupplier:           supplier,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             pp.hasDigestFiles(),
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    pp.license.spdxDeclared(),
		PackageSummary:            pp.Summary,
	}
	if pp.SHA256 != "" {
		sp.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: pp.SHA256}}
	}
	if pp.purl != "" {
		sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
			Category: common.CategoryPackageManager,
			RefType:  common.TypePackageManagerPURL,
			Locator:  pp.purl,
		}}
	}
	if pp.Format == FormatOS {
		sp.PrimaryPackagePurpose = purposeOSJSON
		if tagValue {
			sp.PrimaryPackagePurpose = purposeOSTagValue
		}
	} else if !pp.Verified {
		sp.PackageComment = unverifiedComment
	}
	return sp
}

func (p *prepared) writeSPDXJSON(buf *bytes.Buffer) error {
	return spdxjson.Write(p.spdxDocument(false), buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

func (p *prepared) writeSPDXYAML(buf *bytes.Buffer) error {
	return spdxyaml.Write(p.spdxDocument(false), buf)
}

func (p *prepared) writeSPDXTagValue(buf *bytes.Buffer) error {
	return tagvalue.Write(p.spdxDocument(true), buf)
}
