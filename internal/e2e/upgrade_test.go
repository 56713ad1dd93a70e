package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/store/sqlstore"
)

// previousBinary builds enmeid at the newest commit whose schema has fewer
// steps than this one: the release before the latest schema change.
func previousBinary(t *testing.T) (string, string) {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("the upgrade test needs the git history of the repository: %v", err)
	}
	top := strings.TrimSpace(string(root))
	const file = "internal/store/sqlstore/sqlstore.go"
	out, err := exec.Command("git", "-C", top, "log", "--format=%H", "--", file).Output()
	must(t, err)
	for _, c := range strings.Fields(string(out)) {
		src, err := exec.Command("git", "-C", top, "show", c+":"+file).Output()
		must(t, err)
		if steps(string(src)) >= len(sqlstore.Schema) {
			continue
		}
		dir := filepath.Join(t.TempDir(), "prev")
		if b, err := exec.Command("git", "-C", top, "worktree", "add", "--detach", dir, c).CombinedOutput(); err != nil {
			t.Fatalf("git worktree add: %v\n%s", err, b)
		}
		t.Cleanup(func() { exec.Command("git", "-C", top, "worktree", "remove", "--force", dir).Run() })
		bin := filepath.Join(t.TempDir(), "enmeid-prev")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/enmeid")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building enmeid at %s: %v\n%s", c, err, b)
		}
		return bin, c
	}
	t.Fatal("no commit with an older schema in the history")
	return "", ""
}

// steps counts the migration steps of a version of sqlstore.go.
func steps(src string) int {
	i := strings.Index(src, "var Schema = []string{")
	if i < 0 {
		return 0
	}
	body := src[i:]
	body = body[:strings.Index(body, "\n`}")]
	return strings.Count(body, "\n`, `") + 1
}

// TestPreviousReleaseOnNewSchema: the schema steps are additive, so the
// enmeid of the previous schema keeps serving — registrations and real dnf
// installs — on a database this version migrated, as replicas of a rolling
// upgrade do.
func TestPreviousReleaseOnNewSchema(t *testing.T) {
	prev, commit := previousBinary(t)
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir) // this version migrates and publishes
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))

	old := &vendor{t: t, data: v.data, extra: v.extra}
	addr := freePort(t)
	cmd := exec.Command(prev, "serve", "--addr", addr)
	cmd.Env = append(cleanEnv(), old.env()...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("previous enmeid (%s) log:\n%s", commit, logs.String())
		}
	})
	waitPort(t, addr)
	url := "http://" + addr
	h := newHost(t, almaRelease, machineID(300))
	h.mustEnmei("register", "--server", url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install from the previous enmeid on the new schema: %v\n%s", err, out)
	}
	if got := fmt.Sprint(steps(mustRead(t, "../store/sqlstore/sqlstore.go"))); got != fmt.Sprint(len(sqlstore.Schema)) {
		t.Fatalf("the step counter reads %s steps in this version, the schema has %d", got, len(sqlstore.Schema))
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	must(t, err)
	return string(b)
}
