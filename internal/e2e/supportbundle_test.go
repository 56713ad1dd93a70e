package e2e

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

// TestSupportBundle plants every kind of secret enmeid handles — the
// database password, the SMTP password, the S3 secret, the signing key's
// passphrase, a licence key, a host secret, an admin token, a developer
// password — and searches the whole bundle for each.
func TestSupportBundle(t *testing.T) {
	const dbPass, smtpPass, s3Secret, passphrase = "PlantedDbPass1x", "PlantedSmtpPass2x", "PlantedS3Secret3x", "PlantedPassphrase4x"
	db := strings.Replace(pgtest.NewDatabase(t), "postgres@", "postgres:"+dbPass+"@", 1)
	v := newVendor(t, db)
	v.extra = append(v.extra, "ENMEI_SIGNING_PASSPHRASE="+passphrase, "ENMEI_SMTP=smtp+starttls://mailer:"+smtpPass+"@127.0.0.1:1",
		"AWS_SECRET_ACCESS_KEY="+s3Secret, "AWS_ACCESS_KEY_ID=planted-access")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	c := v.contract("el9", 2, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
	var tok struct{ Token string }
	v.mustJSON(&tok, "token", "create", "--name", "support", "--role", "viewer")
	v.must("product", "add", "java", "--name", "Java", "--format", "maven")
	var dev struct{ Password string }
	v.mustJSON(&dev, "contract", "add", "--customer", "Dev", "--product", "java", "--plan", "developer", "--quantity", "5",
		"--start", date(today()), "--end", date(today().AddDate(1, 0, 0)), "--contact", "dev@example.co.jp")
	v.serve()
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	h := newHost(t, almaRelease, machineID(600))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	hostSecret := h.identity().Secret

	out := t.TempDir()
	var res struct{ Bundle string }
	v.mustJSON(&res, "support-bundle", "--out", out)
	node := ""
	var u syscall.Utsname
	must(t, syscall.Uname(&u))
	for _, ch := range u.Nodename {
		if ch == 0 {
			break
		}
		node += string(rune(ch))
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(out, node)) + `\.enmeid\.\d{14}\.tar\.gz$`).MatchString(res.Bundle) {
		t.Errorf("bundle name %s, want %s/<node>.enmeid.<YYYYmmddHHMMSS>.tar.gz", res.Bundle, out)
	}
	fi, err := os.Stat(res.Bundle)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", fi.Mode().Perm())
	}

	f, err := os.Open(res.Bundle)
	must(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(gz)
	contents := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, err := io.ReadAll(tr)
		must(t, err)
		contents[filepath.Base(hdr.Name)] = string(b)
	}
	for _, want := range []string{"version.json", "config.json", "schema.json", "catalogue.json", "state.json", "settings.json", "system.txt", "metrics.txt"} {
		if _, ok := contents[want]; !ok {
			t.Errorf("bundle has no %s (has %v)", want, slices.Sorted(maps.Keys(contents)))
		}
	}
	if !strings.Contains(contents["catalogue.json"], "el9-x86_64") || !strings.Contains(contents["config.json"], "127.0.0.1") ||
		!strings.Contains(contents["schema.json"], "schema_version") || !strings.Contains(contents["metrics.txt"], "enmei") {
		t.Errorf("bundle lacks the state it is for:\n%s\n%s", contents["catalogue.json"], contents["config.json"])
	}
	secrets := map[string]string{"database password": dbPass, "SMTP password": smtpPass, "S3 secret": s3Secret,
		"key passphrase": passphrase, "licence key": c.LicenseKey, "host secret": hostSecret, "admin token": tok.Token,
		"developer password": dev.Password}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("no %s was planted", what)
		}
		for name, body := range contents {
			if strings.Contains(body, s) {
				t.Errorf("the bundle's %s holds the %s", name, what)
			}
		}
	}
}
