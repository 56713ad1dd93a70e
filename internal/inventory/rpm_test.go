package inventory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/rpmpack"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/enmei-project/enmei/internal/errs"
)

// testRPM is a package the tests build with rpmpack.
type testRPM struct {
	name, version, release, arch, license, summary string
	epoch                                          uint32 // rpmpack.NoEpoch for none
	files                                          []rpmpack.RPMFile
}

func (s testRPM) build(t testing.TB, dir string) string {
	t.Helper()
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{
		Name: s.name, Version: s.version, Release: s.release, Epoch: s.epoch, Arch: s.arch, OS: "linux",
		Summary: s.summary, Description: s.summary + ".", Licence: s.license, Vendor: "enmei tests",
		BuildTime: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Compressor: "gzip",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.files {
		f.Owner, f.Group = "root", "root"
		r.AddFile(f)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.%s.rpm", s.name, s.version, s.release, s.arch))
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// rpmDB runs the real rpm on root's /var/lib/rpm with the given backend.
// Debian's rpm keeps its own database in ~/.rpmdb, so --dbpath is needed
// for rpm to use the root's /var/lib/rpm like a RHEL host's rpm.
func rpmDB(t testing.TB, root, backend string, args ...string) string {
	t.Helper()
	needTool(t, "rpm", "rpm")
	return run(t, "rpm", append([]string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend " + backend}, args...)...)
}

// TestReadRPMSQLiteWrittenByRPM has the real rpm install packages built
// here into a scratch root and reads its SQLite database back.
func TestReadRPMSQLiteWrittenByRPM(t *testing.T) {
	root, pkgDir := t.TempDir(), t.TempDir()
	specs := []testRPM{
		{name: "alpha", version: "1.2", release: "3.el9", arch: "x86_64", license: "MIT", summary: "the alpha tool", epoch: rpmpack.NoEpoch,
			files: []rpmpack.RPMFile{
				{Name: "/usr/bin/alpha", Body: []byte("#!/bin/sh\necho alpha\n"), Mode: 0o755},
				{Name: "/usr/share/alpha", Mode: 0o40755},
				{Name: "/usr/share/alpha/data.txt", Body: []byte("alpha data\n"), Mode: 0o644},
				{Name: "/usr/share/alpha/link", Body: []byte("data.txt"), Mode: 0o120777},
				{Name: "/var/log/alpha.log", Mode: 0o644, Type: rpmpack.GhostFile},
			}},
		{name: "beta", version: "2.0", release: "1", arch: "noarch", license: "GPL-2.0-or-later AND BSD-3-Clause", summary: "beta documents", epoch: 0,
			files: []rpmpack.RPMFile{{Name: "/usr/share/doc/beta/README", Body: []byte("beta\n"), Mode: 0o644}}},
		// Two builds of one name installed side by side (as kernels are):
		// 1.10 must sort after 1.9.
		{name: "gamma", version: "1.10", release: "1", arch: "x86_64", license: "Apache-2.0", summary: "gamma", epoch: 3,
			files: []rpmpack.RPMFile{{Name: "/opt/gamma-1.10/gamma", Body: []byte("gamma 1.10\n"), Mode: 0o755}}},
		{name: "gamma", version: "1.9", release: "1", arch: "x86_64", license: "Apache-2.0", summary: "gamma", epoch: 3,
			files: []rpmpack.RPMFile{{Name: "/opt/gamma-1.9/gamma", Body: []byte("gamma 1.9\n"), Mode: 0o755}}},
	}
	var files []string
	for _, s := range specs {
		files = append(files, s.build(t, pkgDir))
	}
	rpmDB(t, root, "sqlite", "--initdb")
	rpmDB(t, root, "sqlite", append([]string{"-i", "--nodeps", "--nosignature", "--noscripts", "--ignorearch", "--ignoreos"}, files...)...)
	dbPath := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("rpm wrote no SQLite database: %v", err)
	}
	// The installed files are really there: a real install, not --justdb.
	if b, err := os.ReadFile(filepath.Join(root, "usr/share/alpha/data.txt")); err != nil || string(b) != "alpha data\n" {
		t.Fatalf("rpm did not install the files: %q %v", b, err)
	}

	got, db, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if db != (DB{Kind: KindRPMSQLite, Path: dbPath}) {
		t.Errorf("db = %+v", db)
	}
	want := []Package{
		{Format: "rpm", Name: "alpha", Version: "1.2-3.el9", Arch: "x86_64", SourceRPM: "alpha-1.2-3.el9.src.rpm", Source: "alpha",
			License: "MIT", Summary: "the alpha tool", Files: []File{
				{"/usr/bin/alpha", sha("#!/bin/sh\necho alpha\n")},
				{"/usr/share/alpha/data.txt", sha("alpha data\n")},
				{"/usr/share/alpha/link", ""},
			}},
		{Format: "rpm", Name: "beta", Epoch: "0", Version: "2.0-1", Arch: "noarch", SourceRPM: "beta-2.0-1.src.rpm", Source: "beta",
			License: "GPL-2.0-or-later AND BSD-3-Clause", Summary: "beta documents", Files: []File{{"/usr/share/doc/beta/README", sha("beta\n")}}},
		{Format: "rpm", Name: "gamma", Epoch: "3", Version: "1.9-1", Arch: "x86_64", SourceRPM: "gamma-1.9-1.src.rpm", Source: "gamma",
			License: "Apache-2.0", Summary: "gamma", Files: []File{{"/opt/gamma-1.9/gamma", sha("gamma 1.9\n")}}},
		{Format: "rpm", Name: "gamma", Epoch: "3", Version: "1.10-1", Arch: "x86_64", SourceRPM: "gamma-1.10-1.src.rpm", Source: "gamma",
			License: "Apache-2.0", Summary: "gamma", Files: []File{{"/opt/gamma-1.10/gamma", sha("gamma 1.10\n")}}},
	}
	samePackages(t, got, want)
	if evr := got[1].EVR(); evr != "0:2.0-1" {
		t.Errorf("beta EVR = %q", evr)
	}

	// Reading writes nothing beside the host's database: no new file, and
	// the database and its write-ahead log unchanged (a WAL reader, rpm -q
	// as well, takes its read lock in the shared-memory index, the -shm).
	before := dirListing(t, filepath.Dir(dbPath))
	if _, _, err := ReadWith(context.Background(), root, Options{HashFiles: true}); err != nil {
		t.Fatal(err)
	}
	if after := dirListing(t, filepath.Dir(dbPath)); after != before {
		t.Errorf("reading changed %s:\n%s\nto\n%s", filepath.Dir(dbPath), before, after)
	}
}

func dirListing(t testing.TB, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), "-shm") {
			fmt.Fprintf(&b, "%s\n", e.Name())
			continue
		}
		fmt.Fprintf(&b, "%s %d %s\n", e.Name(), fi.Size(), fi.ModTime())
	}
	return b.String()
}

// TestReadRPMEmptyDatabase: an initialised database without packages is
// an error, never an empty inventory.
func TestReadRPMEmptyDatabase(t *testing.T) {
	root := t.TempDir()
	rpmDB(t, root, "sqlite", "--initdb")
	pkgs, db, err := Read(context.Background(), root)
	if err == nil {
		t.Fatalf("read %d packages from an empty database", len(pkgs))
	}
	want := "the rpm database " + filepath.Join(root, "var/lib/rpm/rpmdb.sqlite") + " has no packages: is --root right?"
	if err.Error() != want || !errors.Is(err, ErrNoPackages) || errs.KindOf(err) != errs.Invalid {
		t.Errorf("err = %q (kind %v), want %q", err, errs.KindOf(err), want)
	}
	if db.Kind != KindRPMSQLite {
		t.Errorf("db = %+v", db)
	}
}

// oracle lists the packages of the rpm database under root as the real rpm
// reads them (Debian's rpm reads Berkeley DB with its bdb_ro backend),
// with the same rules as Read: no gpg-pubkey, no directories or %ghost
// files, SHA-256 digests only.
func oracle(t *testing.T, root string) []Package {
	t.Helper()
	out := rpmDB(t, root, "bdb_ro", "-qa", "--qf",
		`P\t%{NAME}\t%{EPOCH}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\t%{SUMMARY}\t%{FILEDIGESTALGO}\n[F\t%{FILENAMES}\t%{FILEDIGESTS}\t%{FILEMODES}\t%{FILEFLAGS}\n]`)
	none := func(s string) string {
		if s == "(none)" {
			return ""
		}
		return s
	}
	var pkgs []Package
	var algo string
	skip := false
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		switch {
		case f[0] == "P" && len(f) == 9:
			skip = f[1] == "gpg-pubkey"
			if skip {
				continue
			}
			algo = f[8]
			pkgs = append(pkgs, Package{Format: "rpm", Name: f[1], Epoch: none(f[2]), Version: f[3], Arch: none(f[4]),
				SourceRPM: none(f[5]), Source: srpmName(none(f[5])), License: none(f[6]), Summary: none(f[7])})
		case f[0] == "F" && len(f) == 5:
			if skip {
				continue
			}
			mode, err1 := strconv.Atoi(f[3])
			flags, err2 := strconv.Atoi(f[4])
			if err1 != nil || err2 != nil {
				t.Fatalf("rpm printed %q", line)
			}
			if mode&0o170000 == 0o040000 || flags&64 != 0 {
				continue
			}
			file := File{Path: f[1]}
			if algo == "8" {
				file.SHA256 = f[2]
			}
			p := &pkgs[len(pkgs)-1]
			p.Files = append(p.Files, file)
		default:
			t.Fatalf("rpm printed %q", line)
		}
	}
	sortPackages(pkgs)
	return pkgs
}

// TestReadRPMBerkeleyDB reads real Berkeley DB databases (a CentOS 5 one
// of the old unsorted-page format, a big-endian s390x UBI 8 one, a one-
// package RHEL 8 one) and compares everything with what the real rpm reads
// from the same file.
func TestReadRPMBerkeleyDB(t *testing.T) {
	for _, c := range []struct {
		fixture string
		count   int
		known   Package // one package, in full but for its files
		files   int
	}{
		{"libuuid-Packages.xz", 1, Package{Format: "rpm", Name: "libuuid", Version: "2.32.1-42.el8_8", Arch: "x86_64",
			SourceRPM: "util-linux-2.32.1-42.el8_8.src.rpm", Source: "util-linux", License: "BSD", Summary: "Universally unique ID library"}, 5},
		{"centos5-plain-Packages.xz", 110, Package{Format: "rpm", Name: "bind-libs", Epoch: "30", Version: "9.3.6-25.P1.el5_11.8", Arch: "x86_64",
			SourceRPM: "bind-9.3.6-25.P1.el5_11.8.src.rpm", Source: "bind", License: "BSD-like", Summary: "Libraries used by the BIND DNS packages"}, 0},
		{"ubi8-s390x-Packages.xz", 181, Package{Format: "rpm", Name: "openssl-libs", Epoch: "1", Version: "1.1.1k-6.el8_5", Arch: "s390x",
			SourceRPM: "openssl-1.1.1k-6.el8_5.src.rpm", Source: "openssl", License: "OpenSSL and ASL 2.0", Summary: "A general purpose cryptography library with TLS implementation"}, 0},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			root := t.TempDir()
			unxz(t, "rpmdb/"+c.fixture, filepath.Join(root, "var/lib/rpm/Packages"))
			got, db, err := Read(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			if db.Kind != KindRPMBDB {
				t.Errorf("db = %+v", db)
			}
			if len(got) != c.count {
				t.Errorf("read %d packages, want %d", len(got), c.count)
			}
			found := false
			for _, p := range got {
				if p.Name == c.known.Name {
					found = true
					files := p.Files
					p.Files = nil
					if fmt.Sprint(p) != fmt.Sprint(c.known) {
						t.Errorf("got  %+v\nwant %+v", p, c.known)
					}
					if c.files > 0 && len(files) != c.files {
						t.Errorf("%s has %d files, want %d", p.Name, len(files), c.files)
					}
				}
			}
			if !found {
				t.Errorf("%s not found", c.known.Name)
			}
			samePackages(t, got, oracle(t, root))
		})
	}
}

// TestReadRPMNDB reads SUSE's NDB format. Debian's rpm has no NDB backend,
// so the reference is go-rpmdb's own NDB reader on the same (intact) file
// and the package list go-rpmdb's tests give for it.
func TestReadRPMNDB(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "usr/lib/sysimage/rpm/Packages.db")
	unxz(t, "rpmdb/sle15-bci-Packages.db.xz", path)
	got, db, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if db != (DB{Kind: KindRPMNDB, Path: path}) {
		t.Errorf("db = %+v", db)
	}
	if len(got) != 35 {
		t.Errorf("read %d packages, want 35", len(got))
	}
	direct, err := rpmdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	infos, err := direct.ListPackages()
	if err != nil {
		t.Fatal(err)
	}
	var want []Package
	for _, info := range infos {
		p, _, err := fromRPMDB(info, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	sortPackages(want)
	samePackages(t, got, want)
	for _, p := range got {
		if p.Name == "glibc" {
			wantGlibc := Package{Format: "rpm", Name: "glibc", Version: "2.31-9.3.2", Arch: "x86_64", SourceRPM: "glibc-2.31-9.3.2.src.rpm", Source: "glibc",
				License: "LGPL-2.1-or-later AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND GPL-2.0-or-later", Summary: "Standard Shared Libraries (from the GNU C Library)"}
			files := p.Files
			p.Files = nil
			if fmt.Sprint(p) != fmt.Sprint(wantGlibc) {
				t.Errorf("got  %+v\nwant %+v", p, wantGlibc)
			}
			if len(files) != 61 || files[0] != (File{"/etc/bindresvport.blacklist", "4b0166e286cb27b577940432c6e39614b143b0d2c207dd3533906a19956e2c04"}) {
				t.Errorf("glibc has %d files, the first %+v", len(files), files[:min(1, len(files))])
			}
		}
	}
}

// sqliteFromFixture has the real rpm convert a Berkeley DB fixture to its
// SQLite format (rpmdb --rebuilddb, as an EL8 to EL9 upgrade does).
func sqliteFromFixture(t testing.TB, fixture string) string {
	t.Helper()
	root := t.TempDir()
	unxz(t, "rpmdb/"+fixture, filepath.Join(root, "var/lib/rpm/Packages"))
	needTool(t, "rpmdb", "rpm")
	run(t, "rpmdb", "--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite", "--rebuilddb")
	if _, err := os.Stat(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")); err != nil {
		t.Fatalf("rpmdb --rebuilddb wrote no SQLite database: %v", err)
	}
	return root
}

// TestReadRPMSQLiteConvertedByRPM: the same packages read from the
// SQLite database rpm converted a Berkeley DB to as from the original.
func TestReadRPMSQLiteConvertedByRPM(t *testing.T) {
	for _, fixture := range []string{"centos5-plain-Packages.xz", "ubi8-s390x-Packages.xz"} {
		t.Run(fixture, func(t *testing.T) {
			bdbRoot := t.TempDir()
			unxz(t, "rpmdb/"+fixture, filepath.Join(bdbRoot, "var/lib/rpm/Packages"))
			want, _, err := Read(context.Background(), bdbRoot)
			if err != nil {
				t.Fatal(err)
			}
			root := sqliteFromFixture(t, fixture)
			got, db, err := Read(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			if db.Kind != KindRPMSQLite {
				t.Errorf("db = %+v", db)
			}
			samePackages(t, got, want)
		})
	}
}

// BenchmarkReadRPMSQLite reads the largest fixture converted to SQLite by
// rpm: 183 packages (181 and two signing keys), 13 MB.
func BenchmarkReadRPMSQLite(b *testing.B) {
	root := sqliteFromFixture(b, "ubi8-s390x-Packages.xz")
	ctx := context.Background()
	for b.Loop() {
		pkgs, _, err := Read(ctx, root)
		if err != nil || len(pkgs) != 181 {
			b.Fatal(len(pkgs), err)
		}
	}
}

// TestBriefMatchesFull: a brief read of every kind of rpm database gives
// exactly the identifying fields of a full read.
func TestBriefMatchesFull(t *testing.T) {
	roots := map[string]string{}
	for _, fx := range []struct{ file, path string }{
		{"rpmdb/ubi8-s390x-Packages.xz", "var/lib/rpm/Packages"},
		{"rpmdb/centos5-plain-Packages.xz", "var/lib/rpm/Packages"},
		{"rpmdb/sle15-bci-Packages.db.xz", "usr/lib/sysimage/rpm/Packages.db"},
	} {
		root := t.TempDir()
		unxz(t, fx.file, filepath.Join(root, fx.path))
		roots[fx.file] = root
	}
	sq, pkgDir := t.TempDir(), t.TempDir()
	var files []string
	for _, s := range []testRPM{
		{name: "alpha", version: "1.2", release: "3.el9", arch: "x86_64", license: "MIT", summary: "a", epoch: rpmpack.NoEpoch},
		{name: "beta", version: "2.0", release: "1", arch: "noarch", license: "MIT", summary: "b", epoch: 0},
		{name: "gamma", version: "1.10", release: "1", arch: "x86_64", license: "MIT", summary: "c", epoch: 3},
	} {
		files = append(files, s.build(t, pkgDir))
	}
	rpmDB(t, sq, "sqlite", "--initdb")
	rpmDB(t, sq, "sqlite", append([]string{"-i", "--justdb", "--nodeps", "--nosignature", "--noscripts", "--ignorearch", "--ignoreos"}, files...)...)
	roots["sqlite"] = sq
	for name, root := range roots {
		full, _, err := Read(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		brief, _, err := ReadWith(context.Background(), root, Options{Brief: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(brief) != len(full) || len(full) == 0 {
			t.Fatalf("%s: brief read %d packages, full %d", name, len(brief), len(full))
		}
		for i := range full {
			f, b := full[i], brief[i]
			if f.Name != b.Name || f.Epoch != b.Epoch || f.Version != b.Version || f.Arch != b.Arch || f.SourceRPM != b.SourceRPM || f.Source != b.Source {
				t.Errorf("%s: brief %+v\nfull %+v", name, b, Package{Name: f.Name, Epoch: f.Epoch, Version: f.Version, Arch: f.Arch, SourceRPM: f.SourceRPM, Source: f.Source})
			}
		}
	}
}
