package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

var now = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// newCA makes a CA for a test.
func newCA(t *testing.T, cn string) *CA {
	t.Helper()
	certPEM, keyPEM, err := NewCA(cn, "Enmei Vendor 株式会社", now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCALoadCARoundTrip(t *testing.T) {
	certPEM, keyPEM, err := NewCA("enmei test CA", "Enmei Vendor", now)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM is not PKCS#8: %q", keyPEM)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.CertPEM(), certPEM) {
		t.Error("CertPEM differs from the PEM loaded")
	}
	c := ca.Cert
	if c.Subject.CommonName != "enmei test CA" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "Enmei Vendor" {
		t.Errorf("subject = %v", c.Subject)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage = %v", c.KeyUsage)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("subject key ID = %x", c.SubjectKeyId)
	}
	if want := now.AddDate(20, 0, 0); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if !c.NotBefore.Before(now) || now.Sub(c.NotBefore) > 10*time.Minute {
		t.Errorf("NotBefore = %v", c.NotBefore)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() < 64 {
		t.Errorf("serial = %v", c.SerialNumber)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key is %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if _, _, err := NewCA(" ", "x", now); !errs.Is(err, errs.Invalid) {
		t.Errorf("empty common name: %v", err)
	}
}

func TestLoadCARefuses(t *testing.T) {
	certA, keyA, err := NewCA("A", "", now)
	if err != nil {
		t.Fatal(err)
	}
	_, keyB, err := NewCA("B", "", now)
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, "C")
	leafKey, _ := NewKey()
	leafDER, err := ca.IssueClient(leafKey.Public(), ClientSubject{"ENM-2026-ABC123", "顧客"}, NewSerial(), now, now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leafKeyPEM, _ := KeyPEM(leafKey)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	for _, tc := range []struct {
		name          string
		cert, key     []byte
		wantSubstring string
	}{
		{"mismatched key", certA, keyB, "does not belong"},
		{"not a CA", CertificatePEM(leafDER), leafKeyPEM, "not a CA certificate"},
		{"encrypted key", certA, encrypted, "encrypted"},
		{"key is a certificate", certA, certA, "not a private key"},
		{"cert not PEM", []byte("hello"), keyA, "not PEM"},
		{"key not PEM", certA, []byte("hello"), "not PEM"},
		{"cert garbage", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), keyA, "cannot be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCA(tc.cert, tc.key)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want errs.Invalid", err)
			}
			if !strings.Contains(err.Error(), tc.wantSubstring) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantSubstring)
			}
		})
	}
	// The pair that belongs together loads, also as SEC1.
	k, err := LoadCA(certA, keyA)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(k.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(certA, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})); err != nil {
		t.Errorf("SEC1 key: %v", err)
	}
}

func TestNewSerial(t *testing.T) {
	seen := map[string]bool{}
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	long := 0
	for range 1000 {
		s := NewSerial()
		if s.Sign() <= 0 || s.Cmp(limit) >= 0 {
			t.Fatalf("serial %v out of range", s)
		}
		if seen[s.String()] {
			t.Fatalf("serial %v repeated", s)
		}
		seen[s.String()] = true
		if s.BitLen() > 120 {
			long++
		}
	}
	if long < 990 { // each has 1-2^-8 chance; a short RNG would fail this
		t.Errorf("only %d of 1000 serials have more than 120 bits", long)
	}
}
