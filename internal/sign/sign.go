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
func config(now func() time.Time) *packet.Config {
	return &packet.Config{
		Algorithm:   packet.PubKeyAlgoRSA,
		RSABits:     3072,
		DefaultHash: crypto.SHA256,
		Time:        now,
	}
}

// Generate creates a new RSA-3072 signing key for the given user ID.
func Generate(name, email string, now time.Time) (*Key, error) {
	cfg := config(func() time.Time { return now })
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	return &Key{entity: e, config: config(nil)}, nil
}

// ReadArmored loads a key written by ArmoredPrivate.
func ReadArmored(data []byte) (*Key, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	if len(list) != 1 || list[0].PrivateKey == nil {
		return nil, errors.New("reading signing key: want exactly one private key")
	}
	if list[0].PrivateKey.Encrypted {
		return nil, errors.New("reading signing key: key is passphrase-protected")
	}
	return &Key{entity: list[0], config: config(nil)}, nil
}

// ArmoredPrivate returns the private key, armored. Keep it in a 0600 file or the store.
func (k *Key) ArmoredPrivate() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := k.entity.SerializePrivate(w, k.config); err != nil {
		return nil, fmt.Errorf("serializing signing key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Public returns the public key as binary OpenPGP packets (an apt keyring file).
func (k *Key) Public() ([]byte, error) {
	var buf bytes.Buffer
	if err := k.entity.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serializing public key: %w", err)
	}
	return buf.Bytes(), nil
}

// ArmoredPublic returns the public key, armored (RPM-GPG-KEY file, `signing-key export`).
func (k *Key) ArmoredPublic() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := k.entity.Serialize(w); err != nil {
		return nil, fmt.Errorf("serializing public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Fingerprint is the upper-case hex fingerprint of the primary key.
func (k *Key) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", k.entity.PrimaryKey.Fingerprint))
}

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
