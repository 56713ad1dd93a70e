package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// lifekeeperRule is the HA-cluster upgrade guide's rule as data.
var lifekeeperRule = store.UpgradeRule{ProductID: "ha", Package: "lifekeeper", To: "9.6", From: []string{"9.4", "9.5"}, Via: "9.4",
	Note: "8.1 からは新しいライセンスが必要です"}

func testUpgradePaths(t *testing.T, s store.Store) {
	if rs, err := s.UpgradeRules(ctx); err != nil || len(rs) != 0 {
		t.Errorf("UpgradeRules(empty store) = %+v, %v", rs, err)
	}
	wantKind(t, "PutUpgradeRule(unknown product)", s.PutUpgradeRule(ctx, lifekeeperRule), errs.NotFound)
	must(t, s.AddProduct(ctx, store.Product{ID: "ha", Name: "HA", Format: "rpm"}))
	must(t, s.AddProduct(ctx, store.Product{ID: "other", Name: "Other", Format: "deb"}))
	must(t, s.PutUpgradeRule(ctx, lifekeeperRule))
	older := store.UpgradeRule{ProductID: "ha", Package: "lifekeeper", To: "9.4", From: []string{"9.2", "9.3"}}
	must(t, s.PutUpgradeRule(ctx, older))
	kit := store.UpgradeRule{ProductID: "ha", Package: "agent-kit", To: "2.0", From: []string{"1.9"}}
	must(t, s.PutUpgradeRule(ctx, kit))
	deb := store.UpgradeRule{ProductID: "other", Package: "lifekeeper", To: "9.6", From: []string{"9.5"}}
	must(t, s.PutUpgradeRule(ctx, deb))

	got, err := s.UpgradeRules(ctx, "ha")
	must(t, err)
	if want := []store.UpgradeRule{kit, older, lifekeeperRule}; !reflect.DeepEqual(got, want) {
		t.Errorf("UpgradeRules(ha) =\n %+v\nwant\n %+v", got, want)
	}
	if got, err := s.UpgradeRules(ctx); err != nil || len(got) != 4 || got[3].ProductID != "other" {
		t.Errorf("UpgradeRules(all) = %+v, %v", got, err)
	}
	if got, err := s.UpgradeRules(ctx, "other", "ha"); err != nil || len(got) != 4 {
		t.Errorf("UpgradeRules(other, ha) = %+v, %v", got, err)
	}
	if got, err := s.UpgradeRules(ctx, "nope"); err != nil || len(got) != 0 {
		t.Errorf("UpgradeRules(nope) = %+v, %v", got, err)
	}

	// A rule for the same package and target line replaces the old one.
	replaced := lifekeeperRule
	replaced.From, replaced.Via, replaced.Note = []string{"9.5"}, "", ""
	must(t, s.PutUpgradeRule(ctx, replaced))
	got, err = s.UpgradeRules(ctx, "ha")
	must(t, err)
	if len(got) != 3 || !reflect.DeepEqual(got[2], replaced) {
		t.Errorf("after replacing: %+v, want %+v last", got, replaced)
	}

	wantKind(t, "DeleteUpgradeRule(none)", s.DeleteUpgradeRule(ctx, "ha", "lifekeeper", "9.5"), errs.NotFound)
	must(t, s.DeleteUpgradeRule(ctx, "ha", "lifekeeper", "9.6"))
	wantKind(t, "DeleteUpgradeRule(again)", s.DeleteUpgradeRule(ctx, "ha", "lifekeeper", "9.6"), errs.NotFound)
	got, err = s.UpgradeRules(ctx, "ha")
	must(t, err)
	if want := []store.UpgradeRule{kit, older}; !reflect.DeepEqual(got, want) {
		t.Errorf("after deleting: %+v, want %+v", got, want)
	}
	// The other product's rule of the same package and line stays.
	if got, err := s.UpgradeRules(ctx, "other"); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], deb) {
		t.Errorf("UpgradeRules(other) = %+v, %v", got, err)
	}
}

func testPackagesByName(t *testing.T, s store.Store) {
	pkgs := []store.Package{
		{ID: "a1", Blob: "b1", Format: "rpm", Name: "lifekeeper", Version: "9.5.0-1", Arch: "x86_64", Location: "Packages/l/lk-9.5.0.rpm", Size: 1, Meta: []byte("m")},
		{ID: "a2", Blob: "b2", Format: "rpm", Name: "lifekeeper", Version: "9.6.1-1", Arch: "x86_64", Location: "Packages/l/lk-9.6.1.rpm", Size: 2, Meta: []byte("m")},
		{ID: "a3", Blob: "b3", Format: "rpm", Name: "other", Version: "1-1", Arch: "x86_64", Location: "Packages/o/o.rpm", Size: 3, Meta: []byte("m")},
	}
	must(t, s.PutPackages(ctx, pkgs))
	got, err := s.PackagesByName(ctx, []string{"lifekeeper", "absent"})
	must(t, err)
	slices.SortFunc(got, func(a, b store.Package) int { return strings.Compare(a.ID, b.ID) })
	want := []store.Package{pkgs[0], pkgs[1]}
	want[0].Meta, want[1].Meta = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PackagesByName = %+v, want %+v", got, want)
	}
	if got, err := s.PackagesByName(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("PackagesByName(nil) = %+v, %v", got, err)
	}
}
