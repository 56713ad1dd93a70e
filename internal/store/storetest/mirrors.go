package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func testMirrors(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "alma9", Name: "AlmaLinux 9", Format: "rpm"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "alma9-baseos", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "alma9-els", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}))
	if r, err := s.Repo(ctx, "alma9-baseos"); err != nil || r.Mirror != nil {
		t.Fatalf("a new repository: %+v, %v; want no mirror", r, err)
	}
	m := &store.Mirror{URL: "https://repo.almalinux.org/almalinux/9.4/BaseOS/x86_64/os/", Key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…",
		Arch: []string{"x86_64", "noarch"}, Frozen: "2026-05-31", Revision: "1717000000", SyncedAt: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	must(t, s.SetMirror(ctx, "alma9-baseos", m))
	r, err := s.Repo(ctx, "alma9-baseos")
	must(t, err)
	if !reflect.DeepEqual(r.Mirror, m) {
		t.Errorf("Repo().Mirror = %+v, want %+v", r.Mirror, m)
	}
	repos, err := s.Repos(ctx, "alma9")
	must(t, err)
	if len(repos) != 2 || repos[0].Mirror == nil || repos[0].Mirror.URL != m.URL || repos[1].Mirror != nil {
		t.Errorf("Repos(alma9) = %+v", repos)
	}
	deb := &store.Mirror{URL: "http://archive.debian.org/debian/", Suite: "buster", Components: []string{"main", "contrib"}, AllowExpired: true}
	must(t, s.AddProduct(ctx, store.Product{ID: "deb10", Name: "Debian 10", Format: "deb"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "deb10-main", ProductID: "deb10", Format: "deb", Suite: "buster", Component: "main", Mirror: deb}))
	if r, err := s.Repo(ctx, "deb10-main"); err != nil || !reflect.DeepEqual(r.Mirror, deb) {
		t.Errorf("AddRepo with a mirror: %+v, %v", r.Mirror, err)
	}
	must(t, s.SetMirror(ctx, "alma9-baseos", nil))
	if r, err := s.Repo(ctx, "alma9-baseos"); err != nil || r.Mirror != nil {
		t.Errorf("after SetMirror(nil): %+v, %v", r.Mirror, err)
	}
	wantKind(t, "SetMirror(unknown)", s.SetMirror(ctx, "nope", m), errs.NotFound)
}

func testMirrorAccounts(t *testing.T, s store.Store) {
	must(t, s.AddProduct(ctx, store.Product{ID: "alma9", Name: "AlmaLinux 9", Format: "rpm"}))
	c := store.Contract{SupportID: "M1", Customer: "ミラー株式会社", Plan: "server", Products: []string{"alma9"},
		Quantity: 1, Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.jp", AllowMirror: true, CreatedAt: claimTime}
	must(t, s.AddContract(ctx, c, nil))
	if got, err := s.Contract(ctx, "M1"); err != nil || !got.AllowMirror || got.AllowOffline {
		t.Errorf("Contract(M1) = %+v, %v; want mirror use and no offline use", got, err)
	}
	gen, err := s.Generation(ctx)
	must(t, err)
	created := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	a := store.MirrorAccount{ID: "m_aaaaaaaaaaaaaaaa", SupportID: "M1", SecretHash: []byte{1, 2, 3}, CreatedAt: created}
	must(t, s.PutMirrorAccount(ctx, a))
	if got, err := s.MirrorAccount(ctx, a.ID); err != nil || got.SupportID != "M1" || !reflect.DeepEqual(got.SecretHash, a.SecretHash) || !got.CreatedAt.Equal(created) {
		t.Errorf("MirrorAccount = %+v, %v", got, err)
	}
	// A new account replaces the contract's old one, which stops existing.
	b := store.MirrorAccount{ID: "m_bbbbbbbbbbbbbbbb", SupportID: "M1", SecretHash: []byte{4}, CreatedAt: created}
	must(t, s.PutMirrorAccount(ctx, b))
	_, err = s.MirrorAccount(ctx, a.ID)
	wantKind(t, "the replaced account", err, errs.NotFound)
	if got, err := s.ContractMirrorAccount(ctx, "M1"); err != nil || got.ID != b.ID {
		t.Errorf("ContractMirrorAccount = %+v, %v", got, err)
	}
	if now, err := s.Generation(ctx); err != nil || now == gen {
		t.Errorf("generation %d → %d, %v: replacing an account must move it", gen, now, err)
	}
	wantKind(t, "PutMirrorAccount(no contract)", s.PutMirrorAccount(ctx, store.MirrorAccount{ID: "m_cccccccccccccccc", SupportID: "nope", CreatedAt: created}), errs.NotFound)
	_, err = s.ContractMirrorAccount(ctx, "nope")
	wantKind(t, "ContractMirrorAccount(nope)", err, errs.NotFound)

	must(t, s.SetContractTerms(ctx, "M1", false, true))
	if got, err := s.Contract(ctx, "M1"); err != nil || got.AllowMirror || !got.AllowOffline {
		t.Errorf("after SetContractTerms: %+v, %v", got, err)
	}
	wantKind(t, "SetContractTerms(nope)", s.SetContractTerms(ctx, "nope", true, true), errs.NotFound)
}
