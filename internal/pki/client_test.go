package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

const customerJA = "株式会社テスト商事"

// issueClient issues a contract certificate valid at now for a test.
func issueClient(t *testing.T, ca *CA, id string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	nb, na := ClientValidity(now)
	der, err := ca.IssueClient(key.Public(), ClientSubject{SupportID: id, Customer: customerJA}, NewSerial(), nb, na)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// signWith signs an arbitrary template with the CA, for certificates
// IssueClient would never make.
func signWith(t *testing.T, ca *CA, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	key, _ := NewKey()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = NewSerial()
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = ClientValidity(now)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientValidity(t *testing.T) {
	first := time.Date(2026, 4, 1, 18, 30, 15, 999, time.FixedZone("JST", 9*3600))
	nb, na := ClientValidity(first)
	if want := time.Date(2026, 4, 1, 9, 25, 15, 0, time.UTC); !nb.Equal(want) || nb.Location() != time.UTC {
		t.Errorf("notBefore = %v, want %v", nb, want)
	}
	if want := time.Date(2031, 4, 1, 9, 30, 15, 0, time.UTC); !na.Equal(want) {
		t.Errorf("notAfter = %v, want %v", na, want)
	}
}

func TestIssueClient(t *testing.T) {
	ca := newCA(t, "enmei CA")
	key, cert := issueClient(t, ca, "ENM-2026-ABC123")

	// The standard library verifies it for client authentication...
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.ClientAuthPool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("verify for client auth: %v", err)
	}
	// ...and not for server authentication.
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.ClientAuthPool(), CurrentTime: now}); err == nil {
		t.Error("a client certificate verified for server authentication")
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(cert.UnknownExtKeyUsage) != 0 {
		t.Errorf("ext key usage = %v %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if cert.IsCA {
		t.Error("client certificate is a CA")
	}
	if !bytes.Equal(cert.AuthorityKeyId, ca.Cert.SubjectKeyId) {
		t.Errorf("authority key ID %x, CA's subject key ID %x", cert.AuthorityKeyId, ca.Cert.SubjectKeyId)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Error("certificate is not for the key")
	}
	if cert.Subject.CommonName != "ENM-2026-ABC123" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if !slices.Equal(cert.Subject.Organization, []string{customerJA}) {
		t.Errorf("O = %q", cert.Subject.Organization)
	}
	// The Japanese name is a UTF8String in the DER, not mangled.
	var subject pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &subject); err != nil {
		t.Fatal(err)
	}
	var utf8O bool
	for _, rdn := range subject {
		for _, atv := range rdn {
			if atv.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 10}) {
				utf8O = bytes.Contains(cert.RawSubject, append([]byte{asn1.TagUTF8String, byte(len(customerJA))}, customerJA...))
			}
		}
	}
	if !utf8O {
		t.Errorf("O is not the UTF8String %q in %x", customerJA, cert.RawSubject)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "urn:enmei:support-id:ENM-2026-ABC123" {
		t.Errorf("URIs = %v", cert.URIs)
	}
	if id, err := SupportIDOf(cert); err != nil || id != "ENM-2026-ABC123" {
		t.Errorf("SupportIDOf = %q, %v", id, err)
	}
	if !cert.NotAfter.Equal(now.AddDate(5, 0, 0)) {
		t.Errorf("NotAfter = %v", cert.NotAfter)
	}
}

func TestIssueClientRefuses(t *testing.T) {
	ca := newCA(t, "enmei CA")
	key, _ := NewKey()
	nb, na := ClientValidity(now)
	ok := ClientSubject{"ENM-2026-ABC123", customerJA}
	for _, tc := range []struct {
		name   string
		s      ClientSubject
		serial func() *big.Int
		nb, na time.Time
		want   string
	}{
		{"bad support ID", ClientSubject{"enm-2026-abc123", customerJA}, nil, nb, na, "not a support ID"},
		{"no customer", ClientSubject{"ENM-2026-ABC123", " "}, nil, nb, na, "customer"},
		{"ends before it starts", ok, nil, na, nb, "before it starts"},
		{"outlives the CA", ok, nil, nb, now.AddDate(21, 0, 0), "outlive the CA"},
		{"zero serial", ok, func() *big.Int { return new(big.Int) }, nb, na, "serial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial := NewSerial()
			if tc.serial != nil {
				serial = tc.serial()
			}
			_, err := ca.IssueClient(key.Public(), tc.s, serial, tc.nb, tc.na)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want errs.Invalid containing %q", err, tc.want)
			}
		})
	}
}

func TestSupportIDOf(t *testing.T) {
	ca := newCA(t, "enmei CA")
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name string
		cn   string
		uris []string
		want string // "" for an error
	}{
		{"URI and CN", "ENM-2026-ABC123", []string{"urn:enmei:support-id:ENM-2026-ABC123"}, "ENM-2026-ABC123"},
		{"URI wins over a non-ID CN", "some host", []string{"urn:enmei:support-id:ENM-2026-ABC123"}, "ENM-2026-ABC123"},
		{"URI case-insensitive prefix", "", []string{"URN:Enmei:Support-ID:ENM-2026-ABC123"}, "ENM-2026-ABC123"},
		{"other URIs ignored", "", []string{"https://example.jp/", "urn:enmei:support-id:ENM-2026-ABC123"}, "ENM-2026-ABC123"},
		{"CN fallback", "ENM-2026-ZZZ999", nil, "ENM-2026-ZZZ999"},
		{"nothing", "hello", nil, ""},
		{"bad URI ID", "ENM-2026-ABC123", []string{"urn:enmei:support-id:ENM-2026-abc123"}, ""},
		{"URI and CN differ", "ENM-2026-ABC123", []string{"urn:enmei:support-id:ENM-2026-ABC124"}, ""},
		{"two URIs differ", "", []string{"urn:enmei:support-id:ENM-2026-ABC123", "urn:enmei:support-id:ENM-2026-ABC124"}, ""},
		{"CN lower case", "enm-2026-abc123", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: tc.cn}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
			for _, s := range tc.uris {
				tmpl.URIs = append(tmpl.URIs, uri(s))
			}
			id, err := SupportIDOf(signWith(t, ca, tmpl))
			switch {
			case tc.want == "" && !errs.Is(err, errs.Invalid):
				t.Errorf("SupportIDOf = %q, %v; want errs.Invalid", id, err)
			case tc.want != "" && (err != nil || id != tc.want):
				t.Errorf("SupportIDOf = %q, %v; want %q", id, err, tc.want)
			}
		})
	}
}

func TestVerifyClient(t *testing.T) {
	ca := newCA(t, "enmei CA")
	other := newCA(t, "enmei CA") // same name, different key
	_, good := issueClient(t, ca, "ENM-2026-ABC123")

	if id, err := ca.VerifyClient(good, now); err != nil || id != "ENM-2026-ABC123" {
		t.Fatalf("VerifyClient = %q, %v", id, err)
	}
	if id, err := ca.VerifyClient(good, now.AddDate(4, 11, 0)); err != nil || id != "ENM-2026-ABC123" {
		t.Fatalf("VerifyClient near the end = %q, %v", id, err)
	}

	_, foreign := issueClient(t, other, "ENM-2026-ABC123")
	server, err := ca.IssueServer([]string{"repo.example.jp"}, now)
	if err != nil {
		t.Fatal(err)
	}
	expired := signWith(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "ENM-2026-ABC123"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   now.AddDate(-5, 0, 0),
		NotAfter:    time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC),
	})
	noUsage := signWith(t, ca, &x509.Certificate{Subject: pkix.Name{CommonName: "ENM-2026-ABC123"}})
	noID := signWith(t, ca, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		at   time.Time
		want string
	}{
		{"another CA", foreign, now, "was not issued by this server's CA"},
		{"expired", expired, now, "the client certificate expired on 2026-03-31 23:59 UTC"},
		{"expired by time", good, now.AddDate(5, 0, 1), "the client certificate expired on 2031-04-01 09:00 UTC"},
		{"not yet valid", good, now.Add(-time.Hour), "not valid before 2026-04-01 08:55 UTC"},
		{"server certificate", server.Leaf, now, "not a client certificate"},
		{"no usage", noUsage, now, "not a client certificate"},
		{"the CA itself", ca.Cert, now, "not a client certificate"},
		{"no support ID", noID, now, "names no support ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ca.VerifyClient(tc.cert, tc.at)
			if !errs.Is(err, errs.Forbidden) {
				t.Fatalf("VerifyClient = %q, %v; want errs.Forbidden", id, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := ca.VerifyClient(nil, now); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("no certificate: %v, want errs.Unauthorized", err)
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"abcdefghijkl", true},
		{"Passw0rdPassw0rd", true},
		{"012345678901", true},
		{strings.Repeat("aB3", 42) + "xy", true}, // 128
		{"pass word", false},
		{"パスワード12345", false},
		{"abc!defgh", false},
		{"abcdefghijk", false}, // 11
		{"", false},
		{strings.Repeat("a", 129), false},
		{"abcdefgh\n", false},
		{"ａｂｃｄｅｆｇｈ", false}, // full-width letters
		{"abcdéfgh", false},
	} {
		err := CheckPassword(tc.pw)
		if tc.ok && err != nil {
			t.Errorf("CheckPassword(%q) = %v, want nil", tc.pw, err)
		}
		if !tc.ok {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("CheckPassword(%q) = %v, want errs.Invalid", tc.pw, err)
			} else if tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("CheckPassword(%q) repeats the password: %v", tc.pw, err)
			}
		}
	}
}
