// Package demo builds real RPM and .deb packages in Go: the small catalogue
// `enmeid serve --demo` seeds, and packages of any chosen version for the
// end-to-end tests and benchmarks. RPMs are written with
// github.com/google/rpmpack; .debs are assembled here from the standard
// library's tar and gzip plus xz and zstd, because the format is only an ar
// archive of two tarballs. A full packaging tool (nFPM) would pull go-git and
// SSH into the server binary that imports this package for --demo.
//
// Output is deterministic: the same Spec always gives the same bytes (fixed
// times, sorted entries, a fixed build host), so tests can compare packages.
package demo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/rpmpack"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Spec describes one package to build.
type Spec struct {
	Name             string
	Epoch            int // 0 = none
	Version, Release string
	// Arch in RPM terms: "x86_64", "aarch64", "i686" or "noarch"; mapped for
	// debs.
	Arch                 string
	Summary, Description string
	// Depends lists required package names, optionally "name >= 1.0"
	// (operators <, <=, =, >=, >).
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

// Package metadata every demo package shares.
const (
	maintainer = "enmei demo <demo@enmei.example>"
	vendor     = "enmei"
	homepage   = "https://github.com/enmei-project/enmei"
	license    = "Apache-2.0"
	// buildHost is fixed rather than os.Hostname() so builds are reproducible.
	buildHost = "enmei-demo"
)

// fixedTime keeps builds reproducible.
var fixedTime = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// arches maps the RPM architectures a Spec may name to Debian's names and
// to the suffix rpmbuild gives the package's ISA provide ("" for none).
var arches = map[string]struct{ deb, isa string }{
	"x86_64":  {"amd64", "x86-64"},
	"aarch64": {"arm64", "aarch-64"},
	"i686":    {"i386", "x86-32"},
	"noarch":  {"all", ""},
}

func debArch(a string) string {
	if m, ok := arches[a]; ok {
		return m.deb
	}
	return a
}

// dep is one parsed entry of Spec.Depends.
type dep struct{ name, op, version string }

var depRE = regexp.MustCompile(`^\s*([^\s<>=()]+)\s*(?:(<=|>=|=|<|>)\s*([^\s<>=()]+))?\s*$`)

func parseDep(s string) (dep, error) {
	m := depRE.FindStringSubmatch(s)
	if m == nil {
		return dep{}, fmt.Errorf("dependency %q is not \"name\" or \"name OP version\"", s)
	}
	return dep{name: m[1], op: m[2], version: m[3]}, nil
}

// file is one packaged regular file.
type file struct {
	path string // absolute, cleaned
	body []byte
	mode int64 // permission bits
}

// check validates s and returns its files sorted by path and its parsed
// dependencies, so that both formats refuse the same mistakes (the callers
// add the package name to the error).
func check(s Spec) ([]file, []dep, error) {
	switch {
	case s.Name == "" || s.Version == "" || s.Release == "":
		return nil, nil, errors.New("a package needs a name, version and release")
	case s.Epoch < 0:
		return nil, nil, fmt.Errorf("negative epoch %d", s.Epoch)
	}
	if _, ok := arches[s.Arch]; !ok {
		return nil, nil, fmt.Errorf("architecture %q is not x86_64, aarch64, i686 or noarch", s.Arch)
	}
	switch s.Compression {
	case "", "gzip", "xz", "zstd":
	default:
		return nil, nil, fmt.Errorf("compression %q is not gzip, xz or zstd", s.Compression)
	}
	files := make([]file, 0, len(s.Files))
	for p, body := range s.Files {
		clean := path.Clean("/" + p)
		if clean == "/" || clean != p {
			return nil, nil, fmt.Errorf("file path %q is not a clean absolute path", p)
		}
		mode := int64(0o644)
		if strings.Contains(p, "/bin/") {
			mode = 0o755
		}
		files = append(files, file{path: p, body: []byte(body), mode: mode})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	deps := make([]dep, 0, len(s.Depends))
	for _, d := range s.Depends {
		pd, err := parseDep(d)
		if err != nil {
			return nil, nil, err
		}
		deps = append(deps, pd)
	}
	return files, deps, nil
}

// RPM builds the spec as an unsigned binary RPM. Its signature header holds
// the size and the header's SHA-256, and its main header the payload's
// SHA-256, so rpm -K checks it and enmei can re-sign it.
func RPM(s Spec) ([]byte, error) {
	data, err := buildRPM(s)
	if err != nil {
		return nil, fmt.Errorf("building rpm %s: %w", s.Name, err)
	}
	return data, nil
}

// relation is an RPM dependency relation; op is "" or one of <, <=, =, >=, >.
func relation(name, op, version string) *rpmpack.Relation {
	r := &rpmpack.Relation{Name: name, Version: version}
	// Sense's type is unexported, so its values are set by name here.
	switch op {
	case "<":
		r.Sense = rpmpack.SenseLess
	case "<=":
		r.Sense = rpmpack.SenseLess | rpmpack.SenseEqual
	case "=":
		r.Sense = rpmpack.SenseEqual
	case ">=":
		r.Sense = rpmpack.SenseGreater | rpmpack.SenseEqual
	case ">":
		r.Sense = rpmpack.SenseGreater
	}
	return r
}

func buildRPM(s Spec) ([]byte, error) {
	files, deps, err := check(s)
	if err != nil {
		return nil, err
	}
	md := rpmpack.RPMMetaData{
		Name: s.Name, Version: s.Version, Release: s.Release, Epoch: rpmpack.NoEpoch,
		Arch: s.Arch, OS: "linux", Summary: s.Summary, Description: s.Description,
		Vendor: vendor, URL: homepage, Packager: maintainer, Group: "Unspecified", Licence: license,
		BuildHost: buildHost, BuildTime: fixedTime, Compressor: s.Compression,
	}
	// rpmbuild drops a description's trailing newlines too.
	md.Description = strings.TrimRight(md.Description, "\n")
	if md.Summary == "" {
		md.Summary, _, _ = strings.Cut(s.Description, "\n")
	}
	if s.Epoch != 0 {
		md.Epoch = uint32(s.Epoch)
	}
	if md.Compressor == "" {
		md.Compressor = "gzip"
	}
	for _, d := range deps {
		md.Requires = append(md.Requires, relation(d.name, d.op, d.version))
	}
	md.Requires = append(md.Requires, rpmlibRequires(md.Compressor, len(files) > 0)...)
	r, err := rpmpack.NewRPM(md)
	if err != nil {
		return nil, err
	}
	// rpmpack's own self-provide leaves out the epoch, so a "name >= 1:1.0"
	// requirement would not see this package; provide what rpmbuild does.
	evr := s.Version + "-" + s.Release
	if s.Epoch != 0 {
		evr = strconv.Itoa(s.Epoch) + ":" + evr
	}
	r.Provides = rpmpack.Relations{relation(s.Name, "=", evr)}
	if isa := arches[s.Arch].isa; isa != "" {
		r.Provides = append(r.Provides, relation(s.Name+"("+isa+")", "=", evr))
	}
	for _, f := range files {
		r.AddFile(rpmpack.RPMFile{Name: f.path, Body: f.body, Mode: uint(f.mode),
			Owner: "root", Group: "root", MTime: uint32(fixedTime.Unix())})
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rpmlibRequires are the rpmlib() features the package uses, as rpmbuild
// records them, so an rpm too old to read it says why instead of failing.
func rpmlibRequires(compressor string, hasFiles bool) []*rpmpack.Relation {
	var out []*rpmpack.Relation
	add := func(name, version string) {
		r := relation("rpmlib("+name+")", "<=", version)
		r.Sense |= rpmpack.SenseRPMLIB
		out = append(out, r)
	}
	if hasFiles {
		add("CompressedFileNames", "3.0.4-1")
		add("FileDigests", "4.6.0-1")
	}
	switch compressor {
	case "xz":
		add("PayloadIsXz", "5.2-1")
	case "zstd":
		add("PayloadIsZstd", "5.4.18-1")
	}
	return out
}

// Deb builds the spec as a .deb; its version is "[epoch:]version-release".
func Deb(s Spec) ([]byte, error) {
	data, err := buildDeb(s)
	if err != nil {
		return nil, fmt.Errorf("building deb %s: %w", s.Name, err)
	}
	return data, nil
}

// debOp maps an RPM-style operator to Debian's (strict < and > are << and >>).
var debOp = map[string]string{"<": "<<", "<=": "<=", "=": "=", ">=": ">=", ">": ">>"}

func buildDeb(s Spec) ([]byte, error) {
	files, deps, err := check(s)
	if err != nil {
		return nil, err
	}
	data, installedKiB, err := dataTar(files)
	if err != nil {
		return nil, fmt.Errorf("writing data.tar: %w", err)
	}
	dataName, data, err := compress("data.tar", data, s.Compression)
	if err != nil {
		return nil, err
	}
	control, err := controlTar(s, files, deps, installedKiB)
	if err != nil {
		return nil, fmt.Errorf("writing control.tar: %w", err)
	}
	// control.tar is always gzip, which every dpkg reads.
	controlName, control, err := compress("control.tar", control, "gzip")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {controlName, control}, {dataName, data}} {
		writeArMember(&out, m.name, m.data)
	}
	return out.Bytes(), nil
}

// writeArMember appends one member in the common ar format dpkg reads:
// a 60-byte header of space-padded decimal fields, then the data padded to
// an even length.
func writeArMember(w *bytes.Buffer, name string, data []byte) {
	fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, fixedTime.Unix(), 0, 0, 0o100644, len(data))
	w.Write(data)
	if len(data)%2 == 1 {
		w.WriteByte('\n')
	}
}

// tarHeader is a root-owned entry with the fixed time, in GNU format as
// dpkg-deb writes it (long names included).
func tarHeader(name string, mode int64, size int64, typ byte) *tar.Header {
	return &tar.Header{Name: name, Mode: mode, Size: size, Typeflag: typ, ModTime: fixedTime,
		Uname: "root", Gname: "root", Format: tar.FormatGNU}
}

// dataTar writes the files, preceded by every parent directory as dpkg-deb
// would, and returns the tar and the Installed-Size in KiB as dpkg counts it
// (each file rounded up to a KiB, each directory one KiB).
func dataTar(files []file) ([]byte, int64, error) {
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	type entry struct {
		path string
		file *file
	}
	entries := make([]entry, 0, len(dirs)+len(files))
	for d := range dirs {
		entries = append(entries, entry{path: d})
	}
	for i := range files {
		entries = append(entries, entry{path: files[i].path, file: &files[i]})
	}
	// Sorting by path puts each directory just before its contents.
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(tarHeader("./", 0o755, 0, tar.TypeDir)); err != nil {
		return nil, 0, err
	}
	kib := int64(1)
	for _, e := range entries {
		if e.file == nil {
			kib++
			if err := tw.WriteHeader(tarHeader("."+e.path+"/", 0o755, 0, tar.TypeDir)); err != nil {
				return nil, 0, err
			}
			continue
		}
		kib += (int64(len(e.file.body)) + 1023) / 1024
		if err := tw.WriteHeader(tarHeader("."+e.path, e.file.mode, int64(len(e.file.body)), tar.TypeReg)); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(e.file.body); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), kib, nil
}

// controlTar writes the control file and md5sums.
func controlTar(s Spec, files []file, deps []dep, installedKiB int64) ([]byte, error) {
	version := s.Version + "-" + s.Release
	if s.Epoch != 0 {
		version = strconv.Itoa(s.Epoch) + ":" + version
	}
	var c strings.Builder
	fmt.Fprintf(&c, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %d\n",
		s.Name, version, debArch(s.Arch), maintainer, installedKiB)
	if len(deps) > 0 {
		parts := make([]string, len(deps))
		for i, d := range deps {
			parts[i] = d.name
			if d.op != "" {
				parts[i] += " (" + debOp[d.op] + " " + d.version + ")"
			}
		}
		fmt.Fprintf(&c, "Depends: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&c, "Section: misc\nPriority: optional\nHomepage: %s\n", homepage)
	c.WriteString(debDescription(s.Summary, s.Description))

	var sums strings.Builder
	for _, f := range files {
		sum := md5.Sum(f.body)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), strings.TrimPrefix(f.path, "/"))
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(tarHeader("./", 0o755, 0, tar.TypeDir)); err != nil {
		return nil, err
	}
	for _, m := range []struct{ name, body string }{{"./control", c.String()}, {"./md5sums", sums.String()}} {
		if err := tw.WriteHeader(tarHeader(m.name, 0o644, int64(len(m.body)), tar.TypeReg)); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, m.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// debDescription is the Description field: the summary as the synopsis line
// (or the description's first line if there is no summary), then the
// description indented by one space, blank lines written " ." as Debian
// requires.
func debDescription(summary, description string) string {
	description = strings.Trim(strings.ReplaceAll(description, "\r\n", "\n"), "\n")
	synopsis := strings.Join(strings.Fields(summary), " ")
	if synopsis == "" {
		synopsis, description, _ = strings.Cut(description, "\n")
		synopsis = strings.TrimSpace(synopsis)
		description = strings.Trim(description, "\n")
	}
	var b strings.Builder
	b.WriteString("Description: " + synopsis + "\n")
	if description == "" || description == synopsis {
		return b.String()
	}
	for _, line := range strings.Split(description, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			line = "."
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}

// compress returns the member name with the compression's suffix and the
// compressed data.
func compress(name string, data []byte, compression string) (string, []byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch compression {
	case "", "gzip":
		name += ".gz"
		w, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case "xz":
		name += ".xz"
		w, err = xz.NewWriter(&buf)
	case "zstd":
		name += ".zst"
		// One encoder goroutine keeps the output independent of GOMAXPROCS.
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	default:
		return "", nil, fmt.Errorf("compression %q is not gzip, xz or zstd", compression)
	}
	if err != nil {
		return "", nil, fmt.Errorf("compressing %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		return "", nil, fmt.Errorf("compressing %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return "", nil, fmt.Errorf("compressing %s: %w", name, err)
	}
	return name, buf.Bytes(), nil
}
