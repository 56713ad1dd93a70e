package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	diskfile "github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

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
	if err := writeISO(tmp, VolumeLabel(c.Label), files); err != nil {
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
		if int64(len(f.Data)) > maxFileSize {
			return nil, nil, errs.E(errs.Invalid, "%s is %d bytes; an ISO 9660 file holds at most %d", f.Path, len(f.Data), int64(maxFileSize))
		}
		if err := claim(kinds, f.Path); err != nil {
			return nil, nil, err
		}
		entries = append(entries, manifestEntry{sum: sum(f.Data), path: f.Path})
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

// writeISO writes files into a new ISO 9660 image at name, with Rock Ridge
// and Joliet names.
func writeISO(name, label string, files []File) (err error) {
	// go-diskfs assembles the tree in a work directory and copies it into
	// the image when finalising. It sits beside the image, on the
	// filesystem that must hold the disk's contents anyway.
	work, err := os.MkdirTemp(filepath.Dir(name), ".enmei-bundle-")
	if err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}
	defer os.RemoveAll(work)
	// The work directory becomes the image's root, whose Rock Ridge mode
	// must let every user of a mounted disk read it.
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("writing companion disk: %w", err)
	}

	for _, f := range files {
		full := filepath.Join(work, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("writing companion disk: %w", err)
		}
		if err := os.WriteFile(full, f.Data, 0o644); err != nil {
			return fmt.Errorf("writing companion disk: %w", err)
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
