package apt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// threePackages is an upstream with two amd64 packages and one "all".
func threePackages(t *testing.T) *repo {
	r := newRepo(t)
	r.addDeb("hello", "2.10", "x86_64", map[string]string{"/usr/bin/hello": "#!/bin/sh\necho hello\n"})
	r.addDeb("libfoo1", "1.2", "x86_64", map[string]string{"/usr/lib/libfoo.so.1": "not really a library"})
	r.addDeb("foo-doc", "1.2", "noarch", map[string]string{"/usr/share/doc/foo-doc/README": "read me"})
	return r
}

func source(srv *server) *Source {
	return &Source{URL: srv.URL + "/", Suite: "stable", Components: []string{"main"}, Arch: []string{"amd64"}, Keyring: gnupg.keyring}
}

func names(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func wantErr(t *testing.T, err error, kind errs.Kind, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one saying %q", parts)
	}
	if errs.KindOf(err) != kind {
		t.Errorf("error kind %v, want %v: %v", errs.KindOf(err), kind, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestFetchVerifiesAndIsIncremental(t *testing.T) {
	r := threePackages(t)
	r.byHash = true
	r.publish()
	srv := serve(t, r.root)
	src := source(srv)
	ctx := context.Background()

	md, err := src.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Release.Signed || md.Release.SignedBy != gnupg.good || md.Release.Codename != "trixie" || !md.Release.AcquireByHash {
		t.Errorf("release = %+v", md.Release)
	}
	if got := names(md.Packages); !slices.Equal(got, []string{"foo-doc", "hello", "libfoo1"}) {
		t.Fatalf("packages %v", got)
	}
	for _, p := range md.Packages {
		if p.Component != "main" || p.SHA256 != sum(r.debs[p.Filename]) || p.Size != int64(len(r.debs[p.Filename])) ||
			!bytes.HasPrefix(p.Control, []byte("Package: "+p.Name+"\n")) || !bytes.Contains(p.Control, []byte("\nSHA256: "+p.SHA256)) {
			t.Errorf("package %+v does not match the pool", p)
		}
	}
	reqs := srv.requests()
	if !slices.Contains(reqs, "/dists/stable/InRelease") || slices.Contains(reqs, "/dists/stable/Release.gpg") {
		t.Errorf("requests %v: want InRelease and no Release.gpg", reqs)
	}
	if !slices.ContainsFunc(reqs, func(p string) bool { return strings.HasPrefix(p, "/dists/stable/main/binary-amd64/by-hash/SHA256/") }) {
		t.Errorf("requests %v: want the by-hash Packages", reqs)
	}

	dir := t.TempDir()
	var events atomic.Int32
	res, err := src.Download(ctx, md.Packages, dir, func(Event) { events.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Downloaded) != 3 || len(res.Skipped) != 0 || len(res.Refused) != 0 || events.Load() != 3 {
		t.Fatalf("first download: %+v, %d events", res, events.Load())
	}
	have := map[string]bool{}
	for _, f := range res.Downloaded {
		data, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil || !bytes.Equal(data, r.debs[f.Path]) {
			t.Errorf("%s: not the upstream bytes (%v)", f.Path, err)
		}
		have[f.SHA256] = true
	}
	srv.requests()

	// Again: everything is there and intact, nothing is fetched.
	res, err = src.Download(ctx, md.Packages, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 3 || len(res.Downloaded) != 0 || res.Bytes != 0 {
		t.Errorf("second download: %+v", res)
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("second download asked for %v", reqs)
	}

	// A new package upstream: the diff is just that one.
	added := r.addDeb("newpkg", "0.1", "x86_64", map[string]string{"/usr/bin/newpkg": "new"})
	r.publish()
	md, err = src.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff := Diff(have, md)
	if len(diff) != 1 || diff[0].Filename != added {
		t.Fatalf("diff = %v, want just %s", names(diff), added)
	}
	res, err = src.Download(ctx, diff, dir, nil)
	if err != nil || len(res.Downloaded) != 1 || res.Downloaded[0].Path != added {
		t.Fatalf("downloading the diff: %+v, %v", res, err)
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	r := threePackages(t)
	r.signer = gnupg.bad
	r.publish()
	srv := serve(t, r.root)
	_, err := source(srv).Metadata(context.Background())
	wantErr(t, err, errs.Invalid, "InRelease", "signed by key "+gnupg.bad, "not in the keyring")
}

func TestTamperedPackagesIsRefused(t *testing.T) {
	r := threePackages(t)
	r.publish()
	dir := filepath.Join(r.root, "dists/stable/main/binary-amd64")
	plain, err := os.ReadFile(filepath.Join(dir, "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(plain, []byte("Package: hello\n"), []byte("Package: hellp\n"), 1)
	cmd := exec.Command("xz", "-c")
	cmd.Stdin = bytes.NewReader(forged)
	xzed := run(t, dir, cmd)
	if err := os.WriteFile(filepath.Join(dir, "Packages.xz"), xzed, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, r.root)
	_, err = source(srv).Metadata(context.Background())
	wantErr(t, err, errs.Invalid, "main/binary-amd64/Packages.xz", "does not match")
}

func TestDamagedDebIsRefusedOthersDownloaded(t *testing.T) {
	r := threePackages(t)
	r.publish()
	var bad string
	for p := range r.debs {
		if strings.Contains(p, "/hello_") {
			bad = p
		}
	}
	damaged := bytes.Clone(r.debs[bad])
	damaged[len(damaged)-1] ^= 0xff // same size, other bytes
	r.write(bad, damaged)
	srv := serve(t, r.root)
	src := source(srv)
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var refused []Event
	res, err := src.Download(context.Background(), md.Packages, dir, func(e Event) {
		if e.Kind == EventRefused {
			refused = append(refused, e)
		}
	})
	wantErr(t, err, errs.Invalid, "1 of 3", bad, "hello 2.10-1 amd64")
	if len(res.Refused) != 1 || res.Refused[0].Path != bad || res.Refused[0].Package != "hello 2.10-1 amd64" ||
		!strings.Contains(res.Refused[0].Reason, "SHA256") || len(refused) != 1 {
		t.Errorf("refused %+v, events %+v", res.Refused, refused)
	}
	if len(res.Downloaded) != 2 {
		t.Errorf("downloaded %+v, want the two others", res.Downloaded)
	}
	for _, p := range []string{bad, bad + ".part"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left in the mirror (%v)", p, err)
		}
	}

	// A copy in the mirror that does not match is removed, and replaced
	// once upstream serves the right bytes.
	if err := os.WriteFile(filepath.Join(dir, bad), damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Download(context.Background(), md.Packages, dir, nil); err == nil {
		t.Fatal("a damaged upstream file was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, bad)); !os.IsNotExist(err) {
		t.Errorf("the mismatching copy was kept (%v)", err)
	}
	r.write(bad, r.debs[bad])
	res, err = src.Download(context.Background(), md.Packages, dir, nil)
	if err != nil || len(res.Downloaded) != 1 || len(res.Skipped) != 2 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, bad)); !bytes.Equal(got, r.debs[bad]) {
		t.Error("the damaged copy was kept")
	}
}

func TestUnsafeFilenameIsRefused(t *testing.T) {
	srv := serve(t, t.TempDir())
	dir := t.TempDir()
	pkgs := []Package{{Name: "evil", Version: "1", Arch: "amd64", Filename: "../../etc/cron.d/evil", Size: 1, SHA256: strings.Repeat("0", 64)}}
	res, err := source(srv).Download(context.Background(), pkgs, filepath.Join(dir, "mirror"), nil)
	wantErr(t, err, errs.Invalid, "outside the mirror directory")
	if len(res.Refused) != 1 || len(srv.requests()) != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestInterruptedDownloadResumes(t *testing.T) {
	r := newRepo(t)
	big := make([]byte, 3<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	bigDeb := r.addDeb("bigdata", "1.0", "noarch", map[string]string{"/usr/share/bigdata/blob": string(big)})
	r.addDeb("hello", "2.10", "x86_64", map[string]string{"/usr/bin/hello": "hi"})
	r.publish()
	srv := serve(t, r.root)
	var cut atomic.Bool
	srv.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.URL.Path != "/"+bigDeb || cut.Swap(true) {
			return false
		}
		data := r.debs[bigDeb]
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops half-way
	}
	src := source(srv)
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := src.Download(context.Background(), md.Packages, dir, nil)
	wantErr(t, err, errs.Unavailable, bigDeb, "run again to resume")
	if len(res.Downloaded) != 1 || len(res.Refused) != 1 {
		t.Fatalf("first run: %+v", res)
	}
	part, err := os.Stat(filepath.Join(dir, bigDeb+".part"))
	if err != nil || part.Size() == 0 || part.Size() >= int64(len(r.debs[bigDeb])) {
		t.Fatalf("the .part was not kept half-way: %v, %v", part, err)
	}

	var resumed []Event
	res, err = src.Download(context.Background(), md.Packages, dir, func(e Event) {
		if e.Resumed {
			resumed = append(resumed, e)
		}
	})
	if err != nil || len(res.Downloaded) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if want := "bytes=" + strconv.FormatInt(part.Size(), 10) + "-"; srv.rangeOf("/"+bigDeb) != want {
		t.Errorf("second run sent Range %q, want %q", srv.rangeOf("/"+bigDeb), want)
	}
	if len(resumed) != 1 || resumed[0].Bytes != int64(len(r.debs[bigDeb]))-part.Size() {
		t.Errorf("resumed events %+v", resumed)
	}
	got, err := os.ReadFile(filepath.Join(dir, bigDeb))
	if err != nil || sum(got) != sum(r.debs[bigDeb]) {
		t.Errorf("resumed file has the wrong checksum (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, bigDeb+".part")); !os.IsNotExist(err) {
		t.Errorf(".part left behind: %v", err)
	}

	// A .part that does not continue into the right file (upstream changed
	// it since) is fetched again from the start.
	os.Remove(filepath.Join(dir, bigDeb))
	if err := os.WriteFile(filepath.Join(dir, bigDeb+".part"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.requests()
	res, err = src.Download(context.Background(), md.Packages, dir, nil)
	if err != nil || len(res.Downloaded) != 1 {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, bigDeb)); sum(got) != sum(r.debs[bigDeb]) {
		t.Error("a wrong .part was continued into a wrong file")
	}
	if reqs := srv.requests(); len(reqs) != 2 || srv.rangeOf("/"+bigDeb) != "" {
		t.Errorf("third run asked for %v, the last with Range %q; want a resume, then the whole file", reqs, srv.rangeOf("/"+bigDeb))
	}
}

func TestReleaseWithDetachedSignature(t *testing.T) {
	r := threePackages(t)
	r.noInRelease = true
	r.publish()
	srv := serve(t, r.root)
	src := source(srv)
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !md.Release.Signed || len(md.Packages) != 3 {
		t.Errorf("release %+v, %d packages", md.Release, len(md.Packages))
	}
	if reqs := srv.requests(); !slices.Contains(reqs, "/dists/stable/Release.gpg") {
		t.Errorf("requests %v: want Release.gpg", reqs)
	}

	// Without Release.gpg nothing vouches for Release.
	os.Remove(filepath.Join(r.root, "dists/stable/Release.gpg"))
	_, err = src.Metadata(context.Background())
	wantErr(t, err, errs.Invalid, "not signed")
	// Unless the caller chose not to check.
	src.Keyring = nil
	md, err = src.Metadata(context.Background())
	if err != nil || md.Release.Signed {
		t.Errorf("unchecked: %+v, %v", md, err)
	}

	// A Release.gpg by the wrong key is refused too.
	r.signer = gnupg.bad
	r.publish()
	src.Keyring = gnupg.keyring
	_, err = src.Metadata(context.Background())
	wantErr(t, err, errs.Invalid, "dists/stable/Release is signed by key "+gnupg.bad)
}

func TestExpiredReleaseRefusedByDefault(t *testing.T) {
	r := threePackages(t)
	r.validTime = "3600"
	r.publish()
	srv := serve(t, r.root)
	src := source(srv)
	// Valid for an hour: accepted now.
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Release.ValidUntil == "" {
		t.Fatal("the Release has no Valid-Until")
	}
	// Two hours later it has expired.
	src.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	_, err = src.Metadata(context.Background())
	wantErr(t, err, errs.Invalid, "expired on", "Valid-Until", "frozen suite")
	src.AllowExpired = true
	if _, err := src.Metadata(context.Background()); err != nil {
		t.Errorf("with AllowExpired: %v", err)
	}
}

func TestReleaseOfAnotherSuiteIsRefused(t *testing.T) {
	r := threePackages(t)
	r.publish()
	if err := os.Rename(filepath.Join(r.root, "dists/stable"), filepath.Join(r.root, "dists/oldstable")); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, r.root)
	src := source(srv)
	src.Suite = "oldstable"
	_, err := src.Metadata(context.Background())
	wantErr(t, err, errs.Invalid, `for suite "stable"`, `not "oldstable"`)

	// The codename names the suite as well as the suite name.
	if err := os.Rename(filepath.Join(r.root, "dists/oldstable"), filepath.Join(r.root, "dists/trixie")); err != nil {
		t.Fatal(err)
	}
	src.Suite = "trixie"
	if _, err := src.Metadata(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestThroughProxyWithBasicAuth(t *testing.T) {
	r := threePackages(t)
	r.publish()
	upstream := serve(t, r.root)
	var authorized, refused atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Proxy-Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("mirror:s3cret")) {
			refused.Add(1)
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy credentials needed", http.StatusProxyAuthRequired)
			return
		}
		if req.URL.Host != "upstream.invalid" {
			http.Error(w, "unknown host "+req.URL.Host, http.StatusBadGateway)
			return
		}
		authorized.Add(1)
		out, _ := http.NewRequestWithContext(req.Context(), req.Method, upstream.URL+req.URL.Path, nil)
		if rg := req.Header.Get("Range"); rg != "" {
			out.Header.Set("Range", rg)
		}
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
	}))
	defer proxy.Close()
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("HTTP_PROXY", "http://mirror:s3cret@"+proxyHost)

	// upstream.invalid resolves nowhere: only the proxy can reach it.
	src := &Source{URL: "http://upstream.invalid/", Suite: "stable", Keyring: gnupg.keyring}
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Download(context.Background(), md.Packages, t.TempDir(), nil)
	if err != nil || len(res.Downloaded) != 3 {
		t.Fatalf("download through the proxy: %+v, %v", res, err)
	}
	if authorized.Load() < 5 || refused.Load() != 0 {
		t.Errorf("proxy saw %d authorized and %d refused requests", authorized.Load(), refused.Load())
	}

	t.Setenv("HTTP_PROXY", "http://mirror:wrong@"+proxyHost)
	_, err = src.Metadata(context.Background())
	wantErr(t, err, errs.Unauthorized, "HTTP 407", "http://user:password@")
}

func TestSourcePackages(t *testing.T) {
	r := threePackages(t)
	r.addSource("hello", "2.10")
	r.publish()
	srv := serve(t, r.root)
	src := source(srv)
	src.Sources = true
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Sources) != 1 {
		t.Fatalf("sources %+v", md.Sources)
	}
	sp := md.Sources[0]
	var files []string
	for _, f := range sp.Files {
		files = append(files, f.Name)
	}
	slices.Sort(files)
	if sp.Name != "hello" || sp.Version != "2.10-1" || sp.Directory != "pool/main/h/hello" || sp.Component != "main" ||
		!slices.Equal(files, []string{"hello_2.10-1.debian.tar.xz", "hello_2.10-1.dsc", "hello_2.10.orig.tar.gz"}) ||
		!bytes.Contains(sp.Stanza, []byte("Checksums-Sha256:")) {
		t.Fatalf("source package %+v", sp)
	}
	dir := t.TempDir()
	res, err := src.DownloadSources(context.Background(), md.Sources, dir, nil)
	if err != nil || len(res.Downloaded) != 3 {
		t.Fatalf("%+v, %v", res, err)
	}
	for _, f := range sp.Files {
		got, err := os.ReadFile(filepath.Join(dir, sp.Directory, f.Name))
		want, _ := os.ReadFile(filepath.Join(r.root, sp.Directory, f.Name))
		if err != nil || !bytes.Equal(got, want) || sum(got) != f.SHA256 {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	if d := DiffSources(map[string]bool{sp.Files[0].SHA256: true}, md); len(d) != 1 {
		t.Errorf("DiffSources with a file missing = %v", d)
	}

	// A tarball that does not match its Checksums-Sha256 refuses the
	// source package by name.
	orig := filepath.Join(r.root, sp.Directory, "hello_2.10.orig.tar.gz")
	data, _ := os.ReadFile(orig)
	data[len(data)/2] ^= 1
	os.WriteFile(orig, data, 0o644)
	res, err = src.DownloadSources(context.Background(), md.Sources, t.TempDir(), nil)
	wantErr(t, err, errs.Invalid, "hello_2.10.orig.tar.gz", "hello 2.10-1 (source)")
	if len(res.Refused) != 1 || len(res.Downloaded) != 2 {
		t.Errorf("%+v", res)
	}
}
