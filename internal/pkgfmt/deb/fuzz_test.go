package deb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/enmei-project/enmei/internal/testutil/fuzzutil"
)

// Fuzz targets for the parsers of uploaded .debs. Their invariants: never
// panic, never hang, allocate in proportion to the input (not to what its
// headers claim), and refuse malformed input with an error wrapping
// ErrInvalid. Seeds are the demo packages, built at run time, plus the
// damaged variants in testdata/fuzz (regenerate them with
// ENMEI_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus).

// checkAllocs fails if more was allocated since before than a parser of n
// input bytes needs: the largest xz dictionary accepted, decompressor
// state, and a generous factor of the input.
func checkAllocs(t *testing.T, before uint64, n int) {
	t.Helper()
	fuzzutil.CheckAllocs(t, before, n, maxXZDict+16<<20)
}

// demoDebs are the demo packages, sorted by name so seeds are stable.
func demoDebs(tb testing.TB) [][]byte {
	tb.Helper()
	files := debs(tb)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = files[n]
	}
	return out
}

// member is one ar member of a well-formed .deb; for building seeds.
type member struct {
	name string
	data []byte
}

func members(tb testing.TB, deb []byte) []member {
	tb.Helper()
	var out []member
	rest := deb[8:]
	for len(rest) >= 60 {
		name := strings.TrimRight(strings.TrimSpace(string(rest[:16])), "/")
		var size int
		fmt.Sscan(strings.TrimSpace(string(rest[48:58])), &size)
		out = append(out, member{name, rest[60 : 60+size]})
		rest = rest[min(len(rest), 60+size+size%2):]
	}
	return out
}

func archive(ms ...member) []byte {
	out := []byte("!<arch>\n")
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%-16s%-12s%-6s%-6s%-8s%-10d`\n", m.name, "0", "0", "0", "100644", len(m.data))...)
		out = append(out, m.data...)
		if len(m.data)%2 == 1 {
			out = append(out, '\n')
		}
	}
	return out
}

// controlFile is the control file of a demo package.
func controlFile(tb testing.TB, deb []byte) []byte {
	tb.Helper()
	for _, m := range members(tb, deb) {
		if !strings.HasPrefix(m.name, "control.tar") {
			continue
		}
		r, err := decompress(m.name, m.data)
		if err != nil {
			tb.Fatal(err)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err != nil {
				tb.Fatalf("no control file in %s: %v", m.name, err)
			}
			if strings.TrimPrefix(h.Name, "./") == "control" {
				b, _ := io.ReadAll(tr)
				return b
			}
		}
	}
	tb.Fatal("no control member")
	return nil
}

func tarOf(files ...string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return b.Bytes()
}

// compressions are the control member names Inspect accepts, in the order
// FuzzControlTar's kind selects them.
var compressions = []string{"control.tar", "control.tar.gz", "control.tar.xz", "control.tar.zst"}

func compress(tb testing.TB, name string, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	switch name {
	case "control.tar":
		return b
	case "control.tar.gz":
		w = gzip.NewWriter(&out)
	case "control.tar.xz":
		w, err = xz.NewWriter(&out)
	case "control.tar.zst":
		w, err = zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	}
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// zstdHugeWindow is a valid zstd frame of one byte whose header asks for a
// 512 MiB window, which the decoder used to allocate.
func zstdHugeWindow() []byte {
	return []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x98, 0x09, 0x00, 0x00, 'x'}
}

// xzHugeDict is an xz stream whose block header, checksum and all, asks
// for a huge LZMA2 dictionary (code 40: 4 GiB, 37: 1.5 GiB), which
// ulikunitz/xz allocates, followed by an empty block.
func xzHugeDict(dictCode byte) []byte {
	out := append([]byte(nil), xzMagic...)
	out = append(out, 0, 1) // CRC32 check
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out[6:8]))
	hdr := []byte{2, 0, 0x21, 1, dictCode, 0, 0, 0}
	out = append(out, hdr...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(hdr))
	out = append(out, 0)       // LZMA2 end
	out = append(out, 0, 0, 0) // padding
	out = append(out, 0, 0, 0, 0)
	return append(out, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // (not a valid index; the decoder fails after allocating)
}

// hostileControls are control members that must be refused cheaply.
func hostileControls() []member {
	return []member{
		{"control.tar.zst", zstdHugeWindow()},
		{"control.tar.xz", xzHugeDict(40)},
		{"control.tar.xz", xzHugeDict(37)},
	}
}

// checkContentsAllocs is checkAllocs for InspectContents, which may also
// hold a file list of what the data member unpacks to (up to dataRatio
// times the input plus dataSlack; at least a 512-byte tar header per entry)
// and the copyright file.
func checkContentsAllocs(t *testing.T, before uint64, n int) {
	t.Helper()
	fuzzutil.CheckAllocs(t, before, n, maxXZDict+16<<20+MaxCopyright+dataSlack+2*dataRatio*uint64(n))
}

// FuzzInspect feeds arbitrary bytes to Inspect and InspectContents: ar
// framing, debian-binary, control.tar.{,gz,xz,zst}, the control file and
// the data member. What they accept must index as itself, under the pool;
// InspectContents refuses all Inspect refuses, and agrees with it on what
// both accept.
func FuzzInspect(f *testing.F) {
	for _, d := range demoDebs(f) {
		f.Add(d)
		ms := members(f, d)
		ctl := controlFile(f, d)
		for _, c := range compressions {
			f.Add(archive(ms[0], member{c, compress(f, c, tarOf("./control", string(ctl)))}, ms[len(ms)-1]))
		}
		for _, h := range hostileControls() {
			f.Add(archive(ms[0], h, ms[len(ms)-1]))
		}
	}
	f.Add([]byte("!<arch>\n"))
	f.Add([]byte("!<arch>\ndebian-binary   0           0     0     100644  9999999999`\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := fuzzutil.HeapAllocs()
		info, err := Inspect(bytes.NewReader(data))
		checkAllocs(t, before, len(data))
		before = fuzzutil.HeapAllocs()
		full, fullErr := InspectContents(bytes.NewReader(data))
		checkContentsAllocs(t, before, len(data))
		if fullErr != nil && !errors.Is(fullErr, ErrInvalid) {
			t.Fatalf("InspectContents error does not wrap ErrInvalid: %v", fullErr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Inspect error does not wrap ErrInvalid: %v", err)
			}
			if fullErr == nil {
				t.Fatalf("InspectContents accepted what Inspect refuses (%v)", err)
			}
			return
		}
		if info.Size != int64(len(data)) {
			t.Fatalf("Size = %d, want %d", info.Size, len(data))
		}
		checkInfo(t, info)
		if fullErr == nil {
			if full.Size != info.Size || full.SHA256 != info.SHA256 || full.MD5 != info.MD5 || !bytes.Equal(full.Control, info.Control) {
				t.Fatalf("InspectContents = %+v, Inspect = %+v", full, info)
			}
			checkContents(t, full.Contents)
		}
	})
}

// checkContents: listed paths are absolute, clean and listed once, digests
// are SHA-256 or empty, and a kept copyright file is within its bound.
func checkContents(t *testing.T, c *Contents) {
	t.Helper()
	if c == nil {
		t.Fatal("InspectContents left Contents nil")
	}
	seen := map[string]bool{}
	for _, f := range c.Files {
		if f.Path == "" || f.Path[0] != '/' || path.Clean(f.Path) != f.Path || f.Path == "/" || seen[f.Path] {
			t.Fatalf("listed path %q: not absolute and clean, or listed twice", f.Path)
		}
		seen[f.Path] = true
		if f.SHA256 != "" && len(f.SHA256) != 64 {
			t.Fatalf("%s: digest %q", f.Path, f.SHA256)
		}
	}
	if len(c.Copyright) > MaxCopyright {
		t.Fatalf("kept a copyright file of %d bytes", len(c.Copyright))
	}
}

// dataCompressions are the data member names FuzzDataTar's kind selects.
var dataCompressions = []string{"data.tar", "data.tar.gz", "data.tar.xz", "data.tar.zst", "data.tar.bz2"}

// FuzzDataTar fuzzes the data member alone, each compression in turn, so
// mutations reach the decompressors and the tar reader of InspectContents
// rather than failing the ar framing first.
func FuzzDataTar(f *testing.F) {
	for _, d := range demoDebs(f) {
		for _, m := range members(f, d) {
			if strings.HasPrefix(m.name, "data.tar") {
				for i, c := range dataCompressions {
					if c == m.name {
						f.Add(uint8(i), m.data)
					}
				}
			}
		}
	}
	seed := tarOf("./usr/share/doc/pkg/copyright", "Format: dep5\n\nFiles: *\nLicense: MIT\n", "./usr/bin/x", "#!/bin/sh\n")
	for i, c := range dataCompressions[:4] {
		f.Add(uint8(i), compress(f, strings.Replace(c, "data", "control", 1), seed))
	}
	for _, h := range hostileControls() {
		for i, c := range dataCompressions {
			if strings.Replace(c, "data", "control", 1) == h.name {
				f.Add(uint8(i), h.data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name := dataCompressions[int(kind)%len(dataCompressions)]
		before := fuzzutil.HeapAllocs()
		c, err := readData(name, bytes.NewReader(data), int64(len(data)), "pkg")
		checkContentsAllocs(t, before, len(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("readData error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		checkContents(t, c)
	})
}

// checkInfo: an accepted package lands under its pool directory, and its
// Packages stanza reads back as itself.
func checkInfo(t *testing.T, info *Info) {
	t.Helper()
	p := PoolPath("main", info)
	if path.Clean(p) != p || !strings.HasPrefix(p, "pool/main/") || strings.Count(p, "/") != 4 {
		t.Fatalf("PoolPath = %q: not a file under pool/main/<prefix>/<source>/", p)
	}
	f := fields(Entry(info, p))
	if f["Package"] != info.Package || f["Version"] != info.Version || f["Architecture"] != info.Architecture || f["Filename"] != p {
		t.Fatalf("stanza reads back as %q %q %q %q, want %q %q %q %q", f["Package"], f["Version"], f["Architecture"], f["Filename"],
			info.Package, info.Version, info.Architecture, p)
	}
}

// FuzzControlTar fuzzes the control member alone, each compression in
// turn, so mutations reach the tar and decompressor parsers rather than
// failing Inspect's framing first.
func FuzzControlTar(f *testing.F) {
	for _, d := range demoDebs(f) {
		ctl := controlFile(f, d)
		for i, c := range compressions {
			f.Add(uint8(i), compress(f, c, tarOf("./control", string(ctl))))
			f.Add(uint8(i), compress(f, c, tarOf("./md5sums", "x  y\n", "./postinst", "#!/bin/sh\n", "control", string(ctl))))
		}
	}
	for _, h := range hostileControls() {
		for i, c := range compressions {
			if c == h.name {
				f.Add(uint8(i), h.data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name := compressions[int(kind)%len(compressions)]
		before := fuzzutil.HeapAllocs()
		info, err := parseControlTar(name, data)
		checkAllocs(t, before, len(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseControlTar error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		checkInfo(t, info)
	})
}

// FuzzParseControl fuzzes the deb822 paragraph parser of control files.
func FuzzParseControl(f *testing.F) {
	for _, d := range demoDebs(f) {
		f.Add(controlFile(f, d))
	}
	for _, s := range []string{
		"Package: a\nVersion: 1:2.0-1\nArchitecture: amd64\nSource: src (1.0)\nDescription: x\n y\n .\n z\n",
		"Package: a\r\nVersion: 1\r\nArchitecture: all\r\n\r\nPackage: b\n",
		"Package: a\nVersion: 1\nArchitecture: all\nSource: ../../../etc\n",
		"Package: ..\nVersion: 1\nArchitecture: all\n",
		"Package:\nVersion: 1\nArchitecture: all\n",
		"\n\n\nPackage: a\nVersion: 1\nArchitecture: all\n",
		"Package: a\n Version: 1\nArchitecture: all\n",
		"Package: a\nVersion: 1\nArchitecture: all\nSource: .\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseControl(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseControl error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		checkInfo(t, info)
	})
}

// TestHostileControlsRefusedCheaply: members asking for a huge decoder
// window or dictionary are refused as ErrInvalid, having allocated little;
// a control.tar that decompresses beyond maxControlTar is refused too.
func TestHostileControlsRefusedCheaply(t *testing.T) {
	d := demoDebs(t)[0]
	ms := members(t, d)
	for i, h := range hostileControls() {
		before := fuzzutil.HeapAllocs()
		_, err := Inspect(bytes.NewReader(archive(ms[0], h, ms[len(ms)-1])))
		if got := fuzzutil.HeapAllocs() - before; got > 16<<20 {
			t.Errorf("hostile control %d (%s): allocated %d bytes", i, h.name, got)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("hostile control %d (%s): %v, want ErrInvalid", i, h.name, err)
		}
	}
	// A bomb: a tar entry of maxControlTar zeros before the control file.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "./zeros", Mode: 0o644, Size: maxControlTar, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, maxControlTar))
	tw.WriteHeader(&tar.Header{Name: "./control", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n\n"))
	tw.Close()
	bomb := compress(t, "control.tar.zst", tb.Bytes())
	if _, err := parseControlTar("control.tar.zst", bomb); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("%d-byte control.tar.zst of %d bytes: %v, want ErrInvalid (damaged)", len(bomb), tb.Len(), err)
	}
}

// TestInspectDpkgBuilt: packages built by the real dpkg-deb, with each of
// its compressors and levels, pass checkXZ and Inspect.
func TestInspectDpkgBuilt(t *testing.T) {
	ctl := controlFile(t, demoDebs(t)[0])
	for _, args := range [][]string{{"-Zxz"}, {"-Zxz", "-z9"}, {"-Zxz", "-z0"}, {"-Zgzip"}, {"-Zzstd"}, {"-Znone"}} {
		t.Run(strings.Join(args, ""), func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "root/DEBIAN"), 0o755)
			os.MkdirAll(filepath.Join(dir, "root/usr/share/x"), 0o755)
			os.WriteFile(filepath.Join(dir, "root/DEBIAN/control"), ctl, 0o644)
			os.WriteFile(filepath.Join(dir, "root/usr/share/x/y"), bytes.Repeat([]byte("enmei "), 5000), 0o644)
			out := filepath.Join(dir, "x.deb")
			cmd := exec.Command("dpkg-deb", append(append([]string{"--root-owner-group"}, args...), "--build", filepath.Join(dir, "root"), out)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb: %v\n%s", err, b)
			}
			data, _ := os.ReadFile(out)
			info, err := Inspect(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			checkInfo(t, info)
		})
	}
}

// TestFuzzCorpus checks the testdata/fuzz seeds against what they are made
// from: each demo .deb and control member truncated and with bytes flipped.
// With ENMEI_WRITE_FUZZ_CORPUS=1 it rewrites them.
func TestFuzzCorpus(t *testing.T) {
	files := debs(t)
	for name, d := range files {
		base := strings.TrimSuffix(name, ".deb")
		ms := members(t, d)
		seeds := map[string][]byte{base: d}
		for _, cut := range []int{8, 30, 68, 68 + 60 + 2, len(d) / 2, len(d) - 1} {
			seeds[fmt.Sprintf("%s-cut%d", base, cut)] = d[:cut]
		}
		for _, at := range []int{8, 8 + 49, 8 + 58, 68 + 1, 72 + 60 + 10, 72 + 60 + 30, len(d) / 2, len(d) - 5} {
			b := bytes.Clone(d)
			b[at] ^= 0x41
			seeds[fmt.Sprintf("%s-flip%d", base, at)] = b
		}
		seeds[base+"-reordered"] = archive(ms[0], ms[2], ms[1])
		seeds[base+"-oddbinary"] = archive(member{"debian-binary", bytes.Repeat([]byte("2.0\n"), 30)}, ms[1], ms[2])
		writeCorpus(t, "FuzzInspect", seeds, nil)

		ctl := controlFile(t, d)
		tars := map[string][]byte{}
		kinds := map[string]uint8{}
		for i, c := range compressions {
			z := compress(t, c, tarOf("./control", string(ctl)))
			for _, v := range []struct {
				n string
				b []byte
			}{{"", z}, {"-cut", z[:len(z)*2/3]}, {"-flip", flip(z, len(z)/3)}, {"-flip2", flip(z, 12)}} {
				k := base + "-" + c + v.n
				tars[k], kinds[k] = v.b, uint8(i)
			}
		}
		writeCorpus(t, "FuzzControlTar", tars, kinds)
		ctls := map[string][]byte{base: ctl, base + "-crlf": bytes.ReplaceAll(ctl, []byte("\n"), []byte("\r\n"))}
		writeCorpus(t, "FuzzParseControl", ctls, nil)
	}
}

func flip(b []byte, at int) []byte {
	b = bytes.Clone(b)
	b[at] ^= 0x41
	return b
}

// writeCorpus writes seeds in the "go test fuzz v1" format; kinds, when
// set, gives FuzzControlTar's first argument.
func writeCorpus(t *testing.T, target string, seeds map[string][]byte, kinds map[string]uint8) {
	t.Helper()
	for name, b := range seeds {
		body := "go test fuzz v1\n"
		if kinds != nil {
			body += fmt.Sprintf("byte(%q)\n", kinds[name])
		}
		body += fmt.Sprintf("[]byte(%q)\n", b)
		fuzzutil.Seed(t, target, name, body)
	}
}
