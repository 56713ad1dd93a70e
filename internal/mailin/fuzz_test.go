package mailin

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\nbody\r\n"))
	f.Add([]byte("From: a@example.jp\nContent-Type: text/plain; charset=Shift_JIS\n\n\x83e\x83X\x83g\n"))
	f.Add([]byte("From: a@example.jp\nContent-Type: text/html\n\n<p>a<br>b &amp; <blockquote>c</p>"))
	f.Add([]byte("From: a@example.jp\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: multipart/alternative; boundary=y\n\n--y\n\ntext\n--y--\n--x\nContent-Disposition: attachment; filename*=UTF-8''%E3%83%AD.gz\nContent-Transfer-Encoding: base64\n\nH4sI\n--x--\n"))
	f.Add([]byte("From: \"=?UTF-8?Q?=E5=B1=B1?=\" <a..b.@docomo.ne.jp>\nContent-Type: text/plain; format=flowed; delsp=yes\nContent-Transfer-Encoding: quoted-printable\n\n=E3=81=82 \n> q\n"))
	f.Add([]byte("From: a@example.jp\nContent-Type: message/rfc822\n\nFrom: b@example.jp\n\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data), Limits{MaxMessage: 1 << 16, MaxAttachment: 1 << 10})
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		for name, s := range map[string]string{"Text": m.Text, "Subject": m.Subject, "FromName": m.FromName, "From": m.From} {
			if !utf8.ValidString(s) {
				t.Fatalf("%s is not valid UTF-8: %q", name, s)
			}
		}
		if strings.Contains(m.Text, "\r") {
			t.Fatalf("Text has CR: %q", m.Text)
		}
		if m.From == "" || !strings.Contains(m.From, "@") {
			t.Fatalf("From = %q", m.From)
		}
		for _, a := range m.Attachments {
			if !utf8.ValidString(a.Filename) || strings.ContainsAny(a.Filename, `/\`) || a.Filename == ".." {
				t.Fatalf("Filename = %q", a.Filename)
			}
			if a.Dropped != (a.Data == nil) && a.Dropped || a.Size < int64(len(a.Data)) {
				t.Fatalf("attachment %q: dropped=%v data=%d size=%d", a.Filename, a.Dropped, len(a.Data), a.Size)
			}
		}
		_ = NewText(m.Text)
		_, _ = Tag(m.Subject)
	})
}
