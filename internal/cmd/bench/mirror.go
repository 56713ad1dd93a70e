package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/sign"
)

var (
	mirrorPkgs = flag.Int("mirror-packages", 20000, "packages in the upstream repository of the mirror part")
	mirrorRuns = flag.Int("mirror-runs", 3, "full syncs (and dnf reposyncs) the mirror part measures; its incremental syncs take -runs, at least 5")
)

const (
	// mirrorOffset numbers the upstream's packages apart from other parts'.
	mirrorOffset = 500000
	// mirrorAdd is how many packages each incremental run adds upstream.
	mirrorAdd = 10
	// mirrorParallel is the download concurrency of both enmeid
	// (--parallel) and dnf (max_parallel_downloads).
	mirrorParallel = 4
)

// upstreamRepo is the signed dnf repository the mirror part syncs from.
type upstreamRepo struct {
	dir    string    // served tree: Packages/, extra/, repodata/
	key    *sign.Key // the "distribution's" key: RPMs and repomd.xml
	pubKey string    // its armored public key file
	base   string    // repodata of the -mirror-packages alone
}

// mirrorUpstream builds the upstream once per -work directory: -mirror-packages
// RPMs signed with a key of their own (the distribution's, not enmei's),
// indexed by createrepo_c, with repomd.xml.asc. A tree from an earlier run
// is reset to those packages (the incremental runs add to it).
func mirrorUpstream(n int) *upstreamRepo {
	root := filepath.Join(*work, "mirror")
	up := &upstreamRepo{
		dir:    filepath.Join(root, "up"),
		pubKey: filepath.Join(root, "upstream-key.pub.asc"),
		base:   filepath.Join(root, "repodata.base"),
	}
	privFile := filepath.Join(root, "upstream-key.asc")
	marker := filepath.Join(root, "complete")
	want := fmt.Sprintf("%d\n", n)
	if b, err := os.ReadFile(marker); err == nil && string(b) == want {
		raw, err := os.ReadFile(privFile)
		check(err)
		up.key, err = sign.ReadArmored(raw)
		check(err)
		check(os.RemoveAll(filepath.Join(up.dir, "extra")))
		check(os.RemoveAll(filepath.Join(up.dir, "repodata")))
		sh("cp", "-a", up.base, filepath.Join(up.dir, "repodata"))
		fmt.Printf("upstream of %d signed RPMs reused from %s\n", n, root)
		return up
	}
	t0 := time.Now()
	check(os.RemoveAll(root))
	check(os.MkdirAll(up.dir, 0o755))
	// RSA-4096, as the EL distributions' keys are. Made by Go: gpg takes
	// long to find primes on a small machine.
	key, err := sign.GenerateBits("Bench Upstream", "", "upstream@example.org", 4096, time.Now().Add(-time.Hour))
	check(err)
	priv, err := key.ArmoredPrivate()
	check(err)
	check(os.WriteFile(privFile, priv, 0o600))
	pub, err := key.ArmoredPublic()
	check(err)
	check(os.WriteFile(up.pubKey, pub, 0o644))
	up.key = key

	unsigned := largeRPMs(filepath.Join(root, "unsigned"), mirrorOffset, mirrorOffset+n)
	signRPMs(key, unsigned, filepath.Join(up.dir, "Packages"))
	check(os.RemoveAll(unsigned))
	up.index(false)
	sh("cp", "-a", filepath.Join(up.dir, "repodata"), up.base)
	check(os.WriteFile(marker, []byte(want), 0o644))
	fmt.Printf("upstream of %d signed RPMs made in %v (%s; not measured)\n", n, time.Since(t0).Round(time.Second), duSize(up.dir))
	return up
}

// signRPMs signs every RPM of src with key into dst with enmei's own RPM
// signer (rpmsign would take many minutes for tens of thousands), one
// goroutine per core.
func signRPMs(key *sign.Key, src, dst string) {
	check(os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	check(err)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rpm") {
			names = append(names, e.Name())
		}
	}
	workers := max(1, cpus())
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(names); i += workers {
				if err := signRPM(key, filepath.Join(src, names[i]), filepath.Join(dst, names[i])); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	check(<-errc)
}

func signRPM(key *sign.Key, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var out bytes.Buffer
	if _, err := rpm.Sign(in, &out, key); err != nil {
		return fmt.Errorf("signing %s with the upstream key: %w", src, err)
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// index runs createrepo_c on the upstream (--update: only new files are
// read) and signs the new repomd.xml, as a distribution does.
func (up *upstreamRepo) index(update bool) {
	args := []string{"--workers", "2", "--quiet"}
	if update {
		args = append(args, "--update")
	}
	sh("createrepo_c", append(args, up.dir)...)
	repomd := filepath.Join(up.dir, "repodata", "repomd.xml")
	f, err := os.Open(repomd)
	check(err)
	defer f.Close()
	asc, err := up.key.DetachSignArmored(f)
	check(err)
	check(os.WriteFile(repomd+".asc", asc, 0o644))
}

// add puts mirrorAdd new signed packages upstream (numbered from first) and
// re-indexes it.
func (up *upstreamRepo) add(first int) {
	tmp := filepath.Join(*work, "mirror", "add-unsigned")
	check(os.RemoveAll(tmp))
	genRPMs(tmp, mirrorAdd, first)
	signRPMs(up.key, tmp, filepath.Join(up.dir, "extra"))
	check(os.RemoveAll(tmp))
	up.index(true)
}

// syncReport is the part of enmeid repo sync --json the bench checks.
type syncReport struct {
	Upstreams  int `json:"upstream_packages"`
	Downloaded int `json:"downloaded"`
}

// benchMirror measures enmeid repo sync of a signed upstream of
// -mirror-packages RPMs served by nginx: a full sync into a fresh data
// directory against dnf reposync --gpgcheck of the same upstream (time and
// peak memory), then incremental syncs of mirrorAdd new packages (target
// under 3 s) against dnf reposync following the same upstream.
func benchMirror() {
	n := *mirrorPkgs
	start := time.Now()
	fmt.Printf("\n== mirror: enmeid repo sync of a signed dnf upstream of %d RPMs on loopback nginx (vs dnf reposync), then +%d (target under 3 s) ==\n", n, mirrorAdd)
	up := mirrorUpstream(n)
	// nginx serves the upstream tree through a link in its root.
	base := startNginx("mirror", func(dst string) {
		check(os.WriteFile(dst, nil, 0o644))
		link := filepath.Join(filepath.Dir(dst), "up")
		check(os.RemoveAll(link))
		check(os.Symlink(up.dir, link))
	})
	url := strings.TrimSuffix(base, "file") + "up/"
	fmt.Printf("enmeid: --gpgkey (repomd.xml.asc and every RPM's header signature checked), --parallel %d; it also stores, indexes, signs and publishes\n", mirrorParallel)
	fmt.Printf("dnf reposync: repo_gpgcheck=1, max_parallel_downloads=%d, fresh cache; full: gpgcheck=1 --gpgcheck (key imported into a scratch rpmdb)\n", mirrorParallel)

	var ours, peer []usage
	var data, dnfHome string
	for i := 0; i < *mirrorRuns; i++ {
		if data != "" {
			check(os.RemoveAll(data))
		}
		data = newData(fmt.Sprintf("mirror-data-%d", i))
		admin(data, "product", "add", "up", "--name", "upstream mirror", "--format", "rpm")
		admin(data, "repo", "add", "up", "--product", "up", "--arch", "x86_64")
		out, u := runUsage([]string{"ENMEI_DATA=" + data}, *enmeid, "repo", "sync", "up", "--from", url,
			"--gpgkey", up.pubKey, "--parallel", fmt.Sprint(mirrorParallel), "--json")
		checkSync(out, n, n)
		ours = append(ours, u)

		if dnfHome != "" {
			check(os.RemoveAll(dnfHome))
		}
		dnfHome = newDNFHome(fmt.Sprintf("mirror-dnf-%d", i), url, up.pubKey)
		peer = append(peer, dnfReposync(dnfHome, n, true))
	}
	reportUsage(fmt.Sprintf("enmeid repo sync, %d new", n), ours, "dnf reposync --gpgcheck", peer)

	// Incremental: the last full sync's data directory and dnf download
	// directory follow the upstream as it grows by mirrorAdd at a time.
	// dnf reposync --gpgcheck checks every package of the repository again
	// on each run (minutes here), so the incremental peer goes without it
	// and checks only repomd.xml.asc: a lower bound of its work.
	fmt.Printf("incremental dnf reposync: without --gpgcheck (it would check all %d packages again each run)\n", n)
	var inc, dnfInc []usage
	next := mirrorOffset + n
	for i := 0; i < max(*runs, 5); i++ {
		up.add(next)
		next += mirrorAdd
		out, u := runUsage([]string{"ENMEI_DATA=" + data}, *enmeid, "repo", "sync", "up", "--parallel", fmt.Sprint(mirrorParallel), "--json")
		checkSync(out, n+(i+1)*mirrorAdd, mirrorAdd)
		inc = append(inc, u)
		dnfInc = append(dnfInc, dnfReposync(dnfHome, n+(i+1)*mirrorAdd, false))
	}
	reportUsage(fmt.Sprintf("enmeid repo sync, +%d to %d", mirrorAdd, n), inc, fmt.Sprintf("dnf reposync +%d, no --gpgcheck", mirrorAdd), dnfInc)
	fmt.Printf("incremental sync target under 3s: %s\n", verdict(median(walls(inc)) < 3*time.Second))
	check(os.RemoveAll(data))
	check(os.RemoveAll(dnfHome))
	fmt.Printf("mirror part took %v in all\n", time.Since(start).Round(time.Second))
}

// checkSync fails the bench unless an enmeid repo sync --json report shows
// the upstream's size and the downloads expected.
func checkSync(out string, upstreams, downloaded int) {
	var r syncReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		fail(fmt.Sprintf("reading enmeid repo sync --json output: %v\n%s", err, out))
	}
	if r.Upstreams != upstreams || r.Downloaded != downloaded {
		fail(fmt.Sprintf("enmeid repo sync saw %d upstream packages and downloaded %d, want %d and %d", r.Upstreams, r.Downloaded, upstreams, downloaded))
	}
}

// newDNFHome makes a scratch home for dnf: a config naming only the
// upstream, an rpmdb (through HOME's .rpmmacros, which Debian's rpm and dnf
// read) holding the upstream key so --gpgcheck can check packages, and
// empty cache and download directories.
func newDNFHome(name, url, pubKey string) string {
	home := filepath.Join(*work, name)
	check(os.RemoveAll(home))
	for _, d := range []string{"repos.d", "cache", "persist", "log", "rpmdb", "download"} {
		check(os.MkdirAll(filepath.Join(home, d), 0o755))
	}
	check(os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte("%_dbpath "+filepath.Join(home, "rpmdb")+"\n"), 0o644))
	conf := fmt.Sprintf(`[main]
reposdir=%[1]s/repos.d
cachedir=%[1]s/cache
persistdir=%[1]s/persist
logdir=%[1]s/log
gpgcheck=1
repo_gpgcheck=1
max_parallel_downloads=%[4]d
metadata_expire=0
install_weak_deps=0

[up]
name=upstream
baseurl=%[2]s
gpgkey=file://%[3]s
enabled=1
`, home, url, pubKey, mirrorParallel)
	check(os.WriteFile(filepath.Join(home, "dnf.conf"), []byte(conf), 0o644))
	shEnv([]string{"HOME=" + home}, "rpm", "--import", pubKey)
	return home
}

// dnfReposync runs dnf reposync in a scratch home made by newDNFHome,
// checking package signatures when gpgcheck, and checks that the download
// directory then holds want RPMs.
func dnfReposync(home string, want int, gpgcheck bool) usage {
	dl := filepath.Join(home, "download")
	args := []string{"-c", filepath.Join(home, "dnf.conf"), "--releasever=9", "-y", "-q",
		"--setopt=reposdir=" + filepath.Join(home, "repos.d"),
		"reposync", "--repoid=up", "--download-path=" + dl, "--norepopath"}
	if gpgcheck {
		args = append(args, "--gpgcheck")
	}
	_, u := runUsage([]string{"HOME=" + home}, "dnf", args...)
	got := 0
	check(filepath.WalkDir(dl, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rpm") {
			got++
		}
		return err
	}))
	if got != want {
		fail(fmt.Sprintf("dnf reposync left %d RPMs in %s, want %d", got, dl, want))
	}
	return u
}

// runUsage runs a command through the bench's rusage wrapper (see
// rusageEnv), with env added, so its peak memory is its own; it returns
// the command's stdout and what it used.
func runUsage(env []string, name string, args ...string) (string, usage) {
	self, err := os.Executable()
	check(err)
	out := filepath.Join(*work, "rusage.json")
	os.Remove(out)
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), rusageEnv+"="+out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("%s %s: %v\n%s%s", name, shorten(args), err, stdout.String(), stderr.String()))
	}
	raw, err := os.ReadFile(out)
	check(err)
	var u usage
	check(json.Unmarshal(raw, &u))
	return stdout.String(), u
}

func walls(us []usage) []time.Duration {
	var d []time.Duration
	for _, u := range us {
		d = append(d, u.Wall)
	}
	return d
}

// reportUsage prints median wall time and median peak RSS of two commands
// and their ratios.
func reportUsage(a string, as []usage, b string, bs []usage) {
	report(a, walls(as), b, walls(bs))
	rss := func(us []usage) []float64 {
		var v []float64
		for _, u := range us {
			v = append(v, mib(u.MaxRSS))
		}
		return v
	}
	ra, rb := medianF(rss(as)), medianF(rss(bs))
	fmt.Printf("%-40s median %8.1f MiB  (runs %v)\n", a+", max RSS", ra, roundAll(rss(as)))
	fmt.Printf("%-40s median %8.1f MiB  (runs %v)\n", b+", max RSS", rb, roundAll(rss(bs)))
	fmt.Printf("max RSS ratio enmei/peer: %.2f\n", ra/rb)
}
