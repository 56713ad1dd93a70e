package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/enmei-project/enmei/internal/pki"
)

// downloadCert issues the contract's certificate and downloads it the way a
// script does, returning it ready for a TLS client.
func (v *vendor) downloadCert(t *testing.T, pool *x509.CertPool, supportID string, args ...string) tls.Certificate {
	t.Helper()
	p12 := v.downloadP12(t, pool, supportID, args...)
	key, cert, _, err := pkcs12.DecodeChain(p12, p12Password)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

const p12Password = "Abc123Def456Ghi"

// downloadP12 issues the contract's certificate and downloads the PKCS#12.
func (v *vendor) downloadP12(t *testing.T, pool *x509.CertPool, supportID string, args ...string) []byte {
	t.Helper()
	var issued struct {
		DownloadURL string `json:"download_url"`
	}
	v.mustJSON(&issued, append([]string{"cert", "issue", supportID}, args...)...)
	token := issued.DownloadURL[strings.Index(issued.DownloadURL, "token=")+6:]
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.PostForm(v.url+"/cert/download", url.Values{"token": {token}, "password": {p12Password}})
	if err != nil {
		t.Fatal(err)
	}
	p12, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download = %d: %s", resp.StatusCode, p12)
	}
	return p12
}

// TestSBOMOverMutualTLS: the SBOM API answers a host holding the
// contract's certificate, one package or a batch, and refuses no
// certificate, another CA's, a revoked one and an ended contract — which
// works again once renewed, with the same certificate.
func TestSBOMOverMutualTLS(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 2, "2026-01-01", "2099-12-31")
	ca := v.must("ca", "export")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca))
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	cert := v.downloadCert(t, pool, c.SupportID)

	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
	}
	get := func(cl *http.Client, path string) (int, []byte) {
		t.Helper()
		resp, err := cl.Get(v.url + path)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	const hello = "/api/v1/sbom/packages/enmei-demo-hello/1.0-1/x86_64"
	code, body := get(client(cert), hello+"?format=spdx-json")
	if code != 200 {
		t.Fatalf("SBOM = %d: %s", code, body)
	}
	for _, want := range []string{`"SPDX-2.3"`, "DEPENDS_ON", "enmei-demo-lib", "epoch=1", "Organization:"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the hello SBOM lacks %q", want)
		}
	}
	code, body = get(client(cert), hello+"?format=cyclonedx-xml")
	if code != 200 || !bytes.Contains(body, []byte(`xmlns="http://cyclonedx.org/schema/bom/1.6"`)) {
		t.Errorf("CycloneDX XML = %d: %.200s", code, body)
	}
	if code, body := get(client(cert), "/api/v1/sbom/packages/nope/1-1/x86_64"); code != 404 {
		t.Errorf("unknown package = %d: %s", code, body)
	}

	batch := func(cl *http.Client) (int, []byte) {
		req, _ := json.Marshal(map[string]any{"format": "cyclonedx-json", "packages": []map[string]string{
			{"name": "enmei-demo-hello", "evr": "1.0-1", "arch": "x86_64"},
			{"name": "enmei-demo-lib", "evr": "1:1.0-1", "arch": "x86_64"},
			{"name": "bash", "evr": "5.1.8-9.el9", "arch": "x86_64"}}})
		resp, err := cl.Post(v.url+"/api/v1/sbom/batch", "application/json", bytes.NewReader(req))
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body = batch(client(cert))
	var br struct {
		SBOMs []struct {
			Name, Document string
		}
		Missing []struct{ Name string }
	}
	json.Unmarshal(body, &br)
	if code != 200 || len(br.SBOMs) != 2 || len(br.Missing) != 1 || br.Missing[0].Name != "bash" || !strings.Contains(br.SBOMs[0].Document, `"bomFormat": "CycloneDX"`) {
		t.Fatalf("batch = %d: %.400s", code, body)
	}

	// No certificate: 401. Another CA's: the handshake fails.
	if code, body := get(client(), hello); code != 401 {
		t.Errorf("no certificate = %d: %s", code, body)
	}
	otherCAPEM, otherKey, err := pki.NewCA("other CA", "other", time.Now())
	must(t, err)
	other, err := pki.LoadCA(otherCAPEM, otherKey)
	must(t, err)
	key, _ := pki.NewKey()
	nb, na := pki.ClientValidity(time.Now())
	der, err := other.IssueClient(key.Public(), pki.ClientSubject{SupportID: c.SupportID, Customer: "x"}, pki.NewSerial(), nb, na)
	must(t, err)
	// Go's client would withhold a certificate of a CA the server does not
	// name; a client that sends it anyway fails the handshake.
	foreign := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	pushy := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }}}}
	if code, body := get(pushy, hello); code != 0 || !strings.Contains(string(body), "tls") {
		t.Errorf("another CA's certificate = %d %s, want a failed handshake", code, body)
	}

	// An ended contract is refused although the certificate is valid;
	// renewed, the same certificate works.
	v.must("contract", "renew", c.SupportID, "--end", date(today().AddDate(0, 0, -1)))
	if code, body := get(client(cert), hello); code != 403 || !strings.Contains(string(body), "expired") {
		t.Errorf("ended contract = %d: %s", code, body)
	}
	v.must("contract", "renew", c.SupportID, "--end", "2099-12-31")
	if code, body := get(client(cert), hello); code != 200 {
		t.Errorf("renewed contract = %d: %.200s", code, body)
	}
	v.must("cert", "revoke", c.SupportID, "--reason", "key lost")
	if code, body := get(client(cert), hello); code != 403 || !strings.Contains(string(body), "revoked") || !strings.Contains(string(body), "key lost") {
		t.Errorf("revoked = %d: %s", code, body)
	}
	// The replacement works.
	fresh := v.downloadCert(t, pool, c.SupportID)
	if code, _ := get(client(fresh), hello); code != 200 {
		t.Errorf("replacement = %d", code)
	}
}
