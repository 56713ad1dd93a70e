package sbom

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Package formats. FormatOS is only valid for a Document's Root: it describes
// a host's operating system (CycloneDX component type "operating-system",
// SPDX primaryPackagePurpose OPERATING-SYSTEM).
const (
	FormatRPM = "rpm"
	FormatDeb = "deb"
	FormatOS  = "os"
)

// File is one entry of a package's file list.
type File struct {
	Path   string // absolute installed path, e.g. "/usr/bin/openssl"
	SHA256 string // hex digest of the content; "" for directories and ghost files (no checksum is written then)
}

// Package is one software component: an RPM or deb package, or (as a
// Document's Root only) a host's operating system.
type Package struct {
	// Ref is a stable reference, unique within a document (e.g.
	// "rpm:openssl@1:3.0.7-27.el9.x86_64"). It becomes the CycloneDX bom-ref
	// and, sanitised, the SPDX ID (SPDXRef-Package-…).
	Ref       string
	Format    string // FormatRPM, FormatDeb or (Root only) FormatOS
	Name      string
	Epoch     string // "" when none
	Version   string // rpm: "version-release"; deb: the full version without epoch; os: VERSION_ID
	Arch      string
	Distro    Distro // distro namespace and qualifier of the PURL
	SourceRPM string // rpm only: e.g. "openssl-3.0.7-27.el9.src.rpm" (PURL qualifier upstream=)
	License   string // as declared by the package; "" → NOASSERTION
	Summary   string
	Supplier  string // organisation name, e.g. "Example ELS K.K."
	SHA256    string // of the package file; "" when unknown
	Files     []File
	DependsOn []string // Refs of other packages of the same document
	// Verified is false when the package was listed from local data only and
	// not verified against the vendor's records (host SBOMs). The encoders
	// say so (SPDX package comment, CycloneDX property
	// "enmei:vendor-verified" = "false"). It is ignored for a FormatOS root.
	Verified bool
}

// Distro identifies a distribution release by its os-release ID and
// VERSION_ID, e.g. {"almalinux", "9.4"} or {"debian", "12"}.
type Distro struct{ ID, VersionID string }

// Document is one SBOM: a package with its dependencies, or a host with its
// installed packages.
type Document struct {
	Name      string    // e.g. "openssl-3.0.7-27.el9.x86_64" or "host web01.example.jp"
	Namespace string    // SPDX documentNamespace: absolute URI, unique per document, no fragment
	Serial    string    // CycloneDX serialNumber, "urn:uuid:<lowercase uuid>"
	Created   time.Time // written in UTC with second precision
	Author    string    // organisation that made the SBOM (the vendor)
	Tool      string    // e.g. "enmei-1.2.3"
	// Root is the subject: the package itself or the host's OS (Format
	// FormatOS). The document DESCRIBES it (CycloneDX metadata.component).
	Root Package
	// Packages are the other components. Root DEPENDS_ON what Root.DependsOn
	// names; a FormatOS root CONTAINS every package.
	Packages []Package
}

// VersionString is the package version as SPDX versionInfo and CycloneDX
// version show it: "[epoch:]version".
func (p Package) VersionString() string {
	if p.Epoch != "" {
		return p.Epoch + ":" + p.Version
	}
	return p.Version
}

var (
	serialRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	epochRE  = regexp.MustCompile(`^[0-9]+$`)
)

// Validate reports every problem that would make the document unencodable
// or its output invalid. Write calls it.
func (d Document) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if strings.TrimSpace(d.Name) == "" {
		add("document name is empty")
	}
	if u, err := url.Parse(d.Namespace); err != nil || u.Scheme == "" || u.Host == "" && u.Opaque == "" {
		add("namespace %q is not an absolute URI", d.Namespace)
	} else if strings.Contains(d.Namespace, "#") {
		add("namespace %q must not contain '#'", d.Namespace)
	}
	if !serialRE.MatchString(d.Serial) {
		add("serial %q is not a lowercase urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", d.Serial)
	}
	if d.Created.IsZero() {
		add("created time is zero")
	} else if y := d.Created.UTC().Year(); y < 1 || y > 9999 {
		add("created time %v out of range", d.Created)
	}
	for _, f := range []struct{ name, value string }{
		{"name", d.Name}, {"namespace", d.Namespace}, {"author", d.Author}, {"tool", d.Tool},
	} {
		if hasControl(f.value) {
			add("document %s %q contains control characters", f.name, f.value)
		}
	}
	if strings.TrimSpace(d.Author) == "" {
		add("author is empty")
	}
	if strings.TrimSpace(d.Tool) == "" {
		add("tool is empty")
	}

	refs := make(map[string]bool, len(d.Packages)+1)
	check := func(where string, p Package, root bool) {
		if p.Ref == "" {
			add("%s: ref is empty", where)
		} else if refs[p.Ref] {
			add("%s: duplicate ref %q", where, p.Ref)
		}
		refs[p.Ref] = true
		switch {
		case p.Format == FormatRPM || p.Format == FormatDeb:
		case p.Format == FormatOS && root:
		case p.Format == FormatOS:
			add("%s %q: format %q is only allowed for the root", where, p.Ref, p.Format)
		default:
			add("%s %q: unknown format %q (want rpm, deb or, for the root, os)", where, p.Ref, p.Format)
		}
		if strings.TrimSpace(p.Name) == "" {
			add("%s %q: name is empty", where, p.Ref)
		}
		for _, f := range []struct{ name, value string }{
			{"ref", p.Ref}, {"name", p.Name}, {"version", p.Version}, {"arch", p.Arch},
			{"distro id", p.Distro.ID}, {"distro version", p.Distro.VersionID},
			{"source rpm", p.SourceRPM}, {"supplier", p.Supplier},
		} {
			if hasControl(f.value) {
				add("%s %q: %s %q contains control characters", where, p.Ref, f.name, f.value)
			}
		}
		for _, f := range []struct{ name, value string }{{"summary", p.Summary}, {"license", p.License}} {
			if strings.ContainsFunc(f.value, func(r rune) bool {
				return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
			}) {
				add("%s %q: %s contains control characters", where, p.Ref, f.name)
			}
		}
		if p.Epoch != "" && !epochRE.MatchString(p.Epoch) {
			add("%s %q: epoch %q is not a number", where, p.Ref, p.Epoch)
		}
		if p.SHA256 != "" && !isSHA256(p.SHA256) {
			add("%s %q: sha256 %q is not 64 hex digits", where, p.Ref, p.SHA256)
		}
		paths := make(map[string]bool, len(p.Files))
		for _, f := range p.Files {
			if f.Path == "" {
				add("%s %q: file with empty path", where, p.Ref)
				continue
			}
			if hasControl(f.Path) {
				add("%s %q: file %q contains control characters", where, p.Ref, f.Path)
			}
			if paths[f.Path] {
				add("%s %q: duplicate file %q", where, p.Ref, f.Path)
			}
			paths[f.Path] = true
			if f.SHA256 != "" && !isSHA256(f.SHA256) {
				add("%s %q: file %q: sha256 %q is not 64 hex digits", where, p.Ref, f.Path, f.SHA256)
			}
		}
	}
	check("root", d.Root, true)
	for i, p := range d.Packages {
		check(fmt.Sprintf("package %d", i), p, false)
	}
	deps := func(p Package) {
		for _, dep := range p.DependsOn {
			switch {
			case dep == p.Ref:
				add("package %q depends on itself", p.Ref)
			case !refs[dep]:
				add("package %q depends on %q, which is not in the document", p.Ref, dep)
			}
		}
	}
	deps(d.Root)
	for _, p := range d.Packages {
		deps(p)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("sbom: invalid document: %w", errors.Join(errs...))
}

// createdString is the document timestamp as both formats write it.
func (d Document) createdString() string {
	return d.Created.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// hasControl reports ASCII control characters, which single-line fields of
// the tag-value format (and XML 1.0) cannot carry.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// isSHA256 reports 64 hex digits (either case).
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
