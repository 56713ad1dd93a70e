package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/sign"
)

var (
	otherOnce sync.Once
	otherKey  string
)

// otherArmoredKey is a second signing key, standing for an impostor's.
func otherArmoredKey(t *testing.T) string {
	t.Helper()
	otherOnce.Do(func() {
		k, err := sign.Generate("impostor", "evil@example.com", time.Now())
		if err == nil {
			var a []byte
			a, err = k.ArmoredPublic()
			otherKey = string(a)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	return otherKey
}

// TestPlainHTTP: a plain http server that is not this machine is refused
// before anything is sent, unless --insecure is given.
func TestPlainHTTP(t *testing.T) {
	f := newFake(t, false, allRepos)
	p := newProxy(t, "", "")
	p.upstream = strings.TrimPrefix(f.url(), "http://") // els.example.jp is the fake
	h := newHost(t, almaRelease)
	before := h.files()
	r := h.enmei("register", "--server", "http://els.example.jp", "--key", goodKey, "--proxy", p.url("", ""))
	if r.code != 2 || !strings.Contains(r.stderr, "https://") || !strings.Contains(r.stderr, "--insecure") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d %q; want 2 with one line pointing at https:// and --insecure", r.code, r.stderr)
	}
	if len(p.requests()) != 0 || len(h.files()) != len(before) {
		t.Errorf("the refused register sent %v or wrote files", p.requests())
	}
	h.mustEnmei("register", "--server", "http://els.example.jp", "--key", goodKey, "--proxy", p.url("", ""), "--insecure")
	if repo := h.read(yumRepoPath); !strings.Contains(repo, "baseurl=http://els.example.jp/repos/el9-x86_64/") {
		t.Errorf("enmei.repo:\n%s", repo)
	}
	if f.seats() != 1 {
		t.Errorf("%d seats, want 1", f.seats())
	}
}

func TestIsLoopback(t *testing.T) {
	for server, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://127.1.2.3": true, "http://[::1]:80": true, "http://localhost:8080": true,
		"http://LOCALHOST.": true, "http://els.localhost": true, "http://10.0.0.1": false, "http://els.example.jp": false,
		"http://[::2]": false, "http://127.0.0.1.example.jp": false, "http://localhost.example.jp": false,
	} {
		if got := isLoopback(mustURL(t, server)); got != want {
			t.Errorf("isLoopback(%s) = %v, want %v", server, got, want)
		}
	}
}

// TestFingerprint: --fingerprint checks the server's key before a seat is
// taken and again in the registration; a mismatch writes nothing and takes
// (or keeps taken) no seat.
func TestFingerprint(t *testing.T) {
	fpr := testKey(t).Fingerprint()
	spaced := strings.ToLower(groupFingerprint(fpr))

	t.Run("match", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, almaRelease)
		r := h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--fingerprint", spaced)
		if !strings.Contains(r.stderr, "Signing key fingerprint: "+groupFingerprint(fpr)+"\n") {
			t.Errorf("the fingerprint is not printed:\n%s", r.stderr)
		}
		if got := f.calls[:2]; !slices.Equal(got, []string{"GET /api/v1/signing-key", "POST /api/v1/register"}) {
			t.Errorf("calls %v: want the key fetched before registering", f.calls)
		}
		if h.state().Fingerprint != fpr {
			t.Errorf("host.json fingerprint %q, want %s", h.state().Fingerprint, fpr)
		}
	})
	t.Run("printed without --fingerprint", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, debianRelease)
		r := h.mustEnmei("--json", "register", "--server", f.url(), "--key", goodKey)
		var rep RegisterReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Fingerprint != fpr {
			t.Errorf("register --json fingerprint %q (%v), want %s", rep.Fingerprint, err, fpr)
		}
		if !strings.Contains(r.stderr, "Signing key fingerprint: "+groupFingerprint(fpr)) {
			t.Errorf("the fingerprint is not printed:\n%s", r.stderr)
		}
		if f.callsOf("GET /api/v1/signing-key") != 0 {
			t.Error("the key was fetched without --fingerprint")
		}
		if r := h.mustEnmei("status"); !strings.Contains(r.stdout, groupFingerprint(fpr)) {
			t.Errorf("status does not show the fingerprint:\n%s", r.stdout)
		}
	})
	t.Run("server key differs", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		f.publicKey, f.registrationKey = otherArmoredKey(t), otherArmoredKey(t)
		h := newHost(t, almaRelease)
		before := h.files()
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--fingerprint", fpr)
		if r.code != 3 || !strings.Contains(r.stderr, "not "+groupFingerprint(fpr)) || !strings.Contains(r.stderr, "took no seat") {
			t.Errorf("exit %d %q; want 3 naming both fingerprints", r.code, r.stderr)
		}
		if f.callsOf("POST /api/v1/register") != 0 || f.seats() != 0 {
			t.Errorf("calls %v, %d seats: want no registration", f.calls, f.seats())
		}
		if !reflect.DeepEqual(before, h.files()) {
			t.Error("files were written")
		}
	})
	t.Run("registration carries another key", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		f.registrationKey = otherArmoredKey(t)
		h := newHost(t, almaRelease)
		before := h.files()
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--fingerprint", fpr)
		if r.code != 3 || !strings.Contains(r.stderr, "wrote nothing") || !strings.Contains(r.stderr, "new seat was given back") {
			t.Errorf("exit %d %q; want 3 saying the seat was given back", r.code, r.stderr)
		}
		if f.seats() != 0 || f.callsOf("POST /api/v1/unregister") != 1 {
			t.Errorf("%d seats, calls %v: want the new seat given back", f.seats(), f.calls)
		}
		if !reflect.DeepEqual(before, h.files()) {
			t.Error("files were written")
		}
	})
	t.Run("re-registration carries another key", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, almaRelease)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--fingerprint", fpr)
		before := h.files()
		f.registrationKey = otherArmoredKey(t)
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--fingerprint", fpr)
		if r.code != 3 || !strings.Contains(r.stderr, "seat stays with this machine") {
			t.Errorf("exit %d %q; want 3 keeping the machine's earlier seat", r.code, r.stderr)
		}
		if f.seats() != 1 || f.callsOf("POST /api/v1/unregister") != 0 {
			t.Errorf("%d seats, calls %v: the seat held before must stay", f.seats(), f.calls)
		}
		if !reflect.DeepEqual(before, h.files()) {
			t.Error("files were changed")
		}
	})
	t.Run("two keys in the answer", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		f.registrationKey = armoredKey(t) + otherArmoredKey(t)
		h := newHost(t, almaRelease)
		if r := h.enmei("register", "--server", f.url(), "--key", goodKey); r.code != 1 || !strings.Contains(r.stderr, "2 armor blocks") || f.seats() != 0 {
			t.Errorf("exit %d %q, %d seats; want 1 refusing the second key, seat given back", r.code, r.stderr, f.seats())
		}
	})
	for _, bad := range []string{"1234", fpr + "0", fpr[:39] + "G", "0x" + fpr} {
		t.Run("malformed "+bad, func(t *testing.T) {
			h := newHost(t, almaRelease)
			if r := h.enmei("register", "--server", "http://127.0.0.1:1", "--key", goodKey, "--fingerprint", bad); r.code != 2 || !strings.Contains(r.stderr, "40 hex digits") {
				t.Errorf("exit %d %q; want 2", r.code, r.stderr)
			}
		})
	}
}

// TestKeySources: --key, then --key-file (- for standard input), then
// ENMEI_KEY; whitespace trimmed.
func TestKeySources(t *testing.T) {
	f := newFake(t, false, allRepos)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, "\n  "+goodKey+"  \n")
	writeFile(t, filepath.Join(dir, "empty"), " \n")
	writeFile(t, filepath.Join(dir, "two"), goodKey+"\n"+goodKey+"\n")
	tests := []struct {
		name  string
		args  []string
		env   string
		stdin string
		code  int
		says  string
	}{
		{"--key-file", []string{"--key-file", keyFile}, "", "", 0, ""},
		{"--key-file -", []string{"--key-file", "-"}, "", goodKey + "\n", 0, ""},
		{"ENMEI_KEY", nil, " " + goodKey + "\n", "", 0, ""},
		{"--key beats ENMEI_KEY", []string{"--key", goodKey}, "EK-NOPE", "", 0, ""},
		{"--key-file beats ENMEI_KEY", []string{"--key-file", keyFile}, "EK-NOPE", "", 0, ""},
		{"--key and --key-file", []string{"--key", goodKey, "--key-file", keyFile}, "", "", 2, "use one of them"},
		{"empty file", []string{"--key-file", filepath.Join(dir, "empty")}, "", "", 2, "is empty"},
		{"empty stdin", []string{"--key-file", "-"}, "", "", 2, "is empty"},
		{"two lines", []string{"--key-file", filepath.Join(dir, "two")}, "", "", 2, "only the key"},
		{"missing file", []string{"--key-file", filepath.Join(dir, "nope")}, "", "", 1, "cannot read the licence key"},
		{"nothing", nil, "", "", 2, "ENMEI_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, almaRelease)
			h.env["ENMEI_KEY"], h.stdin = tt.env, tt.stdin
			n := len(f.registers)
			r := h.enmei(append([]string{"register", "--server", f.url()}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
				t.Fatalf("exit %d %q; want %d with %q", r.code, r.stderr, tt.code, tt.says)
			}
			if tt.code == 0 && f.registers[len(f.registers)-1].Key != goodKey {
				t.Errorf("sent key %q, want %q", f.registers[len(f.registers)-1].Key, goodKey)
			}
			if tt.code != 0 && len(f.registers) != n {
				t.Error("a refused command line reached the server")
			}
		})
	}
}

// TestTwoKeys: one host, two licence keys: both seats, both products'
// repositories, each with its own credential; re-registering one key
// replaces only its entry; unregister --product returns one seat.
func TestTwoKeys(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	empty := h.files()
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	r := h.mustEnmei("register", "--server", f.url(), "--key", phpKey)
	if !strings.Contains(r.stderr, "Also registered on this host: ELS-0001 (el9)") || !strings.Contains(r.stderr, "php81-aarch64 (aarch64)") {
		t.Errorf("the summary does not name the other registration or the skipped repository:\n%s", r.stderr)
	}
	if f.seatsOf(goodKey) != 1 || f.seatsOf(phpKey) != 1 {
		t.Fatalf("seats el9 %d php %d, want 1 each", f.seatsOf(goodKey), f.seatsOf(phpKey))
	}
	st := h.state()
	if len(st.Registrations) != 2 || st.Registrations[0].Product != "el9" || st.Registrations[1].Product != "php81" {
		t.Fatalf("host.json registrations %+v", st.Registrations)
	}
	el9, php := st.Registrations[0], st.Registrations[1]
	repo := h.read(yumRepoPath)
	for _, want := range []string{
		"[enmei-el9-x86_64]\nname=AlmaLinux 9 ELS (x86_64)\nbaseurl=" + f.url() + "/repos/el9-x86_64/\nenabled=1\nusername=" + el9.HostID + "\npassword=" + el9.Secret + "\n",
		"[enmei-el9-noarch]\nname=AlmaLinux 9 ELS (noarch)\nbaseurl=" + f.url() + "/repos/el9-noarch/\nenabled=1\nusername=" + el9.HostID + "\n",
		"[enmei-php81-x86_64]\nname=PHP 8.1 ELS (x86_64)\nbaseurl=" + f.url() + "/repos/php81-x86_64/\nenabled=1\nusername=" + php.HostID + "\npassword=" + php.Secret + "\n",
		"[enmei-php81-i686]", // multilib
	} {
		if !strings.Contains(repo, want) {
			t.Errorf("enmei.repo lacks %q:\n%s", want, repo)
		}
	}
	if strings.Contains(repo, "aarch64") {
		t.Errorf("enmei.repo has the aarch64 repository:\n%s", repo)
	}
	// The legacy fields mirror the first registration.
	if st.HostID != el9.HostID || st.Secret != el9.Secret || st.SupportID != "ELS-0001" || st.Product != "el9" {
		t.Errorf("host.json top-level fields %+v", st)
	}

	// Again with the first key: its seat, its entry; php's stays as it was.
	r = h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	if !strings.Contains(r.stderr, "kept this machine's seat") || f.seats() != 2 {
		t.Errorf("re-register: %d seats\n%s", f.seats(), r.stderr)
	}
	st = h.state()
	if len(st.Registrations) != 2 || st.Registrations[0].HostID != el9.HostID || st.Registrations[0].Secret == el9.Secret || !reflect.DeepEqual(st.Registrations[1], php) {
		t.Errorf("after re-registering el9: %+v", st.Registrations)
	}

	r = h.mustEnmei("status")
	for _, want := range []string{"Product:      el9", "Product:      php81", "Seats:        1 of 3 used", "php81-aarch64", el9.HostID, php.HostID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	r = h.mustEnmei("status", "--json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Registrations) != 2 || rep.Registrations[1].Product != "php81" || len(rep.Registrations[1].Repos) != len(phpRepos) ||
		rep.HostID != el9.HostID || rep.Contract.Product != "el9" || rep.SupportID != "ELS-0001" {
		t.Errorf("status --json = %+v", rep)
	}

	if r := h.enmei("unregister", "--product", "nope"); r.code != 1 || !strings.Contains(r.stderr, "el9, php81") || f.seats() != 2 {
		t.Errorf("unregister --product nope: exit %d %q; want 1 listing the products", r.code, r.stderr)
	}
	r = h.mustEnmei("unregister", "--product", "php81")
	if !strings.Contains(r.stderr, "the seat of ELS-0001 (php81) is free again") || f.seatsOf(phpKey) != 0 || f.seatsOf(goodKey) != 1 {
		t.Errorf("unregister --product php81: seats el9 %d php %d\n%s", f.seatsOf(goodKey), f.seatsOf(phpKey), r.stderr)
	}
	if repo := h.read(yumRepoPath); strings.Contains(repo, "php81") || !strings.Contains(repo, "[enmei-el9-x86_64]") {
		t.Errorf("enmei.repo after unregister --product php81:\n%s", repo)
	}
	if st := h.state(); len(st.Registrations) != 1 || st.Registrations[0].Product != "el9" {
		t.Errorf("host.json after unregister --product: %+v", st.Registrations)
	}
	h.mustEnmei("status")
	h.mustEnmei("unregister")
	if f.seats() != 0 || !reflect.DeepEqual(empty, h.files()) {
		t.Errorf("%d seats and files %v after unregister; want none and the root as before", f.seats(), keys(h.files()))
	}
}

// TestTwoKeysDeb: apt's auth.conf has one line per repository path, with
// the credential of the registration that grants it.
func TestTwoKeysDeb(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, debianRelease)
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	h.mustEnmei("register", "--server", f.url(), "--key", phpKey)
	st := h.state()
	deb, php := st.Registrations[0], st.Registrations[1]
	want := "machine " + f.url() + "/repos/deb12/ login " + deb.HostID + " password " + deb.Secret + "\n" +
		"machine " + f.url() + "/repos/php81-amd64/ login " + php.HostID + " password " + php.Secret + "\n" +
		"machine " + f.url() + "/repos/php81-all/ login " + php.HostID + " password " + php.Secret + "\n"
	if auth := h.read(aptAuth); auth != want {
		t.Errorf("auth.conf =\n%s\nwant\n%s", auth, want)
	}
	if src := h.read(aptSources); !strings.Contains(src, "Components: php81-all\n") || strings.Contains(src, "arm64") {
		t.Errorf("enmei.sources:\n%s", src)
	}
	h.mustEnmei("unregister", "--product", "el9")
	if auth := h.read(aptAuth); strings.Contains(auth, "deb12") || !strings.Contains(auth, "php81-amd64") {
		t.Errorf("auth.conf after unregister --product el9:\n%s", auth)
	}
}

// TestOldStateFormat: a host registered by the previous agent (one
// registration in top-level fields) keeps working, and is migrated when it
// registers a second key.
func TestOldStateFormat(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	st := h.state()
	old := map[string]any{"server": st.Server, "host_id": st.HostID, "secret": st.Secret, "support_id": st.SupportID,
		"product": st.Product, "family": "rpm", "files": st.Files}
	data, _ := json.Marshal(old)
	writeFile(t, filepath.Join(h.root, statePath), string(data))
	os.Chmod(filepath.Join(h.root, statePath), 0o600)

	loaded := h.state()
	if len(loaded.Registrations) != 1 || loaded.Registrations[0].HostID != st.HostID || loaded.Registrations[0].Secret != st.Secret {
		t.Fatalf("the old format reads as %+v", loaded.Registrations)
	}
	if r := h.mustEnmei("status"); !strings.Contains(r.stdout, st.HostID) {
		t.Errorf("status of an old host.json:\n%s", r.stdout)
	}
	h.mustEnmei("register", "--server", f.url(), "--key", phpKey)
	migrated := h.read(statePath)
	if !strings.Contains(migrated, `"version": 2`) || !strings.Contains(migrated, `"registrations"`) {
		t.Errorf("host.json is not migrated:\n%s", migrated)
	}
	repo := h.read(yumRepoPath)
	if !strings.Contains(repo, "[enmei-el9-x86_64]") || !strings.Contains(repo, "password="+st.Secret+"\n") || !strings.Contains(repo, "[enmei-php81-x86_64]") {
		t.Errorf("enmei.repo after migrating:\n%s", repo)
	}
	h.mustEnmei("unregister", "--product", "el9")
	if f.seatsOf(goodKey) != 0 || f.seatsOf(phpKey) != 1 {
		t.Errorf("seats el9 %d php %d after unregister --product el9", f.seatsOf(goodKey), f.seatsOf(phpKey))
	}

	t.Run("released meanwhile", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, almaRelease)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		st := h.state()
		data, _ := json.Marshal(map[string]any{"server": st.Server, "host_id": st.HostID, "secret": st.Secret,
			"support_id": st.SupportID, "product": st.Product, "family": "rpm", "files": st.Files})
		writeFile(t, filepath.Join(h.root, statePath), string(data))
		f.forget(st.HostID)
		r := h.mustEnmei("register", "--server", f.url(), "--key", phpKey)
		if !strings.Contains(r.stderr, "no longer knows host "+st.HostID) {
			t.Errorf("no note about the released registration:\n%s", r.stderr)
		}
		if regs := h.state().Registrations; len(regs) != 1 || regs[0].Product != "php81" || strings.Contains(h.read(yumRepoPath), "el9") {
			t.Errorf("registrations %+v", regs)
		}
	})
}

// TestHostnameAndOS: what the registration tells the server about the host.
func TestHostnameAndOS(t *testing.T) {
	f := newFake(t, false, allRepos)
	tests := []struct {
		name     string
		args     []string
		etc      string // /etc/hostname
		arch     string // ENMEI_DEBUG_ARCH
		code     int
		hostname string
		sentArch string
	}{
		{"default", nil, "", "", 0, "web01.example.jp", "x86_64"},
		{"--hostname", []string{"--hostname", " db01.example.jp "}, "", "aarch64", 0, "db01.example.jp", "aarch64"},
		{"--no-hostname", []string{"--no-hostname"}, "", "amd64", 0, "", "x86_64"},
		{"both", []string{"--hostname", "x", "--no-hostname"}, "", "", 2, "", ""},
		{"control character", []string{"--hostname", "web\x1b[31m01"}, "", "", 2, "", ""},
		{"too long", []string{"--hostname", strings.Repeat("a", 256)}, "", "", 2, "", ""},
		{"control character in /etc/hostname", nil, "web\x0701\n", "", 2, "", ""},
		{"--hostname overrides a bad /etc/hostname", []string{"--hostname", "ok"}, "web\x0701\n", "", 0, "ok", "x86_64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, almaRelease)
			if tt.etc != "" {
				writeFile(t, filepath.Join(h.root, "etc/hostname"), tt.etc)
			}
			if tt.arch != "" {
				h.env["ENMEI_DEBUG_ARCH"] = tt.arch
			}
			// What systemd-detect-virt answers is sent as it is.
			virt := filepath.Join(t.TempDir(), "detect-virt")
			writeFile(t, virt, "#!/bin/sh\necho kvm\n")
			if err := os.Chmod(virt, 0o755); err != nil {
				t.Fatal(err)
			}
			h.env["ENMEI_DETECT_VIRT"] = virt
			n := len(f.registers)
			r := h.enmei(append([]string{"register", "--server", f.url(), "--key", goodKey}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d %q, want %d", r.code, r.stderr, tt.code)
			}
			if tt.code != 0 {
				if len(f.registers) != n || !strings.Contains(r.stderr, "hostname") {
					t.Errorf("refused, but reached the server or did not name the flag: %q", r.stderr)
				}
				return
			}
			req := f.registers[len(f.registers)-1]
			want := api.RegisterRequest{Key: goodKey, MachineID: req.MachineID, Hostname: tt.hostname,
				OSID: "almalinux", OSVersion: "9.4", OSLike: []string{"rhel", "centos", "fedora"}, Arch: tt.sentArch, Virt: "kvm"}
			if !reflect.DeepEqual(req, want) {
				t.Errorf("request %+v, want %+v", req, want)
			}
		})
	}
	t.Run("product of another OS", func(t *testing.T) {
		h := newHost(t, almaRelease)
		before := h.files()
		r := h.enmei("register", "--server", f.url(), "--key", debOnlyKey)
		want := "enmei: the product deb12 of this licence key is for Debian, not almalinux 9.4: use the key for this host's OS\n"
		if r.code != 3 || r.stderr != want {
			t.Errorf("exit %d %q; want 3 with the server's sentence as is", r.code, r.stderr)
		}
		if f.seatsOf(debOnlyKey) != 0 || !reflect.DeepEqual(before, h.files()) {
			t.Error("the refused registration took a seat or wrote files")
		}
	})
}

// TestLock: a second register or unregister waits for the first and,
// after lockWait, gives up in one sentence without calling the server.
func TestLock(t *testing.T) {
	old := lockWait
	t.Cleanup(func() { lockWait = old })
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	hold := func() func() {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(h.root, filepath.Dir(lockPath)), 0o755); err != nil {
			t.Fatal(err)
		}
		fd, err := os.OpenFile(filepath.Join(h.root, lockPath), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(fd.Fd()), unix.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		return func() { fd.Close() }
	}

	lockWait = 200 * time.Millisecond
	release := hold()
	for _, args := range [][]string{{"register", "--server", f.url(), "--key", goodKey}, {"unregister"}} {
		r := h.enmei(args...)
		if r.code != 1 || !strings.Contains(r.stderr, "another enmei register or unregister") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s while locked: exit %d %q; want 1 in one line", args[0], r.code, r.stderr)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("the server was called while locked: %v", f.calls)
	}

	// A run waits while the other finishes.
	lockWait = 10 * time.Second
	go func() { time.Sleep(300 * time.Millisecond); release() }()
	start := time.Now()
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("register did not wait for the lock (%v)", waited)
	}
	if f.seats() != 1 {
		t.Errorf("%d seats, want 1", f.seats())
	}
}

// TestFailedReRegistration: a registration that fails after the server
// answered leaves the earlier configuration as it was and gives a new seat
// back; one the server refused changes nothing.
func TestFailedReRegistration(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	before := h.files()
	// The CA copy cannot be put in place, after enmei.repo and the key were.
	writeFile(t, filepath.Join(h.root, caPath, "x"), "")
	delete(before, caPath+"/x")
	ca := newFake(t, true, nil).caFile()

	t.Run("new key", func(t *testing.T) {
		r := h.enmei("register", "--server", f.url(), "--key", phpKey, "--ca", ca)
		if r.code != 1 || !strings.Contains(r.stderr, "new seat was given back") || !strings.Contains(r.stderr, "back as they were") {
			t.Errorf("exit %d %q; want 1 saying the files were undone and the seat given back", r.code, r.stderr)
		}
		if f.seatsOf(phpKey) != 0 || f.seatsOf(goodKey) != 1 {
			t.Errorf("seats el9 %d php %d; want 1 and 0", f.seatsOf(goodKey), f.seatsOf(phpKey))
		}
		after := h.files()
		delete(after, caPath+"/x")
		if !reflect.DeepEqual(before, after) {
			t.Error("the failed registration changed the earlier configuration")
		}
	})
	t.Run("same key", func(t *testing.T) {
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--ca", ca)
		if r.code != 1 || !strings.Contains(r.stderr, "seat stays with this machine") {
			t.Errorf("exit %d %q; want 1 keeping the machine's seat", r.code, r.stderr)
		}
		if f.seatsOf(goodKey) != 1 {
			t.Errorf("%d seats, want 1", f.seatsOf(goodKey))
		}
		after := h.files()
		delete(after, caPath+"/x")
		if !reflect.DeepEqual(before, after) {
			t.Error("the failed registration changed the earlier configuration")
		}
	})
	for _, key := range []string{expiredKey, "EK-NOPE"} {
		t.Run("refused "+key, func(t *testing.T) {
			r := h.enmei("register", "--server", f.url(), "--key", key)
			after := h.files()
			delete(after, caPath+"/x")
			if r.code != 3 || !reflect.DeepEqual(before, after) {
				t.Errorf("exit %d %q, or files changed", r.code, r.stderr)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f.srv.Close()
		r := h.enmei("register", "--server", f.url(), "--key", phpKey)
		after := h.files()
		delete(after, caPath+"/x")
		if r.code != 4 || !reflect.DeepEqual(before, after) {
			t.Errorf("exit %d %q, or files changed", r.code, r.stderr)
		}
	})
}

// TestUnregisterAnswers: the success message only after a 2xx answer; a
// 401 says the server no longer knows the credential; anything else
// removes nothing.
func TestUnregisterAnswers(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *fakeServer, h *host)
		code    int
		says    string
		removed bool
	}{
		{"204", func(*fakeServer, *host) {}, 0, "Unregistered: the seat of ELS-0001 (el9) is free again.", true},
		{"401", func(f *fakeServer, h *host) { f.forget(h.state().HostID) }, 0, "no longer knows the credential of ELS-0001 (el9): its seat was already released", true},
		{"500", func(f *fakeServer, h *host) { f.unregisterFails = 500 }, 1, "nothing was removed", false},
		{"403", func(f *fakeServer, h *host) { f.unregisterFails = 403 }, 1, "nothing was removed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, false, allRepos)
			h := newHost(t, almaRelease)
			h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
			before := h.files()
			tt.prepare(f, h)
			r := h.enmei("unregister")
			if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
				t.Errorf("exit %d %q; want %d with %q", r.code, r.stderr, tt.code, tt.says)
			}
			if success := strings.Contains(r.stderr, "free again"); success != (tt.name == "204") {
				t.Errorf("the success message is printed after a %s answer:\n%s", tt.name, r.stderr)
			}
			_, there := h.files()[statePath]
			if there == tt.removed || (!tt.removed && !reflect.DeepEqual(before, h.files())) {
				t.Errorf("host.json there %v, want removed %v", there, tt.removed)
			}
		})
	}
}

func TestArch(t *testing.T) {
	tests := []struct {
		family, host, repo string
		fits               bool
	}{
		{"rpm", "x86_64", "", true},
		{"rpm", "x86_64", "noarch", true},
		{"rpm", "x86_64", "x86_64", true},
		{"rpm", "x86_64", "i686", true}, // multilib
		{"rpm", "x86_64", "i386", true},
		{"rpm", "x86_64", "aarch64", false},
		{"rpm", "aarch64", "x86_64", false},
		{"rpm", "aarch64", "i686", false},
		{"rpm", "i686", "x86_64", false},
		{"deb", "x86_64", "amd64", true},
		{"deb", "x86_64", "all", true},
		{"deb", "x86_64", "i386", false}, // multiarch is opt-in
		{"deb", "aarch64", "arm64", true},
		{"deb", "aarch64", "amd64", false},
		{"deb", "i686", "i386", true},
		{"deb", "ppc64le", "ppc64el", true},
		{"deb", "s390x", "s390x", true},
	}
	for _, tt := range tests {
		if got := archFits(tt.family, tt.host, tt.repo); got != tt.fits {
			t.Errorf("archFits(%s, %s, %s) = %v, want %v", tt.family, tt.host, tt.repo, got, tt.fits)
		}
	}
	for goarch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x"} {
		if unameArch[goarch] != want {
			t.Errorf("GOARCH %s maps to %q, want %s", goarch, unameArch[goarch], want)
		}
	}
	if got := hostArch(func(string) string { return "" }); got == "" || got == "amd64" || got == "arm64" {
		t.Errorf("hostArch() = %q, want a uname -m name", got)
	}

	t.Run("aarch64 host", func(t *testing.T) {
		for _, osr := range []string{almaRelease, debianRelease} {
			f := newFake(t, false, allRepos)
			h := newHost(t, osr)
			h.env["ENMEI_DEBUG_ARCH"] = "aarch64"
			r := h.mustEnmei("--json", "register", "--server", f.url(), "--key", phpKey)
			var rep RegisterReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			want, skipped := []string{"php81-aarch64"}, []string{"php81-x86_64", "php81-i686"}
			if rep.Family == "deb" {
				want, skipped = []string{"php81-arm64", "php81-all"}, []string{"php81-amd64"}
			}
			if !slices.Equal(rep.Repos, want) || !slices.Equal(rep.Skipped, skipped) {
				t.Errorf("%s: repos %v skipped %v; want %v and %v", rep.Family, rep.Repos, rep.Skipped, want, skipped)
			}
			if !strings.Contains(r.stderr, "Skipped repositories for other architectures than this host's aarch64: "+skipped[0]) {
				t.Errorf("stderr does not name the skipped repositories:\n%s", r.stderr)
			}
			if f.registers[0].Arch != "aarch64" {
				t.Errorf("sent arch %q", f.registers[0].Arch)
			}
		}
	})
}
