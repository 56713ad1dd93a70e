package mailin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// enc encodes s (UTF-8) in the charset of e.
func enc(t *testing.T, e encoding.Encoding, s string) string {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return string(b)
}

// bword returns s as an RFC 2047 B-encoded word in the charset of e.
func bword(t *testing.T, charset string, e encoding.Encoding, s string) string {
	t.Helper()
	return mime.BEncoding.Encode(charset, enc(t, e, s))
}

// crlf joins lines into a message with CRLF line ends.
func crlf(lines ...string) string {
	return strings.Join(lines, "\r\n")
}

func b64(s string) string {
	e := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(e) > 76 {
		b.WriteString(e[:76] + "\r\n")
		e = e[76:]
	}
	b.WriteString(e)
	return b.String()
}

func mustParse(t *testing.T, raw string, lim Limits) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !utf8.ValidString(m.Text) {
		t.Fatalf("Text is not valid UTF-8: %q", m.Text)
	}
	return m
}

func TestParseISO2022JP(t *testing.T) {
	j := japanese.ISO2022JP
	body := "お世話になっております。\r\n" + "サーバーが起動しません。\r\n" + "エラーログ：「ＤＢ接続失敗」①\r\n"
	raw := crlf(
		"Return-Path: <taro.yamada@example.co.jp>",
		"From: "+bword(t, "ISO-2022-JP", j, "山田 太郎")+" <Taro.Yamada@Example.CO.JP>",
		"To: support@enmei.example, "+bword(t, "ISO-2022-JP", j, "サポート")+" <Desk@Enmei.Example>",
		"Subject: "+bword(t, "ISO-2022-JP", j, "Re: [ENM-T-000042] サーバーが起動しません"),
		"Message-ID: <abc.123@mail.example.co.jp>",
		"In-Reply-To: <ticket-42.1@enmei.example>",
		"References: <ticket-42@enmei.example>",
		" <ticket-42.1@enmei.example>",
		"Date: Tue, 01 Dec 2026 10:00:00 +0900",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=ISO-2022-JP",
		"Content-Transfer-Encoding: 7bit",
		"",
		enc(t, j, body),
	)
	if strings.ContainsFunc(raw, func(r rune) bool { return r >= 0x80 }) {
		t.Fatal("test message is not 7-bit")
	}
	m := mustParse(t, raw, Limits{})
	if m.From != "taro.yamada@example.co.jp" || m.FromName != "山田 太郎" {
		t.Errorf("From = %q, %q", m.From, m.FromName)
	}
	if want := []string{"support@enmei.example", "desk@enmei.example"}; !reflect.DeepEqual(m.To, want) {
		t.Errorf("To = %q, want %q", m.To, want)
	}
	if m.Subject != "Re: [ENM-T-000042] サーバーが起動しません" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if n, ok := Tag(m.Subject); !ok || n != 42 {
		t.Errorf("Tag(Subject) = %d, %v", n, ok)
	}
	if m.MessageID != "abc.123@mail.example.co.jp" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := []string{"ticket-42.1@enmei.example"}; !reflect.DeepEqual(m.InReplyTo, want) {
		t.Errorf("InReplyTo = %q", m.InReplyTo)
	}
	if want := []string{"ticket-42@enmei.example", "ticket-42.1@enmei.example"}; !reflect.DeepEqual(m.References, want) {
		t.Errorf("References = %q", m.References)
	}
	if want := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if want := strings.ReplaceAll(body, "\r\n", "\n"); m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if m.AutoSubmitted || len(m.Attachments) != 0 {
		t.Errorf("AutoSubmitted = %v, Attachments = %v", m.AutoSubmitted, m.Attachments)
	}
}

func TestParseShiftJIS(t *testing.T) {
	s := japanese.ShiftJIS
	body := "お問い合わせです。\n㈱エンメイ 髙橋様\nログの場所は C:\\log です。\n"
	for _, label := range []string{"Shift_JIS", "shift_jis", "CP932", "Windows-31J", "x-sjis", `"MS932"`} {
		t.Run(label, func(t *testing.T) {
			raw := "From: " + bword(t, "Shift_JIS", s, "髙橋 一郎") + " <takahashi@example.jp>\n" +
				"To: support@enmei.example\n" +
				"Subject: " + bword(t, "Shift_JIS", s, "ライセンス更新について") + "\n" +
				"Content-Type: text/plain; charset=" + label + "\n" +
				"Content-Transfer-Encoding: 8bit\n" +
				"\n" + enc(t, s, body)
			m := mustParse(t, raw, Limits{})
			if m.FromName != "髙橋 一郎" || m.From != "takahashi@example.jp" {
				t.Errorf("From = %q <%s>", m.FromName, m.From)
			}
			if m.Subject != "ライセンス更新について" {
				t.Errorf("Subject = %q", m.Subject)
			}
			if m.Text != body {
				t.Errorf("Text = %q, want %q", m.Text, body)
			}
		})
	}
}

func TestParseEUCJP(t *testing.T) {
	e := japanese.EUCJP
	raw := crlf(
		"From: suzuki@example.jp",
		"Subject: "+bword(t, "EUC-JP", e, "見積もり依頼"),
		"Content-Type: text/plain; charset=EUC-JP",
		"Content-Transfer-Encoding: 8bit",
		"",
		enc(t, e, "見積もりをお願いします。\r\nよろしくお願いいたします。"),
	)
	m := mustParse(t, raw, Limits{})
	if m.Subject != "見積もり依頼" || m.Text != "見積もりをお願いします。\nよろしくお願いいたします。" {
		t.Errorf("Subject = %q, Text = %q", m.Subject, m.Text)
	}
}

func TestParseUTF8(t *testing.T) {
	text := "日本語の本文です。長い行は quoted-printable のソフト改行で折り返されます。最後まで一行です。\n二行目 = 等号\n"
	qp := crlf(
		"From: =?UTF-8?Q?=E4=BD=90=E8=97=A4?= <sato@example.jp>",
		"Subject: =?UTF-8?Q?=E4=BB=B6=E5=90=8D?= test",
		"Content-Type: text/plain; charset=\"utf-8\"",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"=E6=97=A5=E6=9C=AC=E8=AA=9E=E3=81=AE=E6=9C=AC=E6=96=87=E3=81=A7=E3=81=99=",
		"=E3=80=82=E9=95=B7=E3=81=84=E8=A1=8C=E3=81=AF quoted-printable =E3=81=AE=",
		"=E3=82=BD=E3=83=95=E3=83=88=E6=94=B9=E8=A1=8C=E3=81=A7=E6=8A=98=E3=82=8A=",
		"=E8=BF=94=E3=81=95=E3=82=8C=E3=81=BE=E3=81=99=E3=80=82=E6=9C=80=E5=BE=8C=",
		"=E3=81=BE=E3=81=A7=E4=B8=80=E8=A1=8C=E3=81=A7=E3=81=99=E3=80=82",
		"=E4=BA=8C=E8=A1=8C=E7=9B=AE =3D =E7=AD=89=E5=8F=B7",
		"",
	)
	m := mustParse(t, qp, Limits{})
	if m.FromName != "佐藤" || m.Subject != "件名 test" || m.Text != text {
		t.Errorf("quoted-printable: FromName = %q, Subject = %q, Text = %q", m.FromName, m.Subject, m.Text)
	}

	// base64, and a subject split in the middle of a character across two
	// encoded words, which some mailers produce.
	subj := []byte("障害報告")
	b := crlf(
		"From: sato@example.jp",
		"Subject: =?UTF-8?B?"+base64.StdEncoding.EncodeToString(subj[:4])+"?=",
		" =?UTF-8?B?"+base64.StdEncoding.EncodeToString(subj[4:])+"?=",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: base64",
		"",
		b64(strings.ReplaceAll(text, "\n", "\r\n")),
	)
	m = mustParse(t, b, Limits{})
	if m.Subject != "障害報告" || m.Text != text {
		t.Errorf("base64: Subject = %q, Text = %q", m.Subject, m.Text)
	}
}

func TestParseCharsetGuess(t *testing.T) {
	tests := []struct {
		name, ct, body, want string
	}{
		{"no charset, Shift_JIS bytes", "text/plain", enc(t, japanese.ShiftJIS, "設定ファイルが壊れています。"), "設定ファイルが壊れています。"},
		{"no Content-Type, ISO-2022-JP escapes", "", enc(t, japanese.ISO2022JP, "再起動してください。"), "再起動してください。"},
		{"us-ascii label, EUC-JP bytes", "text/plain; charset=us-ascii", enc(t, japanese.EUCJP, "ありがとうございます。"), "ありがとうございます。"},
		{"no charset, UTF-8", "text/plain", "こんにちは", "こんにちは"},
		{"unknown charset, UTF-8 bytes", "text/plain; charset=x-unknown-foo", "caf\xc3\xa9 ok", "café ok"},
		{"unknown charset, invalid bytes", "text/plain; charset=x-unknown-foo", "caf\xe9 ok", "caf\uFFFD ok"},
		{"ISO-2022-JP label on Shift_JIS bytes", "text/plain; charset=iso-2022-jp", enc(t, japanese.ShiftJIS, "請求書を送付します。"), "請求書を送付します。"},
		{"latin-1", "text/plain; charset=iso-8859-1", "caf\xe9", "café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: a@example.jp\n"
			if tt.ct != "" {
				raw += "Content-Type: " + tt.ct + "\n"
			}
			raw += "\n" + tt.body
			m := mustParse(t, raw, Limits{})
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q", m.Text, tt.want)
			}
		})
	}
}

func TestParseLineEnds(t *testing.T) {
	lf := "From: a@example.jp\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\none\ntwo\n\nthree\n"
	want := "one\ntwo\n\nthree\n"
	for name, raw := range map[string]string{
		"LF":   lf,
		"CRLF": strings.ReplaceAll(lf, "\n", "\r\n"),
		"CR":   strings.ReplaceAll(strings.ReplaceAll(lf, "\n", "\r\n"), "\r\n\r\none", "\r\n\r\none\r"),
	} {
		m := mustParse(t, raw, Limits{})
		if name == "CR" {
			want := "one\n\ntwo\n\nthree\n"
			if m.Text != want {
				t.Errorf("%s: Text = %q, want %q", name, m.Text, want)
			}
			continue
		}
		if m.Text != want {
			t.Errorf("%s: Text = %q, want %q", name, m.Text, want)
		}
	}
}

// multipartMessage is a typical mail from a Japanese Outlook user: a
// text/plain and text/html alternative with an inline logo, a gzip log named
// with RFC 2231, a PDF named with an ISO-2022-JP encoded word, a forwarded
// message and an S/MIME-less plain attachment.
func multipartMessage(t *testing.T, gz []byte) string {
	j := japanese.ISO2022JP
	return crlf(
		"From: "+bword(t, "ISO-2022-JP", j, "田中 花子")+" <hanako.tanaka@example.co.jp>",
		"To: support@enmei.example",
		"Subject: "+bword(t, "ISO-2022-JP", j, "【ENM-T-000123】ログ送付"),
		"Message-ID: <mixed-1@example.co.jp>",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="outer"`,
		"",
		"This is a multi-part message in MIME format.",
		"",
		"--outer",
		`Content-Type: multipart/alternative; boundary="alt"`,
		"",
		"--alt",
		"Content-Type: text/plain; charset=ISO-2022-JP",
		"Content-Transfer-Encoding: 7bit",
		"",
		enc(t, j, "ログを添付します。\r\nご確認ください。"),
		"--alt",
		`Content-Type: multipart/related; boundary="rel"`,
		"",
		"--rel",
		"Content-Type: text/html; charset=UTF-8",
		"Content-Transfer-Encoding: base64",
		"",
		b64("<html><body><p>ログを添付します。</p><p>ご確認ください。</p><img src=\"cid:logo\"></body></html>"),
		"--rel",
		"Content-Type: image/png",
		"Content-ID: <logo>",
		"Content-Transfer-Encoding: base64",
		"",
		b64("\x89PNG fake logo"),
		"--rel--",
		"--alt--",
		"--outer",
		"Content-Type: application/gzip",
		"Content-Disposition: attachment;",
		" filename*=UTF-8''%E3%83%AD%E3%82%B0.tar.gz",
		"Content-Transfer-Encoding: base64",
		"",
		b64(string(gz)),
		"--outer",
		`Content-Type: application/pdf; name="`+bword(t, "ISO-2022-JP", j, "障害報告書.pdf")+`"`,
		`Content-Disposition: attachment; filename="`+bword(t, "ISO-2022-JP", j, "障害報告書.pdf")+`"`,
		"Content-Transfer-Encoding: base64",
		"",
		b64("%PDF-1.4 fake"),
		"--outer",
		"Content-Type: message/rfc822",
		"Content-Disposition: attachment",
		"",
		"From: other@example.jp",
		"Subject: original",
		"",
		"original body",
		"--outer",
		"Content-Type: text/plain; charset=Shift_JIS; name=\""+enc(t, japanese.ShiftJIS, "設定.txt")+"\"",
		"Content-Disposition: inline; filename=\""+enc(t, japanese.ShiftJIS, "設定.txt")+"\"",
		"",
		enc(t, japanese.ShiftJIS, "key=値"),
		"--outer--",
		"",
	)
}

func TestParseMultipart(t *testing.T) {
	gz := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03binary\x00\xff\xfe log data")
	const eml = "From: other@example.jp\r\nSubject: original\r\n\r\noriginal body"
	m := mustParse(t, multipartMessage(t, gz), Limits{})
	if m.FromName != "田中 花子" || m.Subject != "【ENM-T-000123】ログ送付" {
		t.Errorf("FromName = %q, Subject = %q", m.FromName, m.Subject)
	}
	if n, ok := Tag(m.Subject); !ok || n != 123 {
		t.Errorf("Tag = %d, %v", n, ok)
	}
	if m.Text != "ログを添付します。\nご確認ください。" {
		t.Errorf("Text = %q", m.Text)
	}
	want := []Attachment{
		{Filename: "ログ.tar.gz", ContentType: "application/gzip", Size: int64(len(gz)), Data: gz},
		{Filename: "障害報告書.pdf", ContentType: "application/pdf", Size: 13, Data: []byte("%PDF-1.4 fake")},
		{Filename: "message.eml", ContentType: "message/rfc822", Size: int64(len(eml)), Data: []byte(eml)},
		{Filename: "設定.txt", ContentType: "text/plain", Size: int64(len(enc(t, japanese.ShiftJIS, "key=値"))), Data: []byte(enc(t, japanese.ShiftJIS, "key=値"))},
	}
	if len(m.Attachments) != len(want) {
		t.Fatalf("got %d attachments, want %d: %+v", len(m.Attachments), len(want), m.Attachments)
	}
	for i, a := range m.Attachments {
		w := want[i]
		if a.Filename != w.Filename || a.ContentType != w.ContentType || a.Size != w.Size || a.Dropped || !bytes.Equal(a.Data, w.Data) {
			t.Errorf("attachment %d = {%q %q %d %q %v}, want {%q %q %d %q}", i, a.Filename, a.ContentType, a.Size, a.Data, a.Dropped, w.Filename, w.ContentType, w.Size, w.Data)
		}
	}
}

func TestParseAttachmentLimit(t *testing.T) {
	big := strings.Repeat("0123456789", 200) // 2000 bytes
	raw := crlf(
		"From: a@example.jp",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"see attached",
		"--b",
		"Content-Type: application/octet-stream",
		`Content-Disposition: attachment; filename="big.bin"`,
		"Content-Transfer-Encoding: base64",
		"",
		b64(big),
		"--b",
		"Content-Type: application/octet-stream",
		`Content-Disposition: attachment; filename="small.bin"`,
		"",
		"small",
		"--b--",
	)
	m := mustParse(t, raw, Limits{MaxAttachment: 1000})
	if m.Text != "see attached" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("attachments: %+v", m.Attachments)
	}
	if a := m.Attachments[0]; a.Filename != "big.bin" || !a.Dropped || a.Data != nil || a.Size != 2000 {
		t.Errorf("big attachment = %q dropped=%v data=%d bytes size=%d", a.Filename, a.Dropped, len(a.Data), a.Size)
	}
	if a := m.Attachments[1]; a.Filename != "small.bin" || a.Dropped || string(a.Data) != "small" || a.Size != 5 {
		t.Errorf("small attachment = %+v", a)
	}
}

// endless is a reader that never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestParseTooLarge(t *testing.T) {
	raw := "From: a@example.jp\r\n\r\n" + strings.Repeat("x", 100)
	if _, err := Parse(strings.NewReader(raw), Limits{MaxMessage: int64(len(raw))}); err != nil {
		t.Errorf("message of exactly MaxMessage: %v", err)
	}
	_, err := Parse(strings.NewReader(raw), Limits{MaxMessage: int64(len(raw) - 1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("message over MaxMessage: err = %v, want ErrTooLarge", err)
	}
	// The limit holds while reading: an endless stream stops just past it.
	e := &endless{}
	_, err = Parse(io.MultiReader(strings.NewReader("From: a@example.jp\r\n\r\n"), e), Limits{MaxMessage: 1 << 20})
	if !errors.Is(err, ErrTooLarge) || e.n > 2<<20 {
		t.Errorf("endless message: err = %v after %d bytes", err, e.n)
	}
}

func TestParseHTMLOnly(t *testing.T) {
	html := `<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=shift_jis">` +
		`<title>t</title><style>p { margin: 0 }</style></head><body>` +
		"<div>いつも&nbsp;お世話に\n   なっております。</div>" +
		"<p>価格は 1,000&yen; &amp; 税込 &lt;確認中&gt;&#12290;</p><p>2行目<br>3行目</p>" +
		"<ul><li>項目A</li><li>項目B</li></ul>" +
		"<script>alert('x')</script><!-- comment <p>hidden</p> -->" +
		"<blockquote>元の<b>メール</b></blockquote></body></html>"
	raw := "From: a@example.jp\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n" + enc(t, japanese.ShiftJIS, html)
	m := mustParse(t, raw, Limits{})
	want := "いつも お世話に なっております。\n価格は 1,000¥ & 税込 <確認中>。\n2行目\n3行目\n- 項目A\n- 項目B\n> 元のメール"
	if m.Text != want {
		t.Errorf("Text =\n%s\nwant\n%s", m.Text, want)
	}
	if got := NewText(m.Text); !strings.HasSuffix(got, "- 項目B") {
		t.Errorf("NewText(HTML rendering) = %q", got)
	}
}

func TestParseFilenames(t *testing.T) {
	tests := []struct{ disp, want string }{
		{`attachment; filename="../../etc/passwd"`, "passwd"},
		{`attachment; filename="..\\..\\Windows\\evil.exe"`, "evil.exe"},
		{`attachment; filename="C:report.txt"`, "report.txt"},
		{`attachment; filename=".."`, ""},
		{"attachment; filename=\"a\x01b\u202Etxt.exe\"", "abtxt.exe"},
		{`attachment; filename*=UTF-8''..%2F..%2Fetc%2Fshadow`, "shadow"},
		{`attachment; filename=report 2026.xlsx`, "report 2026.xlsx"},
		{`attachment; filename*0*=ISO-2022-JP''%1B%24B%25m%25%30%1B%28B; filename*1=.log`, "ログ.log"},
		{`attachment; filename="` + "\u30ed\u30af\u3099" + `.txt"`, "ログ.txt"}, // NFD from macOS
		{`attachment; filename="=?Shift_JIS?B?` + base64.StdEncoding.EncodeToString([]byte(enc(t, japanese.ShiftJIS, "見積書.xlsx"))) + `?="`, "見積書.xlsx"},
	}
	for _, tt := range tests {
		raw := crlf(
			"From: a@example.jp",
			`Content-Type: multipart/mixed; boundary="b"`,
			"",
			"--b",
			"Content-Type: application/octet-stream",
			"Content-Disposition: "+tt.disp,
			"",
			"data",
			"--b--",
		)
		m := mustParse(t, raw, Limits{})
		if len(m.Attachments) != 1 {
			t.Errorf("%s: attachments %+v", tt.disp, m.Attachments)
			continue
		}
		if got := m.Attachments[0].Filename; got != tt.want {
			t.Errorf("%s: Filename = %q, want %q", tt.disp, got, tt.want)
		}
	}
}

func TestParseAutoSubmitted(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"Auto-Submitted: no", false},
		{"Auto-Submitted: No (comment)", false},
		{"Auto-Submitted: auto-replied", true},
		{"Auto-Submitted: auto-generated; owner-email=x@example.jp", true},
		{"Precedence: bulk", true},
		{"Precedence: junk", true},
		{"Precedence: List", true},
		{"Precedence: first-class", false},
		{"List-Id: <users.example.jp>", true},
		{"X-Autoreply: yes", true},
		{"X-Autorespond: vacation", true},
		{"Return-Path: <>", true},
		{"Content-Type: multipart/report; report-type=delivery-status; boundary=x", true},
	}
	for _, tt := range tests {
		raw := "From: a@example.jp\n"
		if tt.header != "" {
			raw += tt.header + "\n"
		}
		m := mustParse(t, raw+"\nbody\n", Limits{})
		if m.AutoSubmitted != tt.want {
			t.Errorf("%q: AutoSubmitted = %v, want %v", tt.header, m.AutoSubmitted, tt.want)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	tests := map[string]string{
		"empty":           "",
		"blank":           "\r\n\r\n",
		"no From":         "To: a@example.jp\r\nSubject: x\r\n\r\nbody",
		"From without @":  "From: Yamada Taro\r\n\r\nbody",
		"bad header line": "From: a@example.jp\r\nthis is not a header\r\n\r\nbody",
		"binary":          "\x00\x01\x02\xff\xfe",
		"continuation":    " From: a@example.jp\r\n\r\n",
	}
	for name, raw := range tests {
		m, err := Parse(strings.NewReader(raw), Limits{})
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, m, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "mailin: malformed message: ") {
			t.Errorf("%s: error %q has no reason", name, err)
		}
	}
}

func TestParseLenient(t *testing.T) {
	j := japanese.ISO2022JP
	raw := crlf(
		"From "+"MAILER@example.jp Tue Dec  1 10:00:00 2026", // mbox separator
		// Docomo allowed dots like these; net/mail refuses them.
		`From: "`+bword(t, "ISO-2022-JP", j, "携帯 太郎")+`" <Taro..Keitai.@docomo.ne.jp>`,
		"To: undisclosed-recipients:;",
		"Subject: =?iso-2022-jp?B?"+base64.StdEncoding.EncodeToString([]byte(enc(t, j, "件名")))+"?=",
		"Message-ID: bare-id@example.jp",
		"In-Reply-To: Your message of Tue, 1 Dec 2026 <orig@enmei.example>",
		"Date: Tue, 1 Dec 2026 10:00:00 +0900 (JST)",
		`Content-Type: text/plain; charset="ISO-2022-JP"; format=flowed; delsp=yes`,
		"",
		enc(t, j, "これは長い行の途中で \r\n折り返されています。\r\n次の行。"),
	)
	m := mustParse(t, raw, Limits{})
	if m.From != "taro..keitai.@docomo.ne.jp" || m.FromName != "携帯 太郎" {
		t.Errorf("From = %q <%s>", m.FromName, m.From)
	}
	if len(m.To) != 0 || m.Subject != "件名" || m.MessageID != "bare-id@example.jp" {
		t.Errorf("To = %q, Subject = %q, MessageID = %q", m.To, m.Subject, m.MessageID)
	}
	if !reflect.DeepEqual(m.InReplyTo, []string{"orig@enmei.example"}) || m.Date.IsZero() {
		t.Errorf("InReplyTo = %q, Date = %v", m.InReplyTo, m.Date)
	}
	if m.Text != "これは長い行の途中で折り返されています。\n次の行。" {
		t.Errorf("Text = %q", m.Text)
	}
}

func TestParseRaw8bitHeaders(t *testing.T) {
	// Old Japanese mailers put Shift_JIS bytes straight into header fields.
	s := japanese.ShiftJIS
	raw := "From: " + enc(t, s, "山田 太郎") + " <yamada@example.jp>\n" +
		"Subject: " + enc(t, s, "至急：ライセンスの件") + "\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain; charset=shift_jis\n\n" + enc(t, s, "本文") + "\n" +
		"--b\nContent-Type: application/vnd.ms-excel; name=\"" + enc(t, s, "一覧.xls") + "\"\n\nxls\n--b--\n"
	m := mustParse(t, raw, Limits{})
	if m.FromName != "山田 太郎" || m.Subject != "至急：ライセンスの件" || m.Text != "本文" {
		t.Errorf("FromName = %q, Subject = %q, Text = %q", m.FromName, m.Subject, m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "一覧.xls" || m.Attachments[0].ContentType != "application/vnd.ms-excel" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
}

func TestParseBrokenParts(t *testing.T) {
	// No closing boundary, broken base64 in the first attachment and an
	// unknown transfer encoding: what can be read is kept.
	raw := crlf(
		"From: a@example.jp",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"Content-Type: text/plain; charset=x-no-such-charset",
		"",
		"body text",
		"--b",
		"Content-Type: application/octet-stream; name=a.bin",
		"Content-Transfer-Encoding: base64",
		"",
		"aGVsbG8gd29ybGQ=!!!%%%",
		"--b",
		"Content-Type: application/octet-stream; name=b.bin",
		"Content-Transfer-Encoding: x-uuencode",
		"",
		"raw bytes",
	)
	m := mustParse(t, raw, Limits{})
	if m.Text != "body text" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 2 || string(m.Attachments[0].Data) != "hello world" || m.Attachments[1].Filename != "b.bin" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
}

func TestParseAlternativeChoice(t *testing.T) {
	// The HTML body comes first; a gateway appended a plain-text footer.
	// The footer must not become the body.
	raw := crlf(
		"From: a@example.jp",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"Content-Type: text/html; charset=utf-8",
		"",
		"<p>本文です</p>",
		"--b",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"This message was scanned.",
		"--b--",
	)
	if m := mustParse(t, raw, Limits{}); m.Text != "本文です" || len(m.Attachments) != 0 {
		t.Errorf("Text = %q, Attachments = %+v", m.Text, m.Attachments)
	}
}
