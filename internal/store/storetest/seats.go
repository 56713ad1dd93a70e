package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// lease is a claim for an ephemeral seat of ttl at now.
func lease(key store.LicenseKey, machine string, now time.Time, ttl time.Duration) store.SeatClaim {
	c := claim(key, machine)
	c.Now, c.Lease = now, ttl
	return c
}

func liveCount(t *testing.T, s store.Store, supportID string, now time.Time) int {
	t.Helper()
	hs, err := s.Hosts(ctx, supportID, now)
	must(t, err)
	return len(hs)
}

func testSeatLeases(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 2)
	t0 := claimTime
	ttl := 10 * time.Second

	a, reused, err := s.ClaimSeat(ctx, lease(k, "a", t0, ttl))
	if err != nil || reused || a.LeaseTTL != ttl || !sameTime(a.LeaseExpires, t0.Add(ttl)) {
		t.Fatalf("ClaimSeat(lease) = %+v, %v, %v; want a new host whose lease ends at %v", a, reused, err, t0.Add(ttl))
	}
	if got, _ := s.Host(ctx, a.ID); got.LeaseTTL != ttl || !sameTime(got.LeaseExpires, t0.Add(ttl)) {
		t.Errorf("stored lease = %v until %v", got.LeaseTTL, got.LeaseExpires)
	}
	srv, _, err := s.ClaimSeat(ctx, lease(k, "server", t0, 0))
	must(t, err)
	if srv.LeaseTTL != 0 || !srv.LeaseExpires.IsZero() {
		t.Errorf("a server seat has a lease: %+v", srv)
	}
	if _, _, err := s.ClaimSeat(ctx, lease(k, "b", t0.Add(time.Second), ttl)); !errors.Is(err, store.ErrNoSeat) {
		t.Fatalf("third claim on 2 seats = %v, want ErrNoSeat", err)
	}

	// Heartbeats and touches renew a live lease from their time.
	h, err := s.Heartbeat(ctx, a.ID, t0.Add(4*time.Second), nil)
	if err != nil || !sameTime(h.LeaseExpires, t0.Add(14*time.Second)) {
		t.Fatalf("Heartbeat = %+v, %v; want the lease to end at +14s", h, err)
	}
	must(t, s.TouchHost(ctx, a.ID, t0.Add(8*time.Second)))
	if got, _ := s.Host(ctx, a.ID); !sameTime(got.LeaseExpires, t0.Add(18*time.Second)) || !sameTime(got.LastSeen, t0.Add(8*time.Second)) {
		t.Errorf("after TouchHost the lease ends %v, last seen %v; want +18s and +8s", got.LeaseExpires, got.LastSeen)
	}
	if n := liveCount(t, s, "C", t0.Add(17*time.Second)); n != 2 {
		t.Errorf("%d live seats at +17s, want 2", n)
	}
	// Unrenewed, the lease ends by itself and frees the seat.
	if n := liveCount(t, s, "C", t0.Add(18*time.Second)); n != 1 {
		t.Errorf("%d live seats when the lease ended, want 1 (the server seat)", n)
	}
	counts, err := s.SeatCounts(ctx, t0.Add(20*time.Second))
	if err != nil || len(counts) != 1 || counts[0].Used != 1 {
		t.Errorf("SeatCounts after the lease ended = %+v, %v; want 1 used", counts, err)
	}
	// A touch does not revive an ended lease.
	must(t, s.TouchHost(ctx, a.ID, t0.Add(19*time.Second)))
	if got, _ := s.Host(ctx, a.ID); got.Live(t0.Add(19 * time.Second)) {
		t.Errorf("TouchHost revived an ended lease: %+v", got)
	}
	b, _, err := s.ClaimSeat(ctx, lease(k, "b", t0.Add(20*time.Second), ttl))
	if err != nil {
		t.Fatalf("claim after a lease ended = %v", err)
	}
	// The ended lease's host cannot take a seat back while none is free …
	if _, err := s.Heartbeat(ctx, a.ID, t0.Add(21*time.Second), nil); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("Heartbeat of an ended lease with no free seat = %v, want ErrNoSeat", err)
	}
	// … nor by registering again; once b's lease ends, it can.
	if _, _, err := s.ClaimSeat(ctx, lease(k, "a", t0.Add(22*time.Second), ttl)); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("re-claim of an ended lease with no free seat = %v, want ErrNoSeat", err)
	}
	refused := errs.E(errs.Entitlement, "contract expired")
	if _, err := s.Heartbeat(ctx, a.ID, t0.Add(31*time.Second), func(store.Contract) error { return refused }); err != refused {
		t.Errorf("Heartbeat with a failing check = %v, want its error", err)
	}
	h, err = s.Heartbeat(ctx, a.ID, t0.Add(31*time.Second), nil)
	if err != nil || h.ID != a.ID || !sameTime(h.LeaseExpires, t0.Add(41*time.Second)) {
		t.Fatalf("Heartbeat once a seat is free = %+v, %v; want %s's lease again until +41s", h, err, a.ID)
	}
	if n := liveCount(t, s, "C", t0.Add(31*time.Second)); n != 2 {
		t.Errorf("%d live seats after the heartbeat took a seat, want 2", n)
	}
	// A server seat's heartbeat only marks it seen.
	h, err = s.Heartbeat(ctx, srv.ID, t0.Add(32*time.Second), nil)
	if err != nil || h.LeaseTTL != 0 || !sameTime(h.LastSeen, t0.Add(32*time.Second)) {
		t.Errorf("Heartbeat(server seat) = %+v, %v", h, err)
	}
	_, err = s.Heartbeat(ctx, "nope", t0, nil)
	wantKind(t, "Heartbeat(unknown)", err, errs.NotFound)

	// A live lease's host re-registering as a server seat keeps its seat.
	h, reused, err = s.ClaimSeat(ctx, lease(k, "a", t0.Add(33*time.Second), 0))
	if err != nil || !reused || h.LeaseTTL != 0 {
		t.Errorf("re-claim as a server seat = %+v, %v, %v", h, reused, err)
	}
	if n := liveCount(t, s, "C", t0.Add(time.Hour)); n != 2 {
		t.Errorf("%d live seats an hour later, want the 2 server seats", n)
	}

	// Spans record who held a seat when; pruning removes old ended leases.
	spans, err := s.SeatSpans(ctx, "C", t0, t0.Add(time.Hour))
	must(t, err)
	var aSpans, bSpans int
	for _, sp := range spans {
		switch sp.HostID {
		case a.ID:
			aSpans++
		case b.ID:
			bSpans++
			if !sameTime(sp.Start, t0.Add(20*time.Second)) || !sameTime(sp.End, t0.Add(30*time.Second)) {
				t.Errorf("b's span = %v – %v, want +20s – +30s", sp.Start, sp.End)
			}
		}
	}
	if aSpans != 2 || bSpans != 1 {
		t.Errorf("spans: %d of a, %d of b; want 2 (before and after its lease ended) and 1: %+v", aSpans, bSpans, spans)
	}
	n, err := s.PruneSeats(ctx, t0.Add(time.Minute), t0)
	if err != nil || n != 1 {
		t.Errorf("PruneSeats = %d, %v; want b's ended lease deleted", n, err)
	}
	_, err = s.Host(ctx, b.ID)
	wantKind(t, "Host(pruned)", err, errs.NotFound)
	if _, err := s.Host(ctx, a.ID); err != nil {
		t.Errorf("PruneSeats deleted a live host: %v", err)
	}
	if spans2, _ := s.SeatSpans(ctx, "C", t0, t0.Add(time.Hour)); len(spans2) != len(spans) {
		t.Errorf("PruneSeats deleted spans newer than asked: %d → %d", len(spans), len(spans2))
	}
	must(t, s.ReleaseSeat(ctx, "C", a.ID))
	if n := liveCount(t, s, "C", t0.Add(time.Hour)); n != 1 {
		t.Errorf("%d live seats after a release, want 1", n)
	}
}

// testSeatPeaks: the daily peak of concurrent seats comes from the spans
// the store keeps.
func testSeatPeaks(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 10)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, entitle.Tokyo)
	for i := range 4 {
		_, _, err := s.ClaimSeat(ctx, lease(k, fmt.Sprintf("m%d", i), day.Add(time.Duration(9+i)*time.Hour), 90*time.Minute))
		must(t, err)
	}
	now := day.AddDate(0, 0, 2)
	spans, err := s.SeatSpans(ctx, "C", day.AddDate(0, 0, -1), now)
	must(t, err)
	peaks, err := entitle.DailyPeaks(spans, []string{"p"}, "2026-11-01", "2026-11-03", now)
	must(t, err)
	// Leases of 90 minutes taken an hour apart overlap two at a time.
	want := []entitle.DailyPeak{{Day: "2026-11-01", ProductID: "p", Peak: 0}, {Day: "2026-11-02", ProductID: "p", Peak: 2}, {Day: "2026-11-03", ProductID: "p", Peak: 0}}
	if fmt.Sprint(peaks) != fmt.Sprint(want) {
		t.Errorf("DailyPeaks = %v, want %v", peaks, want)
	}
}

// testConcurrentLeases: ephemeral claims, heartbeats and expiries racing
// never put more live seats than the quantity.
func testConcurrentLeases(t *testing.T, s store.Store) {
	const quantity = 3
	k := contract(t, s, "C", quantity)
	base := claimTime
	ttl := 5 * time.Second
	var clock atomic.Int64 // milliseconds after base, moved forward by the workers
	var wg sync.WaitGroup
	var granted atomic.Int64
	errc := make(chan error, 64)
	for w := range 12 {
		wg.Go(func() {
			var mine []string
			for i := range 15 {
				now := base.Add(time.Duration(clock.Add(700)) * time.Millisecond)
				if i%3 == 2 && len(mine) > 0 {
					_, err := s.Heartbeat(ctx, mine[len(mine)-1], now, nil)
					if err != nil && !errors.Is(err, store.ErrNoSeat) {
						errc <- err
						return
					}
					continue
				}
				h, _, err := s.ClaimSeat(ctx, lease(k, fmt.Sprintf("w%d-%d", w, i), now, ttl))
				switch {
				case err == nil:
					granted.Add(1)
					mine = append(mine, h.ID)
				case !errors.Is(err, store.ErrNoSeat):
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if granted.Load() <= quantity {
		t.Fatalf("only %d claims succeeded: the test did not exercise expiry", granted.Load())
	}
	// At every instant, the spans never overlap more than the quantity.
	end := base.Add(time.Duration(clock.Load())*time.Millisecond + time.Minute)
	spans, err := s.SeatSpans(ctx, "C", base.Add(-time.Hour), end)
	must(t, err)
	for _, at := range spans {
		live := 0
		for _, sp := range spans {
			if !sp.Start.After(at.Start) && (sp.End.IsZero() || sp.End.After(at.Start)) {
				live++
			}
		}
		if live > quantity {
			t.Fatalf("%d seats held at %v, more than the quantity %d", live, at.Start, quantity)
		}
	}
}

func testDevelopers(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "spring-5.3", Name: "Spring 5.3", Format: "maven"}))
	c := store.Contract{SupportID: "D1", Customer: "開発株式会社", Plan: "developer", Products: []string{"spring-5.3"},
		Quantity: 5, Start: "2026-01-01", End: "2026-12-31", Contact: "dev@example.jp", CreatedAt: claimTime}
	created := time.Date(2026, 1, 5, 10, 0, 0, 123_000_000, tokyo)
	acct := store.DeveloperAccount{Name: "d-abc", SupportID: "D1", PasswordHash: "$argon2id$initial", CreatedAt: created}
	must(t, s.AddDeveloperContract(ctx, c, acct))
	got, err := s.DeveloperAccount(ctx, "d-abc")
	if err != nil || got.SupportID != "D1" || got.PasswordHash != "$argon2id$initial" || !sameTime(got.CreatedAt, created) || !got.ChangedAt.IsZero() {
		t.Errorf("DeveloperAccount = %+v, %v", got, err)
	}
	if got, err := s.ContractDeveloperAccount(ctx, "D1"); err != nil || got.Name != "d-abc" {
		t.Errorf("ContractDeveloperAccount = %+v, %v", got, err)
	}
	_, err = s.DeveloperAccount(ctx, "nope")
	wantKind(t, "DeveloperAccount(nope)", err, errs.NotFound)
	_, err = s.ContractDeveloperAccount(ctx, "nope")
	wantKind(t, "ContractDeveloperAccount(nope)", err, errs.NotFound)

	// A second contract with the same account name is refused as a whole.
	c2 := c
	c2.SupportID = "D2"
	wantKind(t, "AddDeveloperContract(same account name)", s.AddDeveloperContract(ctx, c2, acct), errs.Exists)
	if _, err := s.Contract(ctx, "D2"); !errs.Is(err, errs.NotFound) {
		t.Errorf("a refused AddDeveloperContract left its contract: %v", err)
	}

	// A password change ends the account's portal sessions, and only theirs.
	mine := store.Session{Hash: []byte("dev-session"), Kind: "developer", Subject: "d-abc", CreatedAt: claimTime, ExpiresAt: claimTime.Add(time.Hour)}
	other := store.Session{Hash: []byte("customer-session"), Kind: "customer", Subject: "d-abc", CreatedAt: claimTime, ExpiresAt: claimTime.Add(time.Hour)}
	must(t, s.AddSession(ctx, mine))
	must(t, s.AddSession(ctx, other))
	changed := claimTime.Add(time.Minute)
	must(t, s.SetDeveloperPassword(ctx, "d-abc", "$argon2id$new", changed))
	got, _ = s.DeveloperAccount(ctx, "d-abc")
	if got.PasswordHash != "$argon2id$new" || !sameTime(got.ChangedAt, changed) {
		t.Errorf("after SetDeveloperPassword = %+v", got)
	}
	if _, err := s.Session(ctx, mine.Hash, claimTime); !errs.Is(err, errs.NotFound) {
		t.Errorf("the account's session outlived the password change: %v", err)
	}
	if _, err := s.Session(ctx, other.Hash, claimTime); err != nil {
		t.Errorf("another kind's session was ended: %v", err)
	}
	wantKind(t, "SetDeveloperPassword(nope)", s.SetDeveloperPassword(ctx, "nope", "x", changed), errs.NotFound)
}

// testStaleRenewal: a renewal timed before a decision that already found
// its lease ended (a request that waited, a replica whose clock is behind)
// does not bring the lease back beside the seat given away.
func testStaleRenewal(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 1)
	t0 := claimTime
	a, _, err := s.ClaimSeat(ctx, lease(k, "a", t0, 10*time.Second))
	must(t, err)
	_, _, err = s.ClaimSeat(ctx, lease(k, "b", t0.Add(11*time.Second), 10*time.Second))
	must(t, err) // a's lease ended at +10 s: b has the one seat
	must(t, s.TouchHost(ctx, a.ID, t0.Add(9*time.Second)))
	if _, err := s.Heartbeat(ctx, a.ID, t0.Add(9*time.Second), nil); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("a stale heartbeat of the ended lease = %v, want ErrNoSeat", err)
	}
	if n := liveCount(t, s, "C", t0.Add(12*time.Second)); n != 1 {
		t.Errorf("%d live seats on a quantity of 1 after stale renewals", n)
	}
}

// testUncountedHosts: hosts a claim marks uncounted (a platform contract's
// VMs) take no seat, in claims, counts and listings.
func testUncountedHosts(t *testing.T, s store.Store) {
	key := contract(t, s, "ENM-PF", 1)
	vm := func(m string) store.SeatClaim {
		c := claim(key, m)
		c.Virt, c.Counted = "kvm", func(store.Contract) bool { return false }
		return c
	}
	for _, m := range []string{"vm1", "vm2", "vm3"} {
		if _, _, err := s.ClaimSeat(ctx, vm(m)); err != nil {
			t.Fatalf("uncounted %s: %v", m, err)
		}
	}
	bare := claim(key, "host1")
	bare.Virt = "none"
	if _, _, err := s.ClaimSeat(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(key, "host2")); !errors.Is(err, store.ErrNoSeat) {
		t.Fatalf("a second counted host on quantity 1: %v", err)
	}
	counts, err := s.SeatCounts(ctx, claimTime)
	must(t, err)
	for _, c := range counts {
		if c.SupportID == "ENM-PF" && c.Used != 1 {
			t.Errorf("SeatCounts used = %d, want 1", c.Used)
		}
	}
	hosts, err := s.Hosts(ctx, "ENM-PF", claimTime)
	must(t, err)
	uncounted := 0
	for _, h := range hosts {
		if h.Uncounted {
			uncounted++
			if h.Virt != "kvm" {
				t.Errorf("host %s virt %q", h.ID, h.Virt)
			}
		}
	}
	if len(hosts) != 4 || uncounted != 3 {
		t.Errorf("Hosts: %d hosts, %d uncounted; want 4 and 3", len(hosts), uncounted)
	}
}

// testGeneration: revocations move the generation replicas watch.
func testGeneration(t *testing.T, s store.Store) {
	key := contract(t, s, "ENM-G", 2)
	h, _, err := s.ClaimSeat(ctx, claim(key, "m1"))
	must(t, err)
	g0, err := s.Generation(ctx)
	must(t, err)
	must(t, s.ReleaseSeat(ctx, "ENM-G", h.ID))
	g1, err := s.Generation(ctx)
	must(t, err)
	if g1 == g0 {
		t.Errorf("ReleaseSeat did not move the generation (%d)", g0)
	}
}
