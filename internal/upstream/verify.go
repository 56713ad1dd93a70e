package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
)

// verifyRepomd checks repomd.xml's detached signature, armored as
// repomd.xml.asc is, or binary.
func verifyRepomd(keyring openpgp.EntityList, repomd, asc []byte) error {
	sig := asc
	if block, err := armor.Decode(bytes.NewReader(asc)); err == nil {
		var b bytes.Buffer
		if _, err := b.ReadFrom(block.Body); err != nil {
			return fmt.Errorf("the signature file is damaged: %w", err)
		}
		sig = b.Bytes()
	}
	return verifyDetached(keyring, repomd, sig)
}

// verifyDetached checks one binary OpenPGP signature (a packet sequence) of
// signed against keyring and says, when it fails, which key made it.
//
// A key that has expired since still vouches for what it signed while it
// was valid: an ELS mirror serves an end-of-life distribution whose keys
// may expire, as rpm accepts them. A revoked key never does.
func verifyDetached(keyring openpgp.EntityList, signed, sig []byte) error {
	issuer := issuerOf(sig)
	s, signer, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(signed), bytes.NewReader(sig), nil)
	if errors.Is(err, pgperrors.ErrKeyExpired) && s != nil && signer != nil {
		at := s.CreationTime
		cfg := &packet.Config{Time: func() time.Time { return at }}
		_, signer, err = openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(signed), bytes.NewReader(sig), cfg)
		if err == nil && signer.Revoked(time.Now()) {
			err = pgperrors.ErrKeyRevoked
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Errorf("signed by key %s, which is not the upstream key given", issuer)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("signed by key %s, which is revoked", issuer)
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return fmt.Errorf("signed by key %s after it expired", issuer)
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Errorf("its signature by key %s has expired", issuer)
	}
	return fmt.Errorf("its signature by key %s does not verify (%v): the signed data was altered", issuer, err)
}

// issuerOf is the key ID (or fingerprint) a signature names, for messages.
func issuerOf(sig []byte) string {
	p, err := packet.Read(bytes.NewReader(sig))
	if s, ok := p.(*packet.Signature); err == nil && ok {
		if s.IssuerKeyId != nil {
			return fmt.Sprintf("%016X", *s.IssuerKeyId)
		}
		if len(s.IssuerFingerprint) > 0 {
			return fmt.Sprintf("%X", s.IssuerFingerprint)
		}
	}
	return "(unknown)"
}

// verifyPackage checks an RPM's header signatures as rpm 4.16+ does with
// gpgcheck: one of RSAHEADER, DSAHEADER or rpm 6's OPENPGP over the main
// header must verify. The header holds the payload digest (rpm 4.14+) and
// every file's digest, and rpm.ReadSigned has checked the payload against
// the former, so the signature vouches for the whole package.
func verifyPackage(keyring openpgp.EntityList, sh *rpm.SignedHeader) error {
	if len(sh.Signatures) == 0 {
		return errors.New("not signed: it has no header signature (RSAHEADER or DSAHEADER), which rpm 4.16 and later require with gpgcheck")
	}
	var reasons []string
	for _, sig := range sh.Signatures {
		err := verifyDetached(keyring, sh.Header, sig)
		if err == nil {
			return nil
		}
		if r := err.Error(); !strings.Contains(strings.Join(reasons, "; "), r) {
			reasons = append(reasons, r)
		}
	}
	return errors.New(strings.Join(reasons, "; "))
}
