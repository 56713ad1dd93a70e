package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

var linkRE = regexp.MustCompile(`https?://\S+`)

// hookReceiver is a webhook endpoint that checks each request's signature.
type hookReceiver struct {
	mu     sync.Mutex
	secret string
	events []map[string]any
	bad    []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Enmei-Timestamp")
	m := hmac.New(sha256.New, []byte(h.secretNow()))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if !hmac.Equal([]byte(r.Header.Get("X-Enmei-Signature")), []byte(want)) || time.Since(time.Unix(sec, 0)) > 5*time.Minute {
		h.bad = append(h.bad, r.Header.Get("X-Enmei-Signature"))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	h.events = append(h.events, ev)
}

func (h *hookReceiver) secretNow() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.secret
}

// TestSubscriptions: a person subscribes in Chromium, confirms by the link
// mailed through a real SMTP server, and gets a notice of a matching change
// (not of others) although the SMTP server was down when it happened; the
// mail's one-click unsubscribe stops them. A signed webhook gets the same
// events.
func TestSubscriptions(t *testing.T) {
	smtp := smtptest.Start(t)
	v := newVendor(t, "")
	v.catalog()
	v.serve("--smtp", smtp.URL(), "--mail-from", "security@enmei.example", "--notice-interval", "200ms")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)

	recv := &hookReceiver{}
	hooks := httptest.NewServer(recv)
	defer hooks.Close()
	var hook struct{ ID, URL, Secret string }
	v.mustJSON(&hook, "webhook", "add", hooks.URL, "--product", "el9")
	recv.mu.Lock()
	recv.secret = hook.Secret
	recv.mu.Unlock()

	b := newBrowser(t, "subscribe")
	b.open(v.url + "/security/subscribe")
	b.fill("お名前", "山田太郎")
	b.fill("メールアドレス", "taro@example.jp")
	b.fill("会社名 (任意)", "例示株式会社")
	b.check("EL9 ELS")
	if s := b.press("登録する"); s != http.StatusOK {
		t.Fatalf("subscribe: %d", s)
	}
	b.sees("確認用のリンクをお送りしました")
	msgs := smtp.WaitFor(t, 1, 20*time.Second)
	confirm := smtptest.Parse(t, msgs[0])
	if confirm.To != "taro@example.jp" || !strings.Contains(confirm.Subject, "確認") {
		t.Fatalf("confirmation mail: %+v", confirm)
	}
	link := linkRE.FindString(confirm.Text)
	if !strings.Contains(link, "/security/subscribe/confirm?") {
		t.Fatalf("no confirmation link in:\n%s", confirm.Text)
	}
	// A change before the confirmation is not sent.
	v.must("cve", "set", "CVE-2026-80001", "--product", "el9", "--status", "ignored", "--statement", "Accepted risk.")
	time.Sleep(time.Second)
	b.open(link)
	b.shot("confirm")
	if s := b.press("登録を確認する"); s != http.StatusOK {
		t.Fatalf("confirm: %d", s)
	}
	b.sees("登録が確認されました")

	// The SMTP server is down when the change happens.
	smtp.Stop()
	v.must("cve", "set", "CVE-2026-80002", "--product", "el9", "--status", "in-research")                                 // a status not asked for
	v.must("cve", "set", "CVE-2026-80003", "--product", "deb12", "--status", "ignored", "--statement", "Other product.")  // a product not asked for
	v.must("cve", "set", "CVE-2026-80004", "--product", "el9", "--status", "not-vulnerable", "--statement", "Not built.") // the one
	for deadline := time.Now().Add(20 * time.Second); ; {
		queued := 0
		for _, m := range v.outbox() {
			if m.To == "taro@example.jp" && m.Status == "queued" && m.Attempts >= 1 {
				queued++
			}
		}
		if queued == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notice waits in the outbox: %+v", v.outbox())
		}
		time.Sleep(250 * time.Millisecond)
	}
	smtp.Restart()
	msgs = smtp.WaitFor(t, 2, 40*time.Second)
	notice := smtptest.Parse(t, msgs[1])
	if notice.Subject != "[enmei セキュリティ情報] CVE-2026-80004 の状況が更新されました" || !strings.Contains(notice.Text, "影響なし") ||
		strings.Contains(notice.Text, "CVE-2026-80002") || strings.Contains(notice.Text, "CVE-2026-80003") || strings.Contains(notice.Text, "CVE-2026-80001") {
		t.Errorf("notice %q:\n%s", notice.Subject, notice.Text)
	}
	raw := string(msgs[1])
	if !strings.Contains(raw, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Errorf("the notice has no one-click unsubscribe header:\n%s", raw)
	}
	unsub := ""
	for _, l := range linkRE.FindAllString(notice.Text, -1) {
		if strings.Contains(l, "/security/unsubscribe?") {
			unsub = l
		}
	}
	if unsub == "" {
		t.Fatalf("no unsubscribe link in:\n%s", notice.Text)
	}
	// One click, as a mail client does it (RFC 8058).
	resp, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"List-Unsubscribe": {"One-Click"}}.Encode()))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	v.must("cve", "set", "CVE-2026-80005", "--product", "el9", "--status", "released")
	// A forged unsubscribe link is refused.
	if resp, _ := get(t, "GET", strings.Replace(unsub, "t=", "t=x", 1), "", "", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a forged unsubscribe link: %d, want 400", resp.StatusCode)
	}

	// The webhook got every el9 change after it was added, signed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		recv.mu.Lock()
		n := len(recv.events)
		recv.mu.Unlock()
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	recv.mu.Lock()
	var got []string
	for _, ev := range recv.events {
		got = append(got, ev["cve"].(string)+":"+ev["to"].(string))
	}
	bad := recv.bad
	recv.mu.Unlock()
	want := "CVE-2026-80001:ignored CVE-2026-80002:in-research CVE-2026-80004:not-vulnerable CVE-2026-80005:released"
	if strings.Join(got, " ") != want || len(bad) != 0 {
		t.Errorf("webhook events %v (bad signatures %v), want %s", got, bad, want)
	}
	time.Sleep(time.Second)
	if n := len(smtp.Messages()); n != 2 {
		t.Errorf("%d mails after unsubscribing, want the confirmation and the one notice", n)
	}
}
