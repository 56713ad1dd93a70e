// Package oval renders a product's released advisories as OVAL 5.11
// patch definitions, the file Red Hat and TuxCare publish for OpenSCAP and
// other scanners: one definition per advisory, true on a host that has a
// package of that product older than the advisory's fixed version
// installed. rpm products are checked with rpminfo tests (evr_string,
// rpm's ordering); deb products with dpkginfo tests (debian_evr_string,
// dpkg's ordering, which needs OVAL 5.11.1). Objects, states and tests are
// shared between definitions wherever they are identical, and the output
// depends only on the snapshot and the options, so that a served file's
// ETag changes only when its content does.
package oval

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/tracker"
)

// Options describe the vendor publishing the definitions.
type Options struct {
	// PublicURL is where the server is reached; each definition links to
	// PublicURL+"/security/advisory/"+ID.
	PublicURL string
	// Vendor names the vendor: the source of the advisory references
	// (default "enmei").
	Vendor string
	// Namespace is the reverse-domain namespace of the OVAL IDs, e.g.
	// "io.enmei". Default: PublicURL's host name reversed
	// ("https://security.example.com" gives "com.example.security"), else
	// the vendor name, else "enmei". It must not change once scanners
	// have seen the IDs.
	Namespace string
	// Version is enmei's version, written as the generator's
	// product_version ("": left out).
	Version string
	// Lang is the language of titles and descriptions, "en" (default)
	// or "ja"; the other is used where one is missing.
	Lang string
	// Now is the document's timestamp. Zero: the newest release time of
	// the advisories in the file, so that the document is a function of
	// the snapshot alone.
	Now time.Time
}

// OVAL schema namespaces.
const (
	nsDef    = "http://oval.mitre.org/XMLSchema/oval-definitions-5"
	nsCommon = "http://oval.mitre.org/XMLSchema/oval-common-5"
	nsLinux  = "http://oval.mitre.org/XMLSchema/oval-definitions-5#linux"
	nsXSI    = "http://www.w3.org/2001/XMLSchema-instance"
)

// GeneratorName is the generator's product_name.
const GeneratorName = "enmei"

// idNumberBase makes a definition number of an advisory number: one year
// holds advisories 0 to idNumberBase-1.
const idNumberBase = 100000

var (
	namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_\-.]+$`)
	advisoryRE  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9._-]*)-([0-9]{4}):([0-9]+)$`)
	nsUnsafeRE  = regexp.MustCompile(`[^a-z0-9_\-.]+`)
)

// DefinitionID is the OVAL ID of advisory id under the base namespace ns:
// oval:NS.PREFIX:def:YYYYNNNNN, PREFIX lower-cased (ENMEI-SA-2026:0001
// under io.enmei is oval:io.enmei.enmei-sa:def:202600001). The prefix is
// in the namespace, as Red Hat's com.redhat.rhsa and com.redhat.rhba
// are, because the number is only unique within one prefix; the number
// is year*100000+number, so it stays the same for as long as the
// advisory exists and sorts the definitions by age. Advisory numbers
// of 100000 and more in a year have no ID.
func DefinitionID(ns, id string) (string, error) {
	sub, n, err := defNumber(id)
	if err != nil {
		return "", err
	}
	return "oval:" + ns + "." + sub + ":def:" + strconv.FormatInt(n, 10), nil
}

func defNumber(id string) (sub string, n int64, err error) {
	m := advisoryRE.FindStringSubmatch(id)
	if m == nil {
		return "", 0, errs.E(errs.Invalid, "advisory %q: the ID is not PREFIX-YYYY:NNNN, so it has no OVAL definition ID", id)
	}
	year, _ := strconv.ParseInt(m[2], 10, 64)
	num, err := strconv.ParseInt(m[3], 10, 64)
	if err != nil || num >= idNumberBase {
		return "", 0, errs.E(errs.Invalid, "advisory %q: the number is %d or more, which the OVAL definition ID (year*%d+number) cannot hold", id, idNumberBase, idNumberBase)
	}
	n = year*idNumberBase + num
	if n < 1 {
		return "", 0, errs.E(errs.Invalid, "advisory %q: year and number 0 give no OVAL definition ID", id)
	}
	return strings.ToLower(m[1]), n, nil
}

// namespace is the base namespace the options give.
func (o Options) namespace() (string, error) {
	if o.Namespace != "" {
		if !namespaceRE.MatchString(o.Namespace) {
			return "", errs.E(errs.Invalid, "OVAL namespace %q may hold only letters, digits, '_', '-' and '.'", o.Namespace)
		}
		return o.Namespace, nil
	}
	if u, err := url.Parse(o.PublicURL); err == nil && u.Hostname() != "" {
		host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
		if net.ParseIP(host) == nil {
			labels := strings.Split(host, ".")
			for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
				labels[i], labels[j] = labels[j], labels[i]
			}
			if ns := strings.Trim(nsUnsafeRE.ReplaceAllString(strings.Join(labels, "."), "-"), ".-"); ns != "" {
				return ns, nil
			}
		}
	}
	if ns := strings.Trim(nsUnsafeRE.ReplaceAllString(strings.ToLower(o.Vendor), "-"), ".-"); ns != "" {
		return ns, nil
	}
	return "enmei", nil
}

// Definitions renders the released advisories of sn that ship packages
// in product as an OVAL definitions document. Each definition lists only
// that product's packages. The error is errs.NotFound for an unknown
// product and for one no released advisory has packages in, and
// errs.Invalid for a product that is neither rpm nor deb.
func Definitions(sn *tracker.Snapshot, product string, o Options) ([]byte, error) {
	pr, ok := sn.Products[product]
	if !ok {
		return nil, errs.E(errs.NotFound, "no product %q", product)
	}
	if pr.Format != "rpm" && pr.Format != "deb" {
		return nil, errs.E(errs.Invalid, "product %q has %s packages; OVAL definitions are made for rpm and deb products", product, pr.Format)
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, err
	}
	lang := o.Lang
	if lang == "" {
		lang = "en"
	}
	vendor := o.Vendor
	if vendor == "" {
		vendor = "enmei"
	}
	platform := pr.Name
	if platform == "" {
		platform = pr.ID
	}
	publicURL := strings.TrimRight(o.PublicURL, "/")

	// Pass 1: each advisory's checks, and the set of checks of all.
	type defn struct {
		a      *advisory.Advisory
		sub    string
		num    int64
		checks []check
	}
	var defs []defn
	// The shared parts, each with its ID (and a test its comment) once
	// numbered.
	tests := map[check]testInfo{}
	objects := map[string]string{}
	states := map[state]string{}
	taken := map[string]string{} // definition ID → advisory, to catch collisions
	var newest time.Time
	criteria := 0
	for i := range sn.Released {
		a := &sn.Released[i]
		checks := productChecks(sn, a, product, pr.Format)
		if len(checks) == 0 {
			continue
		}
		sub, num, err := defNumber(a.ID)
		if err != nil {
			return nil, err
		}
		key := sub + ":" + strconv.FormatInt(num, 10)
		if other, dup := taken[key]; dup {
			return nil, errs.E(errs.Invalid, "advisories %s and %s would have the same OVAL definition ID", other, a.ID)
		}
		taken[key] = a.ID
		defs = append(defs, defn{a: a, sub: sub, num: num, checks: checks})
		criteria += len(checks)
		for _, c := range checks {
			tests[c] = testInfo{}
			objects[c.name] = ""
			states[c.state] = ""
		}
		if a.Released.After(newest) {
			newest = a.Released
		}
	}

	if len(defs) == 0 {
		// OVAL's schematron rejects a document without definitions, so
		// there is no valid empty file to serve.
		return nil, errs.E(errs.NotFound, "no released advisory has packages in product %q, so it has no OVAL definitions", product)
	}

	// Pass 2: number the shared parts in sorted order, so that the same
	// snapshot always gives the same bytes.
	id := func(kind string, i int) string { return "oval:" + ns + ":" + kind + ":" + strconv.Itoa(i+1) }
	testKeys := sortedKeys(tests, check.compare)
	for i, k := range testKeys {
		tests[k] = testInfo{id: id("tst", i), comment: k.name + " is earlier than " + k.evr}
	}
	objKeys := sortedKeys(objects, strings.Compare)
	for i, k := range objKeys {
		objects[k] = id("obj", i)
	}
	stateKeys := sortedKeys(states, state.compare)
	for i, k := range stateKeys {
		states[k] = id("ste", i)
	}
	slices.SortFunc(defs, func(x, y defn) int {
		return cmp.Or(strings.Compare(x.sub, y.sub), cmp.Compare(x.num, y.num))
	})

	schema := "5.11"
	kind, evrType := "rpminfo", "evr_string"
	if pr.Format == "deb" {
		// debian_evr_string, the only correct ordering of Debian
		// versions, came with 5.11.1; OpenSCAP's dpkginfo probe reports
		// evr as debian_evr_string only to a 5.11.1 document, and as
		// evr_string (compared by rpm's rules) to an older one.
		schema = "5.11.1"
		kind, evrType = "dpkginfo", "debian_evr_string"
	}
	ts := o.Now
	if ts.IsZero() {
		ts = newest
	}

	// The document is written directly rather than through
	// xml.Marshal: a product's file has tens of thousands of elements,
	// and reflection made rendering several times slower.
	w := &writer{}
	// Roughly the size of the document, so the buffer is not copied
	// over and over as it grows.
	w.Grow(1200*len(defs) + 150*criteria + 450*len(testKeys) + 300*len(stateKeys) + 250*len(objKeys))
	w.WriteString(xml.Header)
	w.WriteString(`<oval_definitions xmlns="` + nsDef + `" xmlns:oval="` + nsCommon + `" xmlns:linux-def="` + nsLinux + `" xmlns:xsi="` + nsXSI + `"`)
	w.WriteString(` xsi:schemaLocation="` + nsDef + ` oval-definitions-schema.xsd ` + nsLinux + ` linux-definitions-schema.xsd ` + nsCommon + ` oval-common-schema.xsd">` + "\n")
	w.WriteString("  <generator>\n")
	w.elem(4, "oval:product_name", GeneratorName)
	if o.Version != "" {
		w.elem(4, "oval:product_version", o.Version)
	}
	w.elem(4, "oval:schema_version", schema)
	w.elem(4, "oval:timestamp", ts.UTC().Format("2006-01-02T15:04:05"))
	w.WriteString("  </generator>\n")

	w.WriteString("  <definitions>\n")
	for _, d := range defs {
		a := d.a
		w.open(4, "definition", "id", "oval:"+ns+"."+d.sub+":def:"+strconv.FormatInt(d.num, 10),
			"version", strconv.FormatInt(definitionVersion(a), 10), "class", "patch")
		w.WriteString("      <metadata>\n")
		title := a.ID + ": " + a.Title.In(lang)
		if a.Severity != "" {
			title += " (" + a.Severity + ")"
		}
		w.elem(8, "title", title)
		w.open(8, "affected", "family", "unix")
		w.elem(10, "platform", platform)
		w.close(8, "affected")
		if publicURL != "" {
			w.empty(8, "reference", "source", vendor, "ref_id", a.ID, "ref_url", publicURL+"/security/advisory/"+url.PathEscape(a.ID))
		} else {
			w.empty(8, "reference", "source", vendor, "ref_id", a.ID)
		}
		for _, c := range a.CVEs {
			w.empty(8, "reference", "source", "CVE", "ref_id", c.ID, "ref_url", "https://www.cve.org/CVERecord?id="+c.ID)
		}
		w.elem(8, "description", a.Description.In(lang))
		// advisory is Red Hat's extension element, which scanners read
		// for severity, dates and CVSS; the schema admits any element
		// after the description.
		w.WriteString("        <advisory>\n")
		if a.Severity != "" {
			w.elem(10, "severity", a.Severity)
		}
		w.empty(10, "issued", "date", a.Issued)
		w.empty(10, "updated", "date", cmp.Or(a.Updated, a.Issued))
		for _, c := range a.CVEs {
			href := "https://www.cve.org/CVERecord?id=" + c.ID
			if publicURL != "" {
				// The tracker's page, as Red Hat links its own: it has
				// the product's status besides the CVE.
				href = publicURL + "/security/cve/" + c.ID
			}
			attrs := make([]string, 0, 8)
			if v := cvss(c.CVSS, advisory.Score3); v != "" {
				attrs = append(attrs, "cvss3", v)
			}
			if v := cvss(c.CVSS4, advisory.Score4); v != "" {
				attrs = append(attrs, "cvss4", v)
			}
			attrs = append(attrs, "href", href)
			if c.Published != "" {
				attrs = append(attrs, "public", strings.ReplaceAll(c.Published, "-", ""))
			}
			w.elem(10, "cve", c.ID, attrs...)
		}
		w.WriteString("        </advisory>\n")
		w.WriteString("      </metadata>\n")
		w.WriteString("      <criteria operator=\"OR\">\n")
		for _, c := range d.checks {
			t := tests[c]
			w.empty(8, "criterion", "comment", t.comment, "test_ref", t.id)
		}
		w.WriteString("      </criteria>\n")
		w.close(4, "definition")
	}
	w.WriteString("  </definitions>\n")

	w.WriteString("  <tests>\n")
	for _, c := range testKeys {
		t := tests[c]
		// At least one installed package of the name (kernels and
		// multilib libraries install several) older than the fix makes
		// the test true; none installed makes it, and so the
		// definition, false.
		w.open(4, "linux-def:"+kind+"_test", "check", "at least one", "check_existence", "at_least_one_exists",
			"comment", t.comment, "id", t.id, "version", "1")
		w.empty(6, "linux-def:object", "object_ref", objects[c.name])
		w.empty(6, "linux-def:state", "state_ref", states[c.state])
		w.close(4, "linux-def:"+kind+"_test")
	}
	w.WriteString("  </tests>\n")

	w.WriteString("  <objects>\n")
	for _, n := range objKeys {
		w.open(4, "linux-def:"+kind+"_object", "id", objects[n], "version", "1")
		w.elem(6, "linux-def:name", n)
		w.close(4, "linux-def:"+kind+"_object")
	}
	w.WriteString("  </objects>\n")

	w.WriteString("  <states>\n")
	for _, s := range stateKeys {
		w.open(4, "linux-def:"+kind+"_state", "id", states[s], "version", "1")
		if s.arches != "" {
			arches := strings.Split(s.arches, " ")
			if len(arches) == 1 {
				w.elem(6, "linux-def:arch", arches[0], "datatype", "string", "operation", "equals")
			} else {
				for i := range arches {
					arches[i] = regexp.QuoteMeta(arches[i])
				}
				w.elem(6, "linux-def:arch", "^("+strings.Join(arches, "|")+")$", "datatype", "string", "operation", "pattern match")
			}
		}
		w.elem(6, "linux-def:evr", s.evr, "datatype", evrType, "operation", "less than")
		w.close(4, "linux-def:"+kind+"_state")
	}
	w.WriteString("  </states>\n")
	w.WriteString("</oval_definitions>\n")
	return w.Bytes(), nil
}

// writer writes indented XML.
type writer struct {
	bytes.Buffer
}

const spaces = "                "

func (w *writer) start(indent int, name string, attrs []string) {
	w.WriteString(spaces[:indent])
	w.WriteByte('<')
	w.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteByte(' ')
		w.WriteString(attrs[i])
		w.WriteString(`="`)
		w.escape(attrs[i+1])
		w.WriteByte('"')
	}
}

// open writes a start tag on a line of its own.
func (w *writer) open(indent int, name string, attrs ...string) {
	w.start(indent, name, attrs)
	w.WriteString(">\n")
}

func (w *writer) close(indent int, name string) {
	w.WriteString(spaces[:indent])
	w.WriteString("</")
	w.WriteString(name)
	w.WriteString(">\n")
}

// empty writes an element without content.
func (w *writer) empty(indent int, name string, attrs ...string) {
	w.start(indent, name, attrs)
	w.WriteString("/>\n")
}

// elem writes an element holding text.
func (w *writer) elem(indent int, name, text string, attrs ...string) {
	w.start(indent, name, attrs)
	w.WriteByte('>')
	w.escape(text)
	w.WriteString("</")
	w.WriteString(name)
	w.WriteString(">\n")
}

// escape writes s as XML text or attribute value. Most strings (IDs,
// package names, versions) need no escaping and are copied as they are;
// the others go through encoding/xml, which also replaces characters XML
// cannot hold.
func (w *writer) escape(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' {
			_ = xml.EscapeText(&w.Buffer, []byte(s))
			return
		}
	}
	w.WriteString(s)
}

// check is one criterion: a package of the name, of one of the
// architectures when any are given, is installed at a version before evr.
type check struct {
	name string
	state
}

// state is what an installed package is compared with: the fixed version
// ("E:V-R" for rpm, "E:V" for deb, the epoch always written because
// both OpenSCAP probes report it so), and for rpm the architectures the
// advisory fixed the package in, space-separated and sorted, "" for any.
type state struct {
	evr    string
	arches string
}

func (s state) compare(t state) int {
	return cmp.Or(strings.Compare(s.evr, t.evr), strings.Compare(s.arches, t.arches))
}

func (c check) compare(d check) int {
	return cmp.Or(strings.Compare(c.name, d.name), c.state.compare(d.state))
}

// testInfo is a numbered test's ID and comment.
type testInfo struct{ id, comment string }

// productChecks returns the checks of a's packages in product, sorted.
//
// rpm states carry the architectures, as Red Hat's do: a fix built for
// x86_64 only says nothing about the aarch64 package of the name, and
// an unrestricted test would call a host vulnerable (or fixed) by a
// package this advisory never shipped. A noarch package installs on
// every architecture, so it is checked without one. deb states carry
// none, as Debian's and Ubuntu's OVAL do not: OpenSCAP's dpkginfo probe
// looks a name up as apt does, so a Multi-Arch package of a foreign
// architecture could be missed by an architecture test.
func productChecks(sn *tracker.Snapshot, a *advisory.Advisory, product, format string) []check {
	type build struct{ name, evr, arch string }
	var builds []build
	for _, p := range a.Packages {
		if sn.RepoProduct(p.Repo) != product || (p.Format != "" && p.Format != format) || p.Name == "" {
			continue
		}
		// Source packages are never installed.
		if p.Arch == "src" || p.Arch == "nosrc" || p.Arch == "source" {
			continue
		}
		builds = append(builds, build{p.Name, p.EVRWithEpoch(), p.Arch})
	}
	if len(builds) == 0 {
		return nil
	}
	slices.SortFunc(builds, func(x, y build) int {
		return cmp.Or(strings.Compare(x.name, y.name), strings.Compare(x.evr, y.evr), strings.Compare(x.arch, y.arch))
	})
	var checks []check
	for i := 0; i < len(builds); {
		// builds[i:j] are one name and version, by architecture.
		j := i + 1
		for j < len(builds) && builds[j].name == builds[i].name && builds[j].evr == builds[i].evr {
			j++
		}
		c := check{name: builds[i].name, state: state{evr: builds[i].evr}}
		if format == "rpm" {
			var arches []string
			noarch := false
			for _, b := range builds[i:j] {
				noarch = noarch || b.arch == "noarch"
				if len(arches) == 0 || arches[len(arches)-1] != b.arch {
					arches = append(arches, b.arch)
				}
			}
			if !noarch {
				c.arches = strings.Join(arches, " ")
			}
		}
		checks = append(checks, c)
		i = j
	}
	return checks
}

// definitionVersion is the definition's version: the date the advisory
// was last updated, as the number YYYYMMDD, so that it increases
// whenever the advisory is updated (scanners and mirrors compare
// versions to notice a changed definition).
func definitionVersion(a *advisory.Advisory) int64 {
	d := cmp.Or(a.Updated, a.Issued)
	if t, err := time.Parse("2006-01-02", d); err == nil {
		return int64(t.Year()*10000 + int(t.Month())*100 + t.Day())
	}
	return 1
}

// cvss is Red Hat's "score/vector" form of a CVSS vector, or "".
func cvss(vector string, score func(string) (float64, error)) string {
	if vector == "" {
		return ""
	}
	s, err := score(vector)
	if err != nil {
		return vector
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + "/" + vector
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}
