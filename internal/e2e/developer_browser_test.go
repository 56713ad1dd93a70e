package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeveloperPasswordBrowser: the developer logs in at /developer/ in
// headless Chromium and changes the password; at once the old password no
// longer reaches the Maven repository and the new one does. The same
// browser then browses the repository's listing pages.
func TestDeveloperPasswordBrowser(t *testing.T) {
	v, c := mavenVendor(t)
	dir := t.TempDir()
	jar := filepath.Join(dir, "lib-1.0.jar")
	must(t, os.WriteFile(jar, []byte("PK not really a jar"), 0o644))
	pom := filepath.Join(dir, "lib-1.0.pom")
	must(t, os.WriteFile(pom, []byte(`<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version></project>`), 0o644))
	v.must("publish", "spring-5.3", jar, "--pom", pom)
	artifact := v.url + "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar"
	status := func(pw string) int {
		resp, _ := get(t, "GET", artifact, c.Account, pw, nil)
		return resp.StatusCode
	}
	if s := status(c.Password); s != http.StatusOK {
		t.Fatalf("the initial password gets %d, want 200", s)
	}

	b := newBrowser(t, "developer")
	if s := b.open(v.url + "/developer/"); s != http.StatusOK {
		t.Fatalf("GET /developer/: %d", s)
	}
	b.fill("アカウント名", c.Account)
	b.fill("パスワード", c.Password)
	b.shot("login")
	if s := b.press("ログイン"); s != http.StatusOK {
		t.Fatalf("logging in: %d", s)
	}
	b.sees(c.Account, c.SupportID, "/maven/spring-5.3/", "初期パスワード (未変更)")
	if strings.Contains(b.text(), c.Password) {
		t.Error("the account page shows the password")
	}
	b.shot("account")

	const next = "Kaihatsu-Shin-Pasuwado-2026"
	b.fill("現在のパスワード", c.Password)
	b.fill("新しいパスワード", next)
	b.fill("新しいパスワード (確認)", next)
	if s := b.press("パスワードを変更"); s != http.StatusOK {
		t.Fatalf("changing the password: %d", s)
	}
	b.sees("パスワードを変更しました")
	b.shot("changed")
	// At once: no cache keeps the old password working.
	if s := status(c.Password); s != http.StatusUnauthorized {
		t.Errorf("the old password right after the change gets %d, want 401", s)
	}
	if s := status(next); s != http.StatusOK {
		t.Errorf("the new password gets %d, want 200", s)
	}

	// Signed in, the browser reads the repository's listing pages.
	if s := b.open(v.url + "/maven/spring-5.3/com/example/lib/1.0/"); s != http.StatusOK {
		t.Fatalf("listing page: %d", s)
	}
	b.sees("lib-1.0.jar", "lib-1.0.jar.sha256", "lib-1.0.pom")
	b.shot("listing")
}
