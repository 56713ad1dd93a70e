package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/sbomapi"
	"github.com/enmei-project/enmei/internal/store"
)

// fakeSBOM stands in for sbomapi.API: the contract the certificate names,
// or the refusal, and a catalogue.
type fakeSBOM struct {
	authErr error
	repos   []sbomapi.RepoPackages
	iso     []byte
}

func (f *fakeSBOM) Authenticate(r *http.Request) (store.Contract, error) {
	return store.Contract{SupportID: "ENM-2026-ABCDEF", Customer: "株式会社テスト", Products: []string{"el9"}}, f.authErr
}

func (f *fakeSBOM) Catalog(ctx context.Context, c store.Contract) ([]sbomapi.RepoPackages, error) {
	return f.repos, nil
}

func (f *fakeSBOM) Document(ctx context.Context, c store.Contract, ref sbomapi.PackageRef, format sbom.Format) (sbomapi.Found, error) {
	for _, r := range f.repos {
		for _, p := range r.Packages {
			if p == ref {
				return sbomapi.Found{PackageRef: ref, Document: "doc of " + ref.Name + " in " + string(format)}, nil
			}
		}
	}
	return sbomapi.Found{}, errs.E(errs.NotFound, "no such package")
}

func (f *fakeSBOM) Disk(ctx context.Context, c store.Contract, repo string) (bundle.Offered, io.ReadSeekCloser, error) {
	if repo != "el9-x86_64" || f.iso == nil {
		return bundle.Offered{}, nil, errs.E(errs.NotFound, "no disk")
	}
	return bundle.Offered{Repo: repo, Publication: 3, SHA256: "ab", Size: int64(len(f.iso)), CreatedAt: time.Now()},
		nopSeekCloser{bytes.NewReader(f.iso)}, nil
}

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

func sbomPortal(t *testing.T, svc SBOMService) http.Handler {
	t.Helper()
	p, err := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "https://portal.test", SBOM: svc})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	return mux
}

func get(h http.Handler, path string, tlsOn bool, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "https://portal.test"+path, nil)
	r.Header.Set("Accept-Language", "en")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if !tlsOn {
		r.TLS = nil
	} else if r.TLS == nil {
		r.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSBOMPages(t *testing.T) {
	var pkgs []sbomapi.PackageRef
	for i := range 250 {
		pkgs = append(pkgs, sbomapi.PackageRef{Name: fmt.Sprintf("pkg%03d", i), EVR: "1:1.0-1", Arch: "x86_64"})
	}
	svc := &fakeSBOM{repos: []sbomapi.RepoPackages{{Repo: "el9-x86_64", Product: "el9", Publication: 3, Packages: pkgs,
		Disk: &bundle.Offered{Repo: "el9-x86_64", Publication: 3, Size: 3 << 20, CreatedAt: time.Now()}}}, iso: []byte("ISO-IMAGE-BYTES")}
	h := sbomPortal(t, svc)

	if w := get(sbomPortal(t, nil), "/sbom", true); w.Code != http.StatusNotFound {
		t.Errorf("without an SBOM service: %d, want 404", w.Code)
	}
	if w := get(h, "/sbom", false); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only over HTTPS") {
		t.Errorf("plain HTTP: %d %s", w.Code, w.Body)
	}
	svc.authErr = errs.E(errs.Unauthorized, "none presented")
	if w := get(h, "/sbom", true); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "did not present one") {
		t.Errorf("no certificate: %d %s", w.Code, w.Body)
	}
	svc.authErr = errs.E(errs.Forbidden, "the client certificate 1f was revoked on 2026-11-20 (key lost)")
	for _, p := range []string{"/sbom", "/sbom/packages/pkg001/1:1.0-1/x86_64", "/sbom/disk/el9-x86_64"} {
		if w := get(h, p, true); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "key lost") {
			t.Errorf("revoked, %s: %d %s", p, w.Code, w.Body)
		}
	}
	svc.authErr = nil

	w := get(h, "/sbom", true)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "ENM-2026-ABCDEF") || !strings.Contains(body, "pkg199") || strings.Contains(body, "pkg200") ||
		!strings.Contains(body, "Showing 200 of 250") || !strings.Contains(body, `href="/sbom/disk/el9-x86_64"`) ||
		!strings.Contains(body, `href="/sbom/packages/pkg007/1:1.0-1/x86_64?format=cyclonedx-xml"`) {
		t.Errorf("/sbom: %d\n%s", w.Code, body)
	}
	if w := get(h, "/sbom?q=PKG24", true); !strings.Contains(w.Body.String(), "pkg249") || strings.Contains(w.Body.String(), "pkg001") {
		t.Errorf("search: %s", w.Body)
	}
	w = get(h, "/sbom/packages/pkg007/1:1.0-1/x86_64?format=cyclonedx-xml", true)
	if w.Code != 200 || w.Body.String() != "doc of pkg007 in cyclonedx-xml" ||
		w.Header().Get("Content-Disposition") != `attachment; filename=pkg007-1_1.0-1.x86_64.cdx.xml` {
		t.Errorf("download: %d %q %q", w.Code, w.Header().Get("Content-Disposition"), w.Body)
	}
	if w := get(h, "/sbom/packages/nope/1/x86_64", true); w.Code != http.StatusNotFound {
		t.Errorf("unknown package: %d", w.Code)
	}
	if w := get(h, "/sbom/packages/pkg007/1:1.0-1/x86_64?format=pdf", true); w.Code != http.StatusBadRequest {
		t.Errorf("unknown format: %d", w.Code)
	}
	w = get(h, "/sbom/disk/el9-x86_64", true, "Range", "bytes=4-8")
	if w.Code != http.StatusPartialContent || w.Body.String() != "IMAGE" {
		t.Errorf("disk range: %d %q", w.Code, w.Body)
	}
	if w := get(h, "/sbom/disk/other", true); w.Code != http.StatusNotFound {
		t.Errorf("another repository's disk: %d", w.Code)
	}
}
