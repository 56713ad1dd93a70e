package agent

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// OSRelease is the part of /etc/os-release the agent uses.
type OSRelease struct {
	ID, IDLike, VersionID, PrettyName string
}

// ParseOSRelease reads os-release(5) text.
func ParseOSRelease(data []byte) OSRelease {
	var r OSRelease
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			r.ID = v
		case "ID_LIKE":
			r.IDLike = v
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	return r
}

var (
	rpmIDs = []string{"rhel", "centos", "fedora", "almalinux", "rocky", "ol", "amzn"}
	debIDs = []string{"debian", "ubuntu"}
)

// Family is "rpm" or "deb": which package manager the host uses.
func (r OSRelease) Family() (string, error) {
	ids := append([]string{r.ID}, strings.Fields(r.IDLike)...)
	for _, id := range ids {
		for _, want := range rpmIDs {
			if id == want {
				return "rpm", nil
			}
		}
		for _, want := range debIDs {
			if id == want {
				return "deb", nil
			}
		}
	}
	return "", errs.E(errs.Invalid, "this host's OS (ID=%q) is neither an RPM family (RHEL, AlmaLinux, Rocky, CentOS, Oracle Linux, Amazon Linux) nor Debian/Ubuntu, which enmei supports", r.ID)
}

func readOSRelease(root string) (OSRelease, error) {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err == nil {
			return ParseOSRelease(data), nil
		}
	}
	return OSRelease{}, errs.E(errs.Invalid, "cannot read %s: enmei needs it to know the host's OS", filepath.Join(root, "etc/os-release"))
}

// MachineIdentity is what the server sees of /etc/machine-id: a digest, since
// systemd asks that the raw ID be kept confidential. The same machine always
// yields the same value, so re-registering reuses its seat.
func MachineIdentity(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "etc/machine-id"))
	id := strings.TrimSpace(string(data))
	if err != nil || id == "" {
		return "", errs.E(errs.Invalid, "this host has no machine identity in %s: run systemd-machine-id-setup (or dbus-uuidgen --ensure=/etc/machine-id) first", filepath.Join(root, "etc/machine-id"))
	}
	sum := sha256.Sum256([]byte("enmei-machine-id:" + id))
	return hex.EncodeToString(sum[:]), nil
}

func hostname(root string) string {
	if data, err := os.ReadFile(filepath.Join(root, "etc/hostname")); err == nil {
		if h := strings.TrimSpace(string(data)); h != "" {
			return h
		}
	}
	if root == "/" {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return fmt.Sprintf("unnamed-%d", os.Getpid()%1000)
}
