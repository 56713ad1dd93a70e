// Package inventory reads which packages are installed on a host, from the
// package manager's own database under the agent's --root: the rpm database
// of a RHEL-family or SUSE host (SQLite on EL9 and Fedora, Berkeley DB up to
// EL8, NDB on SUSE) or dpkg's status file of a Debian-family host.
// The agent's SBOM of a customer host is built from this list, so it must be
// complete and right or fail loudly: an empty or unreadable database is an
// error, never an empty inventory, and damaged input gives an error naming
// the file (and, for dpkg, the line) rather than a panic, a hang or a
// partial list. rpm headers are decoded by github.com/knqyf263/go-rpmdb; the
// database files themselves are read here with bounds checks, because
// go-rpmdb v0.1.1 reads Berkeley DB and NDB files in goroutines where a
// damaged file can panic beyond any recover, loop forever or allocate
// gigabytes (see rpm.go).
package inventory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	debversion "github.com/knqyf263/go-deb-version"
	rpmversion "github.com/knqyf263/go-rpm-version"

	"github.com/enmei-project/enmei/internal/errs"
)

// Package is one installed package.
type Package struct {
	Format string // "rpm" or "deb"
	Name   string
	// Epoch is "" when the package has none and the number otherwise, as
	// the repository side records it (pkgfacts.Facts.Epoch, the "[epoch:]"
	// of store.Package.Version): an rpm whose header carries an explicit
	// epoch 0 has Epoch "0", one without the tag has ""; a deb version
	// "0:1.2-3" has Epoch "0". rpm and dpkg compare both the same as 0.
	Epoch string
	// Version is VERSION-RELEASE for an rpm and the version without its
	// epoch for a deb ("1.2-3+b1").
	Version string
	Arch    string // rpm ARCH; deb Architecture ("amd64", "all")
	// SourceRPM is an rpm's SOURCERPM ("bash-5.1.8-6.el9.src.rpm"); "" for
	// debs.
	SourceRPM string
	// Source is the source package's name: taken from SourceRPM for an rpm,
	// from the Source field (or the package's own name) for a deb.
	Source string
	// SourceVersion is a deb's source version when its Source field gives
	// one that differs from Version ("foo (1.2-3)" of a binNMU); "" when
	// they are the same, and for rpms.
	SourceVersion string
	// License is an rpm's License tag as written. For a deb it comes from
	// /usr/share/doc/<name>/copyright when that file is machine-readable
	// (DEP-5): see debLicense; "" otherwise.
	License string
	Summary string
	// Files are the package's installed paths, sorted: regular files and
	// symbolic links, not directories, and for an rpm not %ghost files. See
	// File.SHA256 for which carry a digest.
	Files []File
}

// File is one installed file.
type File struct {
	Path string
	// SHA256 is the hex SHA-256 of the file as the package shipped it, or ""
	// when unknown and for links. rpm headers hold it for the packages of
	// EL6 and later (SHA-256 file digests); EL5's rpms and every deb record
	// only MD5. With Options.HashFiles such a file is hashed under root, and
	// its SHA-256 is kept only when the file's MD5 (or whatever the rpm's
	// digest algorithm is) still matches what the database recorded, so
	// SHA256 always describes the packaged content, never a locally changed
	// file.
	SHA256 string
}

// EVR is "[epoch:]version", the form store.Package.Version and pkgfacts use.
func (p *Package) EVR() string {
	if p.Epoch != "" {
		return p.Epoch + ":" + p.Version
	}
	return p.Version
}

// DB is one package database found under a root.
type DB struct {
	Kind string // KindRPMSQLite, KindRPMBDB, KindRPMNDB or KindDpkg
	Path string // on this machine, root included, symbolic links resolved
}

// The kinds of package database.
const (
	KindRPMSQLite = "rpm-sqlite" // rpmdb.sqlite: EL9, Fedora 33+, Amazon Linux 2023
	KindRPMBDB    = "rpm-bdb"    // Packages, Berkeley DB hash: EL5 to EL8
	KindRPMNDB    = "rpm-ndb"    // Packages.db: SUSE
	KindDpkg      = "dpkg"       // /var/lib/dpkg/status
)

// Format is "rpm" or "deb", the Package.Format of what the database lists.
func (d DB) Format() string {
	if d.Kind == KindDpkg {
		return "deb"
	}
	return "rpm"
}

// Errors that Find and Read wrap (errors.Is) in an errs.Invalid error with a
// message for the user.
var (
	ErrNoDatabase = errors.New("no package database found")
	ErrNoPackages = errors.New("package database lists no packages")
	ErrDamaged    = errors.New("package database damaged")
)

// invalid makes the errs.Invalid error the user sees; sentinel and cause
// (either may be nil) stay reachable with errors.Is and errors.As.
func invalid(sentinel, cause error, format string, args ...any) error {
	return &errs.Error{Kind: errs.Invalid, Msg: fmt.Sprintf(format, args...), Err: errors.Join(sentinel, cause)}
}

// Options tune Read.
type Options struct {
	// HashFiles hashes, under root, the installed files whose database
	// gives no SHA-256 (every deb file; rpm files with MD5 digests, EL5 and
	// older) and records the SHA-256 of those whose content still matches
	// the database's digest. It reads every such file (a Debian host of 900
	// packages: about 100,000 files, tens of seconds): off by default.
	HashFiles bool
	// Brief reads only what identifies each package (name, epoch,
	// version, architecture, source; no files, licence or summary):
	// rpm headers are then decoded here, without staging the database
	// for go-rpmdb, which is several times faster (enmei scan).
	Brief bool
	// TempDir is where an rpm database is staged for go-rpmdb (a file as
	// large as all package headers, removed before Read returns); "" is
	// os.TempDir().
	TempDir string
}

// candidates are the places Find looks, in order of preference: rpm keeps
// its database in /usr/lib/sysimage/rpm on Fedora 36+, SUSE and EL10 (with
// /var/lib/rpm a link to it), in /var/lib/rpm before; within one directory
// a newer format wins over an older one left behind by a conversion.
var candidates = []DB{
	{KindRPMSQLite, "/usr/lib/sysimage/rpm/rpmdb.sqlite"},
	{KindRPMNDB, "/usr/lib/sysimage/rpm/Packages.db"},
	{KindRPMBDB, "/usr/lib/sysimage/rpm/Packages"},
	{KindRPMSQLite, "/var/lib/rpm/rpmdb.sqlite"},
	{KindRPMNDB, "/var/lib/rpm/Packages.db"},
	{KindRPMBDB, "/var/lib/rpm/Packages"},
	{KindDpkg, "/var/lib/dpkg/status"},
}

// Find locates the package databases under root: the rpm database (SQLite,
// NDB or Berkeley DB, in /usr/lib/sysimage/rpm or /var/lib/rpm) and dpkg's
// status file. The same file reached by two paths is listed once. When the
// root's os-release names its family, that family's databases come first.
// Finding none is an errs.Invalid error wrapping ErrNoDatabase.
func Find(root string) ([]DB, error) {
	r := newRootDir(root)
	var found []DB
	var infos []fs.FileInfo
	for _, c := range candidates {
		p, err := r.resolve(c.Path, true)
		if err != nil {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if slices.ContainsFunc(infos, func(o fs.FileInfo) bool { return os.SameFile(o, fi) }) {
			continue
		}
		kind := c.Kind
		if kind != KindDpkg {
			// The content decides (a Packages file may be SQLite); a file
			// that is none of the formats keeps the kind of its name, and
			// reading it says what is wrong.
			if f, err := os.Open(p); err == nil {
				if k, err := sniffRPM(f); err == nil {
					kind = k
				}
				f.Close()
			}
		}
		found = append(found, DB{Kind: kind, Path: p})
		infos = append(infos, fi)
	}
	if len(found) == 0 {
		looked := make([]string, len(candidates))
		for i, c := range candidates {
			looked[i] = r.host(c.Path)
		}
		return nil, invalid(ErrNoDatabase, nil, "no rpm or dpkg database under %s (looked for %s): is --root right?", r.root, strings.Join(looked, ", "))
	}
	if fam := osFamily(r); fam != "" {
		slices.SortStableFunc(found, func(a, b DB) int {
			return cmp.Compare(btoi(a.Format() != fam), btoi(b.Format() != fam))
		})
	}
	return found, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Read returns the packages installed under root, sorted by name, arch and
// version, and the database they were read from. See ReadWith.
func Read(ctx context.Context, root string) ([]Package, DB, error) {
	return ReadWith(ctx, root, Options{})
}

// ReadWith is Read with options. It reads the first database Find lists
// that has packages: when the root's os-release names its family only that
// family's databases are considered (a Debian host with the rpm tool
// installed has an empty rpm database beside dpkg's). A database that
// cannot be read is an error at once; one that lists no packages is an
// error when no other database has any.
func ReadWith(ctx context.Context, root string, opts Options) ([]Package, DB, error) {
	dbs, err := Find(root)
	if err != nil {
		return nil, DB{}, err
	}
	r := newRootDir(root)
	if fam := osFamily(r); fam != "" {
		var same []DB
		for _, d := range dbs {
			if d.Format() == fam {
				same = append(same, d)
			}
		}
		if len(same) == 0 {
			var paths []string
			for _, d := range dbs {
				paths = append(paths, d.Path)
			}
			return nil, DB{}, invalid(ErrNoDatabase, nil, "the os-release under %s names a %s system, but its only package database is %s: is --root right?",
				r.root, map[string]string{"rpm": "RPM-based", "deb": "Debian-based"}[fam], strings.Join(paths, ", "))
		}
		dbs = same
	}
	var firstErr error
	for _, d := range dbs {
		pkgs, err := ReadDB(ctx, root, d, opts)
		if err == nil {
			return pkgs, d, nil
		}
		if !errors.Is(err, ErrNoPackages) {
			return nil, d, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, dbs[0], firstErr
}

// ReadDB reads the packages of one database found under root, sorted by
// name, arch and version. A database without packages is an error wrapping
// ErrNoPackages; a damaged one wraps ErrDamaged.
func ReadDB(ctx context.Context, root string, db DB, opts Options) ([]Package, error) {
	r := newRootDir(root)
	var pkgs []Package
	var err error
	switch db.Kind {
	case KindDpkg:
		pkgs, err = readDpkg(ctx, r, db, opts)
	case KindRPMSQLite, KindRPMBDB, KindRPMNDB:
		pkgs, err = readRPM(ctx, r, db, opts)
	default:
		return nil, invalid(nil, nil, "unknown package database kind %q", db.Kind)
	}
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, invalid(ErrNoPackages, nil, "the %s database %s has no packages: is --root right?", db.Format(), db.Path)
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// sortPackages orders by name, arch, then version as the package manager
// compares versions (so kernel 5.14.0-427 sorts after 5.14.0-70).
func sortPackages(pkgs []Package) {
	slices.SortStableFunc(pkgs, func(a, b Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Arch, b.Arch); c != 0 {
			return c
		}
		return compareVersions(&a, &b)
	})
}

func compareVersions(a, b *Package) int {
	if a.Format == "rpm" && b.Format == "rpm" {
		ea, eb := a.Epoch, b.Epoch
		if ea == "" {
			ea = "0"
		}
		if eb == "" {
			eb = "0"
		}
		return rpmversion.NewVersion(ea + ":" + a.Version).Compare(rpmversion.NewVersion(eb + ":" + b.Version))
	}
	if a.Format == "deb" && b.Format == "deb" {
		va, errA := debversion.NewVersion(a.EVR())
		vb, errB := debversion.NewVersion(b.EVR())
		if errA == nil && errB == nil {
			return va.Compare(vb)
		}
	}
	return strings.Compare(a.EVR(), b.EVR())
}

// Families of os-release IDs (ID, then ID_LIKE).
var (
	rpmFamily = []string{"rhel", "centos", "fedora", "almalinux", "rocky", "ol", "amzn", "suse", "opensuse", "sles", "sled", "mariner", "azurelinux"}
	debFamily = []string{"debian", "ubuntu"}
)

// osFamily is "rpm" or "deb" as the root's os-release names it, "" when it
// has none or names neither family.
func osFamily(r *rootDir) string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		hp, err := r.resolve(p, true)
		if err != nil {
			continue
		}
		data, err := readLimited(hp, 64<<10)
		if err != nil {
			continue
		}
		var ids []string
		for line := range bytes.Lines(data) {
			k, v, ok := strings.Cut(strings.TrimSpace(string(line)), "=")
			if !ok || (k != "ID" && k != "ID_LIKE") {
				continue
			}
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			} else {
				v = strings.Trim(v, `"'`)
			}
			f := strings.Fields(strings.ToLower(v))
			if k == "ID" {
				ids = append(f, ids...)
			} else {
				ids = append(ids, f...)
			}
		}
		for _, id := range ids {
			if slices.Contains(rpmFamily, id) {
				return "rpm"
			}
			if slices.Contains(debFamily, id) {
				return "deb"
			}
		}
		return ""
	}
	return ""
}

// readLimited reads a whole regular file of at most limit bytes.
func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return data, nil
}
