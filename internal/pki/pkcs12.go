package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/enmei-project/enmei/internal/errs"
)

// PKCS12 bundles a client key, its certificate (DER) and the CA certificate
// into a PKCS#12 file protected by password, which must pass CheckPassword.
// It uses go-pkcs12's Modern2023 encoding (PBES2 with PBKDF2-HMAC-SHA-256
// and AES-256-CBC, SHA-256 MAC), which OpenSSL 3, Windows 10 1709 and later,
// Firefox and Java 12 and later import.
func PKCS12(key crypto.Signer, certDER []byte, ca *x509.Certificate, password string) ([]byte, error) {
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("bundling the client certificate: %w", err)
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, errs.E(errs.Invalid, "the key does not belong to the certificate %q", cert.Subject.CommonName)
	}
	if ca == nil {
		return nil, errs.E(errs.Invalid, "the bundle of %q needs the CA certificate", cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the certificate %q was not issued by the CA %q", cert.Subject.CommonName, ca.Subject.CommonName))
	}
	p12, err := pkcs12.Modern2023.Encode(key, cert, []*x509.Certificate{ca}, password)
	if err != nil {
		return nil, fmt.Errorf("bundling the client certificate: %w", err)
	}
	return p12, nil
}
