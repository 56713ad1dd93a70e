package sbom

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/pkgfacts"
)

func setFixture() *Set {
	facts := []pkgfacts.Facts{
		{Format: "rpm", Name: "openssl", Epoch: "1", Version: "3.0.7-27.el9", Arch: "x86_64", SourceRPM: "openssl-3.0.7-27.el9.src.rpm",
			License: "ASL 2.0", SHA256: strings.Repeat("ab", 32), Summary: "TLS toolkit",
			Files:    []pkgfacts.File{{Path: "/usr/bin/openssl", SHA256: strings.Repeat("01", 32)}, {Path: "/etc/pki/tls", SHA256: ""}},
			Requires: []string{"libcrypto.so.3()(64bit)", "/bin/sh", "rpmlib(CompressedFileNames)"}},
		{Format: "rpm", Name: "openssl-libs", Epoch: "1", Version: "3.0.7-27.el9", Arch: "x86_64", SHA256: strings.Repeat("cd", 32), License: "Apache-2.0",
			Provides: []string{"libcrypto.so.3()(64bit)"}},
		{Format: "rpm", Name: "bash", Version: "5.1.8-9.el9", Arch: "x86_64", SHA256: strings.Repeat("ef", 32), License: "GPLv3+",
			Files: []pkgfacts.File{{Path: "/bin/sh"}, {Path: "/usr/bin/bash", SHA256: strings.Repeat("02", 32)}}},
	}
	return NewSet([]string{"id-openssl", "id-libs", "id-bash"}, facts)
}

var setMeta = Meta{Distro: Distro{ID: "almalinux", VersionID: "9"}, Supplier: "Example ELS K.K.", Author: "Example ELS K.K.", Tool: "enmei-test",
	BaseURL: "https://els.example.jp", Salt: "7", Created: time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)}

// TestSetDocument: a package's document from a publication's set names
// the package with its files and the packages it depends on, resolved in
// the set, and is valid in every format.
func TestSetDocument(t *testing.T) {
	s := setFixture()
	i, ok := s.Find("openssl", "1:3.0.7-27.el9", "x86_64")
	if !ok || s.ID(i) != "id-openssl" {
		t.Fatalf("Find = %d, %v", i, ok)
	}
	if _, ok := s.Find("openssl", "3.0.7-27.el9", "x86_64"); ok {
		t.Error("found without the epoch")
	}
	d := s.Document(i, setMeta)
	if len(d.Root.DependsOn) != 2 || len(d.Packages) != 2 || len(d.Root.Files) != 2 {
		t.Fatalf("document = %+v", d)
	}
	spdxSchema, cdxSchema := loadSchemas(t)
	for _, f := range Formats() {
		var buf bytes.Buffer
		if err := Write(&buf, d, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch f {
		case SPDXJSON:
			validateJSON(t, spdxSchema, buf.Bytes())
			var doc struct {
				Relationships []struct{ SpdxElementID, RelationshipType, RelatedSpdxElement string }
				Packages      []struct{ Name, VersionInfo, Supplier string }
			}
			json.Unmarshal(buf.Bytes(), &doc)
			deps := 0
			for _, r := range doc.Relationships {
				if r.RelationshipType == "DEPENDS_ON" {
					deps++
				}
			}
			if deps != 2 {
				t.Errorf("%d DEPENDS_ON relationships, want 2", deps)
			}
			for _, p := range doc.Packages {
				if p.Supplier != "Organization: Example ELS K.K." {
					t.Errorf("package %s supplier %q", p.Name, p.Supplier)
				}
			}
			if !bytes.Contains(buf.Bytes(), []byte("pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64\u0026epoch=1\u0026upstream=openssl-3.0.7-27.el9.src.rpm\u0026distro=almalinux-9")) &&
				!bytes.Contains(buf.Bytes(), []byte(`pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm&distro=almalinux-9`)) {
				t.Errorf("no PURL with the epoch as a qualifier:\n%s", buf.Bytes())
			}
		case CycloneDXJSON:
			validateJSON(t, cdxSchema, buf.Bytes())
		case CycloneDXXML:
			if err := xmllintCycloneDX(t, buf.Bytes()); err != nil {
				t.Error(err)
			}
		}
	}
	// The same set and meta give the same bytes; another publication
	// another serial.
	var a, b, c bytes.Buffer
	Write(&a, s.Document(i, setMeta), CycloneDXJSON)
	Write(&b, setFixture().Document(i, setMeta), CycloneDXJSON)
	other := setMeta
	other.Salt = "8"
	Write(&c, s.Document(i, other), CycloneDXJSON)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("documents are not deterministic per publication")
	}
}
