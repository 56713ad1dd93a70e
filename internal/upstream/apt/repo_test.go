package apt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/enmei-project/enmei/internal/demo"
)

// The upstream repositories of these tests are made as a community archive
// makes them: .debs in pool/, apt-ftparchive for Packages, Sources and
// Release, xz and gzip, gpg for InRelease and Release.gpg.

// gnupg is a throw-away GnuPG home with two signing keys: good, whose
// public key the tests trust, and bad, which nobody trusts.
var gnupg struct {
	home      string
	good, bad string // fingerprints
	keyring   openpgp.EntityList
}

func TestMain(m *testing.M) {
	code, err := withGnuPG(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func withGnuPG(m *testing.M) (int, error) {
	for _, tool := range []string{"gpg", "gpgconf", "apt-ftparchive", "dpkg-source", "xz", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("these tests need %s (apt-ftparchive is in apt-utils): %v", tool, err)
		}
	}
	// A short path: gpg-agent's socket lives there, and socket paths are
	// limited to about 100 bytes.
	home, err := os.MkdirTemp("", "aptgpg")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(home)
	gnupg.home = home
	defer exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
	for _, who := range []struct {
		email string
		fpr   *string
	}{{"good@upstream.example", &gnupg.good}, {"bad@upstream.example", &gnupg.bad}} {
		if out, err := gpgCmd("", "--passphrase", "", "--pinentry-mode", "loopback",
			"--quick-gen-key", "Upstream <"+who.email+">", "ed25519", "sign", "never").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("gpg --quick-gen-key: %v\n%s", err, out)
		}
		out, err := gpgCmd("", "--with-colons", "--list-keys", who.email).Output()
		if err != nil {
			return 0, fmt.Errorf("gpg --list-keys: %v", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Split(line, ":"); f[0] == "fpr" && *who.fpr == "" {
				*who.fpr = f[9]
			}
		}
	}
	pub, err := gpgCmd("", "--export", gnupg.good).Output()
	if err != nil {
		return 0, fmt.Errorf("gpg --export: %v", err)
	}
	if gnupg.keyring, err = openpgp.ReadKeyRing(bytes.NewReader(pub)); err != nil {
		return 0, fmt.Errorf("reading the exported key: %v", err)
	}
	return m.Run(), nil
}

func gpgCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("gpg", append([]string{"--homedir", gnupg.home, "--batch", "--yes", "--quiet"}, args...)...)
	cmd.Dir = dir
	return cmd
}

// repo is an upstream APT repository on disk.
type repo struct {
	t               *testing.T
	root            string
	suite, codename string
	signer          string // fingerprint; "" leaves the suite unsigned
	noInRelease     bool   // only Release and Release.gpg
	validTime       string // seconds from Date to Valid-Until; "" for none
	byHash          bool
	debs            map[string][]byte // path under root → content
}

func newRepo(t *testing.T) *repo {
	return &repo{t: t, root: t.TempDir(), suite: "stable", codename: "trixie", signer: gnupg.good, debs: map[string][]byte{}}
}

func run(t *testing.T, dir string, cmd *exec.Cmd) []byte {
	t.Helper()
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return out
}

func (r *repo) write(rel string, data []byte) {
	r.t.Helper()
	p := filepath.Join(r.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// addDeb builds the package and puts it in the pool; it returns its path.
func (r *repo) addDeb(name, version, arch string, files map[string]string) string {
	r.t.Helper()
	spec := demo.Spec{Name: name, Version: version, Release: "1", Arch: arch, Summary: name + " for tests",
		Description: "A package of the test upstream.", Files: files}
	data, err := demo.Deb(spec)
	if err != nil {
		r.t.Fatal(err)
	}
	rel := "pool/main/" + name[:1] + "/" + name + "/" + demo.FileName(spec, "deb")
	r.write(rel, data)
	r.debs[rel] = data
	return rel
}

// addSource builds a 3.0 (quilt) source package with dpkg-source: an
// .orig.tar.gz, a .debian.tar.xz and the .dsc.
func (r *repo) addSource(name, version string) {
	r.t.Helper()
	work := r.t.TempDir()
	src := filepath.Join(work, name+"-"+version)
	for p, body := range map[string]string{
		"hello.sh": "echo hello\n",
	} {
		if err := os.MkdirAll(src, 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	run(r.t, work, exec.Command("tar", "czf", name+"_"+version+".orig.tar.gz", name+"-"+version))
	for p, body := range map[string]string{
		"debian/source/format": "3.0 (quilt)\n",
		"debian/control": "Source: " + name + "\nMaintainer: Upstream <good@upstream.example>\nSection: misc\nPriority: optional\nStandards-Version: 4.6.2\n\n" +
			"Package: " + name + "\nArchitecture: all\nDescription: test\n test package\n",
		"debian/changelog": name + " (" + version + "-1) unstable; urgency=medium\n\n  * Initial.\n\n -- Upstream <good@upstream.example>  Mon, 01 Jan 2024 00:00:00 +0000\n",
		"debian/rules":     "#!/usr/bin/make -f\n%:\n\tdh $@\n",
	} {
		p = filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	run(r.t, work, exec.Command("dpkg-source", "-b", name+"-"+version))
	matches, _ := filepath.Glob(filepath.Join(work, name+"_*"))
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			r.t.Fatal(err)
		}
		r.write("pool/main/"+name[:1]+"/"+name+"/"+filepath.Base(m), data)
	}
}

// publish writes the indexes and the signed Release anew.
func (r *repo) publish() {
	r.t.Helper()
	dists := "dists/" + r.suite
	distDir := filepath.Join(r.root, dists)
	for _, f := range []string{"InRelease", "Release", "Release.gpg"} {
		os.Remove(filepath.Join(distDir, f))
	}
	var indexes []string
	index := func(rel string, data []byte) {
		r.write(dists+"/"+rel, data)
		indexes = append(indexes, rel)
		dir := filepath.Join(distDir, filepath.FromSlash(filepath.Dir(rel)))
		run(r.t, dir, exec.Command("xz", "-kf", filepath.Base(rel)))
		run(r.t, dir, exec.Command("gzip", "-kfn9", filepath.Base(rel)))
		indexes = append(indexes, rel+".xz", rel+".gz")
	}
	index("main/binary-amd64/Packages", run(r.t, r.root, exec.Command("apt-ftparchive", "--arch", "amd64", "packages", "pool/main")))
	if m, _ := filepath.Glob(filepath.Join(r.root, "pool/main/*/*/*.dsc")); len(m) > 0 {
		index("main/source/Sources", run(r.t, r.root, exec.Command("apt-ftparchive", "sources", "pool/main")))
	}
	args := []string{
		"-o", "APT::FTPArchive::Release::Origin=Upstream", "-o", "APT::FTPArchive::Release::Suite=" + r.suite,
		"-o", "APT::FTPArchive::Release::Codename=" + r.codename, "-o", "APT::FTPArchive::Release::Architectures=amd64",
		"-o", "APT::FTPArchive::Release::Components=main",
	}
	if r.validTime != "" {
		args = append(args, "-o", "APT::FTPArchive::Release::ValidTime="+r.validTime)
	}
	if r.byHash {
		args = append(args, "-o", "APT::FTPArchive::Release::Acquire-By-Hash=yes")
		for _, rel := range indexes {
			data, err := os.ReadFile(filepath.Join(distDir, filepath.FromSlash(rel)))
			if err != nil {
				r.t.Fatal(err)
			}
			r.write(dists+"/"+filepath.Dir(rel)+"/by-hash/SHA256/"+sum(data), data)
		}
	}
	release := run(r.t, distDir, exec.Command("apt-ftparchive", append(args, "release", ".")...))
	r.write(dists+"/Release", release)
	if r.signer == "" {
		return
	}
	run(r.t, distDir, gpgCmd(distDir, "--local-user", r.signer, "--armor", "--detach-sign", "-o", "Release.gpg", "Release"))
	if !r.noInRelease {
		run(r.t, distDir, gpgCmd(distDir, "--local-user", r.signer, "--clearsign", "-o", "InRelease", "Release"))
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// server serves a repository and records what is asked of it.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	ranges map[string]string // path → Range header of its last request
	// hook, when set, may answer a request itself (returning true).
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func serve(t *testing.T, root string) *server {
	s := &server{ranges: map[string]string{}}
	files := http.FileServer(http.Dir(root))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.ranges[r.URL.Path] = r.Header.Get("Range")
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// rangeOf returns the Range header of the last request for path.
func (s *server) rangeOf(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranges[path]
}

// requests returns and forgets the paths asked for so far.
func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.paths
	s.paths = nil
	return p
}
