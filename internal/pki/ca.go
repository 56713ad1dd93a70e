// Package pki is enmei's managed certificate authority: the pure certificate
// logic behind it, with no database and no HTTP.
//
// The vendor server makes one CA on first start. The CA issues one TLS client
// certificate per customer contract, which the customer's hosts present over
// mutual TLS to fetch SBOMs; it issues the server certificate of
// `enmeid serve --tls auto`; and the client key and certificate reach the
// customer as a password-protected PKCS#12 bundle. Keeping this logic here,
// away from storage and routing, lets it be tested against real TLS
// handshakes and the real OpenSSL.
//
// Every key is ECDSA P-256: it is the curve every TLS stack, browser, OS
// keychain and PKCS#12 importer supports, it gives 128-bit security (the
// level of the AES-128/SHA-256 suites the connections use anyway), and Go
// implements it in constant time and fast. P-384 would add strength no
// attacker is limited by while costing compatibility with small clients.
//
// Persisting the CA is the caller's job: the certificate PEM (public) goes in
// the database so every replica can verify clients; the key PEM is secret and
// belongs in a 0600 file beside the repository signing key, never in the
// database.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// CAValidityYears is how long a CA made by NewCA is valid.
const CAValidityYears = 20

// clockSkew back-dates every notBefore, so a peer whose clock is a little
// behind still accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// CA is the vendor's certificate authority: its certificate and its private
// key. Make one with NewCA and load it with LoadCA.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed CA: an ECDSA P-256 key, valid 20 years from now
// (back-dated 5 minutes for clock skew), a CA that signs certificates and
// CRLs and no sub-CAs (MaxPathLen 0), with a 128-bit random serial. It
// returns the certificate and the PKCS#8 private key, both PEM.
func NewCA(commonName, organization string, now time.Time) (certPEM, keyPEM []byte, err error) {
	commonName = strings.TrimSpace(commonName)
	if commonName == "" {
		return nil, nil, errs.E(errs.Invalid, "the CA needs a common name")
	}
	key, err := NewKey()
	if err != nil {
		return nil, nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{CommonName: commonName}
	if o := strings.TrimSpace(organization); o != "" {
		subject.Organization = []string{o}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          NewSerial(),
		Subject:               subject,
		NotBefore:             now.Add(-clockSkew).UTC().Truncate(time.Second),
		NotAfter:              now.AddDate(CAValidityYears, 0, 0).UTC().Truncate(time.Second),
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("making the CA certificate: %w", err)
	}
	keyPEM, err = KeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return CertificatePEM(der), keyPEM, nil
}

// LoadCA reads a CA from its certificate and key PEM. It refuses, as
// errs.Invalid, a certificate that is not a CA, a key that is encrypted or
// not a private key, and a key that does not belong to the certificate.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errs.E(errs.Invalid, "the CA certificate %q is not a CA certificate: its basic constraints do not allow it to issue certificates", cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errs.E(errs.Invalid, "the CA certificate %q may not sign certificates: its key usage lacks certificate signing", cert.Subject.CommonName)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, errs.E(errs.Invalid, "the CA key does not belong to the CA certificate %q: the files are from different CAs", cert.Subject.CommonName)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// CertPEM returns the CA certificate as PEM: what customers add to their
// trust stores, and what the caller keeps in the database.
func (ca *CA) CertPEM() []byte { return CertificatePEM(ca.Cert.Raw) }

// NewKey makes an ECDSA P-256 private key, for a client certificate (made at
// download time) or a server certificate.
func NewKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making a key: %w", err)
	}
	return k, nil
}

// serialLimit is 2^128: serials are 128 random bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// NewSerial returns a positive random serial number of at most 128 bits.
// (DER encodes it in at most 17 octets, within RFC 5280's 20.)
func NewSerial() *big.Int {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			panic("pki: reading random serial: " + err.Error()) // crypto/rand does not fail
		}
		if n.Sign() > 0 {
			return n
		}
	}
}

// KeyPEM encodes a private key as an unencrypted PKCS#8 "PRIVATE KEY" PEM
// block.
func KeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CertificatePEM encodes a DER certificate as a "CERTIFICATE" PEM block.
func CertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errs.E(errs.Invalid, "the CA certificate is not PEM: it holds no CERTIFICATE block")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, err, "the CA certificate cannot be parsed: "+err.Error())
		}
		return cert, nil
	}
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errs.E(errs.Invalid, "the CA key is not PEM: it holds no PEM block")
	}
	var (
		k   any
		err error
	)
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errs.E(errs.Invalid, "the CA key is encrypted: enmei reads only an unencrypted key, protected by its file's mode 0600")
	default:
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return nil, errs.E(errs.Invalid, "the CA key file holds a %s, not a private key", b.Type)
		}
		return nil, errs.E(errs.Invalid, "the CA key is a %s, which enmei cannot read (want a PKCS#8 PRIVATE KEY)", b.Type)
	}
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "the CA key cannot be parsed: "+err.Error())
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errs.E(errs.Invalid, "the CA key is a %T, which cannot sign", k)
	}
	return s, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case *ecdsa.PublicKey:
		return a.Equal(b)
	case *rsa.PublicKey:
		return a.Equal(b)
	case ed25519.PublicKey:
		return a.Equal(b)
	}
	return false
}

// subjectKeyID is RFC 7093's method 1: the leftmost 160 bits of the SHA-256
// of the subjectPublicKey bit string.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding a public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decoding a public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
