package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cli runs enmeid commands on one data directory.
type cli struct {
	t    *testing.T
	data string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, data: t.TempDir()}
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var o, e bytes.Buffer
	env := func(k string) string {
		switch k {
		case "ENMEI_DEBUG_KEY_BITS":
			return "2048"
		case "ENMEI_PUBLIC_URL":
			return "https://els.example.jp"
		}
		return ""
	}
	code = Main(context.Background(), append([]string{"--data", c.data}, args...), env, &o, &e)
	return code, o.String(), e.String()
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("enmeid %v: exit %d\n%s", args, code, errOut)
	}
	return out
}

func TestUserAndToken(t *testing.T) {
	c := newCLI(t)
	out := c.must("user", "add", "Boss@Vendor.example", "--role", "operator")
	if !regexp.MustCompile(`^https://els\.example\.jp/admin/password\?token=[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("user add printed %q, want one link on --public-url", out)
	}
	var u map[string]any
	json.Unmarshal([]byte(c.must("--json", "user", "add", "boss@vendor.example", "--role", "operator")), &u)
	if u["email"] != "boss@vendor.example" || u["new"] != false || !strings.Contains(u["link"].(string), "token=") {
		t.Errorf("user add again = %v, want a new link for the existing user", u)
	}
	if code, _, e := c.run("user", "add", "boss@vendor.example", "--role", "admin"); code == 0 || !strings.Contains(e, "exists with role operator") {
		t.Errorf("changing a role by user add: exit %d %s", code, e)
	}
	for _, args := range [][]string{{"user", "add", "not-an-address", "--role", "admin"}, {"user", "add", "a@b.example", "--role", "root"},
		{"user", "add", "a@b.example"}, {"token", "create", "--name", "x y", "--role", "viewer"}, {"token", "create", "--name", "ci", "--role", "god"}} {
		if code, _, _ := c.run(args...); code != 2 {
			t.Errorf("enmeid %v: exit %d, want 2", args, code)
		}
	}
	var tok map[string]string
	json.Unmarshal([]byte(c.must("--json", "token", "create", "--name", "ci", "--role", "viewer")), &tok)
	if tok["name"] != "ci" || tok["role"] != "viewer" || len(tok["token"]) != 43 {
		t.Errorf("token create = %v", tok)
	}
	if code, _, e := c.run("token", "create", "--name", "ci", "--role", "admin"); code == 0 || !strings.Contains(e, "already exists") {
		t.Errorf("a second token named ci: exit %d %s", code, e)
	}
	var users []map[string]any
	json.Unmarshal([]byte(c.must("--json", "user", "list")), &users)
	if len(users) != 1 || users[0]["password_set"] != false {
		t.Errorf("user list = %v", users)
	}
	// The database holds neither the token nor the link token.
	db, _ := os.ReadFile(filepath.Join(c.data, "enmei.db"))
	if bytes.Contains(db, []byte(tok["token"])) {
		t.Error("the API token is stored in clear")
	}
}

func TestOutboxListEmpty(t *testing.T) {
	c := newCLI(t)
	if out := strings.TrimSpace(c.must("--json", "outbox", "list")); out != "[]" {
		t.Errorf("empty outbox = %q", out)
	}
}

func pdfText(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v (install poppler-utils)", path, err)
	}
	return string(out)
}

func TestSupportCertificate(t *testing.T) {
	c := newCLI(t)
	c.must("product", "add", "el9", "--name", "AlmaLinux 9 延命", "--format", "rpm")
	cert := filepath.Join(c.data, "cert.pdf")
	var added struct {
		SupportID  string `json:"support_id"`
		LicenseKey string `json:"license_key"`
	}
	json.Unmarshal([]byte(c.must("--json", "contract", "add", "--customer", "株式会社テスト商事", "--end-user", "日本エンドユーザー株式会社",
		"--product", "el9", "--quantity", "5", "--start", "2026-04-01", "--end", "2027-03-31", "--contact", "ops@test.example.jp",
		"--certificate-out", cert)), &added)
	if fi, err := os.Stat(cert); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("certificate %v, %v; want mode 0600", fi, err)
	}
	text := pdfText(t, cert)
	for _, want := range []string{"株式会社テスト商事", "日本エンドユーザー株式会社", added.SupportID, added.LicenseKey, "2026-04-01", "2027-03-31",
		"ops@test.example.jp", "https://els.example.jp", "サポートID / Support ID"} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate lacks %q", want)
		}
	}
	// pdftotext -layout may widen the gaps between the groups.
	fprRE := regexp.MustCompile(`([0-9A-F]{4}\s+){9}[0-9A-F]{4}`)
	fpr := strings.Join(strings.Fields(fprRE.FindString(text)), "")
	if len(fpr) != 40 {
		t.Error("no 40-hex fingerprint on the certificate")
	}
	// Re-issue: no key in any form.
	re := filepath.Join(c.data, "re.pdf")
	c.must("contract", "certificate", added.SupportID, "--out", re)
	text = pdfText(t, re)
	raw, _ := os.ReadFile(re)
	if strings.Contains(text, "EK-") || bytes.Contains(raw, []byte(added.LicenseKey)) {
		t.Error("the re-issued certificate carries the licence key")
	}
	if !strings.Contains(text, added.SupportID) || !strings.Contains(text, "株式会社テスト商事") ||
		strings.Join(strings.Fields(fprRE.FindString(text)), "") != fpr {
		t.Error("the re-issue lacks the support ID, customer or fingerprint")
	}
	// A certificate that cannot be written makes no contract.
	code, _, e := c.run("contract", "add", "--customer", "X", "--product", "el9", "--quantity", "1", "--start", "2026-04-01",
		"--end", "2027-03-31", "--contact", "x@test.example.jp", "--certificate-out", filepath.Join(c.data, "no", "such", "dir.pdf"))
	if code == 0 || !strings.Contains(e, "cannot write") || strings.Count(e, "\n") != 1 {
		t.Errorf("unwritable certificate: exit %d\n%s", code, e)
	}
	if code, _, _ := c.run("contract", "certificate", "ENM-2026-NOSUCH", "--out", re); code != 1 {
		t.Errorf("certificate of an unknown contract: exit %d", code)
	}
	// Only one contract exists: the failed add stored nothing.
	if n := countContracts(t, c); n != 1 {
		t.Errorf("%d contracts, want 1", n)
	}
}

func countContracts(t *testing.T, c *cli) int {
	var list []map[string]any
	if err := json.Unmarshal([]byte(c.must("--json", "contract", "list")), &list); err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestRenewEndsContract: renew with a past date ends a contract at once,
// with a warning; a later date brings it back.
func TestRenewEndsContract(t *testing.T) {
	c := newCLI(t)
	c.must("product", "add", "el9", "--name", "EL9", "--format", "rpm")
	var added struct {
		SupportID string `json:"support_id"`
	}
	json.Unmarshal([]byte(c.must("--json", "contract", "add", "--customer", "X", "--product", "el9", "--quantity", "1",
		"--start", "2026-01-01", "--end", "2099-12-31", "--contact", "x@example.jp")), &added)
	code, out, e := c.run("--json", "contract", "renew", added.SupportID, "--end", "2026-02-01")
	if code != 0 || !strings.Contains(e, "ENDED") || !strings.Contains(out, `"valid":false`) {
		t.Errorf("renew to a past date: exit %d, %s %s", code, out, e)
	}
	code, _, e = c.run("contract", "renew", added.SupportID, "--end", "2099-12-31")
	if code != 0 || strings.Contains(e, "ENDED") {
		t.Errorf("renew again: exit %d %s", code, e)
	}
	if code, _, _ := c.run("contract", "renew", added.SupportID, "--end", "2025-12-31"); code != 1 {
		t.Errorf("an end before the start: exit %d, want 1", code)
	}
}
