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

var (
	registerLine  = regexp.MustCompile(`enmei register --server (\S+) --key (\S+)`)
	developerLine = regexp.MustCompile(`account (dev-\S+), password (\S+)`)
)

// startDemo runs `enmeid serve --demo` and returns the register lines it
// printed, then the developer account line.
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
		text := out.String()
		if m := registerLine.FindAllStringSubmatch(text, -1); len(m) >= 2 && strings.Contains(text, "Vendor console") {
			if d := developerLine.FindStringSubmatch(text); d != nil {
				return append(m, d), stop
			}
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
	// The developer plan: the printed account reads the demo's Maven repository.
	dev := lines[len(lines)-1]
	resp, body := get(t, "GET", server+"/maven/demo-java-1.0/jp/example/demo/demo-lib/maven-metadata.xml", dev[1], dev[2], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<release>1.0.1-els1</release>") {
		t.Errorf("the demo Maven repository with the printed account: %d %s", resp.StatusCode, body)
	}
	stop()
	again, stop2 := startDemo(t, data)
	defer stop2()
	if again[0][2] != rpmKey || again[1][2] != lines[1][2] || again[2][1] != dev[1] {
		t.Errorf("restarted demo printed other keys: %v then %v", lines, again)
	}
}
