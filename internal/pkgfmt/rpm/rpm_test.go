package rpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/sign"
)

var (
	keyOnce sync.Once
	keyA    *sign.Key
	keyB    *sign.Key
	keyErr  error
)

func keys(t testing.TB) (*sign.Key, *sign.Key) {
	t.Helper()
	keyOnce.Do(func() {
		keyA, keyErr = sign.Generate("test A", "a@example.com", time.Now())
		if keyErr == nil {
			keyB, keyErr = sign.Generate("test B", "b@example.com", time.Now())
		}
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyA, keyB
}

// specs covers the three payload compressors, an epoch, a dependency and a
// Japanese summary.
func specs() []demo.Spec {
	out := demo.Catalogue()
	out = append(out, demo.Spec{Name: "enmei-test-etc", Version: "2.5", Release: "3.el9_10.tuxcare.els1", Arch: "x86_64",
		Summary: "テスト用パッケージ <&>", Description: "quotes \" and 'apostrophes'", Depends: []string{"enmei-demo-lib >= 1.0"},
		Files:       map[string]string{"/etc/enmei-test.conf": "a=1\n", "/usr/sbin/enmei-test": "#!/bin/sh\n", "/usr/share/enmei-test/x": "x"},
		Compression: "xz"})
	return out
}

func signFile(t *testing.T, in []byte, key *sign.Key) ([]byte, *Header) {
	t.Helper()
	var out bytes.Buffer
	h, err := Sign(bytes.NewReader(in), &out, key)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out.Bytes(), h
}

// rpmdb makes a scratch rpm database trusting the given keys.
func rpmdb(t *testing.T, ks ...*sign.Key) string {
	t.Helper()
	db := t.TempDir()
	for i, k := range ks {
		pub, err := k.ArmoredPublic()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(db, "key"+string(rune('0'+i))+".asc")
		os.WriteFile(p, pub, 0o644)
		if out, err := exec.Command("rpm", "--dbpath", db, "--import", p).CombinedOutput(); err != nil {
			t.Fatalf("rpm --import: %v\n%s", err, out)
		}
	}
	return db
}

// TestSignVerifiedByRPM: every signed package passes the real `rpm -K`
// with our key, and its fields read back right.
func TestSignVerifiedByRPM(t *testing.T) {
	a, _ := keys(t)
	db := rpmdb(t, a)
	dir := t.TempDir()
	for _, s := range specs() {
		t.Run(s.Name, func(t *testing.T) {
			raw, err := demo.RPM(s)
			if err != nil {
				t.Fatal(err)
			}
			signed, h := signFile(t, raw, a)
			p := filepath.Join(dir, h.Filename())
			os.WriteFile(p, signed, 0o644)
			out, err := exec.Command("rpm", "--dbpath", db, "-Kv", p).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "RSA/SHA256 Signature, key ID "+a.KeyID()[8:]+": OK") {
				t.Fatalf("rpm -Kv %s: %v\n%s", p, err, out)
			}
			q, err := exec.Command("rpm", "--dbpath", db, "-qp", "--qf", "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{SUMMARY}", p).CombinedOutput()
			if err != nil {
				t.Fatalf("rpm -qp: %v %s", err, q)
			}
			want := strings.Join([]string{s.Name, itoa(s.Epoch), s.Version, s.Release, s.Summary}, "|")
			if string(q) != want {
				t.Errorf("rpm -qp = %q, want %q", q, want)
			}
			if h.HasEpoch != (s.Epoch != 0) || h.Summary != s.Summary {
				t.Errorf("Header = epoch %v/%d summary %q", h.HasEpoch, h.Epoch, h.Summary)
			}
		})
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i))) }

// TestResignReplacesSignature: a package signed by A, re-signed by B,
// verifies with only B trusted and not with only A.
func TestResignReplacesSignature(t *testing.T) {
	a, b := keys(t)
	raw, err := demo.RPM(demo.Catalogue()[1])
	if err != nil {
		t.Fatal(err)
	}
	byA, _ := signFile(t, raw, a)
	byB, _ := signFile(t, byA, b)
	p := filepath.Join(t.TempDir(), "x.rpm")
	os.WriteFile(p, byB, 0o644)
	if out, err := exec.Command("rpm", "--dbpath", rpmdb(t, b), "-K", p).CombinedOutput(); err != nil {
		t.Errorf("re-signed by B, B trusted: %v\n%s", err, out)
	}
	out, err := exec.Command("rpm", "--dbpath", rpmdb(t, a), "-Kv", p).CombinedOutput()
	if err == nil || strings.Contains(string(out), "key ID "+a.KeyID()[8:]+": OK") {
		t.Errorf("re-signed by B still verifies with A:\n%s", out)
	}
}

// TestSignRefusesBadInput: damaged and foreign files are ErrInvalid.
func TestSignRefusesBadInput(t *testing.T) {
	a, _ := keys(t)
	raw, err := demo.RPM(demo.Catalogue()[0])
	if err != nil {
		t.Fatal(err)
	}
	deb, err := demo.Deb(demo.Catalogue()[0])
	if err != nil {
		t.Fatal(err)
	}
	flipPayload := bytes.Clone(raw)
	flipPayload[len(flipPayload)-50] ^= 0x55
	flipHeader := bytes.Clone(raw)
	flipHeader[len(raw)/4] ^= 0x55
	src := bytes.Clone(raw)
	src[7] = 1
	cases := map[string][]byte{
		"empty":              nil,
		"text":               []byte("hello, I am not a package\n"),
		"deb":                deb,
		"truncated lead":     raw[:50],
		"truncated header":   raw[:300],
		"truncated payload":  raw[:len(raw)-10],
		"flipped payload":    flipPayload,
		"flipped header":     flipHeader,
		"source rpm in lead": src,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Sign(bytes.NewReader(data), &bytes.Buffer{}, a)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Sign(%s) = %v, want ErrInvalid", name, err)
			}
		})
	}
}

// TestRepodataWithDNF: real dnf reads our repodata with repo_gpgcheck=1 and
// installs a package with its dependency, gpgcheck=1.
func TestRepodataWithDNF(t *testing.T) {
	a, _ := keys(t)
	dir := t.TempDir()
	var entries [][]byte
	for _, s := range specs() {
		raw, err := demo.RPM(s)
		if err != nil {
			t.Fatal(err)
		}
		signed, h := signFile(t, raw, a)
		href := "Packages/" + h.Filename()
		os.MkdirAll(filepath.Join(dir, "Packages"), 0o755)
		os.WriteFile(filepath.Join(dir, href), signed, 0o644)
		sum := sha256.Sum256(signed)
		e, err := Entry(h, hex.EncodeToString(sum[:]), int64(len(signed)), href, 1700000000)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	files, err := Repodata(entries, nil, a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f.Path)), 0o755)
		os.WriteFile(filepath.Join(dir, f.Path), f.Data, 0o644)
	}
	pub, _ := a.ArmoredPublic()
	keyFile := filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(keyFile, pub, 0o644)
	root := t.TempDir()
	dnf := func(args ...string) (string, error) {
		base := []string{"-y", "--installroot=" + root, "--releasever=9", "--noplugins",
			"--setopt=reposdir=/nonexistent", "--repofrompath=t,file://" + dir,
			"--setopt=t.gpgcheck=1", "--setopt=t.repo_gpgcheck=1", "--setopt=t.gpgkey=file://" + keyFile,
			"--setopt=cachedir=" + filepath.Join(root, "cache"), "--setopt=install_weak_deps=0"}
		out, err := exec.Command("dnf", append(base, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := dnf("repoquery", "--qf", "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
	if err != nil {
		t.Fatalf("dnf repoquery: %v\n%s", err, out)
	}
	for _, want := range []string{"enmei-demo-lib-1:1.0-1.x86_64", "enmei-demo-hello-0:1.0-1.x86_64", "enmei-test-etc-0:2.5-3.el9_10.tuxcare.els1.x86_64"} {
		if !strings.Contains(out, want) {
			t.Errorf("repoquery lacks %s:\n%s", want, out)
		}
	}
	if out, err := dnf("install", "enmei-test-etc"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	q, err := exec.Command("rpm", "--root", root, "-q", "enmei-demo-lib", "enmei-test-etc").CombinedOutput()
	if err != nil {
		t.Errorf("installed packages: %v\n%s", err, q)
	}
}

func BenchmarkSign(b *testing.B) {
	a, _ := keys(b)
	raw, err := demo.RPM(demo.Catalogue()[1])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Sign(bytes.NewReader(raw), io.Discard, a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetachSign(b *testing.B) {
	a, _ := keys(b)
	data := bytes.Repeat([]byte("x"), 4000)
	for i := 0; i < b.N; i++ {
		if _, err := a.DetachSign(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFileDigests: the header's file digests are the SHA-256 of each file's
// content, as the real rpm reports them (SBOMs list them).
func TestFileDigests(t *testing.T) {
	a, _ := keys(t)
	for _, s := range specs() {
		if s.Name != "enmei-test-etc" {
			continue
		}
		raw, err := demo.RPM(s)
		if err != nil {
			t.Fatal(err)
		}
		signed, h := signFile(t, raw, a)
		p := filepath.Join(t.TempDir(), h.Filename())
		os.WriteFile(p, signed, 0o644)
		out, err := exec.Command("rpm", "--dbpath", t.TempDir(), "-qp", "--nosignature", "--qf", "[%{FILEDIGESTS} %{FILENAMES}\n]", p).Output()
		if err != nil {
			t.Fatalf("rpm -qp: %v", err)
		}
		fromRPM := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if d, name, ok := strings.Cut(line, " "); ok {
				fromRPM[name] = d
			}
		}
		n := 0
		for _, f := range h.Files {
			content, isFile := s.Files[f.Path]
			if !isFile {
				if f.SHA256 != "" {
					t.Errorf("%s (not a file) has digest %s", f.Path, f.SHA256)
				}
				continue
			}
			sum := sha256.Sum256([]byte(content))
			if f.SHA256 != hex.EncodeToString(sum[:]) || fromRPM[f.Path] != f.SHA256 {
				t.Errorf("%s: digest %q, content %x, rpm says %q", f.Path, f.SHA256, sum, fromRPM[f.Path])
			}
			n++
		}
		if n != len(s.Files) {
			t.Errorf("%d of %d files have digests", n, len(s.Files))
		}
	}
}
