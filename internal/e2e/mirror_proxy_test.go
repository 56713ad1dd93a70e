package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestMirrorSyncProxy: enmeid repo sync reaches the upstream only through
// the real tinyproxy, with Basic proxy authentication from HTTPS_PROXY/
// HTTP_PROXY; a wrong proxy password fails with one sentence and changes
// nothing.
func TestMirrorSyncProxy(t *testing.T) {
	up := newUpstream(t, "")
	up.add(upstreamSpec("distro-base", "1"), "distro")
	addr, logFile := startTinyproxy(t, "proxyuser", "proxypass")
	v := newVendor(t, "")
	v.catalog()
	v.must("repo", "add", "el9-baseos", "--product", "el9", "--arch", "x86_64")

	before := v.must("publication", "list", "el9-baseos")
	v.extra = []string{"HTTPS_PROXY=http://proxyuser:wrong@" + addr, "HTTP_PROXY=http://proxyuser:wrong@" + addr, "NO_PROXY="}
	r := v.admin("repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 || !strings.Contains(r.stderr, "proxy") || strings.Contains(r.stderr, "wrong") {
		t.Errorf("sync with a wrong proxy password: exit %d\n%s", r.code, r.stderr)
	}
	if out := v.must("publication", "list", "el9-baseos"); out != before {
		t.Errorf("the failed sync published:\n%s", out)
	}

	v.extra = []string{"HTTPS_PROXY=http://proxyuser:proxypass@" + addr, "HTTP_PROXY=http://proxyuser:proxypass@" + addr, "NO_PROXY="}
	var rep syncReport
	v.mustJSON(&rep, "repo", "sync", "el9-baseos", "--from", up.url, "--gpgkey", up.pubKey["distro"])
	if rep.Publication == 0 || rep.Downloaded != 1 {
		t.Errorf("sync through the proxy: %+v", rep)
	}
	log, err := os.ReadFile(logFile)
	must(t, err)
	if !strings.Contains(string(log), "distro-base-1.0-1.x86_64.rpm") {
		t.Errorf("the package did not come through the proxy:\n%s", log)
	}
}
