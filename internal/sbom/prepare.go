package sbom

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"slices"
	"strings"
)

// prepared is the validated, canonically ordered form of a Document that
// every encoder works from, so that all six formats agree on order, IDs and
// licences, and none depends on the caller's slice order more than it must.
type prepared struct {
	doc      Document
	created  string
	root     *prepPackage
	packages []*prepPackage // sorted by name, then ref
	byRef    map[string]*prepPackage
	licenses *licenseTable
}

type prepPackage struct {
	Package
	spdxID  string
	purl    string
	files   []prepFile // sorted by path
	deps    []string   // refs, deduplicated, in document order of the targets
	license licenseInfo
}

type prepFile struct {
	File
	spdxID string
	bomRef string
}

func prepare(d Document) (*prepared, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	p := &prepared{
		doc:      d,
		created:  d.createdString(),
		byRef:    make(map[string]*prepPackage, len(d.Packages)+1),
		licenses: newLicenseTable(),
	}
	p.root = p.add(d.Root)
	for _, pkg := range d.Packages {
		p.packages = append(p.packages, p.add(pkg))
	}
	slices.SortFunc(p.packages, func(a, b *prepPackage) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Ref, b.Ref))
	})

	// Document order (root first, then the sorted packages) orders the
	// dependency lists too.
	rank := make(map[string]int, len(p.byRef))
	for i, pp := range p.all() {
		rank[pp.Ref] = i
	}
	for _, pp := range p.all() {
		seen := make(map[string]bool, len(pp.DependsOn))
		for _, dep := range pp.DependsOn {
			if !seen[dep] {
				seen[dep] = true
				pp.deps = append(pp.deps, dep)
			}
		}
		slices.SortFunc(pp.deps, func(a, b string) int { return rank[a] - rank[b] })
	}

	assignSPDXIDs(p.all())
	p.licenses.finish()
	for _, pp := range p.all() {
		pp.license = p.licenses.info(pp.License)
	}
	return p, nil
}

func (p *prepared) add(pkg Package) *prepPackage {
	pkg.SHA256 = strings.ToLower(pkg.SHA256)
	pp := &prepPackage{Package: pkg, purl: PURL(pkg)}
	for _, f := range pkg.Files {
		f.SHA256 = strings.ToLower(f.SHA256)
		pp.files = append(pp.files, prepFile{
			File:   f,
			spdxID: fileSPDXID(pkg.Ref, f.Path),
			bomRef: pkg.Ref + "#" + f.Path,
		})
	}
	slices.SortFunc(pp.files, func(a, b prepFile) int { return strings.Compare(a.Path, b.Path) })
	p.byRef[pkg.Ref] = pp
	p.licenses.add(pkg.License)
	return pp
}

// hasDigestFiles reports files with a digest, the ones SPDX lists.
func (pp *prepPackage) hasDigestFiles() bool {
	for _, f := range pp.files {
		if f.SHA256 != "" {
			return true
		}
	}
	return false
}

// all is the root followed by the other packages, in document order.
func (p *prepared) all() []*prepPackage {
	return append([]*prepPackage{p.root}, p.packages...)
}

// sanitizeID maps s to the characters an SPDX ID may hold ([A-Za-z0-9.-]),
// replacing every other byte with '-'.
func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isIDChar(c) {
			b[i] = '-'
		}
	}
	return string(b)
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-'
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// assignSPDXIDs gives every package "SPDXRef-Package-<sanitised ref>". Refs
// are unique but sanitising may merge two of them ("a_b", "a-b"); every
// package of such a group then gets a hash of its ref appended, which keeps
// the result independent of package order.
func assignSPDXIDs(pkgs []*prepPackage) {
	count := make(map[string]int, len(pkgs))
	for _, pp := range pkgs {
		pp.spdxID = "SPDXRef-Package-" + sanitizeID(pp.Ref)
		count[pp.spdxID]++
	}
	for _, pp := range pkgs {
		if count[pp.spdxID] > 1 {
			pp.spdxID += "-" + shortHash(pp.Ref)
		}
	}
}

// fileSPDXID is "SPDXRef-File-<sanitised base name>-<hash of ref and path>":
// readable, unique in practice, and the same for the same package file in
// every document (package SBOM and host SBOM alike).
func fileSPDXID(ref, p string) string {
	base := sanitizeID(path.Base(p))
	if len(base) > 48 {
		base = base[:48]
	}
	return "SPDXRef-File-" + base + "-" + shortHash(ref, p)
}

// spdxFileName is the file name as SPDX wants it: relative to the package
// root with a "./" prefix, which is how rpm and deb payloads name entries.
func spdxFileName(p string) string {
	switch {
	case strings.HasPrefix(p, "./"):
		return p
	case strings.HasPrefix(p, "/"):
		return "." + p
	default:
		return "./" + p
	}
}

// toolNameVersion splits "enmei-1.2.3" into "enmei" and "1.2.3" (at the last
// '-' followed by a digit); a tool string without a version stays whole.
func toolNameVersion(tool string) (name, version string) {
	for i := len(tool) - 1; i > 0; i-- {
		if tool[i] == '-' && i+1 < len(tool) && '0' <= tool[i+1] && tool[i+1] <= '9' {
			return tool[:i], tool[i+1:]
		}
	}
	return tool, ""
}
