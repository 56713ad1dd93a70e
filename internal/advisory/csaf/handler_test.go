package csaf

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func serve(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://els.example.com/", nil)
	// Set the path as it came off the wire, uncleaned, as a client that
	// does not normalise (curl --path-as-is) sends it.
	r.URL.Path = target
	r.URL.RawPath = ""
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	m, b, _ := buildFixture(t)
	var cur atomic.Pointer[Manifest]
	cur.Store(m)
	h := Handler(func(context.Context) (*Manifest, error) { return cur.Load(), nil }, b.open)

	for path, ct := range map[string]string{
		"/.well-known/csaf/provider-metadata.json":                 "application/json",
		"/.well-known/csaf/white/2026/enmei-sa-2026_0001.json":     "application/json",
		"/.well-known/csaf/white/2026/enmei-sa-2026_0001.json.asc": "text/plain; charset=utf-8",
		"/.well-known/csaf/white/2026/cve-2026-1000.json.sha256":   "text/plain; charset=utf-8",
		"/.well-known/csaf/white/2026/cve-2026-1000.json.sha512":   "text/plain; charset=utf-8",
		"/.well-known/csaf/white/index.txt":                        "text/plain; charset=utf-8",
		"/.well-known/csaf/white/changes.csv":                      "text/plain; charset=utf-8",
		"/.well-known/csaf/openpgp/" + testFPR + ".asc":            "text/plain; charset=utf-8",
		"/.well-known/security.txt":                                "text/plain; charset=utf-8",
		"/.well-known/csaf/":                                       "text/html; charset=utf-8",
		"/.well-known/csaf/white/2026/":                            "text/html; charset=utf-8",
	} {
		w := serve(h, "GET", path)
		if w.Code != 200 || w.Header().Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q, want 200 %q", path, w.Code, w.Header().Get("Content-Type"), ct)
			continue
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", path)
		}
		if w2 := serve(h, "GET", path, "If-None-Match", etag); w2.Code != http.StatusNotModified || w2.Body.Len() != 0 {
			t.Errorf("GET %s If-None-Match %s: %d, want 304", path, etag, w2.Code)
		}
		if w3 := serve(h, "GET", path, "If-None-Match", `"other"`); w3.Code != 200 {
			t.Errorf("GET %s with a stale ETag: %d", path, w3.Code)
		}
		if w4 := serve(h, "HEAD", path); w4.Code != 200 || w4.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", path, w4.Code, w4.Body.Len())
		}
	}

	w := serve(h, "GET", "/.well-known/csaf/white/2026/cve-2026-1000.json")
	if want := b.file(t, m, "white/2026/cve-2026-1000.json"); w.Body.String() != string(want) {
		t.Error("served document differs from the stored blob")
	}
	if w.Header().Get("ETag") != `"`+m.Files["white/2026/cve-2026-1000.json"].Sum+`"` {
		t.Errorf("ETag %s is not the blob address", w.Header().Get("ETag"))
	}
	listing := serve(h, "GET", "/.well-known/csaf/white/2026/").Body.String()
	for _, want := range []string{`href="enmei-sa-2026_0001.json"`, `href="enmei-sa-2026_0001.json.asc"`, `href="cve-2026-1003.json.sha512"`} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %s:\n%s", want, listing)
		}
	}
	if root := serve(h, "GET", "/.well-known/csaf/").Body.String(); !strings.Contains(root, `href="white/"`) || !strings.Contains(root, `href="provider-metadata.json"`) {
		t.Errorf("root listing:\n%s", root)
	}
	if sec := serve(h, "GET", "/.well-known/security.txt").Body.String(); !strings.Contains(sec, "\nCSAF: https://els.example.com/.well-known/csaf/provider-metadata.json\n") || !strings.Contains(sec, "Contact: mailto:security@example.com\n") {
		t.Errorf("security.txt:\n%s", sec)
	}
	if w := serve(h, "GET", "/.well-known/csaf/white/2026"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/.well-known/csaf/white/2026/" {
		t.Errorf("directory without slash: %d %s", w.Code, w.Header().Get("Location"))
	}

	for _, path := range []string{
		"/.well-known/csaf/nope.json",
		"/.well-known/csaf/white/2024/",
		"/.well-known/csaf/white/2026/enmei-sa-2026_0001.JSON",
		"/.well-known/csaf/../../etc/passwd",
		"/.well-known/csaf/white/../provider-metadata.json",
		"/.well-known/csaf/./provider-metadata.json",
		"/.well-known/csaf//provider-metadata.json",
		"/.well-known/csaf/white/2026/..",
		"/.well-known/csaf/white\\2026\\cve-2026-1000.json",
		"/.well-known/csaf/provider-metadata.json\x00",
		"/.well-known/other",
		"/etc/passwd",
		"/",
	} {
		if w := serve(h, "GET", path); w.Code != http.StatusNotFound {
			t.Errorf("GET %q: %d, want 404", path, w.Code)
		}
	}
	if w := serve(h, "POST", "/.well-known/csaf/provider-metadata.json"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}

	// A new manifest is served at once.
	cur.Store(&Manifest{Format: manifestFormat, Files: map[string]FileRef{pmdName: m.Files["white/index.txt"]}})
	if w := serve(h, "GET", "/.well-known/csaf/provider-metadata.json"); w.Body.String() != string(b.file(t, m, "white/index.txt")) {
		t.Error("the handler kept the old manifest")
	}
	if w := serve(h, "GET", "/.well-known/csaf/white/2026/cve-2026-1000.json"); w.Code != 404 {
		t.Errorf("a file of the old manifest: %d", w.Code)
	}
	if w := serve(h, "GET", "/.well-known/csaf/white/"); w.Code != 404 {
		t.Errorf("a directory of the old manifest: %d", w.Code)
	}

	// No manifest yet, or none readable.
	h = Handler(func(context.Context) (*Manifest, error) { return nil, nil }, b.open)
	if w := serve(h, "GET", "/.well-known/csaf/provider-metadata.json"); w.Code != 404 {
		t.Errorf("no manifest: %d", w.Code)
	}
	h = Handler(func(context.Context) (*Manifest, error) { return nil, errors.New("down") }, b.open)
	if w := serve(h, "GET", "/.well-known/csaf/provider-metadata.json"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("manifest error: %d", w.Code)
	}
	h = Handler(func(context.Context) (*Manifest, error) { return m, nil }, func(context.Context, string) (io.ReadSeekCloser, error) { return nil, errors.New("gone") })
	if w := serve(h, "GET", "/.well-known/csaf/provider-metadata.json"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("blob error: %d", w.Code)
	}
}
