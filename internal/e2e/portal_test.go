package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

const (
	portalCustomer = "株式会社テスト商事"
	portalContact  = "ops@customer.example.jp"
	portalFrom     = "enmei@vendor.example"
)

// portalVendor is a vendor with the catalogue, the demo rpm packages
// published to el9-x86_64 and a contract of the Japanese customer with
// quantity seats; the server is not started.
func portalVendor(t *testing.T, quantity int) (*vendor, contractOut) {
	t.Helper()
	v := newVendor(t, "")
	v.catalog()
	dir, _ := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	var c contractOut
	v.mustJSON(&c, "contract", "add", "--customer", portalCustomer, "--product", "el9", "--plan", "server",
		"--quantity", strconv.Itoa(quantity), "--start", date(today().AddDate(0, -1, 0)), "--end", date(today().AddDate(1, 0, 0)),
		"--contact", portalContact)
	if c.SupportID == "" || c.LicenseKey == "" {
		t.Fatalf("contract add printed no support ID or key: %+v", c)
	}
	return v, c
}

// namedHost is a scratch AlmaLinux root whose /etc/hostname is name.
func namedHost(t *testing.T, i int, name string) *host {
	t.Helper()
	h := newHost(t, almaRelease, machineID(i))
	must(t, os.WriteFile(filepath.Join(h.root, "etc/hostname"), []byte(name+"\n"), 0o644))
	return h
}

// repoStatus is the status of a GET of the repository index with a host's
// Basic credentials.
func repoStatus(t *testing.T, v *vendor, id hostJSON) int {
	t.Helper()
	resp, _ := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
	return resp.StatusCode
}

// TestPortalCustomer: the customer asks for a login link with the support
// ID and the contact's address in Chromium; the mail reaches a real SMTP
// server with a Japanese subject; the link logs the customer in; the
// contract page shows the support ID, the Japanese customer name and the
// hosts; the language switch changes the page to English and back; releasing
// a host through the confirmation page removes it and kills its credential.
func TestPortalCustomer(t *testing.T) {
	smtp := smtptest.Start(t)
	v, c := portalVendor(t, 3)
	v.serve("--smtp", smtp.URL(), "--mail-from", portalFrom)

	web := namedHost(t, 1200, "web01.tesuto-shoji.example.jp")
	db := namedHost(t, 1201, "db01.tesuto-shoji.example.jp")
	for _, h := range []*host{web, db} {
		h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	}
	webID, dbID := web.identity(), db.identity()
	if s := repoStatus(t, v, webID); s != http.StatusOK {
		t.Fatalf("before the release, the host's credential gets %d, want 200", s)
	}

	b := newBrowser(t, "portal-customer")
	if s := b.open(v.url + "/login"); s != http.StatusOK {
		t.Fatalf("GET /login: %d", s)
	}
	if l := b.lang(); l != "ja" {
		t.Errorf("the login page is in %q, want ja for a Japanese browser", l)
	}
	b.shot("login")
	b.fill("サポートID", c.SupportID)
	b.fill("メールアドレス", portalContact)
	// Enter in the last field submits the form, as people do.
	if s := b.enter("メールアドレス"); s != http.StatusOK {
		t.Fatalf("submitting the login form: %d", s)
	}
	b.sees("ログイン用のリンクをお送りしました")
	b.shot("login-sent")

	msgs := smtp.WaitFor(t, 1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d mails arrived, want 1", len(msgs))
	}
	d := smtp.Deliveries()[0]
	if len(d.To) != 1 || d.To[0] != portalContact || d.From != portalFrom {
		t.Errorf("envelope from %q to %v, want %s to %s", d.From, d.To, portalFrom, portalContact)
	}
	m := readMail(t, msgs[0])
	if m.Subject != "【enmei】ログイン用リンクのご案内" || m.To != portalContact || m.From != portalFrom {
		t.Errorf("mail: subject %q from %q to %q", m.Subject, m.From, m.To)
	}
	for _, want := range []string{portalCustomer, c.SupportID, "15分間"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the mail's text lacks %q:\n%s", want, m.Text)
		}
	}
	// On the wire the Japanese subject is RFC 2047 encoded-words.
	if !strings.HasPrefix(strings.ToLower(m.RawSubject), "=?utf-8?") || strings.IndexFunc(m.RawSubject, func(r rune) bool { return r > 0x7e }) >= 0 {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", m.RawSubject)
	}
	link := loginLink(t, m.Text)
	if !strings.HasPrefix(link, v.url+"/login/link?token=") {
		t.Fatalf("login link %s is not on the server %s", link, v.url)
	}

	// Opening the link only asks; the button logs in.
	if s := b.open(link); s != http.StatusOK {
		t.Fatalf("opening the login link: %d", s)
	}
	b.shot("link")
	if s := b.press("ログインする"); s != http.StatusOK {
		t.Fatalf("pressing ログインする: %d", s)
	}
	b.at("/contract")
	b.sees(c.SupportID, portalCustomer, portalContact, "web01.tesuto-shoji.example.jp", "db01.tesuto-shoji.example.jp", "登録ホスト (2)")
	b.shot("contract")

	// The language switch.
	if s := b.follow("", "English"); s != http.StatusOK {
		t.Fatalf("switching to English: %d", s)
	}
	b.at("/contract")
	if l := b.lang(); l != "en" {
		t.Errorf("after the switch to English, <html lang=%q>", l)
	}
	b.sees("Support ID", "Release", portalCustomer)
	b.shot("contract-en")
	if s := b.follow("", "日本語"); s != http.StatusOK {
		t.Fatalf("switching back to Japanese: %d", s)
	}
	b.at("/contract")
	if l := b.lang(); l != "ja" {
		t.Errorf("after the switch back, <html lang=%q>", l)
	}
	b.sees("サポートID")

	// Release web01: the button in its row leads to a confirmation.
	row := `//tr[th[contains(., "web01.tesuto-shoji.example.jp")]]`
	if s := b.follow(row, "解放"); s != http.StatusOK {
		t.Fatalf("opening the release confirmation: %d", s)
	}
	b.at("/hosts/" + webID.HostID + "/release")
	b.sees("このホストの枠を解放しますか", "web01.tesuto-shoji.example.jp", webID.HostID)
	b.shot("release-confirm")
	if s := b.press("解放する"); s != http.StatusOK {
		t.Fatalf("confirming the release: %d", s)
	}
	b.at("/contract")
	b.sees("ホスト "+webID.HostID+" の枠を解放しました", "登録ホスト (1)", "db01.tesuto-shoji.example.jp")
	hosts := b.textOf(`//section[@aria-labelledby="h-hosts"]`)
	if strings.Contains(hosts, "web01") || strings.Contains(hosts, webID.HostID) {
		t.Errorf("the released host is still listed:\n%s", hosts)
	}
	b.shot("released")

	// Its credential no longer opens the repositories; the other's does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := repoStatus(t, v, webID)
		if s == http.StatusUnauthorized || s == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the release the host's credential still gets %d, want 401 or 403", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := repoStatus(t, v, dbID); s != http.StatusOK {
		t.Errorf("the other host's credential gets %d after the release, want 200", s)
	}
	var show struct {
		Hosts []struct {
			HostID string `json:"host_id"`
		} `json:"hosts"`
	}
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if len(show.Hosts) != 1 || show.Hosts[0].HostID != dbID.HostID {
		t.Errorf("contract show lists hosts %+v, want only %s", show.Hosts, dbID.HostID)
	}
	// The one-time link is used up.
	b.open(link)
	if s := b.press("ログインする"); s != http.StatusBadRequest {
		t.Errorf("using the login link a second time: %d, want 400", s)
	}
	b.sees("このリンクは無効か、使用済みか")
}
