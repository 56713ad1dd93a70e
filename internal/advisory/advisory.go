// Package advisory is the security tracker's domain: advisories (what a
// vendor released, for which CVEs, in which packages), per-product CVE
// records with the tracker's nine statuses and their history, CVSS scoring,
// the release policy (which CVEs are targeted and when their fix is due on
// the Japanese business calendar) and the mapping of statuses to CSAF VEX.
// It parses and checks input and takes time and data as arguments; it does
// no I/O and never sees the store.
package advisory

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/enmei-project/enmei/internal/errs"
)

// Text is a message in Japanese and English; either may be empty, not both.
type Text struct {
	Ja string `json:"ja,omitempty"`
	En string `json:"en,omitempty"`
}

// In returns the text in lang ("ja" or "en"), falling back to the other.
func (t Text) In(lang string) string {
	if lang == "ja" {
		return cmp.Or(t.Ja, t.En)
	}
	return cmp.Or(t.En, t.Ja)
}

// CVERef is a CVE an advisory fixes, with its CVSS vectors as the vendor
// assessed them.
type CVERef struct {
	ID    string `json:"id"`
	CVSS  string `json:"cvss,omitempty"`  // CVSS v3.x vector ("CVSS:3.1/…"), or a v4.0 vector
	CVSS4 string `json:"cvss4,omitempty"` // CVSS v4.0 vector, when given besides v3
	// Published is the disclosure date (YYYY-MM-DD); the release deadline
	// counts from it. Default: the advisory's issued date.
	Published string `json:"published,omitempty"`
}

// Package is a fixed package an advisory ships, in one repository.
type Package struct {
	Repo string `json:"repo"`
	// NEVRA as given: rpm "name-[E:]V-R.arch", deb "name_version_arch".
	NEVRA   string `json:"nevra"`
	Name    string `json:"name,omitempty"`
	Epoch   string `json:"epoch,omitempty"` // "" when none (rpm) or none given (deb)
	Version string `json:"version,omitempty"`
	Release string `json:"release,omitempty"` // rpm only
	Arch    string `json:"arch,omitempty"`
	Format  string `json:"format,omitempty"` // "rpm" or "deb", from the repository
}

// EVR is the package's version as the package manager orders it:
// "[E:]V-R" for rpm, "[E:]V" for deb.
func (p Package) EVR() string {
	v := p.Version
	if p.Release != "" {
		v += "-" + p.Release
	}
	if p.Epoch != "" && p.Epoch != "0" {
		v = p.Epoch + ":" + v
	}
	return v
}

// EVRWithEpoch is the version with the epoch always written ("0:" when
// none), as OVAL's evr_string and rpm-based scanners compare it.
func (p Package) EVRWithEpoch() string {
	e := p.Epoch
	if e == "" {
		e = "0"
	}
	v := p.Version
	if p.Release != "" {
		v += "-" + p.Release
	}
	return e + ":" + v
}

// Reference is a link an advisory cites.
type Reference struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
	Type  string `json:"type,omitempty"` // "cve", "bugzilla", "vendor", "self", … (default "other")
}

// UnmarshalJSON accepts a reference given as a bare URL as well.
func (r *Reference) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*r = Reference{URL: s}
		return nil
	}
	type plain Reference
	return json.Unmarshal(b, (*plain)(r))
}

// The advisory types (updateinfo's, which dnf filters on).
const (
	TypeSecurity    = "security"
	TypeBugfix      = "bugfix"
	TypeEnhancement = "enhancement"
)

// Advisory is one release note: what was fixed, in which packages.
type Advisory struct {
	ID          string      `json:"id"`
	Type        string      `json:"type"`
	Severity    string      `json:"severity,omitempty"` // Critical, Important, Moderate, Low
	Title       Text        `json:"title"`
	Description Text        `json:"description"`
	Issued      string      `json:"issued"`            // YYYY-MM-DD
	Updated     string      `json:"updated,omitempty"` // YYYY-MM-DD
	CVEs        []CVERef    `json:"cves,omitempty"`
	Packages    []Package   `json:"packages"`
	References  []Reference `json:"references,omitempty"`
	// Released is when the advisory was released (zero: a draft, which no
	// feed, tracker page or host sees).
	Released time.Time `json:"released,omitzero"`
	// Seq orders changes for incremental readers (set by the store).
	Seq int64 `json:"-"`
}

// Products returns the products of the advisory's packages, in first-seen
// order, given each repository's product.
func (a Advisory) Products(repoProduct func(repo string) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range a.Packages {
		pr := repoProduct(p.Repo)
		if pr != "" && !seen[pr] {
			seen[pr] = true
			out = append(out, pr)
		}
	}
	return out
}

// Parse reads advisories from a file's content: JSON or YAML, one advisory
// or a list. name is used in error messages.
func Parse(name string, data []byte) ([]Advisory, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errs.E(errs.Invalid, "%s is empty: give one advisory or a list of them in YAML or JSON", name)
	}
	js := trimmed
	if trimmed[0] != '{' && trimmed[0] != '[' {
		// YAML: converted to JSON once, so both share one decoder and one
		// set of field names.
		var err error
		js, err = yaml.YAMLToJSON(trimmed)
		if err != nil {
			return nil, errs.E(errs.Invalid, "%s is neither valid JSON nor valid YAML: %v", name, err)
		}
		js = bytes.TrimSpace(js)
	}
	dec := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	var out []Advisory
	if len(js) > 0 && js[0] == '[' {
		if err := dec(js, &out); err != nil {
			return nil, errs.E(errs.Invalid, "%s: %v (fields: id, type, severity, title, description, issued, updated, cves, packages, references)", name, err)
		}
	} else {
		var a Advisory
		if err := dec(js, &a); err != nil {
			return nil, errs.E(errs.Invalid, "%s: %v (fields: id, type, severity, title, description, issued, updated, cves, packages, references)", name, err)
		}
		out = []Advisory{a}
	}
	for i := range out {
		out[i].Released = time.Time{} // release is a command, never input
	}
	return out, nil
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*-[0-9]{4}:[0-9]{4,}$`)
	cveRE  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	dateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	// PrefixRE is what an advisory ID prefix may look like.
	PrefixRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,31}$`)
)

// ValidID reports whether id has the form PREFIX-YYYY:NNNN.
func ValidID(id string) bool { return idRE.MatchString(id) }

// ValidCVE reports whether id is a CVE ID.
func ValidCVE(id string) bool { return cveRE.MatchString(id) }

// ValidDate reports whether s is a real YYYY-MM-DD date.
func ValidDate(s string) bool {
	if !dateRE.MatchString(s) {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// Severities, as updateinfo and dnf --sec-severity spell them.
var severities = map[string]string{
	"critical": "Critical", "important": "Important", "high": "Important",
	"moderate": "Moderate", "medium": "Moderate", "low": "Low", "none": "None",
}

// RepoInfo is what Check needs to know about a repository.
type RepoInfo struct {
	Product string
	Format  string
}

// Check validates an advisory and fills in what follows from its input:
// the normalised type and severity, each package's parsed NEVRA and
// format, and defaults. repo looks a repository up (ok false: unknown).
// The error is one sentence naming the advisory and the field.
func (a *Advisory) Check(repo func(id string) (RepoInfo, bool)) error {
	where := a.ID
	if where == "" {
		where = "an advisory without id"
		if a.Title.En != "" || a.Title.Ja != "" {
			where = fmt.Sprintf("the advisory %q", a.Title.In("en"))
		}
	}
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, "%s: %s", where, fmt.Sprintf(format, args...))
	}
	if a.ID != "" && !ValidID(a.ID) {
		return bad("id %q is not of the form PREFIX-YYYY:NNNN (e.g. ENMEI-SA-2026:0001)", a.ID)
	}
	switch t := strings.ToLower(strings.TrimSpace(a.Type)); t {
	case "":
		a.Type = TypeSecurity
	case TypeSecurity, TypeBugfix, TypeEnhancement:
		a.Type = t
	default:
		return bad("type %q is not one of security, bugfix, enhancement", a.Type)
	}
	if a.Severity != "" {
		s, ok := severities[strings.ToLower(strings.TrimSpace(a.Severity))]
		if !ok {
			return bad("severity %q is not one of critical, important, moderate, low", a.Severity)
		}
		a.Severity = s
	} else if a.Type == TypeSecurity {
		return bad("a security advisory needs a severity (critical, important, moderate or low)")
	}
	if strings.TrimSpace(a.Title.Ja) == "" && strings.TrimSpace(a.Title.En) == "" {
		return bad("a title is needed (title: {ja: …, en: …})")
	}
	if !ValidDate(a.Issued) {
		return bad("issued %q is not a date YYYY-MM-DD", a.Issued)
	}
	if a.Updated == "" {
		a.Updated = a.Issued
	} else if !ValidDate(a.Updated) {
		return bad("updated %q is not a date YYYY-MM-DD", a.Updated)
	}
	seen := map[string]bool{}
	for i := range a.CVEs {
		c := &a.CVEs[i]
		c.ID = strings.ToUpper(strings.TrimSpace(c.ID))
		if !ValidCVE(c.ID) {
			return bad("%q is not a CVE ID (CVE-YYYY-NNNN)", c.ID)
		}
		if seen[c.ID] {
			return bad("%s is listed twice", c.ID)
		}
		seen[c.ID] = true
		if err := c.normalise(); err != nil {
			return bad("%s: %v", c.ID, err)
		}
		if c.Published == "" {
			c.Published = a.Issued
		} else if !ValidDate(c.Published) {
			return bad("%s: published %q is not a date YYYY-MM-DD", c.ID, c.Published)
		}
	}
	if a.Type == TypeSecurity && len(a.CVEs) == 0 {
		return bad("a security advisory needs at least one CVE")
	}
	if len(a.Packages) == 0 {
		return bad("no packages: list the fixed packages with their repository (packages: [{repo: …, nevra: …}])")
	}
	seenPkg := map[string]bool{}
	for i := range a.Packages {
		p := &a.Packages[i]
		info, ok := repo(p.Repo)
		if !ok {
			return bad("package %s: repository %q is not known (see enmeid repo add)", p.NEVRA, p.Repo)
		}
		parsed, err := ParsePackage(info.Format, p.NEVRA)
		if err != nil {
			return bad("package in %s: %v", p.Repo, err)
		}
		parsed.Repo = p.Repo
		*p = parsed
		if seenPkg[p.Repo+"\x00"+p.NEVRA] {
			return bad("package %s is listed twice for %s", p.NEVRA, p.Repo)
		}
		seenPkg[p.Repo+"\x00"+p.NEVRA] = true
	}
	for i, r := range a.References {
		if !strings.HasPrefix(r.URL, "https://") && !strings.HasPrefix(r.URL, "http://") {
			return bad("reference %q is not an http(s) URL", r.URL)
		}
		if r.Type == "" {
			a.References[i].Type = "other"
		}
	}
	return nil
}

// normalise checks the CVSS vectors and moves a v4.0 vector given as cvss
// to cvss4.
func (c *CVERef) normalise() error {
	c.CVSS, c.CVSS4 = strings.TrimSpace(c.CVSS), strings.TrimSpace(c.CVSS4)
	if strings.HasPrefix(c.CVSS, "CVSS:4.0/") && c.CVSS4 == "" {
		c.CVSS, c.CVSS4 = "", c.CVSS
	}
	if c.CVSS != "" {
		if _, err := Score3(c.CVSS); err != nil {
			return err
		}
	}
	if c.CVSS4 != "" {
		if _, err := Score4(c.CVSS4); err != nil {
			return err
		}
	}
	return nil
}

// ParsePackage parses a fixed package as an advisory lists it: rpm
// "name-[E:]V-R.arch" (the epoch may be omitted when 0), deb
// "name_[E:]version_arch".
func ParsePackage(format, s string) (Package, error) {
	s = strings.TrimSpace(s)
	p := Package{NEVRA: s, Format: format}
	switch format {
	case "rpm":
		dot := strings.LastIndexByte(s, '.')
		if dot <= 0 {
			return p, fmt.Errorf("%q is not name-[epoch:]version-release.arch", s)
		}
		p.Arch = s[dot+1:]
		rest := s[:dot]
		dash := strings.LastIndexByte(rest, '-')
		if dash <= 0 {
			return p, fmt.Errorf("%q is not name-[epoch:]version-release.arch", s)
		}
		p.Release = rest[dash+1:]
		rest = rest[:dash]
		dash = strings.LastIndexByte(rest, '-')
		if dash <= 0 {
			return p, fmt.Errorf("%q is not name-[epoch:]version-release.arch", s)
		}
		p.Name, p.Version = rest[:dash], rest[dash+1:]
		if e, v, ok := strings.Cut(p.Version, ":"); ok {
			p.Epoch, p.Version = e, v
		}
	case "deb":
		parts := strings.Split(s, "_")
		if len(parts) != 3 {
			return p, fmt.Errorf("%q is not name_version_arch", s)
		}
		p.Name, p.Version, p.Arch = parts[0], parts[1], parts[2]
		if e, v, ok := strings.Cut(p.Version, ":"); ok {
			p.Epoch, p.Version = e, v
		}
	default:
		return p, fmt.Errorf("repository format %q has no advisories (rpm and deb do)", format)
	}
	if p.Name == "" || p.Version == "" || p.Arch == "" {
		return p, fmt.Errorf("%q has an empty name, version or architecture", s)
	}
	if p.Epoch != "" && strings.Trim(p.Epoch, "0123456789") != "" {
		return p, fmt.Errorf("%q has an epoch that is not a number", s)
	}
	if strings.ContainsAny(s, " /<>&\"'") {
		return p, fmt.Errorf("%q contains a character a package version cannot", s)
	}
	return p, nil
}
