package sbom

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// CycloneDX 1.6 choices.
//
//   - metadata.component is the root: type "operating-system" for a host's
//     OS, "library" for rpm/deb packages (syft's choice: a package manager
//     does not say whether a package is an application or a library).
//   - The SBOM's author (the vendor) is both metadata.manufacturer (1.6: the
//     organisation that made the BOM) and metadata.authors; the root's
//     supplier is metadata.supplier; metadata.tools names the tool.
//   - Each package's files are nested components of type "file" with their
//     SHA-256 (none for directories and ghost files), bom-ref
//     "<package ref>#<path>".
//   - dependencies lists every package (an empty dependsOn says "none
//     known"); an OS root depends on every installed package, the CycloneDX
//     counterpart of SPDX's CONTAINS.
//   - A package not verified by the vendor carries the property
//     enmei:vendor-verified = false.
//   - Licences: see license.go.

const propVendorVerified = "enmei:vendor-verified"

func (p *prepared) cdxBOM() (*cdx.BOM, error) {
	d := p.doc
	bom := cdx.NewBOM()
	bom.SerialNumber = d.Serial
	bom.Version = 1

	toolName, toolVersion := toolNameVersion(d.Tool)
	meta := &cdx.Metadata{
		Timestamp: p.created,
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    toolName,
			Version: toolVersion,
		}}},
		Authors:      &[]cdx.OrganizationalContact{{Name: d.Author}},
		Manufacturer: &cdx.OrganizationalEntity{Name: d.Author},
	}
	if d.Root.Supplier != "" {
		meta.Supplier = &cdx.OrganizationalEntity{Name: d.Root.Supplier}
	}
	root := p.cdxComponent(p.root)
	meta.Component = &root
	bom.Metadata = meta

	if len(p.packages) > 0 {
		comps := make([]cdx.Component, 0, len(p.packages))
		for _, pp := range p.packages {
			comps = append(comps, p.cdxComponent(pp))
		}
		bom.Components = &comps
	}

	deps := make([]cdx.Dependency, 0, len(p.packages)+1)
	for _, pp := range p.all() {
		on := make([]string, 0, len(pp.deps))
		if pp == p.root && pp.Format == FormatOS {
			for _, other := range p.packages {
				on = append(on, other.Ref)
			}
		} else {
			on = append(on, pp.deps...)
		}
		deps = append(deps, cdx.Dependency{Ref: pp.Ref, Dependencies: &on})
	}
	bom.Dependencies = &deps

	// bom-refs must be unique; file refs are derived from package refs and
	// paths, so guard against the pathological collision.
	seen := make(map[string]bool)
	for _, pp := range p.all() {
		for _, ref := range append([]string{pp.Ref}, fileRefs(pp)...) {
			if seen[ref] {
				return nil, fmt.Errorf("sbom: duplicate CycloneDX bom-ref %q", ref)
			}
			seen[ref] = true
		}
	}
	return bom, nil
}

func fileRefs(pp *prepPackage) []string {
	out := make([]string, len(pp.files))
	for i, f := range pp.files {
		out[i] = f.bomRef
	}
	return out
}

func (p *prepared) cdxComponent(pp *prepPackage) cdx.Component {
	c := cdx.Component{
		BOMRef:      pp.Ref,
		Type:        cdx.ComponentTypeLibrary,
		Name:        pp.Name,
		Version:     pp.VersionString(),
		Description: pp.Summary,
		PackageURL:  pp.purl,
	}
	if pp.Format == FormatOS {
		c.Type = cdx.ComponentTypeOS
	}
	if pp.Supplier != "" {
		c.Supplier = &cdx.OrganizationalEntity{Name: pp.Supplier}
	}
	if pp.SHA256 != "" {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: pp.SHA256}}
	}
	switch l := pp.license; l.kind {
	case licenseExpression:
		if l.single {
			c.Licenses = &cdx.Licenses{{License: &cdx.License{ID: l.expr}}}
		} else {
			c.Licenses = &cdx.Licenses{{Expression: l.expr}}
		}
	case licenseRef:
		c.Licenses = &cdx.Licenses{{License: &cdx.License{Name: l.declared}}}
	}
	if pp.Format != FormatOS && !pp.Verified {
		c.Properties = &[]cdx.Property{{Name: propVendorVerified, Value: "false"}}
	}
	if len(pp.files) > 0 {
		files := make([]cdx.Component, 0, len(pp.files))
		for _, f := range pp.files {
			fc := cdx.Component{
				BOMRef: f.bomRef,
				Type:   cdx.ComponentTypeFile,
				Name:   f.Path,
			}
			if f.SHA256 != "" {
				fc.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
			}
			files = append(files, fc)
		}
		c.Components = &files
	}
	return c
}

func (p *prepared) writeCycloneDX(buf *bytes.Buffer, format cdx.BOMFileFormat) error {
	bom, err := p.cdxBOM()
	if err != nil {
		return err
	}
	enc := cdx.NewBOMEncoder(buf, format)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	// Without EncodeVersion cyclonedx-go writes its newest spec version.
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("sbom: cyclonedx: %w", err)
	}
	if format == cdx.BOMFileFormatXML {
		buf.WriteByte('\n')
	}
	return nil
}
