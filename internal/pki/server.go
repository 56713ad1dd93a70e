package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// ServerValidity is how long a server certificate made by IssueServer is
// valid: 397 days, the most browsers accept.
const ServerValidity = 397 * 24 * time.Hour

// IssueServer makes a key and a TLS server certificate for names, each a
// host name (a DNS SAN) or an IP address (an IP SAN), valid from now for
// ServerValidity but no longer than the CA. The returned chain holds the
// server certificate and then the CA certificate, and Leaf is set.
func (ca *CA) IssueServer(names []string, now time.Time) (tls.Certificate, error) {
	var dns []string
	var ips []net.IP
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(n), "["), "]")
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(n, "."))
		if !validHostName(h) {
			return tls.Certificate{}, errs.E(errs.Invalid, "%q is neither a host name nor an IP address (write an internationalized name in its xn-- form)", n)
		}
		if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	if len(dns)+len(ips) == 0 {
		return tls.Certificate{}, errs.E(errs.Invalid, "a server certificate needs at least one host name or IP address")
	}
	notBefore := now.Add(-clockSkew).UTC().Truncate(time.Second)
	notAfter := now.Add(ServerValidity).UTC().Truncate(time.Second)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(now) {
		return tls.Certificate{}, errs.E(errs.Invalid, "the CA expired on %s: it can issue no server certificate", day(ca.Cert.NotAfter))
	}
	key, err := NewKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	var subject pkix.Name
	if len(dns) > 0 && len(dns[0]) <= 64 {
		subject.CommonName = dns[0]
	} else if len(dns) == 0 {
		subject.CommonName = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber:          NewSerial(),
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing the server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading the server certificate back: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.Cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validHostName accepts a lower-case ASCII host name, optionally with a
// leading "*." wildcard label.
func validHostName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for l := range strings.SplitSeq(h, ".") {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// ServerNames lists the names a server certificate for `enmeid serve
// --tls auto` must carry: the host of the listen address addr and the host
// of publicURL (which may be empty). A wildcard listen address (":8443",
// "0.0.0.0:8443", "[::]:8443") gives "localhost", "127.0.0.1" and "::1"; any
// other host is taken as given, with no lookups and no machine host name.
// The result is lower-case, deduplicated and sorted. A malformed address or
// URL is errs.Invalid.
func ServerNames(addr, publicURL string) ([]string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the listen address %q is not host:port", addr))
	}
	var names []string
	add := func(h string) {
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		} else {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
		}
		names = append(names, h)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.IsUnspecified():
		add("localhost")
		add("127.0.0.1")
		add("::1")
	default:
		add(host)
	}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("the public URL %q cannot be parsed", publicURL))
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
			return nil, errs.E(errs.Invalid, "the public URL %q is not an absolute http(s) URL with a host", publicURL)
		}
		add(u.Hostname())
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ClientAuthPool returns a pool holding only the CA certificate: the roots
// client certificates must chain to.
func (ca *CA) ClientAuthPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerTLS returns the TLS configuration of the vendor server: serverCert
// (from IssueServer, or any other), TLS 1.2 at least, and client
// certificates requested and, when given, verified against the CA
// (tls.VerifyClientCertIfGiven).
//
// VerifyClientCertIfGiven makes every handshake send a CertificateRequest
// naming the CA, but a client may answer with no certificate, so pages that
// need none (the portal, the API with keys) keep working. Browsers show a
// certificate prompt only when they hold a certificate from the named CA,
// so ordinary visitors see none. A certificate that is given must verify,
// or the handshake fails with a TLS alert (certificate expired, unknown CA,
// bad certificate) before any HTTP: an expired or foreign certificate never
// reaches a handler. Which routes require a certificate, and whether it is
// the contract's current, unrevoked one, is the server's job per request:
// see VerifyClient.
func (ca *CA) ServerTLS(serverCert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.ClientAuthPool(),
		MinVersion:   tls.VersionTLS12,
	}
}

// VerifyClient checks a client certificate presented to the server and
// returns the support ID it names. It checks that the CA issued it, that it
// is valid at now, that it is a client certificate (TLS client
// authentication usage, not a CA), that it chains to the CA, and that it
// names a well-formed support ID. A missing certificate (nil) is
// errs.Unauthorized; every refusal of a presented certificate, a foreign one
// included, is errs.Forbidden with a sentence for the user, e.g. "the client
// certificate expired on 2031-04-01 09:00 UTC".
//
// It knows nothing of revocation: the caller must still check that the
// certificate's serial is the contract's current one and that the contract
// is in force.
func (ca *CA) VerifyClient(cert *x509.Certificate, now time.Time) (supportID string, err error) {
	if cert == nil {
		return "", errs.E(errs.Unauthorized, "this needs the contract's client certificate, and none was presented")
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return "", errs.Wrap(errs.Forbidden, err, fmt.Sprintf("the client certificate %q was not issued by this server's CA %q", cert.Subject.CommonName, ca.Cert.Subject.CommonName))
	}
	if now.After(cert.NotAfter) {
		return "", errs.E(errs.Forbidden, "the client certificate expired on %s", day(cert.NotAfter))
	}
	if now.Before(cert.NotBefore) {
		return "", errs.E(errs.Forbidden, "the client certificate is not valid before %s", day(cert.NotBefore))
	}
	if cert.IsCA || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return "", errs.E(errs.Forbidden, "the certificate %q is not a client certificate: it lacks the TLS client authentication usage", cert.Subject.CommonName)
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:       ca.ClientAuthPool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil && inv.Cert.Equal(ca.Cert) {
			return "", errs.Wrap(errs.Forbidden, err, fmt.Sprintf("the server's CA expired on %s: no client certificate is valid", day(ca.Cert.NotAfter)))
		}
		return "", errs.Wrap(errs.Forbidden, err, "the client certificate is not valid: "+err.Error())
	}
	id, err := SupportIDOf(cert)
	if err != nil {
		return "", errs.Wrap(errs.Forbidden, err, err.Error())
	}
	return id, nil
}
