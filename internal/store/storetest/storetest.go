// Package storetest is the conformance suite every store.Store backend
// passes; it is the definition of correct store behaviour. Times are compared
// in UTC at millisecond precision, the finest every backend keeps.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Run checks a backend; open returns a fresh, empty, migrated store each
// call. The subtests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(*testing.T, store.Store)
	}{
		{"Catalog", testCatalog},
		{"Contracts", testContracts},
		{"ClaimSeat", testClaimSeat},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ConcurrentReclaims", testConcurrentReclaims},
		{"Packages", testPackages},
		{"ManyPackages", testManyPackages},
		{"Publications", testPublications},
		{"ConcurrentCommits", testConcurrentCommits},
		{"Settings", testSettings},
		{"KeyLookupAndSeatCounts", testKeyLookupAndSeatCounts},
		{"PackageReuseAndGC", testPackageReuseAndGC},
		{"Leases", testLeases},
		{"Outbox", testOutbox},
		{"ConcurrentMailClaims", testConcurrentMailClaims},
		{"Accounts", testAccounts},
		{"LinkLimits", testLinkLimits},
		{"Certificates", testCertificates},
		{"ConcurrentCertificateIssues", testConcurrentCertificateIssues},
		{"Tracker", testTracker},
		{"AdvisoryNumbers", testAdvisoryNumbers},
		{"Subscriptions", testSubscriptions},
		{"ConcurrentNotices", testConcurrentNotices},
		{"SeatLeases", testSeatLeases},
		{"SeatPeaks", testSeatPeaks},
		{"ConcurrentLeases", testConcurrentLeases},
		{"StaleRenewal", testStaleRenewal},
		{"Developers", testDevelopers},
		{"Desk", testDesk},
		{"UncountedHosts", testUncountedHosts},
		{"Generation", testGeneration},
		{"ConcurrentConfirmations", testConcurrentConfirmations},
		{"ContactsAndNotices", testContactsAndNotices},
		{"UpgradePaths", testUpgradePaths},
		{"PackagesByName", testPackagesByName},
		{"Mirrors", testMirrors},
		{"MirrorAccounts", testMirrorAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.f(t, s)
		})
	}
	t.Run("SnapshotLoad", func(t *testing.T) {
		t.Parallel()
		testSnapshotLoad(t, open)
	})
}

var ctx = context.Background()

// tokyo is where contract dates live; times given in it must come back as
// the same instant.
var tokyo = time.FixedZone("JST", 9*60*60)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if !errs.Is(err, k) {
		t.Errorf("%s = %v (kind %v), want kind %v", what, err, errs.KindOf(err), k)
	}
}

// sameTime reports whether got is want, in UTC at millisecond precision.
func sameTime(got, want time.Time) bool {
	return got.UTC().Truncate(time.Millisecond).Equal(want.UTC().Truncate(time.Millisecond))
}

func testCatalog(t *testing.T, s store.Store) {
	if ps, err := s.Products(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Products(empty store) = %+v, %v", ps, err)
	}
	p := store.Product{ID: "alma9", Name: "AlmaLinux 9 延命", Format: "rpm", EOL: "2038-05-31", OSID: "almalinux", OSVersion: "9"}
	must(t, s.AddProduct(ctx, p))
	err := s.AddProduct(ctx, store.Product{ID: "alma9", Name: "other", Format: "deb"})
	wantKind(t, "AddProduct(again)", err, errs.Exists)
	must(t, s.AddProduct(ctx, store.Product{ID: "deb12", Name: "Debian", Format: "deb"}))
	must(t, s.AddProduct(ctx, store.Product{ID: "amzn2", Name: "Amazon Linux 2", Format: "rpm"}))
	// The agent's reserved product is found by ID but never listed.
	must(t, s.AddProduct(ctx, store.Product{ID: "agent", Name: "agent", Format: store.FormatAgent}))
	if got, err := s.Product(ctx, "agent"); err != nil || got.Format != store.FormatAgent {
		t.Errorf("Product(agent) = %+v, %v", got, err)
	}
	got, err := s.Product(ctx, "alma9")
	if err != nil || got != p {
		t.Errorf("Product = %+v, %v; want %+v (a refused re-add must not change it)", got, err, p)
	}
	_, err = s.Product(ctx, "nope")
	wantKind(t, "Product(nope)", err, errs.NotFound)
	// The lifecycle and sales terms change; the format and OS binding never do.
	up := p
	up.Name, up.EOL, up.FullUntil, up.SecurityUntil, up.ExtendedUntil, up.InitialOnly = "AlmaLinux 9 ELS", "2035-05-31", "2024-05-31", "2027-05-31", "2032-05-31", true
	up.Format, up.OSID = "deb", "debian"
	must(t, s.UpdateProduct(ctx, up))
	want := up
	want.Format, want.OSID = p.Format, p.OSID
	if got, err := s.Product(ctx, "alma9"); err != nil || got != want {
		t.Errorf("after UpdateProduct = %+v, %v; want %+v", got, err, want)
	}
	wantKind(t, "UpdateProduct(nope)", s.UpdateProduct(ctx, store.Product{ID: "nope"}), errs.NotFound)
	must(t, s.UpdateProduct(ctx, p))
	all, err := s.Products(ctx)
	if err != nil || len(all) != 3 || all[0].ID != "alma9" || all[1].ID != "amzn2" || all[2].ID != "deb12" {
		t.Errorf("Products = %+v, %v; want alma9, amzn2, deb12", all, err)
	}

	r := store.Repo{ID: "alma9-x86_64", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}
	must(t, s.AddRepo(ctx, r))
	wantKind(t, "AddRepo(again)", s.AddRepo(ctx, r), errs.Exists)
	wantKind(t, "AddRepo(unknown product)", s.AddRepo(ctx, store.Repo{ID: "x", ProductID: "nope", Format: "rpm"}), errs.NotFound)
	if _, err := s.Repo(ctx, "x"); !errs.Is(err, errs.NotFound) {
		t.Errorf("a repository of an unknown product was stored: %v", err)
	}
	deb := store.Repo{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"}
	must(t, s.AddRepo(ctx, deb))
	must(t, s.AddRepo(ctx, store.Repo{ID: "alma9-aarch64", ProductID: "alma9", Format: "rpm", Arch: "aarch64"}))
	gr, err := s.Repo(ctx, r.ID)
	if err != nil || gr != r {
		t.Errorf("Repo = %+v, %v; want %+v", gr, err, r)
	}
	_, err = s.Repo(ctx, "nope")
	wantKind(t, "Repo(nope)", err, errs.NotFound)
	rs, err := s.Repos(ctx, "deb12")
	if err != nil || len(rs) != 1 || rs[0] != deb {
		t.Errorf("Repos(deb12) = %+v, %v; want [%+v]", rs, err, deb)
	}
	rs, err = s.Repos(ctx, "alma9")
	if err != nil || len(rs) != 2 || rs[0].ID != "alma9-aarch64" || rs[1].ID != "alma9-x86_64" {
		t.Errorf("Repos(alma9) = %+v, %v", rs, err)
	}
	rs, err = s.Repos(ctx, "")
	if err != nil || len(rs) != 3 {
		t.Errorf("Repos(all) = %+v, %v", rs, err)
	}
	if rs, err := s.Repos(ctx, "amzn2"); err != nil || len(rs) != 0 {
		t.Errorf("Repos(product without repositories) = %+v, %v", rs, err)
	}
}

// contract adds a product and a contract with one key of the given quantity.
func contract(t *testing.T, s store.Store, id string, quantity int) store.LicenseKey {
	t.Helper()
	if _, err := s.Product(ctx, "p"); err != nil {
		must(t, s.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	}
	c := store.Contract{SupportID: id, Customer: "株式会社テスト", Plan: "server", Products: []string{"p"},
		Quantity: quantity, Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.jp", CreatedAt: time.Unix(1700000000, 0)}
	k := store.LicenseKey{ID: "k-" + id, SupportID: id, ProductID: "p", Hash: []byte("hash-of-" + id)}
	must(t, s.AddContract(ctx, c, []store.LicenseKey{k}))
	return k
}

var claimTime = time.Unix(1750000000, 0)

func claim(key store.LicenseKey, machine string) store.SeatClaim {
	return store.SeatClaim{KeyHash: key.Hash, MachineID: machine, Hostname: "host-" + machine, OS: "almalinux 9 x86_64",
		NewHostID: "h-" + machine + "-" + key.ID, SecretHash: []byte("secret-" + machine), Now: claimTime}
}

func testContracts(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "a", Name: "A", Format: "rpm"}))
	must(t, s.AddProduct(ctx, store.Product{ID: "b", Name: "B", Format: "deb"}))
	created := time.Date(2026, 3, 14, 9, 26, 53, 589_793_238, tokyo)
	c := store.Contract{SupportID: "ENM-1", Customer: "ACME 株式会社", EndUser: "End", Plan: "server", Products: []string{"b", "a"},
		Quantity: 3, Start: "2026-04-01", End: "2027-03-31", Contact: "ops@acme.jp", Lang: "en", Inquiries: entitle.Unlimited, CreatedAt: created}
	keys := []store.LicenseKey{{ID: "k1", ProductID: "b", Hash: []byte{1, 2, 3}}, {ID: "k2", ProductID: "a", Hash: []byte{0, 0xff, 6}}}
	must(t, s.AddContract(ctx, c, keys))
	wantKind(t, "AddContract(again)", s.AddContract(ctx, c, nil), errs.Exists)

	got, err := s.Contract(ctx, "ENM-1")
	must(t, err)
	if !sameTime(got.CreatedAt, created) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, created)
	}
	got.CreatedAt, c.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("Contract = %+v; want %+v", got, c)
	}
	_, err = s.Contract(ctx, "nope")
	wantKind(t, "Contract(nope)", err, errs.NotFound)

	ks, err := s.LicenseKeys(ctx, "ENM-1")
	if err != nil || len(ks) != 2 {
		t.Fatalf("LicenseKeys = %+v, %v", ks, err)
	}
	for i, want := range keys {
		want.SupportID = "ENM-1"
		if !reflect.DeepEqual(ks[i], want) {
			t.Errorf("LicenseKeys[%d] = %+v, want %+v", i, ks[i], want)
		}
	}
	// A contract whose key collides with a stored key's hash is refused as a
	// whole: no half-stored contract.
	dup := store.Contract{SupportID: "ENM-2", Customer: "X", Plan: "server", Products: []string{"a"}, Quantity: 1,
		Start: "2026-01-01", End: "2026-12-31", Contact: "x@example.jp", CreatedAt: created}
	if err := s.AddContract(ctx, dup, []store.LicenseKey{{ID: "k3", ProductID: "a", Hash: []byte{1, 2, 3}}}); err == nil {
		t.Error("AddContract with a duplicate key hash succeeded")
	}
	if _, err := s.Contract(ctx, "ENM-2"); !errs.Is(err, errs.NotFound) {
		t.Errorf("a refused AddContract left its contract behind: %v", err)
	}

	h, _, err := s.ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte{1, 2, 3}, MachineID: "m", NewHostID: "h1", SecretHash: []byte("s"), Now: claimTime})
	must(t, err)
	must(t, s.RenewContract(ctx, "ENM-1", "2028-03-31"))
	got, err = s.Contract(ctx, "ENM-1")
	if err != nil || got.End != "2028-03-31" || got.Start != "2026-04-01" || got.Quantity != 3 {
		t.Errorf("after renew Contract = %+v, %v; want End 2028-03-31 and the rest unchanged", got, err)
	}
	if hs, _ := s.Hosts(ctx, "ENM-1", time.Now()); len(hs) != 1 || hs[0].ID != h.ID {
		t.Errorf("renew lost hosts: %+v", hs)
	}
	if ks2, _ := s.LicenseKeys(ctx, "ENM-1"); !reflect.DeepEqual(ks2, ks) {
		t.Errorf("renew changed keys: %+v, want %+v", ks2, ks)
	}
	wantKind(t, "RenewContract(nope)", s.RenewContract(ctx, "nope", "2030-01-01"), errs.NotFound)

	newer := store.Contract{SupportID: "ENM-3", Customer: "Y", Plan: "server", Products: []string{"a"}, Quantity: 1,
		Start: "2026-01-01", End: "2026-12-31", Contact: "y@example.jp", CreatedAt: created.Add(time.Hour)}
	must(t, s.AddContract(ctx, newer, nil))
	all, err := s.ListContracts(ctx)
	if err != nil || len(all) != 2 || all[0].SupportID != "ENM-3" || all[1].SupportID != "ENM-1" || all[1].End != "2028-03-31" {
		t.Errorf("ListContracts = %+v, %v; want ENM-3 then ENM-1", all, err)
	}
}

func testClaimSeat(t *testing.T, s store.Store) {
	k := contract(t, s, "C1", 2)
	other := contract(t, s, "C2", 1)
	_, _, err := s.ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte("unknown"), MachineID: "m", NewHostID: "x", Now: claimTime})
	if !errors.Is(err, store.ErrUnknownKey) {
		t.Errorf("ClaimSeat(unknown key) = %v, want ErrUnknownKey", err)
	}

	refused := errs.E(errs.Entitlement, "contract expired")
	c := claim(k, "m1")
	checked := false
	c.Check = func(got store.Contract) error {
		checked = true
		if got.SupportID != "C1" || got.Quantity != 2 || got.End != "2026-12-31" {
			t.Errorf("Check got contract %+v", got)
		}
		return refused
	}
	if _, _, err := s.ClaimSeat(ctx, c); err != refused {
		t.Errorf("ClaimSeat with failing Check = %v, want its error as is", err)
	}
	if !checked {
		t.Error("ClaimSeat did not call Check")
	}
	if hs, _ := s.Hosts(ctx, "C1", time.Now()); len(hs) != 0 {
		t.Errorf("a refused claim created hosts: %+v", hs)
	}

	c = claim(k, "m1")
	c.Check = func(store.Contract) error { return nil }
	h1, reused, err := s.ClaimSeat(ctx, c)
	want := store.Host{ID: "h-m1-" + k.ID, SupportID: "C1", ProductID: "p", KeyID: k.ID, MachineID: "m1", Hostname: "host-m1",
		OS: "almalinux 9 x86_64", SecretHash: []byte("secret-m1"), RegisteredAt: claimTime, LastSeen: claimTime}
	if err != nil || reused || !sameHost(h1, want) {
		t.Fatalf("ClaimSeat(m1) = %+v, %v, %v; want %+v, new", h1, reused, err, want)
	}
	if stored, err := s.Host(ctx, h1.ID); err != nil || !sameHost(stored, want) {
		t.Errorf("Host(%s) = %+v, %v; want %+v", h1.ID, stored, err, want)
	}
	_, err = s.Host(ctx, "nope")
	wantKind(t, "Host(nope)", err, errs.NotFound)

	// The same machine registering again reuses its seat, with a new secret.
	again := claim(k, "m1")
	again.NewHostID, again.SecretHash, again.Hostname, again.Now = "other-id", []byte("new secret"), "renamed", claimTime.Add(time.Hour)
	again.OS = "almalinux 9 aarch64"
	h1b, reused, err := s.ClaimSeat(ctx, again)
	if err != nil || !reused || h1b.ID != h1.ID || !bytes.Equal(h1b.SecretHash, []byte("new secret")) {
		t.Fatalf("re-claim = %+v, %v, %v; want reused %s with the new secret", h1b, reused, err, h1.ID)
	}
	stored, err := s.Host(ctx, h1.ID)
	if err != nil || !bytes.Equal(stored.SecretHash, []byte("new secret")) || stored.Hostname != "renamed" || stored.OS != "almalinux 9 aarch64" {
		t.Errorf("after re-claim Host = %+v, %v", stored, err)
	}
	if !sameTime(stored.RegisteredAt, h1.RegisteredAt) {
		t.Errorf("re-claim changed RegisteredAt %v → %v", h1.RegisteredAt, stored.RegisteredAt)
	}
	if _, err := s.Host(ctx, "other-id"); !errs.Is(err, errs.NotFound) {
		t.Errorf("re-claim created host other-id: %v", err)
	}
	if hs, _ := s.Hosts(ctx, "C1", time.Now()); len(hs) != 1 {
		t.Errorf("re-claim changed the seat count: %d hosts, want 1", len(hs))
	}

	m2 := claim(k, "m2")
	m2.Now = claimTime.Add(time.Minute)
	if _, _, err := s.ClaimSeat(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(k, "m3")); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("third claim on 2 seats = %v, want ErrNoSeat", err)
	}
	if _, err := s.Host(ctx, "h-m3-"+k.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("a claim refused for lack of seats created its host: %v", err)
	}
	// A full key still lets its registered machines re-register.
	if _, reused, err := s.ClaimSeat(ctx, claim(k, "m2")); err != nil || !reused {
		t.Errorf("re-claim on a full key = %v, reused %v", err, reused)
	}
	// A machine registered under one key takes a seat of its own under another.
	ho, reused, err := s.ClaimSeat(ctx, claim(other, "m1"))
	if err != nil || reused || ho.ID == h1.ID || ho.SupportID != "C2" {
		t.Errorf("claim of m1 on another contract = %+v, %v, %v; want a new host of C2", ho, reused, err)
	}
	hs, err := s.Hosts(ctx, "C1", time.Now())
	if err != nil || len(hs) != 2 || hs[0].ID != h1.ID || hs[1].MachineID != "m2" {
		t.Errorf("Hosts(C1) = %+v, %v; want m1 then m2", hs, err)
	}

	wantKind(t, "ReleaseSeat(other contract's host)", s.ReleaseSeat(ctx, "C2", h1.ID), errs.NotFound)
	wantKind(t, "ReleaseSeat(unknown host)", s.ReleaseSeat(ctx, "C1", "nope"), errs.NotFound)
	if _, err := s.Host(ctx, h1.ID); err != nil {
		t.Errorf("a refused ReleaseSeat removed the host: %v", err)
	}
	must(t, s.ReleaseSeat(ctx, "C1", h1.ID))
	_, err = s.Host(ctx, h1.ID)
	wantKind(t, "Host(released)", err, errs.NotFound)
	if _, reused, err := s.ClaimSeat(ctx, claim(k, "m3")); err != nil || reused {
		t.Errorf("claim after release = %v, reused %v", err, reused)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(k, "m4")); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("claim after the released seat was taken again = %v, want ErrNoSeat", err)
	}

	seen := time.Date(2026, 10, 9, 8, 53, 20, 250_000_000, tokyo)
	hs, _ = s.Hosts(ctx, "C1", time.Now())
	must(t, s.TouchHost(ctx, hs[0].ID, seen))
	got, _ := s.Host(ctx, hs[0].ID)
	if !sameTime(got.LastSeen, seen) {
		t.Errorf("LastSeen = %v, want %v", got.LastSeen, seen)
	}
	if !sameTime(got.RegisteredAt, hs[0].RegisteredAt) {
		t.Errorf("TouchHost changed RegisteredAt %v → %v", hs[0].RegisteredAt, got.RegisteredAt)
	}
	wantKind(t, "TouchHost(nope)", s.TouchHost(ctx, "nope", seen), errs.NotFound)
}

// sameHost compares hosts, their times in UTC at millisecond precision.
func sameHost(a, b store.Host) bool {
	if !sameTime(a.RegisteredAt, b.RegisteredAt) || !sameTime(a.LastSeen, b.LastSeen) {
		return false
	}
	a.RegisteredAt, a.LastSeen, b.RegisteredAt, b.LastSeen = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func testConcurrentClaims(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, full := 0, 0
	var other []error
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.ClaimSeat(ctx, claim(k, fmt.Sprintf("machine-%02d", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrNoSeat):
				full++
			default:
				other = append(other, err)
			}
		}(i)
	}
	wg.Wait()
	if ok != 5 || full != 35 || len(other) > 0 {
		t.Fatalf("40 concurrent claims on 5 seats: %d ok, %d no seat, other errors %v", ok, full, other)
	}
	hs, err := s.Hosts(ctx, "C", time.Now())
	if err != nil || len(hs) != 5 {
		t.Fatalf("Hosts = %d, %v; want 5", len(hs), err)
	}
	for _, h := range hs {
		if _, reused, err := s.ClaimSeat(ctx, claim(k, h.MachineID)); err != nil || !reused {
			t.Errorf("re-claim of %s = %v, reused %v", h.MachineID, err, reused)
		}
	}
	if hs, _ := s.Hosts(ctx, "C", time.Now()); len(hs) != 5 {
		t.Errorf("re-claims changed the seat count to %d", len(hs))
	}
}

// testConcurrentReclaims: a machine retrying its registration (a timeout, a
// second agent run) while the first attempt is in flight keeps one seat.
func testConcurrentReclaims(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh, reused := 0, 0
	ids := map[string]bool{}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := claim(k, "same-machine")
			c.NewHostID = fmt.Sprintf("attempt-%d", i)
			h, re, err := s.ClaimSeat(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("claim %d: %v", i, err)
			case re:
				reused++
			default:
				fresh++
			}
			ids[h.ID] = true
		}(i)
	}
	wg.Wait()
	if fresh != 1 || reused != 9 || len(ids) != 1 {
		t.Errorf("10 concurrent claims of one machine: %d new, %d reused, host IDs %v; want 1, 9 and one ID", fresh, reused, ids)
	}
	if hs, _ := s.Hosts(ctx, "C", time.Now()); len(hs) != 1 {
		t.Errorf("one machine holds %d seats", len(hs))
	}
}

func testPackages(t *testing.T, s store.Store) {
	if err := s.PutPackages(ctx, []store.Package{{ID: "no-meta", Blob: "b", Format: "deb", Name: "n", Location: "l"}}); err != nil {
		t.Errorf("PutPackages with nil Meta = %v", err)
	}
	// Index entries are binary: every byte value, NUL, invalid UTF-8, Japanese.
	meta := []byte("バイナリ\x00\xff\xfe<package/>\r\n")
	for b := 0; b < 256; b++ {
		meta = append(meta, byte(b))
	}
	p := store.Package{ID: "id1", Blob: "b1", Format: "rpm", Name: "n", Version: "1:1.0-1", Arch: "x86_64", Location: "Packages/n.rpm", Size: 1 << 40, Meta: meta}
	q := store.Package{ID: "id2", Blob: "b2", Format: "deb", Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Location: "pool/main/g/glibc/libc6.deb", Size: 42, Meta: []byte("Package: libc6\n")}
	must(t, s.PutPackages(ctx, []store.Package{p}))
	// Storing again (with the same ID twice in a batch) is a no-op for
	// stored IDs: the first version stays.
	changed := p
	changed.Meta, changed.Size = []byte("changed"), 1
	must(t, s.PutPackages(ctx, []store.Package{changed, q, q}))
	got, err := s.Packages(ctx, []string{"id2", "id1"})
	// Records come back without their index entries, which PackageMetas reads.
	wantQ, wantP := q, p
	wantQ.Meta, wantP.Meta = nil, nil
	if err != nil || len(got) != 2 || !reflect.DeepEqual(got[0], wantQ) || !reflect.DeepEqual(got[1], wantP) {
		t.Fatalf("Packages = %+v, %v; want %+v and %+v", got, err, wantQ, wantP)
	}
	var metas [][]byte
	must(t, s.PackageMetas(ctx, []string{"id2", "id1", "id1"}, func(i int, m []byte) error {
		if i != len(metas) {
			t.Errorf("PackageMetas called for %d after %d calls", i, len(metas))
		}
		metas = append(metas, m)
		return nil
	}))
	if len(metas) != 3 || !bytes.Equal(metas[0], q.Meta) || !bytes.Equal(metas[1], meta) || !bytes.Equal(metas[2], meta) {
		t.Errorf("PackageMetas = %q, want %q, %q, %q", metas, q.Meta, meta, meta)
	}
	wantKind(t, "PackageMetas(missing)", s.PackageMetas(ctx, []string{"id1", "missing"}, func(int, []byte) error { return nil }), errs.NotFound)
	// Asking for an ID twice returns it twice.
	if got, err := s.Packages(ctx, []string{"id1", "id1"}); err != nil || len(got) != 2 || got[1].ID != "id1" {
		t.Errorf("Packages(id1, id1) = %d packages, %v", len(got), err)
	}
	_, err = s.Packages(ctx, []string{"id1", "missing"})
	wantKind(t, "Packages(missing)", err, errs.NotFound)
	if got, err := s.Packages(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Packages(nil) = %v, %v", got, err)
	}
	must(t, s.PutPackages(ctx, nil))

	// SBOM facts are kept with the record and read on their own.
	withFacts := store.Package{ID: "id3", Blob: "b3", Format: "rpm", Name: "f", Location: "Packages/f.rpm", Facts: []byte(`{"name":"f","files":[{"path":"/x"}]}`)}
	must(t, s.PutPackages(ctx, []store.Package{withFacts}))
	if got, _ := s.Packages(ctx, []string{"id3"}); len(got) != 1 || got[0].Facts != nil {
		t.Errorf("Packages returned facts: %+v", got)
	}
	facts, err := s.PackageFacts(ctx, []string{"id3", "id1", "missing"})
	if err != nil || len(facts) != 1 || string(facts["id3"]) != string(withFacts.Facts) {
		t.Errorf("PackageFacts = %q, %v; want only id3's", facts, err)
	}
	// A record stored without facts gets them when stored again; stored
	// facts are kept.
	got1, err := s.Packages(ctx, []string{"id1"})
	must(t, err)
	again := got1[0]
	again.Facts = []byte(`{"name":"a"}`)
	other := withFacts
	other.Facts = []byte(`{"name":"other"}`)
	must(t, s.PutPackages(ctx, []store.Package{again, other}))
	facts, err = s.PackageFacts(ctx, []string{"id1", "id3"})
	if err != nil || string(facts["id1"]) != `{"name":"a"}` || string(facts["id3"]) != string(withFacts.Facts) {
		t.Errorf("after storing again: PackageFacts = %q, %v; want id1's new facts and id3's first ones", facts, err)
	}
}

// testManyPackages: a repository holds tens of thousands of packages, more
// than a statement may have parameters (SQLite: 32766).
func testManyPackages(t *testing.T, s store.Store) {
	const n = 40000
	many := make([]store.Package, n)
	ids := make([]string, n)
	for i := range many {
		many[i] = store.Package{ID: fmt.Sprintf("pkg-%05d", i), Blob: "b", Format: "rpm", Name: "x", Location: fmt.Sprintf("l%d", i), Meta: []byte{byte(i)}}
		ids[n-1-i] = many[i].ID // ask in reverse order
	}
	must(t, s.PutPackages(ctx, many))
	got, err := s.Packages(ctx, ids)
	if err != nil || len(got) != n {
		t.Fatalf("Packages(%d ids) = %d, %v", n, len(got), err)
	}
	for i := range got {
		if got[i].ID != ids[i] {
			t.Fatalf("Packages order: [%d] = %s, want %s", i, got[i].ID, ids[i])
		}
	}
	calls := 0
	must(t, s.PackageMetas(ctx, ids, func(i int, meta []byte) error {
		if i != calls || len(meta) != 1 || meta[0] != byte(n-1-i) {
			t.Fatalf("PackageMetas order: call %d is [%d] = %v, want %d", calls, i, meta, byte(n-1-i))
		}
		calls++
		return nil
	}))
	if calls != n {
		t.Errorf("PackageMetas called f %d times, want %d", calls, n)
	}
}

func testPublications(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "r1", ProductID: "p", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "r2", ProductID: "p", Format: "rpm"}))
	if pubs, err := s.Publications(ctx, "r1"); err != nil || len(pubs) != 0 {
		t.Errorf("Publications(new repository) = %+v, %v", pubs, err)
	}
	var ids []int64
	var base int64
	created := time.Date(2026, 5, 1, 12, 0, 0, 123_000_000, tokyo)
	for i := 0; i < 3; i++ {
		id, err := s.CommitPublication(ctx, store.Publication{RepoID: "r1", CreatedAt: created.Add(time.Duration(i) * time.Second), Packages: i, Manifest: fmt.Sprint("m", i), Base: base})
		must(t, err)
		if id <= base {
			t.Errorf("publication IDs do not increase: %d after %d", id, base)
		}
		base = id
		ids = append(ids, id)
		if r, _ := s.Repo(ctx, "r1"); r.Current != id {
			t.Errorf("after commit %d Current = %d", id, r.Current)
		}
	}
	other, err := s.CommitPublication(ctx, store.Publication{RepoID: "r2", CreatedAt: created, Manifest: "x"})
	must(t, err)
	// A commit built on a publication that is no longer current is refused,
	// and so is a first commit (Base 0) to a repository that has one.
	for _, stale := range []int64{ids[0], 0, other} {
		if _, err := s.CommitPublication(ctx, store.Publication{RepoID: "r1", CreatedAt: created, Manifest: "stale", Base: stale}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CommitPublication on base %d (current %d) = %v, want ErrConflict", stale, ids[2], err)
		}
	}
	pubs, err := s.Publications(ctx, "r1")
	if err != nil || len(pubs) != 3 || pubs[0].ID != ids[2] || pubs[1].ID != ids[1] || pubs[2].ID != ids[0] {
		t.Fatalf("Publications = %+v, %v; want %v newest first", pubs, err, ids)
	}
	if p := pubs[1]; p.RepoID != "r1" || p.Manifest != "m1" || p.Packages != 1 || !sameTime(p.CreatedAt, created.Add(time.Second)) {
		t.Errorf("Publications[1] = %+v", p)
	}
	// A rollback is a new publication that names the one it re-publishes.
	rb, err := s.CommitPublication(ctx, store.Publication{RepoID: "r1", CreatedAt: created.Add(time.Hour), Manifest: "m0-again", RollbackOf: ids[0], Base: ids[2]})
	must(t, err)
	if p, err := s.Publication(ctx, rb); err != nil || p.RollbackOf != ids[0] || p.Manifest != "m0-again" {
		t.Errorf("Publication(rollback) = %+v, %v; want RollbackOf %d", p, err, ids[0])
	}
	if r, _ := s.Repo(ctx, "r2"); r.Current != other {
		t.Errorf("a commit to r1 moved r2 to %d", r.Current)
	}
	if all, err := s.Publications(ctx, ""); err != nil || len(all) != 5 || all[0].ID != rb {
		t.Errorf("Publications(all) = %+v, %v; want 5, newest first", all, err)
	}
	// The current publication is never deleted; others are, per repository.
	wantKind(t, "DeletePublications(current)", s.DeletePublications(ctx, "r1", []int64{ids[0], rb}), errs.Invalid)
	if pubs, _ := s.Publications(ctx, "r1"); len(pubs) != 4 {
		t.Errorf("a refused DeletePublications deleted something: %d left, want 4", len(pubs))
	}
	must(t, s.DeletePublications(ctx, "r1", []int64{ids[0], ids[1], other}))
	if pubs, _ := s.Publications(ctx, "r1"); len(pubs) != 2 || pubs[0].ID != rb || pubs[1].ID != ids[2] {
		t.Errorf("after DeletePublications: %+v; want %d and %d", pubs, rb, ids[2])
	}
	if _, err := s.Publication(ctx, other); err != nil {
		t.Errorf("DeletePublications(r1) deleted r2's publication: %v", err)
	}
	wantKind(t, "DeletePublications(unknown repository)", s.DeletePublications(ctx, "nope", []int64{1}), errs.NotFound)
	if r, _ := s.Repo(ctx, "r1"); r.Current != rb {
		t.Errorf("Current = %d after deletes, want %d", r.Current, rb)
	}
	ids[1] = ids[2]
	p, err := s.Publication(ctx, ids[1])
	if err != nil || p.ID != ids[1] || p.RepoID != "r1" || p.Manifest != "m2" || p.Packages != 2 || !sameTime(p.CreatedAt, created.Add(2*time.Second)) {
		t.Errorf("Publication = %+v, %v", p, err)
	}
	_, err = s.Publication(ctx, 99999)
	wantKind(t, "Publication(unknown)", err, errs.NotFound)
	_, err = s.CommitPublication(ctx, store.Publication{RepoID: "nope", CreatedAt: created, Manifest: "x"})
	wantKind(t, "CommitPublication(unknown repository)", err, errs.NotFound)
}

// testConcurrentCommits: publishes racing on one base never both win, so no
// publish silently drops the other's packages.
func testConcurrentCommits(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "r", ProductID: "p", Format: "rpm"}))
	base, err := s.CommitPublication(ctx, store.Publication{RepoID: "r", CreatedAt: claimTime, Manifest: "first"})
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []int64
	conflicts := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id, err := s.CommitPublication(ctx, store.Publication{RepoID: "r", CreatedAt: claimTime, Manifest: fmt.Sprint("m", i), Base: base})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, id)
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("commit %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if len(won) != 1 || conflicts != 7 {
		t.Fatalf("8 concurrent commits on one base: %d won, %d conflicts; want 1 and 7", len(won), conflicts)
	}
	if r, _ := s.Repo(ctx, "r"); r.Current != won[0] {
		t.Errorf("Current = %d, want the winner %d", r.Current, won[0])
	}
	if pubs, _ := s.Publications(ctx, "r"); len(pubs) != 2 {
		t.Errorf("refused commits left publications: %d, want 2", len(pubs))
	}
}

func testSettings(t *testing.T, s store.Store) {
	_, err := s.Setting(ctx, "k")
	wantKind(t, "Setting(unset)", err, errs.NotFound)
	if v, err := s.PutSettingIfAbsent(ctx, "empty", nil); err != nil || len(v) != 0 {
		t.Errorf("PutSettingIfAbsent(nil) = %q, %v; want an empty value", v, err)
	}
	var wg sync.WaitGroup
	results := make([][]byte, 10)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := s.PutSettingIfAbsent(ctx, "k", []byte(fmt.Sprint("value-", i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		}(i)
	}
	wg.Wait()
	for _, r := range results {
		if !bytes.Equal(r, results[0]) || !bytes.HasPrefix(r, []byte("value-")) {
			t.Fatalf("PutSettingIfAbsent results differ: %q", results)
		}
	}
	got, err := s.Setting(ctx, "k")
	if err != nil || !bytes.Equal(got, results[0]) {
		t.Errorf("Setting = %q, %v; want %q", got, err, results[0])
	}
	// Values are binary (a private key), and names are independent.
	bin := []byte("\x00\xff鍵\x80")
	if v, err := s.PutSettingIfAbsent(ctx, "signing-key", bin); err != nil || !bytes.Equal(v, bin) {
		t.Errorf("PutSettingIfAbsent(signing-key) = %q, %v", v, err)
	}
	if v, err := s.PutSettingIfAbsent(ctx, "signing-key", []byte("other")); err != nil || !bytes.Equal(v, bin) {
		t.Errorf("PutSettingIfAbsent(signing-key, again) = %q, %v; want the stored %q", v, err, bin)
	}
	if v, err := s.Setting(ctx, "signing-key"); err != nil || !bytes.Equal(v, bin) {
		t.Errorf("Setting(signing-key) = %q, %v", v, err)
	}
	// PutSetting replaces.
	must(t, s.PutSetting(ctx, "disk", []byte("one")))
	must(t, s.PutSetting(ctx, "disk", []byte("two")))
	if v, err := s.Setting(ctx, "disk"); err != nil || string(v) != "two" {
		t.Errorf("Setting(disk) after two PutSetting = %q, %v; want two", v, err)
	}
	must(t, s.DeleteSetting(ctx, "signing-key"))
	_, err = s.Setting(ctx, "signing-key")
	wantKind(t, "Setting(deleted)", err, errs.NotFound)
	must(t, s.DeleteSetting(ctx, "never-set"))
}

func testKeyLookupAndSeatCounts(t *testing.T, s store.Store) {
	k := contract(t, s, "C", 2)
	got, err := s.LicenseKeyByHash(ctx, k.Hash)
	if err != nil || got.ID != k.ID || got.SupportID != "C" || got.ProductID != "p" {
		t.Errorf("LicenseKeyByHash = %+v, %v; want %+v", got, err, k)
	}
	if _, err := s.LicenseKeyByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrUnknownKey) {
		t.Errorf("LicenseKeyByHash(unknown) = %v, want ErrUnknownKey", err)
	}
	k2 := contract(t, s, "D", 3)
	_, _, err = s.ClaimSeat(ctx, claim(k, "m1"))
	must(t, err)
	_, _, err = s.ClaimSeat(ctx, claim(k2, "m1"))
	must(t, err)
	_, _, err = s.ClaimSeat(ctx, claim(k2, "m2"))
	must(t, err)
	counts, err := s.SeatCounts(ctx, time.Now())
	want := []store.SeatCount{{SupportID: "C", ProductID: "p", Used: 1, Quantity: 2}, {SupportID: "D", ProductID: "p", Used: 2, Quantity: 3}}
	if err != nil || !reflect.DeepEqual(counts, want) {
		t.Errorf("SeatCounts = %+v, %v; want %+v", counts, err, want)
	}
}

func testPackageReuseAndGC(t *testing.T, s store.Store) {
	a := store.Package{ID: "a", Blob: "ba", Format: "rpm", Name: "a", Location: "la", Input: "in-a", Signer: "FPR1", Meta: []byte("a")}
	a2 := store.Package{ID: "a2", Blob: "ba2", Format: "rpm", Name: "a", Location: "la", Input: "in-a", Signer: "FPR2", Meta: []byte("a2")}
	b := store.Package{ID: "b", Blob: "bb", Format: "deb", Name: "b", Location: "lb", Input: "in-b", Meta: []byte("b")}
	must(t, s.PutPackages(ctx, []store.Package{a, a2, b}))
	got, err := s.PackagesByInput(ctx, []string{"in-a", "missing"})
	if err != nil || len(got) != 2 {
		t.Fatalf("PackagesByInput(in-a) = %+v, %v; want a and a2", got, err)
	}
	for _, p := range got {
		if p.Input != "in-a" || (p.Signer != "FPR1" && p.Signer != "FPR2") {
			t.Errorf("PackagesByInput returned %+v", p)
		}
	}
	seen := map[string]string{}
	must(t, s.PackageIDs(ctx, func(id, blob string) error { seen[id] = blob; return nil }))
	if len(seen) != 3 || seen["a"] != "ba" || seen["b"] != "bb" {
		t.Errorf("PackageIDs saw %v", seen)
	}
	// Records stored or re-stored at or after the cut-off survive a delete.
	cut := time.Now().Add(-time.Hour)
	if n, err := s.DeletePackages(ctx, []string{"a", "b"}, cut); err != nil || n != 0 {
		t.Errorf("DeletePackages(before an hour ago) = %d, %v; want 0 (they were just stored)", n, err)
	}
	cut = time.Now().Add(time.Second)
	time.Sleep(1100 * time.Millisecond)
	must(t, s.PutPackages(ctx, []store.Package{b})) // a publish re-using b marks it used
	if n, err := s.DeletePackages(ctx, []string{"a", "b", "unknown"}, cut); err != nil || n != 1 {
		t.Errorf("DeletePackages = %d, %v; want 1 (a; b was just used again)", n, err)
	}
	if _, err := s.Packages(ctx, []string{"a"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("a survived DeletePackages: %v", err)
	}
	if got, err := s.Packages(ctx, []string{"b", "a2"}); err != nil || len(got) != 2 {
		t.Errorf("Packages(b, a2) = %v, %v", got, err)
	}
}

func testLeases(t *testing.T, s store.Store) {
	now := time.Unix(1800000000, 0)
	if got, err := s.OldestLease(ctx, now); err != nil || !got.IsZero() {
		t.Errorf("OldestLease(none) = %v, %v", got, err)
	}
	must(t, s.TakeLease(ctx, "l1", now.Add(-time.Hour), now.Add(time.Hour)))
	must(t, s.TakeLease(ctx, "l2", now.Add(-2*time.Hour), now.Add(-time.Minute))) // expired: a crashed publish
	must(t, s.TakeLease(ctx, "l3", now.Add(-time.Minute), now.Add(time.Hour)))
	if got, err := s.OldestLease(ctx, now); err != nil || !sameTime(got, now.Add(-time.Hour)) {
		t.Errorf("OldestLease = %v, %v; want %v (l2 has expired)", got, err, now.Add(-time.Hour))
	}
	must(t, s.DropLease(ctx, "l1"))
	if got, err := s.OldestLease(ctx, now); err != nil || !sameTime(got, now.Add(-time.Minute)) {
		t.Errorf("OldestLease after dropping l1 = %v, %v", got, err)
	}
	must(t, s.Ping(ctx))
}
