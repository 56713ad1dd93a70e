package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// demoState is remembered so a restarted demo prints the same key: a demo
// key is not a secret worth hashing away.
type demoState struct {
	SupportID string            `json:"support_id"`
	Keys      map[string]string `json:"keys"` // product → licence key
}

const (
	demoRPMProduct = "demo-el9"
	demoDebProduct = "demo-debian12"
	demoRPMRepo    = "demo-el9-x86_64"
	demoDebRepo    = "demo-debian12-main"
)

// seedDemo creates the demo catalogue on first use and prints how to try it.
func (a *app) seedDemo(ctx context.Context, key *sign.Key, public string) error {
	var st demoState
	raw, err := a.st.Setting(ctx, "demo")
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("reading demo state: %w", err)
		}
	case errs.Is(err, errs.NotFound):
		st, err = a.createDemo(ctx, key)
		if err != nil {
			return err
		}
	default:
		return err
	}
	w := a.stderr
	fmt.Fprintf(w, "\nenmei demo is ready.\n  portal:      %s/\n  support ID:  %s\n", public, st.SupportID)
	fmt.Fprintf(w, "\nOn an AlmaLinux/Rocky/RHEL host (as root):\n  enmei register --server %s --key %s\n  dnf install -y enmei-demo-hello\n", public, st.Keys[demoRPMProduct])
	fmt.Fprintf(w, "\nOn a Debian/Ubuntu host (as root):\n  enmei register --server %s --key %s\n  apt-get update && apt-get install -y enmei-demo-hello\n", public, st.Keys[demoDebProduct])
	customer, admin, err := a.demoLinks(ctx, st.SupportID, public)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCustomer portal (one-time link, 15 minutes; in demo mode the links /login mails are also printed here):\n  %s\n", customer)
	fmt.Fprintf(w, "\nVendor console: set a password for %s (one-time link), then log in at %s/admin/\n  %s\n\n", demoAdmin, public, admin)
	return nil
}

const demoAdmin = "admin@demo.example.jp"

// demoLinks makes a fresh customer login link for the demo contract and a
// set-password link for the demo admin, so the portal can be tried without
// a mail server. Each start prints new ones.
func (a *app) demoLinks(ctx context.Context, supportID, public string) (customer, admin string, err error) {
	token, hash := account.NewToken()
	now := a.now()
	err = a.st.AddLink(ctx, store.Link{Hash: hash, Purpose: account.LinkLogin, Subject: supportID, CreatedAt: now,
		ExpiresAt: now.Add(account.LoginLinkTTL)}, nil, 0, now)
	if err != nil {
		return "", "", err
	}
	customer = public + "/login/link?token=" + token
	u, err := a.st.User(ctx, demoAdmin)
	isNew := errs.Is(err, errs.NotFound)
	if isNew {
		u = store.User{Email: demoAdmin, Role: account.RoleAdmin, CreatedAt: now}
	} else if err != nil {
		return "", "", err
	}
	admin, _, err = a.passwordLink(ctx, public, u, isNew)
	return customer, admin, err
}

func (a *app) createDemo(ctx context.Context, key *sign.Key) (demoState, error) {
	products := []store.Product{
		{ID: demoRPMProduct, Name: "enmei demo for EL9", Format: "rpm"},
		{ID: demoDebProduct, Name: "enmei demo for Debian 12", Format: "deb"},
	}
	repos := []store.Repo{
		{ID: demoRPMRepo, ProductID: demoRPMProduct, Format: "rpm"},
		{ID: demoDebRepo, ProductID: demoDebProduct, Format: "deb", Suite: "bookworm", Component: "main"},
	}
	for _, p := range products {
		if err := a.st.AddProduct(ctx, p); err != nil && !errs.Is(err, errs.Exists) {
			return demoState{}, err
		}
	}
	if err := os.MkdirAll(a.stagingDir(), 0o700); err != nil {
		return demoState{}, err
	}
	tmp, err := os.MkdirTemp(a.stagingDir(), "enmei-demo-*")
	if err != nil {
		return demoState{}, err
	}
	defer os.RemoveAll(tmp)
	pub := &publish.Publisher{Store: a.st, Blobs: a.blobs, Key: key, Now: a.now, Log: a.log, TempDir: a.stagingDir()}
	for _, r := range repos {
		if err := a.st.AddRepo(ctx, r); err != nil && !errs.Is(err, errs.Exists) {
			return demoState{}, err
		}
		files, err := demo.Files(r.Format)
		if err != nil {
			return demoState{}, fmt.Errorf("building demo packages: %w", err)
		}
		var paths []string
		for name, data := range files {
			p := filepath.Join(tmp, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return demoState{}, err
			}
			paths = append(paths, p)
		}
		if _, err := pub.Publish(ctx, r.ID, paths, publish.Options{}); err != nil {
			return demoState{}, err
		}
	}
	today := a.now().In(entitle.Tokyo)
	c, keys, err := a.newContract(ctx, store.Contract{
		Customer: "デモ株式会社 (Demo K.K.)", Products: []string{demoRPMProduct, demoDebProduct}, Plan: "server", Quantity: 10,
		Start: today.Format(entitle.DateLayout), End: today.AddDate(1, 0, -1).Format(entitle.DateLayout),
		Contact: "ops@demo.example.jp",
	}, "")
	if err != nil {
		return demoState{}, err
	}
	st := demoState{SupportID: c.SupportID, Keys: map[string]string{}}
	for i, p := range c.Products {
		st.Keys[p] = keys[i]
	}
	raw, _ := json.Marshal(st)
	stored, err := a.st.PutSettingIfAbsent(ctx, "demo", raw)
	if err != nil {
		return demoState{}, err
	}
	// Another process seeded at the same moment: use what it stored.
	var final demoState
	if err := json.Unmarshal(stored, &final); err != nil {
		return demoState{}, err
	}
	return final, nil
}
