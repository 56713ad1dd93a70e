package e2e

import (
	"bytes"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

const deskAddress = "support@vendor.example"

// japaneseMail is a mail as Japanese clients send it: ISO-2022-JP, 7bit,
// the subject B-encoded.
func japaneseMail(from, subject, body, messageID string, extra ...string) []byte {
	sub, _ := japanese.ISO2022JP.NewEncoder().String(subject)
	b, _ := japanese.ISO2022JP.NewEncoder().String(body)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n", from, deskAddress,
		mime.BEncoding.Encode("ISO-2022-JP", sub), messageID, time.Now().Format(time.RFC1123Z))
	for _, h := range extra {
		buf.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&buf, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s\r\n",
		strings.ReplaceAll(b, "\n", "\r\n"))
	return buf.Bytes()
}

type ticketOut struct {
	ID       string `json:"id"`
	Support  string `json:"support_id"`
	Subject  string `json:"subject"`
	Status   string `json:"status"`
	Consumed bool   `json:"consumed"`
}

type allowanceOut struct {
	Used  int  `json:"used"`
	Left  *int `json:"left"`
	Total *int `json:"total"`
}

// TestSupportDeskBySMTP runs the desk with real SMTP both ways: customers'
// mail goes to enmeid's listener through Go's SMTP client, the desk's mail
// comes out through the outbox to aiosmtpd.
func TestSupportDeskBySMTP(t *testing.T) {
	out := smtptest.Start(t)
	v := newVendor(t, "")
	v.catalog()
	c := v.contract("el9", 1, today().AddDate(0, -1, 0).Format("2006-01-02"), today().AddDate(1, 0, 0).Format("2006-01-02"))
	listen := freePort(t)
	v.serve("--smtp", out.URL(), "--smtp-listen", listen, "--support-address", deskAddress, "--mail-from", "enmei <noreply@vendor.example>")
	waitPort(t, listen)
	const contact = "ops@example.co.jp"
	send := func(from string, msg []byte) error {
		return smtp.SendMail(listen, nil, from, []string{deskAddress}, msg)
	}
	received := 0
	next := func() *mailin.Message {
		t.Helper()
		msgs := out.WaitFor(t, received+1, 20*time.Second)
		received++
		m, err := mailin.Parse(bytes.NewReader(msgs[received-1]), mailin.Limits{})
		must(t, err)
		return m
	}
	tickets := func() []ticketOut {
		var ts []ticketOut
		v.mustJSON(&ts, "ticket", "list")
		return ts
	}
	allowance := func() allowanceOut {
		var a allowanceOut
		v.mustJSON(&a, "contract", "allowance", c.SupportID)
		return a
	}

	// The contact's Japanese mail opens a ticket; the auto-reply carries the tag.
	must(t, send(contact, japaneseMail(contact, "サーバーが起動しません", "山田です。\nカーネル更新後に起動しません。", "q1@example.co.jp")))
	ask := next()
	ts := tickets()
	if len(ts) != 1 || ts[0].Subject != "サーバーが起動しません" || ts[0].Status != "waiting" || ts[0].Consumed {
		t.Fatalf("tickets after the first mail: %+v", ts)
	}
	tag := "[" + ts[0].ID + "]"
	if !strings.Contains(ask.Subject, tag) || ask.To[0] != contact || len(ask.InReplyTo) == 0 || ask.InReplyTo[0] != "q1@example.co.jp" {
		t.Fatalf("auto-reply: subject %q to %v in reply to %v", ask.Subject, ask.To, ask.InReplyTo)
	}
	word := ""
	for _, f := range strings.Fields(ask.Text) {
		if strings.HasPrefix(f, "CONFIRM-") {
			word = f
		}
	}
	if word == "" || !strings.Contains(ask.Text, "残り回数: 2 回") {
		t.Fatalf("the auto-reply names no confirmation word or allowance:\n%s", ask.Text)
	}
	if a := allowance(); a.Used != 0 || *a.Left != 2 {
		t.Fatalf("allowance before confirming: %+v", a)
	}

	// The reply with the word confirms (threaded by In-Reply-To only, the
	// tag dropped from the subject); follow-ups do not consume.
	must(t, send(contact, japaneseMail(contact, "Re: 確認", "お願いします。"+word, "q2@example.co.jp", "In-Reply-To: <"+ask.MessageID+">")))
	if m := next(); !strings.Contains(m.Subject, tag) || !strings.Contains(m.Text, "残り 1 回") {
		t.Fatalf("confirmation answer: %q\n%s", m.Subject, m.Text)
	}
	must(t, send(contact, japaneseMail(contact, "Re: "+tag+" サーバーが起動しません", "ログを確認しました。", "q3@example.co.jp")))
	if a := allowance(); a.Used != 1 || *a.Left != 1 {
		t.Fatalf("allowance after a follow-up: %+v", a)
	}
	if ts := tickets(); len(ts) != 1 || !ts[0].Consumed || ts[0].Status != "open" {
		t.Fatalf("a follow-up opened a ticket: %+v", ts)
	}

	// A stranger's mail opens nothing; mail for anyone else is refused at RCPT.
	must(t, send("someone@elsewhere.example", japaneseMail("someone@elsewhere.example", "質問", "こんにちは", "s1@elsewhere.example")))
	if err := smtp.SendMail(listen, nil, contact, []string{"root@vendor.example"}, japaneseMail(contact, "x", "x", "r1@x")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("relay to another address: %v", err)
	}
	if ts := tickets(); len(ts) != 1 {
		t.Fatalf("a stranger opened a ticket: %+v", ts)
	}

	// The vendor's reply goes out in the thread.
	reply := writeFile(t, "reply.txt", "再起動の前に次のコマンドを実行してください。\n")
	v.must("ticket", "reply", ts[0].ID, "--file", reply)
	if m := next(); m.Subject != "Re: "+tag+" サーバーが起動しません" || m.InReplyTo[0] != "q3@example.co.jp" || !strings.Contains(m.Text, "コマンドを実行") {
		t.Fatalf("vendor reply: %q in reply to %v\n%s", m.Subject, m.InReplyTo, m.Text)
	}

	// The second matter, delivered by pipe (mail ingest), uses the last inquiry.
	ingest := func(msg []byte) string {
		t.Helper()
		cmd := exec.Command(bin.enmeid, "mail", "ingest")
		cmd.Env = append(cleanEnv(), v.env()...)
		cmd.Stdin = bytes.NewReader(msg)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mail ingest: %v\n%s", err, b)
		}
		return string(b)
	}
	if o := ingest(japaneseMail(contact, "別件: 更新の質問", "質問です。", "q4@example.co.jp")); !strings.Contains(o, "opened ENM-T-") {
		t.Fatalf("mail ingest: %s", o)
	}
	ask2 := next()
	tag2 := ask2.Subject[strings.Index(ask2.Subject, "[")+1 : strings.Index(ask2.Subject, "]")]

	// The customer confirms it with the portal's button, in a real browser.
	b := newBrowser(t, "support-desk")
	b.open(v.url + "/login")
	b.fill("サポートID", c.SupportID)
	b.fill("メールアドレス", contact)
	b.press("ログインリンクを送信")
	login := next()
	b.open(loginLink(t, login.Text))
	b.press("ログインする")
	b.open(v.url + "/support")
	b.sees(tag2, "確認待ち", ts[0].ID, "残り", deskAddress)
	b.shot("support")
	b.press("新しいお問い合わせとして確定する")
	b.sees(tag2 + " を新しいお問い合わせとして受け付けました")
	if m := next(); !strings.Contains(m.Subject, tag2) || !strings.Contains(m.Text, "残り 0 回") {
		t.Fatalf("answer to the portal's confirmation: %q\n%s", m.Subject, m.Text)
	}
	if a := allowance(); a.Used != 2 || *a.Left != 0 {
		t.Fatalf("allowance after two matters: %+v", a)
	}

	// The third new matter of the year is stopped: told, nothing consumed.
	must(t, send(contact, japaneseMail(contact, "三件目", "質問です。", "q6@example.co.jp")))
	if m := next(); !strings.Contains(m.Subject, "上限") {
		t.Fatalf("third matter answer: %q\n%s", m.Subject, m.Text)
	}
	var waiting []ticketOut
	v.mustJSON(&waiting, "ticket", "list", "--status", "waiting")
	if len(waiting) != 1 || waiting[0].Subject != "三件目" || waiting[0].Consumed {
		t.Fatalf("waiting tickets: %+v", waiting)
	}
	if a := allowance(); a.Used != 2 {
		t.Fatalf("the third matter consumed: %+v", a)
	}
}

// waitPort waits until something listens on addr.
func waitPort(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}

// TestNoticeCommand: the 7-day rule on the command line, and the mail to
// exactly the affected contracts' contacts.
func TestNoticeCommand(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	now := today()
	v.contract("el9", 1, date(now.AddDate(0, -1, 0)), date(now.AddDate(1, 0, 0)))
	var deb contractOut
	v.mustJSON(&deb, "contract", "add", "--customer", "Debian 株式会社", "--product", "deb12", "--quantity", "1",
		"--start", date(now.AddDate(0, -1, 0)), "--end", date(now.AddDate(1, 0, 0)), "--contact", "deb@example.co.jp")
	body := writeFile(t, "notice.txt", "リポジトリを停止します。\n")
	soon := now.AddDate(0, 0, 3).Format(time.RFC3339)
	later := now.AddDate(0, 0, 3).Add(4 * time.Hour).Format(time.RFC3339)
	r := v.admin("notice", "add", "--title", "保守", "--body-file", body, "--start", soon, "--end", later, "--products", "el9")
	if r.code != 1 || !strings.Contains(r.stderr, "7 days") || !strings.Contains(r.stderr, "--emergency") {
		t.Fatalf("a planned notice 3 days ahead: exit %d\n%s", r.code, r.stderr)
	}
	if r := v.admin("notice", "add", "--title", "保守", "--body-file", body, "--start", "tomorrow", "--end", later); r.code != 2 {
		t.Errorf("a start that is not RFC 3339: exit %d", r.code)
	}
	var out struct {
		Recipients []string `json:"recipients"`
	}
	v.mustJSON(&out, "notice", "add", "--title", "緊急保守", "--body-file", body, "--start", soon, "--end", later, "--products", "el9", "--emergency")
	if strings.Join(out.Recipients, ",") != "ops@example.co.jp" {
		t.Errorf("recipients %v, want only the el9 contract's contact", out.Recipients)
	}
	if o := v.must("outbox", "list"); !strings.Contains(o, "緊急保守") || strings.Contains(o, "deb@example.co.jp") {
		t.Errorf("outbox:\n%s", o)
	}
}
