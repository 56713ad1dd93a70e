package repoconf

import (
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

// TestSourceRepos: source repositories fit every host and are rendered
// disabled, named so dnf download --source finds them.
func TestSourceRepos(t *testing.T) {
	all := []api.Repo{
		{ID: "el9", Format: "rpm", Arch: "x86_64", Path: "/repos/el9/"},
		{ID: "el9-source", Format: "rpm", Arch: "src", Path: "/repos/el9-source/"},
		{ID: "deb-source", Format: "deb", Arch: "source"},
	}
	for _, arch := range []string{"x86_64", "aarch64", ""} {
		repos, _ := HostRepos(all, FamilyRPM, arch)
		if len(repos) == 0 || repos[len(repos)-1].ID != "el9-source" {
			t.Errorf("%q host: %v", arch, repos)
		}
	}
	if repos, _ := HostRepos(all, FamilyDeb, "aarch64"); len(repos) != 1 || repos[0].ID != "deb-source" {
		t.Errorf("deb host: %v", repos)
	}
	for arch, want := range map[string]bool{"src": true, "source": true, " SRC ": true, "noarch": false, "": false, "x86_64": false} {
		if IsSource(arch) != want {
			t.Errorf("IsSource(%q) = %v", arch, !want)
		}
	}
	y := Yum{Server: "https://els.example.jp"}
	for _, r := range all[:2] {
		y.Repos = append(y.Repos, Repo{Repo: r, HostID: "h", Secret: "s"})
	}
	got := string(y.Render())
	if !strings.Contains(got, "[enmei-el9]\nname=el9\nbaseurl=https://els.example.jp/repos/el9/\nenabled=1\n") ||
		!strings.Contains(got, "[enmei-el9-source]\nname=el9-source\nbaseurl=https://els.example.jp/repos/el9-source/\nenabled=0\nusername=h\npassword=s\ngpgcheck=1\nrepo_gpgcheck=1\n") {
		t.Errorf("Render:\n%s", got)
	}
}
