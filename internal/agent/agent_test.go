package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestRegisterRPM(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	before := h.files()
	r := h.mustEnmei("register", "--server", f.url()+"/", "--key", goodKey)

	for _, want := range []string{"ELS-0001", "new seat", "el9-x86_64, el9-noarch", "dnf upgrade"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.stderr)
		}
	}
	// Only the digest of the machine ID leaves the host, and the host name.
	sum := sha256.Sum256([]byte("enmei-machine-id:" + rawMachineID))
	if req := f.registers[0]; req.MachineID != hex.EncodeToString(sum[:]) || req.Hostname != "web01.example.jp" || req.Key != goodKey {
		t.Errorf("register request = %+v", req)
	}

	after := h.files()
	wantModes := map[string]fs.FileMode{yumRepoPath: 0o600, rpmKeyPath: 0o644, statePath: 0o600}
	var added []string
	for p := range after {
		if _, ok := before[p]; !ok {
			added = append(added, p)
		}
	}
	sort.Strings(added)
	st := h.state()
	if !slices.Equal(added, st.Files) || len(added) != len(wantModes) {
		t.Errorf("register wrote %v; host.json lists %v; want %d files", added, st.Files, len(wantModes))
	}
	for p, mode := range wantModes {
		fi, err := os.Stat(filepath.Join(h.root, p))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), mode)
		}
	}
	if st.Server != f.url() || st.HostID != "h_0001" || st.Secret != "secret-1" || st.SupportID != "ELS-0001" || st.Product != "el9" || st.Family != "rpm" {
		t.Errorf("host.json = %+v", st)
	}
	repo := h.read(yumRepoPath)
	for _, want := range []string{"[enmei-el9-x86_64]", "[enmei-el9-noarch]", "baseurl=" + f.url() + "/repos/el9-x86_64/", "username=h_0001", "password=secret-1"} {
		if !strings.Contains(repo, want) {
			t.Errorf("enmei.repo lacks %q:\n%s", want, repo)
		}
	}
	if strings.Contains(repo, "deb12") || strings.Contains(repo, "proxy") || strings.Contains(repo, "sslcacert") {
		t.Errorf("enmei.repo has a deb repository, a proxy or a CA it should not:\n%s", repo)
	}
	if h.read(rpmKeyPath) != f.armored {
		t.Error("the RPM-GPG key is not the server's key")
	}
}

func TestRegisterDeb(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, debianRelease)
	r := h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	if !strings.Contains(r.stderr, "apt-get update && apt-get upgrade") || !strings.Contains(r.stderr, "deb12") {
		t.Errorf("summary:\n%s", r.stderr)
	}
	st := h.state()
	want := []string{aptAuth, aptKeyring, aptSources, statePath}
	if !slices.Equal(st.Files, want) || st.Family != "deb" {
		t.Errorf("host.json files %v family %s; want %v, deb", st.Files, st.Family, want)
	}
	for p, mode := range map[string]fs.FileMode{aptAuth: 0o600, aptKeyring: 0o644, aptSources: 0o644, statePath: 0o600} {
		fi, err := os.Stat(filepath.Join(h.root, p))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), mode)
		}
	}
	if auth := h.read(aptAuth); auth != "machine "+f.url()+"/repos/deb12/ login h_0001 password secret-1\n" {
		t.Errorf("auth.conf = %q", auth)
	}
	public, _ := testKey(t).Public()
	if h.read(aptKeyring) != string(public) {
		t.Error("the keyring is not the binary form of the server's key")
	}
}

// TestRegisterAgain: registering the same machine again keeps its seat and
// leaves the same set of files; files the new registration does not need
// (here the CA copy and the apt.conf.d snippet) are removed.
func TestRegisterAgain(t *testing.T) {
	for _, osr := range []string{almaRelease, debianRelease} {
		t.Run(ParseOSRelease([]byte(osr)).ID, func(t *testing.T) {
			f := newFake(t, true, allRepos)
			ca := f.caFile()
			h := newHost(t, osr)
			h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--ca", ca)
			first := h.files()
			r := h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--ca", ca)
			second := h.files()
			if !strings.Contains(r.stderr, "kept this machine's seat") {
				t.Errorf("second register does not say the seat was kept:\n%s", r.stderr)
			}
			if f.seats() != 1 {
				t.Errorf("%d seats used, want 1", f.seats())
			}
			a, b := keys(first), keys(second)
			sort.Strings(a)
			sort.Strings(b)
			if !slices.Equal(a, b) {
				t.Errorf("files after the first run %v, after the second %v", a, b)
			}
			if !strings.Contains(h.read(statePath), "secret-2") {
				t.Error("host.json does not hold the new secret")
			}
			if h.read(caPath) != readFile(t, ca) {
				t.Error("the CA copy differs from --ca")
			}

		})
	}
}

// TestRegisterAgainDropsFiles: files the new registration does not need
// (the CA copy, the apt.conf.d snippet of a proxy) are removed.
func TestRegisterAgainDropsFiles(t *testing.T) {
	for _, osr := range []string{almaRelease, debianRelease} {
		t.Run(ParseOSRelease([]byte(osr)).ID, func(t *testing.T) {
			// A plain http server: the CA copy is kept for https, not needed here.
			f := newFake(t, false, allRepos)
			ca := newFake(t, true, nil).caFile()
			p := newProxy(t, "", "")
			h := newHost(t, osr)
			h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--ca", ca, "--proxy", p.url("", ""))
			first := h.files()
			if _, ok := first[caPath]; !ok {
				t.Fatalf("no CA copy after register --ca")
			}
			h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
			second := h.files()
			for _, p := range []string{caPath, aptConf} {
				if _, ok := second[p]; ok {
					t.Errorf("%s is left from the earlier registration", p)
				}
			}
			if st := h.state(); slices.Contains(st.Files, caPath) || st.CA || st.Proxy != "" {
				t.Errorf("host.json still records the CA or the proxy: %+v", st)
			}
			if strings.Contains(h.read(statePath), p.url("", "")) {
				t.Error("host.json still names the proxy")
			}
		})
	}
}

// TestRegisterOtherServer: a host uses one server; registering with
// another is refused, changes nothing and takes no seat there.
func TestRegisterOtherServer(t *testing.T) {
	f := newFake(t, false, allRepos)
	other := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	before := h.files()
	r := h.enmei("register", "--server", other.url(), "--key", phpKey)
	if r.code != 1 || !strings.Contains(r.stderr, "registered with "+f.url()) || !strings.Contains(r.stderr, "enmei unregister first") {
		t.Errorf("exit %d %q; want 1 saying to unregister from %s first", r.code, r.stderr, f.url())
	}
	if other.seats() != 0 || len(other.calls) != 0 {
		t.Errorf("the other server was called: %v", other.calls)
	}
	if !reflect.DeepEqual(before, h.files()) {
		t.Error("the refused register changed files")
	}
	// The same server spelled differently is the same server.
	h.mustEnmei("register", "--server", strings.Replace(f.url(), "http://", "HTTP://", 1)+"/", "--key", goodKey)
}

// TestUnregister: unregister returns the seat and removes exactly what
// register wrote (the root is as before, down to the last file).
func TestUnregister(t *testing.T) {
	for _, osr := range []string{almaRelease, debianRelease} {
		t.Run(ParseOSRelease([]byte(osr)).ID, func(t *testing.T) {
			f := newFake(t, true, allRepos)
			h := newHost(t, osr)
			p := newProxy(t, "", "")
			before := h.files()
			h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--ca", f.caFile(), "--proxy", p.url("", ""))
			if len(h.files()) <= len(before)+3 {
				t.Fatalf("register wrote only %d files", len(h.files())-len(before))
			}
			r := h.mustEnmei("unregister")
			if !strings.Contains(r.stderr, "Unregistered") {
				t.Errorf("unregister says:\n%s", r.stderr)
			}
			after := h.files()
			a, b := keys(before), keys(after)
			sort.Strings(a)
			sort.Strings(b)
			if !slices.Equal(a, b) {
				t.Errorf("files before register %v, after unregister %v", a, b)
			}
			if f.seats() != 0 {
				t.Errorf("%d seats used after unregister, want 0", f.seats())
			}
			// The recorded CA and proxy were used for the unregister call.
			if n := len(p.requests()); n != 2 {
				t.Errorf("the proxy carried %d connections, want 2 (register, unregister): %v", n, p.requests())
			}
			if r := h.enmei("unregister"); r.code != 1 || !strings.Contains(r.stderr, "not registered") {
				t.Errorf("second unregister: exit %d %q; want 1 saying the host is not registered", r.code, r.stderr)
			}
			if r := h.enmei("status"); r.code != 1 || !strings.Contains(r.stderr, "not registered") {
				t.Errorf("status after unregister: exit %d %q; want 1 saying the host is not registered", r.code, r.stderr)
			}
		})
	}
}

// TestUnregisterReleasedSeat: when the vendor already released the seat
// (401), unregister still removes the configuration and says so.
func TestUnregisterReleasedSeat(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	before := len(h.files())
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	f.forget(h.state().HostID)
	if r := h.enmei("status"); r.code != 3 || !strings.Contains(r.stderr, "credential is not valid") {
		t.Errorf("status of a released host: exit %d %q; want 3 with the server's sentence", r.code, r.stderr)
	}
	r := h.mustEnmei("unregister")
	if !strings.Contains(r.stderr, "already released") {
		t.Errorf("unregister does not say the seat was already released:\n%s", r.stderr)
	}
	if n := len(h.files()); n != before {
		t.Errorf("%d files after unregister, want %d", n, before)
	}
}

// TestServerUnreachable: exit 4, nothing written by register, nothing
// removed by unregister.
func TestServerUnreachable(t *testing.T) {
	closed := closedURL(t)
	t.Run("register", func(t *testing.T) {
		h := newHost(t, almaRelease)
		before := h.files()
		r := h.enmei("register", "--server", closed, "--key", goodKey)
		if r.code != 4 || !strings.Contains(r.stderr, "cannot reach "+closed) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 4 and one line saying the server cannot be reached", r.code, r.stderr)
		}
		if len(h.files()) != len(before) {
			t.Error("register against an unreachable server wrote files")
		}
	})
	t.Run("unregister and status", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, debianRelease)
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		before := h.files()
		f.srv.Close()
		r := h.enmei("unregister")
		if r.code != 4 || !strings.Contains(r.stderr, "nothing was removed") {
			t.Errorf("unregister: exit %d %q; want 4 saying nothing was removed", r.code, r.stderr)
		}
		if after := h.files(); len(after) != len(before) || after[statePath] != before[statePath] {
			t.Error("unregister against an unreachable server changed files")
		}
		if r := h.enmei("status"); r.code != 4 {
			t.Errorf("status: exit %d %q; want 4", r.code, r.stderr)
		}
	})
	t.Run("TLS without --ca", func(t *testing.T) {
		f := newFake(t, true, allRepos)
		h := newHost(t, almaRelease)
		r := h.enmei("register", "--server", f.url(), "--key", goodKey)
		if r.code != 4 || !strings.Contains(r.stderr, "--ca") {
			t.Errorf("exit %d %q; want 4 suggesting --ca", r.code, r.stderr)
		}
	})
}

func TestRefused(t *testing.T) {
	f := newFake(t, false, allRepos)
	tests := []struct{ name, key, says string }{
		{"unknown key", "EK-NOPE", "the licence key is not known: check it against the support certificate"},
		{"expired", expiredKey, "expired on 2025-03-31: ask the vendor to renew it"},
		{"no seat", fullKey, "has no seat left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, almaRelease)
			before := len(h.files())
			r := h.enmei("register", "--server", f.url(), "--key", tt.key)
			if r.code != 3 || !strings.HasPrefix(r.stderr, "enmei: ") || !strings.Contains(r.stderr, tt.says) {
				t.Errorf("exit %d, stderr %q; want 3 with %q", r.code, r.stderr, tt.says)
			}
			if len(h.files()) != before {
				t.Error("a refused registration wrote files")
			}
		})
	}
}

func TestHostProblems(t *testing.T) {
	f := newFake(t, false, allRepos)
	t.Run("unknown OS", func(t *testing.T) {
		h := newHost(t, "ID=gentoo\n")
		if r := h.enmei("register", "--server", f.url(), "--key", goodKey); r.code != 1 || !strings.Contains(r.stderr, `ID="gentoo"`) {
			t.Errorf("exit %d %q; want 1 naming the ID", r.code, r.stderr)
		}
	})
	t.Run("no os-release", func(t *testing.T) {
		h := newHost(t, "")
		os.Remove(filepath.Join(h.root, "etc/os-release"))
		if r := h.enmei("register", "--server", f.url(), "--key", goodKey); r.code != 1 || !strings.Contains(r.stderr, "os-release") {
			t.Errorf("exit %d %q; want 1 naming os-release", r.code, r.stderr)
		}
	})
	t.Run("no machine-id", func(t *testing.T) {
		h := newHost(t, almaRelease)
		os.Remove(filepath.Join(h.root, "etc/machine-id"))
		if r := h.enmei("register", "--server", f.url(), "--key", goodKey); r.code != 1 || !strings.Contains(r.stderr, "systemd-machine-id-setup") {
			t.Errorf("exit %d %q; want 1 telling to run systemd-machine-id-setup", r.code, r.stderr)
		}
	})
	t.Run("no matching repository", func(t *testing.T) {
		h := newHost(t, debianRelease)
		rpmOnly := newFake(t, false, allRepos[:2])
		r := h.mustEnmei("register", "--server", rpmOnly.url(), "--key", goodKey)
		if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "no deb repository") {
			t.Errorf("no warning:\n%s", r.stderr)
		}
		if st := h.state(); !slices.Equal(st.Files, []string{statePath}) {
			t.Errorf("host.json lists %v, want only itself: there is nothing to configure", st.Files)
		}
	})
	t.Run("write failure", func(t *testing.T) {
		h := newHost(t, almaRelease)
		// The key file cannot be put in place, after enmei.repo was.
		writeFile(t, filepath.Join(h.root, rpmKeyPath, "x"), "")
		r := h.enmei("register", "--server", f.url(), "--key", goodKey)
		if r.code != 1 || !strings.Contains(r.stderr, "back as they were") || !strings.Contains(r.stderr, "new seat was given back") {
			t.Errorf("exit %d %q; want 1 saying the written files were undone and the seat given back", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(h.root, yumRepoPath)); err == nil {
			t.Error("enmei.repo left behind")
		}
		if f.seats() != 0 {
			t.Errorf("%d seats taken after the failed register, want 0", f.seats())
		}
	})
}

func TestUsage(t *testing.T) {
	h := newHost(t, almaRelease)
	tests := []struct {
		name string
		args []string
	}{
		{"no --key", []string{"register", "--server", "http://127.0.0.1:1"}},
		{"no --server", []string{"register", "--key", goodKey}},
		{"empty --key", []string{"register", "--server", "http://127.0.0.1:1", "--key", ""}},
		{"bad --server", []string{"register", "--server", "els.example.jp", "--key", goodKey}},
		{"bad --proxy", []string{"register", "--server", "http://127.0.0.1:1", "--key", goodKey, "--proxy", "socks5://p:1"}},
		{"unknown flag", []string{"register", "--bogus"}},
		{"argument", []string{"unregister", "now"}},
		{"unknown command", []string{"frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.enmei(tt.args...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, "enmei: ") || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--help") {
				t.Errorf("exit %d, stderr %q; want 2 with one line pointing at --help", r.code, r.stderr)
			}
		})
	}
	for _, cmd := range [][]string{{}, {"register"}, {"unregister"}, {"status"}} {
		t.Run("help "+strings.Join(cmd, ""), func(t *testing.T) {
			r := h.enmei(append(cmd, "--help")...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("exit %d, stdout %q", r.code, r.stdout)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, almaRelease)
	h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
	r := h.mustEnmei("status")
	for _, want := range []string{f.url(), "ELS-0001", "2025-04-01 – 2030-03-31", "valid now", "1 of 3 used", "h_0001", "web01.example.jp", "el9-x86_64", "AlmaLinux 9.4 (Seafoam Ocelot)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	r = h.mustEnmei("status", "--json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("status --json is not one JSON object: %v\n%s", err, r.stdout)
	}
	if rep.Server != f.url() || rep.SupportID != "ELS-0001" || rep.HostID != "h_0001" || !rep.Contract.Valid ||
		rep.Contract.SeatsUsed != 1 || len(rep.Repos) != 3 || rep.OS.PrettyName != "AlmaLinux 9.4 (Seafoam Ocelot)" || rep.RegisteredAt.IsZero() {
		t.Errorf("status --json = %+v", rep)
	}
	if !strings.Contains(r.stdout, `"valid":true`) {
		t.Errorf("status --json lacks \"valid\":true: %s", r.stdout)
	}
}

// TestProxy: the API calls go through the proxy from HTTP_PROXY,
// HTTPS_PROXY or --proxy (with Basic proxy authentication), and the proxy
// lands in the package-manager configuration.
func TestProxy(t *testing.T) {
	t.Run("HTTP_PROXY for an http server", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		p := newProxy(t, "", "")
		h := newHost(t, almaRelease)
		h.env["HTTP_PROXY"] = p.url("", "")
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if got := p.requests(); len(got) != 1 || got[0] != "POST "+f.url()+"/api/v1/register" {
			t.Errorf("the proxy saw %v", got)
		}
		if !strings.Contains(h.read(yumRepoPath), "proxy="+p.url("", "")+"\n") {
			t.Errorf("enmei.repo lacks the proxy:\n%s", h.read(yumRepoPath))
		}
	})
	t.Run("https_proxy for an https server", func(t *testing.T) {
		f := newFake(t, true, allRepos)
		p := newProxy(t, "", "")
		h := newHost(t, debianRelease)
		h.env["https_proxy"] = p.url("", "")
		h.env["HTTP_PROXY"] = "http://127.0.0.1:1" // not for https servers
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey, "--ca", f.caFile())
		if got := p.requests(); len(got) != 1 || got[0] != "CONNECT "+strings.TrimPrefix(f.url(), "https://") {
			t.Errorf("the proxy saw %v", got)
		}
		conf := h.read(aptConf)
		if !strings.Contains(conf, "Acquire::https::Proxy::127.0.0.1 \""+p.url("", "")+"\";") || !strings.Contains(conf, "CaInfo") {
			t.Errorf("80enmei lacks the proxy or the CA:\n%s", conf)
		}
	})
	t.Run("NO_PROXY", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		p := newProxy(t, "", "")
		h := newHost(t, almaRelease)
		h.env["HTTP_PROXY"] = p.url("", "")
		h.env["NO_PROXY"] = "localhost,127.0.0.0/8"
		h.mustEnmei("register", "--server", f.url(), "--key", goodKey)
		if got := p.requests(); len(got) != 0 {
			t.Errorf("the proxy saw %v despite NO_PROXY", got)
		}
	})
	t.Run("--proxy with credentials", func(t *testing.T) {
		for _, tlsServer := range []bool{false, true} {
			f := newFake(t, tlsServer, allRepos)
			ca := ""
			if tlsServer {
				ca = f.caFile()
			}
			p := newProxy(t, "proxyuser", "proxy pass")
			h := newHost(t, almaRelease)
			h.env["HTTPS_PROXY"] = "http://127.0.0.1:1" // --proxy wins
			h.env["HTTP_PROXY"] = "http://127.0.0.1:1"
			args := []string{"register", "--server", f.url(), "--key", goodKey}
			if ca != "" {
				args = append(args, "--ca", ca)
			}
			r := h.enmei(append(args, "--proxy", p.url("proxyuser", "wrong"))...)
			if r.code != 4 || !strings.Contains(r.stderr, "proxy") || strings.Contains(r.stderr, "wrong") {
				t.Errorf("wrong proxy password (TLS %v): exit %d %q; want 4 naming the proxy, without the password", tlsServer, r.code, r.stderr)
			}
			h.mustEnmei(append(args, "--proxy", p.url("proxyuser", "proxy%20pass"))...)
			repo := h.read(yumRepoPath)
			for _, want := range []string{"proxy=" + p.url("", "") + "\n", "proxy_username=proxyuser\n", "proxy_password=proxy pass\n"} {
				if !strings.Contains(repo, want) {
					t.Errorf("enmei.repo lacks %q:\n%s", want, repo)
				}
			}
			if n := len(p.requests()); n != 1 {
				t.Errorf("the proxy carried %d authenticated requests, want 1", n)
			}
			// status uses the proxy recorded in host.json.
			h.env = map[string]string{}
			h.mustEnmei("status")
			if n := len(p.requests()); n != 2 {
				t.Errorf("status did not go through the recorded proxy (%d requests)", n)
			}
		}
	})
	t.Run("unreachable proxy", func(t *testing.T) {
		f := newFake(t, false, allRepos)
		h := newHost(t, almaRelease)
		r := h.enmei("register", "--server", f.url(), "--key", goodKey, "--proxy", closedURL(t))
		if r.code != 4 || !strings.Contains(r.stderr, "through the proxy") {
			t.Errorf("exit %d %q; want 4 naming the proxy", r.code, r.stderr)
		}
	})
}

// closedURL is an http URL nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRegisterJSON(t *testing.T) {
	f := newFake(t, false, allRepos)
	h := newHost(t, debianRelease)
	r := h.mustEnmei("--json", "register", "--server", f.url(), "--key", goodKey)
	var rep RegisterReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("register --json: %v\n%s", err, r.stdout)
	}
	if rep.SupportID != "ELS-0001" || rep.HostID != "h_0001" || rep.Reused || rep.Family != "deb" ||
		!slices.Equal(rep.Repos, []string{"deb12"}) || !slices.Equal(rep.Files, h.state().Files) {
		t.Errorf("register --json = %+v", rep)
	}
	if !strings.Contains(r.stderr, "Registered") {
		t.Errorf("the human summary is not on stderr: %q", r.stderr)
	}
}
