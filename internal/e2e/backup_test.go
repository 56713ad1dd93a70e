package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

// moveHost points a host's enmei state and repository files at another server.
func moveHost(t *testing.T, h *host, from, to string) {
	t.Helper()
	for _, dir := range []string{"etc/enmei", "etc/yum.repos.d"} {
		entries, _ := os.ReadDir(filepath.Join(h.root, dir))
		for _, e := range entries {
			p := filepath.Join(h.root, dir, e.Name())
			b, err := os.ReadFile(p)
			must(t, err)
			must(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), from, to)), 0o600))
		}
	}
}

// TestBackupRestore takes a backup while packages are published and
// downloaded, restores it into empty storage (from SQLite into PostgreSQL),
// and a host registered before the backup installs with the real dnf from
// the restored server with the credential it has.
func TestBackupRestore(t *testing.T) {
	const pass = "correct horse battery staple"
	v, c := demoVendor(t, "el9", 3)
	h := newHost(t, almaRelease, machineID(500))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	if out, err := h.dnf("install", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	id := h.identity()

	// Publishing and downloading go on while the backup is taken.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var downloadErrs atomic.Int64
	wg.Add(2)
	var published atomic.Int64
	spec := demo.Catalogue()[0]
	go func() {
		defer wg.Done()
		for rel := 2; !stop.Load(); rel++ {
			spec.Release = fmt.Sprint(rel)
			data, err := demo.RPM(spec)
			if err != nil {
				t.Error(err)
				return
			}
			p := filepath.Join(t.TempDir(), demo.FileName(spec, "rpm"))
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Error(err)
				return
			}
			if r := v.admin("publish", "el9-x86_64", p); r.code != 0 {
				t.Errorf("publish during the backup: exit %d\n%s", r.code, r.stderr)
				return
			}
			published.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			resp, _ := get(t, "GET", v.url+"/repos/el9-x86_64/repodata/repomd.xml", id.HostID, id.Secret, nil)
			if resp.StatusCode != http.StatusOK {
				downloadErrs.Add(1)
			}
		}
	}()
	file := filepath.Join(t.TempDir(), "enmei.tar.gz")
	v.extra = append(v.extra, "ENMEI_BACKUP_PASSPHRASE="+pass)
	for published.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	v.must("backup", "--out", file, "--include-keys")
	during := published.Load()
	for published.Load() < during+1 && !t.Failed() {
		time.Sleep(10 * time.Millisecond) // one more publish after the backup
	}
	stop.Store(true)
	wg.Wait()
	if n := downloadErrs.Load(); n > 0 {
		t.Errorf("%d downloads failed while the backup was taken", n)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	source := v.publications("el9-x86_64")
	var contractBefore map[string]any
	v.mustJSON(&contractBefore, "contract", "show", c.SupportID)

	// A wrong passphrase restores nothing.
	bad := newVendor(t, "")
	bad.extra = append(bad.extra, "ENMEI_BACKUP_PASSPHRASE=not the passphrase")
	if r := bad.admin("restore", file); r.code == 0 || !strings.Contains(r.stderr, "passphrase") {
		t.Errorf("restore with a wrong passphrase: exit %d\n%s", r.code, r.stderr)
	}
	if r := bad.admin("--json", "publication", "list", "el9-x86_64"); r.code == 0 {
		t.Errorf("a refused restore left the repository behind:\n%s", r.stdout)
	}
	// Nothing was left half-written: the same storage takes the restore.
	bad.extra = append(bad.extra, "ENMEI_BACKUP_PASSPHRASE="+pass)
	bad.must("restore", file)

	// Restore into an empty PostgreSQL database and data directory.
	w := newVendor(t, pgtest.NewDatabase(t))
	w.extra = append(w.extra, "ENMEI_BACKUP_PASSPHRASE="+pass)
	w.must("restore", file)
	for _, k := range []string{"signing-key.asc", "ca-key.pem"} {
		if fi, err := os.Stat(filepath.Join(w.data, k)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s restored with mode %v", k, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(w.data, "signing-key.asc")); err != nil {
		t.Errorf("the signing key was not restored: %v", err)
	}
	restored := w.publications("el9-x86_64")
	if len(restored) >= len(source) {
		t.Errorf("the backup holds %d publications, the source %d: publishing did not go on during and after it", len(restored), len(source))
	}
	var last int64
	for _, p := range restored {
		last = max(last, p.ID)
	}
	var want []pubRow
	for _, p := range source {
		if p.ID <= last {
			want = append(want, p)
		}
	}
	// The backup holds the publications of one moment: the source's list
	// up to its newest one, with the current one as it was then.
	for i := range want {
		want[i].Current = false
	}
	for i := range restored {
		restored[i].Current = false
	}
	gotJSON, _ := json.Marshal(restored)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("restored publications\n%s\nwant the source's up to %d\n%s", gotJSON, last, wantJSON)
	}
	var contractAfter map[string]any
	w.mustJSON(&contractAfter, "contract", "show", c.SupportID)
	for _, m := range []map[string]any{contractBefore, contractAfter} {
		for _, hh := range m["hosts"].([]any) {
			delete(hh.(map[string]any), "last_seen")
		}
		delete(m, "valid")
	}
	a, _ := json.Marshal(contractBefore)
	b, _ := json.Marshal(contractAfter)
	if string(a) != string(b) {
		t.Errorf("contract show after restore\n%s\nwant\n%s", b, a)
	}
	if r := w.admin("restore", file); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a database that is not empty: exit %d\n%s", r.code, r.stderr)
	}

	// The host registered before the backup installs from the restored server.
	w.serve()
	moveHost(t, h, v.url, w.url)
	if out, err := h.dnf("reinstall", "enmei-demo-hello"); err != nil {
		t.Fatalf("dnf from the restored server: %v\n%s", err, out)
	}
	if out := h.mustEnmei("status"); !strings.Contains(out, c.SupportID) {
		t.Errorf("enmei status against the restored server:\n%s", out)
	}
}
