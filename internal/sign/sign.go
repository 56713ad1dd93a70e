// Package sign owns enmei's OpenPGP signing key: it generates and loads the key
// that signs RPM headers, repomd.xml and APT Release files, and produces the
// detached, armored and clear-text signatures that rpm, dnf and apt verify.
package sign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is an OpenPGP private key able to sign. It is safe for concurrent use.
type Key struct {
	entity *openpgp.Entity
	config *packet.Config
}

// config keeps every signature in the form rpm 4.x, gpgv and librepo all accept:
// v4 packets, RSA, SHA-256.
//
// Signatures are deterministic (no random salt notation): the same content
// signed at the same time gives the same bytes, so published metadata is
// reproducible. The salt protects EdDSA against fault attacks; these keys
// are RSA, whose Go implementation verifies each signature it makes.
func config(now func() time.Time) *packet.Config {
	deterministic := false
	return &packet.Config{
		Algorithm:                             packet.PubKeyAlgoRSA,
		RSABits:                               3072,
		DefaultHash:                           crypto.SHA256,
		Time:                                  now,
		NonDeterministicSignaturesViaNotation: &deterministic,
	}
}

// Generate creates a new RSA-3072 signing key for the given user ID.
func Generate(name, email string, now time.Time) (*Key, error) {
	return GenerateBits(name, "", email, 3072, now)
}

// GenerateBits creates a new RSA signing key of the given size (3072 or
// 4096) for the user ID "name (comment) <email>" (comment and email may be "").
func GenerateBits(name, comment, email string, bits int, now time.Time) (*Key, error) {
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, fmt.Errorf("generating signing key: %d bits is not one of 2048, 3072, 4096", bits)
	}
	cfg := config(func() time.Time { return now })
	cfg.RSABits = bits
	e, err := openpgp.NewEntity(name, comment, email, cfg)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	return &Key{entity: e, config: config(nil)}, nil
}

// ErrPassphrase means a key file is passphrase-protected and the passphrase
// given is missing or wrong.
var ErrPassphrase = errors.New("the signing key is passphrase-protected and the passphrase is missing or wrong")

// ReadArmored loads an unprotected key written by ArmoredPrivate.
func ReadArmored(data []byte) (*Key, error) {
	return ReadArmoredWithPassphrase(data, nil)
}

// ReadArmoredWithPassphrase loads an armored private key, decrypting it with
// passphrase when it is protected.
func ReadArmoredWithPassphrase(data, passphrase []byte) (*Key, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	if len(list) != 1 || list[0].PrivateKey == nil {
		return nil, errors.New("reading signing key: want exactly one private key")
	}
	e := list[0]
	if e.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, ErrPassphrase
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, ErrPassphrase
		}
	}
	if _, ok := e.SigningKey(time.Now()); !ok {
		return nil, errors.New("reading signing key: the key cannot sign (expired, revoked or without a signing key)")
	}
	return &Key{entity: e, config: config(nil)}, nil
}

// ArmoredPrivate returns the private key, armored and unprotected. Keep it
// in a 0600 file.
func (k *Key) ArmoredPrivate() ([]byte, error) {
	return k.ArmoredPrivateWithPassphrase(nil)
}

// ArmoredPrivateWithPassphrase returns the private key, armored, and
// protected with passphrase unless it is empty. The key's self-signatures
// are kept as they are, so the written key is the same key.
func (k *Key) ArmoredPrivateWithPassphrase(passphrase []byte) ([]byte, error) {
	e := k.entity
	if len(passphrase) > 0 {
		// Encrypt a copy: the loaded key must stay able to sign.
		var plain bytes.Buffer
		if err := k.entity.SerializePrivateWithoutSigning(&plain, nil); err != nil {
			return nil, fmt.Errorf("serializing signing key: %w", err)
		}
		cp, err := openpgp.ReadKeyRing(&plain)
		if err != nil || len(cp) != 1 {
			return nil, fmt.Errorf("copying signing key: %v", err)
		}
		if err := cp[0].EncryptPrivateKeys(passphrase, k.config); err != nil {
			return nil, fmt.Errorf("protecting signing key: %w", err)
		}
		e = cp[0]
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		return nil, fmt.Errorf("serializing signing key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// WithTime returns the key signing with signatures dated by now: a publish
// dates its signatures with its own clock, so its output is reproducible.
func (k *Key) WithTime(now func() time.Time) *Key {
	return &Key{entity: k.entity, config: config(now)}
}

// UserID is the key's primary user ID, e.g. "Example ELS <els@example.jp>".
func (k *Key) UserID() string {
	if id := k.entity.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// PublicKey is an OpenPGP public key: all the server needs to hand hosts
// the key that verifies its repositories.
type PublicKey struct {
	entity *openpgp.Entity
}

// UserID is the key's primary user ID.
func (p *PublicKey) UserID() string {
	if id := p.entity.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// VendorName is the name part of a user ID ("Example ELS" of
// "Example ELS <els@example.jp>"): who the vendor says it is.
func VendorName(userID string) string {
	if i := strings.Index(userID, " <"); i > 0 {
		return strings.TrimSpace(userID[:i])
	}
	return strings.TrimSpace(userID)
}

// ReadPublic loads an armored public key (or the public part of a private one).
func ReadPublic(armored []byte) (*PublicKey, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("reading public key: want exactly one key, found %d", len(list))
	}
	return &PublicKey{entity: list[0]}, nil
}

// PublicKey returns the key's public part.
func (k *Key) PublicKey() *PublicKey { return &PublicKey{entity: k.entity} }

// Public returns the public key as binary OpenPGP packets (an apt keyring file).
func (p *PublicKey) Public() ([]byte, error) { return serializePublic(p.entity) }

// ArmoredPublic returns the public key, armored.
func (p *PublicKey) ArmoredPublic() ([]byte, error) { return armoredPublic(p.entity) }

// Fingerprint is the upper-case hex fingerprint of the primary key.
func (p *PublicKey) Fingerprint() string { return fingerprint(p.entity) }

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// FormatFingerprint groups a fingerprint by four hex digits, as gpg prints it.
func FormatFingerprint(fpr string) string {
	var b strings.Builder
	for i := 0; i < len(fpr); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fpr[i:min(i+4, len(fpr))])
	}
	return b.String()
}

// Public returns the public key as binary OpenPGP packets (an apt keyring file).
func (k *Key) Public() ([]byte, error) { return serializePublic(k.entity) }

func serializePublic(e *openpgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serializing public key: %w", err)
	}
	return buf.Bytes(), nil
}

// ArmoredPublic returns the public key, armored (RPM-GPG-KEY file, `signing-key export`).
func (k *Key) ArmoredPublic() ([]byte, error) { return armoredPublic(k.entity) }

func armoredPublic(e *openpgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, fmt.Errorf("serializing public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Fingerprint is the upper-case hex fingerprint of the primary key.
func (k *Key) Fingerprint() string { return fingerprint(k.entity) }

// KeyID is the 64-bit key ID, lower-case hex (as rpm prints it).
func (k *Key) KeyID() string {
	return fmt.Sprintf("%016x", k.entity.PrimaryKey.KeyId)
}

// DetachSign returns a binary detached signature packet over data (the form an
// RPM signature header carries).
func (k *Key) DetachSign(data io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if err := openpgp.DetachSign(&buf, k.entity, data, k.config); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return buf.Bytes(), nil
}

// DetachSignArmored returns an armored detached signature over data
// (repomd.xml.asc, Release.gpg).
func (k *Key) DetachSignArmored(data io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, k.entity, data, k.config); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ClearSign returns data wrapped in a clear-signed message (InRelease).
func (k *Key) ClearSign(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.entity.PrivateKey, k.config)
	if err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	return withChecksum(buf.Bytes())
}

// withChecksum re-armors the signature block of a clear-signed message with
// a CRC-24 checksum line. go-crypto omits it (RFC 9580 allows that), but
// GnuPG 2.2 — the gpgv apt runs on Debian 12 — then reads the END line as
// base64 whenever the signature needs no '=' padding, and rejects the file.
func withChecksum(msg []byte) ([]byte, error) {
	const begin = "-----BEGIN PGP SIGNATURE-----"
	i := bytes.Index(msg, []byte(begin))
	if i < 0 {
		return nil, errors.New("clear-signing: no signature block")
	}
	blk, err := armor.Decode(bytes.NewReader(msg[i:]))
	if err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	sig, err := io.ReadAll(blk.Body)
	if err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	out := bytes.NewBuffer(append([]byte(nil), msg[:i]...))
	w, err := armor.Encode(out, "PGP SIGNATURE", nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(sig); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
