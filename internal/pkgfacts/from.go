package pkgfacts

import (
	"slices"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/dep5"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
)

// FromRPM takes the facts of a signed RPM from its header; sha256 is the
// digest of the file as served.
func FromRPM(h *rpm.Header, sha256 string) Facts {
	f := Facts{Format: "rpm", Name: h.Name, Version: h.Version + "-" + h.Release, Arch: h.Arch, SourceRPM: h.SourceRPM,
		License: h.License, Summary: h.Summary, SHA256: sha256}
	if h.HasEpoch {
		f.Epoch = strconv.Itoa(h.Epoch)
	}
	for _, file := range h.Files {
		e := File{Path: file.Path}
		if file.Type == "" {
			e.SHA256 = file.SHA256
		}
		f.Files = append(f.Files, e)
	}
	f.Provides = names(h.Provides, h.Name)
	f.Requires = names(h.Requires, "")
	return f
}

func names(deps []rpm.Dep, skip string) []string {
	var out []string
	seen := map[string]bool{skip: true}
	for _, d := range deps {
		if !seen[d.Name] {
			seen[d.Name] = true
			out = append(out, d.Name)
		}
	}
	return out
}

// FromDeb takes the facts of a .deb from its control paragraph and, when
// info comes from deb.InspectContents, its data member. Requires are
// Pre-Depends and Depends; alternatives ("a | b") are kept together, as
// "a|b", so Resolve takes the first one the publication has. The licence
// is what the machine-readable copyright file states (dep5.License, as
// the host inventory reads it; "" when there is none or it is not
// machine-readable). Files are the data member's, with the SHA-256 of
// regular files; none when the member was not listed whole, since a
// partial list would read as the package's complete contents.
func FromDeb(info *deb.Info) Facts {
	ctl := deb.ControlFields(info.Control)
	version, epoch := info.Version, ""
	if i := strings.IndexByte(version, ':'); i >= 0 {
		epoch, version = version[:i], version[i+1:]
	}
	summary, _, _ := strings.Cut(ctl["Description"], "\n")
	f := Facts{Format: "deb", Name: info.Package, Epoch: epoch, Version: version, Arch: info.Architecture,
		Summary: summary, SHA256: info.SHA256}
	for _, field := range []string{"Pre-Depends", "Depends"} {
		for _, rel := range relations(ctl[field]) {
			f.Requires = append(f.Requires, rel)
		}
	}
	for _, rel := range relations(ctl["Provides"]) {
		f.Provides = append(f.Provides, strings.Split(rel, "|")...)
	}
	if c := info.Contents; c != nil {
		f.License = dep5.License(string(c.Copyright))
		if c.Incomplete == "" {
			f.Files = debFiles(c.Files)
		}
	}
	return f
}

// debFiles are the facts' files of a data member, sorted by path as an
// RPM header lists them (dpkg-deb puts symbolic links last). Paths holding
// control characters are left out: tar allows them, but no SBOM format can
// carry them, and one would make every document of the package unwritable.
func debFiles(files []deb.DataFile) []File {
	out := make([]File, 0, len(files))
	for _, file := range files {
		if strings.ContainsFunc(file.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			continue
		}
		out = append(out, File{Path: file.Path, SHA256: file.SHA256})
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// relations reads a Debian relationship field into package names, one
// entry per comma-separated relation, alternatives joined by "|":
// "libc6 (>= 2.36), exim4 | mail-transport-agent" → ["libc6",
// "exim4|mail-transport-agent"]. Versions, architecture qualifiers,
// architecture restrictions and build profiles are dropped.
func relations(field string) []string {
	var out []string
	for _, rel := range strings.Split(field, ",") {
		var alts []string
		for _, alt := range strings.Split(rel, "|") {
			name := strings.TrimSpace(alt)
			if i := strings.IndexAny(name, " \t\n([<"); i >= 0 {
				name = name[:i]
			}
			name, _, _ = strings.Cut(name, ":")
			if name != "" {
				alts = append(alts, name)
			}
		}
		if len(alts) > 0 {
			out = append(out, strings.Join(alts, "|"))
		}
	}
	return out
}
