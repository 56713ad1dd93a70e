package maven

import (
	"strings"
)

// MaxPathLen bounds a repository path; Maven paths are far shorter, and
// the bound keeps hostile requests from reaching storage.
const MaxPathLen = 1024

// MetadataName is the file name of Maven repository metadata.
const MetadataName = "maven-metadata.xml"

// Kind is what a repository path names.
type Kind int

// The kinds of repository path. A zero Kind is not a path.
const (
	KindArtifact Kind = iota + 1 // a file of a version: .jar, .pom, .jar.asc, …
	KindChecksum                 // the checksum of an artifact or a metadata file
	KindMetadata                 // a maven-metadata.xml
)

func (k Kind) String() string {
	switch k {
	case KindArtifact:
		return "artifact"
	case KindChecksum:
		return "checksum"
	case KindMetadata:
		return "metadata"
	}
	return "unknown"
}

// Path is a parsed repository-relative path. A checksum's fields other
// than Algorithm describe the file it sums.
type Path struct {
	Kind Kind
	// Coordinates are those of the directory; Version is empty for
	// artifact-level metadata, and Packaging is always empty.
	Coordinates
	// FileVersion is the version in the file name: Version, except for
	// a timestamped SNAPSHOT ("1.0-20260102.030405-7" in 1.0-SNAPSHOT).
	FileVersion string
	Classifier  string // "sources", or empty
	Extension   string // "jar", "pom", "tar.gz", "jar.asc"; empty for metadata
	Algorithm   string // checksums only: one of ChecksumExts
	TargetKind  Kind   // checksums only: KindArtifact or KindMetadata
}

// String renders the path; for every path ParsePath accepts, it is the
// path parsed.
func (p Path) String() string {
	if p.Kind == KindChecksum {
		return p.Target() + "." + p.Algorithm
	}
	if p.Kind == KindMetadata {
		return p.Dir() + "/" + MetadataName
	}
	name := p.ArtifactID + "-" + p.FileVersion
	if p.Classifier != "" {
		name += "-" + p.Classifier
	}
	return p.Dir() + "/" + name + "." + p.Extension
}

// Target is the path of the file a checksum sums, and "" for other kinds.
func (p Path) Target() string {
	if p.Kind != KindChecksum {
		return ""
	}
	t := p
	t.Kind, t.Algorithm, t.TargetKind = p.TargetKind, "", 0
	return t.String()
}

// ParsePath parses a repository-relative path such as
// "com/example/lib/1.0/lib-1.0-sources.jar",
// "com/example/lib/1.0/lib-1.0.jar.sha1" or
// "com/example/lib/maven-metadata.xml". It refuses anything that is not a
// clean Maven path: traversal, empty segments, backslashes, control
// characters, names outside the coordinate character sets, and files in a
// version directory that are not named artifactId-version….
//
// A path alone cannot tell artifact-level from version-level metadata, so
// a maven-metadata.xml in a directory whose name ends in -SNAPSHOT is read
// as the SNAPSHOT version's metadata and every other one as the artifact's.
func ParsePath(p string) (Path, error) {
	if err := checkPathSyntax(p); err != nil {
		return Path{}, err
	}
	dirs := strings.Split(p, "/")
	name := dirs[len(dirs)-1]
	dirs = dirs[:len(dirs)-1]
	for _, alg := range ChecksumExts {
		target, ok := strings.CutSuffix(name, "."+alg)
		if !ok {
			continue
		}
		for _, a := range ChecksumExts {
			if strings.HasSuffix(target, "."+a) {
				return Path{}, invalid("the path %q is a checksum of a checksum, which a Maven repository does not hold", p)
			}
		}
		t, err := parseFile(p, dirs, target)
		if err != nil {
			return Path{}, err
		}
		t.TargetKind, t.Kind, t.Algorithm = t.Kind, KindChecksum, alg
		return t, nil
	}
	return parseFile(p, dirs, name)
}

// checkPathSyntax refuses what no Maven path holds, before the path is
// split: so that no later step sees traversal or odd bytes.
func checkPathSyntax(p string) error {
	switch {
	case p == "":
		return invalid("the path is empty; give a repository path such as com/example/lib/1.0/lib-1.0.jar")
	case len(p) > MaxPathLen:
		return invalid("the path is longer than %d bytes; no Maven path is that long", MaxPathLen)
	case p[0] == '/':
		return invalid("the path %q starts with a slash; give it relative to the repository", p)
	}
	for i := 0; i < len(p); i++ {
		if b := p[i]; b == '\\' || b < 0x20 || b == 0x7f {
			return invalid("the path %q contains %s, which no Maven path contains", p, describeByte(p, i))
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return invalid("the path %q has an empty segment (a doubled or trailing slash); remove it", p)
		case ".", "..":
			return invalid("the path %q contains a %q segment; give a path without traversal", p, seg)
		}
	}
	return nil
}

// parseFile parses name, a file other than a checksum, in the directories
// dirs; whole is the full path, for errors.
func parseFile(whole string, dirs []string, name string) (Path, error) {
	if name == MetadataName {
		return parseMetadataPath(whole, dirs)
	}
	if len(dirs) < 3 {
		return Path{}, invalid("the path %q is not groupId/artifactId/version/file; give the full path of an artifact file", whole)
	}
	p := Path{Kind: KindArtifact}
	p.Version = dirs[len(dirs)-1]
	p.ArtifactID = dirs[len(dirs)-2]
	if err := setGroup(&p, whole, dirs[:len(dirs)-2]); err != nil {
		return Path{}, err
	}
	if err := checkArtifactID(p.ArtifactID); err != nil {
		return Path{}, err
	}
	if err := checkVersion(p.Version); err != nil {
		return Path{}, err
	}

	rest, ok := strings.CutPrefix(name, p.ArtifactID+"-")
	if ok {
		rest, ok = cutFileVersion(&p, rest)
	}
	if !ok {
		return Path{}, invalid("the file %q does not start with %q, as every file in %s must", name, p.ArtifactID+"-"+p.Version, p.Dir())
	}
	if c, r, found := strings.Cut(rest, "."); found && strings.HasPrefix(c, "-") {
		p.Classifier, rest = c[1:], "."+r
		if err := checkPart("classifier", p.Classifier, whole); err != nil {
			return Path{}, err
		}
	}
	ext, ok := strings.CutPrefix(rest, ".")
	if !ok || ext == "" {
		return Path{}, invalid("the file %q has no extension after %q; name it like %s", name, p.ArtifactID+"-"+p.FileVersion, p.FileName("", "jar"))
	}
	for part := range strings.SplitSeq(ext, ".") {
		if err := checkPart("extension", part, whole); err != nil {
			return Path{}, err
		}
	}
	p.Extension = ext
	return p, nil
}

// cutFileVersion cuts the file's version off rest, the file name after
// "artifactId-", and records it. The version is the directory's, or for a
// SNAPSHOT directory also base-yyyyMMdd.HHmmss-build, the timestamped name
// Maven deploys snapshots under. What follows must be "." or "-": a file
// lib-1.01.jar does not belong in 1.0.
func cutFileVersion(p *Path, rest string) (string, bool) {
	follows := func(r string) bool { return r == "" || r[0] == '.' || r[0] == '-' }
	if r, ok := strings.CutPrefix(rest, p.Version); ok && follows(r) {
		p.FileVersion = p.Version
		return r, true
	}
	base, ok := strings.CutSuffix(p.Version, "-SNAPSHOT")
	if !ok {
		return "", false
	}
	r, ok := strings.CutPrefix(rest, base+"-")
	if !ok {
		return "", false
	}
	n := snapshotStamp(r)
	if n == 0 || !follows(r[n:]) {
		return "", false
	}
	p.FileVersion = base + "-" + r[:n]
	return r[n:], true
}

// snapshotStamp is the length of the yyyyMMdd.HHmmss-N that s starts
// with, or 0.
func snapshotStamp(s string) int {
	const stamp = "dddddddd.dddddd-d"
	if len(s) < len(stamp) {
		return 0
	}
	for i := 0; i < len(stamp); i++ {
		if stamp[i] == 'd' && !isDigit(s[i]) || stamp[i] != 'd' && s[i] != stamp[i] {
			return 0
		}
	}
	n := len(stamp)
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// parseMetadataPath parses the directories of a maven-metadata.xml.
func parseMetadataPath(whole string, dirs []string) (Path, error) {
	if len(dirs) < 2 {
		return Path{}, invalid("the path %q is not groupId/artifactId/%s; give the artifact's directory", whole, MetadataName)
	}
	p := Path{Kind: KindMetadata}
	if last := dirs[len(dirs)-1]; isSnapshot(last) && len(dirs) >= 3 {
		p.Version = last
		dirs = dirs[:len(dirs)-1]
		if err := checkVersion(p.Version); err != nil {
			return Path{}, err
		}
	}
	p.ArtifactID = dirs[len(dirs)-1]
	if err := checkArtifactID(p.ArtifactID); err != nil {
		return Path{}, err
	}
	if err := setGroup(&p, whole, dirs[:len(dirs)-1]); err != nil {
		return Path{}, err
	}
	return p, nil
}

// setGroup sets the groupId from its directories, each of which must be a
// dot-free part of it: a dot would make the path differ from the one the
// coordinates give.
func setGroup(p *Path, whole string, dirs []string) error {
	for _, d := range dirs {
		if err := checkPart("groupId directory", d, whole); err != nil {
			return err
		}
	}
	p.GroupID = strings.Join(dirs, ".")
	return checkGroupID(p.GroupID)
}

// checkPart checks a dot-free part of a path: a groupId directory, a
// classifier, or a part of an extension.
func checkPart(what, s, whole string) error {
	if s == "" {
		return invalid("the path %q has an empty %s; remove the extra separator", whole, what)
	}
	for i := 0; i < len(s); i++ {
		if !isSegmentByte(s[i]) {
			return invalid("the %s %q in the path %q contains %s; use only letters, digits, _ and -", what, s, whole, describeByte(s, i))
		}
	}
	return nil
}
