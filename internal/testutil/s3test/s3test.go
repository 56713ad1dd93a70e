// Package s3test gives tests a real S3 server: versitygw (Apache-2.0) with
// its posix backend on a temporary directory, on a free loopback port, with
// one bucket made. A real server, not a fake, catches what a fake would
// share with the client (signing, multipart, ranged GETs, copy-to-self).
// The server can be stopped and started again on the same port to test
// outages. Tests never skip: a missing versitygw is a clear failure
// (./scripts/test installs it).
package s3test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Access and Secret are the server's root credentials.
const (
	Access = "enmei-test-access"
	Secret = "enmei-test-secret-key-0123456789"
)

// Server is a running (or stopped) versitygw.
type Server struct {
	Addr   string // 127.0.0.1:PORT, the same across Restart
	Dir    string // the posix backend's root; buckets are its directories
	Bucket string

	t    testing.TB
	bin  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary finds versitygw: $VERSITYGW, the PATH, or $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("versitygw not found: ./scripts/test installs it (go install github.com/versity/versitygw/cmd/versitygw)")
}

// Start runs versitygw with a bucket "enmei" until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	s := &Server{t: t, bin: bin, Dir: t.TempDir(), Bucket: "enmei"}
	// The posix backend's buckets are directories.
	if err := os.Mkdir(filepath.Join(s.Dir, s.Bucket), 0o755); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.Stop)
	var errs []error
	for range 3 {
		s.Addr = freePort(t)
		if err := s.start(); err == nil {
			return s
		} else {
			errs = append(errs, err)
		}
	}
	t.Fatalf("s3test: %v", errors.Join(errs...))
	return nil
}

// URL is the --blobs URL of the bucket under prefix.
func (s *Server) URL(prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=http://%s&region=us-east-1", s.Bucket, prefix, s.Addr)
}

// Env is the environment a client needs (the standard AWS variables).
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + Access, "AWS_SECRET_ACCESS_KEY=" + Secret}
}

// Setenv sets Env for this test's process.
func (s *Server) Setenv(t testing.TB) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Stop stops the server, if running; its data stays.
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

// Restart starts a stopped server again on the same port.
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
	s.t.Fatalf("s3test: restart: %v", err)
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var logs bytes.Buffer
	cmd := exec.Command(s.bin, "--access", Access, "--secret", Secret, "--port", s.Addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("versitygw on %s exited at start (%v): %s", s.Addr, cmd.ProcessState, bytes.TrimSpace(logs.Bytes()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw on %s did not accept connections within 15 s: %s", s.Addr, bytes.TrimSpace(logs.Bytes()))
		}
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
