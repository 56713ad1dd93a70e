// Package osv renders released advisories as OSV records (the Open Source
// Vulnerability format of ossf/osv-schema) for the public feed: one record
// per advisory at /security/osv/<advisory ID>.json and all of them in
// /security/osv/all.zip, so osv-scanner and other OSV consumers can match a
// host's packages against the vendor's fixes. Each record names its
// packages in the ecosystem of the product's OS (AlmaLinux:9, Debian:12, …)
// with the fixed version exactly as the package manager orders it, epoch
// included, because a scanner comparing a fixed version without its epoch
// reports patched hosts as vulnerable. The output is deterministic (same
// snapshot, same bytes) so the feed can be cached and mirrored by digest.
package osv

import (
	"archive/zip"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/tracker"
)

// SchemaVersion is the OSV schema version the records claim: the tests
// validate them against a schema of the 1.7 line (testdata/schema.json),
// and they use nothing newer than 1.7.0.
const SchemaVersion = "1.7.0"

// Options are the feed's settings.
type Options struct {
	// PublicURL is the server's public base URL ("https://els.example.com"):
	// the advisory page is PublicURL+"/security/advisory/"+ID and a CVE's
	// tracker page PublicURL+"/security/cve/"+CVE. When "" the records
	// carry no links to the server, as OSV references must be absolute.
	PublicURL string
}

// RecordID is the OSV id of an advisory. OSV ids are "<DB>-<ENTRYID>" and
// the schema accepts a registered DB prefix or the local prefix "x_". The
// advisory ID keeps its form (colon included, as the registered AlmaLinux,
// Rocky Linux and Red Hat databases keep ALSA-2025:10073, RLSA-…, RHSA-…),
// so a user finds the record by the advisory's own ID; the OSV prefix
// replaces the part of the advisory's prefix it names: with prefix
// "x_ENMEI", ENMEI-SA-2026:0001 becomes x_ENMEI-SA-2026:0001, and with a
// registered prefix "ENMEI" it stays ENMEI-SA-2026:0001. An advisory whose
// ID does not start with the prefix's name gets the whole prefix in front
// (x_ACME-ENMEI-SA-2026:0001). prefix "" is tracker.DefaultOSVPrefix.
func RecordID(prefix, advisoryID string) string {
	if prefix == "" {
		prefix = tracker.DefaultOSVPrefix
	}
	name := strings.TrimPrefix(prefix, "x_")
	if name != "" && strings.HasPrefix(advisoryID, name+"-") {
		return prefix + strings.TrimPrefix(advisoryID, name)
	}
	if strings.HasSuffix(prefix, "_") || strings.HasSuffix(prefix, "-") {
		return prefix + advisoryID // "x_" alone: x_ENMEI-SA-…, not x_-ENMEI-SA-…
	}
	return prefix + "-" + advisoryID
}

// Record renders one released advisory as an OSV record: indented JSON
// ending in a newline, the same bytes for the same snapshot. A draft is
// not found: drafts never reach a public feed.
func Record(sn *tracker.Snapshot, a advisory.Advisory, o Options) ([]byte, error) {
	v, err := build(sn, a, o)
	if err != nil {
		return nil, err
	}
	return encode(v)
}

// Zip writes every released advisory of the snapshot as a zip archive of
// OSV records, one <record id>.json each, sorted by name. Each entry's
// time is its record's modified time, never the time of writing, so the
// archive's bytes depend on the snapshot only.
func Zip(sn *tracker.Snapshot, o Options, w io.Writer) error {
	// Named and sorted first, then rendered one at a time: the archive of
	// tens of thousands of advisories is streamed, never held in memory.
	type entry struct {
		name string
		adv  *advisory.Advisory
	}
	entries := make([]entry, 0, len(sn.Released))
	for i := range sn.Released {
		a := &sn.Released[i]
		entries = append(entries, entry{RecordID(sn.Config.OSVPrefix, a.ID) + ".json", a})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(entries); i++ {
		if entries[i].name == entries[i-1].name {
			return fmt.Errorf("advisories %s and %s both make the OSV record %s", entries[i-1].adv.ID, entries[i].adv.ID, entries[i].name)
		}
	}
	zw := zip.NewWriter(w)
	for _, e := range entries {
		v, err := build(sn, *e.adv, o)
		if err != nil {
			return err
		}
		data, err := encode(v)
		if err != nil {
			return err
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: v.modified})
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// The record, in the field order of the OSV specification.
type vuln struct {
	SchemaVersion    string       `json:"schema_version"`
	ID               string       `json:"id"`
	Modified         string       `json:"modified"`
	Published        string       `json:"published"`
	Aliases          []string     `json:"aliases,omitempty"`
	Summary          string       `json:"summary,omitempty"`
	Details          string       `json:"details,omitempty"`
	Severity         []severity   `json:"severity,omitempty"`
	Affected         []affected   `json:"affected,omitempty"`
	References       []reference  `json:"references,omitempty"`
	DatabaseSpecific databaseInfo `json:"database_specific"`

	modified time.Time
}

type severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type affected struct {
	Package           pkg          `json:"package"`
	Ranges            []rng        `json:"ranges"`
	EcosystemSpecific ecoInfo      `json:"ecosystem_specific"`
	DatabaseSpecific  affectedInfo `json:"database_specific"`
}

type pkg struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

type rng struct {
	Type   string  `json:"type"`
	Events []event `json:"events"`
}

type event struct {
	Introduced string `json:"introduced,omitempty"`
	Fixed      string `json:"fixed,omitempty"`
}

// ecoInfo says which architectures' builds the fixed version is, since
// the OSV package has no architecture of its own.
type ecoInfo struct {
	Arches []string `json:"arches"`
}

// affectedInfo names the vendor's product the entry is for (several
// products may share an ecosystem, say two AlmaLinux 9 offerings).
type affectedInfo struct {
	Product string `json:"product"`
}

type reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// databaseInfo is what OSV has no field for.
type databaseInfo struct {
	// Advisory is the vendor's advisory ID, as updateinfo and the pages
	// write it.
	Advisory string `json:"advisory"`
	Type     string `json:"type"`               // security, bugfix, enhancement
	Severity string `json:"severity,omitempty"` // the vendor's rating: Critical, Important, Moderate, Low
	URL      string `json:"url,omitempty"`      // the advisory's page on the tracker
	// SeverityFrom names the CVE each severity vector is from when the
	// advisory has several CVEs: OSV has one severity per record, so it
	// carries the highest-scoring vector of each CVSS version.
	SeverityFrom map[string]string `json:"severity_from,omitempty"`
	// Unlisted are products whose packages the record leaves out, and why:
	// OSV has no ecosystem for them.
	Unlisted []unlisted `json:"unlisted_products,omitempty"`
}

type unlisted struct {
	Product string `json:"product,omitempty"`
	Reason  string `json:"reason"`
}

func encode(v *vuln) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // purls carry '&'; \u0026 is valid but unreadable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// timestamp is OSV's RFC 3339 UTC form, to the second.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func build(sn *tracker.Snapshot, a advisory.Advisory, o Options) (*vuln, error) {
	if a.Released.IsZero() {
		return nil, errs.E(errs.NotFound, "advisory %s is not released", a.ID)
	}
	base := strings.TrimRight(o.PublicURL, "/")
	released := a.Released.UTC().Truncate(time.Second)
	modified := released
	// The updated date is when the advisory's content last changed; it
	// counts from the day's start, so a same-day edit before the release
	// time leaves modified at the release.
	if u := cmp.Or(a.Updated, a.Issued); u != "" {
		if d, err := time.Parse("2006-01-02", u); err == nil && d.After(modified) {
			modified = d
		}
	}
	v := &vuln{
		SchemaVersion: SchemaVersion,
		ID:            RecordID(sn.Config.OSVPrefix, a.ID),
		Modified:      timestamp(modified),
		Published:     timestamp(released),
		Summary:       strings.TrimSpace(a.Title.In("en")),
		Details:       strings.TrimSpace(a.Description.In("en")),
		DatabaseSpecific: databaseInfo{
			Advisory: a.ID,
			Type:     a.Type,
			Severity: a.Severity,
		},
		modified: modified,
	}
	for _, c := range a.CVEs {
		v.Aliases = append(v.Aliases, c.ID)
	}
	v.Severity, v.DatabaseSpecific.SeverityFrom = severities(sn, a)
	v.Affected, v.DatabaseSpecific.Unlisted = affectedOf(sn, a)

	seen := map[string]bool{}
	ref := func(typ, url string) {
		if url != "" && !seen[url] {
			seen[url] = true
			v.References = append(v.References, reference{Type: typ, URL: url})
		}
	}
	if base != "" {
		v.DatabaseSpecific.URL = base + "/security/advisory/" + a.ID
		ref("ADVISORY", v.DatabaseSpecific.URL)
	}
	for _, c := range a.CVEs {
		// The CVE Program's record is the advisory of record for the CVE;
		// the tracker's page is the vendor's report on it, with its
		// status per product.
		ref("ADVISORY", "https://www.cve.org/CVERecord?id="+c.ID)
		if base != "" {
			ref("REPORT", base+"/security/cve/"+c.ID)
		}
	}
	for _, r := range a.References {
		ref("WEB", r.URL)
	}
	return v, nil
}

// severities is the record's CVSS vectors: those of the advisory's CVE, or
// with several CVEs the highest-scoring vector of each version (and which
// CVE it is from; a tie keeps the first CVE). A CVE the advisory gives no
// vector for takes the tracker's, from its records for the advisory's
// products.
func severities(sn *tracker.Snapshot, a advisory.Advisory) ([]severity, map[string]string) {
	type best struct {
		vector, cve string
		score       float64
	}
	var v3, v4 best
	consider := func(b *best, vector, cve string, score func(string) (float64, error)) {
		if vector == "" {
			return
		}
		s, err := score(vector)
		if err != nil {
			return
		}
		if b.vector == "" || s > b.score {
			*b = best{vector, cve, s}
		}
	}
	products := a.Products(sn.RepoProduct)
	for _, c := range a.CVEs {
		if c.CVSS != "" || c.CVSS4 != "" {
			consider(&v3, c.CVSS, c.ID, advisory.Score3)
			consider(&v4, c.CVSS4, c.ID, advisory.Score4)
			continue
		}
		// Records are per product and may score a CVE differently; the
		// highest counts, as it does across CVEs.
		for _, r := range sn.CVE(c.ID) {
			if slices.Contains(products, r.Product) {
				consider(&v3, r.CVSS3, c.ID, advisory.Score3)
				consider(&v4, r.CVSS4, c.ID, advisory.Score4)
			}
		}
	}
	var out []severity
	from := map[string]string{}
	if v3.vector != "" {
		out = append(out, severity{"CVSS_V3", v3.vector})
		from["CVSS_V3"] = v3.cve
	}
	if v4.vector != "" {
		out = append(out, severity{"CVSS_V4", v4.vector})
		from["CVSS_V4"] = v4.cve
	}
	if len(a.CVEs) < 2 {
		from = nil
	}
	if len(from) == 0 {
		from = nil
	}
	return out, from
}

// affectedOf lists the advisory's packages per product, package name and
// fixed version (normally one entry per product and name; builds of one
// name at different versions, which no advisory should have, stay apart
// rather than claim a version for an architecture it is not). Products
// OSV has no ecosystem for are left out and listed with the reason.
func affectedOf(sn *tracker.Snapshot, a advisory.Advisory) ([]affected, []unlisted) {
	type key struct{ product, name, evr string }
	arches := map[key][]string{}
	format := map[key]string{}
	var keys []key
	var skipped []unlisted
	skip := map[string]bool{}
	for _, p := range a.Packages {
		prod := sn.RepoProduct(p.Repo)
		if prod == "" {
			// Only a snapshot out of step with its store has this.
			if !skip["\x00"+p.Repo] {
				skip["\x00"+p.Repo] = true
				skipped = append(skipped, unlisted{Reason: fmt.Sprintf("repository %q belongs to no known product", p.Repo)})
			}
			continue
		}
		if skip[prod] {
			continue
		}
		if _, _, _, reason := ecosystem(sn, prod, p.Format); reason != "" {
			skip[prod] = true
			skipped = append(skipped, unlisted{Product: prod, Reason: reason})
			continue
		}
		k := key{prod, p.Name, p.EVR()}
		if _, ok := arches[k]; !ok {
			keys = append(keys, k)
			format[k] = p.Format
		}
		if !slices.Contains(arches[k], p.Arch) {
			arches[k] = append(arches[k], p.Arch)
		}
	}
	slices.SortFunc(keys, func(x, y key) int {
		return cmpStrings(x.product, y.product, x.name, y.name, x.evr, y.evr)
	})
	slices.SortFunc(skipped, func(x, y unlisted) int { return cmpStrings(x.Product, y.Product, x.Reason, y.Reason) })
	var out []affected
	for _, k := range keys {
		eco, ns, distro, _ := ecosystem(sn, k.product, format[k])
		as := arches[k]
		slices.Sort(as)
		var qs packageurl.Qualifiers
		if len(as) == 1 {
			qs = append(qs, packageurl.Qualifier{Key: "arch", Value: as[0]})
		}
		qs = append(qs, packageurl.Qualifier{Key: "distro", Value: distro})
		out = append(out, affected{
			Package: pkg{
				Ecosystem: eco,
				Name:      k.name,
				PURL:      packageurl.NewPackageURL(format[k], ns, k.name, "", qs, "").ToString(),
			},
			Ranges:            []rng{{Type: "ECOSYSTEM", Events: []event{{Introduced: "0"}, {Fixed: k.evr}}}},
			EcosystemSpecific: ecoInfo{Arches: as},
			DatabaseSpecific:  affectedInfo{Product: k.product},
		})
	}
	return out, skipped
}

// ecosystem is the OSV ecosystem of a product's packages, with the purl
// namespace and distro qualifier its packages get, or the reason there is
// none. OSV scopes each ecosystem to an OS release in its own way (see
// ecosystems.json of ossf/osv-schema); the OSes it lists that no enmei
// product serves (SUSE, openSUSE, Photon OS, …) need a release name the
// product binding does not have, and CentOS, Oracle Linux and Amazon Linux
// have no OSV ecosystem at all.
func ecosystem(sn *tracker.Snapshot, productID, pkgFormat string) (eco, purlNamespace, distro, reason string) {
	p, ok := sn.Products[productID]
	if !ok {
		return "", "", "", "not a known product"
	}
	if p.OSID == "" {
		return "", "", "", "the product is bound to no OS (enmeid product add --os)"
	}
	ver := p.OSVersion
	major, _, _ := strings.Cut(ver, ".")
	family := "rpm"
	switch p.OSID {
	case "almalinux":
		eco, purlNamespace = "AlmaLinux:"+major, "almalinux"
	case "rocky":
		eco, purlNamespace = "Rocky Linux:"+major, "rocky"
	case "rhel":
		// Red Hat scopes by CPE without "cpe:/o:redhat:"; the product
		// stream (baseos, appstream) is unknown here, so the major
		// release's CPE, which every RHEL stream of it starts with.
		eco, purlNamespace = "Red Hat:enterprise_linux:"+major, "redhat"
	case "debian":
		eco, purlNamespace, family = "Debian:"+major, "debian", "deb"
	case "ubuntu":
		// Ubuntu's release is YY.MM, with ":LTS" for the LTS releases
		// (the April releases of even years).
		yy, mm, ok := strings.Cut(ver, ".")
		if !ok || len(yy) != 2 || len(mm) != 2 || !allDigits(yy) || !allDigits(mm) {
			return "", "", "", fmt.Sprintf("OSV's Ubuntu ecosystem needs the release as YY.MM, the product has %q", ver)
		}
		eco, purlNamespace, family = "Ubuntu:"+ver, "ubuntu", "deb"
		if mm == "04" && (yy[1]-'0')%2 == 0 {
			eco += ":LTS"
		}
	default:
		return "", "", "", fmt.Sprintf("OSV has no ecosystem for OS %q", p.OSID)
	}
	if major == "" || !allDigits(major) {
		return "", "", "", fmt.Sprintf("OS version %q is not a release number", ver)
	}
	if pkgFormat != family {
		return "", "", "", fmt.Sprintf("%s packages in a %s product", pkgFormat, p.OSID)
	}
	return eco, purlNamespace, p.OSID + "-" + ver, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// cmpStrings compares pairs in turn: x0 with y0, then x1 with y1, …
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}
