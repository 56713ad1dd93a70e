package deb

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// hello.dsc as dpkg-source 1.21 writes it.
const helloDsc = `Format: 3.0 (quilt)
Source: hello
Binary: hello
Architecture: any
Version: 1:2.10-3
Maintainer: Santiago Vila <sanvila@debian.org>
Homepage: https://www.gnu.org/software/hello/
Standards-Version: 4.6.2
Build-Depends: debhelper-compat (= 13)
Package-List:
 hello deb devel optional arch=any
Checksums-Sha1:
 f7bebf6f9c62a2295e889f66e05ce9bfaed9ace3 725946 hello_2.10.orig.tar.gz
 8ca7be8c4eed2ee4d2ca2d6a7e1b1fa0e3c2d8b5 12688 hello_2.10-3.debian.tar.xz
Checksums-Sha256:
 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz
 5d6d6ebc0a5a1b0a1c3c3ce6a3fb9ce6f1ec66d1b5d9e0ab9d6e08ef6c0f3d0a 12688 hello_2.10-3.debian.tar.xz
Files:
 6cd0ffea3884a4e79330338dcc2987d6 725946 hello_2.10.orig.tar.gz
 27a4f5a9b4b47bc2a0ae1ff7e9cb4f97 12688 hello_2.10-3.debian.tar.xz
`

func TestParseDsc(t *testing.T) {
	d, err := ParseDsc([]byte(helloDsc))
	if err != nil {
		t.Fatal(err)
	}
	if d.Source != "hello" || d.Version != "1:2.10-3" || d.Format != "3.0 (quilt)" || d.Signed || d.Filename() != "hello_2.10-3.dsc" {
		t.Errorf("parsed %+v", d)
	}
	want := []DscFile{
		{Name: "hello_2.10.orig.tar.gz", Size: 725946, SHA256: "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b", SHA1: "f7bebf6f9c62a2295e889f66e05ce9bfaed9ace3", MD5: "6cd0ffea3884a4e79330338dcc2987d6"},
		{Name: "hello_2.10-3.debian.tar.xz", Size: 12688, SHA256: "5d6d6ebc0a5a1b0a1c3c3ce6a3fb9ce6f1ec66d1b5d9e0ab9d6e08ef6c0f3d0a", SHA1: "8ca7be8c4eed2ee4d2ca2d6a7e1b1fa0e3c2d8b5", MD5: "27a4f5a9b4b47bc2a0ae1ff7e9cb4f97"},
	}
	if len(d.Files) != 2 || d.Files[0] != want[0] || d.Files[1] != want[1] {
		t.Errorf("files %+v", d.Files)
	}

	// Clearsigned, as dpkg-buildpackage leaves it: the same package.
	k, _ := keys(t)
	signed, err := k.ClearSign([]byte(helloDsc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseDsc(signed)
	if err != nil {
		t.Fatalf("clearsigned .dsc: %v", err)
	}
	if !s.Signed || s.Source != "hello" || len(s.Files) != 2 || s.Files[1] != want[1] {
		t.Errorf("clearsigned: %+v", s)
	}

	// The Sources stanza: Package first, the checksum fields listing the
	// .dsc and its files as hashed, Directory last.
	dsc := DscFile{Name: "hello_2.10-3.dsc", Size: 1500, SHA256: strings.Repeat("a", 64), SHA1: strings.Repeat("b", 40), MD5: strings.Repeat("c", 32)}
	e := string(SourcesEntry(d, dsc, d.Files, PoolDir("main", "hello")))
	for _, w := range []string{"Package: hello\nFormat: 3.0 (quilt)\nBinary: hello\n", "Package-List:\n hello deb devel optional arch=any\n",
		"Files:\n cccccccccccccccccccccccccccccccc 1500 hello_2.10-3.dsc\n 6cd0ffea3884a4e79330338dcc2987d6 725946 hello_2.10.orig.tar.gz\n",
		"Checksums-Sha256:\n " + strings.Repeat("a", 64) + " 1500 hello_2.10-3.dsc\n", "\nDirectory: pool/main/h/hello\n"} {
		if !strings.Contains(e, w) {
			t.Errorf("Sources stanza lacks %q:\n%s", w, e)
		}
	}
	if strings.Count(e, "Checksums-Sha1:") != 1 || strings.Contains(e, "Source:") || !strings.HasSuffix(e, "Directory: pool/main/h/hello\n") {
		t.Errorf("Sources stanza:\n%s", e)
	}
	if PoolDir("main", "libfoo") != "pool/main/libf/libfoo" {
		t.Errorf("PoolDir of a lib source: %s", PoolDir("main", "libfoo"))
	}
}

func TestParseDscRefuses(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	head := "Format: 1.0\nSource: x\nVersion: 1\n"
	for name, tt := range map[string]struct{ dsc, want string }{
		"empty":           {"\n\n", "is empty"},
		"binary":          {"\x00\x01\x02", "control characters"},
		"not a field":     {"just text\n", "not a field"},
		"no source":       {"Format: 1.0\nVersion: 1\nChecksums-Sha256:\n " + sha + " 1 x.tar.gz\n", "lacks Source, Version or Format"},
		"unsafe source":   {"Format: 1.0\nSource: ../x\nVersion: 1\nChecksums-Sha256:\n " + sha + " 1 x.tar.gz\n", "not allowed in a file name"},
		"no sha256":       {head + "Files:\n 0123456789abcdef0123456789abcdef 1 x.tar.gz\n", "lists no Checksums-Sha256"},
		"short sum":       {head + "Checksums-Sha256:\n abcd 1 x.tar.gz\n", "malformed line"},
		"bad size":        {head + "Checksums-Sha256:\n " + sha + " -1 x.tar.gz\n", "malformed size"},
		"path":            {head + "Checksums-Sha256:\n " + sha + " 1 ../../etc/passwd\n", "not a plain file name"},
		"dot file":        {head + "Checksums-Sha256:\n " + sha + " 1 .hidden\n", "not a plain file name"},
		"a dsc":           {head + "Checksums-Sha256:\n " + sha + " 1 other.dsc\n", "not a plain file name"},
		"twice":           {head + "Checksums-Sha256:\n " + sha + " 1 x.tar.gz\n " + sha + " 1 x.tar.gz\n", "lists x.tar.gz twice"},
		"md5 disagrees":   {head + "Checksums-Sha256:\n " + sha + " 1 x.tar.gz\nFiles:\n 0123456789abcdef0123456789abcdef 2 x.tar.gz\n", "disagree about x.tar.gz"},
		"md5 fewer":       {head + "Checksums-Sha256:\n " + sha + " 1 x.tar.gz\n " + sha + " 1 y.tar.gz\nFiles:\n 0123456789abcdef0123456789abcdef 1 x.tar.gz\n", "lists 1 files in Files but 2"},
		"archive field":   {head + "Directory: pool/evil\nChecksums-Sha256:\n " + sha + " 1 x.tar.gz\n", "sets Directory, which only the archive may set"},
		"package field":   {head + "Package: y\nChecksums-Sha256:\n " + sha + " 1 x.tar.gz\n", "sets Package"},
		"two paragraphs":  {head + "Checksums-Sha256:\n " + sha + " 1 x.tar.gz\n\nSource: y\n", "more than one paragraph"},
		"field twice":     {head + "Version: 2\nChecksums-Sha256:\n " + sha + " 1 x.tar.gz\n", "sets Version twice"},
		"damaged armor":   {"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + head, "armor is damaged"},
		"other pgp":       {"-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n", "not a clearsigned control file"},
		"too large":       {head + strings.Repeat("X-Pad: "+strings.Repeat("x", 1000)+"\n", MaxDsc/1000), "larger than"},
		"blank in fields": {head + "Checksums-Sha256:\n \n", "empty or misplaced continuation line"},
	} {
		_, err := ParseDsc([]byte(tt.dsc))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "invalid Debian source package: ") {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
	}
}

// TestSourceIndex: a source repository's dists/ holds Sources (of the
// non-empty entries, sorted) in three compressions with by-hash copies,
// and a Release naming Architectures: source, signed.
func TestSourceIndex(t *testing.T) {
	k, _ := keys(t)
	entries := [][]byte{[]byte("Package: zz\nVersion: 1\nDirectory: pool/main/z/zz\n"), nil, []byte("Package: aa\nVersion: 2\nDirectory: pool/main/a/aa\n"), []byte("Package: aa\nVersion: 10\n")}
	files, err := SourceIndex(IndexOptions{Origin: "enmei", Label: "p", Suite: "stable", Component: "main"}, entries, k, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	plain := string(byPath["dists/stable/main/source/Sources"])
	if plain != "Package: aa\nVersion: 2\nDirectory: pool/main/a/aa\n\nPackage: aa\nVersion: 10\n\nPackage: zz\nVersion: 1\nDirectory: pool/main/z/zz\n" {
		t.Errorf("Sources:\n%s", plain)
	}
	for _, p := range []string{"dists/stable/main/source/Sources.gz", "dists/stable/main/source/Sources.xz", "dists/stable/InRelease", "dists/stable/Release.gpg"} {
		if len(byPath[p]) == 0 {
			t.Errorf("%s missing", p)
		}
	}
	rel := string(byPath["dists/stable/Release"])
	if !strings.Contains(rel, "Architectures: source\n") || !strings.Contains(rel, " main/source/Sources.xz\n") || strings.Contains(rel, "binary-") {
		t.Errorf("Release:\n%s", rel)
	}
	n := 0
	for p := range byPath {
		if strings.Contains(p, "/source/by-hash/SHA256/") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d by-hash copies, want 3", n)
	}
	if !bytes.Contains(byPath["dists/stable/InRelease"], []byte("Architectures: source")) {
		t.Error("InRelease does not carry the Release")
	}
}

// FuzzParseDsc: any input is a source package or ErrInvalid; one taken
// names only plain files, and its Sources stanza is exactly one stanza.
func FuzzParseDsc(f *testing.F) {
	f.Add([]byte(helloDsc))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + helloDsc + "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCAAQ\n=abcd\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte("Format: 1.0\nSource: x\nVersion: 1\nChecksums-Sha256:\n " + strings.Repeat("0", 64) + " 1 x.tar.gz\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDsc(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if d.Source == "" || d.Version == "" || len(d.Files) == 0 || strings.ContainsAny(d.Filename(), "/\\") {
			t.Fatalf("taken: %+v", d)
		}
		for _, file := range d.Files {
			if file.Name == "" || strings.ContainsAny(file.Name, "/\\ \t\n\x00") || file.Name[0] == '.' || len(file.SHA256) != 64 {
				t.Fatalf("listed file %+v", file)
			}
		}
		e := SourcesEntry(d, DscFile{Name: d.Filename(), SHA256: strings.Repeat("0", 64)}, d.Files, PoolDir("main", d.Source))
		if bytes.Contains(bytes.TrimRight(e, "\n"), []byte("\n\n")) || !bytes.HasPrefix(e, []byte("Package: "+d.Source+"\n")) {
			t.Fatalf("Sources stanza is not one stanza:\n%s", e)
		}
	})
}
