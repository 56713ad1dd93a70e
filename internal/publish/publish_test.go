package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

func setup(t testing.TB) (*Publisher, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.Generate("t", "t@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}))
	must(t, st.AddRepo(ctx, store.Repo{ID: "r", ProductID: "p", Format: "rpm"}))
	must(t, st.AddRepo(ctx, store.Repo{ID: "x86", ProductID: "p", Format: "rpm", Arch: "x86_64"}))
	return &Publisher{Store: st, Blobs: blobs, Key: key, Now: time.Now, TempDir: filepath.Join(dir, "tmp")}, filepath.Join(dir, "blobs")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rpmFile(t *testing.T, name string) string {
	t.Helper()
	return rpmSpec(t, demo.Spec{Name: name, Version: "1", Release: "1", Arch: "x86_64", Summary: name,
		Files: map[string]string{"/usr/share/" + name: name}})
}

func rpmSpec(t *testing.T, spec demo.Spec) string {
	t.Helper()
	data, err := demo.RPM(spec)
	must(t, err)
	p := filepath.Join(t.TempDir(), spec.Name+".rpm")
	must(t, os.WriteFile(p, data, 0o644))
	return p
}

// served returns path → blob of every file the repository's current
// publication serves.
func served(t *testing.T, p *Publisher, repoID string) (store.Publication, map[string]string) {
	t.Helper()
	ctx := context.Background()
	repo, err := p.Store.Repo(ctx, repoID)
	must(t, err)
	pub, err := p.Store.Publication(ctx, repo.Current)
	must(t, err)
	m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
	must(t, err)
	out := map[string]string{}
	for path, ref := range m.Files {
		out[path] = ref.Sum
	}
	return pub, out
}

func countBlobs(dir string) (n int, size int64) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, _ error) error {
		if d != nil && d.Type().IsRegular() && !strings.Contains(path, "/tmp/") {
			fi, _ := d.Info()
			n++
			size += fi.Size()
		}
		return nil
	})
	return n, size
}

// TestRepublishKeepsBytes: publishing the same files again keeps every
// package's bytes at its URL, stores no new package copy, and changes only
// the publication.
func TestRepublishKeepsBytes(t *testing.T) {
	p, blobDir := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		data, err := os.ReadFile(rpmFile(t, n))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, n+".rpm"), data, 0o644))
	}
	first, err := p.Publish(ctx, "r", []string{dir}, Options{})
	must(t, err)
	pub1, files1 := served(t, p, "r")
	n1, size1 := countBlobs(blobDir)
	time.Sleep(1100 * time.Millisecond) // a new signature would carry a new time
	again, err := p.Publish(ctx, "r", []string{dir}, Options{})
	must(t, err)
	if again.Reused != 3 || first.Reused != 0 {
		t.Errorf("Reused = %d then %d, want 0 then 3", first.Reused, again.Reused)
	}
	pub2, files2 := served(t, p, "r")
	if pub2.ID == pub1.ID || pub2.Packages != 3 {
		t.Errorf("republish: publication %d → %d with %d packages", pub1.ID, pub2.ID, pub2.Packages)
	}
	for path, sum := range files1 {
		if strings.HasPrefix(path, "Packages/") && files2[path] != sum {
			t.Errorf("%s changed bytes on republish: %s → %s", path, sum, files2[path])
		}
	}
	n2, size2 := countBlobs(blobDir)
	// Only the new metadata and manifest may be new: a few small files.
	if n2-n1 > 8 || size2-size1 > 64<<10 {
		t.Errorf("republishing 3 unchanged packages stored %d blobs, %d bytes", n2-n1, size2-size1)
	}
}

// TestSameVersionDifferentBytes: a rebuild with the same name, version and
// architecture but other content is refused, naming both digests, unless
// Replace is given.
func TestSameVersionDifferentBytes(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	spec := demo.Spec{Name: "hello", Version: "1", Release: "1", Arch: "x86_64", Summary: "s", Files: map[string]string{"/usr/share/hello": "one"}}
	orig := rpmSpec(t, spec)
	_, err := p.Publish(ctx, "r", []string{orig}, Options{})
	must(t, err)
	pub1, files1 := served(t, p, "r")
	spec.Files = map[string]string{"/usr/share/hello": "two"}
	rebuilt := rpmSpec(t, spec)
	_, err = p.Publish(ctx, "r", []string{rebuilt}, Options{})
	inOrig, _ := hashFile(ctx, orig)
	inNew, _ := hashFile(ctx, rebuilt)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), inOrig) || !strings.Contains(err.Error(), inNew) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("Publish(rebuild) = %v; want Invalid naming %s and %s and --replace", err, inOrig, inNew)
	}
	if pub, _ := served(t, p, "r"); pub.ID != pub1.ID {
		t.Errorf("a refused publish made publication %d", pub.ID)
	}
	// Two different files for one location in one publish are refused too.
	if _, err := p.Publish(ctx, "x86", []string{orig, rebuilt}, Options{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("Publish(both builds at once) = %v, want Invalid", err)
	}
	_, err = p.Publish(ctx, "r", []string{rebuilt}, Options{Replace: true})
	must(t, err)
	_, files2 := served(t, p, "r")
	loc := "Packages/h/hello-1-1.x86_64.rpm"
	if files1[loc] == "" || files2[loc] == files1[loc] {
		t.Errorf("--replace kept %s at %s", files1[loc], loc)
	}
	// The same input again is not a replacement.
	if _, err := p.Publish(ctx, "r", []string{rebuilt}, Options{}); err != nil {
		t.Errorf("republishing the replacement = %v", err)
	}
}

// TestRollbackIsANewPublication: a rollback re-publishes the old packages
// under new, newer metadata.
func TestRollbackIsANewPublication(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	_, err := p.Publish(ctx, "r", []string{rpmFile(t, "a")}, Options{})
	must(t, err)
	pub1, files1 := served(t, p, "r")
	_, err = p.Publish(ctx, "r", []string{rpmFile(t, "b")}, Options{})
	must(t, err)
	pub2, _ := served(t, p, "r")
	time.Sleep(1100 * time.Millisecond)
	rb, err := p.Rollback(ctx, "r", pub1.ID)
	must(t, err)
	pub3, files3 := served(t, p, "r")
	if rb.ID != pub3.ID || pub3.ID <= pub2.ID || pub3.RollbackOf != pub1.ID || pub3.Packages != 1 {
		t.Errorf("rollback made %+v (current %+v); want a new publication after %d, RollbackOf %d, 1 package", rb, pub3, pub2.ID, pub1.ID)
	}
	for path, sum := range files1 {
		if strings.HasPrefix(path, "Packages/") && files3[path] != sum {
			t.Errorf("rolled-back %s differs: %s → %s", path, sum, files3[path])
		}
	}
	if files3["repodata/repomd.xml"] == files1["repodata/repomd.xml"] {
		t.Error("the rollback serves the old repomd.xml, whose date is older than what hosts have")
	}
	if _, err := p.Rollback(ctx, "r", 99999); !errs.Is(err, errs.NotFound) {
		t.Errorf("Rollback(unknown) = %v, want NotFound", err)
	}
	if _, err := p.Rollback(ctx, "x86", pub1.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("Rollback(another repository's publication) = %v, want NotFound", err)
	}
}

func TestPrune(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c", "d"} {
		_, err := p.Publish(ctx, "r", []string{rpmFile(t, n)}, Options{})
		must(t, err)
	}
	pubs, err := p.Store.Publications(ctx, "r")
	must(t, err)
	// Roll back to the oldest, so the current one is not the newest.
	_, err = p.Rollback(ctx, "r", pubs[len(pubs)-1].ID)
	must(t, err)
	all, _ := p.Store.Publications(ctx, "r")
	deleted, err := p.Prune(ctx, "r", 1)
	must(t, err)
	left, _ := p.Store.Publications(ctx, "r")
	if len(all) != 5 || len(deleted) != 3 || len(left) != 2 {
		t.Fatalf("prune --keep 1 of %d: deleted %v, left %d", len(all), deleted, len(left))
	}
	repo, _ := p.Store.Repo(ctx, "r")
	if left[0].ID != repo.Current || left[1].ID != all[1].ID {
		t.Errorf("prune kept %+v; want the current %d and the newest other %d", left, repo.Current, all[1].ID)
	}
	if d, err := p.Prune(ctx, "r", 0); err != nil || len(d) != 1 {
		t.Errorf("prune --keep 0 = %v, %v; want the one non-current publication", d, err)
	}
	if _, err := p.Prune(ctx, "r", -1); !errs.Is(err, errs.Invalid) {
		t.Errorf("prune --keep -1 = %v", err)
	}
}

// TestArchitectures: an x86_64 repository takes x86_64, noarch and i686
// (multilib) packages, and refuses others.
func TestArchitectures(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	var ok []string
	for _, arch := range []string{"x86_64", "noarch", "i686"} {
		ok = append(ok, rpmSpec(t, demo.Spec{Name: "lib-" + arch, Version: "1", Release: "1", Arch: arch, Summary: "s", Files: map[string]string{"/usr/share/" + arch: arch}}))
	}
	res, err := p.Publish(ctx, "x86", ok, Options{})
	if err != nil || res.Publication.Packages != 3 {
		t.Fatalf("Publish(x86_64, noarch, i686) into x86_64 = %+v, %v", res, err)
	}
	arm := rpmSpec(t, demo.Spec{Name: "lib-arm", Version: "1", Release: "1", Arch: "aarch64", Summary: "s", Files: map[string]string{"/usr/share/arm": "arm"}})
	if _, err := p.Publish(ctx, "x86", []string{arm}, Options{}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "aarch64") {
		t.Errorf("Publish(aarch64) into x86_64 = %v, want Invalid naming aarch64", err)
	}
}

// TestCancelledPublish: a cancelled publish stops and commits nothing; its
// staging directory sits in TempDir and is gone afterwards.
func TestCancelledPublish(t *testing.T) {
	p, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	var files []string
	for i := 0; i < 20; i++ {
		files = append(files, rpmFile(t, fmt.Sprint("c", i)))
	}
	p.Progress = func(done, total int, name string) {
		if done == 2 {
			entries, _ := os.ReadDir(p.TempDir)
			if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "enmei-publish-") {
				t.Errorf("staging in %s: %v, want one enmei-publish-* directory", p.TempDir, entries)
			}
			cancel()
		}
	}
	must(t, os.MkdirAll(p.TempDir, 0o700))
	_, err := p.Publish(ctx, "r", files, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Publish = %v, want context.Canceled", err)
	}
	if pubs, _ := p.Store.Publications(context.Background(), "r"); len(pubs) != 0 {
		t.Errorf("a cancelled publish committed %d publications", len(pubs))
	}
	if entries, _ := os.ReadDir(p.TempDir); len(entries) != 0 {
		t.Errorf("staging left behind: %v", entries)
	}
}

// TestConcurrentPublishesKeepEverything: publishes racing on one repository
// all end up in the final publication.
func TestConcurrentPublishesKeepEverything(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	names := []string{"a", "b", "c", "d"}
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = rpmFile(t, n)
	}
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func(f string) {
			defer wg.Done()
			if _, err := p.Publish(ctx, "r", []string{f}, Options{}); err != nil {
				t.Error(err)
			}
		}(f)
	}
	wg.Wait()
	repo, err := p.Store.Repo(ctx, "r")
	must(t, err)
	pub, err := p.Store.Publication(ctx, repo.Current)
	must(t, err)
	if pub.Packages != len(names) {
		t.Errorf("after %d concurrent publishes the current publication has %d packages", len(names), pub.Packages)
	}
}

// TestRefusedPublishStoresNothing: a bad file among good ones stores no
// blob and no publication.
func TestRefusedPublishStoresNothing(t *testing.T) {
	p, blobDir := setup(t)
	ctx := context.Background()
	count := func() int {
		n := 0
		filepath.WalkDir(blobDir, func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
		return n
	}
	before := count()
	bad := filepath.Join(t.TempDir(), "bad.rpm")
	must(t, os.WriteFile(bad, []byte("not an rpm"), 0o644))
	_, err := p.Publish(ctx, "r", []string{rpmFile(t, "good"), bad}, Options{})
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Publish with a bad file = %v, want Invalid", err)
	}
	if after := count(); after != before {
		t.Errorf("a refused publish stored %d blobs", after-before)
	}
	if pubs, _ := p.Store.Publications(ctx, "r"); len(pubs) != 0 {
		t.Errorf("a refused publish created publications: %+v", pubs)
	}
}

// BenchmarkPublish500 ingests, signs and indexes 500 small RPMs.
func BenchmarkPublish500(b *testing.B) {
	dir := b.TempDir()
	var files []string
	for i := 0; i < 500; i++ {
		data, err := demo.RPM(demo.Spec{Name: fmt.Sprintf("bench-%03d", i), Version: "1", Release: "1", Arch: "x86_64", Summary: "b",
			Files: map[string]string{fmt.Sprintf("/usr/bin/b%d", i): "x", fmt.Sprintf("/etc/b%d.conf", i): "y"}})
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("b%d.rpm", i))
		os.WriteFile(p, data, 0o644)
		files = append(files, p)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		p, _ := setup(b)
		b.StartTimer()
		if _, err := p.Publish(context.Background(), "r", files, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFactsKept: publishing records each package's SBOM facts (identity,
// licence, file digests, requirements) with its record; a republish reuses
// the record and its facts.
func TestFactsKept(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	path := rpmSpec(t, demo.Spec{Name: "app", Epoch: 2, Version: "1.0", Release: "1.el9", Arch: "x86_64", Summary: "アプリ",
		Depends: []string{"libfoo >= 1"}, Files: map[string]string{"/usr/bin/app": "#!/bin/sh\n"}})
	_, err := p.Publish(ctx, "r", []string{path}, Options{})
	must(t, err)
	pub, _ := served(t, p, "r")
	m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
	must(t, err)
	raw, err := p.Store.PackageFacts(ctx, m.Packages)
	must(t, err)
	f, err := pkgfacts.Decode(raw[m.Packages[0]])
	must(t, err)
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	if f.Name != "app" || f.EVR() != "2:1.0-1.el9" || f.Summary != "アプリ" || len(f.SHA256) != 64 {
		t.Errorf("facts = %+v", f)
	}
	var found bool
	for _, file := range f.Files {
		found = found || (file.Path == "/usr/bin/app" && file.SHA256 == hex.EncodeToString(sum[:]))
	}
	if !found || !slices.Contains(f.Requires, "libfoo") {
		t.Errorf("facts files %+v requires %q", f.Files, f.Requires)
	}
	res, err := p.Publish(ctx, "r", []string{path}, Options{})
	must(t, err)
	pub2, _ := served(t, p, "r")
	m2, _ := manifest.Load(ctx, p.Blobs, pub2.Manifest)
	raw2, _ := p.Store.PackageFacts(ctx, m2.Packages)
	if res.Reused != 1 || string(raw2[m2.Packages[0]]) != string(raw[m.Packages[0]]) {
		t.Errorf("republish: reused %d, facts changed", res.Reused)
	}
}

// TestKeepSignatures: a mirror's publish serves a distribution's RPM byte
// for byte, with its own signature, and the real rpm verifies it with the
// distribution's key; a vendor publish of the same file signs it anew, and
// neither record is reused for the other kind of publish.
func TestKeepSignatures(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	distro, err := sign.Generate("distro", "packager@distro.example", time.Now())
	must(t, err)
	var signed bytes.Buffer
	f, err := os.Open(rpmFile(t, "mirrored"))
	must(t, err)
	_, err = rpm.Sign(f, &signed, distro)
	f.Close()
	must(t, err)
	in := filepath.Join(t.TempDir(), "mirrored-1-1.x86_64.rpm")
	must(t, os.WriteFile(in, signed.Bytes(), 0o644))
	inSum := fmt.Sprintf("%x", sha256.Sum256(signed.Bytes()))

	blobOf := func(opts Options) string {
		t.Helper()
		_, err := p.Publish(ctx, "r", []string{in}, opts)
		must(t, err)
		_, files := served(t, p, "r")
		return files["Packages/m/mirrored-1-1.x86_64.rpm"]
	}
	kept := blobOf(Options{KeepSignatures: true, Signer: distro.Fingerprint()})
	if kept != inSum {
		t.Errorf("kept package served as blob %s, want the input's bytes %s", kept, inSum)
	}
	// The real rpm checks the kept signature with the distribution's key.
	dbdir := t.TempDir()
	pub, err := distro.ArmoredPublic()
	must(t, err)
	keyFile := filepath.Join(t.TempDir(), "distro.asc")
	must(t, os.WriteFile(keyFile, pub, 0o644))
	rpmArgs := []string{"--dbpath", dbdir}
	if out, err := exec.Command("rpm", append(rpmArgs, "--import", keyFile)...).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	if out, err := exec.Command("rpm", append(rpmArgs, "-K", in)...).CombinedOutput(); err != nil || !strings.Contains(string(out), "signatures OK") {
		t.Errorf("rpm -K of the kept package: %v\n%s", err, out)
	}

	resigned := blobOf(Options{})
	if resigned == inSum || resigned == "" {
		t.Errorf("a vendor publish served the distribution's bytes (%s): it must sign them", resigned)
	}
	if again := blobOf(Options{KeepSignatures: true, Signer: distro.Fingerprint()}); again != inSum {
		t.Errorf("the mirror publish after a vendor one served %s, want the kept bytes", again)
	}
}

// TestMirrorTakesOnlySyncs: a mirror repository refuses a plain publish,
// naming the command that changes it, and takes its sync's.
func TestMirrorTakesOnlySyncs(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	must(t, p.Store.(interface {
		SetMirror(context.Context, string, *store.Mirror) error
	}).SetMirror(ctx, "r", &store.Mirror{URL: "https://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/"}))
	in := rpmFile(t, "fix")
	_, err := p.Publish(ctx, "r", []string{in}, Options{})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "changes only with enmeid repo sync") {
		t.Errorf("plain publish into a mirror: %v", err)
	}
	if _, err := p.Publish(ctx, "r", []string{in}, Options{Sync: true}); err != nil {
		t.Errorf("the sync's publish: %v", err)
	}
}

// TestMirrorCarriesUpstreamMetadata: a sync's upstream modules, comps and
// updateinfo are in its publication (updateinfo merged with the vendor's
// advisories), and stay in every later one until a sync replaces them.
func TestMirrorCarriesUpstreamMetadata(t *testing.T) {
	p, _ := setup(t)
	ctx := context.Background()
	must(t, p.Store.(interface {
		SetMirror(context.Context, string, *store.Mirror) error
	}).SetMirror(ctx, "r", &store.Mirror{URL: "http://upstream.example/"}))
	vendor := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<updates>\n" + `<update from="enmei" type="security"><id>ENMEI-2026-0001</id></update>` + "\n</updates>\n"
	p.Updateinfo = func(context.Context, store.Repo) ([]byte, error) { return []byte(vendor), nil }
	modules := "---\ndocument: modulemd\nversion: 2\ndata:\n  name: nodejs\n  stream: \"18\"\n...\n"
	comps := `<?xml version="1.0" encoding="UTF-8"?><comps><group><id>core</id></group></comps>`
	upInfo := `<updates><update type="security"><id>ALSA-2024:0001</id></update></updates>`
	docs := []rpm.Extra{{Type: "modules", XML: []byte(modules)}, {Type: "group", XML: []byte(comps)}, {Type: "updateinfo", XML: []byte(upInfo)}}
	_, err := p.Publish(ctx, "r", []string{rpmFile(t, "a")}, Options{Sync: true, Upstream: docs})
	must(t, err)

	check := func(when string) {
		t.Helper()
		_, files := served(t, p, "r")
		repomd := readServed(t, p, files["repodata/repomd.xml"])
		for _, typ := range []string{`type="modules"`, `type="group"`, `type="group_gz"`, `type="updateinfo"`} {
			if !strings.Contains(string(repomd), typ) {
				t.Errorf("%s: repomd.xml lacks %s:\n%s", when, typ, repomd)
			}
		}
		var sawModules, sawComps, sawInfo bool
		for path, sum := range files {
			switch {
			case strings.HasSuffix(path, "-modules.yaml.gz"):
				sawModules = strings.Contains(gunzip(t, readServed(t, p, sum)), "name: nodejs")
			case strings.HasSuffix(path, "-comps.xml"):
				sawComps = string(readServed(t, p, sum)) == comps
			case strings.HasSuffix(path, "-updateinfo.xml.gz"):
				doc := gunzip(t, readServed(t, p, sum))
				sawInfo = strings.Contains(doc, "ALSA-2024:0001") && strings.Contains(doc, "ENMEI-2026-0001")
			}
		}
		if !sawModules || !sawComps || !sawInfo {
			t.Errorf("%s: modules.yaml.gz %v, comps.xml %v, merged updateinfo %v", when, sawModules, sawComps, sawInfo)
		}
	}
	check("the sync's publication")
	_, err = p.Republish(ctx, "r")
	must(t, err)
	check("a republish")
	_, err = p.Publish(ctx, "r", []string{rpmFile(t, "b")}, Options{Sync: true})
	must(t, err)
	check("a later sync without new documents")
	sums, err := p.CurrentUpstream(ctx, "r")
	must(t, err)
	if want := fmt.Sprintf("%x", sha256.Sum256([]byte(modules))); sums["modules"] != want || len(sums) != 3 {
		t.Errorf("CurrentUpstream = %v, want modules %s among 3", sums, want)
	}
	_, err = p.SetUpstream(ctx, "r", []rpm.Extra{{Type: "group", XML: []byte(comps)}})
	must(t, err)
	_, files := served(t, p, "r")
	for path := range files {
		if strings.HasSuffix(path, "-modules.yaml.gz") {
			t.Errorf("SetUpstream without modules kept %s", path)
		}
	}
}

func readServed(t *testing.T, p *Publisher, sum string) []byte {
	t.Helper()
	data, err := p.readBlob(context.Background(), sum)
	must(t, err)
	return data
}

func gunzip(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	must(t, err)
	out, err := io.ReadAll(zr)
	must(t, err)
	return string(out)
}
