package demo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRPMsReadByRPM checks the built RPMs with the real rpm: identity,
// epoch, Japanese summary, payload compressor and dependencies.
func TestRPMsReadByRPM(t *testing.T) {
	dir := t.TempDir()
	for _, s := range Catalogue() {
		data, err := RPM(s)
		if err != nil {
			t.Fatalf("RPM(%s): %v", s.Name, err)
		}
		p := filepath.Join(dir, FileName(s, "rpm"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("rpm", "-qp", "--qf", "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SUMMARY}|%{PAYLOADCOMPRESSOR}", p).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qp %s: %v\n%s", p, err, out)
		}
		epoch := "(none)"
		if s.Epoch != 0 {
			epoch = "1"
		}
		comp := s.Compression
		want := strings.Join([]string{s.Name, epoch, s.Version, s.Release, s.Arch, s.Summary, comp}, "|")
		if string(out) != want {
			t.Errorf("rpm -qp %s = %q, want %q", p, out, want)
		}
		req, err := exec.Command("rpm", "-qpR", p).CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range s.Depends {
			if !strings.Contains(string(req), d) {
				t.Errorf("rpm -qpR %s = %q, want %s", p, req, d)
			}
		}
	}
}

// TestDebsReadByDpkg checks the built debs with the real dpkg-deb.
func TestDebsReadByDpkg(t *testing.T) {
	dir := t.TempDir()
	files, err := Files("deb")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"enmei-demo-lib_1.0-1_amd64.deb":   "enmei-demo-lib\n1:1.0-1\namd64\n",
		"enmei-demo-hello_1.0-1_amd64.deb": "enmei-demo-hello\n1.0-1\namd64\nenmei-demo-lib\n",
		"enmei-demo-doc_1.0-1_all.deb":     "enmei-demo-doc\n1.0-1\nall\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("dpkg-deb", "--showformat=${Package}\n${Version}\n${Architecture}\n${Depends}", "-W", p).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb -W %s: %v\n%s", p, err, out)
		}
		got := strings.ReplaceAll(string(out), "\t", "")
		if w, ok := want[name]; !ok || strings.TrimRight(got, "\n")+"\n" != w {
			t.Errorf("dpkg-deb -W %s = %q, want %q", name, got, w)
		}
		list, err := exec.Command("dpkg-deb", "-c", p).CombinedOutput()
		if err != nil || !strings.Contains(string(list), "./usr/") {
			t.Errorf("dpkg-deb -c %s = %q, %v", name, list, err)
		}
	}
}

// TestNewerRelease builds the release the upgrade tests publish.
func TestNewerRelease(t *testing.T) {
	s := Catalogue()[0]
	s.Release = "2"
	data, err := RPM(s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.rpm")
	os.WriteFile(p, data, 0o644)
	out, err := exec.Command("rpm", "-qp", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}", p).CombinedOutput()
	if err != nil || string(out) != "1:1.0-2" {
		t.Errorf("newer release = %q, %v; want 1:1.0-2", out, err)
	}
}
