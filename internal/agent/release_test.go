package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/repoconf"
)

// A release under test: its os-release (or, for EL5/EL6, redhat-release)
// and the apt its dpkg status lists ("" : no dpkg status).
type testRelease struct {
	name                     string
	osRelease, redhatRelease string
	apt                      string
}

var (
	centos6  = testRelease{name: "CentOS 6", redhatRelease: "CentOS release 6.10 (Final)\n"}
	centos7  = testRelease{name: "CentOS 7", osRelease: "NAME=\"CentOS Linux\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n"}
	amzn2    = testRelease{name: "Amazon Linux 2", osRelease: "NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n"}
	amzn2023 = testRelease{name: "Amazon Linux 2023", osRelease: "NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n"}
	alma8    = testRelease{name: "AlmaLinux 8", osRelease: "ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\n"}
	alma9    = testRelease{name: "AlmaLinux 9", osRelease: almaRelease}
	xenial   = testRelease{name: "Ubuntu 16.04", osRelease: ubuntuRelease("16.04", "xenial"), apt: "1.2.35"}
	bionic   = testRelease{name: "Ubuntu 18.04", osRelease: ubuntuRelease("18.04", "bionic"), apt: "1.6.17"}
	focal    = testRelease{name: "Ubuntu 20.04", osRelease: ubuntuRelease("20.04", "focal"), apt: "2.0.10"}
	jammy    = testRelease{name: "Ubuntu 22.04", osRelease: ubuntuRelease("22.04", "jammy"), apt: "2.4.13"}
	buster   = testRelease{name: "Debian 10", osRelease: debianOf("10", "buster"), apt: "1.8.2.3"}
	bullseye = testRelease{name: "Debian 11", osRelease: debianOf("11", "bullseye"), apt: "2.2.4"}
	bookworm = testRelease{name: "Debian 12", osRelease: debianRelease, apt: "2.6.1"}
)

func ubuntuRelease(v, codename string) string {
	return "NAME=\"Ubuntu\"\nVERSION_ID=\"" + v + "\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu " + v + " LTS\"\nUBUNTU_CODENAME=" + codename + "\n"
}

func debianOf(v, codename string) string {
	return "PRETTY_NAME=\"Debian GNU/Linux " + v + " (" + codename + ")\"\nVERSION_ID=\"" + v + "\"\nVERSION_CODENAME=" + codename + "\nID=debian\n"
}

// dpkgStatus is a status file listing apt at version among other packages,
// with a removed package of the same name pattern before it.
func dpkgStatus(aptVersion string) string {
	return `Package: adduser
Status: install ok installed
Priority: important
Version: 3.113+nmu3ubuntu4
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands.

Package: apt-transport-https
Status: deinstall ok config-files
Version: 1.0.1ubuntu2

Package: apt
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 3383
Architecture: amd64
Version: ` + aptVersion + `
Description: commandline package manager
 This package provides commandline tools.

Package: zlib1g
Status: install ok installed
Version: 1:1.2.8.dfsg-2ubuntu4.3
`
}

// root makes a scratch root of the release.
func (r testRelease) root(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if r.osRelease != "" {
		writeFile(t, filepath.Join(root, "etc/os-release"), r.osRelease)
	}
	if r.redhatRelease != "" {
		writeFile(t, filepath.Join(root, "etc/redhat-release"), r.redhatRelease)
	}
	if r.apt != "" {
		writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), dpkgStatus(r.apt))
	}
	return root
}

func (r testRelease) traits(t *testing.T, root string) traits {
	t.Helper()
	osr, err := readOSRelease(root)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := releaseTraits(root, osr)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestReleaseTraits(t *testing.T) {
	tests := []struct {
		rel       testRelease
		pm        string
		authD     bool
		supported bool
		lacks     []string // substrings, one per sentence, in order
	}{
		{centos6, pmYum, false, true, []string{"CentOS 6: the agent cannot run on its kernel 2.6.32", "/var/lib/dbus/machine-id", "yum -y makecache", "https:// proxy"}},
		{centos7, pmYum, false, true, []string{"yum -y makecache", "yum on CentOS 7 cannot use an https:// proxy"}},
		{amzn2, pmYum, false, true, []string{"yum -y makecache"}},
		{amzn2023, pmDNF, false, true, nil},
		{alma8, pmDNF, false, true, nil},
		{alma9, pmDNF, false, true, nil},
		{testRelease{name: "Rocky Linux 9", osRelease: "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n"}, pmDNF, false, true, nil},
		{testRelease{name: "Oracle Linux 8", osRelease: "ID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\n"}, pmDNF, false, true, nil},
		{testRelease{name: "RHEL 7", redhatRelease: "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"}, pmYum, false, true, []string{"makecache", "RHEL 7"}},
		{xenial, pmApt, false, true, []string{"apt 1.2.35 reads no /etc/apt/auth.conf.d: the credentials are in a managed block of /etc/apt/auth.conf"}},
		{testRelease{name: "Ubuntu 16.04 without a dpkg status", osRelease: xenial.osRelease}, pmApt, false, true, []string{"apt 1.2.35 (the version Ubuntu 16.04 shipped) reads no"}},
		{testRelease{name: "Ubuntu 16.04 upgraded to apt 1.6", osRelease: xenial.osRelease, apt: "1.6.17"}, pmApt, true, true, nil},
		{bionic, pmApt, true, true, nil},
		{focal, pmApt, true, true, nil},
		{jammy, pmApt, true, true, nil},
		{buster, pmApt, true, true, nil},
		{bullseye, pmApt, true, true, nil},
		{bookworm, pmApt, true, true, nil},
		{testRelease{name: "Ubuntu 14.04", osRelease: ubuntuRelease("14.04", "trusty"), apt: "1.0.1ubuntu2.24"}, pmApt, false, false, []string{"apt 1.0.1ubuntu2.24 reads no"}},
		{testRelease{name: "Debian 9", osRelease: debianOf("9", "stretch"), apt: "1.4.11"}, pmApt, false, false, []string{"apt 1.4.11 reads no"}},
		{testRelease{name: "CentOS 5", redhatRelease: "CentOS release 5.11 (Final)\n"}, pmYum, false, false, []string{"makecache", "https:// proxy"}},
		{testRelease{name: "Fedora 40", osRelease: "ID=fedora\nVERSION_ID=40\n"}, pmDNF, false, false, nil},
		{testRelease{name: "Ubuntu 24.04", osRelease: ubuntuRelease("24.04", "noble"), apt: "2.7.14"}, pmApt, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.rel.name, func(t *testing.T) {
			tr := tt.rel.traits(t, tt.rel.root(t))
			if tr.PM != tt.pm || tr.AptAuthD != tt.authD || tr.Supported != tt.supported {
				t.Errorf("traits = PM %s, AptAuthD %v, Supported %v; want %s, %v, %v", tr.PM, tr.AptAuthD, tr.Supported, tt.pm, tt.authD, tt.supported)
			}
			if tr.PM == pmApt && tt.rel.apt != "" && tr.AptVersion != tt.rel.apt {
				t.Errorf("AptVersion = %q, want %q from the dpkg status", tr.AptVersion, tt.rel.apt)
			}
			if tt.supported != (tr.Why == "") {
				t.Errorf("Supported %v with Why %q", tr.Supported, tr.Why)
			}
			if !tt.supported && !strings.Contains(tr.Why, tt.rel.name[:strings.IndexAny(tt.rel.name+" ", " ")]) {
				t.Errorf("Why %q does not name the release", tr.Why)
			}
			if len(tr.Lacks) != len(tt.lacks) {
				t.Fatalf("Lacks = %q, want %d sentences like %q", tr.Lacks, len(tt.lacks), tt.lacks)
			}
			for i, want := range tt.lacks {
				if !strings.Contains(tr.Lacks[i], want) {
					t.Errorf("Lacks[%d] = %q, want it to say %q", i, tr.Lacks[i], want)
				}
			}
		})
	}
	t.Run("unknown OS", func(t *testing.T) {
		tr, err := releaseTraits(t.TempDir(), OSRelease{ID: "arch"})
		if err != nil || tr.Supported || !strings.Contains(tr.Why, "neither of the RPM family") || tr.PM != "" {
			t.Errorf("traits = %+v, %v", tr, err)
		}
	})
	t.Run("names unsupported releases", func(t *testing.T) {
		for rel, want := range map[testRelease]string{
			{name: "u", osRelease: ubuntuRelease("14.04", "trusty")}:    "Ubuntu 14.04 is not a release enmei supports",
			{name: "d", osRelease: debianOf("9", "stretch")}:            "Debian 9 is not a release enmei supports",
			{name: "c", redhatRelease: "CentOS release 5.11 (Final)\n"}: "CentOS 5 is not a release enmei supports",
		} {
			if tr := rel.traits(t, rel.root(t)); !strings.HasPrefix(tr.Why, want) || !strings.Contains(tr.Why, "Ubuntu 16.04") {
				t.Errorf("Why = %q, want %q… naming what is supported", tr.Why, want)
			}
		}
	})
}

// TestRegisterPerRelease registers a scratch root of every supported
// release and checks the key lines of what its package manager reads.
func TestRegisterPerRelease(t *testing.T) {
	for _, rel := range []testRelease{centos6, centos7, amzn2, alma8, alma9, amzn2023, xenial, bionic, focal, jammy, buster, bullseye, bookworm} {
		t.Run(rel.name, func(t *testing.T) {
			f := newFake(t, false, allRepos)
			root := rel.root(t)
			if rel == centos6 {
				// EL6 predates /etc/machine-id: D-Bus's is read instead.
				writeFile(t, filepath.Join(root, "var/lib/dbus/machine-id"), rawMachineID+"\n")
			} else {
				writeFile(t, filepath.Join(root, "etc/machine-id"), rawMachineID+"\n")
			}
			h := &host{t: t, root: root, env: map[string]string{"ENMEI_DEBUG_ARCH": "x86_64"}}
			r := h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
			tr := rel.traits(t, root)
			st := h.state()

			if tr.PM != pmApt {
				repo := h.read(yumRepoPath)
				for _, want := range []string{
					"[enmei-el9-x86_64]\n", "baseurl=" + f.url() + "/repos/el9-x86_64/\n", "[enmei-el9-noarch]\n",
					"username=h_0001\n", "password=secret-1\n", "gpgcheck=1\n", "repo_gpgcheck=1\n",
					"gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei\n",
				} {
					if !strings.Contains(repo, want) {
						t.Errorf("enmei.repo lacks %q:\n%s", want, repo)
					}
				}
				// Only options yum 3 reads too (dnf-only ones would be
				// ignored there without a word).
				for _, line := range strings.Split(repo, "\n") {
					if k, _, ok := strings.Cut(line, "="); ok && !slices.Contains(repoconf.Options, k) {
						t.Errorf("enmei.repo has %q, not among the options yum 3 and dnf both read", line)
					}
				}
				next := map[string]string{pmYum: "Next: yum -y makecache", pmDNF: "Next: dnf upgrade"}[tr.PM]
				if !strings.Contains(r.stderr, next) {
					t.Errorf("summary does not say %q:\n%s", next, r.stderr)
				}
				if tr.PM == pmYum && strings.Contains(r.stderr, "dnf") {
					t.Errorf("the summary of a yum host mentions dnf:\n%s", r.stderr)
				}
				return
			}

			src := h.read(aptSources)
			for _, want := range []string{"URIs: " + f.url() + "/repos/deb12/\n", "Suites: bookworm\n", "Signed-By: /etc/apt/keyrings/enmei.gpg\n"} {
				if !strings.Contains(src, want) {
					t.Errorf("enmei.sources lacks %q:\n%s", want, src)
				}
			}
			_, errD := os.Stat(filepath.Join(root, aptAuth))
			_, errConf := os.Stat(filepath.Join(root, aptAuthConf))
			if tr.AptAuthD {
				if got := h.read(aptAuth); got != "machine "+f.url()+"/repos/deb12/ login h_0001 password secret-1\n" {
					t.Errorf("auth.conf.d/enmei.conf = %q", got)
				}
				if !os.IsNotExist(errConf) || st.AuthConfBlock {
					t.Errorf("apt %s reads auth.conf.d, yet /etc/apt/auth.conf was written (%v, block %v)", tr.AptVersion, errConf, st.AuthConfBlock)
				}
				return
			}
			// apt 1.2: host and path, no scheme, no port, in auth.conf.
			want := blockBegin + "\nmachine 127.0.0.1/repos/deb12/ login h_0001 password secret-1\n" + blockEnd + "\n"
			if got := h.read(aptAuthConf); got != want {
				t.Errorf("auth.conf =\n%s\nwant\n%s", got, want)
			}
			if fi, err := os.Stat(filepath.Join(root, aptAuthConf)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("auth.conf: %v, mode %v; want 0600", err, fi.Mode().Perm())
			}
			if !os.IsNotExist(errD) || slices.Contains(st.Files, aptAuthConf) || !st.AuthConfBlock || !st.AuthConfCreated {
				t.Errorf("auth.conf.d file: %v; host.json files %v, block %v, created %v", errD, st.Files, st.AuthConfBlock, st.AuthConfCreated)
			}
			if !strings.Contains(r.stderr, "managed block of /etc/apt/auth.conf (apt 1.2.35") {
				t.Errorf("summary does not tell where the credentials are:\n%s", r.stderr)
			}
		})
	}
}

// TestAuthConfBlock: on apt 1.2 the user's auth.conf keeps every line of
// its own, registering again changes nothing, unregister takes out only
// the block, and a file enmei created goes away with it.
func TestAuthConfBlock(t *testing.T) {
	const user = "# my mirror\nmachine mirror.example.jp/ubuntu/ login me password pw\n\nmachine other.example.jp login x password y" // no final line break
	xenialHost := func(t *testing.T) (*host, *fakeServer) {
		root := xenial.root(t)
		writeFile(t, filepath.Join(root, "etc/machine-id"), rawMachineID+"\n")
		return &host{t: t, root: root, env: map[string]string{"ENMEI_DEBUG_ARCH": "x86_64"}}, newFake(t, false, allRepos)
	}

	t.Run("the user's lines stay", func(t *testing.T) {
		h, f := xenialHost(t)
		writeFile(t, filepath.Join(h.root, aptAuthConf), user)
		if err := os.Chmod(filepath.Join(h.root, aptAuthConf), 0o640); err != nil {
			t.Fatal(err)
		}
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		want := user + "\n" + blockBegin + "\nmachine 127.0.0.1/repos/deb12/ login h_0001 password secret-1\n" + blockEnd + "\n"
		if got := h.read(aptAuthConf); got != want {
			t.Fatalf("auth.conf =\n%s\nwant\n%s", got, want)
		}
		if fi, _ := os.Stat(filepath.Join(h.root, aptAuthConf)); fi.Mode().Perm() != 0o600 {
			t.Errorf("auth.conf mode %v, want 0600: it holds credentials", fi.Mode().Perm())
		}
		if st := h.state(); st.AuthConfCreated {
			t.Error("host.json says enmei created the user's auth.conf")
		}

		// Again: the same seat, one block in the same place (the fake
		// issues a new secret each time).
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if got := h.read(aptAuthConf); got != strings.Replace(want, "secret-1", "secret-2", 1) {
			t.Errorf("registering again made auth.conf\n%s", got)
		}

		// The user edits around the block; unregister leaves their lines.
		edited := "machine first.example.jp/x/ login a password b\n" + h.read(aptAuthConf) + "machine last.example.jp/y/ login c password d\n"
		writeFile(t, filepath.Join(h.root, aptAuthConf), edited)
		h.mustEnmei("unregister")
		if got, want := h.read(aptAuthConf), "machine first.example.jp/x/ login a password b\n"+user+"\nmachine last.example.jp/y/ login c password d\n"; got != want {
			t.Errorf("after unregister auth.conf =\n%s\nwant\n%s", got, want)
		}
		if _, err := os.Stat(filepath.Join(h.root, statePath)); !os.IsNotExist(err) {
			t.Errorf("host.json after unregister: %v", err)
		}
	})

	t.Run("a file enmei created goes", func(t *testing.T) {
		h, f := xenialHost(t)
		before := h.files()
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if !h.state().AuthConfCreated {
			t.Error("registering again forgot that enmei created auth.conf")
		}
		h.mustEnmei("unregister")
		if after := h.files(); !slices.Equal(sortedKeys(after), sortedKeys(before)) {
			t.Errorf("after unregister the root has %v, before register %v", sortedKeys(after), sortedKeys(before))
		}
	})

	t.Run("a file enmei created keeps the user's later lines", func(t *testing.T) {
		h, f := xenialHost(t)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		writeFile(t, filepath.Join(h.root, aptAuthConf), h.read(aptAuthConf)+"machine mine.example.jp/ login me password pw\n")
		h.mustEnmei("unregister")
		if got := h.read(aptAuthConf); got != "machine mine.example.jp/ login me password pw\n" {
			t.Errorf("auth.conf = %q", got)
		}
	})

	t.Run("apt upgraded to 1.6: the block moves to auth.conf.d", func(t *testing.T) {
		h, f := xenialHost(t)
		writeFile(t, filepath.Join(h.root, aptAuthConf), user)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		writeFile(t, filepath.Join(h.root, "var/lib/dpkg/status"), dpkgStatus("1.6.17"))
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if got := h.read(aptAuthConf); got != user+"\n" {
			t.Errorf("auth.conf = %q, want the user's lines alone", got)
		}
		if got := h.read(aptAuth); !strings.Contains(got, "machine "+f.url()+"/repos/deb12/") {
			t.Errorf("auth.conf.d/enmei.conf = %q", got)
		}
		if st := h.state(); st.AuthConfBlock || !slices.Contains(st.Files, aptAuth) {
			t.Errorf("host.json: block %v, files %v", st.AuthConfBlock, st.Files)
		}
	})

	t.Run("build-secrets mounts auth.conf", func(t *testing.T) {
		h, f := xenialHost(t)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if r := h.mustEnmei("build-secrets"); !strings.Contains(r.stdout, "id=enmei-auth,src=/etc/apt/auth.conf ") {
			t.Errorf("build-secrets:\n%s", r.stdout)
		}
	})
}

func TestWithBlock(t *testing.T) {
	body := "machine h/p/ login a password b\n"
	block := blockBegin + "\n" + body + blockEnd + "\n"
	tests := []struct{ name, in, body, want string }{
		{"empty file", "", body, block},
		{"appended after a line break it lacked", "machine x login y password z", body, "machine x login y password z\n" + block},
		{"replaced in place", "a\n" + blockBegin + "\nmachine old/ login o password p\n" + blockEnd + "\nb\n", body, "a\n" + block + "b\n"},
		{"removed", "a\n" + block + "b\n", "", "a\nb\n"},
		{"nothing to remove", "a\n", "", "a\n"},
		{"an end marker someone deleted: the user's lines after the block stay", "a\n" + blockBegin + "\nmachine old/ login o password p\nmachine mine login m password n\n\nkeep\n", "", "a\n\nkeep\n"},
		{"two blocks become one", block + "x\n" + block, body, block + "x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withBlock([]byte(tt.in), tt.body)); got != tt.want {
				t.Errorf("withBlock =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	// apt's parser skips tokens but these three: the markers hold none.
	for _, marker := range []string{blockBegin, blockEnd} {
		for _, w := range strings.Fields(strings.ToLower(marker)) {
			if w == "machine" || w == "login" || w == "password" {
				t.Errorf("marker %q holds the netrc keyword %q", marker, w)
			}
		}
	}
}

// TestYumProxyAndScriptState: EL6 and EL7's yum cannot use an https://
// proxy, so register refuses it before taking a seat; a host registered by
// register.sh is left alone.
func TestYumProxyAndScriptState(t *testing.T) {
	f := newFake(t, false, allRepos)
	for _, rel := range []testRelease{centos6, centos7} {
		root := rel.root(t)
		writeFile(t, filepath.Join(root, "etc/machine-id"), rawMachineID+"\n")
		h := &host{t: t, root: root, env: map[string]string{"ENMEI_DEBUG_ARCH": "x86_64"}}
		before := h.files()
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--proxy", "https://proxy.example.jp:3128")
		if r.code != 1 || !strings.Contains(r.stderr, "cannot use the https:// proxy") || !strings.Contains(r.stderr, "http://") {
			t.Errorf("%s with an https:// proxy: exit %d, %s", rel.name, r.code, r.stderr)
		}
		if len(h.files()) != len(before) {
			t.Errorf("%s: a refused register wrote files", rel.name)
		}
	}
	if f.seats() != 0 {
		t.Errorf("refused registrations took %d seats", f.seats())
	}
	// Amazon Linux 2's libcurl knows https:// proxies (the proxy is never
	// dialled here: the fake is on loopback and NO_PROXY is not needed for
	// the check, which comes first).
	if err := checkProxyFor(traits{PM: pmYum, Release: "Amazon Linux 2"}, OSRelease{ID: "amzn"}, "https://proxy:3128"); err != nil {
		t.Errorf("Amazon Linux 2 with an https:// proxy: %v", err)
	}

	h := newHost(t, almaRelease)
	writeFile(t, filepath.Join(h.root, scriptStatePath), "host_id=h_0009\n")
	if r := h.enmei("register", "--server", f.url(), "--key", goodKey); r.code != 1 || !strings.Contains(r.stderr, "register.sh --unregister") {
		t.Errorf("register on a register.sh host: exit %d, %s", r.code, r.stderr)
	}
}

// TestMachineIdentityDBus: a host without /etc/machine-id (EL6) is known by
// D-Bus's machine ID, with the same digest; a link out of the root is not
// followed.
func TestMachineIdentityDBus(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte("enmei-machine-id:" + id))
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "var/lib/dbus/machine-id"), id+"\n")
	if got, err := MachineIdentity(root); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("MachineIdentity from /var/lib/dbus = %q, %v", got, err)
	}
	// /etc/machine-id wins when both exist.
	writeFile(t, filepath.Join(root, "etc/machine-id"), "fedcba9876543210fedcba9876543210\n")
	if got, _ := MachineIdentity(root); got == hex.EncodeToString(sum[:]) {
		t.Error("/var/lib/dbus/machine-id was preferred to /etc/machine-id")
	}
	escape := t.TempDir()
	writeFile(t, filepath.Join(escape, "outside"), id+"\n")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(escape, "root/var/lib/dbus"), 0o755))
	must(os.Symlink(filepath.Join(escape, "outside"), filepath.Join(escape, "root/var/lib/dbus/machine-id")))
	if got, err := MachineIdentity(filepath.Join(escape, "root")); err == nil {
		t.Errorf("MachineIdentity followed a link out of the root: %q", got)
	}
}

func sortedKeys(m map[string]string) []string {
	k := keys(m)
	slices.Sort(k)
	return k
}

// apt12Auth is the credential apt 1.1 to 1.4 finds in auth.conf for a URI:
// a port of maybe_add_auth and parsenetrc_string in apt-pkg/contrib/netrc.cc
// of those releases. It looks for a machine token equal to the host
// (without the port, case-insensitively), then for one that is a prefix of
// host+path; tokens are split on blanks and line breaks, and the first
// machine that matches wins. The scheme is in neither string.
func apt12Auth(conf, host, path string) (login, password string, ok bool) {
	parse := func(target string) (login, password string, found bool) {
		const nothing, hostFound, hostValid = 0, 1, 3
		state, wantLogin, wantPassword := nothing, false, false
		for _, tok := range strings.Fields(conf) {
			if login != "" && password != "" {
				break
			}
			switch state {
			case nothing:
				if strings.EqualFold(tok, "machine") {
					state = hostFound
				}
			case hostFound:
				if (strings.Contains(target, "/") && strings.HasPrefix(target, tok)) || strings.EqualFold(target, tok) {
					state, found = hostValid, true
				} else {
					state = nothing
				}
			case hostValid:
				switch {
				case wantLogin:
					login, wantLogin = tok, false
				case wantPassword:
					password, wantPassword = tok, false
				case strings.EqualFold(tok, "login"):
					wantLogin = true
				case strings.EqualFold(tok, "password"):
					wantPassword = true
				case strings.EqualFold(tok, "machine"):
					state = hostFound
				}
			}
		}
		return login, password, found
	}
	if l, p, found := parse(host); found {
		return l, p, true
	}
	return parse(host + path)
}

// TestAuthConfForApt12: the lines register writes for apt before 1.5 give
// each repository its own registration's credential under apt 1.2's
// matching, over https with a port and over plain http; the lines of the
// auth.conf.d file (scheme and port in the token) would give apt 1.2 none.
func TestAuthConfForApt12(t *testing.T) {
	repos := []hostRepo{
		{Repo: allRepos[2], hostID: "h_1", secret: "s1"},
		{Repo: api.Repo{ID: "deb12-extra", Format: "deb", Suite: "bookworm", Component: "extra", Path: "/repos/deb12-extra/"}, hostID: "h_2", secret: "s2"},
	}
	user := "# mine\nmachine mirror.example.jp/ubuntu/ login me password pw\n"
	for _, server := range []string{"https://els.example.jp:8443", "http://els.example.jp"} {
		files, err := aptFiles(settings{server: server, repos: repos, armored: armoredKey(t), authConf: true})
		if err != nil {
			t.Fatal(err)
		}
		var legacy, modern string
		for _, f := range files {
			if f.path == aptAuthConf {
				legacy = string(withBlock([]byte(user), string(f.data)))
			}
		}
		modernFiles, _ := aptFiles(settings{server: server, repos: repos, armored: armoredKey(t)})
		for _, f := range modernFiles {
			if f.path == aptAuth {
				modern = string(f.data)
			}
		}
		for path, want := range map[string]string{
			"/repos/deb12/dists/bookworm/InRelease":                "h_1:s1",
			"/repos/deb12/pool/main/h/hello/hello_1.0_amd64.deb":   "h_1:s1",
			"/repos/deb12-extra/dists/bookworm/InRelease":          "h_2:s2",
			"/repos/deb12-extra/pool/extra/x/x_1_amd64.deb":        "h_2:s2",
			"/repos/deb12-other/dists/bookworm/InRelease":          "",
			"/ubuntu/dists/xenial/InRelease (another host's path)": "",
		} {
			l, p, _ := apt12Auth(legacy, "els.example.jp", path)
			if got := strings.Trim(l+":"+p, ":"); got != want {
				t.Errorf("%s: apt 1.2 sends %q for %s, want %q\n%s", server, got, path, want, legacy)
			}
		}
		if l, p, _ := apt12Auth(legacy, "mirror.example.jp", "/ubuntu/dists/xenial/InRelease"); l+p != "mepw" {
			t.Errorf("the user's own entry no longer matches: %q %q", l, p)
		}
		if _, _, found := apt12Auth(modern, "els.example.jp", "/repos/deb12/dists/bookworm/InRelease"); found {
			t.Errorf("apt 1.2 would match the auth.conf.d line %q, yet it reads no scheme", modern)
		}
	}
}
