package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	diskfile "github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/enmei-project/enmei/internal/errs"
)

// Disk is an opened companion disk: an ISO image or a directory holding
// a mounted or extracted one. Nothing read from it is trusted until Verify
// has succeeded; ReadFile and List serve only what the verified MANIFEST
// lists. A Disk is safe for concurrent use.
type Disk struct {
	name string
	src  source

	mu       sync.Mutex
	verified map[string]string // path → SHA-256 of the verified MANIFEST
	paths    []string          // verified paths, sorted
}

// source is where a Disk's files come from.
type source interface {
	fsys() fs.FS // slash-separated paths relative to the disk's root
	close() error
}

// isoMagic is the standard identifier of the first ISO 9660 volume
// descriptor, at sector 16 (2048-byte sectors) plus one byte.
const (
	isoMagic       = "CD001"
	isoMagicOffset = 16*2048 + 1
)

// Open opens the companion disk at path: an ISO image (recognised by its
// content, not its name) or a directory.
func Open(path string) (*Disk, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening companion disk: %w", err)
	}
	if st.IsDir() {
		root, err := os.OpenRoot(path)
		if err != nil {
			return nil, fmt.Errorf("opening companion disk: %w", err)
		}
		return &Disk{name: path, src: dirSource{root}}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening companion disk: %w", err)
	}
	magic := make([]byte, len(isoMagic))
	if _, err := f.ReadAt(magic, isoMagicOffset); err != nil || string(magic) != isoMagic {
		f.Close()
		return nil, errs.E(errs.Invalid, "%s is neither an ISO 9660 image nor a directory, so it is not a companion disk", path)
	}
	fsys, err := readISO(f, st.Size())
	if err != nil {
		f.Close()
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("%s is not a readable ISO 9660 image: %v", path, err))
	}
	return &Disk{name: path, src: &isoSource{f: f, fs: fsys}}, nil
}

// readISO reads an image's volume descriptors. A damaged image must not
// crash the caller, so a panic in the ISO reader is an error here.
func readISO(f *os.File, size int64) (fsys *iso9660.FileSystem, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed image: %v", r)
		}
	}()
	return iso9660.Read(diskfile.New(f, true), size, 0, 2048)
}

type isoSource struct {
	f  *os.File
	fs *iso9660.FileSystem
}

func (s *isoSource) fsys() fs.FS  { return safeFS{s.fs} }
func (s *isoSource) close() error { return s.f.Close() }

// safeFS turns panics of the ISO reader on a damaged image into errors.
type safeFS struct{ fs fs.FS }

func (s safeFS) Open(name string) (f fs.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("malformed image: %v", r)}
		}
	}()
	f, err = s.fs.Open(name)
	if err != nil {
		return nil, err
	}
	return safeFile{f}, nil
}

type safeFile struct{ fs.File }

func (f safeFile) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("malformed image: %v", r)
		}
	}()
	return f.File.Read(p)
}

func (f safeFile) ReadDir(n int) (des []fs.DirEntry, err error) {
	defer func() {
		if r := recover(); r != nil {
			des, err = nil, fmt.Errorf("malformed image: %v", r)
		}
	}()
	d, ok := f.File.(fs.ReadDirFile)
	if !ok {
		return nil, errors.New("not a directory")
	}
	return d.ReadDir(n)
}

type dirSource struct{ root *os.Root }

func (s dirSource) fsys() fs.FS  { return s.root.FS() }
func (s dirSource) close() error { return s.root.Close() }

// Close releases the disk.
func (d *Disk) Close() error { return d.src.close() }

// readFile reads one regular file of the disk, at most limit bytes.
func (d *Disk) readFile(p string, limit int64) ([]byte, error) {
	f, err := d.src.fsys().Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errs.E(errs.Invalid, "%s on the companion disk is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errs.E(errs.Invalid, "%s on the companion disk is larger than %d bytes", p, limit)
	}
	return data, nil
}

// PublicKey returns the armored key the disk carries at KeyPath. It is
// not checked: it is what an operator inspects (and compares with the
// fingerprint the vendor published) before trusting it; Verify with it
// as a trusted key then proves the rest of the disk.
func (d *Disk) PublicKey() ([]byte, error) {
	data, err := d.readFile(KeyPath, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.Invalid, "the companion disk %s has no public key %s", d.name, KeyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the companion disk's public key: %w", err)
	}
	return data, nil
}

// Verify checks that MANIFEST.asc is a signature of MANIFEST by one of
// the trusted armored public keys, then that every file MANIFEST lists is
// on the disk with its SHA-256 and that the disk holds no file it does
// not list. It returns the fingerprint of the signing key's primary key
// (upper-case hex). After Verify succeeds, ReadFile and List serve the
// listed files.
func (d *Disk) Verify(trusted [][]byte) (fingerprint string, err error) {
	var keyring openpgp.EntityList
	for i, k := range trusted {
		list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(k))
		if err != nil {
			return "", errs.Wrap(errs.Invalid, err, fmt.Sprintf("trusted key %d is not an armored OpenPGP public key: %v", i+1, err))
		}
		keyring = append(keyring, list...)
	}
	if len(keyring) == 0 {
		return "", errs.E(errs.Invalid, "no trusted key was given to verify the companion disk with")
	}

	manifest, err := d.readFile(ManifestPath, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errs.E(errs.Invalid, "%s is not a companion disk: it has no MANIFEST", d.name)
	}
	if err != nil {
		return "", errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk's MANIFEST cannot be read: %v", err))
	}
	sig, err := d.readFile(SignaturePath, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errs.E(errs.Invalid, "the companion disk is not signed: it has no MANIFEST.asc")
	}
	if err != nil {
		return "", errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk's MANIFEST.asc cannot be read: %v", err))
	}
	signer, err := checkSignature(keyring, manifest, sig)
	if err != nil {
		return "", err
	}
	entries, err := parseManifest(manifest)
	if err != nil {
		return "", err
	}

	listed := make(map[string]string, len(entries))
	for _, e := range entries {
		listed[e.path] = e.sum
	}
	// Every file on the disk must be listed: an unlisted one was added.
	err = fs.WalkDir(d.src.fsys(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk cannot be read at %s: %v", p, err))
		}
		if de.IsDir() || p == ManifestPath || p == SignaturePath {
			return nil
		}
		if _, ok := listed[p]; !ok {
			return errs.E(errs.Invalid, "file %s on the companion disk is not listed in its MANIFEST: the disk is damaged or altered", p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := d.check(e.path, e.sum); err != nil {
			return "", err
		}
	}

	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		paths = append(paths, e.path)
	}
	sort.Strings(paths)
	d.mu.Lock()
	d.verified, d.paths = listed, paths
	d.mu.Unlock()
	return strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint)), nil
}

// check reads p and compares it with its MANIFEST checksum. The file is
// hashed as it is read, never held whole: a disk with a publication on it
// holds packages of any size.
func (d *Disk) check(p, want string) error {
	err := d.hashFile(p, want)
	if errors.Is(err, fs.ErrNotExist) {
		return errs.E(errs.Invalid, "file %s listed in the companion disk's MANIFEST is missing from the disk", p)
	}
	if err != nil && errs.KindOf(err) != errs.Invalid {
		return errs.Wrap(errs.Invalid, err, fmt.Sprintf("file %s on the companion disk cannot be read: %v", p, err))
	}
	return err
}

// hashFile streams the regular file p through SHA-256 and compares the
// result with want.
func (d *Disk) hashFile(p, want string) error {
	f, err := d.src.fsys().Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errs.E(errs.Invalid, "%s on the companion disk is not a regular file", p)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return err
	}
	if n > maxFileSize {
		return errs.E(errs.Invalid, "%s on the companion disk is larger than %d bytes", p, int64(maxFileSize))
	}
	if hex.EncodeToString(h.Sum(nil)) != want {
		return errs.E(errs.Invalid, "file %s on the companion disk does not match its MANIFEST entry: the disk is damaged or altered", p)
	}
	return nil
}

func (d *Disk) checked(p, want string) ([]byte, error) {
	data, err := d.readFile(p, maxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.Invalid, "file %s listed in the companion disk's MANIFEST is missing from the disk", p)
	}
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("file %s on the companion disk cannot be read: %v", p, err))
	}
	if sum(data) != want {
		return nil, errs.E(errs.Invalid, "file %s on the companion disk does not match its MANIFEST entry: the disk is damaged or altered", p)
	}
	return data, nil
}

// ReadFile returns a file the verified MANIFEST lists, checked again
// against its checksum (a mounted disk may change under the reader).
func (d *Disk) ReadFile(p string) ([]byte, error) {
	d.mu.Lock()
	verified, want := d.verified != nil, d.verified[p]
	d.mu.Unlock()
	if !verified {
		return nil, errs.E(errs.Invalid, "the companion disk has not been verified; verify it before reading %s", p)
	}
	if want == "" {
		return nil, errs.E(errs.NotFound, "the companion disk's MANIFEST does not list %s", p)
	}
	return d.checked(p, want)
}

// List returns the paths the verified MANIFEST lists, sorted; nil before
// Verify has succeeded.
func (d *Disk) List() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.paths...)
}

// checkSignature verifies the armored detached signature sig of manifest
// against keyring and returns the signing entity.
func checkSignature(keyring openpgp.EntityList, manifest, sig []byte) (*openpgp.Entity, error) {
	signer, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(manifest), bytes.NewReader(sig), nil)
	if err == nil {
		return signer, nil
	}
	issuer, perr := issuer(sig)
	var sigErr pgperrors.SignatureError
	switch {
	case perr != nil:
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk's MANIFEST.asc is not an OpenPGP signature: %v", perr))
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk's MANIFEST is not signed by a trusted key (signed by %s)", issuer))
	case errors.As(err, &sigErr):
		return nil, errs.Wrap(errs.Invalid, err, "the companion disk's MANIFEST does not match its signature MANIFEST.asc: the disk is damaged or altered")
	}
	return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the companion disk's MANIFEST signature (by %s) is not valid: %v", issuer, err))
}

// issuer names the key that made an armored signature: its fingerprint,
// or its key ID when the signature carries no fingerprint.
func issuer(sig []byte) (string, error) {
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		return "", err
	}
	if block.Type != openpgp.SignatureType {
		return "", fmt.Errorf("armored %s, not a signature", block.Type)
	}
	p, err := packet.NewReader(block.Body).Next()
	if err != nil {
		return "", err
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return "", fmt.Errorf("%T, not a signature packet", p)
	}
	switch {
	case len(s.IssuerFingerprint) > 0:
		return strings.ToUpper(fmt.Sprintf("%x", s.IssuerFingerprint)), nil
	case s.IssuerKeyId != nil:
		return fmt.Sprintf("key ID %016X", *s.IssuerKeyId), nil
	}
	return "an unnamed key", nil
}
