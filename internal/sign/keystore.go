package sign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Settings is the part of the store the public key lives in. The private
// key never goes there: every dump and replica of the database would carry it.
type Settings interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
	DeleteSetting(ctx context.Context, name string) error
}

const (
	publicSetting = "signing-key-public"
	// legacySetting is where enmei before the key file kept the private key.
	legacySetting = "signing-key"
)

// Custody says where the signing key lives: the private key in a file only
// commands that sign read, the public key in the store for every replica.
type Custody struct {
	Store      Settings
	File       string // the private key file, mode 0600
	Passphrase []byte // protects the file when not empty
	Now        func() time.Time
	// Bits is the size of a key made on first need (default 4096).
	Bits int
	// Name and Comment form the user ID of a key made on first need.
	Name, Comment string
	// Created, when set, is told about a key made on first need.
	Created func(*Key)
}

func (c *Custody) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Public returns the repositories' public key (errs.NotFound before a key
// exists). It migrates a private key the database still holds first.
func (c *Custody) Public(ctx context.Context) (*PublicKey, error) {
	if err := c.Migrate(ctx); err != nil {
		return nil, err
	}
	data, err := c.Store.Setting(ctx, publicSetting)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.NotFound, "there is no signing key yet: it is made by the first publish (or enmeid signing-key generate)")
	}
	if err != nil {
		return nil, fmt.Errorf("loading the public signing key: %w", err)
	}
	return ReadPublic(data)
}

// Private returns the key that signs, making it on first need: a fresh data
// directory publishes without a setup step. It refuses when the key file is
// missing or holds another key than the one the repositories are signed with.
func (c *Custody) Private(ctx context.Context) (*Key, error) {
	if err := c.Migrate(ctx); err != nil {
		return nil, err
	}
	k, err := c.readFile()
	if errors.Is(err, fs.ErrNotExist) {
		return c.create(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := c.recordPublic(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Generate makes a new key in the key file, refusing when one exists.
func (c *Custody) Generate(ctx context.Context, name, comment, email string, bits int) (*Key, error) {
	if err := c.refuseExisting(ctx); err != nil {
		return nil, err
	}
	k, err := GenerateBits(name, comment, email, bits, c.now())
	if err != nil {
		return nil, err
	}
	return k, c.install(ctx, k)
}

// Import installs an existing armored private key (a vendor's release key),
// refusing when a key exists. The file may be protected with the custody's
// passphrase; it is written protected the same way.
func (c *Custody) Import(ctx context.Context, armored []byte) (*Key, error) {
	if err := c.refuseExisting(ctx); err != nil {
		return nil, err
	}
	k, err := ReadArmoredWithPassphrase(armored, c.Passphrase)
	if errors.Is(err, ErrPassphrase) {
		return nil, errs.Wrap(errs.Invalid, err, "the key to import is passphrase-protected: set ENMEI_SIGNING_PASSPHRASE to its passphrase")
	}
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot import the key: %v: pass an armored OpenPGP private key (gpg --export-secret-keys --armor)", err))
	}
	return k, c.install(ctx, k)
}

// Migrate moves a private key that an earlier enmei kept in the database
// into the key file (same key, same fingerprint), records its public part,
// and scrubs the private key from the database.
func (c *Custody) Migrate(ctx context.Context) error {
	legacy, err := c.Store.Setting(ctx, legacySetting)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for a signing key in the database: %w", err)
	}
	old, err := ReadArmored(legacy)
	if err != nil {
		return fmt.Errorf("migrating the signing key out of the database: %w", err)
	}
	onDisk, err := c.readFile()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := c.writeFile(old); err != nil {
			return err
		}
	case err != nil:
		return err
	case onDisk.Fingerprint() != old.Fingerprint():
		return errs.E(errs.Invalid, "the key file %s holds key %s, but the database holds key %s that signs the published repositories: move the key file away and run the command again to migrate the database's key into it",
			c.File, onDisk.Fingerprint(), old.Fingerprint())
	}
	if err := c.recordPublic(ctx, old); err != nil {
		return err
	}
	if err := c.Store.DeleteSetting(ctx, legacySetting); err != nil {
		return fmt.Errorf("removing the private signing key from the database: %w", err)
	}
	return nil
}

func (c *Custody) refuseExisting(ctx context.Context) error {
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(c.File); err == nil {
		return errs.E(errs.Exists, "a signing key exists already in %s: enmei does not replace it, because hosts trust it; move it away first if it was never used", c.File)
	}
	if pub, err := c.Store.Setting(ctx, publicSetting); err == nil {
		fpr := "?"
		if p, err := ReadPublic(pub); err == nil {
			fpr = p.Fingerprint()
		}
		return errs.E(errs.Exists, "the repositories are already signed with key %s: enmei does not replace it, because hosts trust it", fpr)
	}
	return nil
}

func (c *Custody) create(ctx context.Context) (*Key, error) {
	if pub, err := c.Store.Setting(ctx, publicSetting); err == nil {
		fpr := "?"
		if p, err := ReadPublic(pub); err == nil {
			fpr = p.Fingerprint()
		}
		return nil, errs.E(errs.NotFound, "the signing key file %s is missing, but the repositories are signed with key %s: copy that key file here (or point --signing-key at it); enmei does not make a new key, because hosts trust the old one", c.File, fpr)
	} else if !errs.Is(err, errs.NotFound) {
		return nil, fmt.Errorf("loading the public signing key: %w", err)
	}
	bits := c.Bits
	if bits == 0 {
		bits = 4096
	}
	name := c.Name
	if name == "" {
		name = "enmei repository signing key"
	}
	k, err := GenerateBits(name, c.Comment, "", bits, c.now())
	if err != nil {
		return nil, err
	}
	if err := c.install(ctx, k); err != nil {
		if errs.Is(err, errs.Exists) {
			// Another process made the key at the same moment: use theirs.
			return c.Private(ctx)
		}
		return nil, err
	}
	if c.Created != nil {
		c.Created(k)
	}
	return k, nil
}

// install writes a new key file (never replacing one) and records the
// public key; if another key won the race for the database, the file is
// removed again.
func (c *Custody) install(ctx context.Context, k *Key) error {
	if err := c.writeFile(k); err != nil {
		return err
	}
	if err := c.recordPublic(ctx, k); err != nil {
		os.Remove(c.File)
		return err
	}
	return nil
}

// recordPublic stores k's public key unless one is stored, and refuses when
// the stored one is another key.
func (c *Custody) recordPublic(ctx context.Context, k *Key) error {
	pub, err := k.ArmoredPublic()
	if err != nil {
		return err
	}
	stored, err := c.Store.PutSettingIfAbsent(ctx, publicSetting, pub)
	if err != nil {
		return fmt.Errorf("recording the public signing key: %w", err)
	}
	if bytes.Equal(stored, pub) {
		return nil
	}
	p, err := ReadPublic(stored)
	if err != nil {
		return fmt.Errorf("reading the recorded public signing key: %w", err)
	}
	if p.Fingerprint() != k.Fingerprint() {
		return errs.E(errs.Exists, "the key file %s holds key %s, but the repositories are signed with key %s: use that key's file (--signing-key)", c.File, k.Fingerprint(), p.Fingerprint())
	}
	return nil
}

func (c *Custody) readFile() (*Key, error) {
	data, err := os.ReadFile(c.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read the signing key file %s: %v", c.File, err))
	}
	if fi, err := os.Stat(c.File); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, errs.E(errs.Invalid, "the signing key file %s is readable by others (mode %04o): chmod 600 %s", c.File, fi.Mode().Perm(), c.File)
	}
	k, err := ReadArmoredWithPassphrase(data, c.Passphrase)
	if errors.Is(err, ErrPassphrase) {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the signing key file %s is passphrase-protected: set ENMEI_SIGNING_PASSPHRASE to its passphrase", c.File))
	}
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the signing key file %s is damaged (%v): restore it from your backup", c.File, err))
	}
	return k, nil
}

// writeFile creates the key file, mode 0600, without ever replacing one:
// it is written to a temporary file and linked into place.
func (c *Custody) writeFile(k *Key) error {
	data, err := k.ArmoredPrivateWithPassphrase(c.Passphrase)
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.File)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing the signing key file %s: %w", c.File, err)
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*")
	if err != nil {
		return fmt.Errorf("writing the signing key file %s: %w", c.File, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the signing key file %s: %w", c.File, err)
	}
	if err := os.Link(tmp.Name(), c.File); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errs.E(errs.Exists, "the signing key file %s exists already", c.File)
		}
		return fmt.Errorf("writing the signing key file %s: %w", c.File, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
