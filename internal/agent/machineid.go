package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// MachineIdentity is what the server sees of <root>/etc/machine-id: a digest,
// since machine-id(5) asks that the raw ID be kept confidential. The same
// machine always yields the same value, so registering again reuses its seat.
// Hosts older than systemd (EL6) have only D-Bus's /var/lib/dbus/machine-id,
// of the same form, which is read then; register.sh computes the same digest
// from the same files. Links are followed only inside root.
func MachineIdentity(root string) (string, error) {
	id := ""
	if r, err := os.OpenRoot(root); err == nil {
		for _, p := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
			data, err := r.ReadFile(p)
			if v := strings.TrimSpace(string(data)); err == nil && v != "" && v != "uninitialized" {
				id = v
				break
			}
		}
		r.Close()
	}
	if id == "" {
		return "", errs.E(errs.Invalid, "this host has no machine identity in %s (nor in /var/lib/dbus/machine-id): run systemd-machine-id-setup (or dbus-uuidgen --ensure=/etc/machine-id) and register again", filepath.Join(root, "etc/machine-id"))
	}
	sum := sha256.Sum256([]byte("enmei-machine-id:" + id))
	return hex.EncodeToString(sum[:]), nil
}

// hostname is <root>/etc/hostname, else the kernel's host name; it only
// helps the vendor tell hosts apart in the contract view.
func hostname(root string) string {
	if data, err := os.ReadFile(filepath.Join(root, "etc/hostname")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if h := strings.TrimSpace(line); h != "" && !strings.HasPrefix(h, "#") {
				return h
			}
		}
	}
	h, _ := os.Hostname()
	return h
}
