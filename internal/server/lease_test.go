package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
)

// as makes a request with a host's credential and returns the status and body.
func (f *fixture) as(t *testing.T, cred api.RegisterResponse, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	req.SetBasicAuth(cred.HostID, cred.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (f *fixture) heartbeat(t *testing.T, cred api.RegisterResponse) (int, string) {
	t.Helper()
	return f.as(t, cred, "POST", "/api/v1/heartbeat")
}

func (f *fixture) getAs(t *testing.T, cred api.RegisterResponse, path string) (int, string) {
	t.Helper()
	return f.as(t, cred, "GET", path)
}

// TestLeases: an ephemeral seat lasts its lease unless renewed, by
// heartbeats or by repository requests; once ended, its credential is
// refused and its seat is free, and a heartbeat takes a seat again.
func TestLeases(t *testing.T) {
	f := newFixture(t) // one server seat of two is taken
	code, body := f.register(t, api.RegisterRequest{Key: f.key, MachineID: "container-0000000001", LeaseMS: 6000})
	if code != 200 {
		t.Fatalf("register --ephemeral: %d %s", code, body)
	}
	var eph api.RegisterResponse
	if err := json.Unmarshal(body, &eph); err != nil || eph.Lease == nil || eph.Lease.TTLMS != 6000 || !eph.Lease.Expires.Equal(f.clock().Add(6*time.Second)) {
		t.Fatalf("register answer lease = %+v, %v; want 6 s from now", eph.Lease, err)
	}
	if code, body := f.register(t, api.RegisterRequest{Key: f.key, MachineID: "container-0000000002", LeaseMS: 6000}); code != 403 || !strings.Contains(string(body), "no seat left") || !strings.Contains(string(body), "all 2 seats of contract S") {
		t.Errorf("a third seat on two: %d %s; want 403 no seat left", code, body)
	}
	for _, ms := range []int64{4999, 24*3600*1000 + 1} {
		if code, body := f.register(t, api.RegisterRequest{Key: f.key, MachineID: "container-0000000003", LeaseMS: ms}); code != 400 || !strings.Contains(string(body), "--lease") {
			t.Errorf("lease of %d ms: %d %s; want 400 naming --lease", ms, code, body)
		}
	}

	// Repository requests renew the lease: four requests 2.5 s apart keep
	// it alive for 10 s, longer than the lease.
	for range 4 {
		f.advance(2500 * time.Millisecond)
		if code, body := f.getAs(t, eph, "/repos/r/repodata/repomd.xml"); code != 200 {
			t.Fatalf("GET while renewing: %d %s", code, body)
		}
		waitLease(t, f, eph.HostID, f.clock().Add(6*time.Second))
	}
	// A heartbeat renews it too.
	f.advance(3 * time.Second)
	code, hbBody := f.heartbeat(t, eph)
	var hb api.Heartbeat
	if json.Unmarshal([]byte(hbBody), &hb); code != 200 || hb.Lease == nil || !hb.Lease.Expires.Equal(f.clock().Add(6*time.Second)) {
		t.Fatalf("heartbeat: %d %s", code, hbBody)
	}
	// Unrenewed, the lease ends: the credential is refused and the seat is free.
	f.advance(6 * time.Second)
	if code, body := f.getAs(t, eph, "/repos/r/repodata/repomd.xml"); code != 403 || !strings.Contains(body, "enmei heartbeat") {
		t.Errorf("GET after the lease ended: %d %s; want 403 saying to run enmei heartbeat", code, body)
	}
	code, body = f.register(t, api.RegisterRequest{Key: f.key, MachineID: "container-0000000002", LeaseMS: 6000})
	if code != 200 {
		t.Fatalf("register after a lease ended: %d %s", code, body)
	}
	// The ended lease's heartbeat finds no seat (exit 3 in the agent) …
	if code, body := f.heartbeat(t, eph); code != 403 || !strings.Contains(body, "no seat") {
		t.Errorf("heartbeat of an ended lease with no seat free: %d %s; want 403", code, body)
	}
	// … until the other container's lease ends.
	f.advance(7 * time.Second)
	if code, body := f.heartbeat(t, eph); code != 200 {
		t.Errorf("heartbeat of an ended lease with a seat free: %d %s", code, body)
	}
	if code, body := f.getAs(t, eph, "/repos/r/repodata/repomd.xml"); code != 200 {
		t.Errorf("GET after the heartbeat took a seat again: %d %s", code, body)
	}
	// The server seat's heartbeat works and grants no lease.
	if code, body := f.heartbeat(t, f.host); code != 200 || !strings.Contains(body, `"lease":null`) {
		t.Errorf("heartbeat of a server seat: %d %s", code, body)
	}
}

// waitLease waits until the background writer renewed the host's lease to want.
func waitLease(t *testing.T, f *fixture, id string, want time.Time) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if h, err := f.db.Host(t.Context(), id); err == nil && h.LeaseExpires.Equal(want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, _ := f.db.Host(t.Context(), id)
	t.Fatalf("the lease ends at %v, want %v: repository requests did not renew it", h.LeaseExpires, want)
}
