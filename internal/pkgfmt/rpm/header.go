package rpm

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	crpm "github.com/cavaliergopher/rpm"
)

// Header is what enmei keeps of an RPM: its identity and everything the
// repodata needs.
type Header struct {
	Name     string
	Epoch    int
	HasEpoch bool
	Version  string
	Release  string
	// Arch is the package's architecture; for a source RPM it is "src"
	// ("nosrc" when it leaves out some of its sources), as dnf and
	// createrepo_c name it, not the build architecture its header records.
	Arch string
	// Source reports a source RPM (one without a SOURCERPM tag, as rpm
	// tells them apart), which only ReadAnyHeader and SignAny accept.
	Source bool

	Summary, Description, License, URL, Vendor, Group, Packager, BuildHost, SourceRPM string

	BuildTime     int64
	InstalledSize int64
	ArchiveSize   int64

	Provides, Requires, Conflicts, Obsoletes    []Dep
	Recommends, Suggests, Supplements, Enhances []Dep
	Files                                       []FileEntry
	Changelogs                                  []Changelog
	HeaderStart, HeaderEnd                      int64 // rpm:header-range in the signed file
}

// Dep is one dependency relation.
type Dep struct {
	Name                    string
	Flags                   string // "", "EQ", "LT", "LE", "GT", "GE"
	Epoch, Version, Release string
	Pre                     bool
}

// FileEntry is one packaged path.
type FileEntry struct {
	Path string
	Type string // "", "dir" or "ghost"
	// SHA256 is the file's digest from the header (hex) when the package
	// records SHA-256 digests (RPM 4.6 and later by default); "" otherwise
	// and for directories, ghosts and symlinks.
	SHA256 string
}

// Changelog is one changelog entry.
type Changelog struct {
	Author string
	Date   int64
	Text   string
}

// EVR is "[epoch:]version-release".
func (h *Header) EVR() string {
	if h.HasEpoch {
		return fmt.Sprintf("%d:%s-%s", h.Epoch, h.Version, h.Release)
	}
	return h.Version + "-" + h.Release
}

// NEVRA is "name-[epoch:]version-release.arch".
func (h *Header) NEVRA() string { return h.Name + "-" + h.EVR() + "." + h.Arch }

// Filename is the conventional file name, "name-version-release.arch.rpm".
func (h *Header) Filename() string {
	return fmt.Sprintf("%s-%s-%s.%s.rpm", h.Name, h.Version, h.Release, h.Arch)
}

// maxChangelogs matches createrepo_c's default --changelog-limit.
const maxChangelogs = 10

// parseHeader decodes a main header with cavaliergopher/rpm, which reads a
// whole package prefix: we give it the lead and an empty signature header.
// A source RPM is refused unless sources is set.
func parseHeader(lead, hdr []byte, sources bool) (h *Header, err error) {
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, invalid("its header is damaged (%v)", r)
		}
	}()
	var buf bytes.Buffer
	buf.Write(lead)
	buf.Write(writeHeader(regionSig, nil))
	buf.Write(hdr)
	p, err := crpm.Read(&buf)
	if err != nil {
		return nil, invalid("its header cannot be read: %v", err)
	}
	h = &Header{
		Name: p.Name(), Version: p.Version(), Release: p.Release(), Arch: p.Architecture(),
		Summary: p.Summary(), Description: p.Description(), License: p.License(), URL: p.URL(),
		Vendor: p.Vendor(), Packager: p.Packager(), BuildHost: p.BuildHost(), SourceRPM: p.SourceRPM(),
		BuildTime: p.BuildTime().Unix(), InstalledSize: int64(p.Size()), ArchiveSize: int64(p.ArchiveSize()),
	}
	if g := p.Groups(); len(g) > 0 {
		h.Group = g[0]
	}
	if t := p.Header.GetTag(1003); t != nil { // RPMTAG_EPOCH
		h.HasEpoch, h.Epoch = true, p.Epoch()
	}
	if h.Name == "" || h.Version == "" || h.Release == "" || h.Arch == "" {
		return nil, invalid("its header lacks a name, version, release or architecture")
	}
	if h.SourceRPM == "" {
		if !sources {
			return nil, invalid("it is a source RPM; repositories hold binary RPMs")
		}
		// rpm's headerIsSource; NOSOURCE or NOPATCH make it a nosrc.
		h.Source, h.Arch = true, "src"
		if p.Header.GetTag(1051) != nil || p.Header.GetTag(1052) != nil {
			h.Arch = "nosrc"
		}
	}
	for _, s := range []string{h.Name, h.Version, h.Release, h.Arch} {
		if strings.ContainsAny(s, "/\\ \x00") || s == "." || s == ".." {
			return nil, invalid("its name, version, release or architecture holds characters not allowed in a file name")
		}
	}
	h.Provides = deps(p.Provides())
	h.Requires = deps(p.Requires())
	h.Conflicts = deps(p.Conflicts())
	h.Obsoletes = deps(p.Obsoletes())
	h.Recommends = deps(p.Recommends())
	h.Suggests = deps(p.Suggests())
	h.Supplements = deps(p.Supplements())
	h.Enhances = deps(p.Enhances())
	// RPMTAG_FILEDIGESTALGO; without it the digests are MD5.
	sha256Digests := false
	if t := p.Header.GetTag(5011); t != nil {
		sha256Digests = t.Int64() == 8 // PGPHASHALGO_SHA256
	}
	for _, f := range p.Files() {
		file := FileEntry{Path: f.Name()}
		if d := f.Digest(); sha256Digests && len(d) == 64 {
			file.SHA256 = d
		}
		switch {
		case f.Flags()&(1<<6) != 0: // RPMFILE_GHOST
			file.Type = "ghost"
		case f.IsDir():
			file.Type = "dir"
		}
		h.Files = append(h.Files, file)
	}
	times := p.Header.GetTag(1080).Int64Slice()
	names := p.Header.GetTag(1081).StringSlice()
	texts := p.Header.GetTag(1082).StringSlice()
	for i := 0; i < len(times) && i < len(names) && i < len(texts) && i < maxChangelogs; i++ {
		h.Changelogs = append(h.Changelogs, Changelog{Author: names[i], Date: times[i], Text: texts[i]})
	}
	return h, nil
}

func deps(in []crpm.Dependency) []Dep {
	var out []Dep
	for _, d := range in {
		dep := Dep{Name: d.Name()}
		f := d.Flags()
		switch f & (crpm.DepFlagLesser | crpm.DepFlagGreater | crpm.DepFlagEqual) {
		case crpm.DepFlagEqual:
			dep.Flags = "EQ"
		case crpm.DepFlagLesser:
			dep.Flags = "LT"
		case crpm.DepFlagGreater:
			dep.Flags = "GT"
		case crpm.DepFlagLesserOrEqual:
			dep.Flags = "LE"
		case crpm.DepFlagGreaterOrEqual:
			dep.Flags = "GE"
		}
		if dep.Flags != "" {
			dep.Epoch = strconv.Itoa(d.Epoch())
			dep.Version, dep.Release = d.Version(), d.Release()
		}
		dep.Pre = f&(crpm.DepFlagPrereq|crpm.DepFlagScriptPre|crpm.DepFlagScriptPost) != 0
		if f&crpm.DepFlagRpmlib != 0 || strings.HasPrefix(dep.Name, "rpmlib(") {
			dep.Name = "" // marked for dropping from requires
		}
		out = append(out, dep)
	}
	return out
}
