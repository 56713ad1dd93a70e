package pgtest

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) { Main(m, nil) }

// TestNewDatabase: each call gives a distinct, empty, writable database on
// one shared PostgreSQL 15 server that does not run as root.
func TestNewDatabase(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		url := NewDatabase(t)
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var name, version, user string
		var tables int
		if err := db.QueryRowContext(ctx, `SELECT current_database(), current_setting('server_version_num'), current_user`).Scan(&name, &version, &user); err != nil {
			t.Fatal(err)
		}
		if seen[name] {
			t.Errorf("database %s handed out twice", name)
		}
		seen[name] = true
		if v, _ := strconv.Atoi(version); v/10000 != 15 {
			t.Errorf("server version %s, want 15", version)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil || tables != 0 {
			t.Errorf("new database has %d tables, %v", tables, err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Errorf("new database is not writable: %v", err)
		}
	}
	// The first line of postmaster.pid is the server's PID; /proc/PID is
	// owned by the process's user.
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	fi, err := os.Stat("/proc/" + strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid == 0 {
		t.Error("the server runs as root")
	}
}

// TestReapStale: a cluster directory whose test binary is dead is removed;
// one whose owner lives is kept.
func TestReapStale(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(pid int) string {
		d, err := os.MkdirTemp("", dirPrefix+"*")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if err := os.WriteFile(filepath.Join(d, "owner.pid"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale, live := mk(dead.Process.Pid), mk(os.Getpid())
	reapStale()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a dead test binary's directory was kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live test binary's directory was removed: %v", err)
	}
}
