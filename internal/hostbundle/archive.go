package hostbundle

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// archive is the bundle being written: a temporary file in the output
// directory, renamed to its name by commit and removed by abort otherwise,
// so an error or a cancelled run never leaves half a bundle.
type archive struct {
	dir     *os.Root
	dirName string
	name    string // <top>.tar.gz
	tmp     string
	top     string
	now     time.Time
	f       *os.File
	gz      *gzip.Writer
	tw      *tar.Writer
	entries []entry
	done    bool
}

// entry is one file of the bundle as the index describes it.
type entry struct {
	Name     string `json:"name"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	Source   string `json:"source"`
	Scrubbed int    `json:"scrubbed,omitempty"` // safety-net replacements
}

// createArchive checks and opens the output directory and starts the
// temporary file, mode 0600 before anything is written to it.
func createArchive(outDir, top string, now time.Time) (*archive, error) {
	dir, err := openOutDir(outDir)
	if err != nil {
		return nil, err
	}
	a := &archive{dir: dir, dirName: outDir, name: top + ".tar.gz", top: top, now: now}
	a.tmp = "." + a.name + "." + rand.Text()[:10] + ".tmp"
	f, err := dir.OpenFile(a.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		dir.Close()
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot write the support bundle in %s (%v): choose another directory with --out", outDir, reason(err)))
	}
	a.f = f
	// Explicitly, so no umask can make the bundle readable by others.
	if err := f.Chmod(0o600); err != nil {
		a.abort()
		return nil, fmt.Errorf("writing the support bundle: %w", err)
	}
	a.gz = gzip.NewWriter(f)
	a.gz.ModTime = now
	a.tw = tar.NewWriter(a.gz)
	return a, nil
}

// openOutDir makes sure dir is a directory the bundle can safely go to,
// creating it 0700 when missing. A symbolic link there owned by another
// user is refused: in a shared directory such as /tmp anyone can plant
// /tmp/enmei pointing wherever they like the bundle to land.
func openOutDir(dir string) (*os.Root, error) {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot create the output directory %s (%v): choose another with --out", dir, reason(err)))
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the output directory %s: %w", dir, err)
		}
	case err != nil:
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot use the output directory %s (%v): choose another with --out", dir, reason(err)))
	case fi.Mode()&fs.ModeSymlink != 0:
		if uid, ok := owner(fi); ok && !trustedOwner(uid, os.Geteuid()) {
			return nil, errs.E(errs.Invalid, "the output directory %s is a symbolic link owned by another user (uid %d), who could point it anywhere: remove it or choose another directory with --out", dir, uid)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, errs.E(errs.Invalid, "the output directory %s is a symbolic link to something that is not a directory: remove it or choose another directory with --out", dir)
		}
	case !fi.IsDir():
		return nil, errs.E(errs.Invalid, "the output directory %s is not a directory: remove it or choose another directory with --out", dir)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot open the output directory %s (%v): choose another with --out", dir, reason(err)))
	}
	return r, nil
}

// trustedOwner reports whether a link owned by uid may redirect the
// bundle of a run as euid: its own links and root's.
func trustedOwner(uid uint32, euid int) bool {
	return uid == 0 || int64(uid) == int64(euid)
}

func owner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// add writes one entry, already redacted, and records it for the index.
func (a *archive) add(name string, data []byte, source string, scrubbed int) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     a.top + "/" + name,
		Mode:     0o600,
		Size:     int64(len(data)),
		ModTime:  a.now,
	}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing the support bundle: %w", err)
	}
	if _, err := a.tw.Write(data); err != nil {
		return fmt.Errorf("writing the support bundle: %w", err)
	}
	sum := sha256.Sum256(data)
	a.entries = append(a.entries, entry{Name: name, Size: len(data), SHA256: hex.EncodeToString(sum[:]), Source: source, Scrubbed: scrubbed})
	return nil
}

// commit finishes the archive and renames it into place.
func (a *archive) commit() (string, error) {
	err := a.tw.Close()
	if err == nil {
		err = a.gz.Close()
	}
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	a.f = nil
	if err == nil {
		err = a.dir.Rename(a.tmp, a.name)
	}
	if err != nil {
		return "", fmt.Errorf("writing the support bundle in %s: %w", a.dirName, err)
	}
	a.done = true
	a.dir.Close()
	return filepath.Join(a.dirName, a.name), nil
}

// abort removes the temporary file unless commit succeeded; it may be
// called more than once.
func (a *archive) abort() {
	if a.done {
		return
	}
	a.done = true
	if a.f != nil {
		a.f.Close()
	}
	a.dir.Remove(a.tmp)
	a.dir.Close()
}
