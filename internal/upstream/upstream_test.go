package upstream_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/upstream"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func names(pkgs []upstream.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func refusedNames(rs []upstream.Refusal) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		out[r.Package.Name] = r.Reason
	}
	return out
}

// keyID is the long key ID a fingerprint ends with.
func keyID(fpr string) string { return strings.ToUpper(fpr[len(fpr)-16:]) }

func (f *fixture) all(extra ...string) []string {
	return append([]string{"upstream-a-1.0-1.el9.x86_64.rpm", "upstream-doc-1.0-1.el9.noarch.rpm", f.srcArchExcluded, f.bigName}, extra...)
}

func metadata(t *testing.T, s *upstream.Source) *upstream.Metadata {
	t.Helper()
	md, err := s.Metadata(context.Background())
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	return md
}

// TestMetadataVerified fetches a signed upstream with modules, comps and
// updateinfo, keeps the chosen architecture, and downloads what it lists.
func TestMetadataVerified(t *testing.T) {
	r := newRepo(t, repoOptions{rpms: getFixture(t).all(), signer: getFixture(t).good})
	s := &upstream.Source{URL: r.url(), Keyring: r.fix.keyring, Arch: []string{"x86_64"}}
	md := metadata(t, s)
	if !md.RepomdSigned || md.Revision == "" {
		t.Errorf("RepomdSigned = %v, Revision = %q; want a verified signature and a revision", md.RepomdSigned, md.Revision)
	}
	if got, want := names(md.Packages), []string{"upstream-a", "upstream-big", "upstream-doc"}; !slices.Equal(got, want) {
		t.Errorf("packages for x86_64 = %v, want %v (noarch kept, aarch64 left out)", got, want)
	}
	for _, p := range md.Packages {
		data := r.fix.rpms[filepath.Base(p.Href)]
		if p.Href != "Packages/"+filepath.Base(p.Href) || p.ChecksumType != "sha256" || p.Checksum != sha256hex(data) || p.Size != int64(len(data)) {
			t.Errorf("package %+v does not describe its file (%d bytes, sha256 %s)", p, len(data), sha256hex(data))
		}
		if p.SourceRPM != p.Name+"-1.0-1.el9.src.rpm" {
			t.Errorf("%s: SourceRPM = %q", p.Name, p.SourceRPM)
		}
	}
	if got := metadata(t, &upstream.Source{URL: r.url(), Keyring: r.fix.keyring}); len(got.Packages) != 4 {
		t.Errorf("without Arch: %v, want all four packages", names(got.Packages))
	}

	want := map[string]string{"modules": "upstream-stack", "group": "upstream-tools", "updateinfo": "UPSA-2024:0001"}
	for _, x := range md.Extra {
		stored, err := os.ReadFile(filepath.Join(r.root, x.Href))
		if err != nil {
			t.Errorf("extra %s: %v", x.Type, err)
			continue
		}
		if x.ChecksumType != "sha256" || x.Checksum != sha256hex(stored) {
			t.Errorf("extra %s: checksum %s %s, want sha256 %s", x.Type, x.ChecksumType, x.Checksum, sha256hex(stored))
		}
		if !bytes.Contains(x.Data, []byte(want[x.Type])) {
			t.Errorf("extra %s: decompressed data lacks %q:\n%.300s", x.Type, want[x.Type], x.Data)
		}
		delete(want, x.Type)
	}
	if len(want) != 0 {
		t.Errorf("Extra lacks %v", want)
	}

	dir := t.TempDir()
	var mu sync.Mutex
	events := map[upstream.EventKind]int{}
	res, err := s.Download(context.Background(), md.Packages, dir, func(e upstream.Event) {
		mu.Lock()
		events[e.Kind]++
		mu.Unlock()
	})
	if err != nil || len(res.Downloaded) != 3 || len(res.Refused)+len(res.Skipped)+len(res.Failed) != 0 {
		t.Fatalf("Download = %+v, %v; want three downloaded", res, err)
	}
	for _, p := range md.Packages {
		got, err := os.ReadFile(filepath.Join(dir, p.Href))
		if err != nil || !bytes.Equal(got, r.fix.rpms[filepath.Base(p.Href)]) {
			t.Errorf("%s: downloaded file differs from upstream's (%v)", p.Href, err)
		}
	}
	if events[upstream.Started] != 3 || events[upstream.Downloaded] != 3 {
		t.Errorf("events = %v, want 3 started and 3 downloaded", events)
	}
}

// TestCompressions reads metadata compressed with each algorithm
// createrepo_c offers, and a repository whose checksums are SHA-512.
func TestCompressions(t *testing.T) {
	f := getFixture(t)
	for _, tc := range []repoOptions{{compress: "xz"}, {compress: "zstd"}, {compress: "bz2"}, {checksumAlg: "sha512"}} {
		name := tc.compress + tc.checksumAlg
		t.Run(name, func(t *testing.T) {
			tc.rpms = []string{"upstream-a-1.0-1.el9.x86_64.rpm"}
			tc.signer = f.good
			r := newRepo(t, tc)
			s := &upstream.Source{URL: r.url(), Keyring: f.keyring}
			md := metadata(t, s)
			if len(md.Packages) != 1 || len(md.Extra) != 3 {
				t.Fatalf("packages %v, %d extra documents; want upstream-a and 3", names(md.Packages), len(md.Extra))
			}
			if tc.checksumAlg != "" && md.Packages[0].ChecksumType != tc.checksumAlg {
				t.Errorf("checksum type %q, want %q", md.Packages[0].ChecksumType, tc.checksumAlg)
			}
			for _, x := range md.Extra {
				if ext := strings.TrimSuffix(tc.compress, "d"); ext != "" && x.Type != "group" && !strings.HasSuffix(x.Href, "."+ext) {
					t.Errorf("%s is at %s, not %s-compressed: the test does not test what it says", x.Type, x.Href, tc.compress)
				}
				if len(x.Data) == 0 || x.Data[0] != '<' && x.Data[0] != '-' {
					t.Errorf("%s not decompressed: %.40q", x.Type, x.Data)
				}
			}
			res, err := s.Download(context.Background(), md.Packages, t.TempDir(), nil)
			if err != nil || len(res.Downloaded) != 1 {
				t.Errorf("Download = %+v, %v", res, err)
			}
		})
	}
}

// TestRepomdSignature covers repo_gpgcheck: a signature by another key, a
// repomd.xml changed after signing and a missing signature are refused; no
// keyring means no signature is asked for.
func TestRepomdSignature(t *testing.T) {
	f := getFixture(t)
	rpms := []string{"upstream-a-1.0-1.el9.x86_64.rpm"}

	r := newRepo(t, repoOptions{rpms: rpms, signer: f.other})
	_, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Metadata(context.Background())
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "repomd.xml") || !strings.Contains(err.Error(), keyID(f.other)) {
		t.Errorf("repomd.xml signed by another key: %v; want an Invalid error naming repomd.xml and key %s", err, keyID(f.other))
	}

	r = newRepo(t, repoOptions{rpms: rpms, signer: f.good})
	repomd := filepath.Join(r.root, "repodata", "repomd.xml")
	data, _ := os.ReadFile(repomd)
	write(t, repomd, strings.Replace(string(data), "<revision>", "<revision>1", 1))
	if _, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Metadata(context.Background()); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("repomd.xml changed after signing: %v; want a signature that does not verify", err)
	}

	r = newRepo(t, repoOptions{rpms: rpms})
	_, err = (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Metadata(context.Background())
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "repomd.xml.asc") {
		t.Errorf("no repomd.xml.asc with a keyring: %v; want an error naming repomd.xml.asc", err)
	}
	md := metadata(t, &upstream.Source{URL: r.url(), Keyring: f.keyring, AllowUnsignedRepomd: true})
	if md.RepomdSigned || len(md.Packages) != 1 {
		t.Errorf("AllowUnsignedRepomd: RepomdSigned = %v, %d packages", md.RepomdSigned, len(md.Packages))
	}
	before := r.count("/repodata/repomd.xml.asc")
	md = metadata(t, &upstream.Source{URL: r.url()})
	if md.RepomdSigned || r.count("/repodata/repomd.xml.asc") != before {
		t.Errorf("without a keyring repomd.xml.asc was asked for or RepomdSigned = true")
	}
}

// dataFile is the path of the repodata file whose name ends with suffix.
func dataFile(t *testing.T, r *repo, suffix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(r.root, "repodata", "*"+suffix))
	if len(m) != 1 {
		t.Fatalf("repodata/*%s: %v", suffix, m)
	}
	return m[0]
}

// TestTamperedMetadata changes primary.xml.gz, modules.yaml.gz and
// updateinfo.xml.gz after repomd.xml was signed: the error names the file.
func TestTamperedMetadata(t *testing.T) {
	f := getFixture(t)
	r := newRepo(t, repoOptions{rpms: []string{"upstream-a-1.0-1.el9.x86_64.rpm"}, signer: f.good})
	s := &upstream.Source{URL: r.url(), Keyring: f.keyring}
	regzip := func(orig []byte) []byte {
		zr, err := gzip.NewReader(bytes.NewReader(orig))
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := io.ReadAll(zr)
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(bytes.ReplaceAll(doc, []byte("upstream-a"), []byte("upstream-z")))
		zw.Close()
		return b.Bytes()
	}
	flip := func(orig []byte) []byte { // same size, so only the checksum tells
		b := bytes.Clone(orig)
		b[len(b)/2] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		suffix string
		change func([]byte) []byte
	}{{"primary.xml.gz", regzip}, {"modules.yaml.gz", regzip}, {"updateinfo.xml.gz", flip}, {"primary.xml.gz", flip}} {
		p := dataFile(t, r, tc.suffix)
		orig, _ := os.ReadFile(p)
		changed := tc.change(orig)
		if err := os.WriteFile(p, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := s.Metadata(context.Background())
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), filepath.Base(p)) || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("%s tampered: %v; want an error naming the file", tc.suffix, err)
		}
		if len(changed) == len(orig) && (err == nil || !strings.Contains(err.Error(), "got "+sha256hex(changed))) {
			t.Errorf("%s with a byte changed: %v; want the checksum found", tc.suffix, err)
		}
		os.WriteFile(p, orig, 0o644)
	}
	if _, err := s.Metadata(context.Background()); err != nil {
		t.Errorf("restored: %v", err)
	}
}

// TestDownloadRefuses: a package signed by a third key, an unsigned one and
// one whose bytes are not the ones primary.xml describes are refused and
// named, with no file left; the good one is downloaded.
func TestDownloadRefuses(t *testing.T) {
	f := getFixture(t)
	a := "upstream-a-1.0-1.el9.x86_64.rpm"
	r := newRepo(t, repoOptions{rpms: []string{a, "upstream-doc-1.0-1.el9.noarch.rpm", f.thirdKeyName, f.unsignedName}, signer: f.good})
	// Bytes changed after createrepo_c: the size stays, the checksum not.
	tampered := bytes.Clone(f.rpms[a])
	tampered[len(tampered)-10] ^= 0xff
	if err := os.WriteFile(filepath.Join(r.root, "Packages", a), tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &upstream.Source{URL: r.url(), Keyring: f.keyring}
	md := metadata(t, s)
	dir := t.TempDir()
	var mu sync.Mutex
	named := map[string]bool{}
	res, err := s.Download(context.Background(), md.Packages, dir, func(e upstream.Event) {
		if e.Kind == upstream.Refused {
			mu.Lock()
			named[e.Package.NEVRA()] = e.Reason != ""
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("Download: %v (refusals are not an error)", err)
	}
	if got := names(res.Downloaded); !slices.Equal(got, []string{"upstream-doc"}) {
		t.Errorf("downloaded %v, want upstream-doc alone", got)
	}
	reasons := refusedNames(res.Refused)
	wantSum := fmt.Sprintf("checksum mismatch: upstream metadata says sha256 %s, got %s", sha256hex(f.rpms[a]), sha256hex(tampered))
	if reasons["upstream-a"] != wantSum {
		t.Errorf("tampered package: %q, want %q", reasons["upstream-a"], wantSum)
	}
	if want := "signed by key " + keyID(f.other) + ", which is not the upstream key given"; reasons["upstream-stranger"] != want {
		t.Errorf("third-key package: %q, want %q", reasons["upstream-stranger"], want)
	}
	if !strings.HasPrefix(reasons["upstream-unsigned"], "not signed") {
		t.Errorf("unsigned package: %q, want it refused as not signed", reasons["upstream-unsigned"])
	}
	if len(named) != 3 || !named["upstream-a-1.0-1.el9.x86_64"] || !named["upstream-stranger-1.0-1.el9.x86_64"] {
		t.Errorf("refusal events: %v", named)
	}
	for _, name := range []string{a, f.thirdKeyName, f.unsignedName} {
		for _, p := range []string{name, name + ".part"} {
			if _, err := os.Stat(filepath.Join(dir, "Packages", p)); err == nil {
				t.Errorf("%s was left behind", p)
			}
		}
	}

	// Without a keyring only checksums count.
	res, err = (&upstream.Source{URL: r.url()}).Download(context.Background(), md.Packages, t.TempDir(), nil)
	if err != nil || !slices.Equal(names(res.Downloaded), []string{"upstream-doc", "upstream-stranger", "upstream-unsigned"}) || len(res.Refused) != 1 {
		t.Errorf("without keyring: downloaded %v, refused %v, %v", names(res.Downloaded), res.Refused, err)
	}
}

// TestIncremental: a second Download into the same directory fetches
// nothing; a package added upstream is all Diff lists and all that is
// fetched.
func TestIncremental(t *testing.T) {
	f := getFixture(t)
	rpms := []string{"upstream-a-1.0-1.el9.x86_64.rpm", "upstream-doc-1.0-1.el9.noarch.rpm", f.bigName}
	r := newRepo(t, repoOptions{rpms: rpms, signer: f.good})
	s := &upstream.Source{URL: r.url(), Keyring: f.keyring}
	md := metadata(t, s)
	dir := t.TempDir()
	if res, err := s.Download(context.Background(), md.Packages, dir, nil); err != nil || len(res.Downloaded) != 3 {
		t.Fatalf("first Download = %+v, %v", res, err)
	}
	if n := r.rpmRequests(); n != 3 {
		t.Errorf("first Download made %d package requests, want 3", n)
	}
	res, err := s.Download(context.Background(), md.Packages, dir, nil)
	if err != nil || len(res.Skipped) != 3 || len(res.Downloaded) != 0 || res.Bytes != 0 {
		t.Errorf("second Download = %+v, %v; want all three skipped", res, err)
	}
	if n := r.rpmRequests(); n != 3 {
		t.Errorf("second Download made %d more package requests, want none", n-3)
	}

	have := map[string]bool{}
	for _, p := range md.Packages {
		have[p.Checksum] = true
	}
	if d := upstream.Diff(have, md); len(d) != 0 {
		t.Errorf("Diff against itself = %v", names(d))
	}
	r.build(repoOptions{rpms: append(rpms, f.extraName), signer: f.good})
	md2 := metadata(t, s)
	want := upstream.Diff(have, md2)
	if got := names(want); !slices.Equal(got, []string{"upstream-new"}) {
		t.Fatalf("Diff after a package was added = %v, want upstream-new", got)
	}
	res, err = s.Download(context.Background(), want, dir, nil)
	if err != nil || len(res.Downloaded) != 1 || r.rpmRequests() != 4 {
		t.Errorf("Download of the difference = %+v, %v, %d package requests in all; want one more", res, err, r.rpmRequests())
	}
}

// cutHalfway answers the first request for path with half the file, then
// drops the connection.
func cutHalfway(r *repo, path string, data []byte, times int) func(http.ResponseWriter, *http.Request) bool {
	var mu sync.Mutex
	cut := 0
	return func(w http.ResponseWriter, req *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if req.URL.Path != path || cut >= times {
			return false
		}
		cut++
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			r.t.Error(err)
			return true
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/x-rpm\r\n\r\n", len(data))
		buf.Write(data[:len(data)/2])
		buf.Flush()
		conn.Close()
		return true
	}
}

// TestResume: a transfer cut half-way leaves a .part that the next Download
// continues with a Range request; within one Download a later attempt does
// the same; a server that ignores Range and a .part that is not a prefix of
// the file still end with the right bytes.
func TestResume(t *testing.T) {
	f := getFixture(t)
	r := newRepo(t, repoOptions{rpms: []string{f.bigName}, signer: f.good})
	big := f.rpms[f.bigName]
	path := "/Packages/" + f.bigName
	md := metadata(t, &upstream.Source{URL: r.url(), Keyring: f.keyring})
	if md.Packages[0].Size < 2<<20 {
		t.Fatalf("the big package has %d bytes; the test wants a few MiB", md.Packages[0].Size)
	}
	check := func(dir string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, "Packages", f.bigName))
		if err != nil || sha256hex(got) != md.Packages[0].Checksum {
			t.Errorf("final file: %v, sha256 %s, want %s", err, sha256hex(got), md.Packages[0].Checksum)
		}
		if _, err := os.Stat(filepath.Join(dir, "Packages", f.bigName+".part")); err == nil {
			t.Error("the .part file stayed")
		}
	}

	t.Run("next run", func(t *testing.T) {
		dir := t.TempDir()
		r.intercept = cutHalfway(r, path, big, 1)
		s := &upstream.Source{URL: r.url(), Keyring: f.keyring, Attempts: 1}
		res, err := s.Download(context.Background(), md.Packages, dir, nil)
		if err == nil || len(res.Failed) != 1 || !errs.Is(err, errs.Unavailable) {
			t.Fatalf("cut transfer: %+v, %v; want it failed", res, err)
		}
		st, err := os.Stat(filepath.Join(dir, "Packages", f.bigName+".part"))
		if err != nil || st.Size() != int64(len(big)/2) {
			t.Fatalf(".part after the cut: %v (want %d bytes)", err, len(big)/2)
		}
		var offset int64
		res, err = s.Download(context.Background(), md.Packages, dir, func(e upstream.Event) {
			if e.Kind == upstream.Started {
				offset = e.Offset
			}
		})
		if err != nil || len(res.Downloaded) != 1 || res.Bytes != int64(len(big)-len(big)/2) {
			t.Fatalf("resumed Download = %+v, %v", res, err)
		}
		if want := fmt.Sprintf("bytes=%d-", len(big)/2); r.ranges[path] != want || offset != int64(len(big)/2) {
			t.Errorf("Range %q, Started offset %d; want %q", r.ranges[path], offset, want)
		}
		check(dir)
	})

	t.Run("same run", func(t *testing.T) {
		dir := t.TempDir()
		r.intercept = cutHalfway(r, path, big, 1)
		delete(r.ranges, path)
		before := r.count(path)
		res, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Download(context.Background(), md.Packages, dir, nil)
		if err != nil || len(res.Downloaded) != 1 || r.count(path)-before != 2 || r.ranges[path] == "" {
			t.Fatalf("Download = %+v, %v, %d requests, Range %q; want a second, ranged attempt", res, err, r.count(path)-before, r.ranges[path])
		}
		check(dir)
	})

	t.Run("stalled", func(t *testing.T) {
		upstream.SetStallTimeout(t, 300*time.Millisecond)
		dir := t.TempDir()
		r.intercept = func(w http.ResponseWriter, req *http.Request) bool {
			if req.URL.Path != path {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big[:1000])
			w.(http.Flusher).Flush()
			select { // silent until the client gives up
			case <-req.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		}
		res, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring, Attempts: 1}).Download(context.Background(), md.Packages, dir, nil)
		if err == nil || len(res.Failed) != 1 || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("Download = %+v, %v; want the stalled transfer failed", res, err)
		}
		if st, err := os.Stat(filepath.Join(dir, "Packages", f.bigName+".part")); err != nil || st.Size() != 1000 {
			t.Errorf(".part after the stall: %v", err)
		}
	})

	t.Run("range ignored", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "Packages"), 0o755)
		os.WriteFile(filepath.Join(dir, "Packages", f.bigName+".part"), big[:1000], 0o644)
		r.intercept = func(w http.ResponseWriter, req *http.Request) bool {
			req.Header.Del("Range")
			return false
		}
		res, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Download(context.Background(), md.Packages, dir, nil)
		if err != nil || len(res.Downloaded) != 1 || res.Bytes != int64(len(big)) {
			t.Fatalf("Download = %+v, %v", res, err)
		}
		check(dir)
	})

	t.Run("stale part", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "Packages"), 0o755)
		os.WriteFile(filepath.Join(dir, "Packages", f.bigName+".part"), bytes.Repeat([]byte{'x'}, 1000), 0o644)
		r.intercept = nil
		res, err := (&upstream.Source{URL: r.url(), Keyring: f.keyring}).Download(context.Background(), md.Packages, dir, nil)
		if err != nil || len(res.Downloaded) != 1 {
			t.Fatalf("Download = %+v, %v", res, err)
		}
		check(dir)
	})
}

// TestProxy sends everything through a forward proxy that wants Basic
// credentials, taken from HTTP_PROXY. The upstream's host name does not
// resolve, so only the proxy can have reached it.
func TestProxy(t *testing.T) {
	f := getFixture(t)
	r := newRepo(t, repoOptions{rpms: []string{"upstream-a-1.0-1.el9.x86_64.rpm"}, signer: f.good})
	target, _ := url.Parse(r.srv.URL)
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("mirror:p@ss word"))
		if req.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		mu.Lock()
		seen = append(seen, req.URL.String())
		mu.Unlock()
		if req.URL.Host != "upstream.example" {
			http.Error(w, "unknown host", http.StatusBadGateway)
			return
		}
		out := req.Clone(req.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
		out.Header.Del("Proxy-Authorization")
		resp, err := http.DefaultTransport.RoundTrip(out)
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
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("mirror", "p@ss word")
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	t.Setenv("HTTP_PROXY", pu.String())

	s := &upstream.Source{URL: "http://upstream.example/", Keyring: f.keyring}
	md, err := s.Metadata(context.Background())
	if err != nil {
		t.Fatalf("Metadata through the proxy: %v", err)
	}
	res, err := s.Download(context.Background(), md.Packages, t.TempDir(), nil)
	if err != nil || len(res.Downloaded) != 1 {
		t.Fatalf("Download through the proxy = %+v, %v", res, err)
	}
	if len(seen) < 4 || !strings.HasPrefix(seen[0], "http://upstream.example/") {
		t.Errorf("the proxy saw %v; want repomd.xml, its signature, primary and the package", seen)
	}

	pu.User = url.UserPassword("mirror", "wrong-secret")
	t.Setenv("HTTP_PROXY", pu.String())
	_, err = s.Metadata(context.Background())
	if err == nil || !strings.Contains(err.Error(), "407") || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong proxy password: %v; want a 407 error without the password", err)
	}
}
