package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Real os-release files (trimmed to the keys that matter, quoting kept).
const (
	almaRelease = `NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
`
	debianRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
`
)

func TestOSReleaseFamily(t *testing.T) {
	tests := []struct {
		name, osRelease, family, pretty string
	}{
		{"AlmaLinux 9", almaRelease, "rpm", "AlmaLinux 9.4 (Seafoam Ocelot)"},
		{"Rocky Linux 8", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.9\"\nPRETTY_NAME=\"Rocky Linux 8.9 (Green Obsidian)\"\n", "rpm", "Rocky Linux 8.9 (Green Obsidian)"},
		{"CentOS 7", "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n", "rpm", "CentOS Linux 7 (Core)"},
		{"Amazon Linux 2", "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n", "rpm", "Amazon Linux 2"},
		{"Oracle Linux 8", "NAME=\"Oracle Linux Server\"\nID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\nPRETTY_NAME=\"Oracle Linux Server 8.10\"\n", "rpm", "Oracle Linux Server 8.10"},
		{"RHEL 9 (ID only)", "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n", "rpm", ""},
		{"Debian 12", debianRelease, "deb", "Debian GNU/Linux 12 (bookworm)"},
		{"Ubuntu 22.04", "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n", "deb", "Ubuntu 22.04.4 LTS"},
		{"Linux Mint (ID_LIKE)", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "deb", ""},
		{"comments and blanks", "# a comment\n\n  ID='debian'  \n", "deb", ""},
		{"unknown", "ID=arch\nPRETTY_NAME=\"Arch Linux\"\n", "", "Arch Linux"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ParseOSRelease([]byte(tt.osRelease))
			got, err := r.Family()
			if got != tt.family || (tt.family == "") != (err != nil) {
				t.Errorf("Family() = %q, %v; want %q", got, err, tt.family)
			}
			if err != nil && !strings.Contains(err.Error(), "ID=") {
				t.Errorf("the error does not name the ID: %v", err)
			}
			if r.PrettyName != tt.pretty {
				t.Errorf("PrettyName = %q, want %q", r.PrettyName, tt.pretty)
			}
		})
	}
}

func TestReadOSRelease(t *testing.T) {
	root := t.TempDir()
	if _, err := readOSRelease(root); err == nil || !strings.Contains(err.Error(), "os-release") {
		t.Errorf("missing os-release: %v, want an error naming it", err)
	}
	// os-release(5): /usr/lib/os-release when /etc/os-release is absent.
	writeFile(t, filepath.Join(root, "usr/lib/os-release"), debianRelease)
	if r, err := readOSRelease(root); err != nil || r.ID != "debian" {
		t.Errorf("fallback to /usr/lib/os-release: %+v, %v", r, err)
	}
	writeFile(t, filepath.Join(root, "etc/os-release"), almaRelease)
	if r, err := readOSRelease(root); err != nil || r.ID != "almalinux" {
		t.Errorf("/etc/os-release first: %+v, %v", r, err)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseRedHatRelease(t *testing.T) {
	for _, c := range []struct {
		line, id, version string
		ok                bool
	}{
		{"CentOS release 6.10 (Final)\n", "centos", "6.10", true},
		{"CentOS release 5.11 (Final)", "centos", "5.11", true},
		{"Red Hat Enterprise Linux Server release 5.11 (Tikanga)", "rhel", "5.11", true},
		{"Enterprise Linux Enterprise Linux Server release 5.11 (Carthage)", "ol", "5.11", true},
		{"Scientific Linux release 6.10 (Carbon)", "scientific", "6.10", true},
		{"no release here", "", "", false},
		{"CentOS release (Final)", "", "", false},
	} {
		r, ok := ParseRedHatRelease([]byte(c.line))
		if ok != c.ok || r.ID != c.id || r.VersionID != c.version {
			t.Errorf("ParseRedHatRelease(%q) = %+v, %v; want %s %s %v", c.line, r, ok, c.id, c.version, c.ok)
		}
		if ok {
			if fam, err := r.Family(); err != nil || fam != FamilyRPM {
				t.Errorf("%q: family %q, %v", c.line, fam, err)
			}
		}
	}
}

// TestReadOSReleaseStaysInRoot: an absolute link in a scratch root is not
// followed to the machine's own os-release; /usr/lib/os-release is read
// instead, and a root with only /etc/redhat-release (EL5, EL6) works.
func TestReadOSReleaseStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte("ID=sles\nVERSION_ID=\"15.3\"\n"), 0o644)
	if err := os.Symlink("/usr/lib/os-release", filepath.Join(root, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	if r, err := readOSRelease(root); err != nil || r.ID != "sles" || r.VersionID != "15.3" {
		t.Errorf("absolute link: %+v, %v; want the root's sles 15.3", r, err)
	}
	old := t.TempDir()
	os.MkdirAll(filepath.Join(old, "etc"), 0o755)
	os.WriteFile(filepath.Join(old, "etc/redhat-release"), []byte("CentOS release 6.10 (Final)\n"), 0o644)
	if r, err := readOSRelease(old); err != nil || r.ID != "centos" || r.VersionID != "6.10" {
		t.Errorf("redhat-release only: %+v, %v", r, err)
	}
	if _, err := readOSRelease(t.TempDir()); err == nil {
		t.Error("a root with no release file was accepted")
	}
}
