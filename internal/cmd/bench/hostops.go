package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/cluster/clustertest"
	"github.com/enmei-project/enmei/internal/demo"
)

// benchHostOps measures enmei preflight on a root with -hostpkgs installed
// RPMs against a server on loopback (target under 2 s), and what enmei
// update adds to the bare dnf upgrade it runs (target under 3 s), on a
// plain host and on a Pacemaker node played by the real tools on a CIB
// file, where the resource moves themselves are left out.
func benchHostOps() {
	n := *hostPkgs
	fmt.Printf("\n== enmei preflight and update on a root with %d installed RPMs ==\n", n)
	dir := filepath.Join(*work, "hostops-rpms")
	installed := genRPMs(dir, n, 300000)
	updates := filepath.Join(*work, "hostops-updates")
	const changed = 10
	genRPMVersions(updates, changed, 300000, "1.1")
	data := newData("hostops-data")
	admin(data, "product", "add", "el9", "--name", "EL9", "--format", "rpm")
	admin(data, "repo", "add", "el9", "--product", "el9", "--arch", "x86_64")
	admin(data, "publish", "el9", dir)
	admin(data, "publish", "el9", updates)
	var c struct {
		LicenseKey string `json:"license_key"`
	}
	check(json.Unmarshal([]byte(admin(data, "--json", "contract", "add", "--customer", "bench", "--product", "el9", "--quantity", "100",
		"--start", "2026-01-01", "--end", "2099-12-31", "--contact", "b@example.jp")), &c))
	addr := freeAddr()
	srv := exec.Command(*enmeid, "serve", "--addr", addr)
	srv.Env = append(os.Environ(), "ENMEI_DATA="+data)
	check(srv.Start())
	atExit = append(atExit, func() { srv.Process.Kill(); srv.Wait() })
	waitPort(addr)

	// The base root: the packages in an rpmdb where EL keeps it (HOME's
	// .rpmmacros tells Debian's rpm and dnf), registered, metadata cached.
	home := filepath.Join(*work, "hostops-home")
	check(os.MkdirAll(home, 0o755))
	check(os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte("%_dbpath /var/lib/rpm\n"), 0o644))
	env := []string{"HOME=" + home}
	base := filepath.Join(*work, "hostops-root")
	check(os.MkdirAll(filepath.Join(base, "etc"), 0o755))
	check(os.MkdirAll(filepath.Join(base, "var/log"), 0o755))
	check(os.WriteFile(filepath.Join(base, "etc/os-release"), []byte("ID=almalinux\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4\"\n"), 0o644))
	check(os.WriteFile(filepath.Join(base, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o444))
	check(os.WriteFile(filepath.Join(base, "etc/hosts"), []byte("127.0.0.1 localhost\n10.0.0.1 node1\n10.0.0.2 node2\n"), 0o644))
	rpm := []string{"--root", base, "--define", "_db_backend sqlite"}
	shEnv(env, "rpm", append(rpm, "--initdb")...)
	shEnv(env, "rpm", append(append(rpm, "-i", "--nodeps", "--nosignature", "--noscripts"), installed...)...)
	shEnv(env, *enmei, "--root", base, "register", "--server", "http://"+addr, "--key", c.LicenseKey)
	dnfArgs := func(root string) []string {
		return []string{"-y", "--installroot=" + root, "--releasever=9",
			"--setopt=reposdir=" + filepath.Join(root, "etc/yum.repos.d"),
			"--setopt=cachedir=" + filepath.Join(root, "var/cache/dnf"),
			"--setopt=logdir=" + filepath.Join(root, "var/log"),
			"--setopt=enmei-el9.gpgkey=file://" + filepath.Join(root, "etc/pki/rpm-gpg/RPM-GPG-KEY-enmei")}
	}
	shEnv(env, "dnf", append(dnfArgs(base), "makecache")...)

	var pre []time.Duration
	for i := 0; i < *runs; i++ {
		pre = append(pre, timed(func() { shEnv(env, *enmei, "--root", base, "preflight", "--cluster", "none") }))
	}
	fmt.Printf("%-40s median %8v  (runs %v)\n", fmt.Sprintf("enmei preflight, %d RPMs (target < 2 s)", n), median(pre).Round(time.Millisecond), roundD(pre))

	// Each run updates a fresh copy of the base root: the bare dnf
	// upgrade, then enmei update (plain, then on a Pacemaker node).
	copyRoot := func(name string) string {
		dst := filepath.Join(*work, name)
		check(os.RemoveAll(dst))
		sh("cp", "-a", base, dst)
		return dst
	}
	var bare, plain, clustered, moves []time.Duration
	for i := 0; i < *runs; i++ {
		r := copyRoot("hostops-bare")
		bare = append(bare, timed(func() { shEnv(env, "dnf", append(dnfArgs(r), "upgrade")...) }))
		r = copyRoot("hostops-plain")
		plain = append(plain, timed(func() { shEnv(env, *enmei, "--root", r, "update", "--cluster", "none") }))
		r = copyRoot("hostops-node")
		sim := clustertest.Start(&benchTB{}, "two-node")
		var out string
		d := timed(func() {
			out = shEnv(append(append([]string{}, env...), sim.EnvAs("node1")...), *enmei, "--root", r, "--json", "update", "--cluster", "pacemaker")
		})
		sim.Stop()
		clustered = append(clustered, d)
		moves = append(moves, stepTime(out, "wait-away", "wait-healthy"))
	}
	report("enmei update --cluster none", plain, "dnf -y upgrade (same root, 10 packages)", bare)
	fmt.Printf("enmei update overhead, plain host: %v (target < 3 s)\n", (median(plain) - median(bare)).Round(time.Millisecond))
	var overhead []time.Duration
	for i := range clustered {
		overhead = append(overhead, clustered[i]-moves[i])
	}
	fmt.Printf("%-40s median %8v  (runs %v)\n", "enmei update, Pacemaker node", median(clustered).Round(time.Millisecond), roundD(clustered))
	fmt.Printf("%-40s median %8v  (runs %v)\n", "  of which resource moves (waits)", median(moves).Round(time.Millisecond), roundD(moves))
	fmt.Printf("enmei update overhead, Pacemaker node, moves left out: %v (target < 3 s)\n", (median(overhead) - median(bare)).Round(time.Millisecond))
}

// stepTime adds the durations of the named steps in update --json output.
func stepTime(out string, steps ...string) time.Duration {
	var d time.Duration
	for line := range strings.Lines(out) {
		var e struct {
			Step       string `json:"step"`
			DurationMS int64  `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		for _, s := range steps {
			if e.Step == s {
				d += time.Duration(e.DurationMS) * time.Millisecond
			}
		}
	}
	return d
}

// genRPMVersions makes newer versions of genRPMs' packages.
func genRPMVersions(dir string, n, offset int, version string) {
	check(os.MkdirAll(dir, 0o755))
	for i := offset; i < offset+n; i++ {
		s := demo.Spec{Name: fmt.Sprintf("bench-pkg-%05d", i), Version: version, Release: "1", Arch: "x86_64",
			Summary: "benchmark package", Description: "A newer package for measuring updates.",
			Files: map[string]string{fmt.Sprintf("/usr/bin/bench-%05d", i): "#!/bin/sh\necho bench " + version + "\n"}}
		data, err := demo.RPM(s)
		check(err)
		check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-1.x86_64.rpm", s.Name, version)), data, 0o644))
	}
}

// benchTB lets the bench play a cluster with clustertest outside go test.
type benchTB struct{}

func (benchTB) Helper()                           {}
func (benchTB) Fatal(args ...any)                 { fail(fmt.Sprint(args...)) }
func (benchTB) Fatalf(format string, args ...any) { fail(fmt.Sprintf(format, args...)) }
func (benchTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
func (benchTB) Cleanup(f func()) { atExit = append(atExit, f) }
func (benchTB) TempDir() string {
	d, err := os.MkdirTemp(*work, "sim-")
	check(err)
	return d
}
