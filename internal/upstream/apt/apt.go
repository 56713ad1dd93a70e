// Package apt reads an upstream APT repository and downloads its packages,
// verified and incrementally, so a vendor can mirror the community's last
// repositories beside its own. Debian packages carry no signature of their
// own: trust runs from the suite's InRelease (or Release with Release.gpg),
// checked against the upstream keyring, to the SHA256 that Release gives
// each Packages or Sources index, to the SHA256 that index gives each file.
// Metadata enforces the first two links, Download and DownloadSources the
// last: a file is only ever renamed into place once its size and SHA256
// match, and files already present and intact are not fetched again.
package apt

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/enmei-project/enmei/internal/errs"
)

// Source is one upstream suite to read.
type Source struct {
	// URL is the repository root, the directory holding dists/ and pool/,
	// e.g. https://archive.debian.org/debian.
	URL string
	// Suite is the directory under dists/, e.g. "bullseye"; the Release
	// must name it as its Suite or Codename.
	Suite string
	// Components to read, e.g. "main"; empty means every component the
	// Release lists.
	Components []string
	// Arch lists the Debian architectures to read, e.g. "amd64"; empty
	// means every architecture the Release lists. Packages of architecture
	// "all" come with each, and from binary-all when the Release has it.
	Arch []string
	// Keyring verifies the Release signature. nil skips the check (the
	// caller decides whether that is allowed); Release.Signed then says
	// false. A non-nil empty keyring refuses every Release.
	Keyring openpgp.EntityList
	// Client fetches over HTTP; nil means one honouring HTTP_PROXY,
	// HTTPS_PROXY and NO_PROXY (Basic credentials in the proxy URL
	// included) with bounded connect and header timeouts. See NewClient.
	Client *http.Client
	// Getter, when set, replaces Client, so a caller can route every
	// request through its own fetcher.
	Getter Getter
	// Parallel is how many files Download fetches at once (default 4).
	Parallel int
	// Sources also reads each component's Sources index into
	// Metadata.Sources.
	Sources bool
	// OnlySources reads the Sources indexes alone, no Packages (Arch is
	// then ignored): a mirror of the suite's source packages.
	OnlySources bool
	// AllowExpired accepts a Release whose Valid-Until has passed. Off, such
	// a Release is refused as a mirror may be replaying an old one; frozen
	// community suites that are no longer re-signed need it on.
	AllowExpired bool
	// Now is the clock for Valid-Until and signature checks (default
	// time.Now).
	Now func() time.Time
}

// Release is what the suite's signed Release file says.
type Release struct {
	Origin, Label, Suite, Codename string
	// Date and ValidUntil are as upstream wrote them (RFC 1123 dates);
	// ValidUntil is "" when the Release has none.
	Date, ValidUntil string
	Architectures    []string
	Components       []string
	// AcquireByHash says the suite also serves each index under
	// by-hash/SHA256/<sum>, which is then fetched first.
	AcquireByHash bool
	// Signed says the signature was verified with Source.Keyring; SignedBy
	// is then the fingerprint of the key that made it.
	Signed   bool
	SignedBy string
	// Files are the indexes listed with a SHA256, by path under
	// dists/<suite>/.
	Files map[string]FileSum
}

// FileSum is a file's size and lower-case hex SHA-256.
type FileSum struct {
	Size   int64
	SHA256 string
}

// Package is one binary package of a Packages index.
type Package struct {
	Name, Version, Arch string
	// Filename is the path under Source.URL, e.g.
	// "pool/main/h/hello/hello_2.10-3_amd64.deb".
	Filename  string
	Component string
	Size      int64
	SHA256    string
	// Control is the stanza as upstream wrote it, without the final
	// newline.
	Control []byte
}

// SourcePackage is one source package of a Sources index.
type SourcePackage struct {
	Name, Version string
	// Directory is the path under Source.URL holding Files.
	Directory string
	Component string
	// Files are the .dsc and the tarballs, with their Checksums-Sha256.
	Files []SourceFile
	// Stanza is the stanza as upstream wrote it, without the final newline.
	Stanza []byte
}

// SourceFile is one file of a source package.
type SourceFile struct {
	Name   string
	Size   int64
	SHA256 string
}

// Metadata is a verified view of the suite.
type Metadata struct {
	Release  Release
	Packages []Package
	Sources  []SourcePackage
}

// base parses s.URL.
func (s *Source) base() (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.E(errs.Invalid, "the upstream URL %q is not an http:// or https:// URL: give the repository root, like https://archive.debian.org/debian", s.URL)
	}
	return u, nil
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Source) getter() Getter {
	if s.Getter != nil {
		return s.Getter
	}
	if s.Client != nil {
		return clientGetter{s.Client}
	}
	return clientGetter{defaultClient()}
}

// fileURL is base joined with the slash-separated relative path rel.
func fileURL(base *url.URL, rel string) string {
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + "/" + rel
	u.RawPath = ""
	return u.String()
}

// safeName reports whether a suite, component or architecture can be put
// in a path under dists/ without leaving it.
func safeName(s string) bool {
	return safePath(s) && !strings.ContainsAny(s, " \t\n")
}

// Metadata fetches the suite's Release, verifies its signature, validity
// and suite name, then fetches the Packages (and, with Source.Sources, the
// Sources) index of every component and architecture, each checked against
// the size and SHA256 the Release gives it.
func (s *Source) Metadata(ctx context.Context) (*Metadata, error) {
	base, err := s.base()
	if err != nil {
		return nil, err
	}
	if !safeName(s.Suite) {
		return nil, errs.E(errs.Invalid, "the suite %q is not a directory name under dists/: give one like bookworm or bullseye-updates", s.Suite)
	}
	for _, c := range s.Components {
		if !safeName(c) {
			return nil, errs.E(errs.Invalid, "the component %q is not a directory name: give one like main", c)
		}
	}
	for _, a := range s.Arch {
		if !safeName(a) || strings.Contains(a, "/") {
			return nil, errs.E(errs.Invalid, "the architecture %q is not a Debian architecture name: give one like amd64", a)
		}
	}
	g := s.getter()
	rel, err := s.fetchRelease(ctx, g, base)
	if err != nil {
		return nil, err
	}
	if err := s.checkRelease(base, rel); err != nil {
		return nil, err
	}
	comps, err := pick("component", s.Components, rel.Components, s.Suite)
	if err != nil {
		return nil, err
	}
	var archs []string
	if !s.OnlySources {
		if archs, err = pick("architecture", s.Arch, rel.Architectures, s.Suite); err != nil {
			return nil, err
		}
	}
	md := &Metadata{Release: *rel}
	seen := map[string]int{} // Filename → index in md.Packages
	indexes := 0
	for _, comp := range comps {
		want := archs
		if _, ok := findIndex(rel, comp+"/binary-all/Packages"); ok && !contains(want, "all") && !s.OnlySources {
			want = append(append([]string(nil), want...), "all")
		}
		for _, arch := range want {
			name := comp + "/binary-" + arch + "/Packages"
			if _, ok := findIndex(rel, name); !ok {
				if len(s.Arch) > 0 && arch != "all" {
					return nil, errs.E(errs.NotFound, "the Release of %s lists no %s index: check the component and architecture asked for", s.suiteURL(base), name)
				}
				continue // a component without that architecture
			}
			indexes++
			var pkgs []Package
			err := s.fetchIndex(ctx, g, base, rel, name, func(p paragraph) error {
				pkg, err := parsePackage(p, comp)
				if err != nil {
					return err
				}
				pkgs = append(pkgs, pkg)
				return nil
			})
			if err != nil {
				return nil, err
			}
			for _, p := range pkgs {
				// Architecture "all" packages appear in every
				// architecture's index; keep one.
				if i, ok := seen[p.Filename]; ok {
					if md.Packages[i].SHA256 != p.SHA256 {
						return nil, errs.E(errs.Invalid, "the indexes of %s list %s twice with different SHA256 sums: the mirror is inconsistent, perhaps in the middle of an update; try again later", s.suiteURL(base), p.Filename)
					}
					continue
				}
				seen[p.Filename] = len(md.Packages)
				md.Packages = append(md.Packages, p)
			}
		}
		if s.Sources || s.OnlySources {
			name := comp + "/source/Sources"
			if _, ok := findIndex(rel, name); !ok {
				return nil, errs.E(errs.NotFound, "the Release of %s lists no %s index: the suite publishes no source packages for %s", s.suiteURL(base), name, comp)
			}
			err := s.fetchIndex(ctx, g, base, rel, name, func(p paragraph) error {
				src, err := parseSource(p, comp)
				if err != nil {
					return err
				}
				md.Sources = append(md.Sources, src)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if indexes == 0 && !s.OnlySources {
		return nil, errs.E(errs.NotFound, "the Release of %s lists no Packages index for %s on %s: check the components and architectures asked for", s.suiteURL(base), strings.Join(comps, ", "), strings.Join(archs, ", "))
	}
	return md, nil
}

// pick returns asked, each checked against what the Release offers, or
// everything offered when nothing was asked.
func pick(what string, asked, offered []string, suite string) ([]string, error) {
	if len(asked) == 0 {
		var out []string
		for _, o := range offered {
			if o != "all" || what != "architecture" { // "all" is added per component
				out = append(out, o)
			}
		}
		if len(out) == 0 {
			return nil, errs.E(errs.Invalid, "the Release of %s lists no %ss: name the %s to read", suite, what, what)
		}
		return out, nil
	}
	for _, a := range asked {
		if len(offered) > 0 && !contains(offered, a) {
			return nil, errs.E(errs.NotFound, "the suite %s has no %s %s (it has %s): check the %s asked for", suite, what, a, strings.Join(offered, ", "), what)
		}
	}
	return asked, nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// suiteURL names the suite in messages, without credentials.
func (s *Source) suiteURL(base *url.URL) string {
	return redact(fileURL(base, "dists/"+s.Suite+"/"))
}

// redact hides a password in a URL put in a message.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}

// Diff returns the packages of md whose SHA256 the mirror does not hold:
// what a sync must download. A file listed twice is returned once.
func Diff(have map[string]bool, md *Metadata) []Package {
	var out []Package
	seen := map[string]bool{}
	for _, p := range md.Packages {
		if have[p.SHA256] || seen[p.SHA256] {
			continue
		}
		seen[p.SHA256] = true
		out = append(out, p)
	}
	return out
}

// DiffSources returns the source packages of md of which the mirror lacks
// at least one file (by SHA256).
func DiffSources(have map[string]bool, md *Metadata) []SourcePackage {
	var out []SourcePackage
	for _, sp := range md.Sources {
		for _, f := range sp.Files {
			if !have[f.SHA256] {
				out = append(out, sp)
				break
			}
		}
	}
	return out
}

// String names the package in messages: "hello 2.10-3 amd64".
func (p Package) String() string { return fmt.Sprintf("%s %s %s", p.Name, p.Version, p.Arch) }

// String names the source package in messages: "hello 2.10-3 (source)".
func (sp SourcePackage) String() string { return fmt.Sprintf("%s %s (source)", sp.Name, sp.Version) }
