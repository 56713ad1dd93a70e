package inventory

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// needTool fails the test when a tool the test drives is missing: these
// tests check enmei against the real rpm and dpkg, never skip.
func needTool(t testing.TB, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not found: install %s (apt-get install %s)", tool, pkg, pkg)
	}
}

// run runs a command and returns its standard output; a failure fails the
// test with everything it printed.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// unxz decompresses a fixture from testdata into dst, creating its
// directory.
func unxz(t testing.TB, fixture, dst string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, r); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// samePackages fails the test with the first difference between two
// package lists.
func samePackages(t testing.TB, got, want []Package) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			t.Fatalf("package %d missing: want %s", i, describe(want[i]))
		case i >= len(want):
			t.Fatalf("package %d extra: got %s", i, describe(got[i]))
		case !reflect.DeepEqual(got[i], want[i]):
			g, w := got[i], want[i]
			gf, wf := g.Files, w.Files
			g.Files, w.Files = nil, nil
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("package %d:\n got %+v\nwant %+v", i, g, w)
			}
			for j := 0; j < len(gf) || j < len(wf); j++ {
				var a, b File
				if j < len(gf) {
					a = gf[j]
				}
				if j < len(wf) {
					b = wf[j]
				}
				if a != b {
					t.Fatalf("package %s file %d: got %+v, want %+v (got %d files, want %d)", g.Name, j, a, b, len(gf), len(wf))
				}
			}
			t.Fatalf("package %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

func describe(p Package) string {
	return fmt.Sprintf("%s %s %s (%d files)", p.Name, p.EVR(), p.Arch, len(p.Files))
}
