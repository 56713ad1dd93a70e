// Package scan is the matching behind `enmei scan`: it compares the
// packages installed on a host with the vendor's released advisories and
// the tracker's CVE records for the host's product, and says which
// installed packages have a released fix the host lacks and which are
// affected by a CVE whose fix is still being prepared (so a "fix in
// testing" is visible before it ships), each CVE with the tracker's status
// and statement. Versions are ordered exactly as rpm and dpkg order them,
// epochs, '~' and '^' included, since a wrong order either hides a missing
// fix or reports a patched host as vulnerable. It does no I/O: the agent
// reads the inventory and fetches the data, this package only decides.
package scan

import (
	"slices"
	"strings"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/inventory"
)

// Installed is one installed package. Version is without the release for
// rpm (the release is in Release) and the whole version without the epoch
// for deb (Release is ""). Epoch is "" when the package has none.
type Installed struct {
	Name, Epoch, Version, Release, Arch, Format string
	// Source is the source package's name ("" unknown). Tracker records
	// often name the source package (openssl) while the host has only
	// binaries of it installed (openssl-libs); advisories always name
	// binaries, so Source is used for records only.
	Source string
}

// FromInventory converts a package the inventory read from the host's
// package database.
func FromInventory(p inventory.Package) Installed {
	in := Installed{Name: p.Name, Epoch: p.Epoch, Version: p.Version, Arch: p.Arch, Format: p.Format, Source: p.Source}
	if p.Format == "rpm" {
		// inventory keeps an rpm's VERSION-RELEASE in one field; neither
		// part can contain '-'.
		if d := strings.LastIndexByte(p.Version, '-'); d >= 0 {
			in.Version, in.Release = p.Version[:d], p.Version[d+1:]
		}
	}
	return in
}

// EVR is the installed version as the package manager writes it: "[E:]V-R"
// for rpm, "[E:]V" for deb, the epoch only when it is not 0.
func (p Installed) EVR() string {
	return advisory.Package{Epoch: p.Epoch, Version: p.Version, Release: p.Release}.EVR()
}

// Data is what the host is compared with.
type Data struct {
	// Advisories are the released advisories for the host's product.
	// Match cannot tell which product a package of an advisory belongs to
	// (it has repository IDs only): the server should leave out packages
	// of other products, else an advisory fixing both, say, AlmaLinux 8
	// and 9 compares the host with the other release's builds too.
	Advisories []advisory.Advisory
	// Records are the tracker's CVE records; those of products other than
	// the one given to Match are ignored.
	Records []advisory.Record
}

// Finding is one installed package that a released advisory fixes, or
// that an open CVE record names.
type Finding struct {
	Package   string `json:"package"` // installed name
	Arch      string `json:"arch"`
	Installed string `json:"installed"` // installed EVR
	Fixed     string `json:"fixed"`     // fixed EVR ("" when no fix is released yet)
	Advisory  string `json:"advisory"`  // advisory ID that fixes it ("" none)
	// Severity is the advisory's (Critical, Important, Moderate, Low); ""
	// for a finding without an advisory, whose CVEs carry their scores.
	Severity string `json:"severity"`
	// CVEs are the CVEs of the finding with the tracker's status, score
	// and statement for the host's product.
	CVEs []CVEStatus `json:"cves"`
	// Vulnerable is true when a released fix is newer than what is
	// installed or the tracker says the package is affected (in-progress,
	// in-testing, in-rollout, ignored); false when the CVEs are only under
	// investigation (needs-triage, in-research): listed, not counted.
	Vulnerable bool `json:"vulnerable"`
}

// CVEStatus is one CVE of a finding as the tracker sees it for the host's
// product.
type CVEStatus struct {
	ID        string  `json:"id"`
	Status    string  `json:"status"`
	Score     float64 `json:"score"`
	Statement string  `json:"statement,omitempty"`
}

// group is the packages installed under one name, format and architecture.
// Only the newest counts: an older copy is an install-only package
// (kernels) kept for fallback, and the fix is in once the newest has it.
type group struct {
	pkg Installed
	evr string
}

// Match compares the installed packages with the advisories and records
// of product ("" takes every record as the host's). Findings are sorted by
// package name, then advisory (a finding without one last), then
// architecture.
//
// An advisory applies to an installed package of the same name and format
// whose architecture is the same, or either of them noarch (rpm) or all
// (deb); a source package never applies. Every advisory whose fixed version
// is newer than the installed one is a finding of its own. Bugfix and
// enhancement advisories without CVEs are not: scan reports security
// issues, and dnf or apt list plain updates. A record that is not closed
// (not released, already-fixed or not-vulnerable) and names an installed
// package (binary or source name) is a finding without a fixed version,
// unless a released advisory fixes the CVE in that package: then the
// advisory decides, a finding when its build is newer than the installed
// one and none when the host has it (a record lagging at in-rollout must
// not flag a patched host). Per package, the records in progress make one
// finding and those under investigation another.
func Match(installed []Installed, d Data, product string) []Finding {
	groups, byName, bySource := groupInstalled(installed)

	records := map[string]*advisory.Record{}
	for i := range d.Records {
		r := &d.Records[i]
		if product != "" && r.Product != product {
			continue
		}
		if _, dup := records[r.CVE]; !dup {
			records[r.CVE] = r
		}
	}

	type key struct {
		group int
		cve   string
	}
	covered := map[key]bool{}
	scores := map[string]float64{} // vector → score: parsing is the costly part
	var out []Finding
	type fix struct {
		group int
		pkg   *advisory.Package
	}
	var fixes []fix // of the advisory at hand: a few packages, so a slice
	var openHere []string
	for ai := range d.Advisories {
		a := &d.Advisories[ai]
		if a.Type != advisory.TypeSecurity && len(a.CVEs) == 0 {
			continue
		}
		fixes = fixes[:0]
		// The advisory's CVEs that the tracker still has open: its builds
		// settle them for the packages they apply to, installed or not.
		openHere = openHere[:0]
		for _, c := range a.CVEs {
			if r := records[c.ID]; r != nil && open(r.Status) {
				openHere = append(openHere, c.ID)
			}
		}
	pkgs:
		for pi := range a.Packages {
			p := &a.Packages[pi]
			for _, g := range byName[p.Name] {
				in := &groups[g].pkg
				if in.Format != p.Format || !archApplies(in.Arch, p.Arch) {
					continue
				}
				for _, cve := range openHere {
					covered[key{g, cve}] = true
				}
				if compareFields(in.Format, in.Epoch, in.Version, in.Release, p.Epoch, p.Version, p.Release) >= 0 {
					continue
				}
				// An advisory listing the package twice (two repositories)
				// is one finding, with the newer build.
				for k := range fixes {
					if fixes[k].group == g {
						q := fixes[k].pkg
						if compareFields(in.Format, q.Epoch, q.Version, q.Release, p.Epoch, p.Version, p.Release) < 0 {
							fixes[k].pkg = p
						}
						continue pkgs
					}
				}
				fixes = append(fixes, fix{g, p})
			}
		}
		for _, fx := range fixes {
			g := fx.group
			f := Finding{Package: groups[g].pkg.Name, Arch: groups[g].pkg.Arch, Installed: groups[g].evr,
				Fixed: fx.pkg.EVR(), Advisory: a.ID, Severity: a.Severity, Vulnerable: true, CVEs: make([]CVEStatus, 0, len(a.CVEs))}
			for _, c := range a.CVEs {
				f.CVEs = append(f.CVEs, cveStatus(c, records[c.ID], scores))
			}
			out = append(out, f)
		}
	}

	// Open records, per installed package: vulnerable ones and those under
	// investigation apart, so Vulnerable holds for every CVE of a finding.
	type openCVEs struct{ affected, investigating []CVEStatus }
	opens := map[int]*openCVEs{}
	for _, r := range records {
		if !open(r.Status) {
			continue
		}
		var seen []int // a record naming a binary and its source counts once
		for _, name := range r.Packages {
			for _, g := range slices.Concat(byName[name], bySource[name]) {
				if slices.Contains(seen, g) || covered[key{g, r.CVE}] {
					continue
				}
				seen = append(seen, g)
				o := opens[g]
				if o == nil {
					o = &openCVEs{}
					opens[g] = o
				}
				s := CVEStatus{ID: r.CVE, Status: string(r.Status), Score: r.Score, Statement: r.Statement}
				if r.Status == advisory.NeedsTriage || r.Status == advisory.InResearch {
					o.investigating = append(o.investigating, s)
				} else {
					o.affected = append(o.affected, s)
				}
			}
		}
	}
	for g, o := range opens {
		for _, part := range []struct {
			cves       []CVEStatus
			vulnerable bool
		}{{o.affected, true}, {o.investigating, false}} {
			if len(part.cves) == 0 {
				continue
			}
			slices.SortFunc(part.cves, func(a, b CVEStatus) int { return naturalCompare(a.ID, b.ID) })
			out = append(out, Finding{Package: groups[g].pkg.Name, Arch: groups[g].pkg.Arch, Installed: groups[g].evr,
				CVEs: part.cves, Vulnerable: part.vulnerable})
		}
	}

	// Sorted through pointers: a Finding is too big to swap cheaply when a
	// stale host has thousands.
	ptrs := make([]*Finding, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	slices.SortFunc(ptrs, compareFindings)
	sorted := make([]Finding, len(out))
	for i, f := range ptrs {
		sorted[i] = *f
	}
	return sorted
}

// open reports whether a record's CVE still needs a fix for the product
// (ignored does too: the vendor decided not to fix it, the host stays
// affected).
func open(s advisory.Status) bool {
	switch s {
	case advisory.Released, advisory.AlreadyFixed, advisory.NotVulnerable:
		return false
	}
	return true
}

func compareFindings(a, b *Finding) int {
	if c := strings.Compare(a.Package, b.Package); c != 0 {
		return c
	}
	if (a.Advisory == "") != (b.Advisory == "") {
		if a.Advisory == "" {
			return 1
		}
		return -1
	}
	if c := naturalCompare(a.Advisory, b.Advisory); c != 0 {
		return c
	}
	if c := strings.Compare(a.Arch, b.Arch); c != 0 {
		return c
	}
	if a.Vulnerable != b.Vulnerable {
		if a.Vulnerable {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Installed, b.Installed)
}

// groupInstalled keeps the newest package of each name, format and
// architecture, and indexes the groups by name and by source name. The
// index is over the host's packages (a few thousand) rather than the
// advisories' (hundreds of thousands), so Match walks the advisories once
// with a map lookup per package.
func groupInstalled(installed []Installed) (groups []group, byName, bySource map[string][]int) {
	byName, bySource = map[string][]int{}, map[string][]int{}
	at := map[[3]string]int{}
	for _, p := range installed {
		if p.Format != "rpm" && p.Format != "deb" {
			continue
		}
		k := [3]string{p.Format, p.Name, p.Arch}
		if g, ok := at[k]; ok {
			q := &groups[g].pkg
			if compareFields(p.Format, q.Epoch, q.Version, q.Release, p.Epoch, p.Version, p.Release) < 0 {
				groups[g] = group{pkg: p, evr: p.EVR()}
			}
			continue
		}
		at[k] = len(groups)
		groups = append(groups, group{pkg: p, evr: p.EVR()})
	}
	for g := range groups {
		p := &groups[g].pkg
		byName[p.Name] = append(byName[p.Name], g)
		if p.Source != "" && p.Source != p.Name {
			bySource[p.Source] = append(bySource[p.Source], g)
		}
	}
	return groups, byName, bySource
}

// archApplies reports whether a package built for fixed replaces one
// installed for installed: the same architecture, or an
// architecture-independent package on either side (a package may move
// between noarch and arch-specific builds across versions). Source
// packages are never installed, so they never apply.
func archApplies(installed, fixed string) bool {
	if fixed == "src" || fixed == "nosrc" {
		return false
	}
	return installed == fixed || fixed == "noarch" || fixed == "all" || installed == "noarch" || installed == "all"
}

// cveStatus is a CVE of an advisory with the tracker's view of it for the
// product; a CVE without a record is released (its advisory is).
func cveStatus(c advisory.CVERef, r *advisory.Record, scores map[string]float64) CVEStatus {
	if r != nil {
		s := CVEStatus{ID: c.ID, Status: string(r.Status), Score: r.Score, Statement: r.Statement}
		if s.Score == 0 {
			s.Score = refScore(c, scores)
		}
		return s
	}
	return CVEStatus{ID: c.ID, Status: string(advisory.Released), Score: refScore(c, scores)}
}

// refScore is the score of the advisory's vectors for a CVE: v3 first, as
// advisory.Record.Score does.
func refScore(c advisory.CVERef, scores map[string]float64) float64 {
	v, score4 := c.CVSS, false
	if v == "" {
		v, score4 = c.CVSS4, true
	}
	if v == "" {
		return 0
	}
	if s, ok := scores[v]; ok {
		return s
	}
	var s float64
	var err error
	if score4 {
		s, err = advisory.Score4(v)
	} else {
		s, err = advisory.Score3(v)
	}
	if err != nil {
		s = 0
	}
	scores[v] = s
	return s
}

// naturalCompare orders IDs with their digit runs compared as numbers, so
// CVE-2026-9999 comes before CVE-2026-10000 and ENMEI-SA-2026:999 before
// ENMEI-SA-2026:1000.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if c := compareDigits(a[si:i], b[sj:j]); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			if a[i] < b[j] {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return strings.Compare(a, b)
}
