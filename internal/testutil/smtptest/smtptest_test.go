package smtptest

import (
	"bytes"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func send(addr, from string, to []string, msg string) error {
	return smtp.SendMail(addr, nil, from, to, []byte(msg))
}

// TestServer: messages arrive byte for byte with their envelope, in order,
// survive a restart on the same port, and magic recipients are refused.
func TestServer(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL(), "smtp://127.0.0.1:") {
		t.Errorf("URL() = %q", s.URL())
	}
	msg1 := "Subject: one\r\n\r\n.leading dot\r\n..two dots\r\nend\r\n"
	if err := send(s.Addr, "a@example.org", []string{"b@example.org", "c@example.org"}, msg1); err != nil {
		t.Fatal(err)
	}
	if err := send(s.Addr, "a@example.org", []string{"d@example.org"}, "Subject: two\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs := s.WaitFor(t, 2, 5*time.Second)
	if len(msgs) != 2 || string(msgs[0]) != msg1 || !bytes.Contains(msgs[1], []byte("two")) {
		t.Fatalf("messages = %q", msgs)
	}
	ds := s.Deliveries()
	if ds[0].From != "a@example.org" || strings.Join(ds[0].To, " ") != "b@example.org c@example.org" {
		t.Errorf("envelope = %q %q", ds[0].From, ds[0].To)
	}

	for _, tc := range []struct {
		rcpt string
		code int
	}{{"user+smtp550@example.org", 550}, {"smtp451@example.org", 451}} {
		err := send(s.Addr, "a@example.org", []string{tc.rcpt}, "Subject: no\r\n\r\nx\r\n")
		var perr *textproto.Error
		if !errors.As(err, &perr) || perr.Code != tc.code {
			t.Errorf("send to %s: %v, want code %d", tc.rcpt, err, tc.code)
		}
	}

	s.Stop()
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Fatal("server still accepts connections after Stop")
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages after Stop, want 2", n)
	}
	s.Restart()
	if err := send(s.Addr, "a@example.org", []string{"e@example.org"}, "Subject: three\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs = s.WaitFor(t, 3, 5*time.Second)
	if !bytes.Contains(msgs[2], []byte("three")) {
		t.Errorf("third message after restart = %q", msgs[2])
	}
}
