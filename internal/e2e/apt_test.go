package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// TestAPT: register a scratch Debian root and use the real apt-get with the
// sources, keyring and credentials `enmei register` wrote: update verifies
// InRelease with the installed keyring, download fetches the package over
// HTTP Basic, and a tampered keyring makes update fail.
func TestAPT(t *testing.T) {
	v, c := demoVendor(t, "deb12", 3)

	h := newHost(t, debianRelease, machineID(900))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	for path, mode := range map[string]os.FileMode{
		"etc/apt/auth.conf.d/enmei.conf": 0o600, "etc/enmei/host.json": 0o600,
		"etc/apt/sources.list.d/enmei.sources": 0o644, "etc/apt/keyrings/enmei.gpg": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(h.root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	sources, err := os.ReadFile(filepath.Join(h.root, "etc/apt/sources.list.d/enmei.sources"))
	must(t, err)
	if !strings.Contains(string(sources), "Signed-By: /etc/apt/keyrings/enmei.gpg") {
		t.Errorf("enmei.sources lacks Signed-By:\n%s", sources)
	}

	ctx := context.Background()
	apt := aptroot.New(t, h.root)
	if out, err := apt.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	path, err := apt.Download(ctx, "enmei-demo-hello")
	if err != nil {
		t.Fatalf("apt-get download: %v", err)
	}
	got, err := os.ReadFile(path)
	must(t, err)
	files, err := demo.Files("deb")
	must(t, err)
	want := ""
	for name, data := range files {
		if strings.HasPrefix(name, "enmei-demo-hello_") {
			sum := sha256.Sum256(data)
			want = hex.EncodeToString(sum[:])
		}
	}
	gotSum := sha256.Sum256(got)
	if hex.EncodeToString(gotSum[:]) != want {
		t.Errorf("downloaded enmei-demo-hello differs from the published file")
	}

	// Another host whose keyring holds a key that did not sign the repository.
	bad := newHost(t, debianRelease, machineID(901))
	bad.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	k, err := os.ReadFile(filepath.Join(h.root, "etc/apt/keyrings/enmei.gpg"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(bad.root, "etc/apt/keyrings/enmei.gpg"), wrongKeyBinary(t, k), 0o644))
	if out, err := aptroot.New(t, bad.root).AptGet(ctx, "update"); err == nil {
		t.Errorf("apt-get update accepted a repository signed by a key not in the keyring:\n%s", out)
	}
}
