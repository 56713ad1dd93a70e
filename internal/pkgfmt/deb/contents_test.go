package deb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const testDEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: enmei-test

Files: *
Copyright: 2026 enmei authors
License: GPL-2+ or Artistic

Files: vendor/*
Copyright: 2020 someone
License: MIT
`

// pseudoRandom is n reproducible bytes that do not compress.
func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sampleTree writes the tree of package enmei-test under dir: nested
// directories, an executable, an empty file, a file that does not
// compress, a symbolic and a hard link, and copyright (none when ""; a
// symbolic link to another file when "->"). It returns the tree and what
// InspectContents must list: every path but directories, with the
// SHA-256 of regular files (a hard link is one), "" for symbolic links.
func sampleTree(t testing.TB, dir, copyright string) (string, map[string]string) {
	t.Helper()
	tree := filepath.Join(dir, "tree")
	write := func(p, body string, mode os.FileMode) {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("DEBIAN/control", "Package: enmei-test\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: enmei <x@example.com>\nDescription: test\n a package for the tests\n", 0o644)
	write("usr/bin/enmei-test", "#!/bin/sh\necho test\n", 0o755)
	write("usr/lib/enmei-test/a/b/c/deep.txt", strings.Repeat("deep ", 1000), 0o644)
	write("usr/lib/enmei-test/random.bin", string(pseudoRandom(1, 300<<10)), 0o644)
	write("usr/share/enmei-test/empty", "", 0o644)
	write("usr/share/enmei-test/名前.txt", "utf-8 name\n", 0o644)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(tree, "usr/share/enmei-test/emptydir"), 0o755))
	must(os.Symlink("enmei-test", filepath.Join(tree, "usr/bin/enmei-test-link")))
	must(os.Link(filepath.Join(tree, "usr/bin/enmei-test"), filepath.Join(tree, "usr/bin/enmei-test-hard")))
	switch copyright {
	case "":
	case "->":
		write("usr/share/doc/enmei-test-common/copyright", testDEP5, 0o644)
		must(os.MkdirAll(filepath.Join(tree, "usr/share/doc/enmei-test"), 0o755))
		must(os.Symlink("../enmei-test-common/copyright", filepath.Join(tree, "usr/share/doc/enmei-test/copyright")))
	default:
		write("usr/share/doc/enmei-test/copyright", copyright, 0o644)
	}
	want := map[string]string{}
	must(filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		switch {
		case rel == "DEBIAN":
			return filepath.SkipDir
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			want["/"+rel] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		want["/"+rel] = hex.EncodeToString(sum[:])
		return err
	}))
	return tree, want
}

// dpkgBuild builds tree with the real dpkg-deb and its options (-Zxz …).
func dpkgBuild(t testing.TB, tree string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(filepath.Dir(tree), "out.deb")
	cmd := exec.Command("dpkg-deb", append(append([]string{"--root-owner-group"}, args...), "--build", tree, out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb %v: %v\n%s", args, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// listing is Contents.Files as a map, failing on duplicates and on paths
// that are not absolute.
func listing(t *testing.T, c *Contents) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, f := range c.Files {
		if _, dup := got[f.Path]; dup || !strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "//") || strings.HasPrefix(f.Path, "/.") {
			t.Errorf("listed path %q: duplicate, not absolute or not clean", f.Path)
		}
		got[f.Path] = f.SHA256
	}
	return got
}

func sameListing(t *testing.T, got, want map[string]string) {
	t.Helper()
	for p, sum := range want {
		if g, ok := got[p]; !ok || g != sum {
			t.Errorf("%s: listed %v with digest %q, want %q", p, ok, g, sum)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is listed but is not in the package", p)
		}
	}
}

// sameAsInspect: InspectContents reports what Inspect does, digests of the
// whole file included, and Inspect does not unpack.
func sameAsInspect(t *testing.T, data []byte, info *Info) {
	t.Helper()
	plain, err := Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if plain.Contents != nil {
		t.Errorf("Inspect filled Contents")
	}
	sum := sha256.Sum256(data)
	if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) ||
		info.Size != plain.Size || info.MD5 != plain.MD5 || info.SHA1 != plain.SHA1 || info.SHA256 != plain.SHA256 ||
		!bytes.Equal(info.Control, plain.Control) || info.Package != plain.Package || info.Version != plain.Version {
		t.Errorf("InspectContents = %d %s %s %s, Inspect = %d %s %s %s, file = %d %x",
			info.Size, info.MD5, info.SHA1, info.SHA256, plain.Size, plain.MD5, plain.SHA1, plain.SHA256, len(data), sum)
	}
}

// TestInspectContentsDpkgBuilt: packages the real dpkg-deb built, with
// each compressor it offers, list exactly the files put in, with their
// digests; the copyright file is kept when it is a regular file.
func TestInspectContentsDpkgBuilt(t *testing.T) {
	for _, c := range []struct {
		z, copyright  string
		wantCopyright bool
	}{
		{"-Zxz", testDEP5, true},
		{"-Zgzip", "This package was debianized by someone.\nLicense: GPL\n", true},
		{"-Zzstd", testDEP5, true},
		{"-Znone", testDEP5, true},
		{"-Zxz", "->", false}, // a link to another package's file: not followed
		{"-Zgzip", "", false},
	} {
		t.Run(c.z+"/"+strconv.Quote(c.copyright[:min(len(c.copyright), 6)]), func(t *testing.T) {
			tree, want := sampleTree(t, t.TempDir(), c.copyright)
			data := dpkgBuild(t, tree, c.z)
			info, err := InspectContents(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("InspectContents: %v", err)
			}
			if info.Contents == nil || info.Contents.Incomplete != "" {
				t.Fatalf("Contents = %+v", info.Contents)
			}
			sameListing(t, listing(t, info.Contents), want)
			if got := string(info.Contents.Copyright); c.wantCopyright && got != c.copyright || !c.wantCopyright && info.Contents.Copyright != nil {
				t.Errorf("Copyright = %q, want %q (kept: %v)", got, c.copyright, c.wantCopyright)
			}
			sameAsInspect(t, data, info)
		})
	}
}

// TestInspectContentsDemo: the demo packages (gzip, xz and zstd data
// members written in Go) list their one file each.
func TestInspectContentsDemo(t *testing.T) {
	for name, data := range debs(t) {
		info, err := InspectContents(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("InspectContents(%s): %v", name, err)
		}
		if len(info.Contents.Files) != 1 || len(info.Contents.Files[0].SHA256) != 64 || info.Contents.Incomplete != "" {
			t.Errorf("%s: Contents = %+v", name, info.Contents)
		}
		sameAsInspect(t, data, info)
	}
}

// replaceData rebuilds a .deb with its data member replaced.
func replaceData(t testing.TB, deb []byte, name string, data []byte) []byte {
	t.Helper()
	ms := members(t, deb)
	return archive(ms[0], ms[1], member{name, data})
}

func dataMember(t testing.TB, deb []byte) member {
	t.Helper()
	for _, m := range members(t, deb) {
		if strings.HasPrefix(m.name, "data.tar") {
			return m
		}
	}
	t.Fatal("no data member")
	return member{}
}

// compressAs compresses b as a member named name is.
func compressAs(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	switch {
	case strings.HasSuffix(name, ".gz"):
		w = gzip.NewWriter(&out)
	case strings.HasSuffix(name, ".xz"):
		w, err = xz.NewWriter(&out)
	case strings.HasSuffix(name, ".zst"):
		w, err = zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	default:
		return b
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func unpackMember(t testing.TB, m member) []byte {
	t.Helper()
	r, err := openStream(m.name, bytes.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInspectContentsRefusesDamage: a data member that is cut, whose
// compression is damaged, or whose tar is cut inside an intact compression
// is refused as ErrInvalid with a sentence naming it; Inspect, which does
// not unpack, accepts those whose ar framing is intact.
func TestInspectContentsRefusesDamage(t *testing.T) {
	for _, z := range []string{"-Zxz", "-Zgzip", "-Zzstd"} {
		t.Run(z, func(t *testing.T) {
			tree, _ := sampleTree(t, t.TempDir(), testDEP5)
			good := dpkgBuild(t, tree, z)
			dm := dataMember(t, good)
			tarball := unpackMember(t, dm)
			flipped := bytes.Clone(dm.data)
			for i := len(flipped) / 3; i < len(flipped)/3+64; i++ {
				flipped[i] ^= 0x55
			}
			cases := []struct {
				name, want string
				data       []byte
				framed     bool // the ar framing is intact: Inspect accepts it
			}{
				{"file cut in the data member", "the file is truncated in its data member", good[:len(good)-len(dm.data)/2], false},
				{"compressed stream cut", dm.name, replaceData(t, good, dm.name, dm.data[:len(dm.data)*2/3]), true},
				{"compression damaged", dm.name, replaceData(t, good, dm.name, flipped), true},
				{"tar cut", dm.name + " is truncated", replaceData(t, good, dm.name, compressAs(t, dm.name, tarball[:len(tarball)/2+100])), true},
				{"not compressed as named", dm.name, replaceData(t, good, dm.name, tarball), true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := InspectContents(bytes.NewReader(c.data))
					if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
						t.Errorf("InspectContents = %v, want ErrInvalid naming %q", err, c.want)
					}
					if _, err := Inspect(bytes.NewReader(c.data)); (err == nil) != c.framed {
						t.Errorf("Inspect = %v", err)
					}
				})
			}
		})
	}
}

// tarHeaderBlock is a raw ustar header block of type typ with a valid
// checksum, for entries archive/tar does not write (PAX sparse records).
func tarHeaderBlock(name string, typ byte, size int) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	blk := b.Bytes()[:512]
	blk[156] = typ
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk {
		sum += int(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return blk
}

func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	n += len(strconv.Itoa(n))
	if len(strconv.Itoa(n)) != len(strconv.Itoa(n-1)) {
		n++
	}
	return fmt.Sprintf("%d %s=%s\n", n, k, v)
}

func pad512(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

// TestInspectContentsBounded: a data member that unpacks far beyond its
// bound — a small zstd member of gigabytes of zeros, and a tar entry whose
// sparse map claims a huge file of holes — is listed up to the bound and
// marked incomplete, not refused; the whole file is still hashed.
func TestInspectContentsBounded(t *testing.T) {
	base := dpkgBuild(t, func() string { tree, _ := sampleTree(t, t.TempDir(), testDEP5); return tree }(), "-Zxz")

	// A member of 4 GiB of zeros between two small files.
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "./usr/share/before", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("a\n"))
	const huge = 4 << 30
	tw.WriteHeader(&tar.Header{Name: "./usr/share/zeros", Mode: 0o644, Size: huge, Typeflag: tar.TypeReg})
	zeros := make([]byte, 1<<20)
	for i := 0; i < huge/len(zeros); i++ {
		tw.Write(zeros)
	}
	tw.WriteHeader(&tar.Header{Name: "./usr/share/after", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("b\n"))
	tw.Close()
	zw.Close()

	// A PAX GNU sparse 0.1 entry of 1 TiB, stored as one byte.
	var sparse []byte
	sparse = append(sparse, tarHeaderBlock("./usr/share/before", tar.TypeReg, 2)...)
	sparse = append(sparse, pad512([]byte("a\n"))...)
	records := paxRecord("GNU.sparse.major", "0") + paxRecord("GNU.sparse.minor", "1") + paxRecord("GNU.sparse.numblocks", "1") +
		paxRecord("GNU.sparse.map", strconv.Itoa(1<<40-1)+",1") + paxRecord("GNU.sparse.size", strconv.Itoa(1<<40))
	sparse = append(sparse, tarHeaderBlock("./PaxHeaders/holes", tar.TypeXHeader, len(records))...)
	sparse = append(sparse, pad512([]byte(records))...)
	sparse = append(sparse, tarHeaderBlock("./usr/share/holes", tar.TypeReg, 1)...)
	sparse = append(sparse, pad512([]byte("x"))...)
	sparse = append(sparse, make([]byte, 1024)...)

	for _, c := range []struct {
		name string
		data []byte
	}{{"data.tar.zst", zb.Bytes()}, {"data.tar.gz", compressAs(t, "data.tar.gz", sparse)}} {
		t.Run(c.name, func(t *testing.T) {
			deb := replaceData(t, base, c.name, c.data)
			info, err := InspectContents(bytes.NewReader(deb))
			if err != nil {
				t.Fatalf("InspectContents of a %d-byte bomb: %v", len(c.data), err)
			}
			got := listing(t, info.Contents)
			if info.Contents.Incomplete == "" || !strings.Contains(info.Contents.Incomplete, c.name) {
				t.Errorf("Incomplete = %q", info.Contents.Incomplete)
			}
			if _, ok := got["/usr/share/before"]; !ok || len(got) != 1 {
				t.Errorf("listed %v, want only what comes before the bound", got)
			}
			sameAsInspect(t, deb, info)
		})
	}
}

// TestInspectContentsUnknownCompression: a data member Inspect accepts but
// InspectContents cannot unpack is accepted with the list marked
// incomplete, not refused.
func TestInspectContentsUnknownCompression(t *testing.T) {
	tree, _ := sampleTree(t, t.TempDir(), testDEP5)
	good := dpkgBuild(t, tree, "-Zxz")
	deb := replaceData(t, good, "data.tar.lzma", []byte("whatever"))
	info, err := InspectContents(bytes.NewReader(deb))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Contents.Files) != 0 || !strings.Contains(info.Contents.Incomplete, "data.tar.lzma") {
		t.Errorf("Contents = %+v", info.Contents)
	}
}

// TestInspectContentsTarEdges: paths are made absolute and clean, a path
// given twice is listed once as its later entry, a directory replaces a
// file, a hard link has its target's digest, and the copyright file of
// another package is not taken.
func TestInspectContentsTarEdges(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	file := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.WriteHeader(&tar.Header{Name: "./", Mode: 0o755, Typeflag: tar.TypeDir})
	file("./usr/a", "first")
	file("usr/b", "b")
	file("./usr//c/../d", "d")
	file("./usr/a", "second")
	file("./usr/e", "e")
	tw.WriteHeader(&tar.Header{Name: "./usr/e/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "./usr/hard", Linkname: "./usr/a", Typeflag: tar.TypeLink})
	tw.WriteHeader(&tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})
	file("./usr/share/doc/other/copyright", testDEP5)
	tw.Close()
	base := dpkgBuild(t, func() string { tree, _ := sampleTree(t, t.TempDir(), ""); return tree }(), "-Zxz")
	info, err := InspectContents(bytes.NewReader(replaceData(t, base, "data.tar", b.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	sameListing(t, listing(t, info.Contents), map[string]string{
		"/usr/a": sum("second"), "/usr/b": sum("b"), "/usr/d": sum("d"), "/usr/hard": sum("second"),
		"/dev/null": "", "/usr/share/doc/other/copyright": sum(testDEP5),
	})
	if info.Contents.Copyright != nil {
		t.Errorf("kept another package's copyright file")
	}
}

// The cost of unpacking: Inspect and InspectContents of a package of about
// 3 MB of files, text and binary, that dpkg-deb built (1 MB with xz).
func benchDeb(b *testing.B, z string) []byte {
	b.Helper()
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755)
	os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte("Package: bench\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDescription: bench\n"), 0o644)
	words := strings.Fields("enmei extended lifecycle support package repository signature debian archive license file digest the of and to in")
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		var text strings.Builder
		for text.Len() < 12<<10 {
			text.WriteString(words[r.IntN(len(words))])
			text.WriteByte(" \n"[r.IntN(8)/7])
		}
		p := filepath.Join(tree, fmt.Sprintf("usr/share/bench/%02d/file%03d.txt", i%20, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(text.String()), 0o644)
	}
	os.MkdirAll(filepath.Join(tree, "usr/lib/bench"), 0o755)
	os.WriteFile(filepath.Join(tree, "usr/lib/bench/blob.so"), pseudoRandom(5, 700<<10), 0o644)
	data := dpkgBuild(b, tree, z)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	return data
}

func benchInspect(b *testing.B, inspect func(io.Reader) (*Info, error)) {
	for _, z := range []string{"xz", "zstd", "gzip"} {
		b.Run(z, func(b *testing.B) {
			data := benchDeb(b, "-Z"+z)
			for b.Loop() {
				if _, err := inspect(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkInspect(b *testing.B)         { benchInspect(b, Inspect) }
func BenchmarkInspectContents(b *testing.B) { benchInspect(b, InspectContents) }
