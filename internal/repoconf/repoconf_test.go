package repoconf

import (
	"net/url"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

func TestRender(t *testing.T) {
	proxy, _ := url.Parse("http://u:p%40ss@proxy.example.jp:3128")
	y := Yum{Server: "https://els.example.jp", CA: true, Proxy: proxy, Repos: []Repo{
		{Repo: api.Repo{ID: "el6-x86_64", Name: "CentOS 6\nELS", Path: "/repos/el6-x86_64/"}, HostID: "h_1", Secret: "s1"},
		{Repo: api.Repo{ID: "php", Path: "/repos/php/"}, HostID: "h_2", Secret: "s2"},
	}}
	const want = `# Written by enmei register (or register.sh); unregistering removes it.

[enmei-el6-x86_64]
name=CentOS 6 ELS
baseurl=https://els.example.jp/repos/el6-x86_64/
enabled=1
username=h_1
password=s1
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
sslcacert=/etc/enmei/ca.pem
proxy=http://proxy.example.jp:3128
proxy_username=u
proxy_password=p@ss

[enmei-php]
name=php
baseurl=https://els.example.jp/repos/php/
enabled=1
username=h_2
password=s2
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
sslcacert=/etc/enmei/ca.pem
proxy=http://proxy.example.jp:3128
proxy_username=u
proxy_password=p@ss
`
	got := string(y.Render())
	if got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
	// Every option written is one yum 3 reads as well as dnf.
	for _, line := range strings.Split(got, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			found := false
			for _, o := range Options {
				found = found || o == k
			}
			if !found {
				t.Errorf("option %q is not in Options", k)
			}
		}
	}
}

func TestHostRepos(t *testing.T) {
	all := []api.Repo{
		{ID: "x", Format: "rpm", Arch: "x86_64"}, {ID: "i", Format: "rpm", Arch: "i686"}, {ID: "a", Format: "rpm", Arch: "aarch64"},
		{ID: "n", Format: "rpm", Arch: "noarch"}, {ID: "d", Format: "deb", Arch: "amd64"},
	}
	ids := func(rs []api.Repo) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	if repos, skipped := HostRepos(all, FamilyRPM, "x86_64"); ids(repos) != "x,i,n" || ids(skipped) != "a" {
		t.Errorf("x86_64 RPM host: %s, skipped %s", ids(repos), ids(skipped))
	}
	if repos, _ := HostRepos(all, FamilyDeb, "x86_64"); ids(repos) != "d" {
		t.Errorf("x86_64 deb host: %s", ids(repos))
	}
	if repos, _ := HostRepos(all, FamilyRPM, "i686"); ids(repos) != "i,n" {
		t.Errorf("i686 RPM host: %s", ids(repos))
	}
}
