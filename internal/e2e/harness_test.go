// Package e2e runs the real enmeid and enmei binaries against real dnf,
// apt-get and PostgreSQL, the way a vendor and a customer would.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

var bin struct{ enmeid, enmei string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "enmei-e2e-bin-*")
	if err != nil {
		panic(err)
	}
	bin.enmeid = filepath.Join(dir, "enmeid")
	bin.enmei = filepath.Join(dir, "enmei")
	for out, pkg := range map[string]string{bin.enmeid: "../../cmd/enmeid", bin.enmei: "../../cmd/enmei"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	pgtest.Main(m, func() { os.RemoveAll(dir) })
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

func run(t testing.TB, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// cleanEnv drops proxy and enmei settings of the machine running the tests.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k := strings.ToUpper(strings.SplitN(kv, "=", 2)[0])
		if strings.HasSuffix(k, "_PROXY") || strings.HasPrefix(k, "ENMEI_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// vendor is one enmeid data set (and optionally a running server on it).
type vendor struct {
	t    testing.TB
	data string
	db   string // "" = the SQLite default
	url  string
	cmd  *exec.Cmd
	// extra environment for enmeid (debug knobs)
	extra []string
}

func newVendor(t testing.TB, db string) *vendor {
	return &vendor{t: t, data: t.TempDir(), db: db}
}

func (v *vendor) env() []string {
	// Signing keys made on first need are small in tests: RSA-4096 key
	// generation takes seconds per vendor.
	env := []string{"ENMEI_DATA=" + v.data, "ENMEI_DEBUG_KEY_BITS=2048"}
	if v.db != "" {
		env = append(env, "ENMEI_DB="+v.db)
	}
	return append(env, v.extra...)
}

// admin runs an enmeid sub-command.
func (v *vendor) admin(args ...string) result {
	v.t.Helper()
	return run(v.t, v.env(), bin.enmeid, args...)
}

// must runs an enmeid sub-command that must succeed.
func (v *vendor) must(args ...string) string {
	v.t.Helper()
	r := v.admin(args...)
	if r.code != 0 {
		v.t.Fatalf("enmeid %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (v *vendor) mustJSON(out any, args ...string) {
	v.t.Helper()
	s := v.must(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		v.t.Fatalf("enmeid %v: output is not JSON: %v\n%s", args, err, s)
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve starts enmeid serve and waits until it answers.
func (v *vendor) serve(args ...string) {
	v.t.Helper()
	addr := freePort(v.t)
	scheme := "http"
	for _, a := range args {
		if strings.HasPrefix(a, "--tls") {
			scheme = "https"
		}
	}
	cmd := exec.Command(bin.enmeid, append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Env = append(cleanEnv(), v.env()...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	v.cmd = cmd
	v.url = scheme + "://" + addr
	v.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if v.t.Failed() {
			v.t.Logf("enmeid log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatalf("enmeid serve did not start:\n%s", logs.String())
}

// catalog adds an rpm product with one x86_64 repository and a deb product
// with one repository.
func (v *vendor) catalog() {
	v.t.Helper()
	v.must("product", "add", "el9", "--name", "EL9 ELS", "--format", "rpm")
	v.must("repo", "add", "el9-x86_64", "--product", "el9", "--arch", "x86_64")
	v.must("product", "add", "deb12", "--name", "Debian 12 ELS", "--format", "deb")
	v.must("repo", "add", "deb12-main", "--product", "deb12", "--suite", "bookworm", "--component", "main")
}

type contractOut struct {
	SupportID   string            `json:"support_id"`
	LicenseKey  string            `json:"license_key"`
	LicenseKeys map[string]string `json:"license_keys"`
}

func (v *vendor) contract(product string, quantity int, start, end string) contractOut {
	v.t.Helper()
	var c contractOut
	v.mustJSON(&c, "contract", "add", "--customer", "株式会社テスト", "--product", product, "--plan", "server",
		"--quantity", fmt.Sprint(quantity), "--start", start, "--end", end, "--contact", "ops@example.co.jp")
	return c
}

// host is a scratch root standing in for a customer machine.
type host struct {
	t    testing.TB
	root string
	env  []string
}

func newHost(t testing.TB, osRelease, machineID string) *host {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(osRelease), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte(machineID+"\n"), 0o444))
	must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("host-"+machineID[:6]+"\n"), 0o644))
	return &host{t: t, root: root}
}

const (
	almaRelease   = "NAME=\"AlmaLinux\"\nVERSION=\"9.4 (Seafoam Ocelot)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4 (Seafoam Ocelot)\"\n"
	debianRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"
)

func machineID(i int) string { return fmt.Sprintf("%032x", 0xe0e1000+i) }

func (h *host) enmei(args ...string) result {
	h.t.Helper()
	return run(h.t, h.env, bin.enmei, append([]string{"--root", h.root}, args...)...)
}

func (h *host) mustEnmei(args ...string) string {
	h.t.Helper()
	r := h.enmei(args...)
	if r.code != 0 {
		h.t.Fatalf("enmei %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout + r.stderr
}

type hostJSON struct {
	Server    string `json:"server"`
	HostID    string `json:"host_id"`
	Secret    string `json:"secret"`
	SupportID string `json:"support_id"`
}

func (h *host) identity() hostJSON {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.root, "etc/enmei/host.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	var hj hostJSON
	if err := json.Unmarshal(data, &hj); err != nil {
		h.t.Fatal(err)
	}
	return hj
}

// get fetches a repository URL with the given Basic credentials.
func get(t testing.TB, method, url, user, pass string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func today() time.Time { return time.Now().In(time.FixedZone("Asia/Tokyo", 9*3600)) }

func date(t time.Time) string { return t.Format("2006-01-02") }

// firstLocation returns the first package location in a gzipped primary.xml.
func firstLocation(t testing.TB, gz []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("primary.xml.gz: %v", err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(zr)
	s := buf.String()
	i := strings.Index(s, `<location href="`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`<location href="`):]
	return s[:strings.Index(s, `"`)]
}

// wrongKey is an armored public key that signed nothing of ours.
func wrongKey(t testing.TB) string {
	t.Helper()
	k, err := sign.Generate("someone else", "else@example.com", time.Now())
	must(t, err)
	pub, err := k.ArmoredPublic()
	must(t, err)
	return string(pub)
}

// wrongKeyBinary returns a binary keyring with a key other than ours.
func wrongKeyBinary(t testing.TB, ours []byte) []byte {
	t.Helper()
	k, err := sign.Generate("someone else", "else@example.com", time.Now())
	must(t, err)
	pub, err := k.Public()
	must(t, err)
	if bytes.Equal(pub, ours) {
		t.Fatal("generated the same key twice")
	}
	return pub
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

// demoVendor is a vendor with the catalogue, the demo packages published to
// the repository of product ("el9" or "deb12"), a contract of quantity seats
// valid from a month ago to a year ahead, and a running server.
func demoVendor(t *testing.T, product string, quantity int, serveArgs ...string) (*vendor, contractOut) {
	t.Helper()
	v := newVendor(t, "")
	v.catalog()
	format, repo := "rpm", "el9-x86_64"
	if product == "deb12" {
		format, repo = "deb", "deb12-main"
	}
	dir, _ := writeDemo(t, format)
	v.must("publish", repo, dir)
	c := v.contract(product, quantity, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	v.serve(serveArgs...)
	return v, c
}
