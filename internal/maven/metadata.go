package maven

import (
	"bytes"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"time"
)

// Metadata renders the artifact-level maven-metadata.xml listing versions,
// which Maven reads to resolve LATEST, RELEASE and version ranges. The
// versions are deduplicated and sorted with CompareVersions; latest is the
// newest, release the newest that is not a SNAPSHOT (both left out when
// there is none). lastUpdated is updated in UTC as Maven writes it. The
// output depends only on the arguments, and not on the order of versions,
// so that its checksums are stable.
func Metadata(groupID, artifactID string, versions []string, updated time.Time) []byte {
	vs := slices.Clone(versions)
	sortVersions(vs)
	vs = slices.Compact(vs)
	var latest, release string
	if len(vs) > 0 {
		latest = vs[len(vs)-1]
	}
	for _, v := range slices.Backward(vs) {
		if !isSnapshot(v) {
			release = v
			break
		}
	}

	var b bytes.Buffer
	elem := func(indent, name, value string) {
		b.WriteString(indent + "<" + name + ">")
		_ = xml.EscapeText(&b, []byte(value)) // writing to a bytes.Buffer does not fail
		b.WriteString("</" + name + ">\n")
	}
	b.WriteString(xml.Header)
	b.WriteString("<metadata>\n")
	elem("  ", "groupId", groupID)
	elem("  ", "artifactId", artifactID)
	b.WriteString("  <versioning>\n")
	if latest != "" {
		elem("    ", "latest", latest)
	}
	if release != "" {
		elem("    ", "release", release)
	}
	b.WriteString("    <versions>\n")
	for _, v := range vs {
		elem("      ", "version", v)
	}
	b.WriteString("    </versions>\n")
	elem("    ", "lastUpdated", updated.UTC().Format("20060102150405"))
	b.WriteString("  </versioning>\n")
	b.WriteString("</metadata>\n")
	return b.Bytes()
}

// MetadataFile is what ParseMetadata reads from a maven-metadata.xml.
type MetadataFile struct {
	GroupID    string
	ArtifactID string
	Version    string   // set only in a SNAPSHOT version's metadata
	Versions   []string // the versioning's versions, as listed
}

// metadataXML is the part of maven-metadata.xml ParseMetadata reads.
type metadataXML struct {
	XMLName    xml.Name `xml:"metadata"`
	GroupID    string   `xml:"groupId"`
	ArtifactID string   `xml:"artifactId"`
	Version    string   `xml:"version"`
	Versions   []string `xml:"versioning>versions>version"`
}

// ParseMetadata reads an uploaded maven-metadata.xml, so that the caller
// can check it names the path's coordinates before accepting it. It
// refuses malformed XML, a root other than <metadata>, and names or
// versions that are not valid coordinates; it does not require groupId or
// artifactId, which the caller compares with the path's.
func ParseMetadata(data []byte) (MetadataFile, error) {
	if len(data) > MaxPOMSize {
		return MetadataFile{}, invalid("the metadata file is larger than %d MiB; upload the maven-metadata.xml Maven wrote", MaxPOMSize>>20)
	}
	var m metadataXML
	if err := decodeXML(data, &m); err != nil {
		var ue xml.UnmarshalError
		var ce charsetError
		switch {
		case errors.As(err, &ce):
			return MetadataFile{}, invalid("the metadata file declares the encoding %q, which is not supported; upload it as UTF-8", string(ce))
		case errors.As(err, &ue):
			return MetadataFile{}, invalid("the file is not Maven metadata (%v); upload the maven-metadata.xml Maven wrote", err)
		}
		return MetadataFile{}, invalid("the metadata file is not well-formed XML (%v); upload the maven-metadata.xml Maven wrote", err)
	}
	f := MetadataFile{
		GroupID:    strings.TrimSpace(m.GroupID),
		ArtifactID: strings.TrimSpace(m.ArtifactID),
		Version:    strings.TrimSpace(m.Version),
		Versions:   make([]string, 0, len(m.Versions)),
	}
	if f.GroupID != "" {
		if err := checkGroupID(f.GroupID); err != nil {
			return MetadataFile{}, err
		}
	}
	if f.ArtifactID != "" {
		if err := checkArtifactID(f.ArtifactID); err != nil {
			return MetadataFile{}, err
		}
	}
	if f.Version != "" {
		if err := checkVersion(f.Version); err != nil {
			return MetadataFile{}, err
		}
	}
	for _, v := range m.Versions {
		v = strings.TrimSpace(v)
		if err := checkVersion(v); err != nil {
			return MetadataFile{}, err
		}
		f.Versions = append(f.Versions, v)
	}
	return f, nil
}
