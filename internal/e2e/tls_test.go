package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/aptroot"
)

// testCA writes a CA certificate and a server certificate for 127.0.0.1
// signed by it; it returns the paths of the CA, the server cert and its key.
func testCA(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "enmei test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	must(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	must(t, err)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	must(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	must(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644))
	must(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return ca, cert, key
}

// TestTLS: enmeid serves HTTPS with the operator's certificate; register
// --ca makes the agent and dnf trust it; without --ca registration fails
// with exit 4.
func TestTLS(t *testing.T) {
	ca, cert, key := testCA(t)
	v, c := demoVendor(t, "el9", 3, "--tls", cert+","+key)
	if !strings.HasPrefix(v.url, "https://") {
		t.Fatalf("url %s", v.url)
	}
	h := newHost(t, almaRelease, machineID(600))
	if r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey); r.code != 4 {
		t.Errorf("register over TLS without --ca: exit %d, want 4\n%s", r.code, r.stderr)
	}
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--ca", ca)
	conf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	if !strings.Contains(string(conf), "sslcacert=") || !strings.Contains(string(conf), "baseurl=https://") {
		t.Errorf("enmei.repo lacks sslcacert or https baseurl:\n%s", conf)
	}
	// dnf resolves sslcacert on the real filesystem even with --installroot,
	// like gpgkey: point it into the scratch root.
	caInRoot := sslCACert(string(conf))
	if out, err := h.dnf("--setopt=*.sslcacert="+filepath.Join(h.root, caInRoot), "install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install over TLS: %v\n%s", err, out)
	}
	// apt: the CA goes into Acquire::https::<host>::CaInfo.
	dv := newVendor(t, "")
	dv.catalog()
	debDir, _ := writeDemo(t, "deb")
	dv.must("publish", "deb12-main", debDir)
	dc := dv.contract("deb12", 3, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	dv.serve("--tls", cert+","+key)
	d := newHost(t, debianRelease, machineID(601))
	d.mustEnmei("register", "--server", dv.url, "--key", dc.LicenseKey, "--ca", ca)
	aptConf, err := os.ReadFile(filepath.Join(d.root, "etc/apt/apt.conf.d/80enmei"))
	must(t, err)
	if !strings.Contains(string(aptConf), `Acquire::https::127.0.0.1::CaInfo "/etc/enmei/ca.pem";`) {
		t.Errorf("80enmei lacks CaInfo:\n%s", aptConf)
	}
	apt := aptroot.New(t, d.root)
	if out, err := apt.AptGet(context.Background(), "update"); err != nil {
		t.Fatalf("apt-get update over TLS: %v\n%s", err, out)
	}
	if _, err := apt.Download(context.Background(), "enmei-demo-hello"); err != nil {
		t.Errorf("apt-get download over TLS: %v", err)
	}
	// Without the CA, apt refuses the server.
	must(t, os.Remove(filepath.Join(d.root, "etc/apt/apt.conf.d/80enmei")))
	if out, err := aptroot.New(t, d.root).AptGet(context.Background(), "update"); err == nil {
		t.Errorf("apt-get update trusted a private CA it was not given:\n%s", out)
	}

	if r := v.admin("serve", "--tls", "/nonexistent.pem,/nonexistent.key", "--addr", freePort(t)); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("serve with missing certificate files: exit %d, %q", r.code, r.stderr)
	}
}

func sslCACert(conf string) string {
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(line, "sslcacert=") {
			return strings.TrimPrefix(line, "sslcacert=")
		}
	}
	return ""
}
