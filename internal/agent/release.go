package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/advisory/scan"
)

// The package managers releaseTraits tells apart.
const (
	pmDNF = "dnf"
	pmYum = "yum"
	pmApt = "apt"
)

// traits is what a release's package manager understands and what the
// release lacks, for register (which files to write) and enmei preflight
// (what to tell the user before registering).
type traits struct {
	// Release names the release in sentences: "CentOS 6", "Ubuntu 16.04".
	Release string
	// PM is the package manager that reads the configuration: dnf (EL8 and
	// later, Fedora, Amazon Linux 2023), yum (EL6, EL7, Amazon Linux 2) or
	// apt.
	PM string
	// AptVersion is the apt installed in the root (from dpkg's status);
	// "" when dpkg does not list it, and then AptAuthD follows the apt the
	// release shipped.
	AptVersion string
	// AptAuthD: apt reads /etc/apt/auth.conf.d (apt 1.5 and later). When
	// false, register keeps the credentials in a managed block of
	// /etc/apt/auth.conf, which every apt since 0.7.25 reads.
	AptAuthD bool
	// Supported: enmei supports this release; Why says why not otherwise.
	Supported bool
	Why       string
	// Lacks are sentences on what this release lacks that the user should
	// know before registering (empty for a release that lacks nothing).
	Lacks []string
}

// supportedReleases is the list Why sentences name.
const supportedReleases = "CentOS and RHEL 6 to 9, AlmaLinux, Rocky Linux and Oracle Linux 8 and 9, Amazon Linux 2 and 2023, Ubuntu 16.04, 18.04, 20.04 and 22.04 LTS, Debian 10 to 12"

// releaseNames are how sentences name an os-release ID.
var releaseNames = map[string]string{
	"rhel": "RHEL", "centos": "CentOS", "almalinux": "AlmaLinux", "rocky": "Rocky Linux", "ol": "Oracle Linux",
	"amzn": "Amazon Linux", "fedora": "Fedora", "scientific": "Scientific Linux", "ubuntu": "Ubuntu", "debian": "Debian",
}

// supported lists, per os-release ID, the versions enmei supports: major
// versions for the RPM family and Debian, VERSION_ID for Ubuntu.
var supported = map[string][]string{
	"rhel": {"6", "7", "8", "9"}, "centos": {"6", "7", "8", "9"},
	"almalinux": {"8", "9"}, "rocky": {"8", "9"}, "ol": {"8", "9"},
	"amzn":   {"2", "2023"},
	"ubuntu": {"16.04", "18.04", "20.04", "22.04"},
	"debian": {"10", "11", "12"},
}

// shippedApt is the apt each supported Debian-family release shipped, for
// a root whose dpkg status does not list apt (a scratch root, an image
// being built): Ubuntu 16.04 has apt 1.2, 18.04 1.6, Debian 10 1.8.
var shippedApt = map[string]string{
	"ubuntu 14.04": "1.0.1", "ubuntu 16.04": "1.2.35", "ubuntu 18.04": "1.6.17", "ubuntu 20.04": "2.0.10", "ubuntu 22.04": "2.4.13",
	"debian 8": "1.0.9.8", "debian 9": "1.4.11", "debian 10": "1.8.2", "debian 11": "2.2.4", "debian 12": "2.6.1",
}

// aptAuthDSince is the first apt that reads /etc/apt/auth.conf.d. (Ubuntu
// later taught some 1.2 and 1.0 updates to read it too, for ESM; the
// managed block in auth.conf works with those as well, so comparing the
// version is safe either way.)
const aptAuthDSince = "1.5"

// releaseTraits tells, from the root's os-release and, on a Debian-family
// host, the apt in its dpkg status, which package manager reads enmei's
// configuration, whether enmei supports the release, and what the release
// lacks. An OS of neither family is not an error: its traits say it is not
// supported, and why. Only an unreadable dpkg status is.
func releaseTraits(root string, rel OSRelease) (traits, error) {
	t := traits{Release: releaseName(rel)}
	family, err := rel.Family()
	if err != nil {
		t.Why = oneSentence(err)
		return t, nil
	}
	id, ver := rel.ID, rel.VersionID
	major := majorVersion(ver)
	key := major
	if id == "ubuntu" {
		key = ver
	}
	for _, v := range supported[id] {
		if v == key {
			t.Supported = true
		}
	}
	if !t.Supported {
		t.Why = fmt.Sprintf("%s is not a release enmei supports; it supports %s", t.Release, supportedReleases)
	}

	if family == FamilyDeb {
		t.PM = pmApt
		if t.AptVersion, err = installedVersion(root, "apt"); err != nil {
			return t, err
		}
		apt := t.AptVersion
		if apt == "" {
			apt = shippedApt[id+" "+key]
		}
		// An apt of unknown age (a derivative, no dpkg status) is taken to
		// be current: that is what enmei wrote before it asked.
		t.AptAuthD = apt == "" || scan.CompareDeb(apt, aptAuthDSince) >= 0
		if !t.AptAuthD {
			shown := apt
			if t.AptVersion == "" {
				shown += " (the version " + t.Release + " shipped)"
			}
			t.Lacks = append(t.Lacks, fmt.Sprintf("apt %s reads no /etc/apt/auth.conf.d: the credentials are in a managed block of /etc/apt/auth.conf, which enmei unregister removes again", shown))
		}
		return t, nil
	}

	elish := id == "rhel" || id == "centos" || id == "ol" || id == "scientific" || (id != "fedora" && id != "amzn" && strings.Contains(" "+rel.IDLike+" ", " rhel "))
	n, _ := strconv.Atoi(major)
	switch {
	case id == "amzn" && major == "2":
		t.PM = pmYum
	case elish && n >= 1 && n <= 7:
		t.PM = pmYum
	default:
		t.PM = pmDNF
	}
	if elish && n == 6 {
		// Go 1.24 and later need Linux 3.2; EL6 runs 2.6.32.
		t.Lacks = append(t.Lacks,
			fmt.Sprintf("%s: the agent cannot run on its kernel 2.6.32 (enmei needs Linux 3.2 or later): register with the server's /register.sh instead (curl -s SERVER/register.sh | sh -s -- --key-file FILE), which writes the same yum configuration", t.Release))
		if _, err := os.Stat(filepath.Join(root, "etc/machine-id")); err != nil {
			t.Lacks = append(t.Lacks, fmt.Sprintf("%s has no /etc/machine-id: the machine identity is read from /var/lib/dbus/machine-id (dbus-uuidgen --ensure creates it)", t.Release))
		}
	}
	if t.PM == pmYum {
		// yum 3 (3.2.29 on EL6, 3.4.3 on EL7 and Amazon Linux 2) checks
		// repo_gpgcheck through pygpgme, a dependency of yum there, so
		// repo_gpgcheck=1 stays. Unlike dnf, which imports the keys listed
		// in gpgkey= into a repository's keyring by itself, yum asks
		// before it does, and unattended runs answer no.
		t.Lacks = append(t.Lacks, "yum 3 asks before it imports the signing key that repo_gpgcheck needs: run yum -y makecache once after registering, before unattended updates (yum-cron) read the repositories")
		if id != "amzn" {
			// urlgrabber hands proxy= to libcurl, which learnt https://
			// proxies in 7.52; EL6 has 7.19.7, EL7 7.29.0 (Amazon Linux
			// 2's is newer).
			t.Lacks = append(t.Lacks, fmt.Sprintf("yum on %s cannot use an https:// proxy (its libcurl is older than 7.52): give enmei register the proxy's http:// address", t.Release))
		}
	}
	return t, nil
}

// releaseName is "CentOS 6" for os-release's ID and VERSION_ID.
func releaseName(rel OSRelease) string {
	name, ok := releaseNames[rel.ID]
	if !ok {
		name = rel.ID
		if name == "" {
			name = "this OS"
		}
	}
	v := rel.VersionID
	if rel.ID != "ubuntu" && rel.ID != "amzn" {
		v = majorVersion(v)
	}
	if v == "" {
		return name
	}
	return name + " " + v
}

// majorVersion is VERSION_ID up to its first dot ("6.10" → "6").
func majorVersion(v string) string {
	major, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	return major
}

// installedVersion is the version of an installed package in the root's
// dpkg status, "" when dpkg does not list it as installed or there is no
// dpkg status.
func installedVersion(root, pkg string) (string, error) {
	f, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the dpkg status: %w", err)
	}
	defer f.Close()
	var name, status, version string
	found := ""
	end := func() {
		if name == pkg && strings.HasSuffix(status, " installed") {
			found = version
		}
		name, status, version = "", "", ""
	}
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			end()
		} else if k, v, ok := strings.Cut(line, ":"); ok && line[0] != ' ' && line[0] != '\t' {
			switch k {
			case "Package":
				name = strings.TrimSpace(v)
			case "Status":
				status = strings.TrimSpace(v)
			case "Version":
				version = strings.TrimSpace(v)
			}
		}
		if err == io.EOF {
			end()
			return found, nil
		}
		if err != nil {
			return "", fmt.Errorf("reading the dpkg status: %w", err)
		}
		if found != "" {
			return found, nil
		}
	}
}
