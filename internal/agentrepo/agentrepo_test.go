package agentrepo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkg(t *testing.T, name, format string) []byte {
	t.Helper()
	s := demo.Spec{Name: name, Version: "1.0", Release: "1", Arch: "x86_64", Summary: "s", Description: "d",
		Files: map[string]string{"/usr/bin/" + name: "#!/bin/sh\n"}}
	var data []byte
	var err error
	if format == "rpm" {
		data, err = demo.RPM(s)
	} else {
		data, err = demo.Deb(s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSort(t *testing.T) {
	dir := t.TempDir()
	rpm := write(t, dir, "a.rpm", pkg(t, "enmei", "rpm"))
	deb := write(t, dir, "a.deb", pkg(t, "enmei", "deb"))
	selinux := write(t, dir, "b.rpm", pkg(t, "enmei-selinux", "rpm"))
	got, err := Sort([]string{rpm, deb, selinux})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[RPMRepo]) != 2 || len(got[DebRepo]) != 1 || got[DebRepo][0] != deb {
		t.Errorf("Sort = %v", got)
	}
	for name, data := range map[string][]byte{
		"product.rpm":   pkg(t, "openssl", "rpm"),
		"product.deb":   pkg(t, "enmeid", "deb"),
		"notes.txt":     []byte("hello, world"),
		"truncated.rpm": pkg(t, "enmei", "rpm")[:200],
		"empty.deb":     nil,
	} {
		p := write(t, dir, name, data)
		_, err := Sort([]string{rpm, p})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), p) {
			t.Errorf("Sort(%s) = %v, want Invalid naming the file", name, err)
		}
	}
}

func TestScript(t *testing.T) {
	k, err := sign.GenerateBits("vendor", "", "v@example.com", 2048, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Script("https://els.example.co.jp/it's/", k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	armored, _ := k.ArmoredPublic()
	for _, want := range []string{`server='https://els.example.co.jp/it'\''s'`, strings.TrimSpace(string(armored)),
		sign.FormatFingerprint(k.Fingerprint()), "repo_gpgcheck=1", "Signed-By: $keyfile"} {
		if !strings.Contains(s, want) {
			t.Errorf("install.sh lacks %q", want)
		}
	}
	if strings.Contains(s, "@@") {
		t.Errorf("install.sh has template delimiters left")
	}
	// The script is POSIX sh: dash (Debian's sh) parses it.
	for _, script := range []string{s, Unpublished} {
		cmd := exec.Command("dash", "-n")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dash -n: %v\n%s", err, out)
		}
	}
	// Bad options and systems it cannot serve give one line and a failure.
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bogus"}, 2, "unknown option --bogus"},
		{[]string{"--root", "relative"}, 1, "absolute path"},
		{[]string{"--root", root}, 1, "neither of the Red Hat family"},
		{[]string{"--root", filepath.Join(root, "missing")}, 1, "os-release is missing"},
	} {
		cmd := exec.Command("sh", append([]string{"-s", "--"}, c.args...)...)
		cmd.Stdin = strings.NewReader(s)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("install.sh %v: exit %d, %s; want exit %d and %q", c.args, code, out, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/yum.repos.d")); err == nil {
		t.Errorf("a refused run wrote the repository configuration")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnsureAndHandlers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := sign.GenerateBits("vendor", "", "v@example.com", 2048, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux.Handle, Config{PublicURL: "https://els.example", Repo: st.Repo,
		PublicKey: func(context.Context) (*sign.PublicKey, error) { return k.PublicKey(), nil }})
	script := func() string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/install.sh", nil))
		if rec.Code != 200 {
			t.Errorf("GET /install.sh: %d", rec.Code)
		}
		return rec.Body.String()
	}
	if s := script(); s != Unpublished {
		t.Errorf("install.sh before any publish:\n%s", s)
	}
	for range 2 { // idempotent
		must(t, Ensure(ctx, st))
	}
	if ps, _ := st.Products(ctx); len(ps) != 0 {
		t.Errorf("the reserved product is listed among the products on sale: %+v", ps)
	}
	if s := script(); s != Unpublished {
		t.Errorf("install.sh before a publication:\n%s", s)
	}
	if _, err := st.CommitPublication(ctx, store.Publication{RepoID: RPMRepo, CreatedAt: time.Now(), Packages: 1, Manifest: strings.Repeat("a", 64)}); err != nil {
		t.Fatal(err)
	}
	if s := script(); !strings.Contains(s, "server='https://els.example'") {
		t.Errorf("install.sh after a publication:\n%s", s)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/agent/key.asc", nil))
	if armored, _ := k.ArmoredPublic(); rec.Code != 200 || rec.Body.String() != string(armored) {
		t.Errorf("GET /agent/key.asc: %d %s", rec.Code, rec.Body)
	}

	// A product of the reserved name made for something else is refused.
	st2, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	must(t, st2.AddProduct(ctx, store.Product{ID: ProductID, Name: "x", Format: "rpm"}))
	if err := Ensure(ctx, st2); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("Ensure over a vendor's product: %v", err)
	}
}
