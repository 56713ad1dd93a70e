package agent

import (
	"fmt"
	"net/url"
	"strings"
)

// yumFiles renders /etc/yum.repos.d/enmei.repo (0600: it holds the host
// credentials, each repository with its registration's) and the armored
// signing key dnf imports from gpgkey=.
func yumFiles(s settings) []file {
	var b strings.Builder
	b.WriteString("# Written by enmei register; enmei unregister removes it.\n")
	for _, r := range s.repos {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		fmt.Fprintf(&b, "\n[enmei-%s]\nname=%s\nbaseurl=%s%s\nenabled=1\nusername=%s\npassword=%s\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://%s\n",
			r.ID, oneLine(name), s.server, r.Path, r.hostID, r.secret, rpmKeyPath)
		if s.ca {
			fmt.Fprintf(&b, "sslcacert=%s\n", caPath)
		}
		if s.proxy != nil {
			// dnf wants the credentials apart from the URL.
			plain := *s.proxy
			plain.User = nil
			fmt.Fprintf(&b, "proxy=%s\n", plain.String())
			if s.proxy.User != nil {
				pw, _ := s.proxy.User.Password()
				fmt.Fprintf(&b, "proxy_username=%s\nproxy_password=%s\n", s.proxy.User.Username(), pw)
			}
		}
	}
	return []file{
		{yumRepoPath, []byte(b.String()), 0o600},
		{rpmKeyPath, []byte(s.armored), 0o644},
	}
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
