package publish

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenKey is a fixed test key, so signatures are reproducible. It signs
// nothing outside these tests.
func goldenKey(t *testing.T) *sign.Key {
	t.Helper()
	path := filepath.Join("testdata", "golden-key.asc")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) && *update {
		k, err := sign.GenerateBits("enmei golden test key", "", "golden@example.invalid", 2048, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		must(t, err)
		data, err = k.ArmoredPrivate()
		must(t, err)
		must(t, os.WriteFile(path, data, 0o600))
	} else if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ReadArmored(data)
	must(t, err)
	return k
}

// TestGoldenMetadata publishes the demo catalogue with a fixed clock and key
// and compares every metadata file (repodata, APT indexes, signatures) with
// the golden copy. Regenerate with go test ./internal/publish -run Golden -update.
func TestGoldenMetadata(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	must(t, err)
	defer st.Close()
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	must(t, err)
	must(t, st.AddProduct(ctx, store.Product{ID: "el9", Name: "EL9", Format: "rpm"}))
	must(t, st.AddProduct(ctx, store.Product{ID: "deb12", Name: "Debian 12", Format: "deb"}))
	repos := []store.Repo{
		{ID: "el9-x86_64", ProductID: "el9", Format: "rpm", Arch: "x86_64"},
		{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"},
	}
	p := &Publisher{Store: st, Blobs: blobs, Key: goldenKey(t), Now: func() time.Time { return now },
		TempDir: filepath.Join(dir, "tmp"), Log: slog.New(slog.DiscardHandler)}
	for _, r := range repos {
		must(t, st.AddRepo(ctx, r))
		files, err := demo.Files(r.Format)
		must(t, err)
		in := filepath.Join(dir, "in-"+r.ID)
		must(t, os.MkdirAll(in, 0o755))
		for name, data := range files {
			must(t, os.WriteFile(filepath.Join(in, name), data, 0o644))
		}
		res, err := p.Publish(ctx, r.ID, []string{in}, Options{})
		must(t, err)
		m, err := manifest.Load(ctx, blobs, res.Publication.Manifest)
		must(t, err)
		var paths []string
		for path := range m.Files {
			if strings.HasPrefix(path, "repodata/") || strings.HasPrefix(path, "dists/") {
				paths = append(paths, path)
			}
		}
		sort.Strings(paths)
		// Content-addressed names carry their digest: the list of names is
		// itself part of the golden output.
		var list bytes.Buffer
		for _, path := range paths {
			list.WriteString(path + "\n")
		}
		compare(t, filepath.Join("testdata", "golden", r.ID, "FILES"), list.Bytes())
		for _, path := range paths {
			if strings.Contains(path, "/by-hash/") {
				continue // the same bytes as the named file
			}
			f, _, err := blobs.Open(ctx, m.Files[path].Sum)
			must(t, err)
			var buf bytes.Buffer
			buf.ReadFrom(f)
			f.Close()
			compare(t, filepath.Join("testdata", "golden", r.ID, goldenName(path)), buf.Bytes())
		}
	}
}

// goldenName keeps golden file names short and free of digests.
func goldenName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, "-"); strings.HasPrefix(path, "repodata/") && i == 64 {
		base = base[i+1:]
	}
	return strings.ReplaceAll(filepath.Dir(path), "/", "_") + "_" + base
}

func compare(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		must(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		must(t, os.WriteFile(golden, got, 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/publish -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the published file (%d bytes, want %d); if the change is intended, run with -update and review the diff", golden, len(got), len(want))
	}
}
