package sbom

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden compares every format of the fixture documents with
// testdata/golden/<fixture><ext>. Regenerate after an intended change with
//
//	go test ./internal/sbom/ -run TestGolden -update
//
// and review the diff.
func TestGolden(t *testing.T) {
	for _, fx := range fixtures() {
		for _, f := range Formats() {
			t.Run(fx.name+"/"+string(f), func(t *testing.T) {
				got := encode(t, fx.doc, f)
				file := filepath.Join("testdata", "golden", fx.name+f.Ext())
				if *update {
					if err := os.WriteFile(file, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(want, got) {
					t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", file, lineDiff(string(want), string(got)))
				}
			})
		}
	}
}

// The same Document gives the same bytes, however often it is written and
// whatever order the caller listed packages, files and dependencies in.
func TestDeterministic(t *testing.T) {
	for _, fx := range fixtures() {
		for _, f := range Formats() {
			t.Run(fx.name+"/"+string(f), func(t *testing.T) {
				first := encode(t, fx.doc, f)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := 0; i < 5; i++ {
					if again := encode(t, fx.doc, f); !bytes.Equal(first, again) {
						t.Fatalf("second encoding differs:\n%s", lineDiff(string(first), string(again)))
					}
					shuffled := shuffleDocument(fx.doc, rng)
					if again := encode(t, shuffled, f); !bytes.Equal(first, again) {
						t.Fatalf("encoding of a reordered document differs:\n%s", lineDiff(string(first), string(again)))
					}
				}
			})
		}
	}
}

func shuffleDocument(d Document, rng *rand.Rand) Document {
	shufflePkg := func(p Package) Package {
		p.Files = append([]File(nil), p.Files...)
		rng.Shuffle(len(p.Files), func(i, j int) { p.Files[i], p.Files[j] = p.Files[j], p.Files[i] })
		p.DependsOn = append([]string(nil), p.DependsOn...)
		rng.Shuffle(len(p.DependsOn), func(i, j int) { p.DependsOn[i], p.DependsOn[j] = p.DependsOn[j], p.DependsOn[i] })
		return p
	}
	d.Root = shufflePkg(d.Root)
	pkgs := make([]Package, len(d.Packages))
	for i, p := range d.Packages {
		pkgs[i] = shufflePkg(p)
	}
	rng.Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
	d.Packages = pkgs
	return d
}

// Write must not alter the caller's Document.
func TestWriteDoesNotModifyDocument(t *testing.T) {
	d := packageDocument()
	d.Root.SHA256 = "AF4F1E505F89D2F812705B3FBF3CA4CE311D50EE366FF5DB4220C25A623D81FE"
	before := packageDocument()
	before.Root.SHA256 = d.Root.SHA256
	for _, f := range Formats() {
		encode(t, d, f)
	}
	if diff := deepDiff(before, d, 5); len(diff) > 0 {
		t.Fatalf("document modified: %v", diff)
	}
}
