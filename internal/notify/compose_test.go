package notify

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

func japaneseLetter() Letter {
	return Letter{
		From:    "enmei 配信 <noreply@enmei.example.jp>",
		To:      "山田 太郎 <taro@example.co.jp>",
		Subject: "ログインのご案内",
		Text:    "こんにちは\n\nhttps://enmei.example.jp/login/0123456789abcdef\n",
		Date:    time.Date(2026, 4, 1, 9, 30, 0, 0, jst),
		Lang:    "ja",
	}
}

// parsed is what go-message reads back from a composed message.
type parsed struct {
	header mail.Header
	body   string
	ctype  string
	params map[string]string
}

func parse(t *testing.T, msg []byte) parsed {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("mail.CreateReader: %v", err)
	}
	defer r.Close()
	p, err := r.NextPart()
	if err != nil {
		t.Fatalf("NextPart: %v", err)
	}
	body, err := io.ReadAll(p.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("second part: %v, want io.EOF", err)
	}
	ih, ok := p.Header.(*mail.InlineHeader)
	if !ok {
		t.Fatalf("part header is %T, want inline", p.Header)
	}
	ctype, params, err := ih.ContentType()
	if err != nil {
		t.Fatal(err)
	}
	return parsed{header: r.Header, body: string(body), ctype: ctype, params: params}
}

func check7bitCRLF(t *testing.T, msg []byte) {
	t.Helper()
	for i, b := range msg {
		if b >= 0x80 {
			t.Fatalf("byte %d is %#x: not 7-bit", i, b)
		}
		if b == '\n' && (i == 0 || msg[i-1] != '\r') {
			t.Fatalf("bare LF at byte %d", i)
		}
		if b == '\r' && (i+1 == len(msg) || msg[i+1] != '\n') {
			t.Fatalf("bare CR at byte %d", i)
		}
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		t.Error("message does not end with CRLF")
	}
	head, _, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no blank line after the header")
	}
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line longer than 78: %q", line)
		}
	}
}

func TestMessageJapanese(t *testing.T) {
	l := japaneseLetter()
	msg, err := l.Message()
	if err != nil {
		t.Fatal(err)
	}
	check7bitCRLF(t, msg)
	if !bytes.Contains(msg, []byte("Subject: =?utf-8?b?")) {
		t.Errorf("subject not RFC 2047 B-encoded:\n%s", msg)
	}
	p := parse(t, msg)
	if s, err := p.header.Subject(); err != nil || s != "ログインのご案内" {
		t.Errorf("Subject = %q, %v", s, err)
	}
	if want := "こんにちは\r\n\r\nhttps://enmei.example.jp/login/0123456789abcdef\r\n"; p.body != want {
		t.Errorf("body = %q, want %q", p.body, want)
	}
	if p.ctype != "text/plain" || p.params["charset"] != "utf-8" {
		t.Errorf("Content-Type = %s %v", p.ctype, p.params)
	}
	if cte := p.header.Get("Content-Transfer-Encoding"); cte != "base64" {
		t.Errorf("Content-Transfer-Encoding = %q", cte)
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "enmei 配信" || from[0].Address != "noreply@enmei.example.jp" {
		t.Errorf("From = %v, %v", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "山田 太郎" || to[0].Address != "taro@example.co.jp" {
		t.Errorf("To = %v, %v", to, err)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(l.Date) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if id, err := p.header.MessageID(); err != nil || !strings.HasSuffix(id, "@enmei.example.jp") || len(id) < 20 {
		t.Errorf("Message-ID = %q, %v", id, err)
	}
	if v := p.header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	if v := p.header.Get("Content-Language"); v != "ja" {
		t.Errorf("Content-Language = %q", v)
	}

	// Generated Message-IDs differ.
	msg2, _ := l.Message()
	p2 := parse(t, msg2)
	if id1, id2 := p.header.Get("Message-Id"), p2.header.Get("Message-Id"); id1 == id2 {
		t.Errorf("two messages share Message-ID %s", id1)
	}
}

func TestMessageASCIIAndThreading(t *testing.T) {
	l := Letter{
		From: "noreply@enmei.example.jp", To: "ops@example.com",
		Subject: "Licence renewed",
		// Lines that SMTP would dot-stuff or that are long must survive.
		Text:       "Hello,\n.\nFrom here\n" + strings.Repeat("x", 120) + "\n",
		MessageID:  "<fixed.1@enmei.example.jp>",
		InReplyTo:  "parent@enmei.example.jp",
		References: []string{"<root@enmei.example.jp>", "parent@enmei.example.jp"},
		Lang:       "en",
	}
	msg, err := l.Message()
	if err != nil {
		t.Fatal(err)
	}
	check7bitCRLF(t, msg)
	p := parse(t, msg)
	if s, _ := p.header.Subject(); s != "Licence renewed" || !bytes.Contains(msg, []byte("\r\nSubject: Licence renewed\r\n")) {
		t.Errorf("ASCII subject = %q, not kept readable", s)
	}
	if p.header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("ASCII body encoding = %q", p.header.Get("Content-Transfer-Encoding"))
	}
	if want := toCRLF(l.Text); p.body != want {
		t.Errorf("body = %q, want %q", p.body, want)
	}
	if id, _ := p.header.MessageID(); id != "fixed.1@enmei.example.jp" {
		t.Errorf("Message-ID = %q", id)
	}
	if ids, _ := p.header.MsgIDList("In-Reply-To"); len(ids) != 1 || ids[0] != "parent@enmei.example.jp" {
		t.Errorf("In-Reply-To = %q", ids)
	}
	if ids, _ := p.header.MsgIDList("References"); strings.Join(ids, " ") != "root@enmei.example.jp parent@enmei.example.jp" {
		t.Errorf("References = %q", ids)
	}
}

func TestMessageLongSubjectFolds(t *testing.T) {
	l := japaneseLetter()
	l.Subject = strings.Repeat("ライセンス更新のお知らせ、", 8) + "以上"
	msg, err := l.Message()
	if err != nil {
		t.Fatal(err)
	}
	check7bitCRLF(t, msg) // also: header lines at most 78 characters
	p := parse(t, msg)
	if s, err := p.header.Subject(); err != nil || s != l.Subject {
		t.Errorf("Subject = %q, %v, want %q", s, err, l.Subject)
	}
}

func TestNewMail(t *testing.T) {
	l := japaneseLetter()
	m, err := NewMail(l)
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "taro@example.co.jp" || m.Subject != "ログインのご案内" || m.Status != StatusQueued ||
		!m.CreatedAt.Equal(l.Date) || !m.NextAt.Equal(l.Date) || m.ID != 0 || m.Attempts != 0 {
		t.Errorf("NewMail = %+v", m)
	}
	p := parse(t, m.Message)
	if s, _ := p.header.Subject(); s != l.Subject {
		t.Errorf("Message subject = %q", s)
	}
	l.Date = time.Time{}
	before := time.Now()
	if m, err = NewMail(l); err != nil || m.CreatedAt.Before(before) || !m.NextAt.Equal(m.CreatedAt) {
		t.Errorf("NewMail without Date: %v, CreatedAt %v", err, m.CreatedAt)
	}
}

func TestMessageRefusesHeaderInjection(t *testing.T) {
	for name, mutate := range map[string]func(*Letter){
		"Subject LF":     func(l *Letter) { l.Subject = "hi\nBcc: victim@example.com" },
		"Subject CRLF":   func(l *Letter) { l.Subject = "hi\r\nBcc: victim@example.com" },
		"Subject CR":     func(l *Letter) { l.Subject = "hi\rX: y" },
		"Subject NUL":    func(l *Letter) { l.Subject = "hi\x00" },
		"To":             func(l *Letter) { l.To = "a@example.com\r\nBcc: victim@example.com" },
		"To name":        func(l *Letter) { l.To = "\"x\r\nBcc: v@example.com\" <a@example.com>" },
		"From":           func(l *Letter) { l.From = "a@example.com\nX: y" },
		"MessageID":      func(l *Letter) { l.MessageID = "<a@b>\r\nX: y" },
		"InReplyTo":      func(l *Letter) { l.InReplyTo = "a@b\nX: y" },
		"References":     func(l *Letter) { l.References = []string{"a@b", "c@d\nX: y"} },
		"Lang":           func(l *Letter) { l.Lang = "ja\r\nX: y" },
		"Subject U+0085": func(l *Letter) { l.Subject = "a\u0085" }, // allowed: not a line break in mail
	} {
		t.Run(name, func(t *testing.T) {
			l := japaneseLetter()
			mutate(&l)
			_, err := l.Message()
			if name == "Subject U+0085" {
				if err != nil {
					t.Errorf("Message: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrHeaderInjection) {
				t.Fatalf("Message: %v, want ErrHeaderInjection", err)
			}
			if !strings.Contains(err.Error(), "header injection refused") {
				t.Errorf("error %q does not say what was refused", err)
			}
			if _, err := NewMail(l); !errors.Is(err, ErrHeaderInjection) {
				t.Errorf("NewMail: %v, want ErrHeaderInjection", err)
			}
		})
	}
}

func TestMessageRefusesBadFields(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*Letter)
		want   string
	}{
		"no To":          {func(l *Letter) { l.To = "" }, "To address is missing"},
		"no From":        {func(l *Letter) { l.From = " " }, "From address is missing"},
		"bad To":         {func(l *Letter) { l.To = "not an address" }, "To address"},
		"two To":         {func(l *Letter) { l.To = "a@example.com, b@example.com" }, "To address"},
		"UTF-8 address":  {func(l *Letter) { l.To = "太郎@example.jp" }, "only ASCII addresses"},
		"bad MessageID":  {func(l *Letter) { l.MessageID = "no-at-sign" }, "not a message ID"},
		"bad Reference":  {func(l *Letter) { l.References = []string{"a b@c"} }, "not a message ID"},
		"bad Lang":       {func(l *Letter) { l.Lang = "日本語" }, "not a language tag"},
		"invalid UTF-8":  {func(l *Letter) { l.Text = "\xff" }, "not valid UTF-8"},
		"invalid UTF-8s": {func(l *Letter) { l.Subject = "\xff" }, "not valid UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			l := japaneseLetter()
			tc.mutate(&l)
			_, err := l.Message()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Message: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
