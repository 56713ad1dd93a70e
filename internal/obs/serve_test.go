package obs

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs Serve on a free port and returns its base URL, the cancel
// that stops it, and a channel that delivers Serve's result once.
func startServe(t *testing.T, o *Obs, h http.Handler, tlsCfg *tls.Config, drain, limit time.Duration) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- Serve(ctx, hs, ln, o, drain, limit, nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String(), cancel, errc
}

// streamMux serves /readyz and /stream, which sends n chunks, one every
// gap, flushing each so the client sees the request running; n < 0 streams
// until the client or the server goes away.
func streamMux(o *Obs, gap time.Duration) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", o.Readyz)
	mux.HandleFunc("GET /stream/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		rc := http.NewResponseController(w)
		for i := 0; n < 0 || i < n; i++ {
			if i > 0 {
				select {
				case <-time.After(gap):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "chunk %d\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
	return mux
}

func TestServeGracefulStop(t *testing.T) {
	o, logs := newTestObs(t)
	const drain, limit = 500 * time.Millisecond, 5 * time.Second
	base, cancel, errc := startServe(t, o, o.Middleware(streamMux(o, 150*time.Millisecond)), nil, drain, limit)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

	if resp, err := client.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz before stopping: %v %v", resp, err)
	}

	// A download in progress: 6 chunks over 750ms, most of them sent after
	// the stop starts.
	resp, err := client.Get(base + "/stream/6")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "chunk 0\n" {
		t.Fatalf("first chunk %q, %v", line, err)
	}

	stopped := time.Now()
	cancel()

	// During the drain the server still answers, but readiness fails.
	var readyStatus int
	for deadline := time.Now().Add(drain / 2); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("readyz during the drain: %v", err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		readyStatus = r.StatusCode
		if readyStatus == 503 {
			if !strings.Contains(string(body), `"draining"`) {
				t.Errorf("readyz body while draining: %s", body)
			}
			break
		}
	}
	if readyStatus != 503 {
		t.Fatalf("readyz answered %d during the drain, want 503", readyStatus)
	}

	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("download cut: %v (got %q)", err, rest)
	}
	if want := "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n"; string(rest) != want {
		t.Errorf("rest of the download %q, want %q", rest, want)
	}

	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
		if d := time.Since(stopped); d < drain {
			t.Errorf("Serve returned %v after cancel, before the %v drain ended", d, drain)
		}
	case <-time.After(drain + limit):
		t.Fatal("Serve did not return")
	}
	if !strings.Contains(logs.String(), "stopping: draining") {
		t.Errorf("no drain log:\n%s", logs)
	}
	// After the stop, nothing listens.
	if _, err := client.Get(base + "/readyz"); err == nil {
		t.Error("server still answering after Serve returned")
	}
}

func TestServeCutsAtLimit(t *testing.T) {
	o, logs := newTestObs(t)
	const limit = 300 * time.Millisecond
	base, cancel, errc := startServe(t, o, o.Middleware(streamMux(o, 50*time.Millisecond)), nil, 0, limit)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(base + "/stream/-1") // never ends on its own
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	cancel()

	readErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, br)
		readErr <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrForcedClose) {
			t.Errorf("Serve = %v, want ErrForcedClose", err)
		}
		if d := time.Since(stopped); d < limit || d > limit+2*time.Second {
			t.Errorf("Serve returned %v after cancel, limit %v", d, limit)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the limit")
	}
	select {
	case err := <-readErr:
		// A chunked response cut short is an unexpected EOF to the client.
		if err == nil {
			t.Error("download ended cleanly, want it cut")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("download still running after Serve returned")
	}
	if l := logs.String(); !strings.Contains(l, "requests still running at the limit were cut") || !strings.Contains(l, `"running":1`) {
		t.Errorf("no cut warning:\n%s", l)
	}
}

func TestServeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	o, _ := newTestObs(t)
	base, cancel, errc := startServe(t, o, streamMux(o, 0), &tls.Config{Certificates: []tls.Certificate{cert}}, 0, time.Second)
	if !strings.HasPrefix(base, "https://") {
		t.Fatal(base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/stream/2")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.TLS == nil || string(body) != "chunk 0\nchunk 1\n" {
		t.Errorf("TLS %v, body %q", resp.TLS != nil, body)
	}
	client.CloseIdleConnections()
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = Serve(context.Background(), &http.Server{}, ln, nil, 0, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "serving on "+ln.Addr().String()) {
		t.Errorf("Serve on a closed listener = %v", err)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "enmei test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
