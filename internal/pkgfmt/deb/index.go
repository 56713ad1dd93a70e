package deb

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	debversion "github.com/knqyf263/go-deb-version"
	"github.com/ulikunitz/xz"

	"github.com/enmei-project/enmei/internal/sign"
)

// File is one generated repository file.
type File struct {
	Path string
	Data []byte
}

// IndexOptions names the distribution being written.
type IndexOptions struct {
	Origin, Label, Suite, Codename, Component string
	// Architectures to index; packages of arch "all" go into every one.
	// Empty means amd64 and arm64 plus every architecture seen.
	Architectures []string
}

type stanza struct {
	pkg, version, arch string
	data               []byte
}

// Index writes dists/<suite>/: per-architecture Packages (plain, .gz, .xz)
// with by-hash copies, Release, Release.gpg and InRelease.
func Index(opts IndexOptions, entries [][]byte, key *sign.Key, now time.Time) ([]File, error) {
	if opts.Suite == "" || opts.Component == "" {
		return nil, errors.New("writing apt index: suite and component are required")
	}
	if opts.Codename == "" {
		opts.Codename = opts.Suite
	}
	stanzas := make([]stanza, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		f := fields(e)
		s := stanza{pkg: f["Package"], version: f["Version"], arch: f["Architecture"], data: bytes.TrimRight(e, "\n")}
		stanzas = append(stanzas, s)
		if s.arch != "all" && s.arch != "" {
			seen[s.arch] = true
		}
	}
	sortStanzas(stanzas)
	archs := opts.Architectures
	if len(archs) == 0 {
		seen["amd64"], seen["arm64"] = true, true
		for a := range seen {
			archs = append(archs, a)
		}
	}
	sort.Strings(archs)

	type out struct {
		files []File
		err   error
	}
	results := make([]out, len(archs))
	var wg sync.WaitGroup
	for i, arch := range archs {
		wg.Add(1)
		go func(i int, arch string) {
			defer wg.Done()
			var plain bytes.Buffer
			for _, s := range stanzas {
				if s.arch == arch || s.arch == "all" {
					if plain.Len() > 0 {
						plain.WriteByte('\n')
					}
					plain.Write(s.data)
					plain.WriteByte('\n')
				}
			}
			dir := opts.Component + "/binary-" + arch + "/"
			files := []File{{dir + "Packages", plain.Bytes()}}
			gz, err := gzipped(plain.Bytes())
			if err == nil {
				files = append(files, File{dir + "Packages.gz", gz})
				var x []byte
				x, err = xzed(plain.Bytes())
				files = append(files, File{dir + "Packages.xz", x})
			}
			results[i] = out{files, err}
		}(i, arch)
	}
	wg.Wait()
	var indexes []File
	for _, r := range results {
		if r.err != nil {
			return nil, fmt.Errorf("compressing Packages: %w", r.err)
		}
		indexes = append(indexes, r.files...)
	}

	return release(opts, archs, indexes, key, now)
}

// release writes dists/<suite>/: the indexes with by-hash copies, and
// Release listing them, signed as Release.gpg and InRelease.
func release(opts IndexOptions, archs []string, indexes []File, key *sign.Key, now time.Time) ([]File, error) {
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: %s\nComponents: %s\nDescription: %s\nAcquire-By-Hash: yes\n",
		opts.Origin, opts.Label, opts.Suite, opts.Codename, now.UTC().Format(time.RFC1123Z),
		strings.Join(archs, " "), opts.Component, "enmei extended lifecycle support repository")
	for _, h := range []struct {
		name string
		sum  func([]byte) string
	}{
		{"MD5Sum", func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }},
		{"SHA256", func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
	} {
		rel.WriteString(h.name + ":\n")
		for _, f := range indexes {
			fmt.Fprintf(&rel, " %s %16d %s\n", h.sum(f.Data), len(f.Data), f.Path)
		}
	}
	release := rel.Bytes()
	detached, err := key.DetachSignArmored(bytes.NewReader(release))
	if err != nil {
		return nil, fmt.Errorf("signing Release: %w", err)
	}
	inline, err := key.ClearSign(release)
	if err != nil {
		return nil, fmt.Errorf("signing InRelease: %w", err)
	}
	base := "dists/" + opts.Suite + "/"
	files := make([]File, 0, 2*len(indexes)+3)
	for _, f := range indexes {
		// by-hash copies let apt fetch exactly the indexes its Release
		// names, even while a newer publication replaces them.
		sum := sha256.Sum256(f.Data)
		byHash := f.Path[:strings.LastIndexByte(f.Path, '/')+1] + "by-hash/SHA256/" + hex.EncodeToString(sum[:])
		files = append(files, File{base + f.Path, f.Data}, File{base + byHash, f.Data})
	}
	return append(files, File{base + "Release", release}, File{base + "Release.gpg", detached}, File{base + "InRelease", inline}), nil
}

// SourceIndex writes dists/<suite>/ of a source repository: the
// component's source/Sources (plain, .gz, .xz) from the Sources stanzas in
// entries (SourcesEntry; empty entries, the files beside a .dsc, are
// skipped), with by-hash copies, and Release (Architectures: source),
// Release.gpg and InRelease. apt reads it through deb-src entries.
func SourceIndex(opts IndexOptions, entries [][]byte, key *sign.Key, now time.Time) ([]File, error) {
	if opts.Suite == "" || opts.Component == "" {
		return nil, errors.New("writing apt index: suite and component are required")
	}
	if opts.Codename == "" {
		opts.Codename = opts.Suite
	}
	stanzas := make([]stanza, 0, len(entries))
	for _, e := range entries {
		if len(bytes.TrimSpace(e)) == 0 {
			continue
		}
		f := fields(e)
		stanzas = append(stanzas, stanza{pkg: f["Package"], version: f["Version"], data: bytes.TrimRight(e, "\n")})
	}
	sortStanzas(stanzas)
	var plain bytes.Buffer
	for _, s := range stanzas {
		if plain.Len() > 0 {
			plain.WriteByte('\n')
		}
		plain.Write(s.data)
		plain.WriteByte('\n')
	}
	dir := opts.Component + "/source/"
	gz, err := gzipped(plain.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compressing Sources: %w", err)
	}
	x, err := xzed(plain.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compressing Sources: %w", err)
	}
	indexes := []File{{dir + "Sources", plain.Bytes()}, {dir + "Sources.gz", gz}, {dir + "Sources.xz", x}}
	return release(opts, []string{"source"}, indexes, key, now)
}

// sortStanzas orders stanzas by name, version (as dpkg compares them) and
// architecture.
func sortStanzas(stanzas []stanza) {
	sort.SliceStable(stanzas, func(i, j int) bool {
		a, b := stanzas[i], stanzas[j]
		if a.pkg != b.pkg {
			return a.pkg < b.pkg
		}
		if a.version != b.version {
			va, errA := debversion.NewVersion(a.version)
			vb, errB := debversion.NewVersion(b.version)
			if errA == nil && errB == nil {
				return va.LessThan(vb)
			}
			return a.version < b.version
		}
		return a.arch < b.arch
	})
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func xzed(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
