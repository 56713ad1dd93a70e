package obs

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a bytes.Buffer safe for the server goroutines that log into
// it while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records returns the JSON log records with the given message.
func records(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newTestObs(t *testing.T) (*Obs, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log, err := NewLogger(buf, "json", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Log: log, CheckTimeout: 200 * time.Millisecond}), buf
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{repo}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		SetHostID(r.Context(), "host-42")
		_, _ = io.WriteString(w, "hello "+r.PathValue("path"))
	})
	mux.HandleFunc("POST /api/v1/register", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no seats left", http.StatusForbidden)
	})
	mux.HandleFunc("GET /override", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "custom")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // net/http's quiet panic
	})
	return mux
}

// hidden hides the ServeMux's Handler method, like a server type that only
// implements http.Handler.
type hidden struct{ h http.Handler }

func (h hidden) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

func TestMiddlewareRoutesLogAndMetrics(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*http.ServeMux) http.Handler
	}{
		{"mux lookup", func(m *http.ServeMux) http.Handler { return m }},
		{"request pattern", func(m *http.ServeMux) http.Handler { return hidden{m} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, logs := newTestObs(t)
			h := o.Middleware(tc.wrap(testMux()))
			do := func(method, target string) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(method, target, nil)
				func() {
					defer func() { _ = recover() }()
					h.ServeHTTP(rec, req)
				}()
				return rec
			}
			if rec := do("GET", "/repos/el9/a/b.rpm"); rec.Code != 200 || rec.Body.String() != "hello a/b.rpm" {
				t.Fatalf("repo file: %d %q", rec.Code, rec.Body)
			}
			do("GET", "/repos/el9/c.rpm")
			do("POST", "/api/v1/register")
			do("GET", "/no/such/thing")
			do("GET", "/another/unknown")
			do("DELETE", "/api/v1/register") // 405
			do("GET", "/override")
			do("GET", "/panic")
			do("BREW", "/repos/el9/x")

			const repo = "GET /repos/{repo}/{path...}"
			for _, c := range []struct {
				route, method, status string
				want                  float64
			}{
				{repo, "GET", "200", 2},
				{"POST /api/v1/register", "POST", "403", 1},
				{RouteUnmatched, "GET", "404", 2},
				{RouteUnmatched, "DELETE", "405", 1},
				{"custom", "GET", "204", 1},
				{"GET /panic", "GET", "500", 1},
				{RouteUnmatched, "OTHER", "405", 1},
			} {
				if got := testutil.ToFloat64(o.requests.WithLabelValues(c.route, c.method, c.status)); got != c.want {
					t.Errorf("requests{%s,%s,%s} = %v, want %v", c.route, c.method, c.status, got, c.want)
				}
			}
			// Only routes and the unmatched label: raw paths never become labels.
			if n := testutil.CollectAndCount(o.requests); n != 7 {
				t.Errorf("%d request series, want 7", n)
			}
			if got, want := testutil.ToFloat64(o.bytes.WithLabelValues(repo)), float64(len("hello a/b.rpm")+len("hello c.rpm")); got != want {
				t.Errorf("bytes{repo} = %v, want %v", got, want)
			}
			if n := testutil.CollectAndCount(o.duration); n != 5 {
				t.Errorf("%d duration series, want 5", n)
			}

			recs := records(t, logs.String(), "request")
			if len(recs) != 9 {
				t.Fatalf("%d request records, want 9:\n%s", len(recs), logs)
			}
			first := recs[0]
			for k, want := range map[string]any{
				"level": "INFO", "method": "GET", "route": repo, "path": "/repos/el9/a/b.rpm",
				"status": 200.0, "bytes": float64(len("hello a/b.rpm")), "remote": "192.0.2.1:1234", "host": "host-42",
			} {
				if first[k] != want {
					t.Errorf("record[%q] = %v, want %v", k, first[k], want)
				}
			}
			if _, ok := first["duration"]; !ok {
				t.Error("record has no duration")
			}
			unmatched := recs[3]
			if unmatched["route"] != RouteUnmatched || unmatched["path"] != "/no/such/thing" || unmatched["status"] != 404.0 {
				t.Errorf("unmatched record: %v", unmatched)
			}
			if _, ok := unmatched["host"]; ok {
				t.Errorf("host logged without SetHostID: %v", unmatched)
			}
		})
	}
}

func TestRouteLabelCap(t *testing.T) {
	o, _ := newTestObs(t)
	for i := range maxRoutes + 10 {
		got := o.routeLabel("route" + string(rune('A'+i%26)) + strings.Repeat("x", i))
		if i < maxRoutes && got == RouteOther || i >= maxRoutes && got != RouteOther {
			t.Fatalf("route %d labelled %q", i, got)
		}
	}
	if got := o.routeLabel("routeA"); got != "routeA" {
		t.Errorf("known route labelled %q", got)
	}
}

// readerFromRecorder is a ResponseRecorder with a ReadFrom, like the
// connection's writer, recording that it was used.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	readFromCalls int
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFromCalls++
	return io.Copy(r.ResponseRecorder, src)
}

func TestResponseWriterReadFrom(t *testing.T) {
	under := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	rw := &responseWriter{ResponseWriter: under}
	var w http.ResponseWriter = rw
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatal("wrapped writer does not implement io.ReaderFrom")
	}
	// ServeContent copies with io.CopyN, whose LimitReader has no WriteTo,
	// so io.Copy takes the destination's ReadFrom.
	n, err := io.CopyN(w, strings.NewReader("0123456789"), 10)
	if err != nil || n != 10 {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	if under.readFromCalls != 1 {
		t.Errorf("underlying ReadFrom called %d times, want 1", under.readFromCalls)
	}
	if rw.bytes != 10 || rw.status != 200 || under.Body.String() != "0123456789" {
		t.Errorf("bytes %d, status %d, body %q", rw.bytes, rw.status, under.Body)
	}

	// Without a ReadFrom below, the copy still works and is counted.
	plain := httptest.NewRecorder()
	rw = &responseWriter{ResponseWriter: plain}
	if n, err := rw.ReadFrom(strings.NewReader("abc")); err != nil || n != 3 || rw.bytes != 3 || plain.Body.String() != "abc" {
		t.Errorf("fallback ReadFrom = %d, %v; bytes %d, body %q", n, err, rw.bytes, plain.Body)
	}
}

func TestResponseWriterFlushUnwrap(t *testing.T) {
	rec := httptest.NewRecorder()
	rw := &responseWriter{ResponseWriter: rec}
	if rw.Unwrap() != rec {
		t.Error("Unwrap does not return the wrapped writer")
	}
	if err := http.NewResponseController(rw).Flush(); err != nil {
		t.Fatalf("Flush through ResponseController: %v", err)
	}
	if !rec.Flushed || rw.status != 200 {
		t.Errorf("flushed %v, status %d", rec.Flushed, rw.status)
	}
	// Informational headers are not the response's status.
	rw = &responseWriter{ResponseWriter: httptest.NewRecorder()}
	rw.WriteHeader(http.StatusEarlyHints)
	rw.WriteHeader(http.StatusPartialContent)
	if rw.status != http.StatusPartialContent {
		t.Errorf("status %d after 103 then 206", rw.status)
	}
}

// TestMiddlewareServeContent serves a file over a real connection, where
// ServeContent's copy goes through the wrapper's ReadFrom to the
// connection's (sendfile on Linux), and checks what was counted.
func TestMiddlewareServeContent(t *testing.T) {
	content := bytes.Repeat([]byte("enmei-package-"), 100_000) // 1.4 MB: above sendfile's threshold
	path := filepath.Join(t.TempDir(), "pkg.rpm")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	o, logs := newTestObs(t)
	var sawReaderFrom, deadlineErr = false, error(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{repo}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		_, sawReaderFrom = w.(io.ReaderFrom)
		// Reaches the connection only through Unwrap.
		deadlineErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "pkg.rpm", time.Time{}, f)
	})
	srv := httptest.NewServer(o.Middleware(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/repos/el9/pkg.rpm")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, content) {
		t.Fatalf("body: %d bytes, %v", len(body), err)
	}
	if !sawReaderFrom {
		t.Error("handler's writer does not implement io.ReaderFrom")
	}
	if deadlineErr != nil {
		t.Errorf("SetWriteDeadline through the wrapper: %v", deadlineErr)
	}
	srv.Close() // waits for the handler, so the metrics are recorded
	if got := testutil.ToFloat64(o.bytes.WithLabelValues("GET /repos/{repo}/{path...}")); got != float64(len(content)) {
		t.Errorf("bytes counted %v, want %d", got, len(content))
	}
	recs := records(t, logs.String(), "request")
	if len(recs) != 1 || recs[0]["bytes"] != float64(len(content)) {
		t.Errorf("request records: %v", recs)
	}
}

// copyingServer is a server type that exposes its mux's Handler (as
// Router) but copies the request before serving it, so the mux's Pattern
// never reaches the middleware's request.
type copyingServer struct{ mux *http.ServeMux }

func (s copyingServer) Handler(r *http.Request) (http.Handler, string) { return s.mux.Handler(r) }

func (s copyingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r.Clone(r.Context()))
}

func TestMiddlewareRouterLookup(t *testing.T) {
	o, _ := newTestObs(t)
	h := o.Middleware(copyingServer{testMux()})
	for _, target := range []string{"/repos/el9/a.rpm", "/nope"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	if got := testutil.ToFloat64(o.requests.WithLabelValues("GET /repos/{repo}/{path...}", "GET", "200")); got != 1 {
		t.Errorf("repo route counted %v times, want 1", got)
	}
	if got := testutil.ToFloat64(o.requests.WithLabelValues(RouteUnmatched, "GET", "404")); got != 1 {
		t.Errorf("unmatched counted %v times, want 1", got)
	}
}
