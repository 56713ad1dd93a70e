// Package pgtest gives tests a throw-away PostgreSQL 15 cluster: one per test
// binary, started on first use on a free loopback port, as the postgres user
// (the server refuses to run as root), with fsync off; each caller gets a
// brand-new database. Tests never skip: a missing server is a clear failure.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

const bin = "/usr/lib/postgresql/15/bin"

var (
	once    sync.Once
	dir     string
	port    int
	startEr error
	counter atomic.Int64
)

// Main runs the package's tests, then stops the cluster (if started) and
// runs cleanup. It calls os.Exit.
func Main(m *testing.M, cleanup func()) {
	code := m.Run()
	stop()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

func runAsPostgres(args ...string) ([]byte, error) {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...).CombinedOutput()
	}
	return exec.Command(args[0], args[1:]...).CombinedOutput()
}

func start() {
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		startEr = fmt.Errorf("PostgreSQL 15 server binaries are missing in %s: apt-get install -y postgresql (scripts/test does this)", bin)
		return
	}
	d, err := os.MkdirTemp("", "enmei-pgtest-*")
	if err != nil {
		startEr = err
		return
	}
	dir = d
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			startEr = fmt.Errorf("the postgres user is missing (install the postgresql package): %w", err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			startEr = err
			return
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		startEr = err
		return
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := runAsPostgres(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		startEr = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200", port, dir)
	if out, err := runAsPostgres(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		startEr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func stop() {
	if dir == "" {
		return
	}
	runAsPostgres(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(dir)
}

// NewDatabase returns the URL of a new, empty database on the shared cluster.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if startEr != nil {
		t.Fatalf("starting the test PostgreSQL: %v", startEr)
	}
	name := fmt.Sprintf("enmei_test_%d_%d", os.Getpid(), counter.Add(1))
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
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
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, name)
}
