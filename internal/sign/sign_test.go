package sign

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSignaturesVerifyWithGnuPG checks every signature form against the real
// gpgv that apt uses, so a library change that breaks compatibility fails here.
func TestSignaturesVerifyWithGnuPG(t *testing.T) {
	gpgv, err := exec.LookPath("gpgv")
	if err != nil {
		t.Fatalf("gpgv is needed (apt-get install -y gpgv): %v", err)
	}
	k, err := Generate("enmei test", "test@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ArmoredPrivate()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ReadArmored(priv)
	if err != nil {
		t.Fatalf("ReadArmored(ArmoredPrivate()) = %v", err)
	}
	if k2.Fingerprint() != k.Fingerprint() {
		t.Fatalf("fingerprint after reload = %s, want %s", k2.Fingerprint(), k.Fingerprint())
	}
	dir := t.TempDir()
	pub, err := k.Public()
	if err != nil {
		t.Fatal(err)
	}
	keyring := filepath.Join(dir, "keyring.gpg")
	write(t, keyring, pub)
	data := []byte("Origin: enmei\nSuite: stable\n")
	write(t, filepath.Join(dir, "data"), data)

	det, err := k2.DetachSignArmored(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "data.asc"), det)
	bin, err := k2.DetachSign(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "data.sig"), bin)
	// Clear-signed messages are checked many times: before the checksum
	// fix, one in three failed in gpgv, depending on the signature's length.
	for i := 0; i < 30; i++ {
		clear, err := k2.ClearSign(append(data, fmt.Sprintf("Date: %d\n", i)...))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "InRelease"), clear)
		if out, err := exec.Command(gpgv, "--keyring", keyring, filepath.Join(dir, "InRelease")).CombinedOutput(); err != nil {
			t.Fatalf("gpgv InRelease #%d: %v\n%s\n%s", i, err, out, clear)
		}
	}

	for name, args := range map[string][]string{
		"armored detached": {filepath.Join(dir, "data.asc"), filepath.Join(dir, "data")},
		"binary detached":  {filepath.Join(dir, "data.sig"), filepath.Join(dir, "data")},
	} {
		cmd := exec.Command(gpgv, append([]string{"--keyring", keyring}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("gpgv %s: %v\n%s", name, err, out)
		}
	}
	// A tampered message must not verify.
	write(t, filepath.Join(dir, "data"), []byte("Origin: evil\n"))
	cmd := exec.Command(gpgv, "--keyring", keyring, filepath.Join(dir, "data.asc"), filepath.Join(dir, "data"))
	if err := cmd.Run(); err == nil {
		t.Error("gpgv accepted a signature over tampered data")
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
