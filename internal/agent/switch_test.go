package agent

import (
	"reflect"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

const almaBaseOS = `[baseos]
name=AlmaLinux $releasever - BaseOS
mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos
# baseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/
enabled=1
gpgcheck=1
countme=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9

[baseos-debuginfo]
name=AlmaLinux $releasever - BaseOS debuginfo
baseurl=https://vault.almalinux.org/$releasever/BaseOS/debug/$basearch/
enabled=0
gpgcheck=1

[baseos-source]
name=AlmaLinux $releasever - BaseOS Source
baseurl=https://vault.almalinux.org/$releasever/BaseOS/Source/
gpgcheck=1
`

func TestDisableYum(t *testing.T) {
	out, repos := disableYum([]byte(almaBaseOS))
	if !reflect.DeepEqual(repos, []string{"baseos", "baseos-source"}) {
		t.Errorf("disabled %v, want baseos and baseos-source (debuginfo was off already)", repos)
	}
	secs := parseINI(out)
	got := map[string]string{}
	for _, s := range secs {
		got[s.Name] = s.Vals["enabled"]
	}
	if got["baseos"] != "0" || got["baseos-source"] != "0" || got["baseos-debuginfo"] != "0" || len(secs) != 3 {
		t.Errorf("after switch: %v\n%s", got, out)
	}
	if strings.Count(string(out), "enabled=") != 3 || !strings.Contains(string(out), "countme=1\ngpgkey=") {
		t.Errorf("other lines changed:\n%s", out)
	}
	if _, repos := disableYum([]byte("[epel]\nbaseurl=https://dl.fedoraproject.org/pub/epel/9/Everything/x86_64/\n")); repos != nil {
		t.Errorf("EPEL taken for the distribution's: %v", repos)
	}
}

func TestDisableAptSources(t *testing.T) {
	list := "deb http://deb.debian.org/debian bookworm main\ndeb [signed-by=/usr/share/keyrings/x.gpg] https://security.debian.org/debian-security bookworm-security main\ndeb https://els.example.jp/repos/deb12/ bookworm main\n"
	out, repos := disableOneLine([]byte(list))
	if len(repos) != 2 || !strings.Contains(string(out), "# enmei switch: deb http://deb.debian.org/debian bookworm main\n") || !strings.Contains(string(out), "\ndeb https://els.example.jp/repos/deb12/ bookworm main\n") {
		t.Errorf("one-line sources after switch (%v):\n%s", repos, out)
	}
	deb822 := "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: https://mirror.example.jp/debian\nSuites: bookworm\nComponents: main\n"
	out, repos = disableDeb822([]byte(deb822))
	if len(repos) != 1 || strings.Count(string(out), "Enabled: no") != 1 || !strings.Contains(string(out), "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\nEnabled: no\n\nTypes: deb\nURIs: https://mirror.example.jp/debian") {
		t.Errorf("deb822 after switch (%v):\n%s", repos, out)
	}
}

func TestIsDistroURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://mirrors.almalinux.org/mirrorlist/$releasever/baseos":  true,
		"http://mirror.centos.org/centos/7/os/$basearch/":              true,
		"https://cdn.redhat.com/content/dist/rhel8/8/x86_64/baseos/os": true,
		"http://jp.archive.ubuntu.com/ubuntu":                          true,
		"http://amazonlinux.$awsregion.$awsdomain/$releasever/core":    true,
		"https://els.example.jp/repos/el9-x86_64/":                     false,
		"https://download.example.com/almalinux.org/":                  false,
	} {
		if got := isDistroURL(u); got != want {
			t.Errorf("isDistroURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestUpstreamKeyFiles: a mirror's distribution key is written beside the
// vendor's and named by gpgkey=; only such paths, with a plain repository
// ID, may be removed by unregister.
func TestUpstreamKeyFiles(t *testing.T) {
	s := settings{server: "https://els.example.jp", armored: "VENDOR KEY"}
	s.repos = append(s.repos, hostRepo{Repo: api.Repo{ID: "alma9-baseos", Format: "rpm", Path: "/repos/alma9-baseos/", UpstreamKey: "DISTRO KEY"}, hostID: "h_1", secret: "s"},
		hostRepo{Repo: api.Repo{ID: "el9-els", Format: "rpm", Path: "/repos/el9-els/"}, hostID: "h_1", secret: "s"})
	files := yumFiles(s)
	got := map[string]string{}
	for _, f := range files {
		got[f.path] = string(f.data)
	}
	if got["/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-alma9-baseos"] != "DISTRO KEY" || len(files) != 3 {
		t.Errorf("files: %v", keys(got))
	}
	repo := got[yumRepoPath]
	if !strings.Contains(repo, "[enmei-alma9-baseos]") || !strings.Contains(repo, "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-alma9-baseos\n") ||
		!strings.Contains(repo, "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei\n") {
		t.Errorf("enmei.repo:\n%s", repo)
	}
	for p, want := range map[string]bool{
		"/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-alma9-baseos": true,
		"/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-../../passwd": false,
		"/etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9":                 false,
	} {
		if isUpstreamKey(p) != want {
			t.Errorf("isUpstreamKey(%q) = %v", p, !want)
		}
	}
}
