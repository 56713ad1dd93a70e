package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	largeN       = flag.Int("large", 100000, "packages in the repository of the large part (publish memory, serve memory)")
	largeFetches = flag.Int("large-pkgs", 3000, "distinct package files the large part's clients fetch")
	largeFor     = flag.Duration("large-for", 30*time.Second, "how long each client round of the large part lasts")
)

// largeExtra is how many packages each stage of the staged repository adds
// after its size is reached: one, then a batch of 1,000.
const largeExtra = 1 + 1000

// rusageEnv, set in the environment of the bench's own binary, makes it a
// wrapper instead: it runs its arguments as a command and writes what the
// command used (JSON) to the file the variable names. The wrapper is a
// fresh small process, so the command's max RSS is its own: Go starts
// commands with vfork, and Linux counts the high-water RSS of the memory
// the child shared until exec as the child's, so an enmeid started
// straight from the bench (which holds hundreds of MiB after generating
// packages) would report the bench's peak when its own is lower.
const rusageEnv = "ENMEI_BENCH_RUSAGE_TO"

func init() {
	out := os.Getenv(rusageEnv)
	if out == "" || len(os.Args) < 2 {
		return
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, rusageEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	t := time.Now()
	err := cmd.Run()
	wall := time.Since(t)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "bench rusage wrapper:", err)
		os.Exit(125)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		ru = &syscall.Rusage{}
	}
	raw, _ := json.Marshal(usage{Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), MaxRSS: ru.Maxrss})
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench rusage wrapper:", err)
		os.Exit(125)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

// usage is what one enmeid command took: wall time, peak resident memory
// (KiB, the kernel's ru_maxrss of the process) and CPU time (user+system).
type usage struct {
	Wall, CPU time.Duration
	MaxRSS    int64
}

func (u usage) String() string {
	return fmt.Sprintf("wall %9v  max RSS %7.1f MiB  cpu %9v", u.Wall.Round(time.Millisecond),
		mib(u.MaxRSS), u.CPU.Round(time.Millisecond))
}

// adminUsage runs an enmeid admin command in its own process, through the
// rusage wrapper, and returns what it used.
func adminUsage(data string, args ...string) usage {
	self, err := os.Executable()
	check(err)
	out := filepath.Join(*work, "rusage.json")
	os.Remove(out)
	cmd := exec.Command(self, append([]string{*enmeid}, args...)...)
	cmd.Env = append(os.Environ(), "ENMEI_DATA="+data, rusageEnv+"="+out)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("enmeid %v: %v\n%s", shorten(args), err, errb.String()))
	}
	raw, err := os.ReadFile(out)
	check(err)
	var u usage
	check(json.Unmarshal(raw, &u))
	return u
}

func shorten(args []string) string {
	s := fmt.Sprint(args)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// largeRPMs generates the RPMs numbered [from, to) into dir once: a dir
// holding a marker from an earlier run with the same -work is kept. One
// goroutine per core (at most 4) shares the work.
func largeRPMs(dir string, from, to int) string {
	marker := filepath.Join(dir, ".complete")
	want := fmt.Sprintf("%d-%d\n", from, to)
	if b, err := os.ReadFile(marker); err == nil && string(b) == want {
		return dir
	}
	check(os.RemoveAll(dir))
	n := to - from
	workers := max(1, min(cpus(), 4))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := from+n*w/workers, from+n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			genRPMs(dir, hi-lo, lo)
		}()
	}
	wg.Wait()
	check(os.WriteFile(marker, []byte(want), 0o644))
	return dir
}

// benchLarge: memory and time of publishing into, and serving, a
// repository of -large RPMs. A first publish of all of them in one command;
// a repository grown in stages (N/5, N/2, N) with +1 and +1,000 measured at
// each size, so growth of memory with the repository shows; then the server
// on the N-package repository under 32 concurrent clients, twice.
func benchLarge() {
	n := *largeN
	s1, s2 := n/5, n/2
	if s2-s1 < 2*largeExtra {
		fail(fmt.Sprintf("-large %d: too few packages for the stages (at least %d)", n, 10*2*largeExtra/3+1))
	}
	fmt.Printf("\n== %d RPMs: peak memory (max RSS) and time of enmeid publish, RSS of enmeid serve (target: under 1 GiB and flat) ==\n", n)
	root := filepath.Join(*work, "large-rpms")
	t0 := time.Now()
	// The main packages are numbered below n and split into three stages;
	// the +1 and +1,000 packages are numbered from n. The sizes of the
	// second and third stage leave room for the extras published before
	// them, so the staged repository has exactly s1, s2 and n packages
	// when its extras are measured, and the first publish of n takes the
	// very same files as the staged repository at n.
	stage := []string{
		largeRPMs(filepath.Join(root, "s1"), 0, s1),
		largeRPMs(filepath.Join(root, "s2"), s1, s2-largeExtra),
		largeRPMs(filepath.Join(root, "s3"), s2-largeExtra, n-2*largeExtra),
	}
	var one, batch []string
	for i := range stage {
		base := n + i*largeExtra
		one = append(one, largeRPMs(filepath.Join(root, fmt.Sprintf("s%d-add1", i+1)), base, base+1))
		batch = append(batch, largeRPMs(filepath.Join(root, fmt.Sprintf("s%d-add1000", i+1)), base+1, base+largeExtra))
	}
	fmt.Printf("generated %d RPMs in %v (%s)\n", n+len(stage)*largeExtra, time.Since(t0).Round(time.Second), duSize(root))

	// A first publish of n packages in one command.
	data := newData("large-one")
	admin(data, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(data, "repo", "add", "b", "--product", "b")
	all := []string{stage[0], one[0], batch[0], stage[1], one[1], batch[1], stage[2]}
	u := adminUsage(data, append([]string{"publish", "b"}, all...)...)
	fmt.Printf("%-44s %v\n", fmt.Sprintf("first publish of %d in one command", n), u)
	oneGo := u

	// The same packages published in stages, with +1 and +1,000 at each size.
	sdata := newData("large-staged")
	admin(sdata, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(sdata, "repo", "add", "b", "--product", "b")
	size := 0
	var plus1, plus1000 []usage
	for i, dir := range stage {
		added := count(dir)
		u := adminUsage(sdata, "publish", "b", dir)
		label := fmt.Sprintf("staged: first publish of %d", added)
		if size > 0 {
			label = fmt.Sprintf("staged: +%d to %d", added, size)
		}
		size += added
		fmt.Printf("%-44s %v\n", label, u)
		u = adminUsage(sdata, "publish", "b", one[i])
		fmt.Printf("%-44s %v\n", fmt.Sprintf("staged: +1 to %d", size), u)
		plus1 = append(plus1, u)
		size++
		u = adminUsage(sdata, "publish", "b", batch[i])
		fmt.Printf("%-44s %v\n", fmt.Sprintf("staged: +1000 to %d", size), u)
		plus1000 = append(plus1000, u)
		size += largeExtra - 1
	}
	fmt.Printf("max RSS of +1 at %d / %d / %d packages: %s\n", s1, s2, n, mibs(plus1))
	fmt.Printf("max RSS of +1000 at %d / %d / %d packages: %s\n", s1+1, s2+1, n+1, mibs(plus1000))
	fmt.Printf("max RSS of the first publish of %d: %.0f MiB; target under 1024 MiB: %s\n",
		n, mib(oneGo.MaxRSS), verdict(oneGo.MaxRSS < 1<<20))
	check(os.RemoveAll(sdata))

	// The server on the repository of n packages.
	benchLargeServe(data, n)
}

func mibs(us []usage) string {
	var s []string
	for _, u := range us {
		s = append(s, fmt.Sprintf("%.0f MiB", mib(u.MaxRSS)))
	}
	return strings.Join(s, " / ")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// count is the number of .rpm files in dir.
func count(dir string) int {
	entries, err := os.ReadDir(dir)
	check(err)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rpm") {
			n++
		}
	}
	return n
}

func duSize(dir string) string {
	out, err := exec.Command("du", "-sh", dir).Output()
	if err != nil {
		return "size unknown"
	}
	return strings.Fields(string(out))[0]
}

var hrefRE = regexp.MustCompile(`<location href="([^"]+)"`)

// benchLargeServe runs enmeid serve on data (repository b of n packages)
// and samples its VmRSS every 200 ms while 32 clients fetch repomd.xml, the
// files it lists and -large-pkgs package files, for two rounds of
// -large-for.
func benchLargeServe(data string, n int) {
	var c struct {
		Key string `json:"license_key"`
	}
	out := admin(data, "--json", "contract", "add", "--customer", "bench", "--product", "b", "--quantity", "1",
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "bench@example.com")
	check(json.Unmarshal([]byte(out), &c))
	addr := freeAddr()
	srv := exec.Command(*enmeid, "serve", "--addr", addr)
	srv.Env = append(os.Environ(), "ENMEI_DATA="+data)
	check(srv.Start())
	stop := func() { srv.Process.Kill(); srv.Wait() }
	atExit = append(atExit, stop)
	waitPort(addr)
	pid := srv.Process.Pid
	started := vmRSS(pid)
	check(os.RemoveAll(filepath.Join(*work, "large-root")))
	auth := registerRoot(addr, c.Key, "large-root")
	authValue := strings.TrimPrefix(auth, "Authorization: ")
	base := "http://" + addr + "/repos/b/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: 2 * time.Minute}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", authValue)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	// What to fetch: repomd.xml (and its signature), every file it lists,
	// and package files spread over the whole repository.
	repomd, err := get("repodata/repomd.xml")
	check(err)
	paths := []string{"repodata/repomd.xml"}
	if _, err := get("repodata/repomd.xml.asc"); err == nil {
		paths = append(paths, "repodata/repomd.xml.asc")
	}
	var primary string
	for _, m := range hrefRE.FindAllStringSubmatch(string(repomd), -1) {
		paths = append(paths, m[1])
		if strings.Contains(m[1], "primary.xml") {
			primary = m[1]
		}
	}
	if primary == "" {
		fail("repomd.xml lists no primary.xml:\n" + string(repomd))
	}
	raw, err := get(primary)
	check(err)
	var pkgs []string
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	check(err)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := hrefRE.FindStringSubmatch(sc.Text()); m != nil {
			pkgs = append(pkgs, m[1])
		}
	}
	check(sc.Err())
	if len(pkgs) != n {
		fail(fmt.Sprintf("primary.xml lists %d packages, want %d", len(pkgs), n))
	}
	k := min(*largeFetches, len(pkgs))
	for i := 0; i < k; i++ {
		paths = append(paths, pkgs[i*len(pkgs)/k])
	}
	fmt.Printf("serve: %d packages in the repository; clients fetch %d files (repomd.xml, %d metadata files, %d packages; primary.xml.gz is %.1f MB), 32 at a time, %v per round\n",
		len(pkgs), len(paths), len(paths)-1-k, k, float64(len(raw))/1e6, *largeFor)
	fmt.Printf("serve: RSS at start %.1f MiB, after registering and the first fetches %.1f MiB\n", mib(started), mib(vmRSS(pid)))

	for round := 1; round <= 2; round++ {
		before := vmRSS(pid)
		var peak atomic.Int64
		peak.Store(before)
		var samples []int64
		var mu sync.Mutex
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					r := vmRSS(pid)
					mu.Lock()
					samples = append(samples, r)
					mu.Unlock()
					if r > peak.Load() {
						peak.Store(r)
					}
				}
			}
		}()
		var next, reqs, nbytes, errCount atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(*largeFor)
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					p := paths[int(next.Add(1)-1)%len(paths)]
					b, err := get(p)
					if err != nil {
						errCount.Add(1)
						firstErr.CompareAndSwap(nil, err)
						continue
					}
					reqs.Add(1)
					nbytes.Add(int64(len(b)))
				}
			}()
		}
		wg.Wait()
		close(done)
		<-sampled
		end := vmRSS(pid)
		time.Sleep(2 * time.Second)
		settled := vmRSS(pid)
		secs := largeFor.Seconds()
		fmt.Printf("serve round %d: %d requests (%.0f/s, %.1f MB/s), %d errors; RSS before %.1f MiB, peak %.1f MiB, end %.1f MiB, 2 s later %.1f MiB (%d samples)\n",
			round, reqs.Load(), float64(reqs.Load())/secs, float64(nbytes.Load())/1e6/secs, errCount.Load(),
			mib(before), mib(max(peak.Load(), end)), mib(end), mib(settled), len(samples))
		if e, ok := firstErr.Load().(error); ok {
			fmt.Printf("serve round %d: first error: %v\n", round, e)
		}
		mu.Lock()
		fmt.Printf("serve round %d samples (MiB, every 200 ms): %s\n", round, sampleList(samples))
		mu.Unlock()
	}
	stop()
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// sampleList shows at most about 40 of the samples, evenly spaced.
func sampleList(s []int64) string {
	step := max(1, len(s)/40)
	var out []string
	for i := 0; i < len(s); i += step {
		out = append(out, strconv.FormatFloat(mib(s[i]), 'f', 0, 64))
	}
	return strings.Join(out, " ")
}

// vmRSS is a process's resident set size in KiB, from /proc/PID/status.
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fail(fmt.Sprintf("read the RSS of process %d: %v", pid, err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			check(err)
			return v
		}
	}
	check(errors.Join(sc.Err(), fmt.Errorf("no VmRSS in /proc/%d/status", pid)))
	return 0
}
