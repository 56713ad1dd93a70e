package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// A browser that holds a client certificate, as a customer's does after
// importing the PKCS#12 file: Chromium on Linux keeps certificates in the
// NSS database under $HOME/.pki/nssdb, so the browser gets a HOME of its
// own with the PKCS#12 imported by the real pk12util, and the server's CA
// trusted by certutil. A headless browser cannot answer the certificate
// prompt, so the enterprise policy AutoSelectCertificateForUrls (a file
// under /etc/chromium/policies/managed, removed afterwards) picks the
// certificate for the server's URL, as an administrator would set it up.

const chromiumPolicyDir = "/etc/chromium/policies/managed"

// newCertBrowser returns a browser that trusts the CA in caPEM and holds
// the client certificate in p12 (none when nil).
func newCertBrowser(t *testing.T, name, serverURL, caPEM string, p12 []byte, password string) *browser {
	t.Helper()
	for _, tool := range []string{"pk12util", "certutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install the Debian package libnss3-tools (apt-get install libnss3-tools)", tool)
		}
	}
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	must(t, os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700))
	caFile, p12File := filepath.Join(home, "ca.pem"), filepath.Join(home, "client.p12")
	must(t, os.WriteFile(caFile, []byte(caPEM), 0o600))
	must(t, os.WriteFile(p12File, p12, 0o600))
	cmds := [][]string{
		{"certutil", "-N", "-d", db, "--empty-password"},
		{"certutil", "-A", "-d", db, "-n", "enmei-ca", "-t", "C,,", "-i", caFile},
	}
	if p12 != nil {
		cmds = append(cmds, []string{"pk12util", "-i", p12File, "-d", db, "-W", password})
	}
	for _, args := range cmds {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if p12 == nil {
		return newBrowserWith(t, name, chromedp.Env("HOME="+home))
	}
	must(t, os.MkdirAll(chromiumPolicyDir, 0o755))
	rule, _ := json.Marshal(map[string]any{"pattern": serverURL, "filter": map[string]any{"ISSUER": map[string]string{"CN": caCommonName(t, caPEM)}}})
	policy, _ := json.Marshal(map[string][]string{"AutoSelectCertificateForUrls": {string(rule)}})
	policyFile := filepath.Join(chromiumPolicyDir, fmt.Sprintf("enmei-e2e-%d-%s.json", os.Getpid(), name))
	must(t, os.WriteFile(policyFile, policy, 0o644))
	t.Cleanup(func() { os.Remove(policyFile) })
	return newBrowserWith(t, name, chromedp.Env("HOME="+home))
}

// download clicks the link with this text inside the element within (an
// XPath) and returns the file the browser saved.
func (b *browser) download(within, text string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	on := true
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on}); err != nil {
		b.fail("allow downloads", err)
	}
	done := make(chan string, 1)
	lctx, lcancel := context.WithCancel(b.ctx)
	defer lcancel()
	if err := chromedp.ListenBrowser(lctx, func(ev any) {
		if p, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && p.State == cdpbrowser.DownloadProgressStateCompleted {
			select {
			case done <- p.GUID:
			default:
			}
		}
	}); err != nil {
		b.fail("listen for downloads", err)
	}
	link := within + linkX(text)
	b.do("click "+text, chromedp.WaitVisible(link), chromedp.Click(link))
	select {
	case guid := <-done:
		data, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			b.fail("read the download", err)
		}
		return data
	case <-time.After(stepTimeout):
		b.fail("download "+text, context.DeadlineExceeded)
	}
	return nil
}

func caCommonName(t *testing.T, caPEM string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(caPEM))
	if block == nil {
		t.Fatal("the CA is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.Subject.CommonName
}
