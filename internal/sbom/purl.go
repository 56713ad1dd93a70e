package sbom

import (
	"strings"

	"github.com/package-url/packageurl-go"
)

// PURL returns the package URL of p following syft's conventions, so that
// enmei's SBOMs and scans line up with syft/grype output:
//
//	pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm&distro=almalinux-9.4
//	pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12
//
// The parts:
//   - type: "rpm" or "deb"; namespace: the os-release ID, with syft's
//     mapping "rhel" → "redhat" and "opensuse-*" → "opensuse" (the distro
//     qualifier keeps the original ID, as syft's does);
//   - version: rpm "version-release", deb the version without epoch; the
//     epoch is never in the version but an "epoch" qualifier (for deb too,
//     where syft keeps it in the version: the purl-spec's rule wins here);
//   - qualifiers in syft's order: arch, epoch, upstream (the source RPM),
//     sorted by key as syft does, then distro=<ID>-<VERSION_ID> last and
//     only when both parts are known. Empty qualifiers are left out.
//
// Escaping is packageurl-go's (the purl specification's): every character
// but letters, digits and ". - _ ~ :" is percent-encoded, so "libstdc++" becomes
// "libstdc%2B%2B" and a '+' in a version "%2B", as current syft writes them.
// packageurl-go itself would sort distro before epoch, so the qualifiers are
// joined here in syft's order, each escaped by packageurl-go.
//
// PURL returns "" for packages that have no PURL (FormatOS, unknown formats).
func PURL(p Package) string {
	var typ string
	switch p.Format {
	case FormatRPM:
		typ = packageurl.TypeRPM
	case FormatDeb:
		typ = packageurl.TypeDebian
	default:
		return ""
	}
	if p.Name == "" {
		return ""
	}
	namespace := p.Distro.ID
	switch {
	case namespace == "rhel":
		namespace = "redhat"
	case strings.HasPrefix(namespace, "opensuse"):
		namespace = "opensuse"
	}

	var qs packageurl.Qualifiers
	addQ := func(k, v string) {
		if v != "" {
			qs = append(qs, packageurl.Qualifier{Key: k, Value: v})
		}
	}
	addQ("arch", p.Arch)
	addQ("epoch", p.Epoch)
	if p.Format == FormatRPM {
		addQ("upstream", p.SourceRPM)
	}
	if p.Distro.ID != "" && p.Distro.VersionID != "" {
		addQ("distro", p.Distro.ID+"-"+p.Distro.VersionID)
	}

	// No qualifiers here: ToString would sort them.
	base := packageurl.NewPackageURL(typ, namespace, p.Name, p.Version, nil, "").ToString()
	if len(qs) == 0 {
		return base
	}
	var b strings.Builder
	b.WriteString(base)
	for i, q := range qs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(q.String())
	}
	return b.String()
}
