package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mirrorContract is contract add --json with the individual terms.
type mirrorContract struct {
	SupportID      string `json:"support_id"`
	MirrorAccount  string `json:"mirror_account"`
	MirrorPassword string `json:"mirror_password"`
	AllowMirror    bool   `json:"allow_mirror"`
}

// TestMirrorAccount: a contract with --allow-mirror gets a mirror account
// (no seat) that the customer's own dnf reposync and enmeid repo sync use;
// a contract without it gets none; wrong passwords and withdrawn terms are
// refused on the next request.
func TestMirrorAccount(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	publishRPM(t, v, "el9-x86_64", upstreamSpec("vendor-fix", "1.el9"))
	publishRPM(t, v, "el9-x86_64", upstreamSpec("vendor-tool", "1.el9"))
	start, end := date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0))
	add := func(extra ...string) mirrorContract {
		var c mirrorContract
		v.mustJSON(&c, append([]string{"contract", "add", "--customer", "ミラー株式会社", "--product", "el9", "--plan", "server",
			"--quantity", "1", "--start", start, "--end", end, "--contact", "mirror@example.co.jp"}, extra...)...)
		return c
	}
	plain := add()
	if plain.MirrorAccount != "" || plain.AllowMirror {
		t.Errorf("a contract without --allow-mirror got a mirror account: %+v", plain)
	}
	if r := v.admin("contract", "mirror-account", plain.SupportID); r.code != 1 || !strings.Contains(r.stderr, "does not allow mirroring") {
		t.Errorf("mirror-account of a plain contract: exit %d\n%s", r.code, r.stderr)
	}
	mc := add("--allow-mirror")
	if !strings.HasPrefix(mc.MirrorAccount, "m_") || len(mc.MirrorPassword) != 32 {
		t.Fatalf("contract add --allow-mirror: %+v", mc)
	}
	v.serve()
	keyFile := filepath.Join(t.TempDir(), "vendor.asc")
	must(t, os.WriteFile(keyFile, []byte(v.must("signing-key", "export")), 0o644))

	// The customer's dnf reposync, with the account in its .repo file.
	reposync := func(user, pass string) (string, string, error) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "dnf.conf")
		must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[main]
reposdir=
cachedir=%[1]s/cache
logdir=%[1]s
[enmei-el9]
name=enmei el9 (mirror account)
baseurl=%[2]s/repos/el9-x86_64/
username=%[3]s
password=%[4]s
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://%[5]s
`, dir, v.url, user, pass, keyFile)), 0o600))
		out := filepath.Join(dir, "mirror")
		cmd := exec.Command("dnf", "-y", "-c", conf, "--releasever=9", "--installroot="+filepath.Join(dir, "root"),
			"reposync", "--repoid=enmei-el9", "--download-path="+out, "--norepopath", "--download-metadata")
		cmd.Env = cleanEnv()
		b, err := cmd.CombinedOutput()
		return out, string(b), err
	}
	out, log, err := reposync(mc.MirrorAccount, mc.MirrorPassword)
	if err != nil {
		t.Fatalf("dnf reposync with the mirror account: %v\n%s", err, log)
	}
	for _, f := range []string{"Packages/v/vendor-fix-1.0-1.el9.x86_64.rpm", "Packages/v/vendor-tool-1.0-1.el9.x86_64.rpm", "repodata/repomd.xml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("dnf reposync did not mirror %s: %v\n%s", f, err, log)
		}
	}
	// The mirrored packages carry the vendor's signatures.
	dbdir := t.TempDir()
	if b, err := exec.Command("rpm", "--dbpath", dbdir, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, b)
	}
	if b, err := exec.Command("rpm", "--dbpath", dbdir, "-K", filepath.Join(out, "Packages/v/vendor-fix-1.0-1.el9.x86_64.rpm")).CombinedOutput(); err != nil || !strings.Contains(string(b), "signatures OK") {
		t.Errorf("rpm -K of a mirrored package: %v\n%s", err, b)
	}
	// The account takes no seat: the contract's one seat is still free.
	if show := v.must("contract", "show", mc.SupportID); !strings.Contains(show, "0 of 1 used") || !strings.Contains(show, mc.MirrorAccount) {
		t.Errorf("contract show after mirroring:\n%s", show)
	}
	if _, log, err := reposync(mc.MirrorAccount, strings.Repeat("0", 32)); err == nil {
		t.Errorf("dnf reposync with a wrong password succeeded:\n%s", log)
	}

	// The customer's own enmeid mirrors it too, keeping the vendor's signatures.
	cust := newVendor(t, "")
	cust.must("product", "add", "el9", "--name", "EL9 (from our vendor)", "--format", "rpm")
	cust.must("repo", "add", "el9-vendor", "--product", "el9", "--arch", "x86_64")
	from := strings.Replace(v.url, "http://", "http://"+mc.MirrorAccount+":"+mc.MirrorPassword+"@", 1) + "/repos/el9-x86_64/"
	var rep syncReport
	cust.mustJSON(&rep, "repo", "sync", "el9-vendor", "--from", from, "--gpgkey", keyFile)
	if rep.Downloaded != 2 || rep.Publication == 0 {
		t.Errorf("enmeid repo sync with the mirror account: %+v", rep)
	}
	if r := cust.admin("repo", "show", "el9-vendor"); strings.Contains(r.stdout, mc.MirrorPassword) {
		t.Errorf("repo show prints the mirror password:\n%s", r.stdout)
	}

	// Terms withdrawn: refused at once (after the server's short cache).
	v.must("contract", "terms", mc.SupportID, "--allow-mirror=false")
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", mc.MirrorAccount, mc.MirrorPassword, nil)
		if resp.StatusCode == http.StatusForbidden && strings.Contains(string(body), "does not allow mirroring") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the withdrawn account still reads: %d %s", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A host's credential never reaches another product's repositories,
	// and a mirror account never registers a host: it is no licence key.
	if resp, _ := get(t, "GET", v.url+"/repos/deb12-main/dists/bookworm/InRelease", mc.MirrorAccount, mc.MirrorPassword, nil); resp.StatusCode == http.StatusOK {
		t.Errorf("the mirror account read another product's repository")
	}
}
