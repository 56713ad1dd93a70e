package agent

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

func TestYumFiles(t *testing.T) {
	repos := []api.Repo{
		{ID: "el9-x86_64", Name: "AlmaLinux 9 ELS (x86_64)", Format: "rpm", Arch: "x86_64", Path: "/repos/el9-x86_64/"},
		{ID: "el9-noarch", Name: "", Format: "rpm", Arch: "noarch", Path: "/repos/el9-noarch/"},
	}
	tests := []struct {
		name string
		s    settings
		want string
	}{
		{"plain", settings{server: "http://127.0.0.1:8080", repos: cred(repos[:1], "h_1", "s3"), armored: "KEY"},
			`# Written by enmei register (or register.sh); unregistering removes it.

[enmei-el9-x86_64]
name=AlmaLinux 9 ELS (x86_64)
baseurl=http://127.0.0.1:8080/repos/el9-x86_64/
enabled=1
username=h_1
password=s3
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
`},
		{"CA and proxy with credentials, two repos", settings{server: "https://els.example.jp", ca: true,
			proxy: mustURL(t, "http://u:p%40ss@proxy.example.jp:3128"), repos: cred(repos, "h_1", "s3"), armored: "KEY"},
			`# Written by enmei register (or register.sh); unregistering removes it.

[enmei-el9-x86_64]
name=AlmaLinux 9 ELS (x86_64)
baseurl=https://els.example.jp/repos/el9-x86_64/
enabled=1
username=h_1
password=s3
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
sslcacert=/etc/enmei/ca.pem
proxy=http://proxy.example.jp:3128
proxy_username=u
proxy_password=p@ss

[enmei-el9-noarch]
name=el9-noarch
baseurl=https://els.example.jp/repos/el9-noarch/
enabled=1
username=h_1
password=s3
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
sslcacert=/etc/enmei/ca.pem
proxy=http://proxy.example.jp:3128
proxy_username=u
proxy_password=p@ss
`},
		{"proxy without credentials", settings{server: "https://els.example.jp", proxy: mustURL(t, "http://proxy:3128"), repos: cred(repos[:1], "h", "s"), armored: "KEY"},
			`# Written by enmei register (or register.sh); unregistering removes it.

[enmei-el9-x86_64]
name=AlmaLinux 9 ELS (x86_64)
baseurl=https://els.example.jp/repos/el9-x86_64/
enabled=1
username=h
password=s
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
proxy=http://proxy:3128
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := yumFiles(tt.s)
			if len(files) != 2 {
				t.Fatalf("%d files, want 2", len(files))
			}
			if f := files[0]; f.path != yumRepoPath || f.mode != 0o600 || string(f.data) != tt.want {
				t.Errorf("%s (mode %o) =\n%s\nwant\n%s", f.path, f.mode, f.data, tt.want)
			}
			if f := files[1]; f.path != rpmKeyPath || f.mode != 0o644 || string(f.data) != "KEY" {
				t.Errorf("key file %s mode %o data %q", f.path, f.mode, f.data)
			}
		})
	}
}

func TestAptFiles(t *testing.T) {
	repos := []api.Repo{
		{ID: "deb12", Name: "Debian 12 ELS", Format: "deb", Suite: "bookworm", Component: "main", Path: "/repos/deb12/"},
		{ID: "deb12-extra", Name: "Debian 12 ELS extra", Format: "deb", Suite: "bookworm", Component: "extra", Path: "/repos/deb12-extra/"},
	}
	armored := armoredKey(t)
	binary, err := testKey(t).Public()
	if err != nil {
		t.Fatal(err)
	}
	const sources = `# Written by enmei register; enmei unregister removes it.

# Debian 12 ELS
Types: deb
URIs: https://els.example.jp:8443/repos/deb12/
Suites: bookworm
Components: main
Signed-By: /etc/apt/keyrings/enmei.gpg

# Debian 12 ELS extra
Types: deb
URIs: https://els.example.jp:8443/repos/deb12-extra/
Suites: bookworm
Components: extra
Signed-By: /etc/apt/keyrings/enmei.gpg
`
	const auth = `machine https://els.example.jp:8443/repos/deb12/ login h_1 password s3
machine https://els.example.jp:8443/repos/deb12-extra/ login h_1 password s3
`
	tests := []struct {
		name     string
		s        settings
		conf     string // "" : no 80enmei
		confMode os.FileMode
	}{
		{"plain", settings{server: "https://els.example.jp:8443", repos: cred(repos, "h_1", "s3"), armored: armored}, "", 0},
		{"CA", settings{server: "https://els.example.jp:8443", ca: true, repos: cred(repos, "h_1", "s3"), armored: armored},
			"// Written by enmei register; enmei unregister removes it.\nAcquire::https::els.example.jp::CaInfo \"/etc/enmei/ca.pem\";\n", 0o644},
		{"CA and proxy with credentials", settings{server: "https://els.example.jp:8443", ca: true,
			proxy: mustURL(t, "http://u:pw@proxy:3128"), repos: cred(repos, "h_1", "s3"), armored: armored},
			"// Written by enmei register; enmei unregister removes it.\nAcquire::https::els.example.jp::CaInfo \"/etc/enmei/ca.pem\";\n" +
				"Acquire::http::Proxy::els.example.jp \"http://u:pw@proxy:3128\";\nAcquire::https::Proxy::els.example.jp \"http://u:pw@proxy:3128\";\n", 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := aptFiles(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]file{}
			for _, f := range files {
				got[f.path] = f
			}
			check := func(p string, mode os.FileMode, want []byte) {
				t.Helper()
				f, ok := got[p]
				if !ok {
					t.Errorf("no %s", p)
					return
				}
				if f.mode != mode || !bytes.Equal(f.data, want) {
					t.Errorf("%s (mode %o) =\n%s\nwant (mode %o)\n%s", p, f.mode, f.data, mode, want)
				}
			}
			check(aptSources, 0o644, []byte(sources))
			check(aptAuth, 0o600, []byte(auth))
			check(aptKeyring, 0o644, binary)
			if tt.conf == "" {
				if _, ok := got[aptConf]; ok || len(files) != 3 {
					t.Errorf("%d files, with %s: want only sources, keyring and auth", len(files), aptConf)
				}
			} else {
				check(aptConf, tt.confMode, []byte(tt.conf))
			}
		})
	}
	t.Run("plain http keeps the scheme in auth.conf", func(t *testing.T) {
		files, err := aptFiles(settings{server: "http://127.0.0.1:8080", repos: cred(repos[:1], "h", "s"), armored: armored})
		if err != nil {
			t.Fatal(err)
		}
		if a := string(files[2].data); a != "machine http://127.0.0.1:8080/repos/deb12/ login h password s\n" {
			t.Errorf("auth.conf = %q", a)
		}
	})
	t.Run("damaged key", func(t *testing.T) {
		if _, err := aptFiles(settings{server: "http://x", armored: "not a key"}); err == nil {
			t.Error("aptFiles accepted a damaged key")
		}
	})
}

// TestAptFilesWithRealTools: gpgv verifies a signature with the keyring
// register writes, apt-get reads the deb822 sources, and apt-config reads
// the apt.conf.d snippet.
func TestAptFilesWithRealTools(t *testing.T) {
	dir := t.TempDir()
	repos := []api.Repo{{ID: "deb12", Name: "Debian 12 ELS", Format: "deb", Suite: "bookworm", Component: "main", Path: "/repos/deb12/"}}
	files, err := aptFiles(settings{server: "https://els.example.jp", ca: true,
		proxy: mustURL(t, "http://proxy.example.jp:3128"), repos: cred(repos, "h", "s"), armored: armoredKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}

	data := []byte("Origin: enmei\n")
	sig, err := testKey(t).DetachSign(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "Release"), string(data))
	writeFile(t, filepath.Join(dir, "Release.gpg"), string(sig))
	if out, err := exec.Command("gpgv", "--keyring", filepath.Join(dir, aptKeyring), filepath.Join(dir, "Release.gpg"), filepath.Join(dir, "Release")).CombinedOutput(); err != nil {
		t.Errorf("gpgv with the keyring: %v\n%s", err, out)
	}

	for _, d := range []string{"lists/partial", "cache/archives/partial", "status"} {
		if err := os.MkdirAll(filepath.Join(dir, "apt", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "apt/dpkg-status"), "")
	cmd := exec.Command("apt-get",
		"-o", "Dir::Etc::sourcelist=/dev/null",
		"-o", "Dir::Etc::sourceparts="+filepath.Join(dir, "etc/apt/sources.list.d"),
		"-o", "Dir::Etc::parts=/dev/null",
		"-o", "Dir::State::lists="+filepath.Join(dir, "apt/lists"),
		"-o", "Dir::State::status="+filepath.Join(dir, "apt/dpkg-status"),
		"-o", "Dir::Cache="+filepath.Join(dir, "apt/cache"),
		"-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
		"update", "--print-uris")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "'https://els.example.jp/repos/deb12/dists/bookworm/InRelease'") || strings.Contains(string(out), "E:") {
		t.Errorf("apt-get update --print-uris: %v\n%s", err, out)
	}

	out, err = exec.Command("apt-config", "-c", filepath.Join(dir, aptConf), "dump").CombinedOutput()
	for _, want := range []string{
		`Acquire::https::els.example.jp::CaInfo "/etc/enmei/ca.pem";`,
		`Acquire::http::Proxy::els.example.jp "http://proxy.example.jp:3128";`,
		`Acquire::https::Proxy::els.example.jp "http://proxy.example.jp:3128";`,
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("apt-config dump lacks %s: %v\n%s", want, err, out)
		}
	}
}

// cred gives every repository the same registration's credential.
func cred(repos []api.Repo, hostID, secret string) []hostRepo {
	out := make([]hostRepo, len(repos))
	for i, r := range repos {
		out[i] = hostRepo{Repo: r, hostID: hostID, secret: secret}
	}
	return out
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dnfReadRepos is run by dnf's own Python to read a yum.repos.d directory
// with dnf's (libdnf's) parser and print what it understood.
const dnfReadRepos = `
import dnf, json, sys
b = dnf.Base()
b.conf.substitutions["releasever"] = "9"
b.conf.reposdir = [sys.argv[1]]
b.read_all_repos()
out = {}
for r in b.repos.all():
    out[r.id] = dict(name=r.name, baseurl=list(r.baseurl), enabled=bool(r.enabled), username=r.username, password=r.password,
        gpgcheck=bool(r.gpgcheck), repo_gpgcheck=bool(r.repo_gpgcheck), gpgkey=list(r.gpgkey), sslcacert=r.sslcacert,
        proxy=r.proxy, proxy_username=r.proxy_username, proxy_password=r.proxy_password)
print(json.dumps(out, sort_keys=True))
`

// TestYumFilesWithRealDNF: dnf reads enmei.repo as meant, credentials and
// proxy settings included.
func TestYumFilesWithRealDNF(t *testing.T) {
	dnf, err := exec.LookPath("dnf")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(dnf)
	if err != nil {
		t.Fatal(err)
	}
	// dnf's interpreter is the Python that has its modules.
	first, _, _ := strings.Cut(string(script), "\n")
	python := strings.Fields(strings.TrimPrefix(first, "#!"))
	if len(python) == 0 {
		t.Fatalf("%s has no #! line", dnf)
	}
	dir := t.TempDir()
	s := settings{server: "https://els.example.jp", ca: true,
		proxy: mustURL(t, "http://u:p%40ss@proxy.example.jp:3128"), armored: "KEY",
		repos: cred([]api.Repo{
			{ID: "el9-x86_64", Name: "AlmaLinux 9 ELS (x86_64)", Format: "rpm", Path: "/repos/el9-x86_64/"},
			{ID: "el9-noarch", Name: "AlmaLinux 9 ELS (noarch)", Format: "rpm", Path: "/repos/el9-noarch/"},
		}, "h_1", "s3cr3t")}
	if err := writeFiles(dir, yumFiles(s)); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python[0], append(python[1:], "-c", dnfReadRepos, filepath.Join(dir, "etc/yum.repos.d"))...).CombinedOutput()
	if err != nil {
		t.Fatalf("reading the repo with dnf: %v\n%s", err, out)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, id := range []string{"el9-x86_64", "el9-noarch"} {
		r := got["enmei-"+id]
		want := map[string]any{
			"baseurl": []any{"https://els.example.jp/repos/" + id + "/"}, "enabled": true, "username": "h_1", "password": "s3cr3t",
			"gpgcheck": true, "repo_gpgcheck": true, "gpgkey": []any{"file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"},
			"sslcacert": "/etc/enmei/ca.pem", "proxy": "http://proxy.example.jp:3128", "proxy_username": "u", "proxy_password": "p@ss",
		}
		for k, v := range want {
			if !reflect.DeepEqual(r[k], v) {
				t.Errorf("dnf reads enmei-%s %s = %#v, want %#v", id, k, r[k], v)
			}
		}
	}
	if len(got) != 2 {
		t.Errorf("dnf sees %d repositories, want 2: %s", len(got), out)
	}
}
