package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	demoCustomerLinkRE = regexp.MustCompile(`(?m)^\s+(http://\S+/login/link\?token=\S+)$`)
	demoAdminLinkRE    = regexp.MustCompile(`(?m)^\s+(http://\S+/admin/password\?token=\S+)$`)
	demoSupportIDRE    = regexp.MustCompile(`support ID:\s+(ENM-[0-9]{4}-[0-9A-Z]{6})`)
	// The log line demo mode writes for each link /login mails.
	demoLoggedLinkRE = regexp.MustCompile(`demo mode: the customer login link.* link="?(http://[^"\s]+/login/link\?token=[^"\s]+)"?`)
)

// TestDemoPortal: enmeid serve --demo prints a customer login link and an
// admin set-password link that work in Chromium: the first opens the demo
// contract, the second sets the demo admin's password and opens the
// console. A link asked for at /login is logged in demo mode and works too.
func TestDemoPortal(t *testing.T) {
	addr := freePort(t)
	cmd := exec.Command(bin.enmeid, "serve", "--demo", "--addr", addr, "--drain-time", "100ms")
	cmd.Env = append(cleanEnv(), "ENMEI_DATA="+t.TempDir(), "ENMEI_DEBUG_KEY_BITS=2048")
	out := &lockedWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("enmeid serve --demo output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	var customerLink, adminLink, supportID string
	for deadline := time.Now().Add(90 * time.Second); ; {
		s := out.String()
		c, a, id := demoCustomerLinkRE.FindStringSubmatch(s), demoAdminLinkRE.FindStringSubmatch(s), demoSupportIDRE.FindStringSubmatch(s)
		if c != nil && a != nil && id != nil && strings.Contains(s, "enmeid serving") {
			customerLink, adminLink, supportID = c[1], a[1], id[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("serve --demo exited (%v) before printing the links:\n%s", cmd.ProcessState, s)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no customer and admin links within 90 s:\n%s", s)
		}
	}
	for _, l := range []string{customerLink, adminLink} {
		if !strings.HasPrefix(l, base+"/") {
			t.Errorf("demo link %s is not on the server %s", l, base)
		}
	}

	b := newBrowser(t, "demo-portal")
	if s := b.open(customerLink); s != http.StatusOK {
		t.Fatalf("opening the demo's customer link: %d", s)
	}
	if s := b.press("ログインする"); s != http.StatusOK {
		t.Fatalf("logging in with the demo's link: %d", s)
	}
	b.at("/contract")
	b.sees(supportID, "デモ株式会社 (Demo K.K.)", "ops@demo.example.jp", "demo-el9", "demo-debian12", "登録ホスト (0)")
	b.shot("contract")
	if s := b.press("ログアウト"); s != http.StatusOK {
		t.Fatalf("logging out: %d", s)
	}

	// In demo mode the link /login would mail is logged as well.
	b.open(base + "/login")
	b.fill("サポートID", supportID)
	b.fill("メールアドレス", "ops@demo.example.jp")
	if s := b.press("ログインリンクを送信"); s != http.StatusOK {
		t.Fatalf("asking for a login link: %d", s)
	}
	var logged string
	for deadline := time.Now().Add(10 * time.Second); logged == ""; time.Sleep(100 * time.Millisecond) {
		if m := demoLoggedLinkRE.FindStringSubmatch(out.String()); m != nil {
			logged = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("demo mode logged no login link after /login")
		}
	}
	if logged == customerLink {
		t.Fatalf("the logged link is the printed one")
	}
	b.open(logged)
	if s := b.press("ログインする"); s != http.StatusOK {
		t.Fatalf("logging in with the logged link: %d", s)
	}
	b.at("/contract")
	b.sees(supportID)

	// The admin link sets the demo admin's password and opens the console.
	setPassword(t, b, adminLink, "demo password, long enough")
	b.sees("admin@demo.example.jp", "管理者", supportID, "デモ株式会社 (Demo K.K.)")
	b.shot("console")
}
