// Package repoconf renders the yum/dnf repository file a registered RPM host
// uses, /etc/yum.repos.d/enmei.repo, and picks the repositories that fit a
// host's package family and architecture. It is the one renderer for that
// file: the agent writes its output, and enmeid sends the same output to
// register.sh on hosts that cannot run the agent (EL6), so both kinds of
// host get byte-for-byte the same configuration.
package repoconf

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
)

// Package families, as api.Repo.Format names them.
const (
	FamilyRPM = "rpm"
	FamilyDeb = "deb"
)

// Host paths the repository file names (joined under a host's root).
const (
	YumRepoPath = "/etc/yum.repos.d/enmei.repo"
	RPMKeyPath  = "/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"
	CAPath      = "/etc/enmei/ca.pem"
)

// UpstreamKeyPathPrefix begins the path of every mirror's distribution key
// (UpstreamKeyPath), which unregister may remove.
const UpstreamKeyPathPrefix = "/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-"

// UpstreamKeyPath is where a mirror's distribution key is written.
func UpstreamKeyPath(repoID string) string { return UpstreamKeyPathPrefix + repoID }

// Repo is a repository with the credential of the registration that grants
// it.
type Repo struct {
	api.Repo
	HostID, Secret string
}

// Yum is what enmei.repo is rendered from.
type Yum struct {
	Server string   // without trailing slash
	CA     bool     // trust the CA copy at CAPath
	Proxy  *url.URL // nil: direct
	Repos  []Repo
}

// Options lists every option Render writes. Each is read alike by yum
// 3.2.29 (EL6), yum 3.4.3 (EL7, Amazon Linux 2) and dnf (EL8 and later):
// yum 3's RepoConf defines them all (username and password, proxy_*,
// sslcacert, gpgkey, gpgcheck and repo_gpgcheck), and dnf kept their names.
// Options only dnf knows (sslverifystatus, proxy_auth_method,
// skip_if_unavailable's changed default, countme, …) are never written:
// yum 3 ignores an unknown option silently, which would leave a host with
// a setting that seems to be in force but is not.
var Options = []string{"name", "baseurl", "enabled", "username", "password", "gpgcheck", "repo_gpgcheck",
	"gpgkey", "sslcacert", "proxy", "proxy_username", "proxy_password"}

// Render returns enmei.repo: one section per repository, each with its
// registration's credential, packages and metadata verified against the
// signing key at RPMKeyPath. A source repository's section is disabled
// (enabled=0): dnf download --source enables the one named after an
// enabled repository plus "-source" by itself (dnf's enable_source_repos;
// yumdownloader --source likewise), and --enablerepo enables any. The file
// holds host credentials: write it 0600.
func (y Yum) Render() []byte {
	var b strings.Builder
	b.WriteString("# Written by enmei register (or register.sh); unregistering removes it.\n")
	for _, r := range y.Repos {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		keys := "file://" + RPMKeyPath
		if r.UpstreamKey != "" {
			// A mirror's packages carry the distribution's signatures.
			keys += " file://" + UpstreamKeyPath(r.ID)
		}
		enabled := 1
		if IsSource(r.Arch) {
			enabled = 0
		}
		fmt.Fprintf(&b, "\n[enmei-%s]\nname=%s\nbaseurl=%s%s\nenabled=%d\nusername=%s\npassword=%s\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\n",
			r.ID, oneLine(name), y.Server, r.Path, enabled, r.HostID, r.Secret, keys)
		if y.CA {
			fmt.Fprintf(&b, "sslcacert=%s\n", CAPath)
		}
		if y.Proxy != nil {
			// yum and dnf want the credentials apart from the URL.
			plain := *y.Proxy
			plain.User = nil
			fmt.Fprintf(&b, "proxy=%s\n", plain.String())
			if y.Proxy.User != nil {
				pw, _ := y.Proxy.User.Password()
				fmt.Fprintf(&b, "proxy_username=%s\nproxy_password=%s\n", y.Proxy.User.Username(), pw)
			}
		}
	}
	return []byte(b.String())
}

// oneLine keeps a server-provided name from breaking the file's syntax.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
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

// CanonicalArch is arch in uname -m form ("" for noarch and Debian's all).
func CanonicalArch(arch string) string {
	a := strings.ToLower(strings.TrimSpace(arch))
	if c, ok := archAliases[a]; ok {
		return c
	}
	return a
}

// IsSource reports whether a repository of arch holds source packages:
// "src" (rpm, as enmeid repo add --arch src makes one) or "source" (deb).
// Such repositories fit every host, and are configured disabled.
func IsSource(arch string) bool {
	a := strings.ToLower(strings.TrimSpace(arch))
	return a == "src" || a == "source"
}

// ArchFits reports whether a repository of repoArch serves a host of
// hostArch (uname -m form). An x86_64 RPM host also takes i686 packages
// (multilib); Debian's multiarch is opt-in, so a deb host does not. Source
// repositories fit every host.
func ArchFits(family, hostArch, repoArch string) bool {
	if IsSource(repoArch) {
		return true
	}
	r, h := CanonicalArch(repoArch), CanonicalArch(hostArch)
	return r == "" || r == h || (family == FamilyRPM && h == "x86_64" && r == "i686")
}

// HostRepos picks the repositories of all for a host: its package family,
// and an architecture it can install. skipped are those of the family that
// fit another architecture.
func HostRepos(all []api.Repo, family, arch string) (repos, skipped []api.Repo) {
	for _, r := range all {
		if r.Format != family {
			continue
		}
		if ArchFits(family, arch, r.Arch) {
			repos = append(repos, r)
		} else {
			skipped = append(skipped, r)
		}
	}
	return repos, skipped
}
