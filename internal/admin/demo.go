package admin

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mavenrepo"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

// demoState is remembered so a restarted demo prints the same key: a demo
// key is not a secret worth hashing away.
type demoState struct {
	SupportID string            `json:"support_id"`
	Keys      map[string]string `json:"keys"` // product → licence key
	// The demo's developer-plan contract. Its password is kept (in the
	// demo only) so every start can print it.
	DevSupportID string `json:"dev_support_id,omitempty"`
	DevAccount   string `json:"dev_account,omitempty"`
	DevPassword  string `json:"dev_password,omitempty"`
}

const (
	demoRPMProduct = "demo-el9"
	demoDebProduct = "demo-debian12"
	demoRPMRepo    = "demo-el9-x86_64"
	demoDebRepo    = "demo-debian12-main"
	demoMaven      = "demo-java-1.0"
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
	fmt.Fprintf(w, "\nenmei demo is ready.\n  portal:      %s/\n  security:    %s/security/\n  support ID:  %s\n", public, public, st.SupportID)
	fmt.Fprintf(w, "\nOn an AlmaLinux/Rocky/RHEL host (as root):\n  enmei register --server %s --key %s\n  dnf install -y enmei-demo-hello\n", public, st.Keys[demoRPMProduct])
	fmt.Fprintf(w, "\nOn a Debian/Ubuntu host (as root):\n  enmei register --server %s --key %s\n  apt-get update && apt-get install -y enmei-demo-hello\n", public, st.Keys[demoDebProduct])
	if st.DevAccount != "" {
		fmt.Fprintf(w, "\nDeveloper plan (Maven repository %s/maven/%s/, account page %s/developer/):\n  account %s, password %s\n",
			public, demoMaven, public, st.DevAccount, st.DevPassword)
	}
	customer, admin, err := a.demoLinks(ctx, st.SupportID, public)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCustomer portal (one-time link, 15 minutes; in demo mode the links /login mails are also printed here):\n  %s\n", customer)
	fmt.Fprintf(w, "\nVendor console: set a password for %s (one-time link), then log in at %s/admin/\n  %s\n\n", demoAdmin, public, admin)
	return nil
}

const demoAdmin = "admin@demo.example.jp"

// demoTracker puts a released advisory and a few CVE records on the
// security tracker, so its pages and feeds have something to show. The CVE
// IDs are in a range no real CVE uses (9999xxx).
func (a *app) demoTracker(ctx context.Context, pub *publish.Publisher) error {
	svc := &tracker.Service{Store: a.st, Now: a.now, Log: a.log, PublicURL: a.publicURL()}
	svc.Republish = func(ctx context.Context, repo string) error {
		_, err := pub.Republish(ctx, repo)
		return err
	}
	svc.Changed = func(ctx context.Context) error {
		_, err := a.buildCSAF(ctx, svc)
		return err
	}
	pub.Updateinfo = svc.Updateinfo
	now := a.now().In(entitle.Tokyo)
	year := now.Year()
	cve := func(n int) string { return fmt.Sprintf("CVE-%d-999%04d", year, n) }
	advs, err := svc.Add(ctx, []advisory.Advisory{{Type: "security", Severity: "important", Issued: now.Format(entitle.DateLayout),
		Title:       advisory.Text{Ja: "重要: enmei-demo-hello のセキュリティ更新 (デモ)", En: "Important: enmei-demo-hello security update (demo)"},
		Description: advisory.Text{Ja: "デモ用のアドバイザリです。", En: "An advisory of the demo."},
		CVEs:        []advisory.CVERef{{ID: cve(1), CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		Packages: []advisory.Package{{Repo: demoRPMRepo, NEVRA: "enmei-demo-hello-1.0-1.x86_64"},
			{Repo: demoDebRepo, NEVRA: "enmei-demo-hello_1.0-1_amd64"}}}})
	if err != nil {
		return err
	}
	if _, err := svc.Release(ctx, []string{advs[0].ID}); err != nil {
		return err
	}
	text := func(s string) *string { return &s }
	for _, in := range []tracker.SetCVE{
		{CVE: cve(2), Product: demoRPMProduct, Status: "in-testing", CVSS: text("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"),
			Published: text(now.AddDate(0, 0, -10).Format(entitle.DateLayout)), Packages: []string{"enmei-demo-lib"}},
		{CVE: cve(3), Product: demoDebProduct, Status: "not-vulnerable", Statement: text("The Debian build does not include the affected code. (demo)"),
			Justification: text("vulnerable_code_not_present"), Packages: []string{"enmei-demo-lib"}},
	} {
		if _, err := svc.Set(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

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
	if err := a.demoTracker(ctx, pub); err != nil {
		return demoState{}, fmt.Errorf("seeding the demo tracker: %w", err)
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
		st.Keys[p] = keys.Keys[i]
	}
	if st.DevSupportID, st.DevAccount, st.DevPassword, err = a.demoDeveloper(ctx, today); err != nil {
		return demoState{}, fmt.Errorf("seeding the demo Maven repository: %w", err)
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

// demoDeveloper publishes a small Java library and its source archive to a
// maven product and sells it on the developer plan.
func (a *app) demoDeveloper(ctx context.Context, today time.Time) (supportID, account, password string, err error) {
	if err := a.st.AddProduct(ctx, store.Product{ID: demoMaven, Name: "enmei demo Java library 1.0 ELS", Format: "maven"}); err != nil && !errs.Is(err, errs.Exists) {
		return "", "", "", err
	}
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	mf, err := zw.Create("META-INF/MANIFEST.MF")
	if err != nil {
		return "", "", "", err
	}
	io.WriteString(mf, "Manifest-Version: 1.0\r\nCreated-By: enmei demo\r\n\r\n")
	if err := zw.Close(); err != nil {
		return "", "", "", err
	}
	const pom = `<project><modelVersion>4.0.0</modelVersion><groupId>jp.example.demo</groupId><artifactId>demo-lib</artifactId><version>1.0.1-els1</version></project>`
	dir := "jp/example/demo/demo-lib/1.0.1-els1/"
	p := &mavenrepo.Publisher{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log}
	if _, err := p.Publish(ctx, demoMaven, []mavenrepo.Upload{
		{Path: dir + "demo-lib-1.0.1-els1.pom", Body: strings.NewReader(pom)},
		{Path: dir + "demo-lib-1.0.1-els1.jar", Body: bytes.NewReader(jar.Bytes())},
		{Path: mavenrepo.FilesDir + "sources/demo-lib-1.0.1-els1-src.txt", Body: strings.NewReader("The sources of demo-lib 1.0.1-els1 would be here.\n")},
	}); err != nil {
		return "", "", "", err
	}
	c, issued, err := a.newContract(ctx, store.Contract{
		Customer: "デモ開発株式会社 (Demo Dev K.K.)", Products: []string{demoMaven}, Plan: "developer", Quantity: 5,
		Start: today.Format(entitle.DateLayout), End: today.AddDate(1, 0, -1).Format(entitle.DateLayout),
		Contact: "dev@demo.example.jp",
	}, "")
	if err != nil {
		return "", "", "", err
	}
	return c.SupportID, issued.Account, issued.Password, nil
}
