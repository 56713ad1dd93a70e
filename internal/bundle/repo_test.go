package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/manifest"
)

// publication stores files in a blob store as a publication does and
// returns its manifest and a function opening its blobs.
func publication(t *testing.T, files map[string][]byte) (*manifest.Manifest, func(string) (io.ReadCloser, error)) {
	t.Helper()
	ctx := context.Background()
	store, err := blobfs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Repo: "el9-x86_64", Format: "rpm", Files: map[string]manifest.FileRef{}}
	for p, data := range files {
		info, err := store.Put(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		m.Files[p] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
	}
	return m, func(sum string) (io.ReadCloser, error) {
		r, _, err := store.Open(ctx, sum)
		return r, err
	}
}

// publicationSample is a small rpm publication and a deb one's deepest
// path (a by-hash index, eight levels under repo/).
func publicationSample() map[string][]byte {
	return map[string][]byte{
		"repodata/repomd.xml":                                                         []byte("<repomd>…</repomd>\n"),
		"repodata/repomd.xml.asc":                                                     []byte("-----BEGIN PGP SIGNATURE-----\n…\n"),
		"repodata/0123-primary.xml.gz":                                                bytes.Repeat([]byte{0x1f, 0x8b, 8}, 500),
		"Packages/enmei-demo-hello-1.0-1.x86_64.rpm":                                  bytes.Repeat([]byte{0xed, 0xab, 0xee, 0xdb, 3}, 40000),
		"Packages/enmei-demo-lib-1.0-1.x86_64.rpm":                                    bytes.Repeat([]byte{0xed, 0xab, 0xee, 0xdb, 4}, 30000),
		"dists/bookworm/main/binary-amd64/by-hash/SHA256/" + strings.Repeat("ab", 32): []byte("Package: x\n"),
	}
}

// TestPublicationOnDisk: a publication's files go under repo/ with the
// paths the manifest serves them at, MANIFEST lists each with its blob's
// SHA-256, and they verify and read back like any other file; the plain
// files of the disk are still there.
func TestPublicationOnDisk(t *testing.T) {
	k, _ := keys(t)
	content := publicationSample()
	m, open := publication(t, content)
	opened := 0
	files := PublicationFiles(m, func(sum string) (io.ReadCloser, error) { opened++; return open(sum) })
	if len(files) != len(content) {
		t.Fatalf("PublicationFiles = %d files, want %d", len(files), len(content))
	}
	if !slices.IsSortedFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("PublicationFiles are not sorted by path")
	}
	iso := filepath.Join(t.TempDir(), "companion.iso")
	all := append(sampleFiles(), files...)
	if err := Create(iso, Contents{Label: "ENMEI_el9", Files: all, PublicKey: armoredPublic(t, k)}, signer(k)); err != nil {
		t.Fatal(err)
	}
	if opened != len(files) {
		t.Errorf("the blob store was opened %d times for %d files", opened, len(files))
	}
	d := openDisk(t, iso)
	raw, err := d.readFile(ManifestPath, maxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range content {
		line := sum(data) + "  " + RepoDir + "/" + p + "\n"
		if m.Files[p].Sum != sum(data) || !strings.Contains(string(raw), line) {
			t.Errorf("MANIFEST lacks %q", line)
		}
	}
	if _, err := d.Verify([][]byte{armoredPublic(t, k)}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for p, data := range content {
		got, err := d.ReadFile(RepoDir + "/" + p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("ReadFile(repo/%s) = %d bytes, %v; want the %d published", p, len(got), err, len(data))
		}
	}
	for _, f := range sampleFiles() {
		if got, err := d.ReadFile(f.Path); err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("ReadFile(%s) = %v", f.Path, err)
		}
	}
	if got := d.List(); len(got) != len(all)+1 { // and the key
		t.Errorf("List has %d files, want %d", len(got), len(all)+1)
	}
}

// generated is a reproducible incompressible stream of n bytes.
func generated(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{'e', 'n', 'm', 'e', 'i'}), n)
}

// TestPublicationStreamed: a large file is copied into the image through
// a small buffer, never held in memory, by Create and by Verify alike.
func TestPublicationStreamed(t *testing.T) {
	k, _ := keys(t)
	const size = 96 << 20
	h := sha256.New()
	if _, err := io.Copy(h, generated(size)); err != nil {
		t.Fatal(err)
	}
	big := File{
		Path:   RepoDir + "/Packages/big-1.0-1.x86_64.rpm",
		Open:   func() (io.ReadCloser, error) { return io.NopCloser(generated(size)), nil },
		Size:   size,
		SHA256: hex.EncodeToString(h.Sum(nil)),
	}
	iso := filepath.Join(t.TempDir(), "big.iso")
	var calls int
	var last, total int64
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	n := allocated(func() {
		err := Create(iso, Contents{Files: []File{big, {Path: "README.txt", Data: []byte("big\n")}}, PublicKey: armoredPublic(t, k),
			Progress: func(done, all int64) { calls++; last, total = done, all }}, signer(k))
		if err != nil {
			t.Fatal(err)
		}
	})
	// Everything Create allocated, summed, is far less than the file.
	if n > size/4 {
		t.Errorf("Create allocated %d MiB for a %d MiB streamed file", n>>20, size>>20)
	}
	if calls == 0 || last != size || total != size {
		t.Errorf("progress: %d calls, last %d of %d; want it to end at %d of %d", calls, last, total, size, size)
	}
	d := openDisk(t, iso)
	n = allocated(func() {
		if _, err := d.Verify([][]byte{armoredPublic(t, k)}); err != nil {
			t.Fatal(err)
		}
	})
	if n > size/4 {
		t.Errorf("Verify allocated %d MiB for a %d MiB file", n>>20, size>>20)
	}
}

// TestPublicationRefused: a source that fails, or yields other content
// than its size and SHA-256 promise, fails Create with one sentence naming
// the file, and nothing is left beside the target; an earlier disk stays.
func TestPublicationRefused(t *testing.T) {
	k, _ := keys(t)
	pub := armoredPublic(t, k)
	data := []byte("the published package\n")
	good := File{Path: RepoDir + "/Packages/a.rpm", Size: int64(len(data)), SHA256: sum(data),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	with := func(f func(*File)) File { c := good; f(&c); return c }
	serve := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	for _, tc := range []struct {
		name string
		file File
		want string
	}{
		{"missing blob", with(func(f *File) {
			f.Open = func() (io.ReadCloser, error) { return nil, errors.New("blob 1234 not found") }
		}), "reading repo/Packages/a.rpm: blob 1234 not found"},
		{"altered", with(func(f *File) { f.Open = serve([]byte("the published packagE\n")) }), "repo/Packages/a.rpm read for the companion disk is not the 22 bytes with SHA-256 " + sum(data)},
		{"longer", with(func(f *File) { f.Open = serve(append(slices.Clone(data), 'x')) }), "its source is damaged"},
		{"shorter", with(func(f *File) { f.Open = serve(data[:5]) }), "its source is damaged"},
		{"no sum", with(func(f *File) { f.SHA256 = "" }), "streamed without its SHA-256"},
		{"upper-case sum", with(func(f *File) { f.SHA256 = strings.ToUpper(f.SHA256) }), "streamed without its SHA-256"},
		{"data too", with(func(f *File) { f.Data = data }), "both data and a source"},
		{"too large", with(func(f *File) { f.Size = maxFileSize + 1 }), "an ISO 9660 file holds at most"},
		{"too deep", with(func(f *File) { f.Path = RepoDir + "/a/b/c/d/e/f/g/h.rpm" }), "nested deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.iso")
			err := Create(p, Contents{Files: []File{tc.file}, PublicKey: pub}, signer(k))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(strings.TrimSuffix(err.Error(), "\n"), "\n") {
				t.Errorf("the error is more than one line: %q", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 0 {
				t.Errorf("Create failed (%v) but left %v", err, entries)
			}
		})
	}
	iso, files := build(t)
	before, _ := os.ReadFile(iso)
	bad := with(func(f *File) { f.Open = serve([]byte("tampered")) })
	if err := Create(iso, Contents{Files: []File{bad}, PublicKey: pub}, signer(k)); err == nil {
		t.Fatal("Create succeeded")
	}
	if after, _ := os.ReadFile(iso); !bytes.Equal(before, after) {
		t.Error("a failed Create changed the existing disk")
	}
	checkDisk(t, openDisk(t, iso), files)
}

// TestDiskLimits: a disk larger than the free space, or with more files
// than the process may open, is refused before anything is read or
// written.
func TestDiskLimits(t *testing.T) {
	k, _ := keys(t)
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	var files []File
	for i := int64(0); i < free/(2*maxFileSize)+2; i++ {
		files = append(files, File{Path: RepoDir + "/Packages/huge-" + string(rune('a'+i%26)) + strings.Repeat("x", int(i/26)) + ".rpm",
			Size: maxFileSize, SHA256: strings.Repeat("0", 64),
			Open: func() (io.ReadCloser, error) {
				t.Error("a file was read for a disk that does not fit")
				return nil, errors.New("no")
			}})
	}
	p := filepath.Join(dir, "huge.iso")
	err := Create(p, Contents{Files: files, PublicKey: armoredPublic(t, k)}, signer(k))
	if err == nil || !strings.Contains(err.Error(), "free in "+dir) {
		t.Fatalf("Create of a disk larger than the free space = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max != rlimInfinity {
		if err := checkOpenFiles(int(lim.Max)); err == nil || !strings.Contains(err.Error(), "ulimit -n") {
			t.Errorf("checkOpenFiles(hard limit) = %v, want a refusal naming ulimit -n", err)
		}
	}
	// A soft limit below the need is raised to it.
	if lim.Max == rlimInfinity || lim.Max > 2000+openFilesReserve {
		low := lim
		low.Cur = 1024
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
			t.Fatal(err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if err := checkOpenFiles(2000); err != nil {
			t.Errorf("checkOpenFiles(2000) with a soft limit of 1024: %v", err)
		}
		var now syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
		if now.Cur < 2000+openFilesReserve {
			t.Errorf("soft limit now %d, want at least %d", now.Cur, 2000+openFilesReserve)
		}
	}
}

func TestInstallGuide(t *testing.T) {
	rpm := InstallGuide{Repo: "el9-x86_64", Format: "rpm", Publication: 7}.Readme()
	for _, want := range []string{
		"[enmei-offline-el9-x86_64]", "baseurl=file:///mnt/enmei/repo\n", "gpgcheck=1\n", "repo_gpgcheck=1\n",
		"gpgkey=file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc\n", "--enablerepo=enmei-offline-el9-x86_64 install",
		"enmei-companion-el9-x86_64-7.iso", "sha256sum --quiet -c MANIFEST",
	} {
		if !strings.Contains(rpm, want) {
			t.Errorf("rpm README lacks %q:\n%s", want, rpm)
		}
	}
	mirror := InstallGuide{Repo: "el9-baseos", Format: "rpm", Publication: 2, Upstream: true}.Readme()
	if want := "gpgkey=file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc file:///mnt/enmei/KEYS/RPM-GPG-KEY-enmei-upstream-el9-baseos.asc\n"; !strings.Contains(mirror, want) {
		t.Errorf("mirror README lacks %q:\n%s", want, mirror)
	}
	if err := checkPath(UpstreamKeyPath("el9-baseos")); err != nil {
		t.Error(err)
	}
	deb := InstallGuide{Repo: "deb12-main", Format: "deb", Publication: 3, Suite: "bookworm", Component: "main"}.Readme()
	if want := "deb [signed-by=/mnt/enmei/KEYS/RPM-GPG-KEY-enmei.asc] file:/mnt/enmei/repo bookworm main\n"; !strings.Contains(deb, want) || strings.Contains(deb, "baseurl") {
		t.Errorf("deb README lacks %q:\n%s", want, deb)
	}
}

func TestOfferedWithPackages(t *testing.T) {
	plain, _ := Offered{Repo: "r", Publication: 1}.Encode()
	if strings.Contains(string(plain), "with_packages") {
		t.Errorf("a disk of SBOMs records %s", plain)
	}
	rec, _ := Offered{Repo: "r", Publication: 1, WithPackages: true}.Encode()
	o, err := DecodeOffered(rec)
	if err != nil || !o.WithPackages || !strings.Contains(string(rec), `"with_packages":true`) {
		t.Errorf("round trip of %s = %+v, %v", rec, o, err)
	}
}
