package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
)

func TestFamily(t *testing.T) {
	tests := []struct {
		osRelease string
		want      string
	}{
		{"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n", "rpm"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "rpm"},
		{"ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n", "rpm"},
		{"ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n", "rpm"},
		{"ID=\"ol\"\nID_LIKE=\"fedora\"\n", "rpm"},
		{"ID=\"rhel\"\n", "rpm"},
		{"ID=debian\nVERSION_ID=\"12\"\n", "deb"},
		{"ID=ubuntu\nID_LIKE=debian\n", "deb"},
		{"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "deb"},
		{"ID=arch\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ParseOSRelease([]byte(tt.osRelease)).Family()
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("Family(%q) = %q, %v; want %q", tt.osRelease, got, err, tt.want)
		}
	}
}

func TestMachineIdentity(t *testing.T) {
	root := t.TempDir()
	if _, err := MachineIdentity(root); err == nil {
		t.Error("MachineIdentity without /etc/machine-id succeeded")
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	a, err := MachineIdentity(root)
	if err != nil || len(a) != 64 || strings.Contains(a, "0123456789abcdef") {
		t.Errorf("MachineIdentity = %q, %v; want a digest that hides the ID", a, err)
	}
	b, _ := MachineIdentity(root)
	if a != b {
		t.Error("MachineIdentity is not stable")
	}
}

func TestProxyFor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		server, flag string
		env          map[string]string
		want         string
	}{
		{"https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"},
		{"https://els.example.jp", "", map[string]string{"https_proxy": "http://lower:3128"}, "http://lower:3128"},
		{"https://els.example.jp", "http://flag:8080", map[string]string{"HTTPS_PROXY": "http://p:3128"}, "http://flag:8080"},
		{"https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.jp"}, ""},
		{"http://127.0.0.1:8080", "", map[string]string{"HTTP_PROXY": "http://p:3128"}, "http://p:3128"},
		{"http://127.0.0.1:8080", "", map[string]string{"HTTPS_PROXY": "http://p:3128"}, ""},
		{"https://els.example.jp", "", nil, ""},
	}
	for _, tt := range tests {
		if got := proxyFor(tt.server, tt.flag, env(tt.env)); got != tt.want {
			t.Errorf("proxyFor(%s, %q, %v) = %q, want %q", tt.server, tt.flag, tt.env, got, tt.want)
		}
	}
}

func TestYumFiles(t *testing.T) {
	s := settings{server: "https://els.example.jp", hostID: "h_1", secret: "s3", ca: true,
		proxy: "http://u:pw@proxy:3128", armored: "KEY",
		repos: []api.Repo{{ID: "alma9", Name: "AlmaLinux 9", Path: "/repos/alma9/"}}}
	files := yumFiles(s)
	want := `# Written by enmei register; enmei unregister removes it.

[enmei-alma9]
name=AlmaLinux 9
baseurl=https://els.example.jp/repos/alma9/
enabled=1
username=h_1
password=s3
gpgcheck=1
repo_gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-enmei
sslcacert=/etc/enmei/ca.pem
sslverify=1
proxy=http://proxy:3128
proxy_username=u
proxy_password=pw
`
	if string(files[0].data) != want || files[0].mode != 0o600 || files[0].path != yumRepoPath {
		t.Errorf("enmei.repo (mode %o) =\n%s\nwant\n%s", files[0].mode, files[0].data, want)
	}
}

func TestWriteFilesModes(t *testing.T) {
	root := t.TempDir()
	err := writeFiles(root, []file{{"/etc/a/secret", []byte("x"), 0o600}, {"/etc/b/public", []byte("y"), 0o644}})
	if err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"etc/a/secret": 0o600, "etc/b/public": 0o644} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), mode)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "etc/*/.enmei-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
