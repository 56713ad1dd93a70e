package agent

import (
	"runtime"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/repoconf"
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

// canonicalArch is arch in uname -m form ("" for noarch and Debian's all).
func canonicalArch(arch string) string { return repoconf.CanonicalArch(arch) }

// archFits reports whether a repository of repoArch serves a host of
// hostArch (see repoconf.ArchFits, which enmeid uses for register.sh too).
func archFits(family, hostArch, repoArch string) bool {
	return repoconf.ArchFits(family, hostArch, repoArch)
}

// hostRepos picks the repositories of resp for this host: its package
// family, and an architecture it can install. skipped are those of the
// family that fit another architecture.
func hostRepos(all []api.Repo, family, arch string) (repos, skipped []api.Repo) {
	return repoconf.HostRepos(all, family, arch)
}
