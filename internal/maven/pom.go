package maven

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxPOMSize bounds the pom.xml ParsePOM reads; real POMs are kilobytes,
// and the bound keeps a hostile upload from being held in memory.
const MaxPOMSize = 4 << 20

// pomXML is the part of a POM that fixes the coordinates. Tags without a
// namespace match the POM namespace too.
type pomXML struct {
	XMLName    xml.Name `xml:"project"`
	GroupID    string   `xml:"groupId"`
	ArtifactID string   `xml:"artifactId"`
	Version    string   `xml:"version"`
	Packaging  string   `xml:"packaging"`
	Parent     struct {
		GroupID    string `xml:"groupId"`
		ArtifactID string `xml:"artifactId"`
		Version    string `xml:"version"`
	} `xml:"parent"`
	Properties struct {
		Entries []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"properties"`
}

// ParsePOM reads the coordinates of a pom.xml. As Maven does, it takes the
// groupId and version from <parent> when the project omits them, defaults
// the packaging to jar, and resolves ${…} references to the project's own
// fields and to its <properties>. Properties a parent POM defines are not
// available here, so a POM that relies on them is refused: the repository
// must serve coordinates it knows, not guesses.
func ParsePOM(r io.Reader) (Coordinates, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPOMSize+1))
	if err != nil {
		return Coordinates{}, fmt.Errorf("reading the POM: %w", err)
	}
	if len(data) > MaxPOMSize {
		return Coordinates{}, invalid("the POM is larger than %d MiB; a pom.xml that large is not a POM", MaxPOMSize>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Coordinates{}, invalid("the POM is empty; upload the artifact's pom.xml")
	}
	var p pomXML
	if err := decodeXML(data, &p); err != nil {
		var ue xml.UnmarshalError
		var ce charsetError
		switch {
		case errors.As(err, &ce):
			return Coordinates{}, invalid("the POM declares the encoding %q, which is not supported; save it as UTF-8", string(ce))
		case errors.As(err, &ue):
			return Coordinates{}, invalid("the file is not a POM (%v); upload the artifact's pom.xml", err)
		}
		return Coordinates{}, invalid("the POM is not well-formed XML (%v); fix it and upload it again", err)
	}

	raw := map[string]string{
		"groupId":           strings.TrimSpace(p.GroupID),
		"artifactId":        strings.TrimSpace(p.ArtifactID),
		"version":           strings.TrimSpace(p.Version),
		"packaging":         strings.TrimSpace(p.Packaging),
		"parent.groupId":    strings.TrimSpace(p.Parent.GroupID),
		"parent.artifactId": strings.TrimSpace(p.Parent.ArtifactID),
		"parent.version":    strings.TrimSpace(p.Parent.Version),
	}
	// Maven inheritance: the project's groupId and version default to the
	// parent's; its artifactId never does.
	if raw["groupId"] == "" {
		raw["groupId"] = raw["parent.groupId"]
	}
	if raw["version"] == "" {
		raw["version"] = raw["parent.version"]
	}
	if raw["packaging"] == "" {
		raw["packaging"] = "jar"
	}
	switch {
	case raw["artifactId"] == "":
		return Coordinates{}, invalid("the POM has no <artifactId>; add one to <project>")
	case raw["groupId"] == "":
		return Coordinates{}, invalid("the POM has no <groupId>, neither in <project> nor in <parent>; add one to <project>")
	case raw["version"] == "":
		return Coordinates{}, invalid("the POM has no <version>, neither in <project> nor in <parent>; add one to <project>")
	}

	props := make(map[string]string, len(p.Properties.Entries))
	for _, e := range p.Properties.Entries {
		props[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	res := resolver{raw: raw, props: props}
	var c Coordinates
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"groupId", &c.GroupID},
		{"artifactId", &c.ArtifactID},
		{"version", &c.Version},
		{"packaging", &c.Packaging},
	} {
		v, err := res.resolve(f.name, raw[f.name], 0)
		if err != nil {
			return Coordinates{}, err
		}
		*f.dst = v
	}
	if err := c.Validate(); err != nil {
		return Coordinates{}, err
	}
	return c, nil
}

// decodeXML decodes the single root element of data into v and refuses
// anything but comments, processing instructions and space after it, which
// Maven would refuse too.
func decodeXML(data []byte, v any) error {
	// encoding/xml does not skip a byte-order mark, which editors on
	// Windows write.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	if err := d.Decode(v); err != nil {
		return err
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		default:
			return errors.New("content after the root element")
		}
	}
}

// charsetReader accepts the single-byte encodings POMs declare besides
// UTF-8. Coordinates are ASCII, so Latin-1 decoding is exact for them and
// harmless for the rest.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252":
		return latin1Reader{r: r}, nil
	}
	return nil, charsetError(charset)
}

// charsetError is a declared encoding charsetReader does not read.
type charsetError string

func (e charsetError) Error() string { return fmt.Sprintf("unsupported encoding %q", string(e)) }

// latin1Reader turns Latin-1 bytes into UTF-8.
type latin1Reader struct{ r io.Reader }

func (l latin1Reader) Read(p []byte) (int, error) {
	// Each Latin-1 byte becomes at most two UTF-8 bytes.
	if len(p) < utf8.UTFMax {
		return 0, io.ErrShortBuffer
	}
	src := make([]byte, len(p)/2)
	m, err := l.r.Read(src)
	n := 0
	for _, b := range src[:m] {
		n += utf8.EncodeRune(p[n:], rune(b))
	}
	return n, err
}

// maxExpansion bounds nested ${…} references, which ends reference loops,
// and maxReferences their total, which ends a few kilobytes of properties
// that refer to each other many times over expanding exponentially.
const (
	maxExpansion  = 8
	maxReferences = 1000
)

// resolver expands ${…} references in coordinate values.
type resolver struct {
	raw   map[string]string // the POM's own fields, after inheritance
	props map[string]string // its <properties>
	refs  int               // references expanded so far
}

// lookup returns the raw value a reference names, as Maven's model
// interpolation knows them: the project's fields under project., pom. or
// no prefix (deprecated but still seen), then <properties>.
func (r resolver) lookup(name string) (string, bool) {
	key := name
	for _, prefix := range []string{"project.", "pom."} {
		if k, ok := strings.CutPrefix(name, prefix); ok {
			key = k
			break
		}
	}
	switch key {
	case "groupId", "artifactId", "version", "packaging",
		"parent.groupId", "parent.artifactId", "parent.version":
		if v := r.raw[key]; v != "" {
			return v, true
		}
	}
	v, ok := r.props[name]
	return v, ok
}

func (r *resolver) resolve(field, s string, depth int) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	if depth >= maxExpansion {
		return "", invalid("the POM's %s refers to properties in a loop or more than %d deep; set it literally", field, maxExpansion)
	}
	var b strings.Builder
	for {
		before, after, found := strings.Cut(s, "${")
		b.WriteString(before)
		// A coordinate is short, so expanding further only wastes memory.
		if b.Len() > maxName {
			return "", invalid("the POM's %s is longer than %d characters once its properties are expanded; shorten it", field, maxName)
		}
		if !found {
			return b.String(), nil
		}
		name, rest, closed := strings.Cut(after, "}")
		if !closed {
			return "", invalid("the POM's %s has a \"${\" without a closing \"}\"; close it or set the value literally", field)
		}
		if r.refs++; r.refs > maxReferences {
			return "", invalid("the POM's %s expands more than %d property references; set it literally", field, maxReferences)
		}
		v, ok := r.lookup(name)
		if !ok {
			return "", invalid("the POM's %s uses ${%s}, which this POM does not define; set the %s literally or define %s in its <properties>",
				field, name, field, name)
		}
		v, err := r.resolve(field, v, depth+1)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = rest
	}
}
