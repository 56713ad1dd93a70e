// Package pgtest gives tests a throw-away PostgreSQL 15 cluster: one per test
// binary, started on first use on a free loopback port, as the postgres user
// when run as root (the server refuses to run as root), with fsync off and
// trust authentication; each caller gets a brand-new database. The test
// binary's TestMain must call Main, which stops the cluster and removes its
// directory at the end; clusters left behind by a killed test binary are
// removed by the next one. Tests never skip: a missing server is a clear
// failure.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

const bin = "/usr/lib/postgresql/15/bin"

// dirPrefix names cluster directories in the temporary directory.
const dirPrefix = "enmei-pgtest-"

var (
	mainCalled atomic.Bool
	once       sync.Once
	dir        string
	port       int
	startErr   error
	counter    atomic.Int64
)

// Main runs the package's tests, then stops the cluster (if started) and
// runs cleanup (which may be nil). It calls os.Exit.
func Main(m *testing.M, cleanup func()) {
	mainCalled.Store(true)
	code := m.Run()
	stop()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// Start starts the shared cluster unless it runs already and returns the
// URL of its "postgres" database, for tests that manage databases themselves.
func Start(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m, nil) from TestMain, or the test PostgreSQL cluster outlives the tests")
	}
	once.Do(func() { startErr = start() })
	if startErr != nil {
		t.Fatalf("starting the test PostgreSQL: %v", startErr)
	}
	return urlFor("postgres")
}

// NewDatabase returns the URL of a new, empty database on the shared cluster.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := Start(t)
	name := fmt.Sprintf("enmei_test_%d_%d", os.Getpid(), counter.Add(1))
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	return urlFor(name)
}

func urlFor(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, database)
}

// asPostgres makes a command that runs as the postgres user when we are root.
func asPostgres(args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}
	return exec.Command(args[0], args[1:]...)
}

func start() error {
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return fmt.Errorf("PostgreSQL 15 server binaries are missing in %s: apt-get install -y postgresql", bin)
	}
	reapStale()
	d, err := os.MkdirTemp("", dirPrefix+"*")
	if err != nil {
		return err
	}
	dir = d
	// Written first, so the next test binary can tell whether we are alive.
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("the postgres user is missing, and PostgreSQL refuses to run as root: apt-get install -y postgresql creates it (%w)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		// The postgres user must reach the directory through its parents.
		if out, err := asPostgres("test", "-w", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("the postgres user cannot write %s (is TMPDIR private to root?): %v %s", dir, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// The free port is found by binding and closing, so another process can
	// take it before the server binds: try a few.
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300", port, dir)
		logFile := filepath.Join(dir, "log")
		out, err := asPostgres(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(logFile)
		if attempt < 3 && strings.Contains(string(log), "Address already in use") {
			os.Remove(logFile)
			continue
		}
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func stop() {
	if dir == "" {
		return
	}
	stopCluster(dir)
}

func stopCluster(d string) {
	data := filepath.Join(d, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		asPostgres(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
	}
	os.RemoveAll(d)
}

// reapStale stops and removes clusters whose test binary died without
// stopping them (killed on timeout, interrupted).
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			// No owner yet: being set up right now, or abandoned long ago.
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
				stopCluster(d)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			stopCluster(d)
		}
	}
}
