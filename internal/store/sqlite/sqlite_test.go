package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
	"github.com/enmei-project/enmei/internal/store/storetest"
)

// TestMain doubles as the seat claimer of TestClaimsAcrossProcesses: the
// test binary re-executes itself with claimerEnv set.
func TestMain(m *testing.M) {
	if path := os.Getenv(claimerEnv); path != "" {
		if err := claimer(path); err != nil {
			fmt.Fprintln(os.Stderr, "claimer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "enmei.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestReopen: opening an up-to-date database migrates nothing and keeps data.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enmei.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600: it holds the signing key", f, fi.Mode().Perm())
		}
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer db.Close()
	if _, err := db.Product(ctx, "p"); err != nil {
		t.Errorf("after re-open: %v", err)
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if n != len(sqlstore.Schema) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(sqlstore.Schema))
	}
}

// TestPragmas: every connection of the pool runs in WAL mode with foreign
// keys enforced and a busy timeout, whatever the path looks like.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"enmei.db", "odd ?#%& name.db", "データ.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database not at the path given: %v", err)
			}
			// Hold several connections at once so the checks see more than one.
			conns := make([]interface{ Close() error }, 0, 3)
			for i := 0; i < 3; i++ {
				c, err := db.SQL().Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				var mode string
				var fk, busy int
				if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
					t.Fatal(err)
				}
				if mode != "wal" || fk != 1 || busy < 5000 {
					t.Errorf("connection %d: journal_mode %s, foreign_keys %d, busy_timeout %d; want wal, 1, ≥5000", i, mode, fk, busy)
				}
			}
			for _, c := range conns {
				c.Close()
			}
			// Foreign keys are enforced: a licence key of no contract is refused.
			if _, err := db.SQL().ExecContext(ctx, `INSERT INTO license_keys (id, support_id, product_id, hash) VALUES ('k', 'nope', 'p', x'00')`); err == nil {
				t.Error("a licence key of an unknown contract was stored: foreign keys are off")
			}
		})
	}
}

const (
	claimerEnv     = "ENMEI_SQLITE_TEST_CLAIMER"
	processes      = 4
	perProcess     = 10
	seats          = 5
	claimerKeyHash = "hash-of-the-shared-key"
)

// TestClaimsAcrossProcesses: enmeid serve and admin commands share the file
// from different processes. Four processes open a new database at the same
// time (all migrating it, all adding the same contract) and then claim 40
// seats concurrently on a key of 5: exactly 5 succeed in total.
func TestClaimsAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	// Processes start together at a common instant, so that their opens,
	// migrations and claims overlap.
	startAt := time.Now().Add(time.Second).UnixNano()
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, processes)
	errc := make(chan error, processes)
	for i := 0; i < processes; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), claimerEnv+"="+path, fmt.Sprintf("CLAIMER_INDEX=%d", i), fmt.Sprintf("CLAIMER_START=%d", startAt))
		cmd.Stdout = &outs[i]
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errc <- fmt.Errorf("claimer process: %v\n%s", err, stderr.String())
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	ok, full := 0, 0
	for i := range outs {
		var o, f int
		if _, err := fmt.Sscanf(outs[i].String(), "ok %d full %d", &o, &f); err != nil {
			t.Fatalf("claimer %d printed %q: %v", i, outs[i].String(), err)
		}
		ok, full = ok+o, full+f
	}
	if ok != seats || full != processes*perProcess-seats {
		t.Errorf("%d claims from %d processes on %d seats: %d ok, %d no seat", processes*perProcess, processes, seats, ok, full)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hs, err := db.Hosts(context.Background(), "SHARED", time.Now())
	if err != nil || len(hs) != seats {
		t.Errorf("Hosts = %d, %v; want %d", len(hs), err, seats)
	}
	var migrations int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&migrations)
	if migrations != len(sqlstore.Schema) {
		t.Errorf("schema_migrations has %d rows after concurrent opens, want %d", migrations, len(sqlstore.Schema))
	}
}

// claimer is one process of TestClaimsAcrossProcesses: it opens the
// database, adds the shared contract unless another process did, and makes
// perProcess concurrent claims, printing how many succeeded.
func claimer(path string) error {
	ctx := context.Background()
	index := os.Getenv("CLAIMER_INDEX")
	start, err := strconv.ParseInt(os.Getenv("CLAIMER_START"), 10, 64)
	if err != nil {
		return err
	}
	time.Sleep(time.Until(time.Unix(0, start)))
	db, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil && !errs.Is(err, errs.Exists) {
		return err
	}
	c := store.Contract{SupportID: "SHARED", Customer: "C", Plan: "server", Products: []string{"p"}, Quantity: seats,
		Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.jp", CreatedAt: time.Now()}
	k := store.LicenseKey{ID: "k-shared", ProductID: "p", Hash: []byte(claimerKeyHash)}
	if err := db.AddContract(ctx, c, []store.LicenseKey{k}); err != nil && !errs.Is(err, errs.Exists) {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok, full := 0, 0
	var other []string
	for i := 0; i < perProcess; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			machine := fmt.Sprintf("m-%s-%d", index, i)
			_, _, err := db.ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte(claimerKeyHash), MachineID: machine, Hostname: machine,
				NewHostID: "h-" + machine, SecretHash: []byte("s"), Now: time.Now()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrNoSeat):
				full++
			default:
				other = append(other, err.Error())
			}
		}(i)
	}
	wg.Wait()
	if len(other) > 0 {
		return fmt.Errorf("unexpected claim errors: %s", strings.Join(other, "; "))
	}
	fmt.Printf("ok %d full %d\n", ok, full)
	return nil
}
