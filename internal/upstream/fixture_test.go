package upstream_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/upstream"
)

// The upstream repositories of these tests are built with the real tools a
// distribution uses: rpmsign (through gpg) signs the packages, createrepo_c
// and modifyrepo_c write the metadata, gpg signs repomd.xml. The packages
// themselves come from internal/demo, so rpmbuild is not needed.

// need fails the test when a tool is missing: scripts/test installs them,
// and a check that did not run proves nothing.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the upstream repository (scripts/test installs it): %v", tool, err)
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if err := runCmd(name, args...); err != nil {
		t.Fatal(err)
	}
}

func runCmd(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// fixture is what every test shares, made once: two throw-away keys in a
// GnuPG home, and the packages, signed.
type fixture struct {
	gnupg           string // GNUPGHOME holding both secret keys
	good, other     string // key fingerprints: the distribution's, and a stranger's
	keyring         openpgp.EntityList
	rpms            map[string][]byte // by file name
	bigName         string            // a package of a few MiB, for resuming
	thirdKeyName    string            // signed by other
	unsignedName    string
	extraName       string // a package the upstream adds later
	srcArchExcluded string // an aarch64 package
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
	gnupgs  []string
)

func TestMain(m *testing.M) {
	upstream.SetRetryWait(10 * time.Millisecond)
	code := m.Run()
	for _, h := range gnupgs {
		exec.Command("gpgconf", "--homedir", h, "--kill", "all").Run()
		os.RemoveAll(h)
	}
	os.Exit(code)
}

func getFixture(t *testing.T) *fixture {
	t.Helper()
	need(t, "gpg", "gpgconf", "rpmsign", "createrepo_c", "modifyrepo_c")
	fixOnce.Do(func() { fix, fixErr = buildFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func buildFixture() (*fixture, error) {
	// A short path: gpg-agent's socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "enmei-gnupg-")
	if err != nil {
		return nil, err
	}
	gnupgs = append(gnupgs, home)
	f := &fixture{gnupg: home, rpms: map[string][]byte{}}
	// The keys are made by Go (gpg takes seconds to find RSA primes here)
	// and handed to gpg, which does all the signing.
	var pub []byte
	for i, name := range []string{"Upstream Distribution", "Someone Else"} {
		k, err := sign.GenerateBits(name, "", fmt.Sprintf("k%d@example.com", i), 2048, time.Now().Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		priv, err := k.ArmoredPrivate()
		if err != nil {
			return nil, err
		}
		keyFile := filepath.Join(home, "key.asc")
		if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
			return nil, err
		}
		if err := runCmd("gpg", "--homedir", home, "--batch", "--import", keyFile); err != nil {
			return nil, err
		}
		if i == 0 {
			f.good = k.Fingerprint()
			if pub, err = k.ArmoredPublic(); err != nil {
				return nil, err
			}
		} else {
			f.other = k.Fingerprint()
		}
	}
	if f.keyring, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(pub)); err != nil {
		return nil, err
	}

	type pkg struct {
		spec demo.Spec
		key  string // "" = unsigned
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 3<<20)
	for i := range noise {
		noise[i] = byte(rng.UintN(256))
	}
	spec := func(name, arch, compression string, files map[string]string) demo.Spec {
		return demo.Spec{Name: name, Version: "1.0", Release: "1.el9", Arch: arch, Summary: name,
			Description: "A package of the test upstream.", Files: files, Compression: compression}
	}
	pkgs := []pkg{
		{spec("upstream-a", "x86_64", "xz", map[string]string{"/usr/share/upstream-a/a.txt": "a\n"}), f.good},
		{spec("upstream-doc", "noarch", "zstd", map[string]string{"/usr/share/doc/upstream/README": "doc\n"}), f.good},
		{spec("upstream-arm", "aarch64", "gzip", map[string]string{"/usr/share/upstream-arm/x": "arm\n"}), f.good},
		{spec("upstream-big", "x86_64", "gzip", map[string]string{"/usr/share/upstream-big/noise": string(noise)}), f.good},
		{spec("upstream-stranger", "x86_64", "gzip", map[string]string{"/usr/share/upstream-stranger/x": "x\n"}), f.other},
		{spec("upstream-unsigned", "x86_64", "gzip", map[string]string{"/usr/share/upstream-unsigned/x": "x\n"}), ""},
		{spec("upstream-new", "x86_64", "gzip", map[string]string{"/usr/share/upstream-new/x": "new\n"}), f.good},
	}
	dir := filepath.Join(home, "rpms")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	bySigner := map[string][]string{}
	for _, p := range pkgs {
		data, err := demo.RPM(p.spec)
		if err != nil {
			return nil, err
		}
		name := demo.FileName(p.spec, "rpm")
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
		if p.key != "" {
			bySigner[p.key] = append(bySigner[p.key], filepath.Join(dir, name))
		}
		switch p.spec.Name {
		case "upstream-big":
			f.bigName = name
		case "upstream-stranger":
			f.thirdKeyName = name
		case "upstream-unsigned":
			f.unsignedName = name
		case "upstream-new":
			f.extraName = name
		case "upstream-arm":
			f.srcArchExcluded = name
		}
	}
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		return nil, err
	}
	for key, files := range bySigner {
		// %__gpg is /usr/bin/gpg2 on some systems.
		args := []string{"--define", "__gpg " + gpg, "--define", "_gpg_path " + home, "--define", "_gpg_name " + key, "--addsign"}
		if err := runCmd("rpmsign", append(args, files...)...); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if f.rpms[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return f, nil
}

const comps = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>upstream-tools</id>
    <name>Upstream tools</name>
    <description>The test upstream's tools.</description>
    <default>true</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="default">upstream-a</packagereq>
    </packagelist>
  </group>
</comps>
`

const modules = `---
document: modulemd
version: 2
data:
  name: upstream-stack
  stream: "1"
  version: 9040020240101000000
  context: 9edba152
  arch: x86_64
  summary: The test upstream's module
  description: A module stream of the test upstream.
  license:
    module:
    - MIT
  artifacts:
    rpms:
    - upstream-a-0:1.0-1.el9.x86_64
...
---
document: modulemd-defaults
version: 1
data:
  module: upstream-stack
  stream: "1"
  profiles:
    "1": [default]
...
`

const updateinfo = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@example.com" status="final" type="security" version="2">
    <id>UPSA-2024:0001</id>
    <title>Important: upstream-a security update</title>
    <issued date="2024-01-01 00:00:00"/>
    <severity>Important</severity>
    <description>Fixes CVE-2024-0001.</description>
    <pkglist>
      <collection short="upstream">
        <name>upstream</name>
        <package name="upstream-a" version="1.0" release="1.el9" epoch="0" arch="x86_64" src="upstream-a-1.0-1.el9.src.rpm">
          <filename>upstream-a-1.0-1.el9.x86_64.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`

// repo is one upstream repository on disk, served over HTTP.
type repo struct {
	t      *testing.T
	fix    *fixture
	root   string
	srv    *httptest.Server
	mu     sync.Mutex
	hits   map[string]int    // requests by path
	ranges map[string]string // the last Range header by path
	// intercept, when set, may answer a request itself (returning true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// repoOptions choose what the repository holds and how it is made.
type repoOptions struct {
	rpms        []string // file names from the fixture
	compress    string   // createrepo_c's --general-compress-type ("zstd": see recompress), "" = gz
	signer      string   // key fingerprint signing repomd.xml; "" = unsigned
	noExtras    bool     // no comps, modules or updateinfo
	checksumAlg string   // createrepo_c --checksum, "" = sha256
}

// newRepo builds a repository under a fresh directory and serves it.
func newRepo(t *testing.T, o repoOptions) *repo {
	t.Helper()
	f := getFixture(t)
	r := &repo{t: t, fix: f, root: t.TempDir(), hits: map[string]int{}, ranges: map[string]string{}}
	r.build(o)
	files := http.FileServer(http.Dir(r.root))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.URL.Path]++
		if rg := req.Header.Get("Range"); rg != "" {
			r.ranges[req.URL.Path] = rg
		}
		intercept := r.intercept
		r.mu.Unlock()
		if intercept != nil && intercept(w, req) {
			return
		}
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// build (re)writes the repository's packages and metadata.
func (r *repo) build(o repoOptions) {
	t := r.t
	t.Helper()
	pkgDir := filepath.Join(r.root, "Packages")
	os.RemoveAll(pkgDir)
	os.RemoveAll(filepath.Join(r.root, "repodata"))
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range o.rpms {
		if err := os.WriteFile(filepath.Join(pkgDir, name), r.fix.rpms[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	args := []string{"--no-database"}
	if o.compress != "" && o.compress != "zstd" {
		args = append(args, "--general-compress-type="+o.compress)
	}
	if o.checksumAlg != "" {
		args = append(args, "--checksum="+o.checksumAlg)
	}
	if !o.noExtras {
		write(t, filepath.Join(work, "comps.xml"), comps)
		args = append(args, "--groupfile", filepath.Join(work, "comps.xml"))
	}
	run(t, "createrepo_c", append(args, r.root)...)
	if !o.noExtras {
		write(t, filepath.Join(work, "modules.yaml"), modules)
		write(t, filepath.Join(work, "updateinfo.xml"), updateinfo)
		mod := []string{}
		if o.compress != "" && o.compress != "zstd" {
			mod = append(mod, "--compress-type="+o.compress)
		}
		run(t, "modifyrepo_c", append(mod, filepath.Join(work, "modules.yaml"), filepath.Join(r.root, "repodata"))...)
		run(t, "modifyrepo_c", append(mod, filepath.Join(work, "updateinfo.xml"), filepath.Join(r.root, "repodata"))...)
	}
	if o.compress == "zstd" {
		for _, typ := range []string{"primary", "modules", "updateinfo"} {
			r.recompress(typ)
		}
	}
	if o.signer != "" {
		r.signRepomd(o.signer)
	}
}

// recompress turns a gzip metadata file into zstd, as createrepo_c 1.x
// writes them. createrepo_c 0.17 (Debian 12) and its modifyrepo_c know no
// zstd, so the zstd tool compresses and repomd.xml's entry is edited here:
// location, checksum and size change; open-checksum and open-size stay.
func (r *repo) recompress(typ string) {
	t := r.t
	t.Helper()
	repomdPath := filepath.Join(r.root, "repodata", "repomd.xml")
	repomd, err := os.ReadFile(repomdPath)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)<data type="` + typ + `">.*?</data>`).Find(repomd)
	href := regexp.MustCompile(`<location href="([^"]+)"`).FindSubmatch(block)
	if href == nil {
		t.Fatalf("repomd.xml has no %s entry", typ)
	}
	gz := filepath.Join(r.root, string(href[1]))
	plain := filepath.Join(t.TempDir(), typ)
	run(t, "sh", "-c", `gzip -dc "$1" > "$2" && zstd -q --rm "$2" -o "$2.zst"`, "sh", gz, plain)
	data, err := os.ReadFile(plain + ".zst")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256hex(data)
	newHref := "repodata/" + sum + "-" + strings.TrimSuffix(filepath.Base(string(href[1]))[65:], ".gz") + ".zst"
	if err := os.WriteFile(filepath.Join(r.root, newHref), data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(gz)
	nb := bytes.Replace(block, href[0], []byte(`<location href="`+newHref+`"`), 1)
	nb = regexp.MustCompile(`<checksum type="sha256">[0-9a-f]+</checksum>`).ReplaceAll(nb, []byte(`<checksum type="sha256">`+sum+`</checksum>`))
	nb = regexp.MustCompile(`<size>\d+</size>`).ReplaceAll(nb, []byte(fmt.Sprintf("<size>%d</size>", len(data))))
	if err := os.WriteFile(repomdPath, bytes.Replace(repomd, block, nb, 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// signRepomd writes repodata/repomd.xml.asc as a distribution does.
func (r *repo) signRepomd(key string) {
	r.t.Helper()
	asc := filepath.Join(r.root, "repodata", "repomd.xml.asc")
	os.Remove(asc)
	run(r.t, "gpg", "--homedir", r.fix.gnupg, "--batch", "--yes", "--local-user", key,
		"--detach-sign", "--armor", filepath.Join(r.root, "repodata", "repomd.xml"))
}

func (r *repo) url() string { return r.srv.URL + "/" }

// count is how many requests asked for a path.
func (r *repo) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

// rpmRequests is how many requests asked for packages.
func (r *repo) rpmRequests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for p, c := range r.hits {
		if strings.HasSuffix(p, ".rpm") {
			n += c
		}
	}
	return n
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
