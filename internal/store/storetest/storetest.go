// Package storetest is the conformance suite every store.Store backend
// passes; it is the definition of correct store behaviour.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Run checks a backend; open returns a fresh, empty, migrated store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(*testing.T, store.Store)
	}{
		{"Catalog", testCatalog},
		{"Contracts", testContracts},
		{"ClaimSeat", testClaimSeat},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Packages", testPackages},
		{"Publications", testPublications},
		{"Settings", testSettings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.f(t, s)
		})
	}
}

var ctx = context.Background()

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

func testCatalog(t *testing.T, s store.Store) {
	p := store.Product{ID: "alma9", Name: "AlmaLinux 9 延命", Format: "rpm", EOL: "2038-05-31"}
	must(t, s.AddProduct(ctx, p))
	wantKind(t, "AddProduct(again)", s.AddProduct(ctx, p), errs.Exists)
	must(t, s.AddProduct(ctx, store.Product{ID: "deb12", Name: "Debian", Format: "deb"}))
	got, err := s.Product(ctx, "alma9")
	if err != nil || got != p {
		t.Errorf("Product = %+v, %v; want %+v", got, err, p)
	}
	_, err = s.Product(ctx, "nope")
	wantKind(t, "Product(nope)", err, errs.NotFound)
	all, err := s.Products(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "alma9" {
		t.Errorf("Products = %+v, %v", all, err)
	}
	r := store.Repo{ID: "alma9-x86_64", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}
	must(t, s.AddRepo(ctx, r))
	wantKind(t, "AddRepo(again)", s.AddRepo(ctx, r), errs.Exists)
	wantKind(t, "AddRepo(unknown product)", s.AddRepo(ctx, store.Repo{ID: "x", ProductID: "nope", Format: "rpm"}), errs.NotFound)
	must(t, s.AddRepo(ctx, store.Repo{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"}))
	gr, err := s.Repo(ctx, r.ID)
	if err != nil || gr != r {
		t.Errorf("Repo = %+v, %v; want %+v", gr, err, r)
	}
	_, err = s.Repo(ctx, "nope")
	wantKind(t, "Repo(nope)", err, errs.NotFound)
	rs, err := s.Repos(ctx, "deb12")
	if err != nil || len(rs) != 1 || rs[0].Suite != "bookworm" {
		t.Errorf("Repos(deb12) = %+v, %v", rs, err)
	}
	rs, err = s.Repos(ctx, "")
	if err != nil || len(rs) != 2 {
		t.Errorf("Repos(all) = %+v, %v", rs, err)
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

func claim(key store.LicenseKey, machine string) store.SeatClaim {
	return store.SeatClaim{KeyHash: key.Hash, MachineID: machine, Hostname: "host-" + machine,
		NewHostID: "h-" + machine + "-" + key.ID, SecretHash: []byte("secret-" + machine), Now: time.Unix(1750000000, 0)}
}

func testContracts(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "a", Name: "A", Format: "rpm"}))
	must(t, s.AddProduct(ctx, store.Product{ID: "b", Name: "B", Format: "deb"}))
	c := store.Contract{SupportID: "ENM-1", Customer: "ACME", EndUser: "End", Plan: "server", Products: []string{"b", "a"},
		Quantity: 3, Start: "2026-04-01", End: "2027-03-31", Contact: "ops@acme.jp", CreatedAt: time.Unix(1700000000, 0).UTC()}
	keys := []store.LicenseKey{{ID: "k1", ProductID: "b", Hash: []byte{1, 2, 3}}, {ID: "k2", ProductID: "a", Hash: []byte{4, 5, 6}}}
	must(t, s.AddContract(ctx, c, keys))
	wantKind(t, "AddContract(again)", s.AddContract(ctx, c, nil), errs.Exists)
	got, err := s.Contract(ctx, "ENM-1")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(c) {
		t.Errorf("Contract = %+v, %v; want %+v", got, err, c)
	}
	_, err = s.Contract(ctx, "nope")
	wantKind(t, "Contract(nope)", err, errs.NotFound)
	ks, err := s.LicenseKeys(ctx, "ENM-1")
	if err != nil || len(ks) != 2 || !bytes.Equal(ks[0].Hash, []byte{1, 2, 3}) || ks[0].SupportID != "ENM-1" {
		t.Errorf("LicenseKeys = %+v, %v", ks, err)
	}
	h, _, err := s.ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte{1, 2, 3}, MachineID: "m", NewHostID: "h1", SecretHash: []byte("s"), Now: time.Now()})
	must(t, err)
	must(t, s.RenewContract(ctx, "ENM-1", "2028-03-31"))
	got, _ = s.Contract(ctx, "ENM-1")
	if got.End != "2028-03-31" {
		t.Errorf("after renew End = %s", got.End)
	}
	if hs, _ := s.Hosts(ctx, "ENM-1"); len(hs) != 1 || hs[0].ID != h.ID {
		t.Errorf("renew lost hosts: %+v", hs)
	}
	if ks2, _ := s.LicenseKeys(ctx, "ENM-1"); len(ks2) != 2 {
		t.Errorf("renew lost keys: %+v", ks2)
	}
	wantKind(t, "RenewContract(nope)", s.RenewContract(ctx, "nope", "2030-01-01"), errs.NotFound)
}

func testClaimSeat(t *testing.T, s store.Store) {
	k := contract(t, s, "C1", 2)
	other := contract(t, s, "C2", 1)
	_, _, err := s.ClaimSeat(ctx, store.SeatClaim{KeyHash: []byte("unknown"), MachineID: "m", NewHostID: "x"})
	if !errors.Is(err, store.ErrUnknownKey) {
		t.Errorf("ClaimSeat(unknown key) = %v, want ErrUnknownKey", err)
	}
	refused := errs.E(errs.Entitlement, "contract expired")
	c := claim(k, "m1")
	c.Check = func(got store.Contract) error {
		if got.SupportID != "C1" {
			t.Errorf("Check got contract %s", got.SupportID)
		}
		return refused
	}
	if _, _, err := s.ClaimSeat(ctx, c); err != refused {
		t.Errorf("ClaimSeat with failing Check = %v, want its error", err)
	}
	if hs, _ := s.Hosts(ctx, "C1"); len(hs) != 0 {
		t.Errorf("a refused claim created hosts: %+v", hs)
	}
	h1, reused, err := s.ClaimSeat(ctx, claim(k, "m1"))
	if err != nil || reused || h1.ID != "h-m1-"+k.ID || h1.SupportID != "C1" || h1.KeyID != k.ID || h1.ProductID != "p" {
		t.Fatalf("ClaimSeat(m1) = %+v, %v, %v", h1, reused, err)
	}
	again := claim(k, "m1")
	again.NewHostID, again.SecretHash, again.Hostname = "other-id", []byte("new secret"), "renamed"
	h1b, reused, err := s.ClaimSeat(ctx, again)
	if err != nil || !reused || h1b.ID != h1.ID {
		t.Fatalf("re-claim = %+v, %v, %v; want reused %s", h1b, reused, err, h1.ID)
	}
	stored, err := s.Host(ctx, h1.ID)
	if err != nil || !bytes.Equal(stored.SecretHash, []byte("new secret")) || stored.Hostname != "renamed" {
		t.Errorf("after re-claim Host = %+v, %v", stored, err)
	}
	if !stored.RegisteredAt.Equal(h1.RegisteredAt.Truncate(time.Millisecond)) {
		t.Errorf("re-claim changed RegisteredAt %v → %v", h1.RegisteredAt, stored.RegisteredAt)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(k, "m2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(k, "m3")); !errors.Is(err, store.ErrNoSeat) {
		t.Errorf("third claim on 2 seats = %v, want ErrNoSeat", err)
	}
	if _, _, err := s.ClaimSeat(ctx, claim(other, "m3")); err != nil {
		t.Errorf("claim on another contract = %v", err)
	}
	wantKind(t, "ReleaseSeat(other contract's host)", s.ReleaseSeat(ctx, "C2", h1.ID), errs.NotFound)
	must(t, s.ReleaseSeat(ctx, "C1", h1.ID))
	_, err = s.Host(ctx, h1.ID)
	wantKind(t, "Host(released)", err, errs.NotFound)
	if _, _, err := s.ClaimSeat(ctx, claim(k, "m3")); err != nil {
		t.Errorf("claim after release = %v", err)
	}
	seen := time.Unix(1760000000, 0).UTC()
	hs, _ := s.Hosts(ctx, "C1")
	must(t, s.TouchHost(ctx, hs[0].ID, seen))
	got, _ := s.Host(ctx, hs[0].ID)
	if !got.LastSeen.Equal(seen) {
		t.Errorf("LastSeen = %v, want %v", got.LastSeen, seen)
	}
	wantKind(t, "TouchHost(nope)", s.TouchHost(ctx, "nope", seen), errs.NotFound)
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
	hs, err := s.Hosts(ctx, "C")
	if err != nil || len(hs) != 5 {
		t.Fatalf("Hosts = %d, %v; want 5", len(hs), err)
	}
	for _, h := range hs {
		if _, reused, err := s.ClaimSeat(ctx, claim(k, h.MachineID)); err != nil || !reused {
			t.Errorf("re-claim of %s = %v, reused %v", h.MachineID, err, reused)
		}
	}
}

func testPackages(t *testing.T, s store.Store) {
	meta := []byte("バイナリ\x00\xff\xfe<package/>")
	p := store.Package{ID: "id1", Blob: "b1", Format: "rpm", Name: "n", Version: "1:1.0-1", Arch: "x86_64", Location: "Packages/n.rpm", Size: 42, Meta: meta}
	must(t, s.PutPackages(ctx, []store.Package{p}))
	must(t, s.PutPackages(ctx, []store.Package{p}))
	got, err := s.Packages(ctx, []string{"id1"})
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Meta, meta) || got[0].Version != "1:1.0-1" || got[0].Size != 42 {
		t.Fatalf("Packages = %+v, %v", got, err)
	}
	_, err = s.Packages(ctx, []string{"id1", "missing"})
	wantKind(t, "Packages(missing)", err, errs.NotFound)
	if got, err := s.Packages(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Packages(nil) = %v, %v", got, err)
	}
	const n = 40000
	many := make([]store.Package, n)
	ids := make([]string, n)
	for i := range many {
		many[i] = store.Package{ID: fmt.Sprintf("pkg-%05d", i), Blob: "b", Format: "rpm", Name: "x", Location: fmt.Sprintf("l%d", i), Meta: []byte{byte(i)}}
		ids[n-1-i] = many[i].ID // ask in reverse order
	}
	must(t, s.PutPackages(ctx, many))
	got, err = s.Packages(ctx, ids)
	if err != nil || len(got) != n {
		t.Fatalf("Packages(%d ids) = %d, %v", n, len(got), err)
	}
	for i := range got {
		if got[i].ID != ids[i] {
			t.Fatalf("Packages order: [%d] = %s, want %s", i, got[i].ID, ids[i])
		}
	}
}

func testPublications(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "r1", ProductID: "p", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "r2", ProductID: "p", Format: "rpm"}))
	var ids []int64
	var base int64
	for i := 0; i < 3; i++ {
		id, err := s.CommitPublication(ctx, store.Publication{RepoID: "r1", CreatedAt: time.Unix(int64(1700000000+i), 0), Packages: i, Manifest: fmt.Sprint("m", i), Base: base})
		must(t, err)
		base = id
		ids = append(ids, id)
		r, _ := s.Repo(ctx, "r1")
		if r.Current != id {
			t.Errorf("after commit %d Current = %d", id, r.Current)
		}
	}
	other, err := s.CommitPublication(ctx, store.Publication{RepoID: "r2", CreatedAt: time.Now(), Manifest: "x"})
	must(t, err)
	// A commit built on a publication that is no longer current is refused.
	if _, err := s.CommitPublication(ctx, store.Publication{RepoID: "r1", Manifest: "stale", Base: ids[0]}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CommitPublication on a stale base = %v, want ErrConflict", err)
	}
	pubs, err := s.Publications(ctx, "r1")
	if err != nil || len(pubs) != 3 || pubs[0].ID != ids[2] || pubs[2].ID != ids[0] || pubs[1].Manifest != "m1" || pubs[1].Packages != 1 {
		t.Errorf("Publications = %+v, %v", pubs, err)
	}
	if !pubs[2].CreatedAt.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("CreatedAt = %v", pubs[2].CreatedAt)
	}
	must(t, s.SetCurrent(ctx, "r1", ids[0]))
	if r, _ := s.Repo(ctx, "r1"); r.Current != ids[0] {
		t.Errorf("after SetCurrent Current = %d, want %d", r.Current, ids[0])
	}
	wantKind(t, "SetCurrent(other repo's publication)", s.SetCurrent(ctx, "r1", other), errs.NotFound)
	wantKind(t, "SetCurrent(unknown)", s.SetCurrent(ctx, "r1", 99999), errs.NotFound)
	if r, _ := s.Repo(ctx, "r1"); r.Current != ids[0] {
		t.Errorf("a refused SetCurrent changed Current to %d", r.Current)
	}
	p, err := s.Publication(ctx, ids[1])
	if err != nil || p.RepoID != "r1" || p.Manifest != "m1" {
		t.Errorf("Publication = %+v, %v", p, err)
	}
	_, err = s.Publication(ctx, 99999)
	wantKind(t, "Publication(unknown)", err, errs.NotFound)
	_, err = s.CommitPublication(ctx, store.Publication{RepoID: "nope", Manifest: "x"})
	if err == nil {
		t.Error("CommitPublication for an unknown repository succeeded")
	}
}

func testSettings(t *testing.T, s store.Store) {
	_, err := s.Setting(ctx, "k")
	wantKind(t, "Setting(unset)", err, errs.NotFound)
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
		if !bytes.Equal(r, results[0]) {
			t.Fatalf("PutSettingIfAbsent results differ: %q", results)
		}
	}
	got, err := s.Setting(ctx, "k")
	if err != nil || !bytes.Equal(got, results[0]) {
		t.Errorf("Setting = %q, %v; want %q", got, err, results[0])
	}
}
