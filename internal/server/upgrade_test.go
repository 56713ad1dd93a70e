package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/upgradepath"
)

// publishRPM publishes one package into a repository of the fixture.
func (f *fixture) publishRPM(t *testing.T, repo, name, version string) store.Publication {
	t.Helper()
	data, err := demo.RPM(demo.Spec{Name: name, Version: version, Release: "1.el9", Arch: "x86_64", Summary: "s",
		Files: map[string]string{fmt.Sprintf("/usr/share/%s/%s", name, version): version}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%s.rpm", name, version))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := f.pub.Publish(context.Background(), repo, []string{file}, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Publication
}

// TestUpgradePaths: a host gets its product's rules, each with the newest
// version of the package its product's repositories serve now.
func TestUpgradePaths(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Before any rule: an empty list, not null.
	code, body := f.getAs(t, f.host, "/api/v1/upgrade-paths")
	if code != 200 || body != `{"rules":[]}`+"\n" {
		t.Fatalf("no rules: %d %s", code, body)
	}

	f.publishRPM(t, "r", "lifekeeper", "9.5.3")
	keep := f.publishRPM(t, "r", "lifekeeper", "9.6.1")
	f.publishRPM(t, "r", "lifekeeper", "9.7.0")
	// 9.7.0 was withdrawn: only the current publication counts.
	_, err := f.pub.Rollback(ctx, "r", keep.ID)
	must(err)
	must(f.db.AddRepo(ctx, store.Repo{ID: "r2", ProductID: "p", Format: "rpm"}))
	_, err = f.pub.Republish(ctx, "r2")
	must(err)
	f.publishRPM(t, "r2", "lifekeeper", "9.6.0")
	f.publishRPM(t, "r2", "agent-kit", "2.0.4")

	lk := store.UpgradeRule{ProductID: "p", Package: "lifekeeper", To: "9.6", From: []string{"9.4", "9.5"}, Via: "9.4", Note: "a new licence is needed from 8.1"}
	must(f.db.PutUpgradeRule(ctx, lk))
	must(f.db.PutUpgradeRule(ctx, store.UpgradeRule{ProductID: "p", Package: "agent-kit", To: "2.0", From: []string{"1.9"}}))
	must(f.db.PutUpgradeRule(ctx, store.UpgradeRule{ProductID: "p", Package: "ghost", To: "1.0", From: []string{"0.9"}}))
	// Another product's rules are not this host's business.
	must(f.db.AddProduct(ctx, store.Product{ID: "q", Name: "Q", Format: "rpm"}))
	must(f.db.PutUpgradeRule(ctx, store.UpgradeRule{ProductID: "q", Package: "lifekeeper", To: "9.7", From: []string{"9.6"}}))

	f.advance(6 * time.Second) // past the repository cache
	code, body = f.getAs(t, f.host, "/api/v1/upgrade-paths")
	if code != 200 {
		t.Fatalf("GET /api/v1/upgrade-paths: %d %s", code, body)
	}
	var got api.UpgradePaths
	must(json.Unmarshal([]byte(body), &got))
	want := []api.UpgradeRule{
		{Product: "p", Package: "agent-kit", To: "2.0", From: []string{"1.9"}, Latest: "2.0.4"},
		{Product: "p", Package: "ghost", To: "1.0", From: []string{"0.9"}, Latest: ""},
		{Product: "p", Package: "lifekeeper", To: "9.6", From: []string{"9.4", "9.5"}, Via: "9.4", Note: "a new licence is needed from 8.1", Latest: "9.6.1"},
	}
	if !reflect.DeepEqual(got.Rules, want) {
		t.Errorf("rules =\n %+v\nwant\n %+v", got.Rules, want)
	}
	// What the agent then decides.
	refusals := upgradepath.Check(got.Rules, map[string]string{"lifekeeper": "9.2.1-1.el9", "agent-kit": "1.9.3-1", "ghost": "0.1-1"})
	if len(refusals) != 1 || refusals[0].Message !=
		"lifekeeper 9.2.1 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6; a new licence is needed from 8.1" {
		t.Errorf("Check = %+v", refusals)
	}

	// The host credential is needed, and a live contract.
	if code := f.getAs401(t, "/api/v1/upgrade-paths"); code != http.StatusUnauthorized {
		t.Errorf("wrong credential: %d, want 401", code)
	}
	f.advance(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC).Sub(f.clock()))
	if code, body := f.getAs(t, f.host, "/api/v1/upgrade-paths"); code != http.StatusForbidden {
		t.Errorf("after the contract ended: %d %s, want 403", code, body)
	}
}

// getAs401 makes a request with a well-formed but wrong secret.
func (f *fixture) getAs401(t *testing.T, path string) int {
	t.Helper()
	wrong := f.host
	wrong.Secret = entitle.NewSecret()
	code, _ := f.getAs(t, wrong, path)
	return code
}
