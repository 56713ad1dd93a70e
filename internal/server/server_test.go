package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

// countingStore counts last-seen writes.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	touches int
}

func (c *countingStore) TouchHost(ctx context.Context, id string, t time.Time) error {
	c.mu.Lock()
	c.touches++
	c.mu.Unlock()
	return c.Store.TouchHost(ctx, id, t)
}

type fixture struct {
	srv   *httptest.Server
	st    *countingStore
	db    *sqlite.DB
	pub   *publish.Publisher
	blobs *blobfs.Dir
	// srvConfig is the configuration the fixture's server runs with.
	srvConfig Config
	dbPath    string
	now       time.Time
	mu        sync.Mutex
	host      api.RegisterResponse
	key       string // the licence key
	clock     func() time.Time
}

func newFixture(t *testing.T) *fixture {
	return newFixtureWith(t, nil)
}

// newFixtureWith starts a server with one rpm repository "r" of product
// "p", a 2-seat contract "S" and one registered host; tune may change the
// server's configuration first.
func newFixtureWith(t *testing.T, tune func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.Generate("t", "t@example.com", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) // before the fixture's clock
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: &countingStore{Store: db}, now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	f.clock = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	must(db.AddRepo(ctx, store.Repo{ID: "r", ProductID: "p", Format: "rpm"}))
	f.db = db
	f.pub = &publish.Publisher{Store: db, Blobs: blobs, Key: key, Now: f.clock, Log: slog.New(slog.DiscardHandler)}
	_, err = f.pub.Republish(ctx, "r")
	must(err)
	k, id, hash := entitle.NewLicenseKey()
	f.key = k
	must(db.AddContract(ctx, store.Contract{SupportID: "S", Customer: "C", Plan: "server", Products: []string{"p"},
		Quantity: 2, Start: "2026-01-01", End: "2026-12-31", Contact: "a@example.com"},
		[]store.LicenseKey{{ID: id, SupportID: "S", ProductID: "p", Hash: hash}}))
	cfg := Config{Store: f.st, Blobs: blobs, Now: f.clock, TouchEvery: 5 * time.Minute, Log: slog.New(slog.DiscardHandler),
		PublicKey: func(context.Context) (*sign.PublicKey, error) { return key.PublicKey(), nil }}
	if tune != nil {
		tune(&cfg)
	}
	f.blobs, f.srvConfig, f.dbPath = blobs, cfg, dbPath
	s := New(cfg)
	runCtx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go s.Run(runCtx)
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	code, body := f.register(t, api.RegisterRequest{Key: k, MachineID: "0123456789abcdef0123", Hostname: "h"})
	if code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	must(json.Unmarshal(body, &f.host))
	return f
}

func (f *fixture) register(t *testing.T, req api.RegisterRequest) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(f.srv.URL+"/api/v1/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fixture) get(t *testing.T, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	req.SetBasicAuth(f.host.HostID, f.host.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLastSeenThrottled: many requests write last-seen once per interval.
func TestLastSeenThrottled(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 50; i++ {
		if code := f.get(t, "/repos/r/repodata/repomd.xml"); code != 200 {
			t.Fatalf("GET repomd.xml: %d", code)
		}
	}
	waitTouches(t, f, 1)
	f.advance(6 * time.Minute)
	for i := 0; i < 20; i++ {
		f.get(t, "/repos/r/repodata/repomd.xml")
	}
	waitTouches(t, f, 2)
	h, err := f.st.Host(context.Background(), f.host.HostID)
	if err != nil || !h.LastSeen.Equal(f.clock()) {
		t.Errorf("LastSeen = %v, %v; want %v", h.LastSeen, err, f.clock())
	}
}

func waitTouches(t *testing.T, f *fixture, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		f.st.mu.Lock()
		n := f.st.touches
		f.st.mu.Unlock()
		if n == want {
			time.Sleep(50 * time.Millisecond) // and no more arrive
			f.st.mu.Lock()
			n = f.st.touches
			f.st.mu.Unlock()
			if n != want {
				t.Fatalf("last-seen writes = %d, want %d", n, want)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("last-seen writes never reached %d", want)
}

// TestLiveContract: the entitlement is re-read within the cache lifetime, so
// a release cuts access within seconds.
func TestLiveContract(t *testing.T) {
	f := newFixture(t)
	if code := f.get(t, "/repos/r/repodata/repomd.xml"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	if err := f.st.ReleaseSeat(context.Background(), "S", f.host.HostID); err != nil {
		t.Fatal(err)
	}
	f.advance(6 * time.Second) // past the 5 s entitlement cache
	if code := f.get(t, "/repos/r/repodata/repomd.xml"); code != http.StatusUnauthorized {
		t.Errorf("after release: %d, want 401", code)
	}
	// The end of the contract, Asia/Tokyo: 2026-12-31 15:00 UTC.
	f2 := newFixture(t)
	f2.advance(time.Date(2026, 12, 31, 14, 59, 0, 0, time.UTC).Sub(f2.clock()))
	if code := f2.get(t, "/repos/r/repodata/repomd.xml"); code != 200 {
		t.Errorf("last minute of the contract: %d, want 200", code)
	}
	f2.advance(2 * time.Minute)
	if code := f2.get(t, "/repos/r/repodata/repomd.xml"); code != http.StatusForbidden {
		t.Errorf("after the contract ended: %d, want 403", code)
	}
}

func newKey() (key, id string, hash []byte) { return entitle.NewLicenseKey() }
