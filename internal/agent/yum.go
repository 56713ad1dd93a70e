package agent

import (
	"net/url"
	"strings"

	"github.com/enmei-project/enmei/internal/repoconf"
)

// yumFiles renders /etc/yum.repos.d/enmei.repo (0600: it holds the host
// credentials, each repository with its registration's) with repoconf, the
// renderer enmeid also uses for register.sh, and the armored signing key
// yum and dnf import from gpgkey=.
func yumFiles(s settings) []file {
	y := repoconf.Yum{Server: s.server, CA: s.ca, Proxy: s.proxy}
	for _, r := range s.repos {
		y.Repos = append(y.Repos, repoconf.Repo{Repo: r.Repo, HostID: r.hostID, Secret: r.secret})
	}
	files := []file{
		{yumRepoPath, y.Render(), 0o600},
		{rpmKeyPath, []byte(s.armored), 0o644},
	}
	for _, r := range s.repos {
		if r.UpstreamKey != "" && repoIDShape.MatchString(r.ID) {
			files = append(files, file{repoconf.UpstreamKeyPath(r.ID), []byte(r.UpstreamKey), 0o644})
		}
	}
	return files
}

// oneLine keeps a server-provided name from breaking the file's syntax.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// proxyURL parses a proxy chosen by proxyFor ("" is no proxy).
func proxyURL(p string) *url.URL {
	if p == "" {
		return nil
	}
	u, err := url.Parse(p)
	if err != nil {
		return nil
	}
	return u
}
