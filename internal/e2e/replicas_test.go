package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/pgtest"
	"github.com/enmei-project/enmei/internal/testutil/s3test"
)

// replica is one enmeid serve of a vendor, restartable on its address.
type replica struct {
	t    *testing.T
	v    *vendor
	addr string
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

func startReplica(t *testing.T, v *vendor, addr string) *replica {
	t.Helper()
	r := &replica{t: t, v: v, addr: addr}
	r.start()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("replica %s log:\n%s", addr, r.logs)
		}
	})
	return r
}

func (r *replica) start() {
	r.t.Helper()
	cmd := exec.Command(bin.enmeid, "serve", "--addr", r.addr, "--drain-time", "1s")
	cmd.Env = append(cleanEnv(), r.v.env()...)
	r.logs = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	must(r.t, cmd.Start())
	r.cmd, r.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(r.done)
	waitPort(r.t, r.addr)
}

// stop sends SIGTERM and waits for the process to exit (it drains first).
func (r *replica) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscallTERM) // drains: /readyz 503, then the listener closes
	select {
	case <-r.done:
	case <-time.After(40 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// startHAProxy balances over the replicas, health-checking /readyz.
func startHAProxy(t *testing.T, backends []string) string {
	t.Helper()
	front := freePort(t)
	var servers strings.Builder
	for i, b := range backends {
		fmt.Fprintf(&servers, "  server r%d %s check inter 300ms fall 1 rise 1\n", i, b)
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`global
  maxconn 1000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
  retry-on conn-failure empty-response response-timeout
frontend in
  bind %s
  default_backend enmei
backend enmei
  balance roundrobin
  option httpchk GET /readyz
%s`, front, servers.String())
	cfg := filepath.Join(dir, "haproxy.cfg")
	must(t, os.WriteFile(cfg, []byte(conf), 0o644))
	cmd := exec.Command("/usr/sbin/haproxy", "-f", cfg, "-db")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", logs.String())
		}
	})
	waitPort(t, front)
	return "http://" + front
}

// TestReplicas runs three replicas on one PostgreSQL and one S3 bucket
// behind HAProxy: registrations through the load balancer never exceed the
// quantity, a publish is visible on every replica at once, a seat released
// elsewhere is refused by every replica within about a second, and a
// rolling restart of every replica under a download load loses no request.
func TestReplicas(t *testing.T) {
	s3 := s3test.Start(t)
	v := newVendor(t, pgtest.NewDatabase(t))
	v.extra = append(v.extra, s3.Env()...)
	v.extra = append(v.extra, "ENMEI_BLOBS="+s3.URL("replicas"))
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	const quantity = 4
	c := v.contract("el9", quantity, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	var reps []*replica
	var addrs []string
	for i := 0; i < 3; i++ {
		a := freePort(t)
		addrs = append(addrs, a)
		reps = append(reps, startReplica(t, v, a))
	}
	lb := startHAProxy(t, addrs)
	time.Sleep(time.Second) // the first health checks

	// Concurrent registrations through the load balancer.
	const hosts = 10
	codes := make([]int, hosts)
	var hs []*host
	var wg sync.WaitGroup
	for i := 0; i < hosts; i++ {
		h := newHost(t, almaRelease, machineID(400+i))
		hs = append(hs, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = h.enmei("register", "--server", lb, "--key", c.LicenseKey, "--insecure").code
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	var registered []*host
	for i, code := range codes {
		switch code {
		case 0:
			ok++
			registered = append(registered, hs[i])
		case 3:
			refused++
		default:
			t.Errorf("registration %d: exit %d", i, code)
		}
	}
	if ok != quantity || refused != hosts-quantity {
		t.Fatalf("through the load balancer: %d registered, %d refused; want %d and %d", ok, refused, quantity, hosts-quantity)
	}

	// A publish is visible on every replica as soon as it returns.
	id := registered[0].identity()
	repomd := func(base string) string {
		resp, body := get(t, "GET", base+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("repomd.xml from %s: %d", base, resp.StatusCode)
		}
		return string(body)
	}
	for _, a := range addrs {
		repomd("http://" + a) // warm every replica's caches
	}
	publishNewer(t, v, "enmei-demo-hello", "7")
	after := repomd("http://" + addrs[0])
	for _, a := range addrs[1:] {
		if got := repomd("http://" + a); got != after {
			t.Errorf("replica %s serves another repomd.xml right after the publish", a)
		}
	}

	// A seat released by the command line is refused everywhere within
	// about a second (the replicas' caches would keep it for 5 s).
	gone := registered[1].identity()
	for _, a := range addrs {
		if resp, _ := get(t, "GET", "http://"+a+"/repos/el9-x86_64/repodata/repomd.xml", gone.HostID, gone.Secret, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before the release, %s answered %d", a, resp.StatusCode)
		}
	}
	v.must("seat", "release", c.SupportID, gone.HostID)
	released := time.Now()
	for _, a := range addrs {
		for {
			resp, _ := get(t, "GET", "http://"+a+"/repos/el9-x86_64/repodata/repomd.xml", gone.HostID, gone.Secret, nil)
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
			if time.Since(released) > 3*time.Second {
				t.Fatalf("replica %s still serves a released seat %v after the release", a, time.Since(released))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Rolling restart under a download load through the load balancer.
	pkgURL := lb + "/repos/el9-x86_64/repodata/repomd.xml"
	var stop atomic.Bool
	var requests, failures atomic.Int64
	var lastErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for !stop.Load() {
				req, _ := http.NewRequest("GET", pkgURL, nil)
				req.SetBasicAuth(id.HostID, id.Secret)
				resp, err := client.Do(req)
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					lastErr.Store(resp.Status)
				}
			}
		}()
	}
	for _, r := range reps {
		r.stop()
		r.start()
		time.Sleep(1500 * time.Millisecond) // back in the load balancer
	}
	stop.Store(true)
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart (last: %v)", f, requests.Load(), lastErr.Load())
	}
	t.Logf("rolling restart: %d requests, none lost", requests.Load())
}
