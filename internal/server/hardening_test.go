package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/store"
)

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryBoundedUnderJunkCredentials: giant user names, random
// well-formed host IDs and random secrets from unauthenticated clients cost
// no lasting memory. Before the fix, the cache was keyed by the user name as
// sent: 200 requests with 700 KB names kept about 140 MB.
func TestMemoryBoundedUnderJunkCredentials(t *testing.T) {
	f := newFixture(t)
	srv := New(f.srvConfig)
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.MaxHeaderBytes = 1 << 20 // let the giant names reach the handler, as a large limit would
	ts.Start()
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	get := func(user, pass string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/repos/r/repodata/repomd.xml", nil)
		req.SetBasicAuth(user, pass)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	before := heapAfterGC()
	giant := strings.Repeat("x", 500<<10)
	for i := 0; i < 200; i++ {
		if code := get(fmt.Sprintf("%s%04d", giant, i), "secret"); code != http.StatusUnauthorized {
			t.Fatalf("giant user name: %d, want 401", code)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 16)
			for i := 0; i < 10000/8; i++ {
				rand.Read(b)
				// Half well-formed IDs (they reach the database and the
				// negative cache), half random junk.
				id := "h_" + hex.EncodeToString(b)[:16]
				if i%2 == 1 {
					id = hex.EncodeToString(b)
				}
				if code := get(id, hex.EncodeToString(b)); code != http.StatusUnauthorized {
					t.Errorf("random credential: %d, want 401", code)
					return
				}
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	after := heapAfterGC()
	grew := int64(after) - int64(before)
	t.Logf("heap before %d MB, after %d MB", before>>20, after>>20)
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MB after 10,200 requests with junk credentials, want at most 32 MB", grew>>20)
	}
	if srv.hosts.Len() > 5100 {
		t.Errorf("the host cache holds %d entries for 5,000 well-formed unknown IDs", srv.hosts.Len())
	}
}

// TestReadAfterPublish: right after a publish or rollback returns, the
// entry-point metadata is the new snapshot's, whatever the repository cache
// holds.
func TestReadAfterPublish(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.RepoTTL = time.Hour })
	ctx := context.Background()
	for i := 0; i < 15; i++ {
		data, err := demo.RPM(demo.Spec{Name: fmt.Sprint("p", i), Version: "1", Release: "1", Arch: "x86_64", Summary: "s",
			Files: map[string]string{fmt.Sprintf("/usr/share/p%d", i): "x"}})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "p.rpm")
		os.WriteFile(file, data, 0o644)
		// Warm the package path's cache with the old snapshot.
		f.get(t, "/repos/r/repodata/repomd.xml")
		res, err := f.pub.Publish(ctx, "r", []string{file}, publish.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := f.servedSum(t, res.Publication, "repodata/repomd.xml")
		if got := f.etag(t, "/repos/r/repodata/repomd.xml"); got != want {
			t.Fatalf("publish %d: repomd.xml right after the publish is %s, want %s", i, got, want)
		}
		// The new package is served at once too.
		if code := f.get(t, fmt.Sprintf("/repos/r/Packages/p/p%d-1-1.x86_64.rpm", i)); code != 200 {
			t.Fatalf("publish %d: the new package: %d", i, code)
		}
	}
	pubs, _ := f.db.Publications(ctx, "r")
	rb, err := f.pub.Rollback(ctx, "r", pubs[len(pubs)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.etag(t, "/repos/r/repodata/repomd.xml"), f.servedSum(t, rb, "repodata/repomd.xml"); got != want {
		t.Errorf("repomd.xml right after a rollback is %s, want %s", got, want)
	}
}

func (f *fixture) servedSum(t *testing.T, pub store.Publication, path string) string {
	t.Helper()
	m, err := manifest.Load(context.Background(), f.blobs, pub.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	return `"` + m.Files[path].Sum + `"`
}

func (f *fixture) do(t *testing.T, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	req.SetBasicAuth(f.host.HostID, f.host.Secret)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (f *fixture) etag(t *testing.T, path string) string {
	t.Helper()
	resp := f.do(t, "GET", path, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return resp.Header.Get("ETag")
}

// TestNoDateBasedRevalidation: metadata whose content changes under one
// name never answers 304 to a date, and carries no Last-Modified that a
// rollback could move backwards; content-addressed files may.
func TestNoDateBasedRevalidation(t *testing.T) {
	f := newFixture(t)
	future := time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)
	resp := f.do(t, "GET", "/repos/r/repodata/repomd.xml", map[string]string{"If-Modified-Since": future})
	if resp.StatusCode != 200 || resp.Header.Get("Last-Modified") != "" {
		t.Errorf("repomd.xml with If-Modified-Since: %d, Last-Modified %q; want 200 and none", resp.StatusCode, resp.Header.Get("Last-Modified"))
	}
	etag := resp.Header.Get("ETag")
	if resp := f.do(t, "GET", "/repos/r/repodata/repomd.xml", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("repomd.xml with its ETag: %d, want 304", resp.StatusCode)
	}
}

// TestUnknownIsNotAServerError: unknown or malformed repositories and paths
// answer 4xx.
func TestUnknownIsNotAServerError(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/repos/nope/repodata/repomd.xml", "/repos/" + strings.Repeat("a", 300) + "/x",
		"/repos/r/..%2f..%2fetc/passwd", "/repos/r/no/such/file", "/repos/R%00/x", "/repos/r/a//b", "/repos/r/"} {
		if code := f.get(t, p); code < 400 || code >= 500 {
			t.Errorf("GET %s: %d, want 4xx", p, code)
		}
	}
}

func TestAPIRateLimit(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.APIRate, c.APIBurst = 1, 5 })
	limited := 0
	for i := 0; i < 20; i++ {
		resp, err := http.Get(f.srv.URL + "/api/v1/signing-key")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited < 10 {
		t.Errorf("%d of 20 rapid API requests were limited, want most", limited)
	}
	// Repository downloads are not limited by the API's limit.
	for i := 0; i < 20; i++ {
		if code := f.get(t, "/repos/r/repodata/repomd.xml"); code != 200 {
			t.Fatalf("repository request %d: %d", i, code)
		}
	}
}

// TestRegistrationRefusals: an OS product refuses another OS before a seat
// is taken; unusable host names and unknown keys are refused too.
func TestRegistrationRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.db.AddProduct(ctx, store.Product{ID: "alma9", Name: "AlmaLinux 9", Format: "rpm", OSID: "almalinux", OSVersion: "9"}); err != nil {
		t.Fatal(err)
	}
	k, id, hash := newKey()
	if err := f.db.AddContract(ctx, store.Contract{SupportID: "A", Customer: "C", Plan: "server", Products: []string{"alma9"},
		Quantity: 2, Start: "2026-01-01", End: "2026-12-31", Contact: "a@example.com"},
		[]store.LicenseKey{{ID: id, SupportID: "A", ProductID: "alma9", Hash: hash}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		req  api.RegisterRequest
		code int
		kind string
	}{
		{"another OS", api.RegisterRequest{Key: k, MachineID: "m-debian-000000000", OSID: "debian", OSVersion: "12"}, 403, "entitlement"},
		{"another version", api.RegisterRequest{Key: k, MachineID: "m-alma8-0000000000", OSID: "almalinux", OSVersion: "8.9"}, 403, "entitlement"},
		{"no OS given", api.RegisterRequest{Key: k, MachineID: "m-none-00000000000"}, 403, "entitlement"},
		{"control characters", api.RegisterRequest{Key: k, MachineID: "m-ctl-000000000000", Hostname: "evil\x1b[2J", OSID: "almalinux", OSVersion: "9.4"}, 400, "invalid"},
		{"malformed key", api.RegisterRequest{Key: "nonsense", MachineID: "m-key-000000000000"}, 403, "entitlement"},
		{"unknown key", api.RegisterRequest{Key: "EK-00000-00000-00000-00000-00000", MachineID: "m-key-000000000000"}, 403, "entitlement"},
		{"short machine ID", api.RegisterRequest{Key: k, MachineID: "x", OSID: "almalinux", OSVersion: "9.4"}, 400, "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.register(t, tt.req)
			var e api.Error
			json.Unmarshal(body, &e)
			if code != tt.code || e.Kind != tt.kind {
				t.Errorf("register = %d %s; want %d %s", code, body, tt.code, tt.kind)
			}
		})
	}
	if hs, _ := f.db.Hosts(ctx, "A", time.Now()); len(hs) != 0 {
		t.Errorf("refused registrations took %d seats", len(hs))
	}
	for _, tt := range []api.RegisterRequest{
		{Key: k, MachineID: "m-alma-0000000000", OSID: "almalinux", OSVersion: "9.4", Hostname: "web01"},
		{Key: k, MachineID: "m-rhel-like-000000", OSID: "rocky", OSLike: []string{"rhel", "centos", "fedora", "almalinux"}, OSVersion: "9.3"},
	} {
		if code, body := f.register(t, tt); code != 200 {
			t.Errorf("register %s: %d %s", tt.OSID, code, body)
		}
	}
}

// TestUnknownKeyTakesNoWriteLock: while another process holds SQLite's
// write lock (a long publish, an admin command), registrations with a wrong
// key are still refused at once: they never queue for the lock.
func TestUnknownKeyTakesNoWriteLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+f.dbPath+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	client := &http.Client{Timeout: 3 * time.Second}
	for i := 0; i < 5; i++ {
		body, _ := json.Marshal(api.RegisterRequest{Key: "EK-00000-00000-00000-00000-0000" + fmt.Sprint(i), MachineID: "0123456789abcdef0123"})
		start := time.Now()
		resp, err := client.Post(f.srv.URL+"/api/v1/register", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("register with an unknown key while the write lock is held: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || time.Since(start) > time.Second {
			t.Errorf("register with an unknown key: %d after %v, want 403 at once", resp.StatusCode, time.Since(start))
		}
	}
}

// TestReRegistrationKeepsProvenSecret: a host that proves its current
// credential keeps its secret when it registers again (so a re-registration
// that fails later leaves its configuration working); without the proof, or
// with a wrong secret, the secret is rotated and the old one stops working.
func TestReRegistrationKeepsProvenSecret(t *testing.T) {
	f := newFixture(t)
	req := api.RegisterRequest{Key: f.key, MachineID: "0123456789abcdef0123", Hostname: "h"}
	reg := func(creds ...api.Credential) api.RegisterResponse {
		t.Helper()
		r := req
		r.Credentials = creds
		code, body := f.register(t, r)
		var resp api.RegisterResponse
		if code != 200 || json.Unmarshal(body, &resp) != nil {
			t.Fatalf("register: %d %s", code, body)
		}
		return resp
	}
	cur := api.Credential{HostID: f.host.HostID, Secret: f.host.Secret}
	other := api.Credential{HostID: "h_0000000000000000", Secret: strings.Repeat("a", 32)}
	if got := reg(other, cur); got.Secret != f.host.Secret || got.HostID != f.host.HostID || !got.Reused {
		t.Errorf("re-register with the current credential: secret %q reused %v; want the same secret", got.Secret, got.Reused)
	}
	wrong := api.Credential{HostID: f.host.HostID, Secret: strings.Repeat("b", 32)}
	rotated := reg(wrong)
	if rotated.Secret == f.host.Secret || rotated.HostID != f.host.HostID {
		t.Errorf("re-register with a wrong secret kept the secret")
	}
	f.advance(6 * time.Second) // past the entitlement cache
	if code := f.get(t, "/repos/r/repodata/repomd.xml"); code != http.StatusUnauthorized {
		t.Errorf("the rotated-away secret still works: %d", code)
	}
}

func TestClientAddrBehindProxies(t *testing.T) {
	s := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Store: nil})
	for _, tt := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.7:5000", "", "192.0.2.7"},
		{"192.0.2.7:5000", "198.51.100.1", "192.0.2.7"}, // not from a trusted proxy: ignored
		{"10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:5000", "203.0.113.9, 198.51.100.1, 10.9.9.9", "198.51.100.1"}, // the client's own claim is not believed
		{"10.1.2.3:5000", "junk", "10.1.2.3"},
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"[::ffff:192.0.2.7]:1", "", "192.0.2.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := s.ClientAddr(r); got != tt.want {
			t.Errorf("clientAddr(%s, XFF %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}
