package rpm

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/demo"
)

// buildSRPM makes a source RPM with the real rpmbuild; nosource leaves its
// tarball out (a nosrc package).
func buildSRPM(t *testing.T, nosource bool) []byte {
	t.Helper()
	top := t.TempDir()
	for _, d := range []string{"SOURCES", "SPECS", "SRPMS"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(top, "SOURCES", "gpl-1.0.tar.gz"), []byte("not really a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := "Name: gpl\nVersion: 1.0\nRelease: 2\nSummary: sources\nLicense: GPL-2.0-only\nSource0: gpl-1.0.tar.gz\nBuildRequires: make >= 4\n"
	if nosource {
		spec += "NoSource: 0\n"
	}
	spec += "%description\nsources\n%files\n"
	if err := os.WriteFile(filepath.Join(top, "SPECS", "gpl.spec"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("rpmbuild", "-bs", "--define", "_topdir "+top, filepath.Join(top, "SPECS", "gpl.spec"))
	cmd.Env = append(os.Environ(), "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild -bs: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(top, "SRPMS", "*.rpm"))
	if len(files) != 1 {
		t.Fatalf("rpmbuild made %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSourceRPM: ReadHeader and Sign refuse source RPMs; ReadAnyHeader and
// SignAny take them, as arch src (nosrc without their sources), signed so
// the real rpm verifies them.
func TestSourceRPM(t *testing.T) {
	a, _ := keys(t)
	for _, tt := range []struct {
		nosource bool
		arch     string
	}{{false, "src"}, {true, "nosrc"}} {
		data := buildSRPM(t, tt.nosource)
		if _, err := ReadHeader(bytes.NewReader(data)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "it is a source RPM") {
			t.Errorf("ReadHeader of a source RPM: %v", err)
		}
		if _, err := Sign(bytes.NewReader(data), &bytes.Buffer{}, a); !errors.Is(err, ErrInvalid) {
			t.Errorf("Sign of a source RPM: %v", err)
		}
		h, err := ReadAnyHeader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("ReadAnyHeader: %v", err)
		}
		if !h.Source || h.Arch != tt.arch || h.Filename() != "gpl-1.0-2."+tt.arch+".rpm" || h.SourceRPM != "" {
			t.Errorf("source header: source %v arch %q file %q sourcerpm %q", h.Source, h.Arch, h.Filename(), h.SourceRPM)
		}
		var signed bytes.Buffer
		sh, err := SignAny(bytes.NewReader(data), &signed, a)
		if err != nil {
			t.Fatalf("SignAny: %v", err)
		}
		if !sh.Source || sh.Arch != tt.arch {
			t.Errorf("SignAny header: %+v", sh)
		}
		p := filepath.Join(t.TempDir(), h.Filename())
		if err := os.WriteFile(p, signed.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("rpm", "--dbpath", rpmdb(t, a), "-K", p).CombinedOutput(); err != nil || !strings.Contains(string(out), "signatures OK") {
			t.Errorf("rpm -K of the signed source RPM: %v\n%s", err, out)
		}
		e, err := Entry(sh, strings.Repeat("0", 64), int64(signed.Len()), "Packages/g/"+h.Filename(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<arch>" + tt.arch + "</arch>", `<rpm:entry name="make" flags="GE" epoch="0" ver="4"/>`, "<rpm:sourcerpm></rpm:sourcerpm>"} {
			if !bytes.Contains(e, []byte(want)) {
				t.Errorf("entry lacks %q:\n%s", want, e)
			}
		}
		// Binary RPMs read the same either way.
		bin, err := demo.RPM(demo.Catalogue()[1])
		if err != nil {
			t.Fatal(err)
		}
		if h, err := ReadAnyHeader(bytes.NewReader(bin)); err != nil || h.Source {
			t.Errorf("ReadAnyHeader of a binary RPM: %v, source %v", err, h != nil && h.Source)
		}
	}
}
