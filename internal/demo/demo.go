// Package demo builds real RPM and .deb packages in Go: the small catalogue
// `enmeid serve --demo` seeds, and packages of any chosen version for the
// end-to-end tests and benchmarks. Packages are built with nFPM, the same
// library release tooling uses, so rpm, dnf, dpkg and apt treat them as they
// would any vendor's package.
package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"
)

// Spec describes one package to build.
type Spec struct {
	Name             string
	Epoch            int // 0 = none
	Version, Release string
	// Arch in RPM terms: "x86_64", "aarch64" or "noarch"; mapped for debs.
	Arch                 string
	Summary, Description string
	// Depends lists required package names, optionally "name >= 1.0".
	Depends []string
	// Files maps a path on the host to its content; */bin/* files are 0755.
	Files map[string]string
	// Compression of the payload: "gzip", "xz", "zstd" ("" = gzip).
	Compression string
}

// Catalogue is the demo set: a library with an epoch and a Japanese summary,
// a program that depends on it, and an architecture-independent document
// package, with RPM payloads spread over gzip, xz and zstd.
func Catalogue() []Spec {
	return []Spec{
		{Name: "enmei-demo-lib", Epoch: 1, Version: "1.0", Release: "1", Arch: "x86_64",
			Summary: "延命デモ用ライブラリ (enmei demo library)", Description: "延命 (enmei) のデモ用ライブラリです。\nA library for the enmei demo.",
			Files: map[string]string{"/usr/lib/enmei-demo/lib.txt": "enmei demo library 1.0\n"}, Compression: "xz"},
		{Name: "enmei-demo-hello", Version: "1.0", Release: "1", Arch: "x86_64",
			Summary: "こんにちは from enmei", Description: "Prints a greeting; depends on enmei-demo-lib.",
			Depends: []string{"enmei-demo-lib"},
			Files:   map[string]string{"/usr/bin/enmei-hello": "#!/bin/sh\necho 'こんにちは from enmei'\n"}, Compression: "zstd"},
		{Name: "enmei-demo-doc", Version: "1.0", Release: "1", Arch: "noarch",
			Summary: "enmei demo documentation", Description: "Documentation for the enmei demo.",
			Files: map[string]string{"/usr/share/doc/enmei-demo/README": "See https://github.com/enmei-project/enmei\n"}, Compression: "gzip"},
	}
}

// Files builds every catalogue package in format "rpm" or "deb" and returns
// file name → content.
func Files(format string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range Catalogue() {
		var data []byte
		var err error
		switch format {
		case "rpm":
			data, err = RPM(s)
		case "deb":
			data, err = Deb(s)
		default:
			return nil, fmt.Errorf("demo packages come as rpm or deb, not %q", format)
		}
		if err != nil {
			return nil, err
		}
		out[FileName(s, format)] = data
	}
	return out, nil
}

// FileName is the conventional file name of the built package.
func FileName(s Spec, format string) string {
	if format == "deb" {
		return fmt.Sprintf("%s_%s-%s_%s.deb", s.Name, s.Version, s.Release, debArch(s.Arch))
	}
	return fmt.Sprintf("%s-%s-%s.%s.rpm", s.Name, s.Version, s.Release, s.Arch)
}

// RPM builds the spec as an unsigned binary RPM.
func RPM(s Spec) ([]byte, error) {
	return build(s, "rpm")
}

// Deb builds the spec as a .deb; its version is "[epoch:]version-release".
func Deb(s Spec) ([]byte, error) {
	return build(s, "deb")
}

func debArch(a string) string {
	switch a {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "noarch":
		return "all"
	}
	return a
}

// fixedTime keeps builds reproducible.
var fixedTime = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

func build(s Spec, format string) ([]byte, error) {
	// nFPM reads file contents from disk.
	tmp, err := os.MkdirTemp("", "enmei-demo-build-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	paths := make([]string, 0, len(s.Files))
	for p := range s.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var contents files.Contents
	for i, p := range paths {
		src := filepath.Join(tmp, strconv.Itoa(i))
		if err := os.WriteFile(src, []byte(s.Files[p]), 0o644); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.Contains(p, "/bin/") {
			mode = 0o755
		}
		contents = append(contents, &files.Content{Source: src, Destination: p,
			FileInfo: &files.ContentFileInfo{Mode: mode, MTime: fixedTime, Owner: "root", Group: "root"}})
	}
	info := &nfpm.Info{
		Name: s.Name, Arch: debArch(s.Arch), Platform: "linux", Version: s.Version, Release: s.Release,
		VersionSchema: "none", Maintainer: "enmei demo <demo@enmei.example>", Description: s.Description,
		Vendor: "enmei", Homepage: "https://github.com/enmei-project/enmei", License: "Apache-2.0", MTime: fixedTime,
		Overridables: nfpm.Overridables{
			Depends:  s.Depends,
			Contents: contents,
			RPM:      nfpm.RPM{Arch: s.Arch, Summary: s.Summary, Compression: s.Compression, Group: "Unspecified"},
			Deb:      nfpm.Deb{Arch: debArch(s.Arch), Compression: s.Compression},
		},
	}
	if s.Epoch != 0 {
		info.Epoch = strconv.Itoa(s.Epoch)
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return nil, fmt.Errorf("preparing %s: %w", s.Name, err)
	}
	var buf bytes.Buffer
	switch format {
	case "rpm":
		err = rpm.Default.Package(info, &buf)
	case "deb":
		err = deb.Default.Package(info, &buf)
	}
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", format, s.Name, err)
	}
	return buf.Bytes(), nil
}
