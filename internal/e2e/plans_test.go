package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// virtHost is a host whose systemd-detect-virt answers virt.
func virtHost(t *testing.T, i int, virt string) *host {
	h := newHost(t, almaRelease, machineID(i))
	script := filepath.Join(t.TempDir(), "detect-virt")
	code := 0
	if virt == "none" {
		code = 1 // as systemd-detect-virt exits on bare metal
	}
	must(t, os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\necho %s\nexit %d\n", virt, code)), 0o755))
	h.env = append(h.env, "ENMEI_DETECT_VIRT="+script)
	return h
}

// TestAlmaLinuxPlans: physical, virtual and platform subscriptions as the
// AlmaLinux support menu sells them, and contracts made from a quote.
func TestAlmaLinuxPlans(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	now := today()
	start, end := date(now.AddDate(0, -1, 0)), date(now.AddDate(1, 0, 0))
	add := func(plan string, qty int, extra ...string) contractOut {
		var c contractOut
		v.mustJSON(&c, append([]string{"contract", "add", "--customer", "株式会社テスト", "--product", "el9", "--plan", plan,
			"--quantity", fmt.Sprint(qty), "--start", start, "--end", end, "--contact", "ops@example.co.jp"}, extra...)...)
		return c
	}
	virtual, platform := add("virtual", 2), add("platform", 1)
	v.serve()

	// A virtual seat refuses bare metal and takes a VM.
	if r := virtHost(t, 1, "none").enmei("register", "--server", v.url, "--key", virtual.LicenseKey); r.code != 3 || !strings.Contains(r.stderr, "bare metal") {
		t.Errorf("bare metal on a virtual subscription: exit %d\n%s", r.code, r.stderr)
	}
	virtHost(t, 2, "kvm").mustEnmei("register", "--server", v.url, "--key", virtual.LicenseKey)

	// A platform contract of one host: the host takes the seat, any number
	// of VMs register under it, a second physical host finds no seat.
	virtHost(t, 10, "none").mustEnmei("register", "--server", v.url, "--key", platform.LicenseKey)
	var vm *host
	for i := 0; i < 4; i++ {
		vm = virtHost(t, 11+i, "vmware")
		vm.mustEnmei("register", "--server", v.url, "--key", platform.LicenseKey)
	}
	if r := virtHost(t, 20, "none").enmei("register", "--server", v.url, "--key", platform.LicenseKey); r.code != 3 {
		t.Errorf("a second physical host on a one-host platform: exit %d\n%s", r.code, r.stderr)
	}
	var shown struct {
		SeatsUsed int `json:"seats_used"`
		Hosts     []struct {
			Virt string `json:"virt"`
		} `json:"hosts"`
	}
	v.mustJSON(&shown, "contract", "show", platform.SupportID)
	if shown.SeatsUsed != 1 || len(shown.Hosts) != 5 {
		t.Errorf("platform contract: %d seats used, %d hosts; want 1 and 5", shown.SeatsUsed, len(shown.Hosts))
	}

	// In the extended phase a platform contract gets technical support
	// only: its repositories answer 403 unless it has the ELS updates option.
	dir, names := writeDemo(t, "rpm")
	var rpms []string
	for _, n := range names {
		if strings.HasSuffix(n, ".rpm") {
			rpms = append(rpms, filepath.Join(dir, n))
		}
	}
	v.must(append([]string{"publish", "el9-x86_64"}, rpms...)...)
	repomd := func(h *host) int {
		id := h.identity()
		resp, _ := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
		return resp.StatusCode
	}
	if code := repomd(vm); code != http.StatusOK {
		t.Fatalf("platform VM before the extended phase: %d", code)
	}
	v.must("product", "lifecycle", "el9", "--full-until", date(now.AddDate(-3, 0, 0)), "--security-until", date(now.AddDate(-1, 0, 0)),
		"--extended-until", date(now.AddDate(3, 0, 0)))
	if code := repomd(vm); code != http.StatusForbidden {
		t.Errorf("platform VM without the ELS option in the extended phase: %d, want 403", code)
	}
	withELS := add("platform", 1, "--els-updates")
	h := virtHost(t, 30, "kvm")
	h.mustEnmei("register", "--server", v.url, "--key", withELS.LicenseKey)
	if code := repomd(h); code != http.StatusOK {
		t.Errorf("platform VM with the ELS option: %d, want 200", code)
	}

	// --from-quote sells what the quote counted.
	q := writeFile(t, "quote.yaml", "signed: "+date(now)+`
systems:
  - name: core
    physical: 2
    hypervisor: {hosts: 3, almalinux_host: false, vms: 7}
    prefer: platform
  - name: web
    hypervisor: {hosts: 2, vms: 3}
`)
	var quoted struct {
		Systems []struct {
			Lines []struct {
				Subscription string `json:"subscription"`
				Count        int    `json:"count"`
			} `json:"lines"`
		} `json:"systems"`
	}
	v.mustJSON(&quoted, "quote", q)
	var sold struct {
		Contracts []struct {
			Plan     string `json:"plan"`
			Quantity int    `json:"quantity"`
		} `json:"contracts"`
	}
	v.mustJSON(&sold, "contract", "add", "--customer", "見積株式会社", "--product", "el9", "--contact", "it@example.co.jp", "--from-quote", q)
	plans := map[string]string{"standard-physical": "physical", "standard-virtual": "virtual", "platform": "platform"}
	var want, got []string
	for _, s := range quoted.Systems {
		per := map[string]int{}
		var order []string
		for _, l := range s.Lines {
			if per[plans[l.Subscription]] == 0 {
				order = append(order, plans[l.Subscription])
			}
			per[plans[l.Subscription]] += l.Count
		}
		for _, p := range order {
			want = append(want, fmt.Sprintf("%s×%d", p, per[p]))
		}
	}
	for _, c := range sold.Contracts {
		got = append(got, fmt.Sprintf("%s×%d", c.Plan, c.Quantity))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(got) == 0 {
		t.Errorf("contracts from the quote %v, want %v", got, want)
	}
	if r := v.admin("contract", "add", "--customer", "x", "--product", "el9", "--contact", "it@example.co.jp", "--from-quote", q, "--quantity", "3"); r.code != 2 {
		t.Errorf("--from-quote with --quantity: exit %d", r.code)
	}
	b, _ := json.Marshal(sold)
	t.Logf("sold: %s", b)
}
