package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/repoconf"
	"github.com/enmei-project/enmei/internal/store"
)

// postText registers with ?format=… and Accept: text/plain, as register.sh
// does.
func (f *fixture) postText(t *testing.T, query string, req api.RegisterRequest) (int, string, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/register"+query, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(data)
}

// TestRegisterYumRepo: ?format=yum-repo answers with the enmei.repo the
// agent renders (the repositories that fit the host's architecture, the new
// credential, the public URL), errors come as one plain sentence, and a key
// whose product has no RPM repository for the host takes no seat.
func TestRegisterYumRepo(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PublicURL = "https://els.example.jp/" })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.db.AddProduct(ctx, store.Product{ID: "el6", Name: "CentOS 6 ELS", Format: "rpm", OSID: "centos", OSVersion: "6"}))
	for _, r := range []store.Repo{
		{ID: "el6-x86_64", ProductID: "el6", Format: "rpm", Arch: "x86_64"},
		{ID: "el6-aarch64", ProductID: "el6", Format: "rpm", Arch: "aarch64"},
		{ID: "el6-noarch", ProductID: "el6", Format: "rpm", Arch: "noarch"},
	} {
		must(f.db.AddRepo(ctx, r))
	}
	must(f.db.AddProduct(ctx, store.Product{ID: "deb12", Name: "Debian 12", Format: "deb"}))
	must(f.db.AddRepo(ctx, store.Repo{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"}))
	k, id, hash := newKey()
	dk, did, dhash := newKey()
	must(f.db.AddContract(ctx, store.Contract{SupportID: "E", Customer: "C", Plan: "server", Products: []string{"el6", "deb12"},
		Quantity: 1, Start: "2026-01-01", End: "2026-12-31", Contact: "a@example.com"},
		[]store.LicenseKey{{ID: id, SupportID: "E", ProductID: "el6", Hash: hash}, {ID: did, SupportID: "E", ProductID: "deb12", Hash: dhash}}))
	el6 := api.RegisterRequest{Key: k, MachineID: "0123456789abcdef0e16", Hostname: "legacy", OSID: "centos", OSVersion: "6.10", OSLike: []string{"rhel", "fedora"}, Arch: "x86_64"}

	code, ctype, body := f.postText(t, "?format=yum-repo", el6)
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("register ?format=yum-repo: %d %s\n%s", code, ctype, body)
	}
	hosts, _ := f.db.Hosts(ctx, "E", time.Now())
	if len(hosts) != 1 {
		t.Fatalf("%d seats taken, want 1", len(hosts))
	}
	user := strings.TrimPrefix(strings.Split(body[strings.Index(body, "username="):], "\n")[0], "username=")
	pass := strings.TrimPrefix(strings.Split(body[strings.Index(body, "password="):], "\n")[0], "password=")
	want := repoconf.Yum{Server: "https://els.example.jp", Repos: []repoconf.Repo{
		{Repo: api.Repo{ID: "el6-noarch", Name: "CentOS 6 ELS (el6-noarch)", Path: "/repos/el6-noarch/"}, HostID: hosts[0].ID, Secret: pass},
		{Repo: api.Repo{ID: "el6-x86_64", Name: "CentOS 6 ELS (el6-x86_64)", Path: "/repos/el6-x86_64/"}, HostID: hosts[0].ID, Secret: pass},
	}}
	if user != hosts[0].ID || body != string(want.Render()) {
		t.Errorf("the answer is\n%s\nwant (the agent's rendering)\n%s", body, want.Render())
	}
	// The credential works.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/status", nil)
	req.SetBasicAuth(user, pass)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("status with the .repo's credential: %v %v", resp.StatusCode, err)
	}

	for _, tt := range []struct {
		name, query string
		req         api.RegisterRequest
		code        int
		want        string
	}{
		{"no seat left", "?format=yum-repo", api.RegisterRequest{Key: k, MachineID: "0123456789abcdef0e17", OSID: "centos", OSVersion: "6.10", Arch: "x86_64"}, 403, "no seat left on this licence key: all 1 seats of contract E are in use"},
		{"unknown key", "?format=yum-repo", api.RegisterRequest{Key: "EK-00000-00000-00000-00000-00000", MachineID: "0123456789abcdef0e18"}, 403, "the licence key is not known"},
		{"another OS", "?format=yum-repo", api.RegisterRequest{Key: k, MachineID: "0123456789abcdef0e19", OSID: "centos", OSVersion: "7", Arch: "x86_64"}, 403, "the licence key is for el6"},
		{"no RPM repository", "?format=yum-repo", api.RegisterRequest{Key: dk, MachineID: "0123456789abcdef0e20", OSID: "centos", OSVersion: "6.10", Arch: "x86_64"}, 403, "the licence key is for deb12, which has no RPM repository for x86_64 hosts"},
		{"unknown format", "?format=json5", el6, 400, "the registration format \"json5\" is not one this server knows"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, ctype, body := f.postText(t, tt.query, tt.req)
			if code != tt.code || !strings.HasPrefix(ctype, "text/plain") || !strings.HasPrefix(body, tt.want) || strings.Count(body, "\n") != 1 {
				t.Errorf("register = %d %s %q; want %d, one line starting %q", code, ctype, body, tt.code, tt.want)
			}
		})
	}
	if hosts, _ := f.db.Hosts(ctx, "E", time.Now()); len(hosts) != 1 {
		t.Errorf("refused registrations changed the seats: %d", len(hosts))
	}

	// Without the parameter and without Accept: text/plain, nothing changed.
	code, body2 := f.register(t, api.RegisterRequest{Key: "EK-00000-00000-00000-00000-00000", MachineID: "0123456789abcdef0e22"})
	var e api.Error
	if code != 403 || json.Unmarshal(body2, &e) != nil || e.Kind != "entitlement" {
		t.Errorf("a JSON client's refusal: %d %s", code, body2)
	}
}
