package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/enmei-project/enmei/internal/errs"
)

const p12Password = "Kr7mQ2xTz9pW"

func TestPKCS12Decode(t *testing.T) {
	ca := newCA(t, "enmei CA")
	key, cert := issueClient(t, ca, "ENM-2026-ABC123")
	p12, err := PKCS12(key, cert.Raw, ca.Cert, p12Password)
	if err != nil {
		t.Fatal(err)
	}
	gotKey, gotCert, gotCAs, err := pkcs12.DecodeChain(p12, p12Password)
	if err != nil {
		t.Fatal(err)
	}
	if !gotCert.Equal(cert) {
		t.Error("the bundle's certificate is not the one issued")
	}
	if len(gotCAs) != 1 || !gotCAs[0].Equal(ca.Cert) {
		t.Errorf("the bundle's CA chain has %d certificates, not the CA", len(gotCAs))
	}
	if k, ok := gotKey.(crypto.Signer); !ok || !samePublicKey(k.Public(), key.Public()) {
		t.Errorf("the bundle's key (%T) is not the client key", gotKey)
	}
	if _, _, _, err := pkcs12.DecodeChain(p12, "Wrong0000"); err == nil {
		t.Error("decoded with a wrong password")
	}
}

func TestPKCS12Refuses(t *testing.T) {
	ca := newCA(t, "enmei CA")
	other := newCA(t, "other CA")
	key, cert := issueClient(t, ca, "ENM-2026-ABC123")
	otherKey, _ := NewKey()
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"bad password", func() error { _, err := PKCS12(key, cert.Raw, ca.Cert, "pass word"); return err }, "may contain only"},
		{"short password", func() error { _, err := PKCS12(key, cert.Raw, ca.Cert, "abc"); return err }, "12 to 128"},
		{"wrong key", func() error { _, err := PKCS12(otherKey, cert.Raw, ca.Cert, p12Password); return err }, "does not belong"},
		{"wrong CA", func() error { _, err := PKCS12(key, cert.Raw, other.Cert, p12Password); return err }, "not issued by"},
		{"no CA", func() error { _, err := PKCS12(key, cert.Raw, nil, p12Password); return err }, "needs the CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want errs.Invalid containing %q", err, tc.want)
			}
		})
	}
}

// opensslEscaped is how OpenSSL's default name format prints a UTF-8
// string: every byte above 0x7f as \XX.
func opensslEscaped(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%02X", c)
		}
	}
	return b.String()
}

func openssl(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	path, lookErr := exec.LookPath("openssl")
	if lookErr != nil {
		t.Fatal("install openssl: the PKCS#12 bundles are checked against the real OpenSSL")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestPKCS12OpenSSL opens the bundle with the real OpenSSL 3, as a customer
// would.
func TestPKCS12OpenSSL(t *testing.T) {
	ca := newCA(t, "enmei CA")
	key, cert := issueClient(t, ca, "ENM-2026-ABC123")
	p12, err := PKCS12(key, cert.Raw, ca.Cert, p12Password)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "ENM-2026-ABC123.p12")
	if err := os.WriteFile(file, p12, 0o600); err != nil {
		t.Fatal(err)
	}

	out, info, err := openssl(t, nil, "pkcs12", "-in", file, "-passin", "pass:"+p12Password, "-nodes", "-info")
	if err != nil {
		t.Fatalf("openssl pkcs12 refused the bundle: %v\n%s", err, info)
	}
	for _, want := range []string{
		"subject=O = " + opensslEscaped(customerJA) + ", CN = ENM-2026-ABC123",
		"subject=O = " + opensslEscaped("Enmei Vendor 株式会社") + ", CN = enmei CA",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(info, "PBES2") || !strings.Contains(info, "AES-256-CBC") || !strings.Contains(info, "MAC: sha256") {
		t.Errorf("the bundle is not Modern2023 (PBES2, AES-256-CBC, SHA-256 MAC):\n%s", info)
	}

	// What OpenSSL extracted is exactly the key, the certificate and the CA.
	var certs [][]byte
	var gotKey any
	for rest := []byte(out); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			certs = append(certs, b.Bytes)
		case "PRIVATE KEY":
			if gotKey, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(certs) != 2 || !bytes.Equal(certs[0], cert.Raw) || !bytes.Equal(certs[1], ca.Cert.Raw) {
		t.Errorf("openssl extracted %d certificates, want the client's then the CA's", len(certs))
	}
	if k, ok := gotKey.(crypto.Signer); !ok || !samePublicKey(k.Public(), key.Public()) {
		t.Errorf("openssl extracted the key %T, not the client key", gotKey)
	}

	// OpenSSL reads the Japanese organization back as UTF-8.
	subj, _, err := openssl(t, CertificatePEM(cert.Raw), "x509", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb")
	if err != nil || strings.TrimSpace(subj) != "subject=CN=ENM-2026-ABC123,O="+customerJA {
		t.Errorf("openssl x509 -subject = %q, %v", subj, err)
	}

	// OpenSSL verifies the certificate for TLS client authentication with
	// the bundle's CA, and not for server authentication.
	caFile := filepath.Join(dir, "ca.pem")
	certFile := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, CertificatePEM(cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	at := strconv.FormatInt(now.Unix(), 10)
	if o, e, err := openssl(t, nil, "verify", "-CAfile", caFile, "-purpose", "sslclient", "-attime", at, certFile); err != nil {
		t.Errorf("openssl verify -purpose sslclient: %v\n%s%s", err, o, e)
	}
	if _, _, err := openssl(t, nil, "verify", "-CAfile", caFile, "-purpose", "sslserver", "-attime", at, certFile); err == nil {
		t.Error("openssl verified the client certificate for a server")
	}

	// A wrong password fails.
	if o, e, err := openssl(t, nil, "pkcs12", "-in", file, "-passin", "pass:Wrong0000", "-noout"); err == nil {
		t.Errorf("openssl opened the bundle with a wrong password:\n%s%s", o, e)
	}
}
