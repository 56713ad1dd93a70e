package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mavenProject copies a project of testdata/maven into a scratch
// directory, with version set to version.
func mavenProject(t *testing.T, name, version string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	src := filepath.Join("testdata", "maven", name)
	must(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		if version != "" {
			// The one version element of the project itself (deployer) or
			// of its dependency (consumer, gradle).
			text = strings.Replace(text, "<version>1.2</version>", "<version>"+version+"</version>", 1)
			text = strings.Replace(text, "<artifactId>lib</artifactId>\n      <version>1.0</version>", "<artifactId>lib</artifactId>\n      <version>"+version+"</version>", 1)
			text = strings.Replace(text, "com.example:lib:1.0", "com.example:lib:"+version, 1)
		}
		return os.WriteFile(filepath.Join(dst, rel), []byte(text), 0o644)
	}))
	return dst
}

// mvn runs the real Maven in dir with testdata/maven/settings.xml: plugins
// from Debian's /usr/share/maven-repo, the rest from url with user and
// password, a fresh local repository each time.
func mvn(t *testing.T, dir, url, user, password string, args ...string) (string, error) {
	t.Helper()
	settings, err := filepath.Abs(filepath.Join("testdata", "maven", "settings.xml"))
	must(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	base := []string{"-B", "-Dstyle.color=never", "-s", settings, "-Denmei.url=" + url, "-Dmaven.repo.local=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, "mvn", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "ENMEI_MAVEN_USER="+user, "ENMEI_MAVEN_PASSWORD="+password, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type developerContract struct {
	SupportID string `json:"support_id"`
	Account   string `json:"account"`
	Password  string `json:"password"`
}

// mavenVendor is a vendor with a maven product spring-5.3 (an ID with a
// dot), a developer contract for it and a running server.
func mavenVendor(t *testing.T) (*vendor, developerContract) {
	t.Helper()
	v := newVendor(t, "")
	v.must("product", "add", "spring-5.3", "--name", "Spring Framework 5.3 ELS", "--format", "maven")
	args := []string{"contract", "add", "--customer", "開発株式会社", "--product", "spring-5.3", "--plan", "developer",
		"--start", date(today().AddDate(0, -1, 0)), "--end", date(today().AddDate(1, 0, 0)), "--contact", "dev@example.co.jp"}
	if r := v.admin(append(args, "--quantity", "4")...); r.code != 2 || !strings.Contains(r.stderr, "at least 5") {
		t.Fatalf("a developer contract for 4: exit %d, want 2 saying the minimum is 5\n%s", r.code, r.stderr)
	}
	var c developerContract
	v.mustJSON(&c, append(args, "--quantity", "5")...)
	if !strings.HasPrefix(c.Account, "dev-") || len(c.Password) < 12 {
		t.Fatalf("developer contract: %+v", c)
	}
	v.serve()
	return v, c
}

// TestDeveloperAccount: the support certificate carries the account and
// the initial password; account show never shows the password; a lost
// password is reset only under the vendor's --allow-password-reset policy.
func TestDeveloperAccount(t *testing.T) {
	v := newVendor(t, "")
	v.must("product", "add", "spring-5.3", "--name", "Spring Framework 5.3 ELS", "--format", "maven")
	v.must("product", "add", "el9", "--name", "EL9", "--format", "rpm")
	pdf := filepath.Join(t.TempDir(), "cert.pdf")
	args := []string{"contract", "add", "--customer", "開発株式会社", "--plan", "developer", "--quantity", "5",
		"--start", date(today().AddDate(0, -1, 0)), "--end", date(today().AddDate(1, 0, 0)), "--contact", "dev@example.co.jp"}
	if r := v.admin(append(args, "--product", "el9")...); r.code == 0 || !strings.Contains(r.stderr, "maven") {
		t.Errorf("a developer contract for an rpm product: exit %d\n%s", r.code, r.stderr)
	}
	var c developerContract
	v.mustJSON(&c, append(args, "--product", "spring-5.3", "--certificate-out", pdf)...)
	text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	must(t, err)
	for _, want := range []string{c.Account, c.Password, "開発者 / developer", "Initial password"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the support certificate lacks %q", want)
		}
	}
	show := v.must("account", "show", c.SupportID)
	if !strings.Contains(show, c.Account) || strings.Contains(show, c.Password) || !strings.Contains(show, "initial") {
		t.Errorf("account show:\n%s", show)
	}
	if r := v.admin("account", "reset", c.SupportID); r.code == 0 || !strings.Contains(r.stderr, "--allow-password-reset") {
		t.Errorf("account reset without the policy: exit %d\n%s", r.code, r.stderr)
	}
	var reset struct{ Password string }
	v.mustJSON(&reset, "--allow-password-reset", "account", "reset", c.SupportID)
	if len(reset.Password) < 12 || reset.Password == c.Password {
		t.Fatalf("account reset printed %q", reset.Password)
	}
	v.serve()
	jar := v.url + "/maven/spring-5.3/"
	if resp, _ := get(t, "GET", jar, c.Account, c.Password, nil); resp.StatusCode != 401 {
		t.Errorf("the password before the reset gets %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, "GET", jar, c.Account, reset.Password, nil); resp.StatusCode != 200 {
		t.Errorf("the reset password gets %d, want 200", resp.StatusCode)
	}
}

// TestMaven: the real mvn resolves an artifact from enmei with the
// developer account, fails with 401 on a wrong password, deploys a new
// version with an admin token (a second deploy of it is refused), and a
// consumer resolves that version; Gradle resolves too.
func TestMaven(t *testing.T) {
	v, c := mavenVendor(t)
	url := v.url + "/maven/spring-5.3/"
	var tok struct{ Name, Token, Role string }
	v.mustJSON(&tok, "token", "create", "--name", "ci-deploy", "--role", "operator")

	// 1.0 built here and published by the vendor with its POM.
	lib := mavenProject(t, "deployer", "1.0")
	if out, err := mvn(t, lib, url, c.Account, c.Password, "package"); err != nil {
		t.Fatalf("mvn package of lib 1.0: %v\n%s", err, out)
	}
	out := v.must("publish", "spring-5.3", filepath.Join(lib, "target", "lib-1.0.jar"), "--pom", filepath.Join(lib, "pom.xml"))
	if !strings.Contains(out, "/maven/spring-5.3/com/example/lib/1.0/lib-1.0.jar") {
		t.Errorf("publish output: %s", out)
	}
	if r := v.admin("publish", "spring-5.3", filepath.Join(lib, "target", "lib-1.0.jar"), "--pom", filepath.Join(lib, "pom.xml")); r.code != 0 || !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("publishing the same jar again: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	consumer := mavenProject(t, "consumer", "1.0")
	if out, err := mvn(t, consumer, url, c.Account, c.Password, "package"); err != nil {
		t.Fatalf("mvn package resolving lib 1.0 from enmei: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(consumer, "target", "classes", "demo", "App.class")); err != nil {
		t.Errorf("the consumer did not compile against lib: %v", err)
	}
	if out, err := mvn(t, mavenProject(t, "consumer", "1.0"), url, c.Account, "wrong-password-123", "package"); err == nil || !strings.Contains(out, "401") {
		t.Errorf("a wrong password: err %v, want a failed build naming 401\n%s", err, out)
	}

	// 1.1 deployed with mvn deploy and the admin token.
	next := mavenProject(t, "deployer", "1.1")
	if out, err := mvn(t, next, url, tok.Name, tok.Token, "deploy"); err != nil {
		t.Fatalf("mvn deploy of 1.1 with the admin token: %v\n%s", err, out)
	}
	if out, err := mvn(t, mavenProject(t, "deployer", "1.1"), url, tok.Name, tok.Token, "deploy"); err == nil || !strings.Contains(out, "409") {
		t.Errorf("a second deploy of 1.1: err %v, want a refusal with 409\n%s", err, out)
	}
	if out, err := mvn(t, mavenProject(t, "deployer", "1.2"), url, c.Account, c.Password, "deploy"); err == nil || !strings.Contains(out, "403") {
		t.Errorf("mvn deploy with the developer account: err %v, want 403\n%s", err, out)
	}
	consumer = mavenProject(t, "consumer", "1.1")
	if out, err := mvn(t, consumer, url, c.Account, c.Password, "package"); err != nil {
		t.Fatalf("the consumer resolving the deployed 1.1: %v\n%s", err, out)
	}
	resp, body := get(t, "GET", url+"com/example/lib/maven-metadata.xml", c.Account, c.Password, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<release>1.1</release>") || !strings.Contains(string(body), "<version>1.0</version>") {
		t.Errorf("maven-metadata.xml: %d %s", resp.StatusCode, body)
	}
	// The token reads too.
	if resp, _ := get(t, "GET", url+"com/example/lib/1.1/lib-1.1.pom", tok.Name, tok.Token, nil); resp.StatusCode != 200 {
		t.Errorf("the admin token reading: %d", resp.StatusCode)
	}

	// Gradle (Debian's 4.4.1) resolves with the same account.
	gp := mavenProject(t, "gradle-test", "1.1")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gradle", "--no-daemon", "-Denmei.url="+url, "resolve")
	cmd.Dir = gp
	cmd.Env = append(cleanEnv(), "ENMEI_MAVEN_USER="+c.Account, "ENMEI_MAVEN_PASSWORD="+c.Password, "GRADLE_USER_HOME="+t.TempDir(), "HOME="+t.TempDir())
	gout, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(gout), "RESOLVED") || !strings.Contains(string(gout), "lib-1.1.jar") {
		t.Errorf("gradle resolve: %v\n%s", err, gout)
	}

	// Plain source and data files, with checksums, browsable.
	src := writeFile(t, "spring-5.3.39-els1-sources.tar.gz", "source archive")
	v.must("publish", "spring-5.3", src, "--dir", "sources")
	resp, body = get(t, "GET", url+"files/sources/spring-5.3.39-els1-sources.tar.gz.sha256", c.Account, c.Password, nil)
	if resp.StatusCode != 200 || len(strings.TrimSpace(string(body))) != 64 {
		t.Errorf("a source archive's checksum: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, "GET", url+"files/sources/", c.Account, c.Password, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "spring-5.3.39-els1-sources.tar.gz") {
		t.Errorf("listing of files/sources/: %d %s", resp.StatusCode, body)
	}

	// The live contract: once it ends, the account is refused with 403.
	v.must("contract", "renew", c.SupportID, "--end", date(today().AddDate(0, 0, -1)))
	time.Sleep(6 * time.Second) // the account cache
	if resp, body := get(t, "GET", url+"com/example/lib/1.1/lib-1.1.pom", c.Account, c.Password, nil); resp.StatusCode != 403 || !strings.Contains(string(body), "expired") {
		t.Errorf("after the contract ended: %d %s; want 403", resp.StatusCode, body)
	}
}
