package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// The package-manager families register configures.
const (
	FamilyRPM = "rpm"
	FamilyDeb = "deb"
)

// OSRelease is the part of os-release(5) the agent uses.
type OSRelease struct {
	ID, IDLike, VersionID, PrettyName string
}

// ParseOSRelease reads os-release(5) text; unknown keys and malformed lines are ignored.
func ParseOSRelease(data []byte) OSRelease {
	var r OSRelease
	// Split lines ourselves: bufio.Scanner stops at the first line over
	// 64 KiB, silently dropping every key after it.
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch k {
		case "ID":
			r.ID = strings.ToLower(v)
		case "ID_LIKE":
			r.IDLike = strings.ToLower(v)
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	return r
}

// unquote removes os-release's shell-style quotes.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if s, err := strconv.Unquote(v); err == nil {
			return s
		}
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}

var (
	rpmIDs = []string{"rhel", "centos", "fedora", "almalinux", "rocky", "ol", "amzn"}
	debIDs = []string{"debian", "ubuntu"}
)

// Family is FamilyRPM or FamilyDeb: which package manager the host uses,
// judged from ID first, then ID_LIKE.
func (r OSRelease) Family() (string, error) {
	ids := append([]string{r.ID}, strings.Fields(r.IDLike)...)
	for _, id := range ids {
		for _, want := range rpmIDs {
			if id == want {
				return FamilyRPM, nil
			}
		}
		for _, want := range debIDs {
			if id == want {
				return FamilyDeb, nil
			}
		}
	}
	return "", errs.E(errs.Invalid, "this host's OS (ID=%q) is neither of the RPM family (RHEL, AlmaLinux, Rocky Linux, CentOS, Oracle Linux, Amazon Linux, Fedora) nor Debian or Ubuntu: enmei can only configure dnf/yum or apt", r.ID)
}

// readOSRelease reads <root>/etc/os-release, falling back to
// /usr/lib/os-release as os-release(5) says, and on hosts older than
// os-release (RHEL and CentOS 5 and 6) to /etc/redhat-release. Links are
// followed only inside root: an absolute link in a scratch root must not
// read the os-release of the machine running enmei.
func readOSRelease(root string) (OSRelease, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return OSRelease{}, errs.E(errs.Invalid, "cannot open the root %s: %v: check --root", root, err)
	}
	defer r.Close()
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := r.ReadFile(p)
		if err == nil {
			return ParseOSRelease(data), nil
		}
	}
	for _, p := range []string{"etc/redhat-release", "etc/centos-release"} {
		data, err := r.ReadFile(p)
		if err == nil {
			if rel, ok := ParseRedHatRelease(data); ok {
				return rel, nil
			}
		}
	}
	return OSRelease{}, errs.E(errs.Invalid, "cannot read %s: enmei needs it to tell an RPM host from a Debian one; check --root or install the OS's release package", filepath.Join(root, "etc/os-release"))
}

// ParseRedHatRelease reads the one line of /etc/redhat-release ("CentOS
// release 6.10 (Final)", "Red Hat Enterprise Linux Server release 5.11
// (Tikanga)") into what os-release would say; ok is false when the line
// names no release.
func ParseRedHatRelease(data []byte) (OSRelease, bool) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	before, after, ok := strings.Cut(line, " release ")
	if !ok {
		return OSRelease{}, false
	}
	version, _, _ := strings.Cut(strings.TrimSpace(after), " ")
	if version == "" || version[0] < '0' || version[0] > '9' {
		return OSRelease{}, false
	}
	rel := OSRelease{IDLike: "rhel fedora", VersionID: version, PrettyName: line}
	switch name := strings.ToLower(before); {
	case strings.Contains(name, "centos"):
		rel.ID = "centos"
	case strings.Contains(name, "red hat"):
		rel.ID, rel.IDLike = "rhel", "fedora"
	case strings.Contains(name, "oracle") || strings.Contains(name, "enterprise linux enterprise linux"):
		rel.ID = "ol"
	case strings.Contains(name, "scientific"):
		rel.ID = "scientific"
	default:
		rel.ID = strings.ToLower(strings.Fields(before + " rhel")[0])
	}
	return rel, true
}
