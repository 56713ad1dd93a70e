package sbom

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Format is an SBOM serialisation.
type Format string

// The formats Write supports.
const (
	SPDXJSON      Format = "spdx-json"      // SPDX 2.3 JSON
	SPDXYAML      Format = "spdx-yaml"      // SPDX 2.3 YAML
	SPDXTagValue  Format = "spdx-tv"        // SPDX 2.3 tag-value
	SPDXXML       Format = "spdx-xml"       // SPDX 2.3 XML (the SPDX tools' serialisation)
	CycloneDXJSON Format = "cyclonedx-json" // CycloneDX 1.6 JSON
	CycloneDXXML  Format = "cyclonedx-xml"  // CycloneDX 1.6 XML
)

type formatInfo struct {
	format      Format
	ext         string
	contentType string
	write       func(*prepared, *bytes.Buffer) error
}

// formatTable is in the order Formats returns.
//
// Media types: application/spdx+json and text/spdx are registered with IANA
// for SPDX; application/spdx+xml follows the same pattern. SPDX has no YAML
// media type, so SPDX YAML is plain application/yaml (RFC 9512). CycloneDX's
// are its registered vnd types with the spec version as parameter.
var formatTable = []formatInfo{
	{SPDXJSON, ".spdx.json", "application/spdx+json", (*prepared).writeSPDXJSON},
	{SPDXYAML, ".spdx.yaml", "application/yaml", (*prepared).writeSPDXYAML},
	{SPDXTagValue, ".spdx", "text/spdx", (*prepared).writeSPDXTagValue},
	{SPDXXML, ".spdx.xml", "application/spdx+xml", (*prepared).writeSPDXXML},
	{CycloneDXJSON, ".cdx.json", "application/vnd.cyclonedx+json; version=1.6", func(p *prepared, b *bytes.Buffer) error {
		return p.writeCycloneDX(b, cdx.BOMFileFormatJSON)
	}},
	{CycloneDXXML, ".cdx.xml", "application/vnd.cyclonedx+xml; version=1.6", func(p *prepared, b *bytes.Buffer) error {
		return p.writeCycloneDX(b, cdx.BOMFileFormatXML)
	}},
}

func (f Format) info() (formatInfo, bool) {
	for _, fi := range formatTable {
		if fi.format == f {
			return fi, true
		}
	}
	return formatInfo{}, false
}

// Formats returns every supported format, SPDX first.
func Formats() []Format {
	out := make([]Format, len(formatTable))
	for i, fi := range formatTable {
		out[i] = fi.format
	}
	return out
}

// ParseFormat parses a format name such as "spdx-json" (case and
// surrounding space ignored).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := f.info(); ok {
		return f, nil
	}
	names := make([]string, len(formatTable))
	for i, fi := range formatTable {
		names[i] = string(fi.format)
	}
	return "", fmt.Errorf("sbom: unknown format %q (want one of: %s)", s, strings.Join(names, ", "))
}

// String returns the format's name.
func (f Format) String() string { return string(f) }

// Ext is the file name extension, with its leading dot (".spdx.json"), or
// "" for an unknown format.
func (f Format) Ext() string {
	fi, _ := f.info()
	return fi.ext
}

// ContentType is the HTTP media type, or "" for an unknown format.
func (f Format) ContentType() string {
	fi, _ := f.info()
	return fi.contentType
}

// Write encodes d in format f to w. It validates d first and writes nothing
// when d is invalid or encoding fails. The output depends on d alone: the
// same Document always gives the same bytes.
func Write(w io.Writer, d Document, f Format) error {
	fi, ok := f.info()
	if !ok {
		_, err := ParseFormat(string(f))
		return err
	}
	p, err := prepare(d)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := fi.write(p, &buf); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
