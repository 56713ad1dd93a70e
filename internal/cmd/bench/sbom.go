package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// benchPublishFacts measures what keeping SBOM facts costs a first publish
// of the -full RPMs: the same publish with ENMEI_DEBUG_NO_SBOM_FACTS=1.
func benchPublishFacts() {
	fmt.Printf("\n== first publish of %d RPMs with and without SBOM facts ==\n", *full)
	dir := fullRPMs()
	var with, without []time.Duration
	for i := 0; i < *runs; i++ {
		for _, skip := range []bool{false, true} {
			data := newData(fmt.Sprintf("facts-%v-%d", skip, i))
			admin(data, "product", "add", "p", "--name", "P", "--format", "rpm")
			admin(data, "repo", "add", "r", "--product", "p")
			env := []string{"ENMEI_DATA=" + data}
			if skip {
				env = append(env, "ENMEI_DEBUG_NO_SBOM_FACTS=1")
			}
			d := timed(func() { shEnv(env, *enmeid, "publish", "r", dir) })
			if skip {
				without = append(without, d)
			} else {
				with = append(with, d)
			}
			check(os.RemoveAll(data))
		}
	}
	report("enmeid publish (SBOM facts)", with, "enmeid publish (no SBOM facts)", without)
}

// benchHostSBOM measures enmei sbom on a root with -hostpkgs installed
// packages against a local server, cold (empty cache) and warm, and syft
// on the same root when $SYFT names its binary.
func benchHostSBOM() {
	n := *hostPkgs
	fmt.Printf("\n== host SBOM of %d installed RPMs (rpmdb SQLite) ==\n", n)
	dir := filepath.Join(*work, "host-rpms")
	paths := genRPMs(dir, n, 100000)
	data := newData("sbom-data")
	admin(data, "product", "add", "el9", "--name", "EL9", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
	admin(data, "repo", "add", "el9", "--product", "el9", "--arch", "x86_64")
	admin(data, "publish", "el9", dir)
	var c struct {
		SupportID string `json:"support_id"`
	}
	check(json.Unmarshal([]byte(admin(data, "--json", "contract", "add", "--customer", "bench", "--product", "el9", "--quantity", "1",
		"--start", "2026-01-01", "--end", "2099-12-31", "--contact", "b@example.jp")), &c))
	addr := freeAddr()
	public := "https://" + addr
	srv := exec.Command(*enmeid, "serve", "--addr", addr, "--tls", "auto", "--public-url", public)
	srv.Env = append(os.Environ(), "ENMEI_DATA="+data)
	check(srv.Start())
	atExit = append(atExit, func() { srv.Process.Kill(); srv.Wait() })
	waitPort(addr)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(admin(data, "ca", "export")))
	var issued struct {
		DownloadURL string `json:"download_url"`
	}
	cmd := exec.Command(*enmeid, "--json", "cert", "issue", c.SupportID)
	cmd.Env = append(os.Environ(), "ENMEI_DATA="+data, "ENMEI_PUBLIC_URL="+public)
	out, err := cmd.Output()
	check(err)
	check(json.Unmarshal(out, &issued))
	const pw = "Bench123Bench456"
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	token := issued.DownloadURL[strings.Index(issued.DownloadURL, "token=")+6:]
	resp, err := client.PostForm(public+"/cert/download", url.Values{"token": {token}, "password": {pw}})
	check(err)
	p12, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		fail(fmt.Sprintf("certificate download: %s", resp.Status))
	}

	root := filepath.Join(*work, "host-root")
	check(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	check(os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=almalinux\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4\"\n"), 0o644))
	base := []string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"}
	sh("rpm", append(base, "--initdb")...)
	sh("rpm", append(append(base, "-i", "--justdb", "--nodeps", "--nosignature", "--noscripts"), paths...)...)
	p12File := filepath.Join(*work, "bench.p12")
	check(os.WriteFile(p12File, p12, 0o600))
	sh(*enmei, "--root", root, "cert", "import", p12File, "--password", pw)

	outFile := filepath.Join(*work, "host.spdx.json")
	sbom := func() { sh(*enmei, "--root", root, "sbom", "--server", public, "--output", outFile) }
	var cold, warm []time.Duration
	for i := 0; i < *runs; i++ {
		check(os.RemoveAll(filepath.Join(root, "var/cache/enmei")))
		cold = append(cold, timed(sbom))
	}
	for i := 0; i < *runs; i++ {
		warm = append(warm, timed(sbom))
	}
	fmt.Printf("%-40s median %8v  (runs %v)\n", "enmei sbom, cold (target < 3 s)", median(cold).Round(time.Millisecond), roundD(cold))
	fmt.Printf("%-40s median %8v  (runs %v)\n", "enmei sbom, warm (target < 1 s)", median(warm).Round(time.Millisecond), roundD(warm))
	syft := os.Getenv("SYFT")
	if syft == "" {
		fmt.Println("syft: not measured (set SYFT to its binary; scripts/bench builds it)")
		return
	}
	var peer []time.Duration
	for i := 0; i < *runs; i++ {
		peer = append(peer, timed(func() {
			shEnv([]string{"SYFT_CHECK_FOR_APP_UPDATE=false"}, syft, "scan", "dir:"+root, "-q", "-o", "spdx-json="+filepath.Join(*work, "syft.json"))
		}))
	}
	report("enmei sbom, warm", warm, "syft scan dir: (same root)", peer)
	fmt.Printf("ratio cold enmei/syft: %.2f\n", float64(median(cold))/float64(median(peer)))
}
