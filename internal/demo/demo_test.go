package demo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// need fails the test when a tool it checks the packages with is missing:
// scripts/test installs them, and a check that did not run proves nothing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to check the packages (scripts/test installs it): %v", tool, err)
		}
	}
}

// testSpecs is the catalogue plus packages covering what it does not: every
// architecture, every dependency operator, an epoch above 1, a blank line in
// the description, nested directories and the default compression.
func testSpecs() []Spec {
	return append(Catalogue(),
		Spec{Name: "enmei-test-arm", Epoch: 2, Version: "2.5", Release: "3.el9", Arch: "aarch64",
			Summary: "テスト用パッケージ <&>", Description: "quotes \" and 'apostrophes'\n\nafter a blank line\n",
			Depends: []string{"enmei-demo-lib >= 1.0", "bash", "enmei-demo-doc=1.0-1"},
			Files: map[string]string{"/usr/bin/enmei-arm": "#!/bin/sh\n", "/etc/enmei-arm.conf": "a=1\n",
				"/usr/share/enmei-arm/deep/er/x": "x", "/usr/share/enmei-arm/a": strings.Repeat("あ", 2000)},
			Compression: "zstd"},
		Spec{Name: "enmei-test-i686", Version: "0.1", Release: "1", Arch: "i686",
			Summary: "32-bit", Description: "Only a description line.",
			Depends: []string{"enmei-demo-lib < 2", "enmei-demo-hello > 0.9", "enmei-demo-doc <= 1.0"},
			Files:   map[string]string{"/opt/enmei/bin/run": "#!/bin/sh\n", "/opt/enmei/lib/x.so": "\x00\x01\x02"}},
	)
}

// write saves data under dir and returns the path.
func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRPMsReadByRPM checks the built RPMs with the real rpm: digests,
// identity, epoch, Japanese summary, payload compressor, dependencies with
// their operators, the self-provide with the epoch, file modes and contents.
func TestRPMsReadByRPM(t *testing.T) {
	need(t, "rpm", "rpm2archive", "tar")
	dir := t.TempDir()
	for _, s := range testSpecs() {
		t.Run(s.Name, func(t *testing.T) {
			data, err := RPM(s)
			if err != nil {
				t.Fatalf("RPM(%s): %v", s.Name, err)
			}
			p := write(t, dir, FileName(s, "rpm"), data)
			if out := run(t, "rpm", "-K", "--nosignature", p); !strings.HasSuffix(out, ": digests OK\n") {
				t.Errorf("rpm -K %s = %q", p, out)
			}
			got := run(t, "rpm", "-qp", "--qf", "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SUMMARY}|%{DESCRIPTION}|%{PAYLOADCOMPRESSOR}", p)
			epoch, evr := "(none)", s.Version+"-"+s.Release
			if s.Epoch != 0 {
				epoch = strconv.Itoa(s.Epoch)
				evr = epoch + ":" + evr
			}
			comp := s.Compression
			if comp == "" {
				comp = "gzip"
			}
			want := strings.Join([]string{s.Name, epoch, s.Version, s.Release, s.Arch, s.Summary, strings.TrimRight(s.Description, "\n"), comp}, "|")
			if strings.TrimRight(got, "\n") != want {
				t.Errorf("rpm -qp %s = %q, want %q", p, got, want)
			}

			requires := lines(run(t, "rpm", "-qpR", p))
			for _, d := range s.Depends {
				pd, err := parseDep(d)
				if err != nil {
					t.Fatal(err)
				}
				w := strings.TrimSpace(pd.name + " " + pd.op + " " + pd.version)
				if !requires[w] {
					t.Errorf("rpm -qpR %s = %v, want %q", p, requires, w)
				}
			}
			if comp == "zstd" && !requires["rpmlib(PayloadIsZstd) <= 5.4.18-1"] || comp == "xz" && !requires["rpmlib(PayloadIsXz) <= 5.2-1"] {
				t.Errorf("rpm -qpR %s = %v, lacks the rpmlib payload requirement", p, requires)
			}
			if provides := lines(run(t, "rpm", "-qp", "--provides", p)); !provides[s.Name+" = "+evr] {
				t.Errorf("rpm -qp --provides %s = %v, want %s = %s", p, provides, s.Name, evr)
			}

			modes := run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEMODES:octal} %{FILEUSERNAME}:%{FILEGROUPNAME}\n]", p)
			if modes != wantModes(s, "100", "root:root") {
				t.Errorf("rpm file modes of %s:\n%s\nwant\n%s", p, modes, wantModes(s, "100", "root:root"))
			}
			root := t.TempDir()
			cmd := exec.Command("sh", "-c", `rpm2archive - < "$1" | tar -xzf - -C "$2"`, "sh", p, root)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("rpm2archive %s: %v\n%s", p, err, out)
			}
			checkTree(t, root, s)
		})
	}
}

// TestDebsReadByDpkg checks the built debs with the real dpkg-deb: fields,
// the Debian forms of architecture and dependencies, the Description's
// continuation lines, the data member's compression, file modes, contents
// and md5sums.
func TestDebsReadByDpkg(t *testing.T) {
	need(t, "dpkg-deb", "md5sum")
	dir := t.TempDir()
	files, err := Files("deb")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("Files(deb) = %d files", len(files))
	}
	want := map[string]string{
		"enmei-demo-lib_1.0-1_amd64.deb":     "enmei-demo-lib\n1:1.0-1\namd64\n\n延命デモ用ライブラリ (enmei demo library)\n 延命 (enmei) のデモ用ライブラリです。\n A library for the enmei demo.",
		"enmei-demo-hello_1.0-1_amd64.deb":   "enmei-demo-hello\n1.0-1\namd64\nenmei-demo-lib\nこんにちは from enmei\n Prints a greeting; depends on enmei-demo-lib.",
		"enmei-demo-doc_1.0-1_all.deb":       "enmei-demo-doc\n1.0-1\nall\n\nenmei demo documentation\n Documentation for the enmei demo.",
		"enmei-test-arm_2.5-3.el9_arm64.deb": "enmei-test-arm\n2:2.5-3.el9\narm64\nenmei-demo-lib (>= 1.0), bash, enmei-demo-doc (= 1.0-1)\nテスト用パッケージ <&>\n quotes \" and 'apostrophes'\n .\n after a blank line",
		"enmei-test-i686_0.1-1_i386.deb":     "enmei-test-i686\n0.1-1\ni386\nenmei-demo-lib (<< 2), enmei-demo-hello (>> 0.9), enmei-demo-doc (<= 1.0)\n32-bit\n Only a description line.",
	}
	for _, s := range testSpecs() {
		name := FileName(s, "deb")
		t.Run(name, func(t *testing.T) {
			data, err := Deb(s)
			if err != nil {
				t.Fatalf("Deb(%s): %v", s.Name, err)
			}
			if c, ok := files[name]; ok && !bytes.Equal(c, data) {
				t.Errorf("Files(deb)[%s] differs from Deb()", name)
			}
			p := write(t, dir, name, data)
			got := run(t, "dpkg-deb", "--showformat=${Package}\n${Version}\n${Architecture}\n${Depends}\n${Description}", "-W", p)
			if w, ok := want[name]; !ok || got != w {
				t.Errorf("dpkg-deb -W %s = %q, want %q", name, got, w)
			}
			if out := run(t, "dpkg-deb", "-f", p, "Maintainer", "Installed-Size"); !strings.HasPrefix(out, "Maintainer: enmei demo <demo@enmei.example>\nInstalled-Size: ") {
				t.Errorf("dpkg-deb -f %s = %q", p, out)
			}

			suffix := map[string]string{"": ".gz", "gzip": ".gz", "xz": ".xz", "zstd": ".zst"}[s.Compression]
			if m := arMembers(t, data); strings.Join(m, " ") != "debian-binary control.tar.gz data.tar"+suffix {
				t.Errorf("%s members = %v, want data.tar%s", name, m, suffix)
			}

			var listed []string
			for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", p)), "\n") {
				f := strings.Fields(l)
				if len(f) == 6 && strings.HasPrefix(f[0], "-") {
					listed = append(listed, strings.TrimPrefix(f[5], ".")+" "+f[0]+" "+f[1])
				}
			}
			var wantList []string
			for _, fp := range sortedPaths(s) {
				mode := "-rw-r--r--"
				if strings.Contains(fp, "/bin/") {
					mode = "-rwxr-xr-x"
				}
				wantList = append(wantList, fp+" "+mode+" root/root")
			}
			if strings.Join(listed, "\n") != strings.Join(wantList, "\n") {
				t.Errorf("dpkg-deb -c %s files:\n%s\nwant\n%s", name, strings.Join(listed, "\n"), strings.Join(wantList, "\n"))
			}

			root := t.TempDir()
			run(t, "dpkg-deb", "-x", p, root)
			checkTree(t, root, s)
			ctrl := t.TempDir()
			run(t, "dpkg-deb", "-e", p, ctrl)
			cmd := exec.Command("md5sum", "-c", "--quiet", filepath.Join(ctrl, "md5sums"))
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("md5sum -c: %v\n%s", err, out)
			}
		})
	}
}

// TestDeterministic: the same Spec gives the same bytes, whatever order the
// Files map iterates in.
func TestDeterministic(t *testing.T) {
	for _, s := range testSpecs() {
		for _, format := range []string{"rpm", "deb"} {
			build := RPM
			if format == "deb" {
				build = Deb
			}
			a, err := build(s)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				b, err := build(s)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Fatalf("%s %s differs between builds", format, s.Name)
				}
			}
		}
	}
}

// TestNewerRelease builds the release the upgrade tests publish.
func TestNewerRelease(t *testing.T) {
	need(t, "rpm")
	s := Catalogue()[0]
	s.Release = "2"
	data, err := RPM(s)
	if err != nil {
		t.Fatal(err)
	}
	p := write(t, t.TempDir(), "x.rpm", data)
	if out := run(t, "rpm", "-qp", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}", p); out != "1:1.0-2" {
		t.Errorf("newer release = %q; want 1:1.0-2", out)
	}
}

// TestRefusesBadSpecs: mistakes are errors naming the package, in both
// formats, rather than packages rpm or dpkg would reject later.
func TestRefusesBadSpecs(t *testing.T) {
	good := Catalogue()[1]
	cases := map[string]func(*Spec){
		"no version":       func(s *Spec) { s.Version = "" },
		"negative epoch":   func(s *Spec) { s.Epoch = -1 },
		"unknown arch":     func(s *Spec) { s.Arch = "sparc" },
		"no arch":          func(s *Spec) { s.Arch = "" },
		"unknown compress": func(s *Spec) { s.Compression = "bzip2" },
		"bad dependency":   func(s *Spec) { s.Depends = []string{"a >= "} },
		"relative path":    func(s *Spec) { s.Files = map[string]string{"usr/bin/x": ""} },
		"unclean path":     func(s *Spec) { s.Files = map[string]string{"/usr/../etc/x": ""} },
	}
	for name, mutate := range cases {
		s := good
		mutate(&s)
		if _, err := RPM(s); err == nil || !strings.Contains(err.Error(), good.Name) {
			t.Errorf("RPM(%s) = %v, want an error naming the package", name, err)
		}
		if _, err := Deb(s); err == nil || !strings.Contains(err.Error(), good.Name) {
			t.Errorf("Deb(%s) = %v, want an error naming the package", name, err)
		}
	}
	if _, err := Files("tar"); err == nil {
		t.Error(`Files("tar") succeeded`)
	}
}

func lines(s string) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		out[strings.TrimSpace(l)] = true
	}
	return out
}

func sortedPaths(s Spec) []string {
	var out []string
	for p := range s.Files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// wantModes is rpm's "[path mode owner]" listing of the spec's files.
func wantModes(s Spec, typ, owner string) string {
	var b strings.Builder
	for _, p := range sortedPaths(s) {
		mode := "644"
		if strings.Contains(p, "/bin/") {
			mode = "755"
		}
		b.WriteString(p + " " + typ + mode + " " + owner + "\n")
	}
	return b.String()
}

// checkTree compares an unpacked package with the spec's files.
func checkTree(t *testing.T, root string, s Spec) {
	t.Helper()
	for p, want := range s.Files {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != want {
			t.Errorf("unpacked %s = %q, %v; want %q", p, got, err, want)
		}
	}
}

// arMembers lists the member names of an ar archive.
func arMembers(t *testing.T, data []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("!<arch>\n")) {
		t.Fatal("not an ar archive")
	}
	var names []string
	for rest := data[8:]; len(rest) >= 60; {
		size, err := strconv.Atoi(strings.TrimSpace(string(rest[48:58])))
		if err != nil {
			t.Fatalf("ar member size: %v", err)
		}
		names = append(names, strings.TrimSpace(string(rest[:16])))
		rest = rest[min(len(rest), 60+size+size%2):]
	}
	return names
}
