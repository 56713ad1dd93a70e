package csaf

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

const (
	csafVersion  = "2.0"
	tlpURL       = "https://www.first.org/tlp/"
	engineName   = "enmei"
	catAdvisory  = "csaf_security_advisory"
	catVEX       = "csaf_vex"
	wellKnownDir = "/.well-known/csaf/"
	// whiteDir is the one distribution: every document is TLP:WHITE.
	whiteDir = "white/"
)

// gen renders documents from one snapshot. It is pure: the same snapshot,
// options and paths give the same documents.
type gen struct {
	sn   *tracker.Snapshot
	opts Options
	// advPath maps an advisory ID to the path of its CSAF document, for
	// the links a VEX document makes to the advisories that fixed it.
	advPath map[string]string
}

// url is the public URL of a path under /.well-known/csaf/.
func (g *gen) url(path string) string { return g.opts.PublicURL + wellKnownDir + path }

// advisoryURL is where a reader finds an advisory: the vendor's page when
// the options name one, else its CSAF document ("" if it has none).
func (g *gen) advisoryURL(id string) string {
	if g.opts.AdvisoryURL != nil {
		if u := g.opts.AdvisoryURL(id); u != "" {
			return u
		}
	}
	if p, ok := g.advPath[id]; ok {
		return g.url(p)
	}
	return ""
}

func (g *gen) cveURL(id string) string {
	if g.opts.CVEURL != nil {
		return g.opts.CVEURL(id)
	}
	return g.opts.PublicURL + "/security/cve/" + id
}

func (g *gen) meta(category, id, title, path string) meta {
	return meta{
		Category:     category,
		CSAFVersion:  csafVersion,
		Distribution: distribution{TLP: tlp{Label: "WHITE", URL: tlpURL}},
		Lang:         "en",
		Publisher: publisher{
			Category:       "vendor",
			ContactDetails: g.opts.ContactDetails,
			Name:           g.opts.Publisher,
			Namespace:      g.opts.Namespace,
		},
		References: []reference{{Category: "self", Summary: "Canonical URL of this document", URL: g.url(path)}},
		Title:      title,
		Tracking:   tracking{ID: id},
	}
}

// cveRefs are the references every vulnerability carries: the vendor's
// tracker page and the CVE record.
func (g *gen) cveRefs(cve string) []reference {
	return []reference{
		{Category: "external", Summary: cve + " on the " + g.opts.Publisher + " security tracker", URL: g.cveURL(cve)},
		{Category: "external", Summary: cve + " on cve.org", URL: "https://www.cve.org/CVERecord?id=" + cve},
	}
}

// advisoryDoc renders a released advisory as a csaf_security_advisory (ok
// false when it has no CVE or no package of a known product: CSAF's
// security advisory profile needs vulnerabilities and a product tree).
func (g *gen) advisoryDoc(a advisory.Advisory, path string) (*document, bool) {
	if len(a.CVEs) == 0 {
		return nil, false
	}
	t := newTree(g.opts.Publisher)
	var ids []string
	for _, p := range a.Packages {
		prod, ok := g.sn.Products[g.sn.RepoProduct(p.Repo)]
		if !ok {
			continue
		}
		ids = append(ids, t.pkg(prod, p))
	}
	ids = uniqueSorted(ids)
	if len(ids) == 0 {
		return nil, false
	}
	title := strings.TrimSpace(a.Title.In("en"))
	m := g.meta(catAdvisory, a.ID, title, path)
	if a.Severity != "" {
		m.AggregateSeverity = &aggregateSeverity{Text: a.Severity}
	}
	summary := strings.TrimSpace(a.Description.In("en"))
	if summary == "" {
		summary = title
	}
	m.Notes = []note{{Category: "summary", Title: "Summary", Text: summary}}
	// The document's language is English; the vendor's Japanese text
	// follows as a note so Japanese readers lose nothing.
	if ja := strings.TrimSpace(a.Description.Ja); ja != "" && ja != summary {
		m.Notes = append(m.Notes, note{Category: "general", Title: "概要 (Japanese summary)", Text: ja})
	}
	if g.opts.AdvisoryURL != nil {
		if u := g.opts.AdvisoryURL(a.ID); u != "" {
			m.References = append(m.References, reference{Category: "external", Summary: a.ID + " on the " + g.opts.Publisher + " security tracker", URL: u})
		}
	}
	for _, r := range a.References {
		s := strings.TrimSpace(r.Title)
		if s == "" {
			s = r.URL
		}
		m.References = append(m.References, reference{Category: "external", Summary: s, URL: r.URL})
	}
	cves := append([]advisory.CVERef(nil), a.CVEs...)
	sort.Slice(cves, func(i, j int) bool { return cveLess(cves[i].ID, cves[j].ID) })
	var vulns []vulnerability
	for _, c := range cves {
		v := vulnerability{
			CVE:           c.ID,
			Notes:         []note{{Category: "summary", Title: "Fix", Text: fmt.Sprintf("%s is fixed by %s: %s.", c.ID, a.ID, title)}},
			ProductStatus: &productStatus{Fixed: ids},
			References:    g.cveRefs(c.ID),
			Remediations: []remediation{{
				Category:   "vendor_fix",
				Details:    "Install the updated packages of " + a.ID + ".",
				ProductIDs: ids,
				URL:        g.advisoryURL(a.ID),
			}},
		}
		if c.Published != "" {
			v.ReleaseDate = c.Published + "T00:00:00Z"
		}
		if s, ok := scoreOf(c.CVSS); ok {
			v.Scores = []score{{CVSSV3: s, Products: ids}}
		}
		vulns = append(vulns, v)
	}
	return &document{Document: m, ProductTree: t.tree(), Vulnerabilities: vulns}, true
}

// vexDoc renders every product's status of a CVE as a csaf_vex document.
func (g *gen) vexDoc(cve string, recs []advisory.Record, path string) *document {
	t := newTree(g.opts.Publisher)
	var (
		st           productStatus
		rems         []remediation
		threats      []threat
		lines        []string
		published    string
		byVector     = map[string][]string{}
		flags        = map[string][]string{}
		fixedBy      = map[string][]string{} // advisory ID → package product IDs
		fixedByOrder []string
	)
	for _, r := range recs {
		prod, ok := g.sn.Products[r.Product]
		if !ok {
			continue
		}
		name := productName(prod)
		status, remedy := advisory.VEX(r.Status)
		var ids []string
		line := fmt.Sprintf("%s: %s", name, r.Status)
		if status == advisory.VEXFixed {
			var released []string
			for _, aid := range r.Fixed {
				a, ok := g.sn.Advisory(aid, false)
				if !ok {
					continue
				}
				released = append(released, aid)
				for _, p := range a.Packages {
					if g.sn.RepoProduct(p.Repo) != r.Product {
						continue
					}
					id := t.pkg(prod, p)
					ids = append(ids, id)
					if _, seen := fixedBy[aid]; !seen {
						fixedByOrder = append(fixedByOrder, aid)
					}
					fixedBy[aid] = append(fixedBy[aid], id)
				}
			}
			if len(released) > 0 {
				line += " (fixed by " + strings.Join(released, ", ") + ")"
			}
		}
		// A product without fixed package versions (not fixed yet, not
		// affected, or fixed before enmei shipped it) is named whole.
		if len(ids) == 0 {
			ids = []string{t.product(prod)}
		}
		ids = uniqueSorted(ids)
		switch status {
		case advisory.VEXFixed:
			st.Fixed = append(st.Fixed, ids...)
		case advisory.VEXKnownNotAffected:
			st.KnownNotAffected = append(st.KnownNotAffected, ids...)
			// The statement is required for not-vulnerable, so every
			// known_not_affected product has its impact statement
			// (CSAF mandatory test 6.1.27.9).
			threats = append(threats, threat{Category: "impact", Details: strings.TrimSpace(r.Statement), ProductIDs: ids})
			if r.Justification != "" {
				flags[r.Justification] = append(flags[r.Justification], ids...)
			}
		case advisory.VEXUnderInvestigation:
			st.UnderInvestigation = append(st.UnderInvestigation, ids...)
			// CSAF recommends a remediation for every product under
			// investigation (optional test 6.2.2): none is available yet.
			rems = append(rems, remediation{Category: advisory.RemedyNoneAvailable,
				Details: "Under investigation (status: " + string(r.Status) + "); no fix is available yet.", ProductIDs: ids})
		case advisory.VEXKnownAffected:
			st.KnownAffected = append(st.KnownAffected, ids...)
			var details string
			if remedy == advisory.RemedyNoFixPlanned {
				details = "Will not fix"
			} else {
				details = "A fix is planned but not yet available (status: " + string(r.Status) + ")"
			}
			if s := strings.TrimSpace(r.Statement); s != "" {
				details += ": " + s
			} else {
				details += "."
			}
			rems = append(rems, remediation{Category: remedy, Details: details, ProductIDs: ids})
		}
		if s := strings.TrimSpace(r.Statement); s != "" {
			line += ". " + s
		}
		if len(r.Packages) > 0 {
			line += " [packages: " + strings.Join(r.Packages, ", ") + "]"
		}
		lines = append(lines, line)
		if r.CVSS3 != "" {
			byVector[r.CVSS3] = append(byVector[r.CVSS3], ids...)
		}
		if r.Published != "" && (published == "" || r.Published < published) {
			published = r.Published
		}
	}
	sort.Strings(fixedByOrder)
	for _, aid := range fixedByOrder {
		rems = append(rems, remediation{
			Category:   "vendor_fix",
			Details:    "Install the updated packages of " + aid + ".",
			ProductIDs: uniqueSorted(fixedBy[aid]),
			URL:        g.advisoryURL(aid),
		})
	}
	// Fixed remediations first, then the others, each in a stable order.
	sort.SliceStable(rems, func(i, j int) bool { return remRank(rems[i]) < remRank(rems[j]) })
	st.Fixed = uniqueSorted(st.Fixed)
	st.KnownAffected = uniqueSorted(st.KnownAffected)
	st.KnownNotAffected = uniqueSorted(st.KnownNotAffected)
	st.UnderInvestigation = uniqueSorted(st.UnderInvestigation)

	v := vulnerability{
		CVE:           cve,
		Notes:         []note{{Category: "details", Title: "Status by product", Text: strings.Join(lines, "\n")}},
		ProductStatus: &st,
		References:    g.cveRefs(cve),
		Remediations:  rems,
		Threats:       threats,
	}
	for _, aid := range fixedByOrder {
		if u := g.advisoryURL(aid); u != "" {
			v.References = append(v.References, reference{Category: "external", Summary: "Advisory " + aid, URL: u})
		}
	}
	if published != "" {
		v.ReleaseDate = published + "T00:00:00Z"
	}
	for _, label := range slices.Sorted(maps.Keys(flags)) {
		v.Flags = append(v.Flags, vexFlag{Label: label, ProductIDs: uniqueSorted(flags[label])})
	}
	for _, vec := range slices.Sorted(maps.Keys(byVector)) {
		if s, ok := scoreOf(vec); ok {
			v.Scores = append(v.Scores, score{CVSSV3: s, Products: uniqueSorted(byVector[vec])})
		}
	}
	m := g.meta(catVEX, cve, "Status of "+cve+" in "+g.opts.Publisher+" products", path)
	return &document{Document: m, ProductTree: t.tree(), Vulnerabilities: []vulnerability{v}}
}

func remRank(r remediation) int {
	if r.Category == "vendor_fix" {
		return 0
	}
	return 1
}

// scoreOf is the cvss_v3 object of a v3.x vector, with the base score and
// severity computed from it (CSAF mandatory test 6.1.9 recomputes them).
// v4.0 vectors have no place in CSAF 2.0 and are left out.
func scoreOf(vector string) (*cvssV3, bool) {
	var version string
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		version = "3.1"
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		version = "3.0"
	default:
		return nil, false
	}
	s, err := advisory.Score3(vector)
	if err != nil {
		return nil, false
	}
	return &cvssV3{BaseScore: s, BaseSeverity: strings.ToUpper(advisory.Rating(s)), VectorString: vector, Version: version}, true
}

// tree collects the products a document names and renders its product
// tree: vendor → product name → product version (a fixed package).
type tree struct {
	vendor string
	prods  map[string]*treeProduct
}

type treeProduct struct {
	id, name string
	whole    bool
	pkgs     map[string]fullProductName
}

func newTree(vendor string) *tree { return &tree{vendor: vendor, prods: map[string]*treeProduct{}} }

func (t *tree) get(p store.Product) *treeProduct {
	tp := t.prods[p.ID]
	if tp == nil {
		tp = &treeProduct{id: p.ID, name: productName(p), pkgs: map[string]fullProductName{}}
		t.prods[p.ID] = tp
	}
	return tp
}

// product adds a product as a whole and returns its product ID: the
// store's product ID, stable across documents and runs.
func (t *tree) product(p store.Product) string {
	t.get(p).whole = true
	return p.ID
}

// pkg adds a fixed package of a product and returns its product ID:
// "<product>:<package label>", stable and free of CPEs.
func (t *tree) pkg(p store.Product, pk advisory.Package) string {
	tp := t.get(p)
	label := packageLabel(p, pk)
	id := p.ID + ":" + label
	fp := fullProductName{Name: tp.name + " " + label, ProductID: id}
	if u := purl(p, pk); u != "" {
		fp.ProductIdentificationHelper = &helper{PURL: u}
	}
	tp.pkgs[id] = fp
	return id
}

func (t *tree) tree() *productTree {
	prods := make([]*treeProduct, 0, len(t.prods))
	for _, p := range t.prods {
		prods = append(prods, p)
	}
	sort.Slice(prods, func(i, j int) bool {
		if prods[i].name != prods[j].name {
			return prods[i].name < prods[j].name
		}
		return prods[i].id < prods[j].id
	})
	var brs []branch
	for _, p := range prods {
		// A branch holds either sub-branches or a product, so a product
		// named whole and with package versions (never both in one
		// document as enmei writes them) gets two branches.
		if p.whole {
			brs = append(brs, branch{Category: "product_name", Name: p.name, Product: &fullProductName{Name: p.name, ProductID: p.id}})
		}
		if len(p.pkgs) > 0 {
			var vers []branch
			for _, id := range slices.Sorted(maps.Keys(p.pkgs)) {
				fp := p.pkgs[id]
				vers = append(vers, branch{Category: "product_version", Name: strings.TrimPrefix(id, p.id+":"), Product: &fp})
			}
			brs = append(brs, branch{Category: "product_name", Name: p.name, Branches: vers})
		}
	}
	if len(brs) == 0 {
		return nil
	}
	return &productTree{Branches: []branch{{Category: "vendor", Name: t.vendor, Branches: brs}}}
}

func productName(p store.Product) string {
	if s := strings.TrimSpace(p.Name); s != "" {
		return s
	}
	return p.ID
}

func format(p store.Product, pk advisory.Package) string {
	if pk.Format != "" {
		return pk.Format
	}
	return p.Format
}

// packageLabel names a package version as its package manager would:
// rpm "name-E:V-R.arch" (epoch always written, as rpm -q --qf and Red
// Hat's CSAF do), deb "name_[E:]V_arch".
func packageLabel(p store.Product, pk advisory.Package) string {
	switch format(p, pk) {
	case "rpm":
		return pk.Name + "-" + pk.EVRWithEpoch() + "." + pk.Arch
	case "deb":
		return pk.Name + "_" + pk.EVR() + "_" + pk.Arch
	}
	if pk.NEVRA != "" {
		return pk.NEVRA
	}
	return pk.Name + "@" + pk.EVR()
}

// purl is the package URL of a fixed package: pkg:rpm/<os>/<name>@<v>-<r>
// with arch and (when set) epoch qualifiers, or pkg:deb/<os>/<name>@<v>
// with arch; "" for other formats.
func purl(p store.Product, pk advisory.Package) string {
	ns := strings.ToLower(p.OSID)
	switch format(p, pk) {
	case "rpm":
		v := pk.Version
		if pk.Release != "" {
			v += "-" + pk.Release
		}
		q := packageurl.Qualifiers{{Key: "arch", Value: pk.Arch}}
		if pk.Epoch != "" && pk.Epoch != "0" {
			q = append(q, packageurl.Qualifier{Key: "epoch", Value: pk.Epoch})
		}
		return packageurl.NewPackageURL("rpm", ns, pk.Name, v, q, "").ToString()
	case "deb":
		return packageurl.NewPackageURL("deb", ns, pk.Name, pk.EVR(), packageurl.Qualifiers{{Key: "arch", Value: pk.Arch}}, "").ToString()
	}
	return ""
}

// FileName is a document's file name by the CSAF 2.0 rule (section 5.1):
// the tracking ID in lower case, every character outside [+\-a-z0-9]
// replaced by "_", and ".json".
func FileName(trackingID string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(trackingID) {
		if r == '+' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String() + ".json"
}

// docPath is where a document lives under /.well-known/csaf/: the year
// folder of its initial release, which never moves once published.
func docPath(id string, initial time.Time) string {
	return fmt.Sprintf("%s%d/%s", whiteDir, initial.UTC().Year(), FileName(id))
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func uniqueSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	j := 0
	for i := range out {
		if i == 0 || out[i] != out[j-1] {
			out[j] = out[i]
			j++
		}
	}
	return out[:j]
}

// cveLess orders CVE IDs by year, then number (CVE-2026-10000 after
// CVE-2026-9999), as the tracker does.
func cveLess(a, b string) bool {
	if len(a) != len(b) && len(a) > 9 && len(b) > 9 && a[:9] == b[:9] {
		return len(a) < len(b)
	}
	return a < b
}
