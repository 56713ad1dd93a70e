package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// writeAdvisories writes n security advisories as one JSON list, each with
// one CVE and a fixed package in an rpm and a deb repository, so the
// tracker gets 2n CVE records.
func writeAdvisories(path string, n int) {
	type pkg struct {
		Repo  string `json:"repo"`
		NEVRA string `json:"nevra"`
	}
	type adv struct {
		Type     string            `json:"type"`
		Severity string            `json:"severity"`
		Issued   string            `json:"issued"`
		Title    map[string]string `json:"title"`
		CVEs     []map[string]any  `json:"cves"`
		Packages []pkg             `json:"packages"`
	}
	vectors := []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}
	list := make([]adv, n)
	for i := range list {
		year := 2016 + i%10
		name := fmt.Sprintf("pkg%d", i%3000)
		list[i] = adv{Type: "security", Severity: "important", Issued: fmt.Sprintf("%d-%02d-%02d", year, 1+i%12, 1+i%28),
			Title: map[string]string{"en": "Important: " + name + " security update", "ja": "重要: " + name + " のセキュリティ更新"},
			CVEs:  []map[string]any{{"id": fmt.Sprintf("CVE-%d-%d", year, 100000+i), "cvss": vectors[i%len(vectors)]}},
			Packages: []pkg{{Repo: "el9", NEVRA: fmt.Sprintf("%s-1:%d.0-%d.el9.x86_64", name, 1+i%7, 2+i%5)},
				{Repo: "deb12", NEVRA: fmt.Sprintf("%s_%d.0-%d~deb12u1_amd64", name, 1+i%7, 2+i%5)}}}
	}
	b, err := json.Marshal(list)
	check(err)
	check(os.WriteFile(path, b, 0o644))
}

// benchAdvisories measures enmeid advisory add of nAdvisories in one call,
// then the public tracker (list page and tracker.json, with a filter) at the
// server over the resulting 2×nAdvisories CVE records.
func benchAdvisories() {
	nAdvisories := *advCount
	fmt.Printf("\n== advisory add of %d advisories in one call; tracker pages over %d CVE records ==\n", nAdvisories, 2*nAdvisories)
	file := filepath.Join(*work, "advisories.json")
	writeAdvisories(file, nAdvisories)
	var adds []time.Duration
	var data string
	for i := 0; i < *runs; i++ {
		if data != "" {
			check(os.RemoveAll(data))
		}
		data = newData(fmt.Sprintf("advisories-%d", i))
		admin(data, "product", "add", "alma9", "--name", "AlmaLinux 9", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
		admin(data, "repo", "add", "el9", "--product", "alma9", "--arch", "x86_64")
		admin(data, "product", "add", "deb12", "--name", "Debian 12", "--format", "deb", "--os", "debian", "--os-version", "12")
		admin(data, "repo", "add", "deb12", "--product", "deb12")
		adds = append(adds, timed(func() { admin(data, "advisory", "add", file) }))
	}
	fmt.Printf("%-40s median %8v  (runs %v; target under 60 s)\n", "enmeid advisory add", median(adds).Round(time.Millisecond), roundD(adds))

	addr := freeAddr()
	cmd := exec.Command(*enmeid, "serve", "--addr", addr)
	cmd.Env = append(os.Environ(), "ENMEI_DATA="+data)
	check(cmd.Start())
	atExit = append(atExit, func() { cmd.Process.Kill(); cmd.Wait() })
	waitPort(addr)
	for _, path := range []string{
		"/security/?product=alma9&status=in-testing&min_score=7",
		"/security/tracker.json?product=deb12&severity=critical",
		"/security/?q=pkg1234",
	} {
		url := "http://" + addr + path
		get := func() {
			resp, err := http.Get(url)
			check(err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Sprintf("GET %s: %s", path, resp.Status))
			}
		}
		get() // the first request builds the snapshot
		var ds []time.Duration
		for i := 0; i < 5*(*runs); i++ {
			ds = append(ds, timed(get))
		}
		fmt.Printf("%-40s median %8v  (%d requests; target under 100 ms)\n", "GET "+path, median(ds).Round(10*time.Microsecond), len(ds))
	}
}

// fixedRelease is the release of advisory i's fixed build: the installed
// builds are release 1, so one in five advisories (release 2) is newer and
// the others (release 1, or 0: older) are not.
func fixedRelease(i int) int {
	switch i % 5 {
	case 4:
		return 2
	case 0, 1:
		return 0
	}
	return 1
}

// benchScan measures enmei scan of -hostpkgs installed packages against
// -advisories released advisories once the data is on the host: asking the
// server (an ETag hit) and --offline. It also times releasing them all at
// once (updateinfo, CSAF signing).
func benchScan() {
	n, nAdv := *hostPkgs, *advCount
	fmt.Printf("\n== enmei scan of %d installed RPMs against %d advisories ==\n", n, nAdv)
	paths := genRPMs(filepath.Join(*work, "scan-rpms"), n, 100000)
	data := newData("scan-data")
	admin(data, "product", "add", "el9", "--name", "EL9", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
	admin(data, "repo", "add", "el9", "--product", "el9", "--arch", "x86_64")
	type pkg struct {
		Repo  string `json:"repo"`
		NEVRA string `json:"nevra"`
	}
	list := make([]map[string]any, nAdv)
	for i := range list {
		// Names cycle over twice the installed range: half the advisories
		// name an installed package, a fifth of those with a newer build.
		list[i] = map[string]any{"type": "security", "severity": "important", "issued": "2026-01-01",
			"title":    map[string]string{"en": "update"},
			"cves":     []map[string]string{{"id": fmt.Sprintf("CVE-2026-%d", 100000+i)}},
			"packages": []pkg{{Repo: "el9", NEVRA: fmt.Sprintf("bench-pkg-%05d-1.0-%d.x86_64", 100000+i%(2*n), fixedRelease(i))}}}
	}
	b, err := json.Marshal(list)
	check(err)
	file := filepath.Join(*work, "scan-advisories.json")
	check(os.WriteFile(file, b, 0o644))
	addr := freeAddr()
	url := "http://" + addr
	env := []string{"ENMEI_DATA=" + data, "ENMEI_PUBLIC_URL=" + url}
	release := timed(func() { shEnv(env, *enmeid, "advisory", "add", "--publish", file) })
	fmt.Printf("%-40s %8v  (updateinfo and %d signed CSAF documents)\n", "enmeid advisory add --publish (once)", release.Round(time.Millisecond), 2*nAdv)
	var c struct {
		LicenseKey string `json:"license_key"`
	}
	check(json.Unmarshal([]byte(admin(data, "--json", "contract", "add", "--customer", "bench", "--product", "el9", "--quantity", "1",
		"--start", "2026-01-01", "--end", "2099-12-31", "--contact", "b@example.jp")), &c))
	srv := exec.Command(*enmeid, "serve", "--addr", addr)
	srv.Env = append(os.Environ(), env...)
	check(srv.Start())
	atExit = append(atExit, func() { srv.Process.Kill(); srv.Wait() })
	waitPort(addr)

	root := filepath.Join(*work, "scan-root")
	check(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	check(os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=almalinux\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4\"\n"), 0o644))
	check(os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o644))
	base := []string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"}
	sh("rpm", append(base, "--initdb")...)
	sh("rpm", append(append(base, "-i", "--justdb", "--nodeps", "--nosignature", "--noscripts"), paths...)...)
	sh(*enmei, "--root", root, "register", "--server", url, "--key", c.LicenseKey)
	scan := func(args ...string) func() {
		return func() {
			cmd := exec.Command(*enmei, append([]string{"--root", root, "scan", "--format", "json"}, args...)...)
			out, err := cmd.Output()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 5 {
				fail(fmt.Sprintf("enmei scan %v: %v (want exit 5)\n%.500s", args, err, out))
			}
		}
	}
	first := timed(scan())
	fmt.Printf("%-40s %8v\n", "enmei scan, first (downloads the data)", first.Round(time.Millisecond))
	var online, offline []time.Duration
	for i := 0; i < *runs; i++ {
		online = append(online, timed(scan()))
		offline = append(offline, timed(scan("--offline")))
	}
	fmt.Printf("%-40s median %8v  (runs %v; target under 200 ms)\n", "enmei scan (server says unchanged)", median(online).Round(time.Millisecond), roundD(online))
	fmt.Printf("%-40s median %8v  (runs %v; target under 200 ms)\n", "enmei scan --offline", median(offline).Round(time.Millisecond), roundD(offline))
}
