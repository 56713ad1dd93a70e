package hostbundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/enmei-project/enmei/internal/errs"
)

// planted are markers every planted secret carries, whole or in part: none
// of them may be anywhere in a bundle.
var planted = []string{"PLANTED", "SECRET-", "KEYMATERIAL"}

// rpmRoot builds a RHEL 8 scratch root with secrets planted in every place
// the bundle reads: repository files, dnf.conf, dnf variables, logs, the
// dnf history, a private key reached through a link, and a file outside
// the root reached through links. It returns the root.
func rpmRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "etc/hostname", "# set by cloud-init\nweb01.example.jp\n")
	write(t, root, "usr/lib/os-release", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\n")
	symlink(t, root, "etc/os-release", "../usr/lib/os-release")
	write(t, root, "etc/redhat-release", "Red Hat Enterprise Linux release 8.10 (Ootpa)\n")
	unxz(t, "libuuid-Packages.xz", root, "var/lib/rpm/Packages")

	write(t, root, "etc/yum.repos.d/enmei.repo", `# Written by enmei register; enmei unregister removes it.

[enmei-rhel8-baseos]
name=RHEL 8 BaseOS (ELS)
baseurl=https://repo.example.jp/rhel8/baseos
        https://h-0001:PLANTED-SECRET-9@mirror.example.jp/rhel8/baseos
enabled=1
username=h-0001
password=PLANTED-SECRET-1
gpgcheck=1
sslclientkey=/etc/enmei/client.key
proxy=http://proxy.example.jp:3128
proxy_username=alice
proxy_password = PLANTED-SECRET-3
# password=PLANTED-SECRET-10 was the old one
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7PLANTEDKEYMATERIAL
`)
	write(t, root, "etc/dnf/dnf.conf", "[main]\ngpgcheck=1\nproxy=http://bob:PLANTED-SECRET-11@proxy.example.jp:8080\nproxy_auth_method=basic\napi_token = PLANTED-SECRET-12\n")
	write(t, root, "etc/dnf/vars/releasever", "8.10\n")
	write(t, root, "etc/dnf/vars/stream_token", "PLANTED-SECRET-13\n")
	write(t, root, "etc/yum/pluginconf.d/subscription-manager.conf", "[main]\nenabled=0\n")

	// A private key, reached through an absolute link inside the root.
	write(t, root, "etc/enmei/host.key", "-----BEGIN PRIVATE KEY-----\nPLANTEDKEYMATERIAL0123456789\n-----END PRIVATE KEY-----\n")
	symlink(t, root, "etc/yum.repos.d/keylink.repo", "/etc/enmei/host.key")
	// An absolute link is read from the root, as the host reads it.
	write(t, root, "opt/vendor/vendor.repo", "[vendor]\nname=Vendor tools\nbaseurl=https://vendor.example.com/el8\n")
	symlink(t, root, "etc/yum.repos.d/vendor.repo", "/opt/vendor/vendor.repo")
	// Links to a file outside the root, absolute and climbing with "..",
	// must not reach it.
	outside := filepath.Join(t.TempDir(), "outside.repo")
	write(t, "/", outside, "[outside]\nname=PLANTED-OUTSIDE\n")
	symlink(t, root, "etc/yum.repos.d/escape-abs.repo", outside)
	symlink(t, root, "etc/yum.repos.d/escape-up.repo", strings.Repeat("../", 20)+strings.TrimPrefix(outside, "/"))

	write(t, root, "var/log/dnf.log", `2026-01-02T10:00:00+0900 INFO --- logging initialized ---
2026-01-02T10:00:01+0900 DEBUG repo: downloading from remote: enmei-rhel8-baseos
2026-01-02T10:00:02+0900 DEBUG Cannot download 'https://h-0001:PLANTED-SECRET-5@repo.example.jp/rhel8/baseos/repodata/repomd.xml': Curl error (22)
2026-01-02T10:00:03+0900 DDEBUG Command: dnf --setopt=proxy_password=PLANTED-SECRET-14 upgrade
2026-01-02T10:00:04+0900 INFO host secret PLANTED-SECRET-6 was refused by the server
`)
	write(t, root, "var/log/dnf.librepo.log", "2026-01-02T10:00:02+0900 INFO Downloading: https://repo.example.jp/rhel8/baseos/repodata/repomd.xml\n"+
		"2026-01-02T10:00:02+0900 DEBUG Proxy-Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("alice:PLANTED-SECRET-8"))+"\n")

	// dnf's history, with a proxy password on a recorded command line.
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dnf"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(root, "var/lib/dnf/history.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE trans (id INTEGER PRIMARY KEY, cmdline TEXT);
		INSERT INTO trans (cmdline) VALUES ('dnf --setopt=proxy_password=PLANTED-SECRET-7 install vim'), ('dnf upgrade');`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestRPMHost: a RHEL host's bundle has every entry, named and moded as
// the CLI promises, redacted by construction where the host's files hold
// credentials and by the safety net elsewhere, and no planted secret
// anywhere.
func TestRPMHost(t *testing.T) {
	root := rpmRoot(t)
	out := filepath.Join(t.TempDir(), "tmp", "enmei")
	state := []byte(`{"version":2,"server":"https://enmei.example.jp","registrations":[{"host_id":"h-0001","secret":"<redacted>"}]}`)
	var progress bytes.Buffer
	res, err := Create(context.Background(), Options{
		Root:    root,
		OutDir:  out,
		Now:     now,
		State:   state,
		Secrets: []string{"PLANTED-SECRET-6", "short", "PLANTED-SECRET-1"},
		Cluster: func(context.Context) ([]byte, error) {
			return []byte(`<crm_mon version="2.1.5"><nodes><node name="web01"/></nodes>` +
				`<primitive id="fence"><nvpair id="f-pw" name="passwd" value="PLANTED-SECRET-15"/></primitive></crm_mon>`), nil
		},
		Extra:    map[string][]byte{"enmei/status.txt": []byte("registered: yes\nproxy: http://alice:PLANTED-SECRET-16@proxy.example.jp:3128\n")},
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Name, mode, directory, nothing else left beside it.
	wantPath := filepath.Join(out, "web01.example.jp.enmei.20260102150405.tar.gz")
	if res.Path != wantPath {
		t.Errorf("Path = %s, want %s", res.Path, wantPath)
	}
	if fi, err := os.Stat(res.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode: %v %v, want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created output directory mode: %v %v, want 0700", fi.Mode(), err)
	}
	if names := dirNames(t, out); !slices.Equal(names, []string{filepath.Base(wantPath)}) {
		t.Errorf("output directory holds %q, want only the bundle", names)
	}

	b := open(t, res.Path)
	b.noLeak(t, append(planted, base64.StdEncoding.EncodeToString([]byte("alice:PLANTED-SECRET-8")))...)
	if b.top != "web01.example.jp.enmei.20260102150405" {
		t.Errorf("top directory %s", b.top)
	}
	if !slices.Equal(b.names, res.Entries) {
		t.Errorf("Result.Entries = %q, archive has %q", res.Entries, b.names)
	}
	for _, name := range []string{"etc/yum.repos.d/keylink.repo", "etc/yum.repos.d/escape-abs.repo", "etc/yum.repos.d/escape-up.repo", "etc/enmei/host.key"} {
		if _, ok := b.entries[name]; ok {
			t.Errorf("the bundle has %s", name)
		}
	}

	if got := b.entry(t, "etc/os-release"); !strings.Contains(got, `ID="rhel"`) {
		t.Errorf("etc/os-release = %q", got)
	}
	hasLines(t, "redhat-release", b.entry(t, "etc/redhat-release"), "Red Hat Enterprise Linux release 8.10 (Ootpa)")
	hasLines(t, "enmei.repo", b.entry(t, "etc/yum.repos.d/enmei.repo"),
		"[enmei-rhel8-baseos]",
		"name=RHEL 8 BaseOS (ELS)",
		"baseurl=https://repo.example.jp/rhel8/baseos",
		"    https://h-0001:<redacted>@mirror.example.jp/rhel8/baseos",
		"enabled=1",
		"username=h-0001",
		"password=<redacted>",
		"sslclientkey=<redacted>",
		"proxy=http://proxy.example.jp:3128",
		"proxy_username=alice",
		"proxy_password=<redacted>")
	hasLines(t, "vendor.repo", b.entry(t, "etc/yum.repos.d/vendor.repo"), "[vendor]", "baseurl=https://vendor.example.com/el8")
	hasLines(t, "dnf.conf", b.entry(t, "etc/dnf/dnf.conf"),
		"[main]", "proxy=http://bob:<redacted>@proxy.example.jp:8080", "proxy_auth_method=basic", "api_token=<redacted>")
	hasLines(t, "releasever", b.entry(t, "etc/dnf/vars/releasever"), "8.10")
	hasLines(t, "stream_token", b.entry(t, "etc/dnf/vars/stream_token"), "<redacted>")
	hasLines(t, "subscription-manager.conf", b.entry(t, "etc/yum/pluginconf.d/subscription-manager.conf"), "[main]", "enabled=0")

	if got := b.entry(t, "enmei/host.json"); got != string(state) {
		t.Errorf("enmei/host.json = %s, want the state as given", got)
	}
	hasLines(t, "dnf.log", b.entry(t, "logs/dnf.log"),
		"2026-01-02T10:00:00+0900 INFO --- logging initialized ---",
		"2026-01-02T10:00:01+0900 DEBUG repo: downloading from remote: enmei-rhel8-baseos",
		"2026-01-02T10:00:02+0900 DEBUG Cannot download 'https://h-0001:<redacted>@repo.example.jp/rhel8/baseos/repodata/repomd.xml': Curl error (22)",
		"2026-01-02T10:00:03+0900 DDEBUG Command: dnf --setopt=proxy_password=<redacted> upgrade",
		"2026-01-02T10:00:04+0900 INFO host secret <redacted> was refused by the server")
	hasLines(t, "dnf.librepo.log", b.entry(t, "logs/dnf.librepo.log"),
		"2026-01-02T10:00:02+0900 INFO Downloading: https://repo.example.jp/rhel8/baseos/repodata/repomd.xml",
		"2026-01-02T10:00:02+0900 DEBUG Proxy-Authorization: Basic <redacted>")

	// The history is masked in place and still opens.
	hist := filepath.Join(t.TempDir(), "history.sqlite")
	if err := os.WriteFile(hist, []byte(b.entry(t, "history/dnf/history.sqlite")), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", hist)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cmdlines []string
	rows, err := db.Query("SELECT cmdline FROM trans ORDER BY id")
	if err != nil {
		t.Fatalf("the masked history does not open: %v", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cmdlines = append(cmdlines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"dnf --setopt=proxy_password=**************** install vim", "dnf upgrade"}; !slices.Equal(cmdlines, want) {
		t.Errorf("history command lines = %q, want %q", cmdlines, want)
	}

	pk := b.entry(t, "packages.txt")
	if !regexp.MustCompile(`(?m)^libuuid 0:2\.\S+ x86_64$`).MatchString(pk) || !strings.HasPrefix(pk, "# 1 rpm packages from /var/lib/rpm/Packages") {
		t.Errorf("packages.txt = %q", pk)
	}
	cl := b.entry(t, "cluster/status.xml")
	if !strings.Contains(cl, `<node name="web01"/>`) || !strings.Contains(cl, `name="passwd" value="<redacted>"`) {
		t.Errorf("cluster/status.xml = %s", cl)
	}
	hasLines(t, "status.txt", b.entry(t, "enmei/status.txt"), "registered: yes", "proxy: http://alice:<redacted>@proxy.example.jp:3128")

	// What could not be collected, and what the host does not have.
	if !slices.Contains(res.Missing, "/etc/yum.repos.d/keylink.repo: holds a private key; left out") {
		t.Errorf("Missing = %q, want the link to the private key", res.Missing)
	}
	if res.Scrubbed < 6 {
		t.Errorf("Scrubbed = %d, want the safety net's replacements counted", res.Scrubbed)
	}
	checkIndex(t, b, res)
	idx := b.entry(t, "index.txt")
	for _, want := range []string{"host:       web01.example.jp", "time:       2026-01-02T15:04:05+09:00", "enmei:      ",
		"  /etc/yum.repos.d/escape-abs.repo\n", "  /etc/yum.repos.d/escape-up.repo\n", "  /var/log/apt/history.log\n",
		"  /etc/yum.repos.d/keylink.repo: holds a private key; left out\n"} {
		if !strings.Contains(idx, want) {
			t.Errorf("index.txt lacks %q:\n%s", want, idx)
		}
	}
	if !strings.Contains(progress.String(), "collected etc/yum.repos.d/enmei.repo (") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// checkIndex checks that index.txt and manifest.json list every other
// entry with its true size and SHA-256, and the missing items.
func checkIndex(t *testing.T, b *bundle, res Result) {
	t.Helper()
	idx := b.entry(t, "index.txt")
	var m manifest
	if err := json.Unmarshal([]byte(b.entry(t, "manifest.json")), &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	var listed []string
	for _, e := range m.Entries {
		listed = append(listed, e.Name)
		data, ok := b.entries[e.Name]
		sum := sha256.Sum256([]byte(data))
		if !ok || e.Size != len(data) || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("manifest entry %+v does not describe the bundle's %s (%d bytes)", e, e.Name, len(data))
		}
		if line := fmt.Sprintf("  %s  %d  %s  ", e.Name, len(data), hex.EncodeToString(sum[:])); !strings.Contains(idx, line) {
			t.Errorf("index.txt lacks %q", line)
		}
	}
	if want := b.names[:len(b.names)-2]; !slices.Equal(listed, want) {
		t.Errorf("manifest lists %q, want %q", listed, want)
	}
	if len(m.Missing) != len(res.Missing) {
		t.Errorf("manifest missing %+v, Result.Missing %q", m.Missing, res.Missing)
	}
	if m.Enmei["version"] == nil || m.Time.IsZero() || m.Host == "" {
		t.Errorf("manifest header %+v", m)
	}
}

// debRoot builds a Debian 12 scratch root with secrets planted in apt's
// sources, auth.conf (both forms), apt.conf.d (flat and nested), and the
// logs.
func debRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
	write(t, root, "etc/debian_version", "12.5\n")
	write(t, root, "var/lib/dpkg/status", `Package: openssh-server
Status: install ok installed
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u2
Description: secure shell (SSH) server

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
`)
	write(t, root, "etc/apt/sources.list", "# main archive\ndeb http://deb.debian.org/debian bookworm main\n"+
		"deb [signed-by=/etc/apt/keyrings/x.gpg] https://u:PLANTED-SECRET-20@private.example.com/debian bookworm main # inline credentials\n")
	write(t, root, "etc/apt/sources.list.d/enmei.sources", `# Written by enmei register; enmei unregister removes it.

# Debian 10 ELS
Types: deb
URIs: https://enmei.example.jp/deb/p1
Suites: buster
Components: main
Signed-By: /etc/apt/keyrings/enmei.gpg
X-Access-Token: PLANTED-SECRET-21
`)
	write(t, root, "etc/apt/auth.conf", "machine private.example.com\nlogin u\npassword PLANTED-SECRET-4\n# old:\n"+
		"machine https://enmei.example.jp/deb/p1 login h-0002 password PLANTED-SECRET-22\n")
	write(t, root, "etc/apt/auth.conf.d/enmei.conf", "machine https://enmei.example.jp/deb/p2 login h-0002 password PLANTED-SECRET-23\n")
	write(t, root, "etc/apt/apt.conf.d/80enmei", "// Written by enmei register; enmei unregister removes it.\n"+
		"Acquire::http::Proxy::enmei.example.jp \"http://user:PLANTED-SECRET-2@proxy:3128\";\n"+
		"Acquire::https::enmei.example.jp::CaInfo \"/etc/enmei/ca.pem\";\n")
	write(t, root, "etc/apt/apt.conf.d/90nested", `Acquire {
  http {
    Proxy "http://carol:PLANTED-SECRET-24@proxy2:3128";   // nested form
    Timeout "30";
  };
  https::SslKey "/etc/ssl/private/client.key";
};
/* a comment */
DPkg::Pre-Invoke { "echo one"; "echo two"; };
#clear APT::Update::Post-Invoke;
`)
	write(t, root, "etc/apt/apt.conf.d/99broken", "Acquire::http::Proxy \"http://eve:PLANTED-SECRET-25@proxy:3128;\n")
	write(t, root, "var/log/apt/history.log", "\nStart-Date: 2026-01-02  10:00:00\n"+
		"Commandline: apt-get -o Acquire::http::Proxy=http://dave:PLANTED-SECRET-26@proxy:3128 upgrade\n"+
		"Upgrade: openssh-server:amd64 (1:9.2p1-2+deb12u1, 1:9.2p1-2+deb12u2)\nEnd-Date: 2026-01-02  10:00:09\n")
	write(t, root, "var/log/apt/term.log", "Log started: 2026-01-02  10:00:00\nSetting up openssh-server (1:9.2p1-2+deb12u2) ...\n")
	write(t, root, "var/log/dpkg.log", "2026-01-02 10:00:05 status installed openssh-server:amd64 1:9.2p1-2+deb12u2\n"+
		"2026-01-02 10:00:06 licence PLANTED%2FSECRET%3D27 checked\n")
	return root
}

// TestDebianHost: the same promises on a Debian host, with apt's formats.
func TestDebianHost(t *testing.T) {
	root := debRoot(t)
	out := t.TempDir()
	res, err := Create(context.Background(), Options{Root: root, OutDir: out, Now: now, Hostname: "deb host/1",
		Secrets: []string{"PLANTED/SECRET=27"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "deb_host_1.enmei.20260102150405.tar.gz"); res.Path != want {
		t.Errorf("Path = %s, want %s", res.Path, want)
	}
	b := open(t, res.Path)
	b.noLeak(t, planted...)

	hasLines(t, "debian_version", b.entry(t, "etc/debian_version"), "12.5")
	hasLines(t, "packages.txt", b.entry(t, "packages.txt"),
		"# 2 deb packages from /var/lib/dpkg/status: name epoch:version arch",
		"base-files 0:12.4+deb12u5 amd64",
		"openssh-server 1:9.2p1-2+deb12u2 amd64")
	hasLines(t, "sources.list", b.entry(t, "etc/apt/sources.list"),
		"deb http://deb.debian.org/debian bookworm main",
		"deb [signed-by=/etc/apt/keyrings/x.gpg] https://u:<redacted>@private.example.com/debian bookworm main")
	hasLines(t, "enmei.sources", b.entry(t, "etc/apt/sources.list.d/enmei.sources"),
		"Types: deb", "URIs: https://enmei.example.jp/deb/p1", "Suites: buster", "Signed-By: /etc/apt/keyrings/enmei.gpg",
		"X-Access-Token: <redacted>")
	hasLines(t, "auth.conf", b.entry(t, "etc/apt/auth.conf"),
		"machine private.example.com login u password <redacted>",
		"machine https://enmei.example.jp/deb/p1 login h-0002 password <redacted>")
	hasLines(t, "auth.conf.d/enmei.conf", b.entry(t, "etc/apt/auth.conf.d/enmei.conf"),
		"machine https://enmei.example.jp/deb/p2 login h-0002 password <redacted>")
	hasLines(t, "80enmei", b.entry(t, "etc/apt/apt.conf.d/80enmei"),
		`Acquire::http::Proxy::enmei.example.jp "http://user:<redacted>@proxy:3128";`,
		`Acquire::https::enmei.example.jp::CaInfo "/etc/enmei/ca.pem";`)
	hasLines(t, "90nested", b.entry(t, "etc/apt/apt.conf.d/90nested"),
		`Acquire::http::Proxy "http://carol:<redacted>@proxy2:3128";`,
		`Acquire::http::Timeout "30";`,
		`Acquire::https::SslKey "<redacted>";`,
		`DPkg::Pre-Invoke:: "echo one";`,
		`DPkg::Pre-Invoke:: "echo two";`)
	if _, ok := b.entries["etc/apt/apt.conf.d/99broken"]; ok {
		t.Error("an apt.conf file that does not parse was included")
	}
	if !slices.ContainsFunc(res.Missing, func(m string) bool {
		return strings.HasPrefix(m, "/etc/apt/apt.conf.d/99broken: not apt.conf syntax enmei can read")
	}) {
		t.Errorf("Missing = %q, want 99broken", res.Missing)
	}
	hasLines(t, "history.log", b.entry(t, "logs/apt/history.log"),
		"Commandline: apt-get -o Acquire::http::Proxy=http://dave:<redacted>@proxy:3128 upgrade",
		"Upgrade: openssh-server:amd64 (1:9.2p1-2+deb12u1, 1:9.2p1-2+deb12u2)")
	hasLines(t, "term.log", b.entry(t, "logs/apt/term.log"), "Setting up openssh-server (1:9.2p1-2+deb12u2) ...")
	hasLines(t, "dpkg.log", b.entry(t, "logs/dpkg.log"),
		"2026-01-02 10:00:05 status installed openssh-server:amd64 1:9.2p1-2+deb12u2",
		"2026-01-02 10:00:06 licence <redacted> checked")
	for _, name := range []string{"enmei/host.json", "cluster/status.xml", "cluster/status.txt", "etc/redhat-release"} {
		if _, ok := b.entries[name]; ok {
			t.Errorf("the bundle has %s", name)
		}
	}
	checkIndex(t, b, res)
	idx := b.entry(t, "index.txt")
	for _, want := range []string{"cluster:    none (not in a cluster)", "  enmei state (this host is not registered)\n", "  /var/log/dnf.log\n"} {
		if !strings.Contains(idx, want) {
			t.Errorf("index.txt lacks %q:\n%s", want, idx)
		}
	}
}

// TestNoPackageDatabase: a database that cannot be read is missing, not a
// failure; the hostname falls back to this machine's.
func TestNoPackageDatabase(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/os-release", "ID=debian\n")
	res, err := Create(context.Background(), Options{Root: root, OutDir: t.TempDir(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Missing, func(m string) bool { return strings.HasPrefix(m, "installed packages: no rpm or dpkg database under") }) {
		t.Errorf("Missing = %q", res.Missing)
	}
	host, _ := os.Hostname()
	if want := safeName(host) + ".enmei.20260102150405.tar.gz"; filepath.Base(res.Path) != want {
		t.Errorf("Path = %s, want %s", res.Path, want)
	}
	if b := open(t, res.Path); slices.Contains(b.names, "packages.txt") {
		t.Error("packages.txt without a database")
	}
}

// TestErrorsLeaveNothing: a cancelled run, an unusable output directory
// and bad input fail with a clear error and leave no bundle and no
// temporary file.
func TestErrorsLeaveNothing(t *testing.T) {
	root := debRoot(t)

	t.Run("cancelled mid-way", func(t *testing.T) {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := Create(ctx, Options{Root: root, OutDir: out, Now: now, Cluster: func(context.Context) ([]byte, error) {
			cancel() // after the logs and packages, before the cluster status and the index
			return []byte("<crm_mon/>"), nil
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("the output directory holds %q after the error", names)
		}
	})

	t.Run("output directory is a file", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "enmei", "not a directory")
		_, err := Create(context.Background(), Options{Root: root, OutDir: filepath.Join(dir, "enmei"), Now: now})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "is not a directory: remove it or choose another directory with --out") {
			t.Errorf("err = %v", err)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"enmei"}) {
			t.Errorf("directory holds %q", names)
		}
	})

	t.Run("output directory cannot be created", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "file", "")
		_, err := Create(context.Background(), Options{Root: root, OutDir: filepath.Join(dir, "file", "enmei"), Now: now})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "choose another with --out") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("symbolic link owned by another user", func(t *testing.T) {
		if trustedOwner(4242, 1000) || !trustedOwner(1000, 1000) || !trustedOwner(0, 1000) {
			t.Error("trustedOwner trusts the wrong owners")
		}
		dir := t.TempDir()
		target := filepath.Join(dir, "elsewhere")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "enmei")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		// A link of one's own is followed.
		res, err := Create(context.Background(), Options{Root: root, OutDir: link, Now: now, Hostname: "h"})
		if err != nil || res.Path != filepath.Join(link, "h.enmei.20260102150405.tar.gz") {
			t.Fatalf("own link: %v, %s", err, res.Path)
		}
		if os.Geteuid() != 0 {
			t.Log("not root: cannot give the link another owner; trustedOwner is checked above")
			return
		}
		if err := os.Lchown(link, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		_, err = Create(context.Background(), Options{Root: root, OutDir: link, Now: now.Add(1e9), Hostname: "h"})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "is a symbolic link owned by another user (uid 4242)") {
			t.Errorf("err = %v", err)
		}
		if names := dirNames(t, target); len(names) != 1 {
			t.Errorf("the link's target holds %q, want only the first bundle", names)
		}
	})

	t.Run("no root", func(t *testing.T) {
		out := t.TempDir()
		_, err := Create(context.Background(), Options{Root: filepath.Join(out, "nope"), OutDir: out, Now: now})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cannot open the root") {
			t.Errorf("err = %v", err)
		}
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("the output directory holds %q", names)
		}
	})

	t.Run("bad extra entries", func(t *testing.T) {
		for _, name := range []string{"../x", "/abs", "a//b", "packages.txt", "etc/os-release", ""} {
			_, err := Create(context.Background(), Options{Root: root, OutDir: t.TempDir(), Now: now, Extra: map[string][]byte{name: nil}})
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("Extra %q: err = %v", name, err)
			}
		}
	})
}

// TestLimits: a long log keeps its last lines whole and says what was
// left out; once the total is used up, logs and history are left out and
// listed as missing.
func TestLimits(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/os-release", "ID=rhel\n")
	var log strings.Builder
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("line %02d https://u:PLANTED-SECRET-%02d@h/\n", i, i))
		log.WriteString(lines[i])
	}
	write(t, root, "var/log/dnf.log", log.String())
	write(t, root, "var/log/dnf.rpm.log", "short\n")
	write(t, root, "var/log/hawkey.log", "never\n")
	write(t, root, "var/lib/dnf/history.sqlite", strings.Repeat("x", 50))
	// 2.5 lines of dnf.log fit: the half line is dropped. The total then
	// has room for dnf.rpm.log and nothing more.
	line := len(lines[0])
	kept := 2 * line
	total := int64(kept + len("short\n"))
	o := Options{Root: root, OutDir: t.TempDir(), Now: now, Hostname: "h",
		lim: limits{config: 1 << 10, log: int64(kept + line/2), history: 1 << 10, total: total}}
	res, err := Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, res.Path)
	b.noLeak(t, planted...)
	want := fmt.Sprintf("[enmei support-bundle: the first %d bytes of /var/log/dnf.log are left out; this is its last %d bytes]\n"+
		"line 18 https://u:<redacted>@h/\nline 19 https://u:<redacted>@h/\n", log.Len()-kept, kept)
	if got := b.entry(t, "logs/dnf.log"); got != want {
		t.Errorf("logs/dnf.log =\n%q\nwant\n%q", got, want)
	}
	if got := b.entry(t, "logs/dnf.rpm.log"); got != "short\n" {
		t.Errorf("logs/dnf.rpm.log = %q", got)
	}
	for _, m := range []string{
		fmt.Sprintf("/var/log/hawkey.log: left out: the bundle's %d bytes for logs and history are used up", total),
		"/var/lib/dnf/history.sqlite: 50 bytes, more than the 0 bytes the bundle has left for it; left out",
	} {
		if !slices.Contains(res.Missing, m) {
			t.Errorf("Missing = %q, want %q", res.Missing, m)
		}
	}
}
