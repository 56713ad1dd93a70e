package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPKIDownloadAndTLSAuto: serve --tls auto answers with a certificate of
// enmei's CA (ca export); cert issue prints a one-time URL where a script
// posts the PKCS#12 password and gets a bundle OpenSSL 3 opens; a refused
// password does not use the link up; a second use is refused; the
// technical contact gets the link by mail (outbox); revoke shows on the
// customer's page.
func TestPKIDownloadAndTLSAuto(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	c := v.contract("el9", 2, "2026-01-01", "2099-12-31")
	ca := v.must("ca", "export")
	if !strings.HasPrefix(ca, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("ca export printed %q", ca)
	}
	if again := v.must("ca", "export"); again != ca {
		t.Error("ca export made a second CA")
	}
	if fi, err := os.Stat(filepath.Join(v.data, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key file: %v, %v", fi, err)
	}
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca)) {
		t.Fatal("ca export is not PEM")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(v.url + "/")
	if err != nil {
		t.Fatalf("HTTPS with the CA from ca export: %v", err)
	}
	resp.Body.Close()

	var issued struct {
		DownloadURL string    `json:"download_url"`
		Serial      string    `json:"serial"`
		NotAfter    time.Time `json:"not_after"`
	}
	v.mustJSON(&issued, "cert", "issue", c.SupportID)
	if !strings.HasPrefix(issued.DownloadURL, v.url+"/cert/download?token=") || issued.NotAfter.Before(time.Now().AddDate(4, 11, 0)) {
		t.Fatalf("cert issue = %+v", issued)
	}
	if r := v.admin("cert", "issue", c.SupportID); r.code != 1 || !strings.Contains(r.stderr, "--replace") {
		t.Errorf("a second issue: exit %d %s", r.code, r.stderr)
	}
	var mails []struct{ To, Subject string }
	v.mustJSON(&mails, "outbox", "list")
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, "クライアント証明書") {
		t.Errorf("outbox = %+v, want the certificate mail", mails)
	}
	token := issued.DownloadURL[strings.Index(issued.DownloadURL, "token=")+6:]
	post := func(pw string) (*http.Response, []byte) {
		resp, err := client.PostForm(v.url+"/cert/download", url.Values{"token": {token}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// The page itself needs no client certificate.
	if resp, err := client.Get(issued.DownloadURL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("download page: %v %v", resp, err)
	}
	for _, bad := range []string{"short1", "has spaces in it!!", "パスワードパスワード12"} {
		if resp, _ := post(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("password %q: %d, want 400", bad, resp.StatusCode)
		}
	}
	const pw = "Abc123Def456Ghi"
	resp, p12 := post(pw)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pkcs12" {
		t.Fatalf("download = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), p12)
	}
	file := filepath.Join(t.TempDir(), "cert.p12")
	must(t, os.WriteFile(file, p12, 0o600))
	out, err := exec.Command("openssl", "pkcs12", "-in", file, "-passin", "pass:"+pw, "-nodes").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	for _, want := range []string{"BEGIN PRIVATE KEY", "CN = " + c.SupportID, "enmei CA"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the PKCS#12 lacks %q", want)
		}
	}
	if resp, _ := post(pw); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second download = %d, want 400", resp.StatusCode)
	}
	var shown struct {
		Certificates []struct {
			Serial     string `json:"serial"`
			Downloaded bool   `json:"downloaded"`
			Revoked    bool   `json:"revoked"`
		} `json:"certificates"`
	}
	v.mustJSON(&shown, "contract", "show", c.SupportID)
	if len(shown.Certificates) != 1 || shown.Certificates[0].Serial != issued.Serial || !shown.Certificates[0].Downloaded {
		t.Errorf("contract show certificates = %+v", shown.Certificates)
	}
	v.must("cert", "revoke", c.SupportID)
	v.mustJSON(&shown, "contract", "show", c.SupportID)
	if !shown.Certificates[0].Revoked {
		t.Error("the certificate is not shown revoked")
	}
	if r := v.admin("cert", "revoke", c.SupportID); r.code != 1 {
		t.Errorf("revoking with none current: exit %d", r.code)
	}
	// The replacement works after a revocation without --replace.
	var again struct{ Serial string }
	v.mustJSON(&again, "cert", "issue", c.SupportID)
	if again.Serial == issued.Serial || again.Serial == "" {
		t.Errorf("new serial %q", again.Serial)
	}
}
