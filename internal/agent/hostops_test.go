package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/cluster"
)

func writeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestParseCheckUpdate(t *testing.T) {
	out := `
enmei-demo-hello.x86_64                 1.0-2                 enmei-el9-x86_64
a-package-with-a-very-long-name-indeed.noarch
                                        2:3.4.5-6.el9         enmei-el9-x86_64
Obsoleting Packages
old.x86_64   1-1   repo
`
	got := parseCheckUpdate([]byte(out))
	want := []pkgUpdate{
		{Name: "enmei-demo-hello", Arch: "x86_64", To: "1.0-2", Repo: "enmei-el9-x86_64"},
		{Name: "a-package-with-a-very-long-name-indeed", Arch: "noarch", To: "2:3.4.5-6.el9", Repo: "enmei-el9-x86_64"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseCheckUpdate = %+v, want %+v", got, want)
	}
}

func TestAptInst(t *testing.T) {
	for line, want := range map[string][]string{
		"Inst libssl3 [3.0.11-1~deb12u1] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])": {"libssl3", "3.0.11-1~deb12u1", "3.0.13-1~deb12u1", "Debian-Security:12/stable-security", "amd64"},
		"Inst enmei-demo-doc (1.0-2 enmei:stable [all])":                                                {"enmei-demo-doc", "", "1.0-2", "enmei:stable", "all"},
	} {
		m := aptInst.FindStringSubmatch(line)
		if m == nil || !reflect.DeepEqual(m[1:], want) {
			t.Errorf("%q: got %q, want %q", line, m, want)
		}
	}
	if aptInst.MatchString("Conf libssl3 (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])") {
		t.Error("a Conf line was taken for an Inst line")
	}
}

func TestRepoChecks(t *testing.T) {
	root := writeRoot(t, map[string]string{
		"etc/yum.repos.d/epel.repo": "[epel]\nname=Extra Packages for Enterprise Linux 9\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel-9\nenabled=1\n\n[epel-testing]\nname=EPEL testing\nenabled=0\n",
		"etc/yum.repos.d/remi.repo": "[remi-safe]\nname=Safe Remi's RPM repository\nmirrorlist=http://cdn.remirepo.net/enterprise/9/safe/mirror\n# enabled is the default\n",
		"etc/yum.repos.d/alma.repo": "[baseos]\nname=AlmaLinux BaseOS\nbaseurl=https://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/\nexcludepkgs=kernel*\n  openssl*\n",
		"etc/dnf/dnf.conf":          "[main]\ngpgcheck=1\nexclude=java-*, podman\n",
	})
	a := &app{root: root}
	checks := a.repoChecks(&hostView{pm: newPkgManager(root, OSRelease{ID: "almalinux", VersionID: "9.4"}, pmDNF)})
	third, excl := checks[0], checks[1]
	if third.Status != checkWarn || !strings.Contains(third.Message, "epel (/etc/yum.repos.d/epel.repo)") || !strings.Contains(third.Message, "remi-safe") || strings.Contains(third.Message, "epel-testing") {
		t.Errorf("third-party check = %+v, want a warning naming epel and remi-safe but not the disabled epel-testing", third)
	}
	for _, want := range []string{"java-* podman in /etc/dnf/dnf.conf", "kernel* openssl* in repository baseos"} {
		if !strings.Contains(excl.Message, want) {
			t.Errorf("excludepkgs check %q lacks %q", excl.Message, want)
		}
	}

	clean := writeRoot(t, map[string]string{"etc/yum.repos.d/enmei.repo": "[enmei-el9]\nname=ELS\nbaseurl=https://els.example.jp/repos/el9/\n"})
	a = &app{root: clean}
	checks = a.repoChecks(&hostView{pm: newPkgManager(clean, OSRelease{ID: "almalinux"}, pmDNF)})
	if checks[0].Status != checkPass || checks[1].Status != checkPass || !strings.Contains(checks[1].Message, "no package is excluded") {
		t.Errorf("clean host: %+v", checks)
	}
}

func TestHeldDebs(t *testing.T) {
	root := writeRoot(t, map[string]string{"var/lib/dpkg/status": "Package: openssl\nStatus: hold ok installed\nVersion: 3.0\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2\n"})
	if got := heldDebs(root); !reflect.DeepEqual(got, []string{"openssl"}) {
		t.Errorf("heldDebs = %v, want [openssl]", got)
	}
}

func TestHealthChecks(t *testing.T) {
	healthy := cluster.Status{
		Nodes:     []cluster.Node{{Name: "node1", Online: true}, {Name: "node2", Online: true}},
		Resources: []cluster.Resource{{ID: "vip", Node: "node1", Active: true}},
		Quorum:    true,
	}
	if bad := failedChecks(healthChecks(healthy, "node1", nil)); len(bad) > 0 {
		t.Errorf("healthy cluster failed: %v", bad)
	}
	sick := healthy
	sick.Nodes = []cluster.Node{{Name: "node1", Online: true, Standby: true}, {Name: "node2"}}
	sick.Resources = []cluster.Resource{{ID: "db", Node: "node1", Failed: true}}
	sick.Quorum = false
	bad := strings.Join(failedChecks(healthChecks(sick, "node1", nil)), "\n")
	for _, want := range []string{"nodes offline (bring them back before updating): node2", "standby or maintenance (another update or maintenance is under way): node1", "db (on node1)", "no quorum"} {
		if !strings.Contains(bad, want) {
			t.Errorf("unhealthy cluster's failures lack %q:\n%s", want, bad)
		}
	}
	// Continuing its own stopped update, the node's standby is expected.
	resumed := healthy
	resumed.Nodes = []cluster.Node{{Name: "node1", Online: true, Standby: true}, {Name: "node2", Online: true}}
	if bad := failedChecks(healthChecks(resumed, "node1", &cluster.Lock{Owner: "node1"})); len(bad) > 0 {
		t.Errorf("own standby under own lock failed: %v", bad)
	}
	lk := healthy
	lk.Paths = []cluster.Path{{Local: "node1", Remote: "node2", Address: "10.0.0.1/10.0.0.2", State: "DEAD"}}
	if bad := strings.Join(failedChecks(healthChecks(lk, "node1", nil)), "\n"); !strings.Contains(bad, "DEAD") {
		t.Errorf("a DEAD communication path passed: %q", bad)
	}
}

func TestLocalhostAndSELinux(t *testing.T) {
	root := writeRoot(t, map[string]string{
		"etc/hosts":          "127.0.0.1 localhost localhost.localdomain\n::1 localhost6\n10.0.0.1 node1\n",
		"etc/selinux/config": "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
	})
	a := &app{root: root}
	if c := a.localhostCheck(t.Context()); c.Status != checkPass {
		t.Errorf("localhost check = %+v", c)
	}
	if c := a.selinuxCheck("lifekeeper"); c.Status != checkFail {
		t.Errorf("SELinux enforcing under LifeKeeper = %+v, want fail", c)
	}
	if c := a.selinuxCheck("pacemaker"); c.Status != checkPass || !strings.Contains(c.Message, "enforcing") {
		t.Errorf("SELinux enforcing under Pacemaker = %+v, want pass naming the mode", c)
	}
	bad := &app{root: writeRoot(t, map[string]string{"etc/hosts": "127.0.1.1 localhost\n"})}
	if c := bad.localhostCheck(t.Context()); c.Status != checkFail {
		t.Errorf("localhost → 127.0.1.1 = %+v, want fail", c)
	}
}

func TestRpmArgsUnderRoot(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/yum.repos.d/enmei.repo": "[enmei-el9]\nbaseurl=https://x/\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei\nsslcacert=/etc/enmei/ca.pem\n"})
	p := newPkgManager(root, OSRelease{ID: "almalinux", VersionID: "9.4"}, pmDNF)
	args := strings.Join(p.rpmArgs(), " ")
	for _, want := range []string{"--installroot=" + root, "--releasever=9", "--setopt=enmei-el9.gpgkey=file://" + root + "/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei", "--setopt=enmei-el9.sslcacert=" + root + "/etc/enmei/ca.pem"} {
		if !strings.Contains(args, want) {
			t.Errorf("dnf arguments lack %q: %s", want, args)
		}
	}
	if got := newPkgManager("/", OSRelease{}, pmDNF).rpmArgs(); got != nil {
		t.Errorf("on / dnf got extra arguments %v", got)
	}
}

// TestOSCheckNamesWhatOldReleasesLack: preflight's os check passes a
// current release, warns with what an old one lacks, and fails an
// unsupported one; yum hosts get yum, never dnf.
func TestOSCheckNamesWhatOldReleasesLack(t *testing.T) {
	for _, c := range []struct {
		name, osRelease, status, want, pm string
	}{
		{"AlmaLinux 9", "ID=almalinux\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=9.4\nPRETTY_NAME=\"AlmaLinux 9.4\"\n", checkPass, "supported", pmDNF},
		{"CentOS 7", "ID=centos\nID_LIKE=\"rhel fedora\"\nVERSION_ID=7\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n", checkWarn, "yum 3 asks before it imports", pmYum},
		{"Ubuntu 16.04", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"16.04\"\nPRETTY_NAME=\"Ubuntu 16.04.7 LTS\"\n", checkWarn, "auth.conf.d", pmApt},
		{"Debian 9", "ID=debian\nVERSION_ID=\"9\"\nPRETTY_NAME=\"Debian GNU/Linux 9 (stretch)\"\n", checkFail, "not a release enmei supports", pmApt},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := writeRoot(t, map[string]string{"etc/os-release": c.osRelease})
			v := &hostView{}
			v.rel, v.relErr = readOSRelease(root)
			var err error
			if v.traits, err = releaseTraits(root, v.rel); err != nil {
				t.Fatal(err)
			}
			got := osCheck(v)
			if got.Status != c.status || !strings.Contains(got.Message, c.want) {
				t.Errorf("os check = %+v, want %s containing %q", got, c.status, c.want)
			}
			if pm := newPkgManager(root, v.rel, v.traits.PM); pm.kind != c.pm {
				t.Errorf("package manager %s, want %s", pm.kind, c.pm)
			}
		})
	}
}
