// Package smtptest gives tests a real SMTP server: aiosmtpd (Debian's
// python3-aiosmtpd) on a free loopback port, storing each message it accepts
// byte for byte in a Maildir that the test reads back. A real server, rather
// than a Go fake, catches what a fake shares with the client under test
// (dot-stuffing, line ends, reply parsing). Recipients whose local part is
// smtpNNN or ends in +smtpNNN (user+smtp550@example.com) are refused at RCPT
// with code NNN, to test rejections. The server can be stopped and restarted
// on the same port to test outages. Tests never skip: a missing aiosmtpd is
// a clear failure.
package smtptest

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

//go:embed smtptest_handler.py
var handlerPy []byte

// handlerClass is the aiosmtpd -c argument for smtptest_handler.py.
const handlerClass = "smtptest_handler.Handler"

// Server is a running (or stopped) aiosmtpd.
type Server struct {
	Addr string // 127.0.0.1:PORT, the same across Restart
	Dir  string // the Maildir; messages are in Dir/new

	t    testing.TB
	bin  string
	home string // handler module and log

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Delivery is one message as the server received it.
type Delivery struct {
	From string   // envelope sender
	To   []string // envelope recipients
	Data []byte   // the message, exactly as received (after dot-unstuffing)
}

// Start starts aiosmtpd on a free loopback port and stops it when the test
// ends. It fails the test if aiosmtpd is missing or does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("aiosmtpd")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/aiosmtpd"); serr != nil {
			t.Fatalf("smtptest: aiosmtpd not found (install python3-aiosmtpd): %v", err)
		}
		bin = "/usr/bin/aiosmtpd"
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "smtptest_handler.py"), handlerPy, 0o644); err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s := &Server{t: t, bin: bin, home: home, Dir: filepath.Join(home, "Maildir")}
	t.Cleanup(s.Stop)
	var errs []error
	for range 3 { // another process may take the free port first
		addr, err := freePort()
		if err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		s.Addr = addr
		if err := s.start(); err == nil {
			return s
		} else {
			errs = append(errs, err)
		}
	}
	t.Fatalf("smtptest: %v", errors.Join(errs...))
	return nil
}

// URL is "smtp://" + Addr, for notify.ParseSMTPURL.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// Stop stops the server, if running. Messages it accepted stay readable.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart stops the server, if running, and starts it again on the same
// port with the same Maildir. It fails the test if that does not work.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err = s.start(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("smtptest: restart: %v", err)
}

// start runs aiosmtpd on s.Addr and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logPath := filepath.Join(s.home, "aiosmtpd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, "-n", "-l", s.Addr, "-c", handlerClass, s.Dir)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+s.home, "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(15 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			conn.Close()
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s on %s exited at start (%v): %s", s.bin, s.Addr, cmd.ProcessState, bytes.TrimSpace(out))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s on %s did not accept connections within 15 s: %s", s.bin, s.Addr, bytes.TrimSpace(out))
		}
	}
}

// Deliveries returns every message accepted so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.t.Helper()
	ds, err := s.read()
	if err != nil {
		s.t.Fatalf("smtptest: %v", err)
	}
	return ds
}

// Messages returns every message accepted so far, in order, exactly as
// received (CRLF line ends, dot-unstuffed).
func (s *Server) Messages() [][]byte {
	s.t.Helper()
	var msgs [][]byte
	for _, d := range s.Deliveries() {
		msgs = append(msgs, d.Data)
	}
	return msgs
}

// WaitFor waits until at least n messages have arrived and returns them;
// it fails the test after timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) [][]byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ds, err := s.read()
		if err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		if len(ds) >= n {
			msgs := make([][]byte, len(ds))
			for i, d := range ds {
				msgs[i] = d.Data
			}
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: %d of %d messages arrived within %v", len(ds), n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) read() ([]Delivery, error) {
	dir := filepath.Join(s.Dir, "new")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".smtptest") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // zero-padded sequence numbers
	ds := make([]Delivery, 0, len(names))
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		d, err := parseDelivery(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// parseDelivery splits off the two envelope lines the handler writes.
func parseDelivery(b []byte) (Delivery, error) {
	var d Delivery
	from, rest, ok1 := bytes.Cut(b, []byte("\r\n"))
	rcpt, data, ok2 := bytes.Cut(rest, []byte("\r\n"))
	f, okf := strings.CutPrefix(string(from), "X-Smtptest-Mail-From: ")
	r, okr := strings.CutPrefix(string(rcpt), "X-Smtptest-Rcpt-To: ")
	if !ok1 || !ok2 || !okf || !okr {
		return d, errors.New("no smtptest envelope lines")
	}
	d.From = strings.TrimSuffix(strings.TrimPrefix(f, "<"), ">")
	for _, a := range strings.Split(r, ", ") {
		d.To = append(d.To, strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">"))
	}
	d.Data = data
	return d, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Mail is a message as received: its decoded Subject and the raw
// header field, the From and To addresses, and the decoded text.
type Mail struct {
	Subject, RawSubject, From, To, Text string
}

// Parse reads a message as received (or as composed), failing the test
// when it is not one well-formed mail.
func Parse(t testing.TB, msg []byte) Mail {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("parsing mail: %v\n%s", err, msg)
	}
	var m Mail
	m.RawSubject = r.Header.Get("Subject")
	if m.Subject, err = r.Header.Subject(); err != nil {
		t.Fatalf("mail Subject: %v", err)
	}
	if from, err := r.Header.AddressList("From"); err != nil || len(from) != 1 {
		t.Fatalf("mail From: %v %v", from, err)
	} else {
		m.From = from[0].Address
	}
	if to, err := r.Header.AddressList("To"); err != nil || len(to) != 1 {
		t.Fatalf("mail To: %v %v", to, err)
	} else {
		m.To = to[0].Address
	}
	var text bytes.Buffer
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading mail: %v", err)
		}
		if _, err := io.Copy(&text, p.Body); err != nil {
			t.Fatalf("reading mail body: %v", err)
		}
	}
	m.Text = text.String()
	return m
}
