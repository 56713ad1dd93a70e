package mavenrepo

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

const pom = `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>%s</version></project>`

type fixture struct {
	t     *testing.T
	st    *sqlite.DB
	pub   *Publisher
	h     *Handler
	srv   *httptest.Server
	mu    sync.Mutex
	now   time.Time
	token string
	view  string // a viewer token
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	must(t, err)
	f := &fixture{t: t, st: st, now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	must(t, st.AddProduct(ctx, store.Product{ID: "spring-5.3", Name: "Spring 5.3 ELS", Format: "maven"}))
	must(t, st.AddProduct(ctx, store.Product{ID: "other", Name: "Other", Format: "maven"}))
	must(t, st.AddProduct(ctx, store.Product{ID: "el9", Name: "EL9", Format: "rpm"}))
	must(t, st.AddDeveloperContract(ctx, store.Contract{SupportID: "D1", Customer: "C", Plan: "developer", Products: []string{"spring-5.3"},
		Quantity: 5, Start: "2026-01-01", End: "2026-12-31", Contact: "d@example.jp"},
		store.DeveloperAccount{Name: "dev-abc", SupportID: "D1", PasswordHash: account.HashPassword("initial-password-1"), CreatedAt: clock()}))
	var hash []byte
	f.token, hash = account.NewToken()
	must(t, st.AddToken(ctx, store.APIToken{Name: "ci", Role: account.RoleOperator, Hash: hash, CreatedAt: clock()}))
	f.view, hash = account.NewToken()
	must(t, st.AddToken(ctx, store.APIToken{Name: "auditor", Role: account.RoleViewer, Hash: hash, CreatedAt: clock()}))
	f.pub = &Publisher{Store: st, Blobs: blobs, Now: clock, Log: slog.New(slog.DiscardHandler)}
	f.h = NewHandler(Config{Store: st, Blobs: blobs, Publisher: f.pub, Now: clock, Log: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	f.h.Register(mux.Handle)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) do(method, path, user, pass, body string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	must(f.t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (f *fixture) publish(version, jar string) (Result, error) {
	return f.pub.Publish(context.Background(), "spring-5.3", []Upload{
		{Path: "com/example/lib/" + version + "/lib-" + version + ".pom", Body: strings.NewReader(strings.Replace(pom, "%s", version, 1))},
		{Path: "com/example/lib/" + version + "/lib-" + version + ".jar", Body: strings.NewReader(jar)},
	})
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestPublishAndServe(t *testing.T) {
	f := newFixture(t)
	res, err := f.publish("1.0", "jar one")
	if err != nil || len(res.Added) != 2 || res.Publication.ID == 0 {
		t.Fatalf("publish = %+v, %v", res, err)
	}
	if _, err := f.publish("1.1", "jar two"); err != nil {
		t.Fatal(err)
	}
	const acct, pw = "dev-abc", "initial-password-1"
	code, body := f.do("GET", "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar", acct, pw, "")
	if code != 200 || body != "jar one" {
		t.Errorf("GET jar = %d %q", code, body)
	}
	code, body = f.do("GET", "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar.sha1", acct, pw, "")
	if code != 200 || body != sha1hex("jar one") {
		t.Errorf("GET jar.sha1 = %d %q, want %s", code, body, sha1hex("jar one"))
	}
	for _, alg := range []string{"md5", "sha256", "sha512"} {
		if code, _ := f.do("GET", "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.pom."+alg, acct, pw, ""); code != 200 {
			t.Errorf("GET pom.%s = %d", alg, code)
		}
	}
	code, body = f.do("GET", "/maven/spring-5.3/com/example/lib/maven-metadata.xml", acct, pw, "")
	if code != 200 || !strings.Contains(body, "<latest>1.1</latest>") || !strings.Contains(body, "<version>1.0</version>") {
		t.Errorf("metadata = %d %s", code, body)
	}
	code, meta := f.do("GET", "/maven/spring-5.3/com/example/lib/maven-metadata.xml.sha1", acct, pw, "")
	if code != 200 || meta != sha1hex(body) {
		t.Errorf("metadata.sha1 = %d %q, want %s", code, meta, sha1hex(body))
	}
	// Directories list; a directory without its slash redirects.
	code, body = f.do("GET", "/maven/spring-5.3/com/example/lib/", acct, pw, "")
	if code != 200 || !strings.Contains(body, "1.0/") || !strings.Contains(body, "maven-metadata.xml") {
		t.Errorf("listing = %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/maven/spring-5.3/com/example", nil)
	req.SetBasicAuth(acct, pw)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/maven/spring-5.3/com/example/" {
		t.Errorf("directory without slash = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Published files never change; the same bytes again change nothing.
	if _, err := f.publish("1.0", "other bytes"); err == nil || !strings.Contains(err.Error(), "never change") {
		t.Errorf("republishing 1.0 with other bytes = %v", err)
	}
	if res, err := f.publish("1.0", "jar one"); err != nil || len(res.Added) != 0 || len(res.Unchanged) != 2 || res.Publication.ID != 0 {
		t.Errorf("republishing 1.0 unchanged = %+v, %v", res, err)
	}
	if _, err := f.pub.Publish(context.Background(), "spring-5.3", []Upload{{Path: "com/example/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar", Body: strings.NewReader("x")}}); err == nil {
		t.Error("a SNAPSHOT was published")
	}
	if _, err := f.pub.Publish(context.Background(), "el9", []Upload{{Path: "files/x.txt", Body: strings.NewReader("x")}}); err == nil {
		t.Error("published maven files to an rpm product")
	}
	// Plain files under files/, with checksums.
	if _, err := f.pub.Publish(context.Background(), "spring-5.3", []Upload{{Path: "files/src/spring-5.3.39-els1.tar.gz", Body: strings.NewReader("source")}}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/maven/spring-5.3/files/src/spring-5.3.39-els1.tar.gz.sha1", acct, pw, ""); code != 200 || body != sha1hex("source") {
		t.Errorf("plain file checksum = %d %q", code, body)
	}
	for _, bad := range []string{"files/../x", "files/.hidden", "files/a b", "com/example/lib/1.0/other-1.0.jar"} {
		if _, err := f.pub.Publish(context.Background(), "spring-5.3", []Upload{{Path: bad, Body: strings.NewReader("x")}}); err == nil {
			t.Errorf("published %q", bad)
		}
	}
}

func TestAccess(t *testing.T) {
	f := newFixture(t)
	if _, err := f.publish("1.0", "jar"); err != nil {
		t.Fatal(err)
	}
	const path = "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar"
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("no credentials = %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, c := range [][2]string{{"dev-abc", "wrong-password-x"}, {"dev-nope", "initial-password-1"}, {"ci", "not-the-token"}} {
		if code, _ := f.do("GET", path, c[0], c[1], ""); code != 401 {
			t.Errorf("GET as %s/%s = %d, want 401", c[0], c[1], code)
		}
	}
	if code, _ := f.do("GET", path, "ci", f.view, ""); code != 401 {
		t.Errorf("a token under another token's name = %d, want 401", code)
	}
	if code, _ := f.do("GET", path, "auditor", f.view, ""); code != 200 {
		t.Errorf("a viewer token reads = %d, want 200", code)
	}
	// The account reads only its contract's products.
	if code, body := f.do("GET", "/maven/other/", "dev-abc", "initial-password-1", ""); code != 403 || !strings.Contains(body, "does not include") {
		t.Errorf("another product = %d %s", code, body)
	}
	// Uploads need a token that may change things.
	put := "/maven/spring-5.3/com/example/lib/2.0/lib-2.0.jar"
	if code, _ := f.do("PUT", put, "dev-abc", "initial-password-1", "x"); code != 403 {
		t.Errorf("PUT as the developer = %d, want 403", code)
	}
	if code, _ := f.do("PUT", put, "auditor", f.view, "x"); code != 403 {
		t.Errorf("PUT as a viewer token = %d, want 403", code)
	}
	if code, _ := f.do("PUT", put, "ci", f.token, "x"); code != 201 {
		t.Errorf("PUT as an operator token = %d, want 201", code)
	}
	if code, _ := f.do("PUT", put+".sha1", "ci", f.token, sha1hex("x")+"  lib-2.0.jar\n"); code != 200 {
		t.Errorf("PUT of a matching checksum = %d, want 200", code)
	}
	if code, body := f.do("PUT", put+".sha1", "ci", f.token, sha1hex("y")); code != 400 || !strings.Contains(body, "does not match") {
		t.Errorf("PUT of a wrong checksum = %d %s", code, body)
	}
	if code, _ := f.do("PUT", put, "ci", f.token, "changed"); code != 409 {
		t.Errorf("PUT over a released file = %d, want 409", code)
	}
	if code, _ := f.do("PUT", "/maven/spring-5.3/com/example/lib/maven-metadata.xml", "ci", f.token,
		`<metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning><versions><version>2.0</version></versions></versioning></metadata>`); code != 200 {
		t.Errorf("PUT of maven-metadata.xml = %d, want 200 (kept by the server)", code)
	}
	if code, body := f.do("GET", "/maven/spring-5.3/com/example/lib/maven-metadata.xml", "ci", f.token, ""); code != 200 || !strings.Contains(body, "<release>2.0</release>") {
		t.Errorf("metadata after the deploy = %d %s", code, body)
	}
	// The live contract: expired → 403.
	f.mu.Lock()
	f.now = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	f.mu.Unlock()
	if code, body := f.do("GET", path, "dev-abc", "initial-password-1", ""); code != 403 || !strings.Contains(body, "expired") {
		t.Errorf("after the contract ended = %d %s", code, body)
	}
}

// TestPasswordChange: the verified-credential cache never outlives a
// password change.
func TestPasswordChange(t *testing.T) {
	f := newFixture(t)
	if _, err := f.publish("1.0", "jar"); err != nil {
		t.Fatal(err)
	}
	const path = "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar"
	if code, _ := f.do("GET", path, "dev-abc", "initial-password-1", ""); code != 200 {
		t.Fatalf("GET = %d", code)
	}
	must(t, f.st.SetDeveloperPassword(context.Background(), "dev-abc", account.HashPassword("the-new-password"), f.now))
	f.h.PasswordChanged("dev-abc")
	if code, _ := f.do("GET", path, "dev-abc", "initial-password-1", ""); code != 401 {
		t.Errorf("old password after the change = %d, want 401", code)
	}
	if code, _ := f.do("GET", path, "dev-abc", "the-new-password", ""); code != 200 {
		t.Errorf("new password = %d, want 200", code)
	}
	// Another replica (no PasswordChanged call) stops accepting the old
	// password once its account cache expires: the cached verification is
	// tied to the hash it matched.
	g := NewHandler(Config{Store: f.st, Blobs: f.pub.Blobs, Now: time.Now, Log: slog.New(slog.DiscardHandler), CacheTTL: time.Millisecond})
	mux := http.NewServeMux()
	g.Register(mux.Handle)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(pw string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.SetBasicAuth("dev-abc", pw)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("the-new-password") != 200 {
		t.Fatal("replica refused the password")
	}
	must(t, f.st.SetDeveloperPassword(context.Background(), "dev-abc", account.HashPassword("a-third-password"), f.now))
	time.Sleep(5 * time.Millisecond)
	if code := get("the-new-password"); code != 401 {
		t.Errorf("replica accepted the replaced password: %d", code)
	}
}
