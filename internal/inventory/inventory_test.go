package inventory

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
)

// TestFindNothing: a root without a package database is an error naming
// every path looked at.
func TestFindNothing(t *testing.T) {
	root := t.TempDir()
	for _, f := range []func() error{
		func() error { _, err := Find(root); return err },
		func() error { _, _, err := Read(context.Background(), root); return err },
	} {
		err := f()
		if err == nil || !errors.Is(err, ErrNoDatabase) || errs.KindOf(err) != errs.Invalid {
			t.Fatalf("err = %v", err)
		}
		for _, p := range []string{"/usr/lib/sysimage/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/var/lib/dpkg/status"} {
			if !strings.Contains(err.Error(), filepath.Join(root, p)) {
				t.Errorf("%q does not name %s", err, p)
			}
		}
		if !strings.HasSuffix(err.Error(), "is --root right?") {
			t.Errorf("err = %q", err)
		}
	}
}

// TestFindInsideRoot: links are followed as the root's own system would
// follow them. An absolute link (/var/lib/rpm -> /usr/lib/sysimage/rpm)
// stays inside root and the database reached twice is listed once; a link
// climbing out of root with ".." stops at root.
func TestFindInsideRoot(t *testing.T) {
	root := t.TempDir()
	unxz(t, "rpmdb/libuuid-Packages.xz", filepath.Join(root, "usr/lib/sysimage/rpm/Packages"))
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/sysimage/rpm", filepath.Join(root, "var/lib/rpm")); err != nil {
		t.Fatal(err)
	}
	// On this machine /var/lib/dpkg/status exists: a link reaching it
	// through ".." must find root's (missing) one instead.
	up := strings.Repeat("../", strings.Count(root, "/")+3)
	if err := os.Symlink(up+"var/lib/dpkg/status", filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		t.Fatal(err)
	}
	dbs, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	want := DB{Kind: KindRPMBDB, Path: filepath.Join(root, "usr/lib/sysimage/rpm/Packages")}
	if len(dbs) != 1 || dbs[0] != want {
		t.Errorf("Find = %+v, want [%+v]", dbs, want)
	}
}

// TestReadPicksTheHostsFamily: a Debian host with the rpm tool has an
// empty rpm database beside dpkg's; os-release decides, and without it the
// database that has packages does.
func TestReadPicksTheHostsFamily(t *testing.T) {
	root := newDpkgRoot(t)
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n")
	rpmDB(t, root, "sqlite", "--initdb")
	dbs, err := Find(root)
	if err != nil || len(dbs) != 2 || dbs[0].Kind != KindRPMSQLite || dbs[1].Kind != KindDpkg {
		t.Fatalf("Find = %+v, %v", dbs, err)
	}
	for _, c := range []struct{ osRelease, kind, err string }{
		{"", KindDpkg, ""},
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n", KindDpkg, ""},
		{"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", KindDpkg, ""},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", KindRPMSQLite, "has no packages"},
	} {
		os.Remove(filepath.Join(root, "etc/os-release"))
		if c.osRelease != "" {
			writeFile(t, filepath.Join(root, "etc/os-release"), c.osRelease)
		}
		pkgs, db, err := Read(context.Background(), root)
		if db.Kind != c.kind {
			t.Errorf("os-release %q: read %+v", c.osRelease, db)
		}
		if c.err == "" && (err != nil || len(pkgs) != 1) {
			t.Errorf("os-release %q: %d packages, %v", c.osRelease, len(pkgs), err)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("os-release %q: err = %v", c.osRelease, err)
		}
	}
}

// TestReadCancelled: a cancelled context stops a read.
func TestReadCancelled(t *testing.T) {
	root := t.TempDir()
	writeSyntheticDpkg(t, root, 20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Read(ctx, root); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestFindByContent: the kind is the file's, not its name's.
func TestFindByContent(t *testing.T) {
	root := t.TempDir()
	rpmDB(t, root, "sqlite", "--initdb")
	if err := os.Rename(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), filepath.Join(root, "var/lib/rpm/Packages")); err != nil {
		t.Fatal(err)
	}
	dbs, err := Find(root)
	if err != nil || len(dbs) != 1 || dbs[0].Kind != KindRPMSQLite {
		t.Errorf("Find = %+v, %v", dbs, err)
	}
}

// TestHashFiles: a file's SHA-256 is recorded only when its content still
// has the digest the database gave.
func TestHashFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/bin/tool"), "tool v1\n")
	writeFile(t, filepath.Join(root, "etc/tool.conf"), "changed locally\n")
	if err := os.Symlink("tool", filepath.Join(root, "usr/bin/link")); err != nil {
		t.Fatal(err)
	}
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	sha1hex := func(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	pkgs := []Package{{Files: []File{{Path: "/usr/bin/tool"}, {Path: "/etc/tool.conf"}, {Path: "/usr/bin/link"}, {Path: "/usr/bin/missing"}, {Path: "/usr/bin/tool"}}}}
	checks := []fileCheck{
		{0, 0, "md5", md5hex("tool v1\n")},
		{0, 1, "md5", md5hex("as packaged\n")},
		{0, 2, "md5", md5hex("tool v1\n")},
		{0, 3, "md5", md5hex("")},
		{0, 4, "sha1", sha1hex("tool v1\n")},
	}
	if err := hashFiles(context.Background(), newRootDir(root), pkgs, checks); err != nil {
		t.Fatal(err)
	}
	want := []File{{"/usr/bin/tool", sha("tool v1\n")}, {"/etc/tool.conf", ""}, {"/usr/bin/link", ""}, {"/usr/bin/missing", ""}, {"/usr/bin/tool", sha("tool v1\n")}}
	for i, f := range pkgs[0].Files {
		if f != want[i] {
			t.Errorf("file %d = %+v, want %+v", i, f, want[i])
		}
	}
}

// TestReadWrongFamily: os-release names one family, only the other's
// database is there.
func TestReadWrongFamily(t *testing.T) {
	root := t.TempDir()
	unxz(t, "rpmdb/libuuid-Packages.xz", filepath.Join(root, "var/lib/rpm/Packages"))
	writeFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=ubuntu\nID_LIKE=debian\n")
	_, _, err := Read(context.Background(), root)
	want := "the os-release under " + root + " names a Debian-based system, but its only package database is " + filepath.Join(root, "var/lib/rpm/Packages") + ": is --root right?"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoDatabase) {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
