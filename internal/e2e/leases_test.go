package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type leaseShow struct {
	SeatsUsed int `json:"seats_used"`
	Hosts     []struct {
		HostID       string     `json:"host_id"`
		LeaseExpires *time.Time `json:"lease_expires"`
	} `json:"hosts"`
}

// TestEphemeralSeats: on a 2-seat server-plan contract, three containers
// register --ephemeral with a 6 s lease. The third is refused (exit 3);
// when the second stops renewing, its lease ends and the third gets in,
// while the first, renewing with enmei heartbeat and using the repository,
// keeps working throughout.
func TestEphemeralSeats(t *testing.T) {
	v, c := demoVendor(t, "el9", 2)
	reg := func(h *host) result {
		return h.enmei("register", "--server", v.url, "--key", c.LicenseKey, "--ephemeral", "--lease", "6s")
	}
	a, b, third := newHost(t, almaRelease, machineID(700)), newHost(t, almaRelease, machineID(701)), newHost(t, almaRelease, machineID(702))
	for _, h := range []*host{a, b} {
		if r := reg(h); r.code != 0 || !strings.Contains(r.stderr, "Ephemeral seat: a lease of 6s") {
			t.Fatalf("register --ephemeral: exit %d\n%s", r.code, r.stderr)
		}
	}
	start := time.Now()
	if r := reg(third); r.code != 3 || !strings.Contains(r.stderr, "no seat left") {
		t.Fatalf("a third container on 2 seats: exit %d, want 3 with 'no seat left'\n%s", r.code, r.stderr)
	}
	var show leaseShow
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if show.SeatsUsed != 2 || len(show.Hosts) != 2 || show.Hosts[0].LeaseExpires == nil || time.Until(*show.Hosts[0].LeaseExpires) > 6*time.Second {
		t.Fatalf("contract show: %+v; want 2 hosts with leases ending within 6 s", show)
	}

	// a renews: a heartbeat and a repository request every 2 s.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var renewFailures []string
	aID := a.identity()
	wg.Go(func() {
		for ctx.Err() == nil {
			r := a.enmei("heartbeat")
			resp, _ := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", aID.HostID, aID.Secret, nil)
			if r.code != 0 || resp.StatusCode != 200 {
				mu.Lock()
				renewFailures = append(renewFailures, fmt.Sprintf("heartbeat exit %d (%s), GET %d", r.code, r.stderr, resp.StatusCode))
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	})
	// b does nothing: its lease ends and the third container gets in
	// within a few seconds of that.
	var in time.Duration
	for {
		r := reg(third)
		if r.code == 0 {
			in = time.Since(start)
			break
		}
		if r.code != 3 || time.Since(start) > 15*time.Second {
			t.Fatalf("third container still refused %v after b stopped renewing: exit %d\n%s", time.Since(start), r.code, r.stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the third container got b's seat %v after b's last renewal", in.Round(100*time.Millisecond))
	if in < 4*time.Second {
		t.Errorf("the third container got in after %v, before b's 6 s lease could have ended", in)
	}
	bID := b.identity()
	resp, body := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", bID.HostID, bID.Secret, nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "enmei heartbeat") {
		t.Errorf("b's credential after its lease ended: %d %s; want 403 naming enmei heartbeat", resp.StatusCode, body)
	}
	if r := b.enmei("heartbeat"); r.code != 3 || !strings.Contains(r.stderr, "no seat") {
		t.Errorf("heartbeat of an ended lease with no seat free: exit %d, want 3\n%s", r.code, r.stderr)
	}
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if show.SeatsUsed != 2 || len(show.Hosts) != 2 {
		t.Errorf("contract show after b's lease ended: %+v; want a and the third container", show)
	}
	for _, h := range show.Hosts {
		if h.HostID == bID.HostID {
			t.Errorf("contract show lists b, whose lease ended")
		}
	}
	time.Sleep(3 * time.Second) // a keeps renewing past its first lease and b's
	stop()
	wg.Wait()
	if len(renewFailures) > 0 {
		t.Errorf("the renewing container was refused: %v", renewFailures)
	}

	// unregister ends a lease at once; b's heartbeat then takes the seat.
	a.mustEnmei("unregister")
	if out := b.mustEnmei("heartbeat"); !strings.Contains(out, "lease renewed until") {
		t.Errorf("heartbeat after a seat was freed: %s", out)
	}
	if resp, _ := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", bID.HostID, bID.Secret, nil); resp.StatusCode != 200 {
		t.Errorf("b after its heartbeat took a seat again: %d", resp.StatusCode)
	}
	if out := b.mustEnmei("status"); !strings.Contains(out, "Lease:        6s, ends") {
		t.Errorf("status does not show the lease:\n%s", out)
	}
	// What the vendor bills against: today's peak of concurrent seats.
	var peaks struct {
		Days []struct {
			Day  string `json:"day"`
			Peak int    `json:"peak"`
		} `json:"days"`
	}
	v.mustJSON(&peaks, "contract", "peaks", c.SupportID)
	if n := len(peaks.Days); n != 31 || peaks.Days[n-1].Day != date(today()) || peaks.Days[n-1].Peak != 2 {
		t.Errorf("contract peaks: %+v; want 31 days ending today with a peak of 2", peaks.Days)
	}
	// Bad leases are refused before anything is sent.
	for _, args := range [][]string{{"--ephemeral", "--lease", "2s"}, {"--lease", "1m"}} {
		r := third.enmei(append([]string{"register", "--server", v.url, "--key", c.LicenseKey}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "--") {
			t.Errorf("register %v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}

// TestContainerIdentity: a container without /etc/machine-id registers with
// a generated identity kept in host.json, and registering again keeps its
// seat.
func TestContainerIdentity(t *testing.T) {
	v, c := demoVendor(t, "el9", 1)
	h := newHost(t, almaRelease, machineID(710))
	must(t, os.Remove(filepath.Join(h.root, "etc/machine-id")))
	if r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey); r.code == 0 || !strings.Contains(r.stderr, "machine-id") {
		t.Fatalf("a host without machine-id outside a container: exit %d, want a refusal naming machine-id\n%s", r.code, r.stderr)
	}
	must(t, os.MkdirAll(filepath.Join(h.root, "run"), 0o755))
	must(t, os.WriteFile(filepath.Join(h.root, "run/.containerenv"), nil, 0o644))
	out := h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--ephemeral")
	if !strings.Contains(out, "generated identity") {
		t.Errorf("register did not say it generated an identity:\n%s", out)
	}
	first := h.identity()
	var state struct {
		MachineID string `json:"machine_id"`
	}
	data, err := os.ReadFile(filepath.Join(h.root, "etc/enmei/host.json"))
	must(t, err)
	must(t, json.Unmarshal(data, &state))
	if !strings.HasPrefix(state.MachineID, "gen-") {
		t.Fatalf("host.json keeps no generated identity: %s", data)
	}
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--ephemeral")
	if again := h.identity(); again.HostID != first.HostID {
		t.Errorf("registering again took a new seat: %s → %s", first.HostID, again.HostID)
	}
}

// TestConcurrentEphemeralRegistrations: 16 containers race for 4 leased
// seats; exactly 4 win, on SQLite and PostgreSQL. When their leases end,
// 4 others get in.
func TestConcurrentEphemeralRegistrations(t *testing.T) {
	onBothDatabases(t, 4, func(t *testing.T, v *vendor, c contractOut) {
		race := func(offset int) int {
			var wg sync.WaitGroup
			codes := make([]int, 16)
			for i := range codes {
				h := newHost(t, almaRelease, machineID(800+offset+i))
				wg.Go(func() {
					r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey, "--ephemeral", "--lease", "5s")
					codes[i] = r.code
					if r.code != 0 && r.code != 3 {
						t.Errorf("register: exit %d\n%s", r.code, r.stderr)
					}
				})
			}
			wg.Wait()
			won := 0
			for _, code := range codes {
				if code == 0 {
					won++
				}
			}
			return won
		}
		if won := race(0); won != 4 {
			t.Fatalf("%d of 16 ephemeral registrations won 4 seats", won)
		}
		var show leaseShow
		v.mustJSON(&show, "contract", "show", c.SupportID)
		if show.SeatsUsed != 4 {
			t.Errorf("seats_used = %d, want 4", show.SeatsUsed)
		}
		time.Sleep(5500 * time.Millisecond)
		if won := race(100); won != 4 {
			t.Fatalf("after the leases ended, %d of 16 won 4 seats", won)
		}
	})
}

// TestContainerBuild: on a registered container host, enmei build-secrets
// says how a build mounts the host's configuration as secrets; a build
// step done that way (dnf --installroot into an image root, the
// configuration mounted from outside it) installs the vendor's packages and
// leaves no credential in the image.
func TestContainerBuild(t *testing.T) {
	v, c := demoVendor(t, "el9", 1)
	h := newHost(t, almaRelease, machineID(720))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	out := h.mustEnmei("build-secrets")
	for _, want := range []string{
		"--secret id=enmei-repo,src=/etc/yum.repos.d/enmei.repo",
		"--secret id=enmei-key,src=/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei",
		"RUN --mount=type=secret,id=enmei-repo,target=/etc/yum.repos.d/enmei.repo",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build-secrets lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Secrets []struct{ ID, Path string }
	}
	must(t, json.Unmarshal([]byte(h.mustEnmei("build-secrets", "--json")), &rep))

	// The build: secrets mounted (here: copied) outside the image root for
	// the RUN step, then unmounted.
	mounts := t.TempDir()
	for _, s := range rep.Secrets {
		data, err := os.ReadFile(filepath.Join(h.root, s.Path))
		must(t, err)
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(mounts, s.Path)), 0o755))
		must(t, os.WriteFile(filepath.Join(mounts, s.Path), data, 0o400))
	}
	image := newHost(t, almaRelease, machineID(721)) // the image root: no enmei state at all
	must(t, os.Remove(filepath.Join(image.root, "etc/machine-id")))
	cmdOut, err := image.dnfWith(mounts, "install", "enmei-demo-hello")
	if err != nil {
		t.Fatalf("dnf --installroot with the mounted secrets: %v\n%s", err, cmdOut)
	}
	if _, err := os.Stat(filepath.Join(image.root, "usr/bin/enmei-hello")); err != nil {
		t.Fatalf("the package is not in the image root: %v", err)
	}
	must(t, os.RemoveAll(mounts))

	cred := h.identity()
	err = filepath.WalkDir(image.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), cred.Secret) {
			t.Errorf("the image holds the host's secret in %s", strings.TrimPrefix(p, image.root))
		}
		return nil
	})
	must(t, err)
	for _, p := range []string{"etc/yum.repos.d/enmei.repo", "etc/enmei/host.json"} {
		if _, err := os.Stat(filepath.Join(image.root, p)); err == nil {
			t.Errorf("the image holds %s", p)
		}
	}
}
