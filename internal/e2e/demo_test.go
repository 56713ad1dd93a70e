package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var registerLine = regexp.MustCompile(`enmei register --server (\S+) --key (\S+)`)

// startDemo runs `enmeid serve --demo` and returns the register lines it printed.
func startDemo(t *testing.T, data string) (lines [][]string, stop func()) {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin.enmeid, "serve", "--demo", "--addr", addr)
	cmd.Env = append(cleanEnv(), "ENMEI_DATA="+data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if m := registerLine.FindAllStringSubmatch(out.String(), -1); len(m) >= 2 && strings.Contains(out.String(), "apt-get") {
			return m, stop
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	t.Fatalf("serve --demo printed no register lines:\n%s", out.String())
	return nil, nil
}

// TestDemo: the quick start works — the demo prints a register line and a
// dnf line that, followed on a scratch root, install the demo package; a
// second start seeds nothing new and prints the same key.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	lines, stop := startDemo(t, data)
	server, rpmKey := lines[0][1], lines[0][2]
	h := newHost(t, almaRelease, machineID(800))
	h.mustEnmei("register", "--server", server, "--key", rpmKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install from the demo: %v\n%s", err, out)
	}
	out, err := exec.Command("rpm", "--root", h.root, "-q", "--qf", "%{SUMMARY}", "enmei-demo-lib").CombinedOutput()
	if err != nil || !strings.ContainsAny(string(out), "延命デモ") {
		t.Errorf("demo lib summary = %q, %v; want the Japanese summary intact", out, err)
	}
	stop()
	again, stop2 := startDemo(t, data)
	defer stop2()
	if again[0][2] != rpmKey || again[1][2] != lines[1][2] {
		t.Errorf("restarted demo printed other keys: %v then %v", lines, again)
	}
}
