// Command bench measures enmei against its peers on this machine, in one run:
// publishing into a large RPM repository (vs createrepo_c --update), full
// repodata for thousands of RPMs (vs createrepo_c --workers 2), publishing
// thousands of already-published RPMs again (createrepo_c --update on an
// unchanged directory as a reference), a first signed publish of thousands
// of debs and adding one deb to it (vs aptly), and authenticated download
// throughput (vs nginx serving the same file), and mirroring a signed dnf
// upstream with enmeid repo sync (vs dnf reposync). It prints medians and
// ratios.
// Run it with scripts/bench.
//
// Every enmei data directory starts with a copy of one RSA-3072 signing key
// made before any timing (enmeid signing-key generate), so no measurement
// includes key generation.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
)

var (
	enmeid   = flag.String("enmeid", "", "path to the enmeid binary")
	enmei    = flag.String("enmei", "", "path to the enmei binary")
	work     = flag.String("work", "", "scratch directory (default: a temp dir)")
	big      = flag.Int("big", 20000, "packages in the large repository")
	full     = flag.Int("full", 5000, "packages for the full-repodata comparison")
	debs     = flag.Int("debs", 5000, "debs for the aptly comparison")
	runs     = flag.Int("runs", 5, "repetitions per measurement")
	hostPkgs = flag.Int("hostpkgs", 1500, "installed packages for the host SBOM")
	advCount = flag.Int("advisories", 50000, "advisories for the tracker measurements")
	skip     = flag.String("skip", "", "comma-separated parts to skip: "+strings.Join(parts, ","))
)

// parts are the names -skip accepts, in the order they run.
var parts = []string{"full", "republish", "update", "deb", "download", "maven", "leases", "facts", "hostsbom", "advisories", "scan", "desk", "scale", "large", "hostops", "mirror"}

// atExit holds clean-ups (servers, gpg-agent, the scratch directory) that
// run on success and on failure alike, newest first.
var atExit []func()

func cleanup() {
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	atExit = nil
}

func main() {
	flag.Parse()
	if *enmeid == "" || *enmei == "" {
		fail("pass --enmeid and --enmei (scripts/bench builds them)")
	}
	skipped := map[string]bool{}
	for _, p := range strings.Split(*skip, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !slices.Contains(parts, p) {
			fail(fmt.Sprintf("-skip %q: no part is called %q (parts: %s)", *skip, p, strings.Join(parts, ",")))
		}
		skipped[p] = true
	}
	if *work == "" {
		d, err := os.MkdirTemp("", "enmei-bench-*")
		check(err)
		atExit = append(atExit, func() { os.RemoveAll(d) })
		*work = d
	}
	defer cleanup()
	fmt.Printf("enmei bench on %d CPUs, %s\n", cpus(), time.Now().Format(time.RFC3339))
	run := map[string]func(){"full": benchFull, "republish": benchRepublish, "update": benchUpdate,
		"deb": benchDeb, "download": benchDownload, "maven": benchMaven, "leases": benchLeases, "facts": benchPublishFacts, "hostsbom": benchHostSBOM, "advisories": benchAdvisories, "scan": benchScan, "desk": benchDesk, "scale": benchScale, "large": benchLarge, "hostops": benchHostOps, "mirror": benchMirror}
	for _, p := range parts {
		if !skipped[p] {
			run[p]()
		}
	}
}

// keyFile is the armored enmei signing key every data directory starts
// with, made once: a fresh data directory would otherwise make an RSA-4096
// key on its first publish and the timing would include it.
var keyFile []byte

// newData returns an empty enmei data directory name under the scratch
// directory that holds only the bench's signing key (mode 0600).
func newData(name string) string {
	if keyFile == nil {
		tmpl := filepath.Join(*work, "key-template")
		check(os.RemoveAll(tmpl))
		admin(tmpl, "signing-key", "generate", "--name", "bench", "--email", "b@example.jp", "--bits", "3072")
		var err error
		keyFile, err = os.ReadFile(filepath.Join(tmpl, "signing-key.asc"))
		check(err)
		check(os.RemoveAll(tmpl))
	}
	data := filepath.Join(*work, name)
	check(os.RemoveAll(data))
	check(os.MkdirAll(data, 0o700))
	check(os.WriteFile(filepath.Join(data, "signing-key.asc"), keyFile, 0o600))
	return data
}

// fullDir holds the -full RPMs, generated once for the parts that use them.
var fullDir string

func fullRPMs() string {
	if fullDir == "" {
		fullDir = filepath.Join(*work, "full-rpms")
		genRPMs(fullDir, *full, 0)
	}
	return fullDir
}

// gnupgHome is a throw-away GnuPG home with one RSA-3072 signing key (no
// passphrase) for the peers that sign with gpg; gnupgFpr is its fingerprint.
var gnupgHome, gnupgFpr string

func benchGPG() (home, fpr string) {
	if gnupgHome != "" {
		return gnupgHome, gnupgFpr
	}
	home = filepath.Join(*work, "gnupg")
	check(os.MkdirAll(home, 0o700))
	gpg := func(args ...string) string {
		return sh("gpg", append([]string{"--homedir", home, "--batch"}, args...)...)
	}
	// gpg starts an agent in the home; stop it with the bench.
	atExit = append(atExit, func() { exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run() })
	gpg("--passphrase", "", "--quick-gen-key", "bench <b@example.jp>", "rsa3072", "sign", "never")
	for _, l := range strings.Split(gpg("--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		fail("gpg --list-secret-keys shows no fingerprint for the key just made in " + home)
	}
	gnupgHome, gnupgFpr = home, fpr
	return home, fpr
}

// genDebs writes n small, distinct debs (a few files, a dependency) to dir.
func genDebs(dir string, n, offset int) []string {
	check(os.MkdirAll(dir, 0o755))
	var paths []string
	for i := offset; i < offset+n; i++ {
		s := demo.Spec{
			Name: fmt.Sprintf("bench-deb-%05d", i), Version: "1.0", Release: "1", Arch: "x86_64",
			Summary: "benchmark package", Description: "A package for measuring publish speed.",
			Depends: []string{"bench-base"},
			Files: map[string]string{
				fmt.Sprintf("/usr/bin/bench-%05d", i):              "#!/bin/sh\necho bench\n",
				fmt.Sprintf("/etc/bench-%05d.conf", i):             "key=value\n",
				fmt.Sprintf("/usr/share/doc/bench-%05d/README", i): "readme\n",
				fmt.Sprintf("/usr/share/bench-%05d/data.txt", i):   strings.Repeat("data ", 50),
			},
		}
		data, err := demo.Deb(s)
		check(err)
		p := filepath.Join(dir, demo.FileName(s, "deb"))
		check(os.WriteFile(p, data, 0o644))
		paths = append(paths, p)
	}
	return paths
}

// genRPMs writes n small, distinct RPMs (a few files, a dependency) to dir.
func genRPMs(dir string, n, offset int) []string {
	check(os.MkdirAll(dir, 0o755))
	var paths []string
	for i := offset; i < offset+n; i++ {
		s := demo.Spec{
			Name: fmt.Sprintf("bench-pkg-%05d", i), Version: "1.0", Release: "1", Arch: "x86_64",
			Summary: "benchmark package", Description: "A package for measuring publish speed.",
			Depends: []string{"bench-base"},
			Files: map[string]string{
				fmt.Sprintf("/usr/bin/bench-%05d", i):               "#!/bin/sh\necho bench\n",
				fmt.Sprintf("/etc/bench-%05d.conf", i):              "key=value\n",
				fmt.Sprintf("/usr/share/doc/bench-%05d/README", i):  "readme\n",
				fmt.Sprintf("/usr/share/bench-%05d/data.txt", i):    strings.Repeat("data ", 50),
				fmt.Sprintf("/usr/lib/bench-%05d/lib.so.1", i):      "not really a library\n",
				fmt.Sprintf("/usr/share/man/man1/bench-%05d.1", i):  ".TH BENCH 1\n",
				fmt.Sprintf("/usr/share/bench-%05d/extra/a.txt", i): "a\n",
				fmt.Sprintf("/usr/share/bench-%05d/extra/b.txt", i): "b\n",
			},
		}
		data, err := demo.RPM(s)
		check(err)
		p := filepath.Join(dir, fmt.Sprintf("%s-1.0-1.x86_64.rpm", s.Name))
		check(os.WriteFile(p, data, 0o644))
		paths = append(paths, p)
	}
	return paths
}

func benchFull() {
	fmt.Printf("\n== full repodata for %d RPMs ==\n", *full)
	dir := fullRPMs()
	extra := genRPMs(filepath.Join(*work, "full-extra"), *runs, *full)
	var ours, peer, regen []time.Duration
	for i := 0; i < *runs; i++ {
		data := newData(fmt.Sprintf("full-data-%d", i))
		admin(data, "product", "add", "b", "--name", "bench", "--format", "rpm")
		admin(data, "repo", "add", "b", "--product", "b")
		ours = append(ours, timed(func() { admin(data, "publish", "b", dir) }))
		// Full repodata again, from the metadata kept in the store: one
		// more package makes enmeid write every file of repodata anew.
		regen = append(regen, timed(func() { admin(data, "publish", "b", extra[i]) }))
		os.RemoveAll(data)
		os.RemoveAll(filepath.Join(dir, "repodata"))
		peer = append(peer, timed(func() { sh("createrepo_c", "--workers", "2", "--quiet", dir) }))
		os.RemoveAll(filepath.Join(dir, "repodata"))
	}
	report("enmeid publish (ingest+sign+repodata)", ours, "createrepo_c --workers 2", peer)
	report(fmt.Sprintf("enmeid full repodata of %d (+1 pkg)", *full), regen, "createrepo_c --workers 2", peer)

	// createrepo_c does not sign; the tool chain that does what enmeid
	// publish does is rpmsign --addsign (RSA-3072, like enmei's key) then
	// createrepo_c.
	gnupg, fpr := benchGPG()
	var chain []time.Duration
	n := min(*runs, 3)
	for i := 0; i < n; i++ {
		signDir := filepath.Join(*work, "signed-rpms")
		os.RemoveAll(signDir)
		check(os.MkdirAll(signDir, 0o755))
		entries, _ := os.ReadDir(dir)
		var files []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".rpm") {
				check(copyFile(filepath.Join(dir, e.Name()), filepath.Join(signDir, e.Name())))
				files = append(files, filepath.Join(signDir, e.Name()))
			}
		}
		chain = append(chain, timed(func() {
			sh("rpmsign", append([]string{"--define", "_gpg_name " + fpr, "--define", "_gpg_path " + gnupg,
				"--define", "__gpg /usr/bin/gpg", "--addsign"}, files...)...)
			sh("createrepo_c", "--workers", "2", "--quiet", signDir)
		}))
	}
	report("enmeid publish (ingest+sign+repodata)", ours, "rpmsign --addsign + createrepo_c", chain)
}

func benchUpdate() {
	dir := filepath.Join(*work, "big-rpms")
	fmt.Printf("\n== add 1 package to a repository of %d ==\n", *big)
	genRPMs(dir, *big, 0)
	extra := genRPMs(filepath.Join(*work, "extra-rpms"), *runs, *big)
	data := newData("big-data")
	admin(data, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(data, "repo", "add", "b", "--product", "b")
	t0 := time.Now()
	admin(data, "publish", "b", dir)
	fmt.Printf("initial enmeid publish of %d: %v\n", *big, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	sh("createrepo_c", "--workers", "2", "--quiet", dir)
	fmt.Printf("initial createrepo_c of %d: %v\n", *big, time.Since(t0).Round(time.Millisecond))
	var ours, peer []time.Duration
	for i := 0; i < *runs; i++ {
		ours = append(ours, timed(func() { admin(data, "publish", "b", extra[i]) }))
		dst := filepath.Join(dir, filepath.Base(extra[i]))
		check(copyFile(extra[i], dst))
		peer = append(peer, timed(func() { sh("createrepo_c", "--update", "--workers", "2", "--quiet", dir) }))
	}
	report("enmeid publish +1", ours, "createrepo_c --update +1", peer)
}

func benchRepublish() {
	fmt.Printf("\n== publish %d already-published RPMs again (nothing new; target under 3s) ==\n", *full)
	dir := fullRPMs()
	data := newData("republish-data")
	admin(data, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(data, "repo", "add", "b", "--product", "b")
	fmt.Printf("initial enmeid publish of %d: %v\n", *full, timed(func() { admin(data, "publish", "b", dir) }).Round(time.Millisecond))
	var ours, peer []time.Duration
	for i := 0; i < *runs; i++ {
		ours = append(ours, timed(func() { admin(data, "publish", "b", dir) }))
	}
	check(os.RemoveAll(data))
	// Reference only: createrepo_c --update on a directory nothing changed in.
	fmt.Printf("initial createrepo_c of %d: %v\n", *full, timed(func() { sh("createrepo_c", "--workers", "2", "--quiet", dir) }).Round(time.Millisecond))
	for i := 0; i < *runs; i++ {
		peer = append(peer, timed(func() { sh("createrepo_c", "--update", "--workers", "2", "--quiet", dir) }))
	}
	check(os.RemoveAll(filepath.Join(dir, "repodata")))
	fmt.Printf("%-40s median %8v  (runs %v)\n", "enmeid publish DIR again", median(ours).Round(time.Millisecond), roundD(ours))
	fmt.Printf("%-40s median %8v  (runs %v)\n", "createrepo_c --update, unchanged dir", median(peer).Round(time.Millisecond), roundD(peer))
	verdict := "met"
	if median(ours) >= 3*time.Second {
		verdict = "missed"
	}
	fmt.Printf("target under 3s: %s (createrepo_c is a reference: it does not sign or keep publications)\n", verdict)
}

// aptlyRoot makes a private aptly root under the scratch directory with its
// config file, and returns a runner for "aptly CMD SUB -config=… ARGS…"
// against it that signs with the bench's GnuPG home (external gpg, GnuPG 2).
func aptlyRoot(name, gnupg string) func(cmd, sub string, args ...string) string {
	root := filepath.Join(*work, name)
	check(os.RemoveAll(root))
	check(os.MkdirAll(root, 0o755))
	conf := filepath.Join(root, "aptly.conf")
	raw, err := json.Marshal(map[string]any{"rootDir": root, "gpgProvider": "gpg2", "architectures": []string{}})
	check(err)
	check(os.WriteFile(conf, raw, 0o644))
	return func(cmd, sub string, args ...string) string {
		return shEnv([]string{"GNUPGHOME=" + gnupg}, "aptly", append([]string{cmd, sub, "-config=" + conf}, args...)...)
	}
}

func benchDeb() {
	fmt.Printf("\n== first signed publish of %d debs into a fresh repository (target: ratio at most 1) ==\n", *debs)
	dir := filepath.Join(*work, "debs")
	genDebs(dir, *debs, 0)
	extra := genDebs(filepath.Join(*work, "extra-debs"), *runs, *debs)
	gnupg, fpr := benchGPG()
	var ours, peer, lean []time.Duration
	var data string
	var aptly func(cmd, sub string, args ...string) string
	for i := 0; i < *runs; i++ {
		if data != "" {
			check(os.RemoveAll(data))
		}
		data = newData(fmt.Sprintf("deb-data-%d", i))
		admin(data, "product", "add", "x", "--name", "bench", "--format", "deb")
		admin(data, "repo", "add", "x-main", "--product", "x", "--suite", "bookworm", "--component", "main")
		ours = append(ours, timed(func() { admin(data, "publish", "x-main", dir) }))
		aptly = aptlyRoot(fmt.Sprintf("aptly-%d", i), gnupg)
		if i > 0 {
			check(os.RemoveAll(filepath.Join(*work, fmt.Sprintf("aptly-%d", i-1))))
		}
		aptly("repo", "create", "x-main")
		peer = append(peer, timed(func() {
			aptly("repo", "add", "x-main", dir)
			aptly("publish", "repo", "-batch", "-distribution=bookworm", "-gpg-key="+fpr, "x-main")
		}))
		// aptly by default also writes Contents indexes and Packages.bz2,
		// which enmei does not (it writes Packages.xz and by-hash copies):
		// the same job without them, for reference.
		lean1 := aptlyRoot("aptly-lean", gnupg)
		lean1("repo", "create", "x-main")
		lean = append(lean, timed(func() {
			lean1("repo", "add", "x-main", dir)
			lean1("publish", "repo", "-batch", "-skip-contents", "-skip-bz2", "-distribution=bookworm", "-gpg-key="+fpr, "x-main")
		}))
		check(os.RemoveAll(filepath.Join(*work, "aptly-lean")))
	}
	report("enmeid publish (ingest+index+sign)", ours, "aptly repo add + publish repo", peer)
	report("enmeid publish (ingest+index+sign)", ours, "aptly ... -skip-contents -skip-bz2", lean)

	fmt.Printf("\n== add 1 deb to that repository of %d (target: ratio at most 0.5) ==\n", *debs)
	ours, peer = nil, nil
	for i := 0; i < *runs; i++ {
		ours = append(ours, timed(func() { admin(data, "publish", "x-main", extra[i]) }))
		peer = append(peer, timed(func() {
			aptly("repo", "add", "x-main", extra[i])
			aptly("publish", "update", "-batch", "-gpg-key="+fpr, "bookworm")
		}))
	}
	report("enmeid publish +1", ours, "aptly repo add + publish update +1", peer)
}

func benchDownload() {
	fmt.Printf("\n== authenticated download of a 50 MB package, 32 concurrent clients (wrk -t2 -c32 -d10s) ==\n")
	dir := filepath.Join(*work, "dl")
	check(os.MkdirAll(dir, 0o755))
	// Incompressible, so the package really is 50 MB after gzip.
	payload := make([]byte, 50<<20)
	rand.New(rand.NewSource(1)).Read(payload)
	data, err := demo.RPM(demo.Spec{Name: "bench-big", Version: "1.0", Release: "1", Arch: "x86_64", Summary: "50 MB",
		Compression: "gzip", Files: map[string]string{"/usr/share/bench-big/blob": string(payload)}})
	check(err)
	pkg := filepath.Join(dir, "bench-big-1.0-1.x86_64.rpm")
	check(os.WriteFile(pkg, data, 0o644))
	fmt.Printf("package size: %.1f MB\n", float64(len(data))/(1<<20))
	store := newData("dl-data")
	admin(store, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(store, "repo", "add", "b", "--product", "b")
	admin(store, "publish", "b", pkg)
	var c struct {
		Key string `json:"license_key"`
	}
	out := admin(store, "--json", "contract", "add", "--customer", "bench", "--product", "b", "--quantity", "1",
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "bench@example.com")
	check(json.Unmarshal([]byte(out), &c))

	addr := serve(store)
	auth := registerRoot(addr, c.Key, "dl-root")
	// The served (signed) file: fetch its path from primary.xml via a listing we know.
	signedName := "Packages/b/bench-big-1.0-1.x86_64.rpm"

	// nginx serving a copy of the same bytes.
	nurl := startNginx("dl", func(dst string) {
		sh("curl", "-sf", "-o", dst, "-H", auth, "http://"+addr+"/repos/b/"+signedName)
	})
	var ours, peer []float64
	for i := 0; i < *runs; i++ {
		ours = append(ours, wrk("http://"+addr+"/repos/b/"+signedName, auth))
		peer = append(peer, wrk(nurl, ""))
	}
	mo, mp := medianF(ours), medianF(peer)
	fmt.Printf("%-40s median %8.1f MB/s  (runs %v)\n", "enmeid (Basic auth, entitlement check)", mo, roundAll(ours))
	fmt.Printf("%-40s median %8.1f MB/s  (runs %v)\n", "nginx (static, sendfile)", mp, roundAll(peer))
	fmt.Printf("ratio enmeid/nginx: %.2f\n", mo/mp)

	// The same package from a second data set whose blobs are in S3
	// (versitygw, posix backend on this disk), measured in the same run.
	s3url, s3env := startS3()
	s3store := newData("dl-s3-data")
	s3admin := func(args ...string) string {
		return adminEnv(s3store, append(s3env, "ENMEI_BLOBS="+s3url("download")), args...)
	}
	s3admin("product", "add", "b", "--name", "bench", "--format", "rpm")
	s3admin("repo", "add", "b", "--product", "b")
	s3admin("publish", "b", pkg)
	out = s3admin("--json", "contract", "add", "--customer", "bench", "--product", "b", "--quantity", "1",
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "bench@example.com")
	check(json.Unmarshal([]byte(out), &c))
	s3addr := serveEnv(s3store, append(s3env, "ENMEI_BLOBS="+s3url("download")))
	s3auth := registerRoot(s3addr, c.Key, "dl-s3-root")
	var viaS3 []float64
	for i := 0; i < *runs; i++ {
		viaS3 = append(viaS3, wrk("http://"+s3addr+"/repos/b/"+signedName, s3auth))
	}
	ms := medianF(viaS3)
	fmt.Printf("%-40s median %8.1f MB/s  (runs %v)\n", "enmeid, blobs in S3 (versitygw)", ms, roundAll(viaS3))
	fmt.Printf("ratio S3/file store: %.2f, S3/nginx: %.2f\n", ms/mo, ms/mp)
}

// registerRoot registers a scratch root with enmei and returns the
// Authorization header of its credential.
func registerRoot(addr, key, name string) string {
	root := filepath.Join(*work, name)
	check(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	check(os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=almalinux\n"), 0o644))
	check(os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o644))
	sh(*enmei, "--root", root, "register", "--server", "http://"+addr, "--key", key)
	var hj struct {
		HostID string `json:"host_id"`
		Secret string `json:"secret"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "etc/enmei/host.json"))
	check(err)
	check(json.Unmarshal(raw, &hj))
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(hj.HostID+":"+hj.Secret))
}

// startS3 runs versitygw (posix backend) with a bucket and returns a
// function making the --blobs URL of a prefix, and the credentials'
// environment.
func startS3() (func(prefix string) string, []string) {
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath := strings.TrimSpace(sh("go", "env", "GOPATH"))
		bin = filepath.Join(gopath, "bin", "versitygw")
	}
	dir := filepath.Join(*work, "s3")
	check(os.MkdirAll(filepath.Join(dir, "bench"), 0o755))
	addr := freeAddr()
	const access, secret = "bench-access", "bench-secret-0123456789"
	srv := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "posix", dir)
	check(srv.Start())
	atExit = append(atExit, func() { srv.Process.Kill(); srv.Wait() })
	waitPort(addr)
	url := func(prefix string) string { return "s3://bench/" + prefix + "?endpoint=http://" + addr }
	return url, []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret}
}

// serve runs enmeid serve on a data directory and returns its address.
func serve(data string, args ...string) string { return serveEnv(data, nil, args...) }

// serveEnv is serve with more environment.
func serveEnv(data string, env []string, args ...string) string {
	addr := freeAddr()
	srv := exec.Command(*enmeid, append([]string{"serve", "--addr", addr}, args...)...)
	srv.Env = append(append(os.Environ(), "ENMEI_DATA="+data), env...)
	check(srv.Start())
	atExit = append(atExit, func() { srv.Process.Kill(); srv.Wait() })
	waitPort(addr)
	return addr
}

// startNginx runs nginx serving one file, which fill writes, and returns
// its URL.
func startNginx(name string, fill func(dst string)) string {
	nginxRoot := filepath.Join(*work, "nginx-"+name)
	check(os.MkdirAll(filepath.Join(nginxRoot, "www"), 0o755))
	fill(filepath.Join(nginxRoot, "www/file"))
	naddr := freeAddr()
	conf := fmt.Sprintf(`daemon off; user root; worker_processes auto; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server { listen %[2]s; root %[1]s/www; } }
`, nginxRoot, naddr)
	check(os.MkdirAll(filepath.Join(nginxRoot, "tmp"), 0o755))
	check(os.WriteFile(filepath.Join(nginxRoot, "nginx.conf"), []byte(conf), 0o644))
	ng := exec.Command("nginx", "-c", filepath.Join(nginxRoot, "nginx.conf"))
	check(ng.Start())
	// SIGTERM, not SIGKILL: nginx's master must take its workers down too.
	atExit = append(atExit, func() { ng.Process.Signal(syscall.SIGTERM); ng.Wait() })
	waitPort(naddr)
	return "http://" + naddr + "/file"
}

var transferRE = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)([KMG]B)`)

// wrk runs wrk for 10 s with 32 connections and returns MB/s.
func wrk(url, header string) float64 {
	args := []string{"-t2", "-c32", "-d10s", "--timeout", "30s"}
	if header != "" {
		args = append(args, "-H", header)
	}
	out := sh("wrk", append(args, url)...)
	if strings.Contains(out, "Non-2xx") {
		fail("wrk saw non-2xx responses:\n" + out)
	}
	m := transferRE.FindStringSubmatch(out)
	if m == nil {
		fail("cannot read wrk output:\n" + out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "KB":
		v /= 1024
	case "GB":
		v *= 1024
	}
	return v
}

func admin(data string, args ...string) string { return adminEnv(data, nil, args...) }

// adminEnv is admin with more environment.
func adminEnv(data string, env []string, args ...string) string {
	cmd := exec.Command(*enmeid, args...)
	cmd.Env = append(append(os.Environ(), "ENMEI_DATA="+data), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("enmeid %v: %v\n%s", args, err, errb.String()))
	}
	return out.String()
}

func sh(name string, args ...string) string {
	return shEnv(nil, name, args...)
}

// shEnv runs a command with env added to the bench's environment and
// returns its combined output, failing the bench when it fails.
func shEnv(env []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		shown := fmt.Sprint(args)
		if len(shown) > 300 {
			shown = shown[:300] + "…"
		}
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		fail(fmt.Sprintf("%s %s: %v\n%s", name, shown, err, out))
	}
	return string(out)
}

func timed(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

func report(a string, as []time.Duration, b string, bs []time.Duration) {
	ma, mb := median(as), median(bs)
	fmt.Printf("%-40s median %8v  (runs %v)\n", a, ma.Round(time.Millisecond), roundD(as))
	fmt.Printf("%-40s median %8v  (runs %v)\n", b, mb.Round(time.Millisecond), roundD(bs))
	fmt.Printf("ratio enmei/peer: %.2f (below 1 = enmei faster)\n", float64(ma)/float64(mb))
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(d []float64) float64 {
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func roundD(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, v := range d {
		out[i] = v.Round(time.Millisecond)
	}
	return out
}

func roundAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(int(x*10)) / 10
	}
	return out
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func waitPort(addr string) {
	for i := 0; i < 600; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fail("nothing listens on " + addr)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func cpus() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "bench:", msg)
	cleanup()
	os.Exit(1)
}
