package e2e

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// TestAgentKeys: the agent's trust and multi-key handling against the real
// enmeid and dnf: a wrong --fingerprint takes no seat and writes nothing;
// one host registers two keys of one contract and dnf sees the
// repositories of both; unregister --product returns only that seat.
func TestAgentKeys(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	v.must("product", "add", "php81", "--name", "PHP 8.1 ELS", "--format", "rpm")
	v.must("repo", "add", "php81-x86_64", "--product", "php81", "--arch", "x86_64")
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9,php81", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	el9Key, phpKey := c.LicenseKeys["el9"], c.LicenseKeys["php81"]
	if el9Key == "" || phpKey == "" {
		t.Fatalf("contract add gave keys %v, want one for el9 and one for php81", c.LicenseKeys)
	}
	v.serve()
	fpr := serverFingerprint(t, v.url)

	type shown struct {
		SeatsUsed  int `json:"seats_used"`
		PerProduct []struct {
			Product   string `json:"product"`
			SeatsUsed int    `json:"seats_used"`
		} `json:"per_product"`
		Hosts []struct {
			HostID  string `json:"host_id"`
			Product string `json:"product"`
		} `json:"hosts"`
	}
	show := func() shown {
		t.Helper()
		var s shown
		v.mustJSON(&s, "contract", "show", c.SupportID)
		return s
	}

	t.Run("fingerprint mismatch", func(t *testing.T) {
		h := newHost(t, almaRelease, machineID(1300))
		before := rootFiles(t, h.root)
		wrong := strings.Repeat("0123", 10)
		r := h.enmei("register", "--server", v.url, "--key", el9Key, "--fingerprint", wrong)
		if r.code != 3 || !strings.Contains(r.stderr, "fingerprint") || !strings.Contains(r.stderr, "took no seat") {
			t.Errorf("exit %d %q; want 3 saying the fingerprint differs and no seat was taken", r.code, r.stderr)
		}
		if after := rootFiles(t, h.root); !slices.Equal(before, after) {
			t.Errorf("files before %v, after %v: want nothing written", before, after)
		}
		if s := show(); s.SeatsUsed != 0 {
			t.Errorf("contract show: %d seats used, want 0", s.SeatsUsed)
		}
	})

	t.Run("two keys on one host", func(t *testing.T) {
		h := newHost(t, almaRelease, machineID(1301))
		keyFile := filepath.Join(t.TempDir(), "key")
		must(t, os.WriteFile(keyFile, []byte(el9Key+"\n"), 0o600))
		out := h.mustEnmei("register", "--server", v.url, "--key-file", keyFile, "--fingerprint", strings.ToLower(fpr))
		if !strings.Contains(out, "Signing key fingerprint: "+fpr[:4]+" ") {
			t.Errorf("register does not print the fingerprint:\n%s", out)
		}
		h.env = []string{"ENMEI_KEY=" + phpKey}
		out = h.mustEnmei("register", "--server", v.url)
		if !strings.Contains(out, "Also registered on this host: "+c.SupportID+" (el9)") {
			t.Errorf("the second register does not name the first:\n%s", out)
		}
		h.env = nil
		s := show()
		var products []string
		for _, x := range s.Hosts {
			products = append(products, x.Product)
		}
		sort.Strings(products)
		perProduct := map[string]int{}
		for _, pp := range s.PerProduct {
			perProduct[pp.Product] = pp.SeatsUsed
		}
		// seats_used is the largest per-product figure: one seat on each key.
		if s.SeatsUsed != 1 || perProduct["el9"] != 1 || perProduct["php81"] != 1 || !slices.Equal(products, []string{"el9", "php81"}) {
			t.Fatalf("contract show: %d seats for %v, want one each for el9 and php81", s.SeatsUsed, products)
		}

		repos := dnfRepos(t, h)
		if !slices.Equal(repos, []string{"enmei-el9-x86_64", "enmei-php81-x86_64"}) {
			t.Errorf("dnf sees %v, want both products' repositories", repos)
		}
		if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
			t.Fatalf("dnf install with two registrations: %v\n%s", err, out)
		}

		var st struct {
			Registrations []struct {
				Product string `json:"product"`
				HostID  string `json:"host_id"`
			} `json:"registrations"`
		}
		r := h.enmei("status", "--json")
		if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || len(st.Registrations) != 2 {
			t.Errorf("status --json: exit %d, %v, %s", r.code, err, r.stdout)
		}

		h.mustEnmei("unregister", "--product", "php81")
		s = show()
		if s.SeatsUsed != 1 || s.Hosts[0].Product != "el9" {
			t.Errorf("after unregister --product php81: %+v, want only the el9 seat", s)
		}
		if repos := dnfRepos(t, h); !slices.Equal(repos, []string{"enmei-el9-x86_64"}) {
			t.Errorf("after unregister --product php81 dnf sees %v", repos)
		}
		if out, err := h.dnf("--refresh", "reinstall", "enmei-demo-hello"); err != nil {
			t.Errorf("dnf with the remaining registration: %v\n%s", err, out)
		}

		h.mustEnmei("unregister")
		if s := show(); s.SeatsUsed != 0 {
			t.Errorf("after unregister: %d seats used, want 0", s.SeatsUsed)
		}
		for _, p := range []string{"etc/yum.repos.d/enmei.repo", "etc/enmei/host.json", "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"} {
			if _, err := os.Stat(filepath.Join(h.root, p)); err == nil {
				t.Errorf("unregister left %s", p)
			}
		}
	})
}

// serverFingerprint is the fingerprint of the key enmeid serves.
func serverFingerprint(t *testing.T, url string) string {
	t.Helper()
	resp, body := get(t, "GET", url+"/api/v1/signing-key", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/signing-key: %s", resp.Status)
	}
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(string(body)))
	if err != nil || len(el) != 1 {
		t.Fatalf("the served signing key: %v (%d keys)", err, len(el))
	}
	return strings.ToUpper(hex.EncodeToString(el[0].PrimaryKey.Fingerprint))
}

// dnfRepos is what the real dnf lists as enabled repositories after
// fetching their metadata with the credentials enmei wrote.
func dnfRepos(t *testing.T, h *host) []string {
	t.Helper()
	out, err := h.dnf("--refresh", "--setopt=skip_if_unavailable=0", "makecache")
	if err != nil {
		t.Fatalf("dnf makecache: %v\n%s", err, out)
	}
	out, err = h.dnf("repolist", "--enabled")
	if err != nil {
		t.Fatalf("dnf repolist: %v\n%s", err, out)
	}
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "enmei-") {
			ids = append(ids, f[0])
		}
	}
	sort.Strings(ids)
	return ids
}

// rootFiles lists the regular files under root but the agent's lock file,
// which stays once made.
func rootFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "var/lib/enmei/lock" {
			out = append(out, rel)
		}
		return nil
	})
	must(t, err)
	sort.Strings(out)
	return out
}
