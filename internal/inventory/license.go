package inventory

import (
	"path"

	"github.com/enmei-project/enmei/internal/dep5"
)

// debLicense is the licence of a deb as its machine-readable copyright
// file (DEP-5, https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/)
// at /usr/share/doc/<name>/copyright states it; "" when the file is
// missing, larger than 4 MiB or not machine-readable. The parsing is
// dep5.License, shared with the publisher so that a host SBOM and the
// vendor's package SBOM name the same licence.
func debLicense(r *rootDir, name string) string {
	p, err := r.resolve(path.Join("/usr/share/doc", name, "copyright"), true)
	if err != nil {
		return ""
	}
	data, err := readLimited(p, maxCopyright)
	if err != nil {
		return ""
	}
	return dep5.License(string(data))
}
