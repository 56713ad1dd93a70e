package publish

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/errs"
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
	return &Publisher{Store: st, Blobs: blobs, Key: key, Now: time.Now}, filepath.Join(dir, "blobs")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rpmFile(t *testing.T, name string) string {
	t.Helper()
	data, err := demo.RPM(demo.Spec{Name: name, Version: "1", Release: "1", Arch: "x86_64", Summary: name,
		Files: map[string]string{"/usr/share/" + name: name}})
	must(t, err)
	p := filepath.Join(t.TempDir(), name+".rpm")
	must(t, os.WriteFile(p, data, 0o644))
	return p
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
			if _, err := p.Publish(ctx, "r", []string{f}); err != nil {
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
	_, err := p.Publish(ctx, "r", []string{rpmFile(t, "good"), bad})
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
		if _, err := p.Publish(context.Background(), "r", files); err != nil {
			b.Fatal(err)
		}
	}
}
