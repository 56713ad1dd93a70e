package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/store"
)

const debCopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tool

Files: *
Copyright: 2026 Tool Authors
License: Apache-2.0

Files: vendor/*
Copyright: 2020 Someone
License: MIT
`

// dpkgDeb builds package "tool" with the real dpkg-deb (xz): a program, a
// nested data file, a symbolic link and a DEP-5 copyright file. It returns
// the .deb and the files with their SHA-256 ("" for the link).
func dpkgDeb(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	files := map[string]string{
		"usr/bin/tool":                  "#!/bin/sh\necho tool\n",
		"usr/share/tool/data/table.txt": "1 2 3\n",
		"usr/share/doc/tool/copyright":  debCopyright,
	}
	want := map[string]string{"/usr/bin/tool-alias": ""}
	write := func(p, body string) {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(tree, p), []byte(body), 0o644))
	}
	write("DEBIAN/control", "Package: tool\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: x <x@example.com>\nDescription: a tool\n")
	for p, body := range files {
		write(p, body)
		sum := sha256.Sum256([]byte(body))
		want["/"+p] = hex.EncodeToString(sum[:])
	}
	must(t, os.Symlink("tool", filepath.Join(tree, "usr/bin/tool-alias")))
	out := filepath.Join(dir, "tool_2.0-1_amd64.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", tree, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	return out, want
}

// publishedFacts publishes path into a fresh deb repository and returns
// the package's stored facts (nil when none were stored).
func publishedFacts(t *testing.T, p *Publisher, path string) (store.Publication, []string, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	st := p.Store.(interface {
		AddProduct(context.Context, store.Product) error
		AddRepo(context.Context, store.Repo) error
	})
	must(t, st.AddProduct(ctx, store.Product{ID: "d", Name: "D", Format: "deb"}))
	must(t, st.AddRepo(ctx, store.Repo{ID: "deb", ProductID: "d", Format: "deb", Suite: "bookworm", Component: "main"}))
	_, err := p.Publish(ctx, "deb", []string{path}, Options{})
	must(t, err)
	pub, _ := served(t, p, "deb")
	m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
	must(t, err)
	raw, err := p.Store.PackageFacts(ctx, m.Packages)
	must(t, err)
	return pub, m.Packages, raw
}

// TestDebSBOMHasLicenseAndFiles: a published deb's facts carry the licence
// of its DEP-5 copyright file and its files with their SHA-256, and its
// SPDX document says so: licenseDeclared, filesAnalyzed, and every regular
// file with its digest, contained by the package.
func TestDebSBOMHasLicenseAndFiles(t *testing.T) {
	p, _ := setup(t)
	path, want := dpkgDeb(t)
	pub, ids, raw := publishedFacts(t, p, path)
	f, err := pkgfacts.Decode(raw[ids[0]])
	must(t, err)
	if f.License != "Apache-2.0 AND MIT" || f.EVR() != "1:2.0-1" {
		t.Errorf("facts = %+v", f)
	}
	got := map[string]string{}
	for _, file := range f.Files {
		got[file.Path] = file.SHA256
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("facts files = %v\nwant %v", got, want)
	}

	set := sbom.NewSet(ids, []pkgfacts.Facts{f})
	doc := set.Document(0, sbom.Meta{Distro: sbom.Distro{ID: "debian", VersionID: "12"}, Supplier: "Vendor", Author: "Vendor",
		Tool: "enmei-test", BaseURL: "https://enmei.example", Salt: "1", Created: time.Unix(pub.CreatedAt.Unix(), 0)})
	var buf bytes.Buffer
	must(t, sbom.Write(&buf, doc, sbom.SPDXJSON))
	var spdx struct {
		Packages []struct {
			Name            string `json:"name"`
			SPDXID          string `json:"SPDXID"`
			LicenseDeclared string `json:"licenseDeclared"`
			FilesAnalyzed   bool   `json:"filesAnalyzed"`
		} `json:"packages"`
		Files []struct {
			SPDXID    string `json:"SPDXID"`
			FileName  string `json:"fileName"`
			Checksums []struct {
				Algorithm string `json:"algorithm"`
				Value     string `json:"checksumValue"`
			} `json:"checksums"`
		} `json:"files"`
		Relationships []struct {
			From string `json:"spdxElementId"`
			Type string `json:"relationshipType"`
			To   string `json:"relatedSpdxElement"`
		} `json:"relationships"`
	}
	must(t, json.Unmarshal(buf.Bytes(), &spdx))
	if len(spdx.Packages) != 1 || spdx.Packages[0].LicenseDeclared != "Apache-2.0 AND MIT" || !spdx.Packages[0].FilesAnalyzed {
		t.Fatalf("SPDX packages = %+v", spdx.Packages)
	}
	contained := map[string]bool{}
	for _, r := range spdx.Relationships {
		if r.From == spdx.Packages[0].SPDXID && r.Type == "CONTAINS" {
			contained[r.To] = true
		}
	}
	var names []string
	for _, file := range spdx.Files {
		names = append(names, file.FileName)
		sum := want["/"+file.FileName[len("./"):]]
		if len(file.Checksums) != 1 || file.Checksums[0].Algorithm != "SHA256" || file.Checksums[0].Value != sum || !contained[file.SPDXID] {
			t.Errorf("SPDX file %+v: want SHA256 %s, contained by the package", file, sum)
		}
	}
	sort.Strings(names)
	// The symbolic link has no digest, so it is no SPDX file.
	if wantNames := []string{"./usr/bin/tool", "./usr/share/doc/tool/copyright", "./usr/share/tool/data/table.txt"}; !reflect.DeepEqual(names, wantNames) {
		t.Errorf("SPDX files = %v, want %v", names, wantNames)
	}
}

// TestDebSkipFacts: with SkipFacts (ENMEI_DEBUG_NO_SBOM_FACTS) a deb is
// published, unpacked or not, with no facts, as an RPM is.
func TestDebSkipFacts(t *testing.T) {
	p, _ := setup(t)
	p.SkipFacts = true
	path, _ := dpkgDeb(t)
	_, ids, raw := publishedFacts(t, p, path)
	if len(ids) != 1 || len(raw[ids[0]]) != 0 {
		t.Errorf("facts stored with SkipFacts: %q", raw[ids[0]])
	}
}

// TestRepublishAddsMissingFacts: packages published without SBOM facts
// (as by an enmei before SBOMs) get them when published again with
// Replace — RPMs, whose signed records are otherwise reused, and debs.
func TestRepublishAddsMissingFacts(t *testing.T) {
	ctx := context.Background()
	factsOf := func(p *Publisher, repo string) []byte {
		pub, _ := served(t, p, repo)
		m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
		must(t, err)
		raw, err := p.Store.PackageFacts(ctx, m.Packages)
		must(t, err)
		if len(m.Packages) != 1 {
			t.Fatalf("%s serves %d packages, want 1", repo, len(m.Packages))
		}
		return raw[m.Packages[0]]
	}
	t.Run("rpm", func(t *testing.T) {
		p, _ := setup(t)
		path := rpmFile(t, "old")
		p.SkipFacts = true
		_, err := p.Publish(ctx, "r", []string{path}, Options{})
		must(t, err)
		if f := factsOf(p, "r"); len(f) != 0 {
			t.Fatalf("facts stored with SkipFacts: %q", f)
		}
		p.SkipFacts = false
		_, err = p.Publish(ctx, "r", []string{path}, Options{Replace: true})
		must(t, err)
		if f := factsOf(p, "r"); len(f) == 0 {
			t.Error("published again with Replace: still no facts")
		}
	})
	t.Run("deb", func(t *testing.T) {
		p, _ := setup(t)
		path, _ := dpkgDeb(t)
		p.SkipFacts = true
		if _, ids, raw := publishedFacts(t, p, path); len(raw[ids[0]]) != 0 {
			t.Fatalf("facts stored with SkipFacts: %q", raw)
		}
		p.SkipFacts = false
		_, err := p.Publish(ctx, "deb", []string{path}, Options{Replace: true})
		must(t, err)
		if f := factsOf(p, "deb"); len(f) == 0 {
			t.Error("published again with Replace: still no facts")
		}
	})
}
