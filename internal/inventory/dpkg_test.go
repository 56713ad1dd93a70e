package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
)

// testDeb is a package the tests build with dpkg-deb.
type testDeb struct {
	control   string            // the control file
	files     map[string]string // path -> content
	links     map[string]string // path -> target
	dirs      []string          // empty directories the package owns
	conffiles []string
}

func (d testDeb) build(t testing.TB, dir, name string) string {
	t.Helper()
	tree := filepath.Join(dir, name)
	writeFile(t, filepath.Join(tree, "DEBIAN/control"), d.control)
	if len(d.conffiles) > 0 {
		writeFile(t, filepath.Join(tree, "DEBIAN/conffiles"), strings.Join(d.conffiles, "\n")+"\n")
	}
	for p, c := range d.files {
		writeFile(t, filepath.Join(tree, p), c)
	}
	for p, target := range d.links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(tree, p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range d.dirs {
		if err := os.MkdirAll(filepath.Join(tree, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+".deb")
	run(t, "dpkg-deb", "--root-owner-group", "--build", tree, out)
	return out
}

// newDpkgRoot makes an empty dpkg database under a new scratch root.
func newDpkgRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), "")
	return root
}

const dep5Copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: foo
Source: https://example.org/foo

Files: *
Copyright: 2020 Foo Authors
License: GPL-2+ or Artistic
 This program is free software.

Files: compat/*
Copyright: 2019 Someone
License: MIT

Files: debian/*
Copyright: 2021 A Debian Developer
License: GPL-2+

License: MIT
 Permission is hereby granted...

License: Artistic
 The "Artistic License"
`

// TestReadDpkgInstalledByDpkg has the real dpkg install packages built
// with dpkg-deb into a scratch root and reads its database back.
func TestReadDpkgInstalledByDpkg(t *testing.T) {
	needTool(t, "dpkg", "dpkg")
	needTool(t, "dpkg-deb", "dpkg")
	root, dir := newDpkgRoot(t), t.TempDir()
	debs := []string{
		testDeb{
			control: `Package: libfoo1
Source: foo (2:1.0-3)
Version: 2:1.0-3+b1
Architecture: amd64
Multi-Arch: same
Maintainer: Test <test@example.com>
Description: foo library
 The foo library, a binNMU of source foo.
 .
 More text.
`,
			files: map[string]string{
				"etc/foo/foo.conf":                         "setting = 1\n",
				"usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0": "ELF foo\n",
				"usr/share/doc/libfoo1/copyright":          dep5Copyright,
			},
			links:     map[string]string{"usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.0.0"},
			dirs:      []string{"var/lib/foo"},
			conffiles: []string{"/etc/foo/foo.conf"},
		}.build(t, dir, "libfoo1"),
		testDeb{
			control: `Package: foo-doc
Source: foo
Version: 1.0-3
Architecture: all
Maintainer: Test <test@example.com>
Description: foo manual
`,
			files: map[string]string{
				"usr/share/doc/foo-doc/manual.txt": "Read me.\n",
				"usr/share/doc/foo-doc/copyright":  "This is foo, written by Foo Authors.\nIt is under the GPL.\n",
			},
		}.build(t, dir, "foo-doc"),
		testDeb{
			control: `Package: bar
Version: 0:5
Architecture: amd64
Maintainer: Test <test@example.com>
Description: bar
`,
			files: map[string]string{"usr/bin/bar": "#!/bin/sh\n"},
		}.build(t, dir, "bar"),
	}
	run(t, "dpkg", append([]string{"--root=" + root, "--log=/dev/null", "--force-all", "--install"}, debs...)...)
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/info/libfoo1:amd64.list")); err != nil {
		t.Fatalf("dpkg did not name the Multi-Arch: same package's list libfoo1:amd64.list: %v", err)
	}
	// A local change to the configuration file.
	writeFile(t, filepath.Join(root, "etc/foo/foo.conf"), "setting = 2\n")

	got, db, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DB{Kind: KindDpkg, Path: filepath.Join(root, "var/lib/dpkg/status")}); db != want {
		t.Errorf("db = %+v, want %+v", db, want)
	}
	want := []Package{
		// dpkg itself drops an epoch of 0.
		{Format: "deb", Name: "bar", Version: "5", Arch: "amd64", Source: "bar", Summary: "bar", Files: []File{{Path: "/usr/bin/bar"}}},
		{Format: "deb", Name: "foo-doc", Version: "1.0-3", Arch: "all", Source: "foo", Summary: "foo manual", Files: []File{
			{Path: "/usr/share/doc/foo-doc/copyright"}, {Path: "/usr/share/doc/foo-doc/manual.txt"}}},
		{Format: "deb", Name: "libfoo1", Epoch: "2", Version: "1.0-3+b1", Arch: "amd64", Source: "foo", SourceVersion: "2:1.0-3",
			License: "(GPL-2+ OR Artistic) AND GPL-2+ AND MIT", Summary: "foo library", Files: []File{
				{Path: "/etc/foo/foo.conf"},
				{Path: "/usr/lib/x86_64-linux-gnu/libfoo.so.1"},
				{Path: "/usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0"},
				{Path: "/usr/share/doc/libfoo1/copyright"},
			}},
	}
	samePackages(t, got, want)

	// With HashFiles, the files still as packaged get their SHA-256; the
	// changed configuration file and the link get none.
	got, _, err = ReadWith(context.Background(), root, Options{HashFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	want[0].Files[0].SHA256 = sha("#!/bin/sh\n")
	want[1].Files[0].SHA256 = sha("This is foo, written by Foo Authors.\nIt is under the GPL.\n")
	want[1].Files[1].SHA256 = sha("Read me.\n")
	want[2].Files[2].SHA256 = sha("ELF foo\n")
	want[2].Files[3].SHA256 = sha(dep5Copyright)
	samePackages(t, got, want)
	// The configuration file's packaged digest came from Conffiles or
	// md5sums: restoring the content restores its SHA-256.
	writeFile(t, filepath.Join(root, "etc/foo/foo.conf"), "setting = 1\n")
	got, _, err = ReadWith(context.Background(), root, Options{HashFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if f := got[2].Files[0]; f.SHA256 != sha("setting = 1\n") {
		t.Errorf("foo.conf = %+v", f)
	}
}

// copyTree copies a testdata tree into dst. File names hold "%3A" for
// ':', which Go module file names may not contain (dpkg's "name:arch"
// lists).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, strings.ReplaceAll(rel, "%3A", ":"))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadDpkgStatusFixture reads a hand-written status with the cases a
// real host has: two architectures of one Multi-Arch: same package with
// their "name:arch" lists, epochs, continuation lines, held and
// to-be-removed packages (installed), half-installed, unpacked and
// config-files ones (not), triggers-pending (installed), a package without
// a list, and field names in another case.
func TestReadDpkgStatusFixture(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/dpkg", root)
	// Directories owned as leaves of a list: one exists under root (not a
	// file), one does not (kept: the list is all there is to go by).
	if err := os.MkdirAll(filepath.Join(root, "var/lib/libc6-empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Format: "deb", Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Source: "glibc",
			License: "(LGPL-2.1+ WITH GCC-exception-2.0) AND GPL-2+ AND LGPL-2.1+", Summary: "GNU C Library: Shared libraries", Files: []File{
				{Path: "/etc/gai.conf"},
				{Path: "/etc/ld.so.conf.d/x86_64-linux-gnu.conf"},
				{Path: "/lib64/ld-linux-x86-64.so.2"},
				// gconv is a directory though gconv-modules.cache sorts
				// between it and its file, and it is not under root.
				{Path: "/usr/lib/x86_64-linux-gnu/gconv-modules.cache"},
				{Path: "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"},
				{Path: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
				{Path: "/usr/share/lintian/overrides/libc6"},
			}},
		{Format: "deb", Name: "libc6", Version: "2.36-9+deb12u4", Arch: "i386", Source: "glibc",
			License: "(LGPL-2.1+ WITH GCC-exception-2.0) AND GPL-2+ AND LGPL-2.1+", Summary: "GNU C Library: Shared libraries", Files: []File{
				{Path: "/usr/lib/i386-linux-gnu/libc.so.6"},
			}},
		{Format: "deb", Name: "lowercase-fields", Version: "1.0", Arch: "all", Source: "lowercase-fields", Summary: "field names are case-insensitive"},
		{Format: "deb", Name: "man-db", Version: "2.11.2-2", Arch: "amd64", Source: "man-db", Summary: "tools for reading manual pages",
			Files: []File{{Path: "/usr/bin/man"}}},
		{Format: "deb", Name: "nolist", Version: "3", Arch: "all", Source: "nolist", Summary: "a package whose list is missing"},
		{Format: "deb", Name: "openssh-server", Epoch: "1", Version: "9.2p1-2+deb12u2", Arch: "amd64", Source: "openssh",
			Summary: "secure shell (SSH) server, for secure access from remote machines", Files: []File{{Path: "/usr/sbin/sshd"}}},
		{Format: "deb", Name: "vim-tiny", Epoch: "2", Version: "9.0.1378-2", Arch: "amd64", Source: "vim", SourceVersion: "2:9.0.1378-1",
			Summary: "Vi IMproved - enhanced vi editor - compact version", Files: []File{{Path: "/usr/bin/vim.tiny"}}},
	}
	samePackages(t, got, want)
}

// TestReadDpkgDamagedStatus: malformed status files are errors naming the
// file and the line, never a partial list.
func TestReadDpkgDamagedStatus(t *testing.T) {
	const ok = "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n"
	for _, c := range []struct{ name, status, want string }{
		{"garbage line", ok + "Package: b\nStatus: install ok installed\nthis line is garbage\n", "line 8: \"this line is garbage\" is neither a field nor a continuation line"},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1: "},
		{"continuation first", " leading continuation\nPackage: a\n", "line 1: a continuation line outside any field"},
		{"continuation after blank", ok + " orphan\n", "line 6: a continuation line outside any field"},
		{"duplicate field", ok + "Package: b\nVersion: 1\nVersion: 2\n", "line 8: a second Version field in the entry starting at line 6"},
		{"bad status", ok + "Package: b\nStatus: installed\nVersion: 1\n", "line 6: package b has Status \"installed\", not \"want flag status\""},
		{"no package", ok + "Status: install ok installed\nVersion: 1\n", "line 6: the entry starting here has no Package field"},
		{"no version", ok + "Package: b\nStatus: install ok installed\n", "line 6: package b is installed but has no Version"},
		{"bad epoch", ok + "Package: b\nStatus: install ok installed\nVersion: x:1\n", "line 6: package b has Version \"x:1\", whose epoch is not a number"},
		{"bad field name", ok + "Pack age: b\n", "line 6: \"Pack age: b\" is neither a field nor a continuation line"},
		{"slash in name", ok + "Package: ../b\nStatus: install ok installed\nVersion: 1\n", "line 6: package name \"../b\""},
		{"long line", ok + "Package: b\nDescription: " + strings.Repeat("x", maxStatusLine) + "\n", "line 7: a line longer than 1048576 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newDpkgRoot(t)
			path := filepath.Join(root, "var/lib/dpkg/status")
			writeFile(t, path, c.status)
			pkgs, _, err := Read(context.Background(), root)
			if err == nil {
				t.Fatalf("read %d packages", len(pkgs))
			}
			prefix := "the dpkg database " + path + " is damaged at "
			if !strings.HasPrefix(err.Error(), prefix+c.want) || !errors.Is(err, ErrDamaged) || errs.KindOf(err) != errs.Invalid {
				t.Errorf("err = %q\nwant %q", err, prefix+c.want)
			}
		})
	}
}

// TestReadDpkgNoPackages: an empty status, or one whose packages are all
// removed, is an error.
func TestReadDpkgNoPackages(t *testing.T) {
	for _, status := range []string{"", "\n\n", "Package: old\nStatus: deinstall ok config-files\nVersion: 1\n"} {
		root := newDpkgRoot(t)
		path := filepath.Join(root, "var/lib/dpkg/status")
		writeFile(t, path, status)
		_, _, err := Read(context.Background(), root)
		want := "the deb database " + path + " has no packages: is --root right?"
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoPackages) {
			t.Errorf("status %q: err = %v, want %q", status, err, want)
		}
	}
}

// writeSyntheticDpkg writes a dpkg database of n installed packages with
// files lists of 25 files and a DEP-5 copyright file each, as a host of
// that size has.
func writeSyntheticDpkg(t testing.TB, root string, n int) {
	t.Helper()
	var status strings.Builder
	for i := range n {
		name := fmt.Sprintf("pkg%04d", i)
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: %d\n"+
			"Maintainer: Debian Developers <devel@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: src%03d\n"+
			"Version: 1:%d.%d-%d+deb12u1\nDepends: libc6 (>= 2.34), libssl3 (>= 3.0.0)\nConffiles:\n /etc/%s.conf %s\n"+
			"Description: synthetic package %d\n This is the long description\n of a synthetic package.\n .\n It has paragraphs.\n\n",
			name, 100+i, i/10, i, i%7, i%3, name, strings.Repeat("0", 32), i)
		var list strings.Builder
		list.WriteString("/.\n/etc\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/share\n/usr/share/doc\n")
		fmt.Fprintf(&list, "/etc/%s.conf\n/usr/share/doc/%s\n/usr/share/doc/%s/copyright\n/usr/lib/x86_64-linux-gnu/%s\n", name, name, name, name)
		for j := range 21 {
			fmt.Fprintf(&list, "/usr/lib/x86_64-linux-gnu/%s/file%02d.so\n", name, j)
		}
		writeFile(t, filepath.Join(root, "var/lib/dpkg/info", name+":amd64.list"), list.String())
		writeFile(t, filepath.Join(root, "usr/share/doc", name, "copyright"), dep5Copyright)
	}
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), status.String())
}

func TestReadDpkgSynthetic(t *testing.T) {
	root := t.TempDir()
	writeSyntheticDpkg(t, root, 1500)
	got, _, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1500 {
		t.Fatalf("read %d packages", len(got))
	}
	p := got[1234]
	if p.Name != "pkg1234" || p.EVR() != "1:1234.2-1+deb12u1" || p.Source != "src123" || len(p.Files) != 23 ||
		p.License != "(GPL-2+ OR Artistic) AND GPL-2+ AND MIT" {
		t.Errorf("got %+v", p)
	}
}

func BenchmarkReadDpkg1500(b *testing.B) {
	root := b.TempDir()
	writeSyntheticDpkg(b, root, 1500)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		pkgs, _, err := Read(ctx, root)
		if err != nil || len(pkgs) != 1500 {
			b.Fatal(len(pkgs), err)
		}
	}
}

// FuzzStatus parses arbitrary status files: an error or stanzas, nothing
// else.
func FuzzStatus(f *testing.F) {
	data, err := os.ReadFile("testdata/dpkg/var/lib/dpkg/status")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("Package: a\n continued\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseStatus(strings.NewReader(string(data)), DB{Kind: KindDpkg, Path: "status"}, true, func(s *stanza) error {
			fromStanza(s)
			return nil
		})
	})
}
