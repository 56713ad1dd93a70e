package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

var (
	keyOnce sync.Once
	keyA    *sign.Key
	keyB    *sign.Key
	keyErr  error
)

func keys(t testing.TB) (*sign.Key, *sign.Key) {
	keyOnce.Do(func() {
		keyA, keyErr = sign.Generate("deb test A", "a@example.com", time.Now())
		if keyErr == nil {
			keyB, keyErr = sign.Generate("deb test B", "b@example.com", time.Now())
		}
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyA, keyB
}

func debs(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := demo.Files("deb")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestInspect compares Inspect with dpkg-deb and the file's own checksum.
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	for name, data := range debs(t) {
		info, err := Inspect(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Inspect(%s): %v", name, err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		out, err := exec.Command("dpkg-deb", "-f", p, "Package", "Version", "Architecture").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", info.Package, info.Version, info.Architecture)
		if string(out) != want {
			t.Errorf("Inspect(%s) = %+v; dpkg-deb says %q", name, info, out)
		}
		sum := sha256.Sum256(data)
		if info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) {
			t.Errorf("Inspect(%s) checksum/size = %s/%d", name, info.SHA256, info.Size)
		}
		if info.Filename() != name {
			t.Errorf("Filename() = %s, want %s", info.Filename(), name)
		}
	}
}

// TestInspectRefusesBadInput: truncated, foreign and incomplete files.
func TestInspectRefusesBadInput(t *testing.T) {
	var good []byte
	for name, data := range debs(t) {
		if strings.HasPrefix(name, "enmei-demo-hello") {
			good = data
		}
	}
	cases := map[string][]byte{
		"empty":          nil,
		"text":           []byte("not a package\n"),
		"rpm":            append([]byte{0xed, 0xab, 0xee, 0xdb}, make([]byte, 200)...),
		"magic only":     []byte("!<arch>\n"),
		"cut in control": good[:150],
		"cut in data":    good[:len(good)-20],
		"no data member": onlyMembers(t, good, "debian-binary", "control.tar.gz"),
		"no control":     onlyMembers(t, good, "debian-binary", "data.tar.gz"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Inspect(bytes.NewReader(data)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Inspect(%s) = %v, want ErrInvalid", name, err)
			}
		})
	}
}

// onlyMembers rebuilds an ar archive keeping the named members.
func onlyMembers(t *testing.T, deb []byte, keep ...string) []byte {
	out := []byte("!<arch>\n")
	rest := deb[8:]
	for len(rest) >= 60 {
		name := strings.TrimRight(strings.TrimSpace(string(rest[:16])), "/")
		var size int
		fmt.Sscan(strings.TrimSpace(string(rest[48:58])), &size)
		end := 60 + size + size%2
		for _, k := range keep {
			if name == k || strings.HasPrefix(name, k) {
				out = append(out, rest[:end]...)
			}
		}
		rest = rest[end:]
	}
	return out
}

// TestIndexWithAPT: real apt-get verifies InRelease with the keyring, sends
// auth.conf.d credentials, and downloads packages of both architectures.
func TestIndexWithAPT(t *testing.T) {
	a, b := keys(t)
	repo := t.TempDir()
	var entries [][]byte
	files := debs(t)
	for _, data := range files {
		info, err := Inspect(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		pool := PoolPath("main", info)
		os.MkdirAll(filepath.Join(repo, filepath.Dir(pool)), 0o755)
		os.WriteFile(filepath.Join(repo, pool), data, 0o644)
		entries = append(entries, Entry(info, pool))
	}
	write := func(k *sign.Key) {
		idx, err := Index(IndexOptions{Origin: "enmei", Label: "test", Suite: "bookworm", Component: "main"}, entries, k, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range idx {
			os.MkdirAll(filepath.Join(repo, filepath.Dir(f.Path)), 0o755)
			os.WriteFile(filepath.Join(repo, f.Path), f.Data, 0o644)
		}
	}
	write(a)
	fs := http.FileServer(http.Dir(repo))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "host" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		http.StripPrefix("/repos/r", fs).ServeHTTP(w, r)
	}))
	defer srv.Close()

	setup := func(root string, k *sign.Key) *aptroot.Root {
		ar := aptroot.New(t, root)
		pub, _ := k.Public()
		os.WriteFile(filepath.Join(root, "etc/apt/keyrings/enmei.gpg"), pub, 0o644)
		os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/enmei.sources"), []byte(
			"Types: deb\nURIs: "+srv.URL+"/repos/r/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/enmei.gpg\n"), 0o644)
		os.WriteFile(filepath.Join(root, "etc/apt/auth.conf.d/enmei.conf"), []byte(
			"machine "+srv.URL+"/repos/r/ login host password s3cret\n"), 0o600)
		return ar
	}
	ctx := context.Background()
	ar := setup(t.TempDir(), a)
	if out, err := ar.AptGet(ctx, "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	for _, pkg := range []string{"enmei-demo-hello", "enmei-demo-doc", "enmei-demo-lib"} {
		p, err := ar.Download(ctx, pkg)
		if err != nil {
			t.Fatalf("download %s: %v", pkg, err)
		}
		got, _ := os.ReadFile(p)
		var want []byte
		for name, data := range files {
			if strings.HasPrefix(name, pkg+"_") {
				want = data
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("downloaded %s differs from the published file", filepath.Base(p))
		}
	}
	out, err := ar.AptCache(ctx, "policy", "enmei-demo-lib")
	if err != nil || !strings.Contains(out, "1:1.0-1") {
		t.Errorf("apt-cache policy enmei-demo-lib: %v\n%s", err, out)
	}

	// Trusting another key: update must fail.
	bad := setup(t.TempDir(), b)
	if out, err := bad.AptGet(ctx, "update"); err == nil {
		t.Errorf("apt-get update accepted a Release signed by an untrusted key:\n%s", out)
	}
}

// TestEmptyIndex: a repository with no packages is valid for apt.
func TestEmptyIndex(t *testing.T) {
	a, _ := keys(t)
	idx, err := Index(IndexOptions{Suite: "s", Component: "main"}, nil, a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range idx {
		names = append(names, f.Path)
	}
	for _, want := range []string{"dists/s/InRelease", "dists/s/main/binary-amd64/Packages.xz", "dists/s/main/binary-arm64/Packages"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("empty index lacks %s: %v", want, names)
		}
	}
}

func BenchmarkIndex20000(b *testing.B) {
	a, _ := keys(b)
	entries := make([][]byte, 20000)
	for i := range entries {
		entries[i] = []byte(fmt.Sprintf("Package: bench-%05d\nVersion: 1.0-%d\nArchitecture: amd64\nMaintainer: enmei <x@example.com>\nInstalled-Size: 123\nDepends: libc6 (>= 2.36), bench-base\nSection: misc\nPriority: optional\nDescription: benchmark package %d\n a longer description line that is typical of Debian packages\nFilename: pool/main/b/bench-%05d/bench-%05d_1.0-1_amd64.deb\nSize: 12345\nMD5sum: %032x\nSHA1: %040x\nSHA256: %064x\n", i, i, i, i, i, i, i, i))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := Index(IndexOptions{Suite: "s", Component: "main"}, entries, a, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestControlCannotForgeTheIndex: a control paragraph is copied into the
// signed Packages index, so one that would forge archive fields, start a
// second stanza or break apt's parser is refused.
func TestControlCannotForgeTheIndex(t *testing.T) {
	good := "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nDescription: hi\n there\n .\n more\n"
	if _, err := parseControl([]byte(good)); err != nil {
		t.Fatalf("parseControl(good) = %v", err)
	}
	for name, ctl := range map[string]string{
		"forged checksum":      good + "SHA256: 0000\n",
		"forged filename":      good + "Filename: pool/main/e/evil/evil.deb\n",
		"lower-case forgery":   good + "size: 1\n",
		"second stanza":        good + " \nPackage: evil\nVersion: 1\nArchitecture: amd64\n",
		"tab-only line":        good + "\t\nPackage: evil\n",
		"duplicate field":      good + "Version: 2.0\n",
		"line without a field": good + "Filename pool/x\n",
		"control character":    "Package: hello\x1b[2J\nVersion: 1\nArchitecture: amd64\n",
		"comment-like field":   good + "#Note: x\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseControl([]byte(ctl)); !errors.Is(err, ErrInvalid) {
				t.Errorf("parseControl(%q) = %v, want ErrInvalid", ctl, err)
			}
		})
	}
}
