package agent

import (
	"runtime"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
)

// unameArch maps Go's GOARCH to what uname -m prints, the names rpm uses.
var unameArch = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l",
	"ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64",
	"loong64": "loongarch64", "mips64le": "mips64", "mips64": "mips64", "mipsle": "mips", "mips": "mips",
}

// hostArch is the host's architecture in uname -m form. ENMEI_DEBUG_ARCH
// stands in for it, so tests can play another machine.
func hostArch(env func(string) string) string {
	if a := strings.TrimSpace(env("ENMEI_DEBUG_ARCH")); a != "" {
		return canonicalArch(a)
	}
	if a, ok := unameArch[runtime.GOARCH]; ok {
		return a
	}
	return runtime.GOARCH
}

// archAliases maps Debian's and rpm's other names for an architecture to
// the uname -m name; "" means the repository fits every host.
var archAliases = map[string]string{
	"": "", "noarch": "", "all": "", "any": "",
	"amd64": "x86_64", "x86-64": "x86_64",
	"arm64": "aarch64",
	"i386":  "i686", "i486": "i686", "i586": "i686", "x86": "i686",
	"armhf": "armv7l", "armv7hl": "armv7l",
	"ppc64el": "ppc64le",
	"loong64": "loongarch64",
}

// canonicalArch is arch in uname -m form ("" for noarch and Debian's all).
func canonicalArch(arch string) string {
	a := strings.ToLower(strings.TrimSpace(arch))
	if c, ok := archAliases[a]; ok {
		return c
	}
	return a
}

// archFits reports whether a repository of repoArch serves a host of
// hostArch (uname -m form). An x86_64 RPM host also takes i686 packages
// (multilib); Debian's multiarch is opt-in, so a deb host does not.
func archFits(family, hostArch, repoArch string) bool {
	r, h := canonicalArch(repoArch), canonicalArch(hostArch)
	return r == "" || r == h || (family == FamilyRPM && h == "x86_64" && r == "i686")
}

// hostRepos picks the repositories of resp for this host: its package
// family, and an architecture it can install. skipped are those of the
// family that fit another architecture.
func hostRepos(all []api.Repo, family, arch string) (repos, skipped []api.Repo) {
	for _, r := range all {
		if r.Format != family {
			continue
		}
		if archFits(family, arch, r.Arch) {
			repos = append(repos, r)
		} else {
			skipped = append(skipped, r)
		}
	}
	return repos, skipped
}
