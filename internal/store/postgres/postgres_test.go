package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
	"github.com/enmei-project/enmei/internal/store/storetest"
	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m, nil) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestConcurrentOpen: replicas starting together migrate once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	errc := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			db, err := Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errc <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errc; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(sqlstore.Schema) {
		t.Errorf("schema_migrations has %d rows, %v; want %d", n, err, len(sqlstore.Schema))
	}
}

// TestReopen: opening an up-to-date database migrates nothing and keeps data.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	applied := func(db *DB) (s string) {
		db.SQL().QueryRow(`SELECT string_agg(version || ':' || applied_at, ',' ORDER BY version) FROM schema_migrations`).Scan(&s)
		return s
	}
	before := applied(db)
	db.Close()
	db, err = Open(ctx, url)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer db.Close()
	if _, err := db.Product(ctx, "p"); err != nil {
		t.Errorf("after re-open: %v", err)
	}
	if after := applied(db); after != before || before == "" {
		t.Errorf("schema_migrations changed on re-open: %q → %q", before, after)
	}
}

// TestClaimsAcrossReplicas: three replicas, each with its own connection
// pool, claim 30 seats at once on a key of 4: exactly 4 succeed.
// replicas opens three stores on one fresh database holding product p and
// contract C of quantity seats, whose licence key hashes to "key".
func replicas(t *testing.T, quantity int) []*DB {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	out := make([]*DB, 3)
	for i := range out {
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[i] = db
	}
	if err := out[0].AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	c := store.Contract{SupportID: "C", Customer: "C", Plan: "server", Products: []string{"p"}, Quantity: quantity,
		Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.jp", CreatedAt: time.Now()}
	if err := out[1].AddContract(ctx, c, []store.LicenseKey{{ID: "k", ProductID: "p", Hash: []byte("key")}}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestClaimsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	replicas := replicas(t, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, full := 0, 0
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := fmt.Sprint("m", i)
			_, _, err := replicas[i%len(replicas)].ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte("key"), MachineID: m, Hostname: m,
				NewHostID: "h-" + m, SecretHash: []byte("s"), Now: time.Now()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrNoSeat):
				full++
			default:
				t.Errorf("claim %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if ok != 4 || full != 26 {
		t.Errorf("30 claims from 3 replicas on 4 seats: %d ok, %d no seat", ok, full)
	}
	if hs, err := replicas[2].Hosts(ctx, "C", time.Now()); err != nil || len(hs) != 4 {
		t.Errorf("Hosts = %d, %v; want 4", len(hs), err)
	}
}

// TestLeasesAcrossReplicas: ephemeral claims and heartbeats from three
// replicas whose clocks disagree by up to 300 ms never hold more seats at
// once than the quantity: each key's decisions are timed in the database.
func TestLeasesAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	const quantity = 3
	replicas := replicas(t, quantity)
	base := time.Now()
	skew := []time.Duration{0, -300 * time.Millisecond, 200 * time.Millisecond}
	var wg sync.WaitGroup
	for w := range 9 {
		r := w % len(replicas)
		clock := func() time.Time { return time.Now().Add(skew[r]) }
		wg.Go(func() {
			var mine []string
			for i := range 24 {
				// Renew for a while, then let the lease end.
				if i%3 == 2 && i < 9 && len(mine) > 0 {
					if _, err := replicas[r].Heartbeat(ctx, mine[len(mine)-1], clock(), nil); err != nil && !errors.Is(err, store.ErrNoSeat) {
						t.Error(err)
					}
					continue
				}
				m := fmt.Sprintf("w%d-%d", w, i)
				h, _, err := replicas[r].ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte("key"), MachineID: m, NewHostID: "h-" + m,
					SecretHash: []byte("s"), Clock: clock, Lease: 400 * time.Millisecond})
				switch {
				case err == nil:
					mine = append(mine, h.ID)
				case !errors.Is(err, store.ErrNoSeat):
					t.Error(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	spans, err := replicas[0].SeatSpans(ctx, "C", base.Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) <= quantity {
		t.Fatalf("only %d leases were granted: nothing expired", len(spans))
	}
	for _, at := range spans {
		live := 0
		for _, sp := range spans {
			if !sp.Start.After(at.Start) && (sp.End.IsZero() || sp.End.After(at.Start)) {
				live++
			}
		}
		if live > quantity {
			t.Fatalf("%d seats held at %v across replicas, more than %d", live, at.Start, quantity)
		}
	}
}
