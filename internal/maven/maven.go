// Package maven owns the Maven 2 repository layout that enmei serves for
// products of format maven at /maven/<product>/: the coordinates read from an
// uploaded pom.xml, the mapping between coordinates and repository paths in
// both directions, checksum files, Maven's version order, and the
// artifact-level maven-metadata.xml. It is pure logic — it reads from an
// io.Reader at most and knows nothing of HTTP or storage — so that the
// handlers and the publisher agree on one definition of what a path means
// and which names are safe to store.
package maven

import (
	"errors"
	"fmt"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// ErrInvalid marks input that is not valid Maven: a malformed POM, path,
// checksum file or metadata file. Every error this package returns for bad
// input wraps it and is also an errs.Invalid domain error.
var ErrInvalid = errors.New("invalid Maven input")

func invalid(format string, args ...any) error {
	return errs.Wrap(errs.Invalid, ErrInvalid, fmt.Sprintf(format, args...))
}

// maxName bounds each coordinate, so that a file name
// artifactId-version-classifier.ext stays within the 255 bytes a file
// system allows.
const maxName = 100

// Coordinates name one Maven artifact version.
type Coordinates struct {
	GroupID    string // "com.example"
	ArtifactID string // "lib"
	Version    string // "1.0"; empty only for an artifact-level metadata path
	Packaging  string // "jar", "pom", …; from a POM, empty from a path
}

// String is groupId:artifactId:version, as Maven prints coordinates.
func (c Coordinates) String() string {
	return c.GroupID + ":" + c.ArtifactID + ":" + c.Version
}

// ArtifactDir is the directory holding every version of the artifact:
// "com/example/lib".
func (c Coordinates) ArtifactDir() string {
	return strings.ReplaceAll(c.GroupID, ".", "/") + "/" + c.ArtifactID
}

// Dir is the directory holding this version's files: "com/example/lib/1.0".
// Without a version it is ArtifactDir.
func (c Coordinates) Dir() string {
	if c.Version == "" {
		return c.ArtifactDir()
	}
	return c.ArtifactDir() + "/" + c.Version
}

// FileName is the name of one of this version's files:
// FileName("sources", "jar") is "lib-1.0-sources.jar", FileName("", "pom")
// is "lib-1.0.pom".
func (c Coordinates) FileName(classifier, ext string) string {
	name := c.ArtifactID + "-" + c.Version
	if classifier != "" {
		name += "-" + classifier
	}
	return name + "." + ext
}

// IsSnapshot reports whether the version is a SNAPSHOT, which Maven
// clients re-fetch and which the metadata never names as the release.
func (c Coordinates) IsSnapshot() bool { return isSnapshot(c.Version) }

func isSnapshot(v string) bool { return strings.HasSuffix(v, "-SNAPSHOT") }

// Validate checks that the coordinates are safe to turn into a path: every
// part present (Packaging may be empty), no character outside the allowed
// sets, no "..", and no name that would make an empty or hidden path
// segment.
func (c Coordinates) Validate() error {
	if err := checkGroupID(c.GroupID); err != nil {
		return err
	}
	if err := checkArtifactID(c.ArtifactID); err != nil {
		return err
	}
	if err := checkVersion(c.Version); err != nil {
		return err
	}
	if c.Packaging != "" {
		return checkName("packaging", c.Packaging, isNameByte)
	}
	return nil
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// The allowed byte sets. Everything is ASCII, so a name is the same in a
// URL, a file name and an XML element without escaping.
func isSegmentByte(b byte) bool { return isAlnum(b) || b == '_' || b == '-' }
func isNameByte(b byte) bool    { return isSegmentByte(b) || b == '.' }
func isVersionByte(b byte) bool { return isNameByte(b) || b == '+' }

// checkName refuses an empty or over-long name, a byte outside allowed, a
// leading dot (a hidden file, or "." and "..") and "..".
func checkName(what, s string, allowed func(byte) bool) error {
	switch {
	case s == "":
		return invalid("the %s is empty; give it a value", what)
	case len(s) > maxName:
		return invalid("the %s %.20q… is longer than %d characters; shorten it", what, s, maxName)
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return invalid("the %s %q contains %s, which Maven coordinates may not contain; use only letters, digits and %s",
				what, s, describeByte(s, i), allowedPunct(allowed))
		}
	}
	switch {
	case s[0] == '.':
		return invalid("the %s %q starts with a dot; start it with a letter or digit", what, s)
	case strings.Contains(s, ".."):
		return invalid("the %s %q contains \"..\"; use single dots", what, s)
	}
	return nil
}

func describeByte(s string, i int) string {
	switch b := s[i]; {
	case b == ' ':
		return "a space"
	case b == '/':
		return "a slash"
	case b == '\\':
		return "a backslash"
	case b < 0x20 || b == 0x7f:
		return "a control character"
	case b >= 0x80:
		return "a non-ASCII character"
	default:
		return fmt.Sprintf("%q", b)
	}
}

func allowedPunct(allowed func(byte) bool) string {
	var ps []string
	for _, b := range []byte("_-.+") {
		if allowed(b) {
			ps = append(ps, string(b))
		}
	}
	return strings.Join(ps, " ")
}

// checkGroupID also refuses empty dot-separated segments, each of which
// becomes a directory.
func checkGroupID(g string) error {
	if err := checkName("groupId", g, isNameByte); err != nil {
		return err
	}
	if strings.HasSuffix(g, ".") {
		return invalid("the groupId %q ends with a dot; remove it", g)
	}
	return nil
}

func checkArtifactID(a string) error { return checkName("artifactId", a, isNameByte) }
func checkVersion(v string) error    { return checkName("version", v, isVersionByte) }
