package sbom

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/enmei-project/enmei/internal/pkgfacts"
)

// Set is the packages of one publication as SBOM subjects: their facts,
// taken at publish, and their dependencies resolved among each other. A
// package's document is derived from the set alone, so every replica makes
// the same bytes for it.
type Set struct {
	ids   []string
	facts []pkgfacts.Facts
	deps  [][]int
	index map[string]int // name|evr|arch → index
}

// NewSet makes the set of packages ids with their facts (same order).
func NewSet(ids []string, facts []pkgfacts.Facts) *Set {
	s := &Set{ids: ids, facts: facts, deps: pkgfacts.Resolve(facts), index: make(map[string]int, len(ids))}
	for i := range facts {
		s.index[key(facts[i].Name, facts[i].EVR(), facts[i].Arch)] = i
	}
	return s
}

func key(name, evr, arch string) string { return name + "|" + evr + "|" + arch }

// Len is the number of packages.
func (s *Set) Len() int { return len(s.ids) }

// ID is the store ID of package i.
func (s *Set) ID(i int) string { return s.ids[i] }

// Facts are package i's facts.
func (s *Set) Facts(i int) pkgfacts.Facts { return s.facts[i] }

// Find looks a package up by name, [epoch:]version and architecture, as a
// host's package database names it.
func (s *Set) Find(name, evr, arch string) (int, bool) {
	i, ok := s.index[key(name, evr, arch)]
	return i, ok
}

// Meta is what the documents of one publication share.
type Meta struct {
	Distro   Distro // the OS the product serves; empty for OSS products
	Supplier string // the vendor
	Author   string // the vendor
	Tool     string // e.g. "enmei-1.2.3"
	// BaseURL and Salt make each document's namespace and serial: the
	// server's public URL and the publication's ID.
	BaseURL string
	Salt    string
	Created time.Time
}

// Ref is a package's reference inside documents.
func Ref(f pkgfacts.Facts) string { return f.Format + ":" + f.Name + "@" + f.EVR() + "." + f.Arch }

// PackageOf is the SBOM package of facts f.
func PackageOf(f pkgfacts.Facts, d Distro, supplier string, withFiles bool) Package {
	p := Package{Ref: Ref(f), Format: f.Format, Name: f.Name, Epoch: f.Epoch, Version: f.Version, Arch: f.Arch, Distro: d,
		SourceRPM: f.SourceRPM, License: f.License, Summary: f.Summary, Supplier: supplier, SHA256: f.SHA256, Verified: true}
	if withFiles {
		for _, file := range f.Files {
			p.Files = append(p.Files, File{Path: file.Path, SHA256: file.SHA256})
		}
	}
	return p
}

// Document is package i's SBOM: the package with its files, and the
// packages of the set it depends on.
func (s *Set) Document(i int, m Meta) Document {
	f := s.facts[i]
	root := PackageOf(f, m.Distro, m.Supplier, true)
	d := Document{Name: f.Name + "-" + f.EVR() + "." + f.Arch, Created: m.Created, Author: m.Author, Tool: m.Tool,
		Namespace: m.BaseURL + "/sbom/" + s.ids[i] + "/" + m.Salt, Serial: serial(m.Salt + "/" + s.ids[i])}
	for _, j := range s.deps[i] {
		dep := PackageOf(s.facts[j], m.Distro, m.Supplier, false)
		root.DependsOn = append(root.DependsOn, dep.Ref)
		d.Packages = append(d.Packages, dep)
	}
	d.Root = root
	return d
}

// serial is a name-based UUID (version 5 layout over SHA-256), so the same
// document always has the same serial number.
func serial(name string) string {
	h := sha256.Sum256([]byte("enmei-sbom:" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
