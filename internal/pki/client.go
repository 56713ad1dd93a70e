package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enmei-project/enmei/internal/errs"
)

// ClientValidityYears is how long a contract's client certificate is valid,
// counted from its issue.
const ClientValidityYears = 5

// SupportIDURIPrefix starts the URI SAN that names a client certificate's
// contract: "urn:enmei:support-id:ENM-2026-ABC123".
const SupportIDURIPrefix = "urn:enmei:support-id:"

var supportIDShape = regexp.MustCompile(`^ENM-[0-9]{4}-[0-9A-Z]{6}$`)

// ValidSupportID reports whether id has the shape of a support ID,
// ENM-YYYY-XXXXXX (digits and capital letters).
func ValidSupportID(id string) bool { return supportIDShape.MatchString(id) }

// ClientSubject names a contract's client certificate.
type ClientSubject struct {
	SupportID string // the contract, ENM-YYYY-XXXXXX: the certificate's CN and URI SAN
	Customer  string // the customer, UTF-8 (Japanese allowed): the certificate's O
}

// ClientValidity is the validity of a contract's client certificate issued
// at issue: from 5 minutes before (so a host whose clock is a little behind
// accepts it) to 5 years after. The first issue is made when the customer
// first downloads the certificate; there is no reissue, except a
// replacement (--replace), which revokes the old certificate and gets a new
// 5-year validity from its own issue: call ClientValidity with the time of
// the issue being made either way. Times are UTC, to the second, as a
// certificate records them, so a caller may store and compare them.
func ClientValidity(issue time.Time) (notBefore, notAfter time.Time) {
	issue = issue.UTC().Truncate(time.Second)
	return issue.Add(-clockSkew), issue.AddDate(ClientValidityYears, 0, 0)
}

// IssueClient signs a TLS client certificate for a contract and returns it
// DER-encoded. The certificate may be used for TLS client authentication
// only; its CN is the support ID and its O the customer, and a URI SAN
// (SupportIDURIPrefix + the support ID) names the contract unambiguously for
// SupportIDOf. serial should come from NewSerial; notBefore and notAfter
// from ClientValidity. A certificate that would outlive the CA is refused
// (errs.Invalid), since no client could verify it past the CA's end.
func (ca *CA) IssueClient(pub crypto.PublicKey, s ClientSubject, serial *big.Int, notBefore, notAfter time.Time) ([]byte, error) {
	if !ValidSupportID(s.SupportID) {
		return nil, errs.E(errs.Invalid, "%q is not a support ID (want ENM-YYYY-XXXXXX)", s.SupportID)
	}
	customer := strings.TrimSpace(s.Customer)
	if customer == "" || !utf8.ValidString(customer) {
		return nil, errs.E(errs.Invalid, "the client certificate of %s needs the customer's name in UTF-8", s.SupportID)
	}
	if serial == nil || serial.Sign() <= 0 || serial.BitLen() > 159 {
		return nil, errs.E(errs.Invalid, "a certificate serial number must be positive and at most 20 octets")
	}
	if !notAfter.After(notBefore) {
		return nil, errs.E(errs.Invalid, "the client certificate of %s would end (%s) before it starts (%s)", s.SupportID, day(notAfter), day(notBefore))
	}
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, errs.E(errs.Invalid, "the client certificate of %s would outlive the CA, which expires on %s: replace the CA first", s.SupportID, day(ca.Cert.NotAfter))
	}
	uri := &url.URL{Scheme: "urn", Opaque: strings.TrimPrefix(SupportIDURIPrefix, "urn:") + s.SupportID}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   s.SupportID,
			Organization: []string{customer},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing the client certificate of %s: %w", s.SupportID, err)
	}
	return der, nil
}

// SupportIDOf returns the support ID a client certificate names: from its
// URI SAN, or, for a certificate without one, from its CN. It refuses, as
// errs.Invalid, a certificate that names none, names one of the wrong shape,
// or names two different ones. It does not verify the certificate: see
// VerifyClient.
func SupportIDOf(cert *x509.Certificate) (string, error) {
	var fromURI string
	for _, u := range cert.URIs {
		s := u.String()
		if len(s) < len(SupportIDURIPrefix) || !strings.EqualFold(s[:len(SupportIDURIPrefix)], SupportIDURIPrefix) {
			continue
		}
		id := s[len(SupportIDURIPrefix):]
		if !ValidSupportID(id) {
			return "", errs.E(errs.Invalid, "the client certificate names %q, which is not a support ID", id)
		}
		if fromURI != "" && fromURI != id {
			return "", errs.E(errs.Invalid, "the client certificate names two support IDs, %s and %s", fromURI, id)
		}
		fromURI = id
	}
	cn := cert.Subject.CommonName
	if fromURI != "" {
		if ValidSupportID(cn) && cn != fromURI {
			return "", errs.E(errs.Invalid, "the client certificate names two support IDs, %s and %s", fromURI, cn)
		}
		return fromURI, nil
	}
	if !ValidSupportID(cn) {
		return "", errs.E(errs.Invalid, "the client certificate names no support ID (its common name is %q)", cn)
	}
	return cn, nil
}

// CheckPassword checks a PKCS#12 password: 12 to 128 characters, ASCII
// letters and digits only. The narrow alphabet is deliberate: PKCS#12
// importers disagree on how they encode non-ASCII passwords (OpenSSL, Windows
// and macOS differ), so such a password may be refused by the customer's
// tool; and a password of letters and digits survives shells, e-mail and
// copy-and-paste. Errors are errs.Invalid and never repeat the password.
func CheckPassword(pw string) error {
	for _, r := range pw {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return errs.E(errs.Invalid, "the password may contain only the ASCII letters a-z and A-Z and the digits 0-9")
		}
	}
	if n := len(pw); n < 12 || n > 128 {
		return errs.E(errs.Invalid, "the password must be 12 to 128 characters long, not %d", n)
	}
	return nil
}

// day formats a certificate time for a message: the UTC date and minute,
// since a date alone could be a day off for a reader in Japan.
func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
