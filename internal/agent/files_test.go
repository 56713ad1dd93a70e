package agent

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFilesModes(t *testing.T) {
	for _, umask := range []int{0o022, 0o077, 0o000} {
		t.Run(fs.FileMode(umask).String(), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			root := t.TempDir()
			// An existing file with a looser mode must end up with the new mode.
			writeFile(t, filepath.Join(root, "etc/a/secret"), "old")
			os.Chmod(filepath.Join(root, "etc/a/secret"), 0o666)
			err := writeFiles(root, []file{{"/etc/a/secret", []byte("x"), 0o600}, {"/etc/b/c/public", []byte("y"), 0o644}})
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range map[string]fs.FileMode{"etc/a/secret": 0o600, "etc/b/c/public": 0o644, "etc/b": 0o755 | fs.ModeDir, "etc/b/c": 0o755 | fs.ModeDir} {
				fi, err := os.Stat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode() & (fs.ModePerm | fs.ModeDir); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
			}
			if data, _ := os.ReadFile(filepath.Join(root, "etc/a/secret")); string(data) != "x" {
				t.Errorf("secret = %q, want x", data)
			}
			leftovers, _ := filepath.Glob(filepath.Join(root, "etc/*/.enmei-*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// TestWriteFilesRollback: when a file cannot be put in place, the files this
// call already placed are removed and no temporary file is left.
func TestWriteFilesRollback(t *testing.T) {
	root := t.TempDir()
	// A non-empty directory where the last file goes makes its rename fail
	// after the first file was renamed into place.
	writeFile(t, filepath.Join(root, "etc/enmei/host.json/keep"), "")
	err := writeFiles(root, []file{{"/etc/yum.repos.d/enmei.repo", []byte("x"), 0o600}, {"/etc/enmei/host.json", []byte("{}"), 0o600}})
	if err == nil || !strings.Contains(err.Error(), "back as they were") {
		t.Fatalf("writeFiles = %v, want an error saying the written files were undone", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/yum.repos.d/enmei.repo")); err == nil {
		t.Error("enmei.repo was left behind")
	}
	for _, dir := range []string{"etc/yum.repos.d", "etc/enmei"} {
		if tmp, _ := filepath.Glob(filepath.Join(root, dir, ".enmei-*")); len(tmp) > 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	}
}

// TestWriteFilesRestores: a file a failed call had replaced gets its earlier
// content and mode back, so the previous configuration keeps working.
func TestWriteFilesRestores(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/enmei.repo"), "old")
	os.Chmod(filepath.Join(root, "etc/yum.repos.d/enmei.repo"), 0o600)
	writeFile(t, filepath.Join(root, "etc/enmei/host.json/keep"), "")
	err := writeFiles(root, []file{{"/etc/yum.repos.d/enmei.repo", []byte("new"), 0o644}, {"/etc/enmei/host.json", []byte("{}"), 0o600}})
	if err == nil {
		t.Fatal("writeFiles succeeded")
	}
	fi, err := os.Stat(filepath.Join(root, "etc/yum.repos.d/enmei.repo"))
	if data, _ := os.ReadFile(filepath.Join(root, "etc/yum.repos.d/enmei.repo")); err != nil || string(data) != "old" || fi.Mode().Perm() != 0o600 {
		t.Errorf("enmei.repo after the failed write: %q, %v; want the old content, mode 0600", data, err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, "etc/*/.enmei-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestRemoveFilesOnlyOwnFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0")
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/enmei.repo"), "x")
	writeFile(t, filepath.Join(root, "etc/enmei/host.json"), "{}")
	if err := removeFiles(root, []string{"/etc/passwd", "/etc/yum.repos.d/../passwd", "/etc/yum.repos.d/enmei.repo", "/etc/enmei/host.json", "/etc/apt/keyrings/enmei.gpg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/passwd")); err != nil {
		t.Error("removeFiles removed a file that is not enmei's")
	}
	for _, p := range []string{"etc/yum.repos.d/enmei.repo", "etc/enmei"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}
