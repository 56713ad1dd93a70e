package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	ctx := context.Background()
	t.Setenv("CIB_file", "")
	os.Unsetenv("CIB_file") // t.Setenv restores it
	noCrmMon := func(string) (string, error) { return "", errors.New("not found") }
	mkfile := func(root, p string) {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), nil, 0o755)
	}
	kind := func(c Cluster) string {
		if c == nil {
			return "none"
		}
		return c.Kind()
	}

	// crm_mon is installed here, but no cluster runs: nothing.
	if c, err := Detect(ctx, DetectOptions{Root: t.TempDir()}); err != nil || c != nil {
		t.Errorf("no cluster: %v, %v", kind(c), err)
	}
	c, err := Detect(ctx, DetectOptions{Root: t.TempDir(), Env: []string{"CIB_file=/tmp/x.xml"}})
	if err != nil || kind(c) != "pacemaker" || c.(*Pacemaker).CIBFile() != "/tmp/x.xml" {
		t.Errorf("CIB_file: %v, %v", kind(c), err)
	}
	if c, err := Detect(ctx, DetectOptions{Root: t.TempDir(), Env: []string{"CIB_file=/tmp/x.xml"}, LookPath: noCrmMon}); err != nil || c != nil {
		t.Errorf("CIB_file without crm_mon: %v, %v", kind(c), err)
	}
	root := t.TempDir()
	mkfile(root, pacemakerCIB)
	if c, err := Detect(ctx, DetectOptions{Root: root}); err != nil || kind(c) != "pacemaker" {
		t.Errorf("a node's CIB: %v, %v", kind(c), err)
	}

	root = t.TempDir()
	mkfile(root, "/opt/LifeKeeper/bin/lcdstatus")
	c, err = Detect(ctx, DetectOptions{Root: root})
	if err != nil || kind(c) != "lifekeeper" {
		t.Fatalf("LifeKeeper: %v, %v", kind(c), err)
	}
	if k := c.(*LifeKeeper); k.Bin != filepath.Join(root, "/opt/LifeKeeper/bin") || k.LockPath != filepath.Join(root, LifeKeeperLockPath) {
		t.Errorf("LifeKeeper paths: %+v", k)
	}
	// Pacemaker wins when both are there.
	mkfile(root, pacemakerCIB)
	if c, err := Detect(ctx, DetectOptions{Root: root}); err != nil || kind(c) != "pacemaker" {
		t.Errorf("both: %v, %v", kind(c), err)
	}
	if c, err := Detect(ctx, DetectOptions{Root: root, LookPath: noCrmMon}); err != nil || kind(c) != "lifekeeper" {
		t.Errorf("both without crm_mon: %v, %v", kind(c), err)
	}
}

// Every adapter is a Cluster.
var (
	_ Cluster = (*Pacemaker)(nil)
	_ Cluster = (*LifeKeeper)(nil)
)

func TestExecRunner(t *testing.T) {
	ctx := context.Background()
	out, err := ExecRunner{Env: []string{"ENMEI_X=1"}}.Run(ctx, "sh", "-c", `echo "$ENMEI_X"`)
	if err != nil || string(out) != "1\n" {
		t.Errorf("env: %q, %v", out, err)
	}
	_, err = ExecRunner{}.Run(ctx, "sh", "-c", "echo one >&2; echo two >&2; echo one >&2; exit 3")
	var te *ToolError
	if !errors.As(err, &te) || te.Code != 3 || te.Stderr != "one; two" {
		t.Errorf("failure: %#v", err)
	}
	if err.Error() != `sh -c "echo one >&2; echo two >&2; echo one >&2; exit 3": exit status 3: one; two` {
		t.Errorf("message: %q", err)
	}
	// A tool's children die with it when the context ends.
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ExecRunner{}.Run(ctx, "sh", "-c", "sleep 30 & sleep 30; wait")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(start))
	}
}
