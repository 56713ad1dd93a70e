package pkgfacts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
)

// buildDeb builds a package with the real dpkg-deb: /usr/bin/app, a nested
// data file, a symbolic link, and copyright at /usr/share/doc/app/copyright
// (none when ""), compressed with z (-Zxz …).
func buildDeb(t *testing.T, z, copyright string) []byte {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	files := map[string]string{
		"DEBIAN/control":           "Package: app\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDepends: libc6\nDescription: an app\n",
		"usr/bin/app":              "#!/bin/sh\necho app\n",
		"usr/share/app/data/a.txt": "data\n",
	}
	if copyright != "" {
		files["usr/share/doc/app/copyright"] = copyright
	}
	for p, body := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("app", filepath.Join(tree, "usr/bin/app-link")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", z, "--build", tree, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestFromDebContents: facts of a deb read with its contents carry the
// licence of a DEP-5 copyright file ("" for one that is not
// machine-readable, or none) and every file with its digest; facts of a deb
// read by plain Inspect carry neither.
func TestFromDebContents(t *testing.T) {
	const dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2026 x\nLicense: GPL-2+ or MIT\n\nFiles: debian/*\nLicense: Expat\n"
	const prose = "This package was debianized by x.\n\nLicense: GPL version 2 or later.\n"
	for _, c := range []struct{ z, copyright, license string }{
		{"-Zxz", dep5, "(GPL-2+ OR MIT) AND Expat"},
		{"-Zzstd", prose, ""},
		{"-Zgzip", "", ""},
	} {
		t.Run(c.z, func(t *testing.T) {
			data := buildDeb(t, c.z, c.copyright)
			info, err := deb.InspectContents(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			f := FromDeb(info)
			if f.License != c.license {
				t.Errorf("License = %q, want %q", f.License, c.license)
			}
			want := []File{{"/usr/bin/app", sha("#!/bin/sh\necho app\n")}, {"/usr/bin/app-link", ""}, {"/usr/share/app/data/a.txt", sha("data\n")}}
			if c.copyright != "" {
				want = append(want, File{"/usr/share/doc/app/copyright", sha(c.copyright)})
			}
			if !reflect.DeepEqual(f.Files, want) {
				t.Errorf("Files = %+v\nwant %+v", f.Files, want)
			}
			if f.Name != "app" || f.Version != "1.0-1" || !reflect.DeepEqual(f.Requires, []string{"libc6"}) || f.SHA256 != info.SHA256 {
				t.Errorf("facts = %+v", f)
			}

			plain, err := deb.Inspect(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if p := FromDeb(plain); p.License != "" || p.Files != nil || p.SHA256 != f.SHA256 {
				t.Errorf("facts without contents = %+v", p)
			}
		})
	}
}

// TestFromDebIncompleteList: a list cut at a bound is left out rather than
// passed off as the whole package; a path no SBOM can carry is dropped.
func TestFromDebIncompleteList(t *testing.T) {
	info := &deb.Info{Package: "app", Version: "1", Architecture: "all", Control: []byte("Package: app\n"),
		Contents: &deb.Contents{Files: []deb.DataFile{{Path: "/a", SHA256: sha("a")}, {Path: "/b\nc"}},
			Copyright: []byte("Format: dep5\n\nFiles: *\nLicense: MIT\n")}}
	if f := FromDeb(info); f.License != "MIT" || !reflect.DeepEqual(f.Files, []File{{"/a", sha("a")}}) {
		t.Errorf("facts = %+v", f)
	}
	info.Contents.Incomplete = "its data.tar.zst unpacks to more than …"
	if f := FromDeb(info); f.License != "MIT" || f.Files != nil {
		t.Errorf("facts of an incomplete list = %+v", f)
	}
}
