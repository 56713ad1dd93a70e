package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRegisterTLSAuto: against enmeid serve --tls auto (a server
// certificate of enmei's own CA), register without --ca and with another
// CA fails with exit 4, saying the certificate is not trusted and to pass
// --ca, and takes no seat and writes nothing; with --ca FILE (from enmeid
// ca export) it registers an AlmaLinux 9 root, the real dnf installs a
// package over HTTPS with the sslcacert the repo file names, and enmei
// status reports the registration.
func TestRegisterTLSAuto(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 3, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	ca := v.must("ca", "export")
	caFile := filepath.Join(t.TempDir(), "enmei-ca.pem")
	must(t, os.WriteFile(caFile, []byte(ca), 0o644))
	v.serve("--tls", "auto")
	if !strings.HasPrefix(v.url, "https://") {
		t.Fatalf("url %s", v.url)
	}
	seats := func() int {
		t.Helper()
		var s struct {
			SeatsUsed int `json:"seats_used"`
		}
		v.mustJSON(&s, "contract", "show", c.SupportID)
		return s.SeatsUsed
	}

	h := newHost(t, almaRelease, machineID(610))
	before := rootFiles(t, h.root)
	otherCA, _, _ := testCA(t)
	for _, extra := range [][]string{nil, {"--ca", otherCA}} {
		r := h.enmei(append([]string{"register", "--server", v.url, "--key", c.LicenseKey}, extra...)...)
		if r.code != 4 || !strings.Contains(r.stderr, "not trusted") || !strings.Contains(r.stderr, "--ca") {
			t.Errorf("register %v: exit %d %q; want 4 saying the certificate is not trusted and to pass --ca", extra, r.code, r.stderr)
		}
	}
	if after := rootFiles(t, h.root); !slices.Equal(before, after) {
		t.Errorf("files before %v, after %v: want nothing written", before, after)
	}
	if n := seats(); n != 0 {
		t.Errorf("%d seats used after refused registrations, want 0", n)
	}

	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--ca", caFile)
	if n := seats(); n != 1 {
		t.Errorf("%d seats used, want 1", n)
	}
	if got, err := os.ReadFile(filepath.Join(h.root, "etc/enmei/ca.pem")); err != nil || string(got) != ca {
		t.Errorf("etc/enmei/ca.pem is not the CA given: %v", err)
	}
	conf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
	must(t, err)
	for _, want := range []string{"baseurl=" + v.url + "/repos/el9-x86_64/", "sslcacert=/etc/enmei/ca.pem"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("enmei.repo lacks %q:\n%s", want, conf)
		}
	}
	// dnf reads sslcacert on the real filesystem even with --installroot
	// (like gpgkey): point it into the scratch root.
	if out, err := h.dnf("--setopt=*.sslcacert="+filepath.Join(h.root, sslCACert(string(conf))), "install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install over HTTPS: %v\n%s", err, out)
	}
	if got := h.rpmQuery("enmei-demo-hello"); !strings.HasSuffix(got, "1.0-1") {
		t.Errorf("enmei-demo-hello = %q, want 1.0-1", got)
	}
	if got := h.rpmQuery("enmei-demo-lib"); got != "1:1.0-1" {
		t.Errorf("enmei-demo-lib = %q, want 1:1.0-1", got)
	}

	r := h.enmei("status")
	if r.code != 0 || !strings.Contains(r.stdout, "Server:       "+v.url) || !strings.Contains(r.stdout, c.SupportID) ||
		!strings.Contains(r.stdout, "valid now") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = h.enmei("--json", "status")
	var st struct {
		Server   string `json:"server"`
		Contract struct {
			Valid     bool `json:"valid"`
			SeatsUsed int  `json:"seats_used"`
		} `json:"contract"`
		Registrations []struct {
			Error string `json:"error"`
		} `json:"registrations"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || st.Server != v.url || !st.Contract.Valid ||
		st.Contract.SeatsUsed != 1 || len(st.Registrations) != 1 || st.Registrations[0].Error != "" {
		t.Errorf("status --json: exit %d %+v\n%s%s", r.code, st, r.stdout, r.stderr)
	}
}
