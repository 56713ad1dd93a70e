package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startTinyproxy runs the real tinyproxy on a free port, with Basic auth
// when user is set, and returns its address and log file.
func startTinyproxy(t *testing.T, user, pass string) (addr, logFile string) {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o777))
	addr = freePort(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	logFile = filepath.Join(dir, "tinyproxy.log")
	conf := fmt.Sprintf("Port %s\nListen 127.0.0.1\nTimeout 60\nLogFile %q\nLogLevel Info\nMaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n", port, logFile)
	if user != "" {
		conf += fmt.Sprintf("BasicAuth %s %s\n", user, pass)
	}
	confFile := filepath.Join(dir, "tinyproxy.conf")
	must(t, os.WriteFile(confFile, []byte(conf), 0o644))
	cmd := exec.Command("tinyproxy", "-d", "-c", confFile)
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := netDial(addr); err == nil {
			c.Close()
			return addr, logFile
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tinyproxy did not start")
	return "", ""
}

// TestProxy: register and dnf go through a real HTTP proxy — with Basic
// proxy authentication from --proxy, and from HTTP_PROXY in the environment —
// and an unreachable proxy is exit 4.
func TestProxy(t *testing.T) {
	v, c := demoVendor(t, "el9", 5)

	t.Run("flag with auth", func(t *testing.T) {
		addr, logFile := startTinyproxy(t, "proxyuser", "proxypass")
		h := newHost(t, almaRelease, machineID(1000))
		if r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey, "--proxy", "http://proxyuser:wrong@"+addr); r.code != 4 {
			t.Errorf("register with a wrong proxy password: exit %d, want 4\n%s", r.code, r.stderr)
		}
		h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey, "--proxy", "http://proxyuser:proxypass@"+addr)
		conf, err := os.ReadFile(filepath.Join(h.root, "etc/yum.repos.d/enmei.repo"))
		must(t, err)
		if !strings.Contains(string(conf), "proxy=http://"+addr) || !strings.Contains(string(conf), "proxy_username=proxyuser") {
			t.Errorf("enmei.repo lacks the proxy:\n%s", conf)
		}
		if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
			t.Fatalf("dnf through the proxy: %v\n%s", err, out)
		}
		log, _ := os.ReadFile(logFile)
		for _, want := range []string{"/api/v1/register", "repomd.xml", ".rpm"} {
			if !strings.Contains(string(log), want) {
				t.Errorf("the proxy did not carry %s; its log:\n%s", want, log)
			}
		}
	})
	t.Run("environment", func(t *testing.T) {
		addr, logFile := startTinyproxy(t, "", "")
		h := newHost(t, almaRelease, machineID(1001))
		h.env = []string{"HTTP_PROXY=http://" + addr}
		h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
		log, _ := os.ReadFile(logFile)
		if !strings.Contains(string(log), "/api/v1/register") {
			t.Errorf("HTTP_PROXY was not used; proxy log:\n%s", log)
		}
	})
	t.Run("unreachable proxy", func(t *testing.T) {
		h := newHost(t, almaRelease, machineID(1002))
		r := h.enmei("register", "--server", v.url, "--key", c.LicenseKey, "--proxy", "http://"+freePort(t))
		if r.code != 4 || !strings.Contains(r.stderr, "proxy") {
			t.Errorf("register through a closed proxy port: exit %d %q, want 4 naming the proxy", r.code, r.stderr)
		}
	})
}
