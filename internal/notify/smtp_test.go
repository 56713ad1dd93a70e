package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SMTPConfig
		str  string
	}{
		{"smtp://127.0.0.1:2525", SMTPConfig{TLS: NoTLS, Host: "127.0.0.1", Port: 2525}, "smtp://127.0.0.1:2525"},
		{"smtp://mail.example.jp", SMTPConfig{TLS: NoTLS, Host: "mail.example.jp", Port: 25}, "smtp://mail.example.jp:25"},
		{"smtp://relay.internal:25/", SMTPConfig{Host: "relay.internal", Port: 25}, "smtp://relay.internal:25"},
		{"SMTP://[::1]:25", SMTPConfig{Host: "::1", Port: 25}, "smtp://[::1]:25"},
		{"smtp://user:pw@localhost:25", SMTPConfig{Host: "localhost", Port: 25, Username: "user", Password: "pw"}, "smtp://user:xxxxx@localhost:25"},
		{"smtp+starttls://user:p%40ss%3Aw%2Frd@smtp.example.jp:587",
			SMTPConfig{TLS: StartTLS, Host: "smtp.example.jp", Port: 587, Username: "user", Password: "p@ss:w/rd"},
			"smtp+starttls://user:xxxxx@smtp.example.jp:587"},
		{"smtp+starttls://smtp.example.jp", SMTPConfig{TLS: StartTLS, Host: "smtp.example.jp", Port: 587}, "smtp+starttls://smtp.example.jp:587"},
		{"smtps://noreply%40enmei.example.jp:s3cret@smtp.example.jp:465",
			SMTPConfig{TLS: ImplicitTLS, Host: "smtp.example.jp", Port: 465, Username: "noreply@enmei.example.jp", Password: "s3cret"},
			"smtps://noreply%40enmei.example.jp:xxxxx@smtp.example.jp:465"},
		{"smtps://smtp.example.jp", SMTPConfig{TLS: ImplicitTLS, Host: "smtp.example.jp", Port: 465}, "smtps://smtp.example.jp:465"},
	} {
		got, err := ParseSMTPURL(tc.in)
		if err != nil {
			t.Errorf("ParseSMTPURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseSMTPURL(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParseSMTPURLErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no URL given"},
		{"mail.example.jp:25", "unknown scheme"},
		{"mail.example.jp", "no scheme"},
		{"http://mail.example.jp", `unknown scheme "http"`},
		{"smtp://", "no host"},
		{"smtp://:25", "no host"},
		{"smtp://mail.example.jp:0", "not a number from 1 to 65535"},
		{"smtp://mail.example.jp:70000", "not a number from 1 to 65535"},
		{"smtp://mail.example.jp:smtp", "not a valid URL"},
		{"smtp://mail.example.jp:", "empty port"},
		{"smtp://mail.example.jp/x", "unexpected path"},
		{"smtps://u:secretpw@mail.example.jp?insecure-skip-verify=1", "query parameters are not supported"},
		{"smtp://mail.example.jp#x", "unexpected fragment"},
		{"smtp://u:secretpw@mail.example.jp:25", "clear text"},
		{"smtp://:secretpw@mail.example.jp:25", "empty user name"},
		{"smtp:mail.example.jp", "want smtp://host:port"},
		{"smtps://u:secretpw@mail.example.jp:25%zz", "not a valid URL"},
	} {
		_, err := ParseSMTPURL(tc.in)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) succeeded, want error %q", tc.in, tc.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("ParseSMTPURL(%q): %q, want it to contain %q", tc.in, msg, tc.want)
		}
		if !strings.HasPrefix(msg, "--smtp") {
			t.Errorf("ParseSMTPURL(%q): %q does not start with --smtp", tc.in, msg)
		}
		if strings.Contains(msg, "secretpw") {
			t.Errorf("ParseSMTPURL(%q): error %q shows the password", tc.in, msg)
		}
	}
}

func TestSMTPConfigStringRedacts(t *testing.T) {
	c := SMTPConfig{TLS: ImplicitTLS, Host: "smtp.example.jp", Port: 465, Username: "u", Password: "hunter2"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "smtp", c)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %s", c, c, c), buf.String()} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "xxxxx") {
			t.Errorf("%q shows the password or no redaction", s)
		}
	}
}

// tlsServer is an in-process go-smtp server with TLS and AUTH PLAIN, for the
// parts aiosmtpd's command line cannot set up (authentication).
type tlsServer struct {
	addr  string
	roots *x509.CertPool

	mu       sync.Mutex
	auths    []string // user:password logged in
	received int
	tlsSeen  bool
}

func startTLSServer(t *testing.T, implicit bool) *tlsServer {
	t.Helper()
	cert, roots := selfSigned(t)
	ts := &tlsServer{roots: roots}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &tlsSession{ts: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, s.TLSConfig)
	}
	ts.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ts
}

type tlsSession struct {
	ts     *tlsServer
	conn   *smtp.Conn
	authed bool
}

func (s *tlsSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *tlsSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "noreply@enmei.example.jp" || pass != "p@ss:w/rd" {
			return smtp.ErrAuthFailed
		}
		s.ts.mu.Lock()
		s.ts.auths = append(s.ts.auths, user+":"+pass)
		s.ts.mu.Unlock()
		s.authed = true
		return nil
	}), nil
}
func (s *tlsSession) Mail(from string, opts *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *tlsSession) Rcpt(to string, opts *smtp.RcptOptions) error { return nil }
func (s *tlsSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	_, secure := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	s.ts.received++
	s.ts.tlsSeen = secure
	s.ts.mu.Unlock()
	return nil
}
func (s *tlsSession) Reset()        {}
func (s *tlsSession) Logout() error { return nil }

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

// TestSenderTLSAndAuth: smtps:// and smtp+starttls:// with URL-encoded
// credentials verify the server against RootCAs, log in with AUTH PLAIN and
// deliver; an unknown CA or a wrong password is a temporary failure.
func TestSenderTLSAndAuth(t *testing.T) {
	for _, tc := range []struct {
		name, scheme string
		implicit     bool
	}{{"smtps", "smtps", true}, {"starttls", "smtp+starttls", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTLSServer(t, tc.implicit)
			cfg, err := ParseSMTPURL(tc.scheme + "://noreply%40enmei.example.jp:p%40ss%3Aw%2Frd@" + ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			clk := newClock()
			ob := &memOutbox{}
			ob.enqueue(t, 3, clk.Now(), func(i int) Letter { return japaneseLetter() })

			// Without the test CA the certificate is refused.
			s := &Sender{Outbox: ob, SMTP: cfg, Now: clk.Now, Log: discard}
			if n, err := s.SendOnce(context.Background()); n != 0 || err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("SendOnce without RootCAs = %d, %v; want a certificate error", n, err)
			}
			if m := ob.get(1); m.Status != StatusQueued || m.Attempts != 1 || !strings.Contains(m.LastError, "certificate") {
				t.Fatalf("after certificate error: %+v", m)
			}

			// A wrong password: 535, temporary (an operator fixes it).
			clk.Advance(time.Hour)
			bad := cfg
			bad.Password, bad.RootCAs = "wrong", ts.roots
			s.SMTP = bad
			if n, err := s.SendOnce(context.Background()); n != 0 || err == nil || !strings.Contains(err.Error(), "535") {
				t.Fatalf("SendOnce with wrong password = %d, %v; want 535", n, err)
			}
			if m := ob.get(1); m.Status != StatusQueued || m.Attempts != 2 {
				t.Fatalf("after auth failure: %+v", m)
			}

			clk.Advance(time.Hour)
			cfg.RootCAs = ts.roots
			s.SMTP = cfg
			if n, err := s.SendOnce(context.Background()); n != 3 || err != nil {
				t.Fatalf("SendOnce = %d, %v", n, err)
			}
			ts.mu.Lock()
			defer ts.mu.Unlock()
			if ts.received != 3 || !ts.tlsSeen || len(ts.auths) != 1 || ts.auths[0] != "noreply@enmei.example.jp:p@ss:w/rd" {
				t.Errorf("server saw %d messages, TLS %v, logins %q", ts.received, ts.tlsSeen, ts.auths)
			}
		})
	}
}

// TestSenderRefusesPlainAuth: credentials never cross the network in clear
// text, even with a hand-made SMTPConfig.
func TestSenderRefusesPlainAuth(t *testing.T) {
	s := &Sender{Outbox: &memOutbox{}, SMTP: SMTPConfig{Host: "192.0.2.1", Port: 25, Username: "u", Password: "p"}}
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "clear text") {
		t.Errorf("Run = %v, want a clear-text refusal", err)
	}
}
