package bundle

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/sign"
)

var (
	keysOnce sync.Once
	keyA     *sign.Key
	keyB     *sign.Key
	keysErr  error
)

// keys returns two 2048-bit signing keys, made once per test binary.
func keys(tb testing.TB) (trusted, other *sign.Key) {
	tb.Helper()
	keysOnce.Do(func() {
		keyA, keysErr = sign.GenerateBits("enmei bundle test", "", "bundle@example.jp", 2048, time.Now())
		if keysErr == nil {
			keyB, keysErr = sign.GenerateBits("someone else", "", "other@example.jp", 2048, time.Now())
		}
	})
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	return keyA, keyB
}

func armoredPublic(tb testing.TB, k *sign.Key) []byte {
	tb.Helper()
	pub, err := k.ArmoredPublic()
	if err != nil {
		tb.Fatal(err)
	}
	return pub
}

func signer(k *sign.Key) func([]byte) ([]byte, error) {
	return func(m []byte) ([]byte, error) { return k.DetachSignArmored(bytes.NewReader(m)) }
}

// longName is a file name well over Joliet's original 64 characters.
var longName = "python3-cryptography-vectors-36.0.1-4.el9.noarch.with-a-deliberately-long-name" + sbom.SPDXJSON.Ext()

func sampleFiles() []File {
	spdx := func(pkg string) []byte {
		return fmt.Appendf(nil, `{"spdxVersion":"SPDX-2.3","name":"%s","comment":"日本語のコメント：パッケージ %s の部品表"}`+"\n", pkg, pkg)
	}
	return []File{
		{Path: "sbom/spdx-json/openssl-1_3.0.7-27.el9.x86_64" + sbom.SPDXJSON.Ext(), Data: spdx("openssl")},
		{Path: "sbom/spdx-json/openssl-libs-1_3.0.7-27.el9.x86_64" + sbom.SPDXJSON.Ext(), Data: spdx("openssl-libs")},
		{Path: "sbom/spdx-json/" + longName, Data: spdx("python3-cryptography-vectors")},
		{Path: "sbom/cyclonedx-xml/openssl-1_3.0.7-27.el9.x86_64" + sbom.CycloneDXXML.Ext(), Data: []byte("<bom>暗号ライブラリ</bom>\n")},
		{Path: "agent/enmei-agent-1.4.2-1.el9.x86_64.rpm", Data: bytes.Repeat([]byte{0xed, 0xab, 0xee, 0xdb, 0, 1, 2}, 3000)},
		{Path: "README.txt", Data: []byte("このディスクには SBOM とエージェントが入っています。\n")},
		{Path: "empty.txt", Data: nil},
	}
}

// build writes a companion disk of sampleFiles signed by the trusted key.
func build(t *testing.T) (iso string, files []File) {
	t.Helper()
	k, _ := keys(t)
	iso = filepath.Join(t.TempDir(), "companion.iso")
	files = sampleFiles()
	err := Create(iso, Contents{Label: "enmei-2024.05 コンパニオン", Files: files, PublicKey: armoredPublic(t, k)}, signer(k))
	if err != nil {
		t.Fatal(err)
	}
	return iso, files
}

func openDisk(t *testing.T, p string) *Disk {
	t.Helper()
	d, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// checkDisk verifies d with the trusted key and reads every file back.
func checkDisk(t *testing.T, d *Disk, files []File) {
	t.Helper()
	k, _ := keys(t)
	pub := armoredPublic(t, k)

	if _, err := d.ReadFile(files[0].Path); !errs.Is(err, errs.Invalid) {
		t.Errorf("ReadFile before Verify = %v, want an Invalid error", err)
	}
	if l := d.List(); l != nil {
		t.Errorf("List before Verify = %q, want nil", l)
	}
	got, err := d.PublicKey()
	if err != nil || !bytes.Equal(got, pub) {
		t.Errorf("PublicKey = %q, %v; want the signing key", got, err)
	}

	fpr, err := d.Verify([][]byte{armoredPublic(t, keyB), pub})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if fpr != k.Fingerprint() {
		t.Errorf("Verify fingerprint = %s, want %s", fpr, k.Fingerprint())
	}

	want := []string{KeyPath}
	for _, f := range files {
		want = append(want, f.Path)
	}
	sort.Strings(want)
	if got := d.List(); !slices.Equal(got, want) {
		t.Errorf("List = %q\nwant %q", got, want)
	}
	for _, f := range files {
		data, err := d.ReadFile(f.Path)
		if err != nil {
			t.Errorf("ReadFile(%s): %v", f.Path, err)
		} else if !bytes.Equal(data, f.Data) {
			t.Errorf("ReadFile(%s) = %d bytes, differ from the %d written", f.Path, len(data), len(f.Data))
		}
	}
	if _, err := d.ReadFile(ManifestPath); !errs.Is(err, errs.NotFound) {
		t.Errorf("ReadFile(MANIFEST) = %v, want NotFound (not listed in itself)", err)
	}
	if _, err := d.ReadFile("sbom/nothing.spdx.json"); !errs.Is(err, errs.NotFound) {
		t.Errorf("ReadFile of an unlisted path = %v, want NotFound", err)
	}
}

func TestCreateOpenVerify(t *testing.T) {
	iso, files := build(t)
	if _, err := os.Stat(iso + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", iso, err)
	}
	checkDisk(t, openDisk(t, iso), files)

	// MANIFEST is sha256sum's format, sorted, listing the key too.
	d := openDisk(t, iso)
	m, err := d.readFile(ManifestPath, maxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(m), "\n"), "\n")
	if len(lines) != len(files)+1 || !slices.IsSortedFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) }) {
		t.Errorf("MANIFEST has %d lines (want %d), sorted by path:\n%s", len(lines), len(files)+1, m)
	}
	if !strings.Contains(string(m), sum(files[0].Data)+"  "+files[0].Path+"\n") {
		t.Errorf("MANIFEST lacks the line for %s:\n%s", files[0].Path, m)
	}
}

// requireTool fails (never skips) when a comparison tool is missing.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install %s (apt-get install -y %s)", name, pkg, pkg)
	}
	return p
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRealTools checks the image with xorriso (its Rock Ridge, Joliet and
// plain ISO 9660 trees), the extracted MANIFEST with gpg and sha256sum,
// and Open on the extracted directory.
func TestRealTools(t *testing.T) {
	xorriso := requireTool(t, "xorriso", "xorriso")
	gpg := requireTool(t, "gpg", "gnupg")
	sha256sum := requireTool(t, "sha256sum", "coreutils")
	iso, files := build(t)
	k, _ := keys(t)

	want := []string{"/" + KeyPath, "/" + ManifestPath, "/" + SignaturePath}
	for _, f := range files {
		want = append(want, "/"+f.Path)
	}
	sort.Strings(want)

	// Each tree lists every file under its full name: Rock Ridge (Linux)
	// and Joliet (Windows).
	for _, tree := range []string{"any", "norock"} {
		out := run(t, "", xorriso, "-read_fs", tree, "-indev", iso, "-find", "/", "-type", "f")
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "'/") {
				got = append(got, strings.Trim(line, "'"))
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("xorriso -read_fs %s lists\n%q\nwant\n%q", tree, got, want)
		}
	}
	// The plain ISO 9660 tree has 8.3 names, but one per file.
	out := run(t, "", xorriso, "-read_fs", "ecma119", "-indev", iso, "-find", "/", "-type", "f")
	if n := strings.Count(out, "\n'/"); n != len(want) {
		t.Errorf("the ISO 9660 tree has %d files, want %d:\n%s", n, len(want), out)
	}
	if out := run(t, "", xorriso, "-indev", iso, "-pvd_info"); !strings.Contains(out, "Volume Id    : ENMEI_2024_05______") {
		t.Errorf("volume id not sanitised:\n%s", out)
	}

	for _, tree := range []string{"any", "norock"} {
		t.Run(tree, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "disk")
			run(t, "", xorriso, "-read_fs", tree, "-osirrox", "on", "-indev", iso, "-extract", "/", dir)
			for _, f := range files {
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if err != nil || !bytes.Equal(data, f.Data) {
					t.Errorf("extracted %s: %v (%d bytes, want %d)", f.Path, err, len(data), len(f.Data))
				}
			}
			run(t, dir, sha256sum, "--strict", "-c", ManifestPath)

			home, err := os.MkdirTemp("", "gpg") // short: gpg's socket paths are limited
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(home)
			run(t, dir, gpg, "--homedir", home, "--batch", "--import", KeyPath)
			out := run(t, dir, gpg, "--homedir", home, "--batch", "--status-fd", "1", "--verify", SignaturePath, ManifestPath)
			if !strings.Contains(out, "[GNUPG:] VALIDSIG "+k.Fingerprint()) {
				t.Errorf("gpg --verify did not report a valid signature by %s:\n%s", k.Fingerprint(), out)
			}

			// Open reads the extracted directory as it reads the image.
			// xorriso extracts read-only; make it writable for cleanup.
			filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
			checkDisk(t, openDisk(t, dir), files)

			// And it notices an altered or added file there.
			victim := filepath.Join(dir, filepath.FromSlash(files[2].Path))
			if err := os.WriteFile(victim, []byte("altered"), 0o644); err != nil {
				t.Fatal(err)
			}
			wantErr(t, openDisk(t, dir), "file "+files[2].Path+" on the companion disk does not match its MANIFEST entry")
			if err := os.WriteFile(victim, files[2].Data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sbom", "extra.spdx.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			wantErr(t, openDisk(t, dir), "file sbom/extra.spdx.json on the companion disk is not listed in its MANIFEST")
		})
	}
}

// wantErr verifies d with the trusted key and wants an Invalid error
// containing msg, after which nothing may be read.
func wantErr(t *testing.T, d *Disk, msg string) {
	t.Helper()
	k, _ := keys(t)
	fpr, err := d.Verify([][]byte{armoredPublic(t, k)})
	if err == nil {
		t.Fatalf("Verify = %s, nil; want an error containing %q", fpr, msg)
	}
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), msg) {
		t.Errorf("Verify error = %q (kind %v), want Invalid containing %q", err, errs.KindOf(err), msg)
	}
	if d.List() != nil {
		t.Errorf("List after a failed Verify = %q, want nil", d.List())
	}
	if _, err := d.ReadFile(KeyPath); err == nil {
		t.Errorf("ReadFile after a failed Verify succeeded")
	}
}

// rawDisk writes an image of exactly files, bypassing Create's checks.
func rawDisk(t *testing.T, files []File) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "raw.iso")
	if err := writeISO(p, "RAW", files, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedFiles returns the files of a genuine disk: the contents, the key,
// MANIFEST and MANIFEST.asc.
func signedFiles(t *testing.T) []File {
	t.Helper()
	k, _ := keys(t)
	manifest, files, err := plan(Contents{Files: sampleFiles(), PublicKey: armoredPublic(t, k)})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.DetachSignArmored(bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, File{Path: ManifestPath, Data: manifest}, File{Path: SignaturePath, Data: sig})
}

func replace(files []File, p string, data []byte) []File {
	out := slices.Clone(files)
	for i := range out {
		if out[i].Path == p {
			out[i].Data = data
		}
	}
	return out
}

func without(files []File, p string) []File {
	return slices.DeleteFunc(slices.Clone(files), func(f File) bool { return f.Path == p })
}

func TestTampering(t *testing.T) {
	genuine := signedFiles(t)
	// The test itself must be able to pass: the genuine files verify.
	if _, err := openDisk(t, rawDisk(t, genuine)).Verify([][]byte{armoredPublic(t, keyA)}); err != nil {
		t.Fatalf("genuine raw disk: %v", err)
	}
	manifest := genuine[len(genuine)-2].Data
	target := sampleFiles()[0]

	t.Run("manifest changed, old signature", func(t *testing.T) {
		// The attacker lists an altered file with its new checksum.
		altered := []byte(`{"spdxVersion":"SPDX-2.3","name":"openssl","comment":"改ざん"}`)
		m := strings.Replace(string(manifest), sum(target.Data), sum(altered), 1)
		files := replace(replace(genuine, ManifestPath, []byte(m)), target.Path, altered)
		wantErr(t, openDisk(t, rawDisk(t, files)), "the companion disk's MANIFEST does not match its signature MANIFEST.asc: the disk is damaged or altered")
	})
	t.Run("file changed", func(t *testing.T) {
		files := replace(genuine, target.Path, append(slices.Clone(target.Data), ' '))
		wantErr(t, openDisk(t, rawDisk(t, files)), "file "+target.Path+" on the companion disk does not match its MANIFEST entry: the disk is damaged or altered")
	})
	t.Run("file missing", func(t *testing.T) {
		wantErr(t, openDisk(t, rawDisk(t, without(genuine, target.Path))), "file "+target.Path+" listed in the companion disk's MANIFEST is missing")
	})
	t.Run("file added", func(t *testing.T) {
		files := append(slices.Clone(genuine), File{Path: "agent/evil.rpm", Data: []byte("x")})
		wantErr(t, openDisk(t, rawDisk(t, files)), "file agent/evil.rpm on the companion disk is not listed in its MANIFEST")
	})
	t.Run("unsigned", func(t *testing.T) {
		wantErr(t, openDisk(t, rawDisk(t, without(genuine, SignaturePath))), "the companion disk is not signed")
	})
	t.Run("no manifest", func(t *testing.T) {
		wantErr(t, openDisk(t, rawDisk(t, without(genuine, ManifestPath))), "it has no MANIFEST")
	})
	t.Run("signature garbage", func(t *testing.T) {
		wantErr(t, openDisk(t, rawDisk(t, replace(genuine, SignaturePath, []byte("not a signature\n")))), "MANIFEST.asc is not an OpenPGP signature")
	})
	t.Run("another key", func(t *testing.T) {
		// A disk made consistently with someone else's key.
		_, other := keys(t)
		iso := filepath.Join(t.TempDir(), "other.iso")
		if err := Create(iso, Contents{Files: sampleFiles(), PublicKey: armoredPublic(t, other)}, signer(other)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, openDisk(t, iso), "the companion disk's MANIFEST is not signed by a trusted key (signed by "+other.Fingerprint()+")")
		// It verifies with its own key, so the failure above is the key's.
		if fpr, err := openDisk(t, iso).Verify([][]byte{armoredPublic(t, other)}); err != nil || fpr != other.Fingerprint() {
			t.Errorf("Verify with the disk's own key = %s, %v", fpr, err)
		}
	})
	t.Run("image bytes changed", func(t *testing.T) {
		// Flip a byte inside a file's data in a finished image.
		iso, files := build(t)
		img, err := os.ReadFile(iso)
		if err != nil {
			t.Fatal(err)
		}
		needle := []byte("パッケージ openssl-libs")
		i := bytes.Index(img, needle)
		if i < 0 || bytes.Count(img, needle) != 1 {
			t.Fatalf("%q is in the image %d times, want once", needle, bytes.Count(img, needle))
		}
		img[i+len(needle)-1] ^= 0x20
		if err := os.WriteFile(iso, img, 0o644); err != nil {
			t.Fatal(err)
		}
		wantErr(t, openDisk(t, iso), "file "+files[1].Path+" on the companion disk does not match its MANIFEST entry")
	})
	t.Run("no trusted key", func(t *testing.T) {
		d := openDisk(t, rawDisk(t, genuine))
		if _, err := d.Verify(nil); !errs.Is(err, errs.Invalid) {
			t.Errorf("Verify(nil) = %v, want Invalid", err)
		}
		if _, err := d.Verify([][]byte{[]byte("junk")}); !errs.Is(err, errs.Invalid) {
			t.Errorf("Verify(junk key) = %v, want Invalid", err)
		}
	})
}

func TestOpenNotADisk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "not.iso")
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 40000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "not a companion disk") {
		t.Errorf("Open(non-ISO) = %v, want Invalid", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.iso")); err == nil {
		t.Error("Open(missing) succeeded")
	}
	// A directory without MANIFEST opens but does not verify.
	wantErr(t, openDisk(t, t.TempDir()), "it has no MANIFEST")
}

func TestCreateRejects(t *testing.T) {
	k, other := keys(t)
	pub := armoredPublic(t, k)
	long := strings.Repeat("長", maxNameUnits+1)
	for _, tc := range []struct {
		name  string
		files []File
		key   []byte
		sign  func([]byte) ([]byte, error)
		want  string
	}{
		{"absolute", []File{{Path: "/etc/passwd"}}, pub, signer(k), "not a clean relative path"},
		{"dot-dot", []File{{Path: "sbom/../../x"}}, pub, signer(k), "not a clean relative path"},
		{"unclean", []File{{Path: "sbom//x"}}, pub, signer(k), "not a clean relative path"},
		{"empty", []File{{Path: ""}}, pub, signer(k), "empty path"},
		{"too long", []File{{Path: "sbom/" + long}}, pub, signer(k), "Joliet allows at most 103"},
		{"too deep", []File{{Path: "a/b/c/d/e/f/g/h/i"}}, pub, signer(k), "nested deeper"},
		{"backslash", []File{{Path: `sbom\x`}}, pub, signer(k), "Joliet names cannot hold"},
		{"newline", []File{{Path: "a\nb"}}, pub, signer(k), "Joliet names cannot hold"},
		{"leading dot", []File{{Path: ".hidden"}}, pub, signer(k), "beginning or ending with a dot"},
		{"twice", []File{{Path: "a"}, {Path: "a"}}, pub, signer(k), "twice"},
		{"case", []File{{Path: "README"}, {Path: "readme"}}, pub, signer(k), "differ only in case"},
		{"file and dir", []File{{Path: "a"}, {Path: "a/b"}}, pub, signer(k), "cannot also be the directory"},
		{"manifest", []File{{Path: ManifestPath}}, pub, signer(k), "written by the companion disk itself"},
		{"key path", []File{{Path: KeyPath}}, pub, signer(k), "holds the disk's public key"},
		{"no key", nil, nil, signer(k), "needs the repositories' public key"},
		{"bad key", nil, []byte("junk"), signer(k), "not an armored OpenPGP key"},
		{"key and signer differ", nil, pub, signer(other), "does not verify with the disk's own public key"},
		{"signer fails", nil, pub, func([]byte) ([]byte, error) { return nil, fmt.Errorf("no HSM") }, "no HSM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.iso")
			err := Create(p, Contents{Files: tc.files, PublicKey: tc.key}, tc.sign)
			if err == nil {
				t.Fatal("Create succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create error = %q, want it to contain %q", err, tc.want)
			}
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 0 {
				t.Errorf("Create failed (%v) but left %v", err, entries)
			}
		})
	}
	// A failed Create leaves an earlier disk alone.
	iso, files := build(t)
	before, _ := os.ReadFile(iso)
	if err := Create(iso, Contents{Files: []File{{Path: "../x"}}, PublicKey: pub}, signer(k)); err == nil {
		t.Fatal("Create succeeded")
	}
	if after, _ := os.ReadFile(iso); !bytes.Equal(before, after) {
		t.Error("a failed Create changed the existing disk")
	}
	checkDisk(t, openDisk(t, iso), files)
}

func TestVolumeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "ENMEI",
		"enmei 2024-05":         "ENMEI_2024_05",
		"日本":                    "__",
		strings.Repeat("a", 40): strings.Repeat("A", 32),
	} {
		if got := VolumeLabel(in); got != want {
			t.Errorf("VolumeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseManifestStrict(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, m := range []string{
		"",
		h + "  a",                    // no final newline
		h + " a\n",                   // one space
		strings.ToUpper(h) + "  a\n", // upper-case hex
		h[:62] + "  a\n",
		h + "  ../a\n",
		h + "  a\n" + h + "  a\n",
		h + "  MANIFEST.asc\n",
	} {
		if _, err := parseManifest([]byte(m)); !errs.Is(err, errs.Invalid) {
			t.Errorf("parseManifest(%q) = %v, want Invalid", m, err)
		}
	}
	if e, err := parseManifest([]byte(h + "  a b/c d\n")); err != nil || len(e) != 1 || e[0].path != "a b/c d" {
		t.Errorf("parseManifest(path with spaces) = %v, %v", e, err)
	}
}

// BenchmarkCreate writes a disk of 5,000 small SBOM-sized files.
func BenchmarkCreate(b *testing.B) {
	k, _ := keys(b)
	pub := armoredPublic(b, k)
	files := make([]File, 5000)
	for i := range files {
		files[i] = File{
			Path: fmt.Sprintf("sbom/spdx-json/package-number-%04d-1.2.3-4.el9.x86_64%s", i, sbom.SPDXJSON.Ext()),
			Data: fmt.Appendf(nil, `{"spdxVersion":"SPDX-2.3","name":"package-%d","comment":"日本語"}`, i),
		}
	}
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		if err := Create(filepath.Join(dir, fmt.Sprintf("b%d.iso", i)), Contents{Files: files, PublicKey: pub}, signer(k)); err != nil {
			b.Fatal(err)
		}
	}
}
