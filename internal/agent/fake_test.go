package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
)

// fakeServer implements the small part of enmeid's API the agent uses, with
// enmeid's semantics: one seat per licence key and machine identity, a new
// secret on every registration, 401 for unknown credentials, api.Error
// bodies.
type fakeServer struct {
	t       *testing.T
	srv     *httptest.Server
	armored string
	repos   []api.Repo // of goodKey's product

	mu        sync.Mutex
	hosts     map[string]*fakeHost // by host ID
	byMachine map[string]string    // licence key + machine identity → host ID
	registers []api.RegisterRequest
	calls     []string // "METHOD /path"
	next      int
	// Misbehaviour a test asks for.
	publicKey       string // GET /api/v1/signing-key sends this when set
	registrationKey string // the register answer carries this key when set
	unregisterFails int    // POST /api/v1/unregister answers this status when set
}

type fakeHost struct {
	id, secret, machine, hostname, key string
	registered                         time.Time
}

const (
	goodKey    = "EK-GOOD1-GOOD2-GOOD3"
	phpKey     = "EK-PHP81-PHP81-PHP81" // a second product of the same contract
	debOnlyKey = "EK-DEBON-DEBON-DEBON" // its product is bound to Debian
	expiredKey = "EK-EXPRD-EXPRD-EXPRD"
	fullKey    = "EK-FULL1-FULL2-FULL3"
	quantity   = 3
)

var allRepos = []api.Repo{
	{ID: "el9-x86_64", Name: "AlmaLinux 9 ELS (x86_64)", Format: "rpm", Arch: "x86_64", Path: "/repos/el9-x86_64/"},
	{ID: "el9-noarch", Name: "AlmaLinux 9 ELS (noarch)", Format: "rpm", Arch: "noarch", Path: "/repos/el9-noarch/"},
	{ID: "deb12", Name: "Debian 12 ELS", Format: "deb", Suite: "bookworm", Component: "main", Path: "/repos/deb12/"},
}

// phpRepos are phpKey's: one per architecture, as a vendor building for
// several would have them.
var phpRepos = []api.Repo{
	{ID: "php81-x86_64", Name: "PHP 8.1 ELS (x86_64)", Format: "rpm", Arch: "x86_64", Path: "/repos/php81-x86_64/"},
	{ID: "php81-i686", Name: "PHP 8.1 ELS (i686)", Format: "rpm", Arch: "i686", Path: "/repos/php81-i686/"},
	{ID: "php81-aarch64", Name: "PHP 8.1 ELS (aarch64)", Format: "rpm", Arch: "aarch64", Path: "/repos/php81-aarch64/"},
	{ID: "php81-amd64", Name: "PHP 8.1 ELS (amd64)", Format: "deb", Arch: "amd64", Suite: "bookworm", Component: "php81", Path: "/repos/php81-amd64/"},
	{ID: "php81-arm64", Name: "PHP 8.1 ELS (arm64)", Format: "deb", Arch: "arm64", Suite: "bookworm", Component: "php81", Path: "/repos/php81-arm64/"},
	{ID: "php81-all", Name: "PHP 8.1 ELS (all)", Format: "deb", Arch: "all", Suite: "bookworm", Component: "php81-all", Path: "/repos/php81-all/"},
}

// newFake starts a fake server (TLS when tls is set) granting repos.
func newFake(t *testing.T, tls bool, repos []api.Repo) *fakeServer {
	f := &fakeServer{t: t, armored: armoredKey(t), repos: repos, hosts: map[string]*fakeHost{}, byMachine: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/register", f.register)
	mux.HandleFunc("POST /api/v1/unregister", f.unregister)
	mux.HandleFunc("GET /api/v1/status", f.status)
	mux.HandleFunc("GET /api/v1/signing-key", f.signingKey)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	f.srv = httptest.NewUnstartedServer(h)
	// Refused handshakes are expected (no --ca); keep them out of the test log.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) url() string { return f.srv.URL }

// caFile writes the TLS server's certificate as a PEM file.
func (f *fakeServer) caFile() string {
	p := filepath.Join(f.t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// seats is how many seats are taken, of all keys.
func (f *fakeServer) seats() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hosts)
}

// seatsOf is how many seats key's product holds.
func (f *fakeServer) seatsOf(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, h := range f.hosts {
		if h.key == key {
			n++
		}
	}
	return n
}

func (f *fakeServer) callsOf(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeServer) forget(hostID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[hostID]
	delete(f.byMachine, h.key+"|"+h.machine)
	delete(f.hosts, hostID)
}

// product is the product of a known key and its repositories.
func (f *fakeServer) product(key string) (string, []api.Repo) {
	switch key {
	case phpKey:
		return "php81", phpRepos
	case debOnlyKey:
		return "deb12", allRepos[2:]
	}
	return "el9", f.repos
}

func (f *fakeServer) contract(key string) api.Contract {
	used := 0
	for _, h := range f.hosts {
		if h.key == key {
			used++
		}
	}
	product, _ := f.product(key)
	return api.Contract{SupportID: "ELS-0001", Customer: "Example K.K.", Plan: "server", Products: []string{"el9", "php81", "deb12"},
		Product: product, Quantity: quantity, SeatsUsed: used, Start: "2025-04-01", End: "2030-03-31", Valid: true}
}

func fail(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.Error{Error: msg, Kind: kind})
}

func (f *fakeServer) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Key == "" || len(req.MachineID) < 16 {
		fail(w, 400, "invalid", "the registration request needs a licence key and a machine identity")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers = append(f.registers, req)
	if strings.ContainsFunc(req.Hostname, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		fail(w, 400, "invalid", "the host name has control characters")
		return
	}
	switch req.Key {
	case goodKey, phpKey:
	case debOnlyKey:
		if req.OSID != "debian" {
			fail(w, 403, "entitlement", fmt.Sprintf("the product deb12 of this licence key is for Debian, not %s %s: use the key for this host's OS", req.OSID, req.OSVersion))
			return
		}
	case expiredKey:
		fail(w, 403, "entitlement", "the contract ELS-0001 expired on 2025-03-31: ask the vendor to renew it")
		return
	case fullKey:
		fail(w, 403, "entitlement", "the contract ELS-0001 has no seat left (3 of 3 used): unregister a host or release its seat")
		return
	default:
		fail(w, 403, "entitlement", "the licence key is not known: check it against the support certificate")
		return
	}
	f.next++
	secret := fmt.Sprintf("secret-%d", f.next)
	id, reused := f.byMachine[req.Key+"|"+req.MachineID]
	if reused {
		f.hosts[id].secret = secret
	} else {
		id = fmt.Sprintf("h_%04d", f.next)
		f.byMachine[req.Key+"|"+req.MachineID] = id
		f.hosts[id] = &fakeHost{id: id, secret: secret, machine: req.MachineID, hostname: req.Hostname, key: req.Key, registered: time.Now()}
	}
	key := f.armored
	if f.registrationKey != "" {
		key = f.registrationKey
	}
	_, repos := f.product(req.Key)
	json.NewEncoder(w).Encode(api.RegisterResponse{HostID: id, Secret: secret, Reused: reused,
		Contract: f.contract(req.Key), Repos: repos, SigningKey: key})
}

// auth returns the host of the request's Basic credential, or writes a 401.
func (f *fakeServer) auth(w http.ResponseWriter, r *http.Request) *fakeHost {
	id, secret, ok := r.BasicAuth()
	h := f.hosts[id]
	if !ok || h == nil || h.secret != secret {
		fail(w, 401, "unauthorized", "the host credential is not valid (the host was unregistered or its seat released): run enmei register again")
		return nil
	}
	return h
}

func (f *fakeServer) unregister(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unregisterFails != 0 {
		fail(w, f.unregisterFails, "internal", "the server failed to handle the request; the vendor's operators can find the cause in enmeid's log")
		return
	}
	if h := f.auth(w, r); h != nil {
		delete(f.byMachine, h.key+"|"+h.machine)
		delete(f.hosts, h.id)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeServer) status(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.auth(w, r); h != nil {
		_, repos := f.product(h.key)
		json.NewEncoder(w).Encode(api.Status{HostID: h.id, Hostname: h.hostname, RegisteredAt: h.registered,
			LastSeen: h.registered.Add(time.Minute), Contract: f.contract(h.key), Repos: repos})
	}
}

func (f *fakeServer) signingKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	key := f.armored
	if f.publicKey != "" {
		key = f.publicKey
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/pgp-keys")
	io.WriteString(w, key)
}

// testProxy is a forward proxy: CONNECT tunnels for https servers, absolute
// URLs for http ones, with Basic proxy authentication when user is set.
type testProxy struct {
	srv        *httptest.Server
	user, pass string
	upstream   string // when set, plain http requests go to this host:port, whatever their URL says
	mu         sync.Mutex
	seen       []string // "CONNECT host:port" or "GET http://…"
}

func newProxy(t *testing.T, user, pass string) *testProxy {
	p := &testProxy{user: user, pass: pass}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

// url is the proxy's URL, with credentials when given.
func (p *testProxy) url(user, pass string) string {
	if user == "" {
		return p.srv.URL
	}
	return strings.Replace(p.srv.URL, "http://", "http://"+user+":"+pass+"@", 1)
}

func (p *testProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *testProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
	}
	if r.Method == http.MethodConnect {
		p.mu.Lock()
		p.seen = append(p.seen, "CONNECT "+r.Host)
		p.mu.Unlock()
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, buf); done <- struct{}{} }()
		go func() { io.Copy(conn, up); done <- struct{}{} }()
		<-done
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.URL.String())
	p.mu.Unlock()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	if p.upstream != "" {
		out.URL.Host = p.upstream
	}
	out.Header.Del("Proxy-Authorization")
	resp, err := (&http.Transport{}).RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// host is a scratch root standing for a customer host.
type host struct {
	t     *testing.T
	root  string
	env   map[string]string
	stdin string
}

const rawMachineID = "4c4c4544004a3910804bb4c04f4e4a32"

func newHost(t *testing.T, osRelease string) *host {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/os-release"), osRelease)
	writeFile(t, filepath.Join(root, "etc/machine-id"), rawMachineID+"\n")
	writeFile(t, filepath.Join(root, "etc/hostname"), "web01.example.jp\n")
	// The fake's repositories are x86_64 ones, whatever runs the tests.
	return &host{t: t, root: root, env: map[string]string{"ENMEI_DEBUG_ARCH": "x86_64"}}
}

type result struct {
	code           int
	stdout, stderr string
}

// enmei runs Main on the host's root.
func (h *host) enmei(args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"--root", h.root}, args...), func(k string) string { return h.env[k] }, strings.NewReader(h.stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func (h *host) mustEnmei(args ...string) result {
	h.t.Helper()
	r := h.enmei(args...)
	if r.code != 0 {
		h.t.Fatalf("enmei %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// files lists every regular file under the root with its mode and content,
// but for the lock file, which stays once made.
func (h *host) files() map[string]string {
	h.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(h.root, p)
		if "/"+rel == lockPath {
			return nil
		}
		out["/"+rel] = fmt.Sprintf("%v %s", fi.Mode(), data)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *host) state() *HostState {
	h.t.Helper()
	st, err := LoadState(h.root)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *host) read(p string) string {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.root, p))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
