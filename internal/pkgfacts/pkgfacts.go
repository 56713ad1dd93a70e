// Package pkgfacts is what enmei keeps of every published package for its
// SBOM: identity, licence, checksum, the file list with digests, and the
// capabilities it provides and requires. The facts are taken from the
// package once, when it is first published (an RPM's header; a deb's
// control file, copyright file and data member), and kept with the package
// record, so publishing it again never re-reads it; the dependency
// relationships are then resolved against the other packages of
// each publication (Resolve), since what a requirement points to depends on
// what else is published beside it.
package pkgfacts

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	debversion "github.com/knqyf263/go-deb-version"
	rpmversion "github.com/knqyf263/go-rpm-version"
)

// Facts describe one package file.
type Facts struct {
	Format    string `json:"format"` // "rpm" or "deb"
	Name      string `json:"name"`
	Epoch     string `json:"epoch,omitempty"` // "" when the package has none
	Version   string `json:"version"`         // rpm: version-release; deb: the version without epoch
	Arch      string `json:"arch"`            //
	SourceRPM string `json:"source_rpm,omitempty"`
	License   string `json:"license,omitempty"` // as the package declares it
	Summary   string `json:"summary,omitempty"`
	SHA256    string `json:"sha256"` // of the file as served
	Files     []File `json:"files,omitempty"`
	// Provides are capability names (without versions) besides the
	// package's own name and its files; Requires are capability names or
	// absolute file paths.
	Provides []string `json:"provides,omitempty"`
	Requires []string `json:"requires,omitempty"`
}

// File is one file of a package.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"` // "" for directories, ghosts, links or when unknown
}

// EVR is "[epoch:]version".
func (f *Facts) EVR() string {
	if f.Epoch != "" {
		return f.Epoch + ":" + f.Version
	}
	return f.Version
}

// Encode and Decode are the stored form.
func (f *Facts) Encode() ([]byte, error) { return json.Marshal(f) }

// Decode reads facts stored by Encode.
func Decode(b []byte) (Facts, error) {
	var f Facts
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("package facts: %w", err)
	}
	return f, nil
}

// pseudo reports requirements that name no package: rpmlib features,
// configuration and ELF-interpreter markers.
func pseudo(req string) bool {
	return strings.HasPrefix(req, "rpmlib(") || strings.HasPrefix(req, "config(") || strings.HasPrefix(req, "rtld(")
}

// newer reports whether a is a newer build than b of the same format.
func newer(a, b *Facts) bool {
	if a.Format == "deb" {
		va, err1 := debversion.NewVersion(a.EVR())
		vb, err2 := debversion.NewVersion(b.EVR())
		if err1 == nil && err2 == nil {
			return va.GreaterThan(vb)
		}
	} else {
		va, vb := rpmversion.NewVersion(a.EVR()), rpmversion.NewVersion(b.EVR())
		return va.GreaterThan(vb)
	}
	return a.EVR() > b.EVR()
}

// Resolve finds, for each package, the packages of the same list that its
// requirements point to: by package name, provided capability or owned
// file. When several builds of one package provide a capability, the newest
// is chosen (what dnf and apt would install); when several packages do, the
// first by name. Version constraints are not evaluated: a publication holds
// what its packages need. The result lists indexes, sorted, without the
// package itself.
func Resolve(pkgs []Facts) [][]int {
	providers := map[string][]int{}
	add := func(cap string, i int) {
		providers[cap] = append(providers[cap], i)
	}
	for i := range pkgs {
		p := &pkgs[i]
		add(p.Name, i)
		for _, c := range p.Provides {
			add(c, i)
		}
		if p.Format == "rpm" {
			for _, f := range p.Files {
				add(f.Path, i)
			}
		}
	}
	best := func(cands []int) int {
		byName := map[string]int{}
		for _, c := range cands {
			n := pkgs[c].Name
			if cur, ok := byName[n]; !ok || newer(&pkgs[c], &pkgs[cur]) {
				byName[n] = c
			}
		}
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		return byName[names[0]]
	}
	out := make([][]int, len(pkgs))
	for i := range pkgs {
		seen := map[int]bool{}
		for _, req := range pkgs[i].Requires {
			if pseudo(req) {
				continue
			}
			// Alternatives ("a|b", deb): the first the list has.
			var cands []int
			for _, alt := range strings.Split(req, "|") {
				if cands = providers[alt]; len(cands) > 0 {
					break
				}
			}
			if len(cands) == 0 {
				continue
			}
			// A requirement the package meets itself points nowhere else.
			self := false
			for _, c := range cands {
				self = self || c == i
			}
			if self {
				continue
			}
			seen[best(cands)] = true
		}
		deps := make([]int, 0, len(seen))
		for d := range seen {
			deps = append(deps, d)
		}
		sort.Ints(deps)
		out[i] = deps
	}
	return out
}
