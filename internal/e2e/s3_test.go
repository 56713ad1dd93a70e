package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/s3test"
)

// TestS3Blobs: enmeid keeps its blobs in a real S3 server (versitygw); the
// real dnf installs from it; with S3 down, repository requests fail fast
// with 5xx, /readyz says so and /healthz does not; serving resumes by
// itself when S3 is back.
func TestS3Blobs(t *testing.T) {
	s3 := s3test.Start(t)
	v := newVendor(t, "")
	v.extra = append(v.extra, s3.Env()...)
	v.extra = append(v.extra, "ENMEI_BLOBS="+s3.URL("vendor-a"))
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve()

	h := newHost(t, almaRelease, machineID(700))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install from S3-backed repositories: %v\n%s", err, out)
	}
	id := h.identity()
	repomd := v.url + "/repos/el9-x86_64/repodata/repomd.xml"
	if resp, _ := get(t, "GET", repomd, id.HostID, id.Secret, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("repomd.xml: %d", resp.StatusCode)
	}

	s3.Stop()
	start := time.Now()
	resp, body := get(t, "GET", repomd, id.HostID, id.Secret, nil)
	if resp.StatusCode < 500 || time.Since(start) > 15*time.Second {
		t.Errorf("repomd.xml with S3 down: %d after %v, want 5xx within seconds\n%s", resp.StatusCode, time.Since(start), body)
	}
	if resp, body := get(t, "GET", v.url+"/readyz", "", "", nil); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "blobs") {
		t.Errorf("/readyz with S3 down: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, "GET", v.url+"/healthz", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with S3 down: %d", resp.StatusCode)
	}
	if r := v.admin("publish", "el9-x86_64", dir); r.code == 0 {
		t.Errorf("publish with S3 down succeeded")
	}

	s3.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := get(t, "GET", repomd, id.HostID, id.Secret, nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serving did not resume after S3 came back: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp, _ := get(t, "GET", v.url+"/readyz", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz after S3 came back: %d", resp.StatusCode)
	}
	if out, err := h.dnf("reinstall", "enmei-demo-hello", "--setopt=keepcache=0"); err != nil {
		t.Fatalf("dnf after S3 came back: %v\n%s", err, out)
	}
}

// TestNoMigrate: serve --no-migrate refuses a database enmeid migrate has
// not brought up to date, and starts on one it has.
func TestNoMigrate(t *testing.T) {
	v := newVendor(t, "")
	r := run(t, append(cleanEnv(), v.env()...), bin.enmeid, "serve", "--no-migrate", "--addr", freePort(t))
	if r.code != 1 || !strings.Contains(r.stderr, "enmeid migrate") {
		t.Fatalf("serve --no-migrate on a new database: exit %d\n%s", r.code, r.stderr)
	}
	v.must("migrate")
	v.serve("--no-migrate")
	if resp, _ := get(t, "GET", v.url+"/readyz", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %d", resp.StatusCode)
	}
}
