package upstream

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type xmlPackage struct {
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum checksum `xml:"checksum"`
	Size     struct {
		Package int64 `xml:"package,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
		Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
	} `xml:"location"`
	Format struct {
		SourceRPM string `xml:"sourcerpm"`
	} `xml:"format"`
}

// parsePrimary reads primary.xml as a stream, one <package> at a time, so a
// large repository's document is never held whole; keep filters by
// architecture.
func parsePrimary(r io.Reader, keep func(arch string) bool) ([]Package, error) {
	dec := xml.NewDecoder(r)
	var out []Package
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var x xmlPackage
		if err := dec.DecodeElement(&x, &se); err != nil {
			return nil, err
		}
		p := Package{
			Name: x.Name, Epoch: x.Version.Epoch, Version: x.Version.Ver, Release: x.Version.Rel, Arch: x.Arch,
			Href: x.Location.Href, Base: x.Location.Base,
			ChecksumType: normalType(x.Checksum.Type), Checksum: normalSum(x.Checksum.Value),
			Size: x.Size.Package, SourceRPM: strings.TrimSpace(x.Format.SourceRPM),
		}
		if p.Name == "" || p.Version == "" || p.Release == "" || p.Arch == "" || p.Href == "" || p.Checksum == "" || p.Size <= 0 {
			return nil, fmt.Errorf("a package entry (%q) lacks its name, version, release, architecture, location, checksum or size", p.Name)
		}
		if keep(p.Arch) {
			out = append(out, p)
		}
	}
}
