package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ProtonMail/go-crypto/openpgp"
	diskfile "github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
)

// Create writes a companion disk ISO image to path: c's files, the public
// key at KeyPath, MANIFEST and MANIFEST.asc, the signature sign returns for
// MANIFEST (armored and detached, e.g. sign.Key.DetachSignArmored). The
// signature must verify with c.PublicKey, so a disk never carries a key
// that cannot check it. The image is written to path+".tmp" and renamed
// into place, so path is either the old file or the complete new one.
func Create(path string, c Contents, sign func(manifest []byte) ([]byte, error)) error {
	manifest, files, err := plan(c)
	if err != nil {
		return err
	}
	sig, err := sign(manifest)
	if err != nil {
		return fmt.Errorf("signing the companion disk's MANIFEST: %w", err)
	}
	keyring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(c.PublicKey))
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "the companion disk's public key is not an armored OpenPGP key")
	}
	if _, err := checkSignature(keyring, manifest, sig); err != nil {
		return fmt.Errorf("the companion disk's MANIFEST signature does not verify with the disk's own public key: %w", err)
	}
	files = append(files,
		File{Path: ManifestPath, Data: manifest},
		File{Path: SignaturePath, Data: sig})

	tmp := path + ".tmp"
	if err := writeISO(tmp, VolumeLabel(c.Label), files, c.Progress); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing companion disk: %w", err)
	}
	return nil
}

// plan checks c and returns the MANIFEST and every file it lists.
func plan(c Contents) (manifest []byte, files []File, err error) {
	if len(bytes.TrimSpace(c.PublicKey)) == 0 {
		return nil, nil, errs.E(errs.Invalid, "a companion disk needs the repositories' public key")
	}
	for _, f := range c.Files {
		if f.Path == KeyPath {
			return nil, nil, errs.E(errs.Invalid, "%s holds the disk's public key (Contents.PublicKey) and cannot be one of its files", KeyPath)
		}
	}
	files = make([]File, 0, len(c.Files)+1)
	files = append(files, c.Files...)
	files = append(files, File{Path: KeyPath, Data: c.PublicKey})

	entries := make([]manifestEntry, 0, len(files))
	// Names are compared case-folded: Windows reads Joliet names
	// case-insensitively, and a directory cannot also be a file.
	kinds := make(map[string]string, len(files)*2)
	for _, f := range files {
		if err := checkPath(f.Path); err != nil {
			return nil, nil, err
		}
		if f.Path == ManifestPath || f.Path == SignaturePath {
			return nil, nil, errs.E(errs.Invalid, "%s is written by the companion disk itself and cannot be one of its files", f.Path)
		}
		fileSum := ""
		if f.Open != nil {
			switch {
			case len(f.Data) > 0:
				return nil, nil, errs.E(errs.Invalid, "%s has both data and a source to stream from; a companion disk file has one or the other", f.Path)
			case f.Size < 0:
				return nil, nil, errs.E(errs.Invalid, "%s has a negative size", f.Path)
			case !validSum(f.SHA256):
				return nil, nil, errs.E(errs.Invalid, "%s is streamed without its SHA-256 (%q), which MANIFEST must list before it is read", f.Path, f.SHA256)
			}
			fileSum = f.SHA256
		}
		if f.size() > maxFileSize {
			return nil, nil, errs.E(errs.Invalid, "%s is %d bytes; an ISO 9660 file holds at most %d", f.Path, f.size(), int64(maxFileSize))
		}
		if err := claim(kinds, f.Path); err != nil {
			return nil, nil, err
		}
		if f.Open == nil {
			fileSum = sum(f.Data)
		}
		entries = append(entries, manifestEntry{sum: fileSum, path: f.Path})
	}
	return formatManifest(entries), files, nil
}

// claim records p and its parent directories in kinds (keyed by the
// case-folded path), failing when p clashes with a file or directory there.
func claim(kinds map[string]string, p string) error {
	key := strings.ToLower(p)
	if prev, ok := kinds[key]; ok {
		if prev == p || strings.HasSuffix(prev, "/") {
			return errs.E(errs.Invalid, "%s is on the companion disk twice (or is also a directory)", p)
		}
		return errs.E(errs.Invalid, "%s and %s differ only in case, which Windows cannot tell apart", prev, p)
	}
	kinds[key] = p
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		dkey := strings.ToLower(dir)
		prev, ok := kinds[dkey]
		switch {
		case !ok:
			kinds[dkey] = dir + "/"
		case prev == dir+"/":
			return nil // this directory and its parents are known
		case strings.HasSuffix(prev, "/"):
			return errs.E(errs.Invalid, "directories %s and %s differ only in case, which Windows cannot tell apart", strings.TrimSuffix(prev, "/"), dir)
		default:
			return errs.E(errs.Invalid, "%s is a file on the companion disk and cannot also be the directory of %s", prev, p)
		}
	}
	return nil
}

// validSum reports whether s is a lower-case hex SHA-256.
func validSum(s string) bool {
	if len(s) != sha256.Size*2 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// writeISO writes files into a new ISO 9660 image at name, with Rock Ridge
// and Joliet names. Streamed files (File.Open) are copied through a
// bounded buffer, never held in memory, and checked against their size
// and SHA-256; progress, if not nil, follows that copy.
func writeISO(name, label string, files []File, progress func(done, total int64)) (err error) {
	dir := filepath.Dir(name)
	if err := checkOpenFiles(len(files)); err != nil {
		return err
	}
	if err := checkSpace(dir, files); err != nil {
		return err
	}
	// go-diskfs assembles the tree in a work directory and copies it into
	// the image when finalising. It sits beside the image, on the
	// filesystem that must hold the disk's contents anyway.
	work, err := os.MkdirTemp(dir, ".enmei-bundle-")
	if err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	defer os.RemoveAll(work)
	// The work directory becomes the image's root, whose Rock Ridge mode
	// must let every user of a mounted disk read it.
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}

	var streamed int64
	for _, f := range files {
		if f.Open != nil {
			streamed += f.Size
		}
	}
	var done int64
	for _, f := range files {
		full := filepath.Join(work, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("writing companion disk: %w", err)
		}
		if f.Open == nil {
			if err := os.WriteFile(full, f.Data, 0o644); err != nil {
				return fmt.Errorf("writing companion disk: %w", err)
			}
			continue
		}
		var count func(int64)
		if progress != nil {
			count = func(n int64) { done += n; progress(done, streamed) }
		}
		if err := copyStreamed(full, f, count); err != nil {
			return err
		}
	}

	out, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("writing companion disk: %w", cerr)
		}
	}()
	fsys, err := iso9660.Create(diskfile.New(out, false), 0, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	if err := fsys.Finalize(iso9660.FinalizeOptions{
		RockRidge:           true,
		Joliet:              true,
		VolumeIdentifier:    label,
		PublisherIdentifier: "ENMEI",
	}); err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	if err := fixJoliet(out); err != nil {
		return fmt.Errorf("writing companion disk: repairing the Joliet tree: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	return nil
}

// copyStreamed copies the content of a streamed file to full, checking it
// against the size and SHA-256 MANIFEST lists for it.
func copyStreamed(full string, f File, count func(int64)) error {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("writing companion disk: reading %s: %w", f.Path, err)
	}
	defer r.Close()
	out, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	h := sha256.New()
	var w io.Writer = io.MultiWriter(out, h)
	if count != nil {
		w = countingWriter{w, count}
	}
	// One byte more than promised is enough to notice a longer source.
	n, err := io.Copy(w, io.LimitReader(r, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing companion disk: copying %s: %w", f.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != f.Size || got != f.SHA256 {
		return errs.E(errs.Invalid, "%s read for the companion disk is not the %d bytes with SHA-256 %s that its MANIFEST entry was made from: its source is damaged", f.Path, f.Size, f.SHA256)
	}
	return nil
}

type countingWriter struct {
	w     io.Writer
	count func(int64)
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.count(int64(n))
	return n, err
}

// openFilesReserve is what a process needs open besides the image's files.
const openFilesReserve = 256

// rlimInfinity is RLIM_INFINITY, "no limit", as Linux's rlimit holds it.
const rlimInfinity = ^uint64(0)

// checkOpenFiles makes sure the process may open n files at once:
// go-diskfs keeps every file of the image open until the image is
// finished. It raises the soft limit when the hard one allows.
func checkOpenFiles(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // no limit known: let the write find out
	}
	need := uint64(n) + openFilesReserve
	if lim.Cur != rlimInfinity && lim.Cur < need {
		if lim.Max == rlimInfinity || lim.Max >= need {
			lim.Cur = need
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
				return nil
			}
		}
		return errs.E(errs.Invalid, "the companion disk would hold %d files, but this process may open only %d files at once and the ISO writer keeps them all open: raise the limit on open files (ulimit -n, or LimitNOFILE= for a service) to at least %d", n, lim.Max, need)
	}
	return nil
}

// checkSpace makes sure dir's filesystem can hold files twice: once in
// the work directory the image is assembled from, once in the image.
func checkSpace(dir string, files []File) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // the write itself will say what is wrong
	}
	const sector = 2048
	var need int64 = 1 << 20 // volume descriptors, path tables, slack
	for _, f := range files {
		blocks := (f.size() + sector - 1) / sector
		// The data in the work directory and in the image, plus the
		// directory records of three trees (ISO 9660, Rock Ridge, Joliet).
		need += 2*blocks*sector + 3*256
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free >= 0 && free < need {
		return errs.E(errs.Invalid, "the companion disk needs about %s free in %s (its files, then the image made from them), but only %s is free", bytesize.About(need), dir, bytesize.About(free))
	}
	return nil
}
