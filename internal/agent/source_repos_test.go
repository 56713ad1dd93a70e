package agent

import (
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

// TestSourceRepoConfig: a deb source repository is a deb-src stanza with
// Enabled: no (its credential written like the others'); an rpm one a
// section with enabled=0; both are kept for hosts of any architecture.
func TestSourceRepoConfig(t *testing.T) {
	repos := []api.Repo{
		{ID: "deb12", Name: "Debian 12 ELS", Format: "deb", Arch: "amd64", Suite: "bookworm", Component: "main", Path: "/repos/deb12/"},
		{ID: "deb12-source", Name: "Debian 12 ELS sources", Format: "deb", Arch: "source", Suite: "bookworm", Component: "main", Path: "/repos/deb12-source/"},
	}
	files, err := aptFiles(settings{server: "https://els.example.jp", repos: cred(repos, "h", "s"), armored: armoredKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	var sources, auth string
	for _, f := range files {
		switch f.path {
		case aptSources:
			sources = string(f.data)
		case aptAuth:
			auth = string(f.data)
		}
	}
	if !strings.Contains(sources, "\n# Debian 12 ELS\nTypes: deb\nURIs: https://els.example.jp/repos/deb12/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/enmei.gpg\n\n") ||
		!strings.HasSuffix(sources, "\n# Debian 12 ELS sources: source packages (apt-get source); set Enabled: yes to use them\nTypes: deb-src\nURIs: https://els.example.jp/repos/deb12-source/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/enmei.gpg\nEnabled: no\n") {
		t.Errorf("enmei.sources:\n%s", sources)
	}
	if !strings.Contains(auth, "machine https://els.example.jp/repos/deb12-source/ login h password s\n") {
		t.Errorf("auth.conf.d lacks the source repository's credential:\n%s", auth)
	}
	if fit, skipped := hostRepos(repos, FamilyDeb, "aarch64"); len(fit) != 1 || fit[0].ID != "deb12-source" || len(skipped) != 1 {
		t.Errorf("an arm64 host gets %v, skips %v", fit, skipped)
	}

	rpms := []api.Repo{{ID: "el9", Format: "rpm", Arch: "x86_64", Path: "/repos/el9/"}, {ID: "el9-source", Format: "rpm", Arch: "src", Path: "/repos/el9-source/"}}
	conf := string(yumFiles(settings{server: "https://els.example.jp", repos: cred(rpms, "h", "s"), armored: "KEY"})[0].data)
	if !strings.Contains(conf, "[enmei-el9-source]\nname=el9-source\nbaseurl=https://els.example.jp/repos/el9-source/\nenabled=0\n") || strings.Count(conf, "enabled=1") != 1 {
		t.Errorf("enmei.repo:\n%s", conf)
	}
}
