// Package deb reads Debian binary packages and writes signed APT repository
// indexes (Packages, Release, Release.gpg, InRelease). A .deb is read as a
// stream: its ar members are checked for completeness, its control file is
// parsed, and the data member is skipped (Inspect) or read for the SBOM's
// file list and copyright file (InspectContents), never held in memory.
package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalid marks input that is not a valid .deb.
var ErrInvalid = errors.New("invalid deb")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Info is what enmei keeps of a .deb.
type Info struct {
	Package, Version, Architecture, Source string
	Control                                []byte // the control paragraph, without a trailing blank line
	Size                                   int64
	MD5, SHA1, SHA256                      string // of the whole file
	// Contents is what InspectContents read from the data member; nil
	// from Inspect.
	Contents *Contents
}

// Contents is what the data member holds, as far as an SBOM needs it.
type Contents struct {
	// Files are the regular files, hard links, symbolic links and special
	// files, in archive order; directories are left out. A path given twice
	// is listed once, as the later entry (what dpkg would leave installed).
	Files []DataFile
	// Incomplete says why Files is not the whole list ("" when it is): the
	// member unpacks to more than its bound, holds more files or longer
	// paths than are listed, or is compressed in a way InspectContents does
	// not unpack. The listing stopped there; the package is not refused.
	Incomplete string
	// Copyright is /usr/share/doc/<Package>/copyright when the package
	// holds it as a regular file of at most MaxCopyright bytes; nil
	// otherwise (missing, a link, too large, or the data member came before
	// the control member, so the name was not known yet).
	Copyright []byte
}

// DataFile is one entry of the data member.
type DataFile struct {
	Path string // absolute and clean: "./usr/bin/x" is "/usr/bin/x"
	// SHA256 is the hex digest of the content of a regular file or of the
	// file a hard link names; "" for symbolic links and special files.
	SHA256 string
}

// Filename is "name_version_arch.deb", the epoch dropped as Debian does.
func (i *Info) Filename() string {
	v := i.Version
	if j := strings.IndexByte(v, ':'); j >= 0 {
		v = v[j+1:]
	}
	return i.Package + "_" + v + "_" + i.Architecture + ".deb"
}

const (
	maxControl = 16 << 20 // the control.tar member, compressed
	// maxControlTar bounds the control.tar once decompressed, so a
	// compression bomb costs bounded time (tar skips entries by reading
	// them). Real ones are kilobytes; md5sums of a huge package, megabytes.
	maxControlTar = 64 << 20
	// maxZstdWindow refuses zstd frames that would make the decoder
	// allocate more: a header of a few bytes can ask for a 512 MiB window.
	// 8 MiB is what the zstd format asks every decoder to support; level 19
	// needs no more.
	maxZstdWindow = 8 << 20

	// MaxCopyright bounds the copyright file kept, as the host inventory
	// bounds the one it reads; real ones are kilobytes.
	MaxCopyright = 4 << 20
	// The data member is listed until it has unpacked to dataRatio times
	// its compressed size plus dataSlack bytes: a compression bomb (xz and
	// zstd pack zeros thousands of times over) then costs time in
	// proportion to the upload, while real packages, whose payloads rarely
	// shrink more than tenfold, are read whole. Past the bound the member is
	// only hashed, and the list is marked incomplete.
	dataRatio = 100
	dataSlack = 64 << 20
	// maxFiles and maxPathBytes bound the list held in memory: the largest
	// Debian packages ship about 100,000 files, and a path is at most
	// maxPath bytes (Linux's PATH_MAX; dpkg could not install a longer one).
	maxFiles     = 1 << 19
	maxPathBytes = 64 << 20
	maxPath      = 4096
)

// Inspect reads a whole .deb from r and returns what the index needs. The
// data member is only hashed, not unpacked.
func Inspect(r io.Reader) (*Info, error) { return inspect(r, false) }

// InspectContents is Inspect that also unpacks the data member as it
// streams by, filling Info.Contents: the file list with the SHA-256 of
// every regular file, and the package's copyright file. Size and the
// whole-file digests are those Inspect gives. A data member that cannot be
// unpacked (damaged compression, a truncated tar) is refused as ErrInvalid;
// one that unpacks beyond the bound is accepted with Contents.Incomplete
// set.
func InspectContents(r io.Reader) (*Info, error) { return inspect(r, true) }

func inspect(r io.Reader, withContents bool) (*Info, error) {
	hm, h1, h256 := md5.New(), sha1.New(), sha256.New()
	counter := &countWriter{}
	br := bufio.NewReaderSize(io.TeeReader(r, io.MultiWriter(hm, h1, h256, counter)), 64<<10)
	magic := make([]byte, 8)
	if n, _ := io.ReadFull(br, magic); n < 8 || string(magic) != "!<arch>\n" {
		if n >= 4 && bytes.Equal(magic[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
			return nil, invalid("it is an RPM package, not a Debian package")
		}
		return nil, invalid("it is not a Debian package (no ar archive magic)")
	}
	var info *Info
	var contents *Contents
	sawBinary, sawData := false, false
	for i := 0; ; i++ {
		name, size, err := readMember(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		body := io.LimitReader(br, size)
		switch {
		case i == 0:
			if name != "debian-binary" {
				return nil, invalid("it is not a Debian package (first member is %q, not debian-binary)", name)
			}
			b, err := readAllFull(body, size, 64)
			if err != nil {
				return nil, err
			}
			// Skip what is beyond the 64 bytes read, or it would be taken
			// for the next member's header.
			if n, err := io.Copy(io.Discard, body); err != nil || int64(len(b))+n != size {
				return nil, invalid("the file is truncated in its debian-binary member")
			}
			if !strings.HasPrefix(string(b), "2.") {
				return nil, invalid("it has an unsupported format version %q", strings.TrimSpace(string(b)))
			}
			sawBinary = true
		case strings.HasPrefix(name, "control.tar"):
			if size > maxControl {
				return nil, invalid("its control member is too large (%d bytes)", size)
			}
			b, err := readAllFull(body, size, maxControl)
			if err != nil {
				return nil, err
			}
			info, err = parseControlTar(name, b)
			if err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "data.tar") && withContents:
			pkg := ""
			if info != nil { // dpkg puts control first; see Contents.Copyright
				pkg = info.Package
			}
			if contents, err = readData(name, body, size, pkg); err != nil {
				return nil, err
			}
			sawData = true
		case strings.HasPrefix(name, "data.tar"):
			n, err := io.Copy(io.Discard, body)
			if err != nil || n != size {
				return nil, invalid("the file is truncated in its data member")
			}
			sawData = true
		default:
			if _, err := io.Copy(io.Discard, body); err != nil {
				return nil, err
			}
		}
		if size%2 == 1 { // ar pads members to even offsets
			if _, err := br.ReadByte(); err != nil && err != io.EOF {
				return nil, err
			}
		}
	}
	switch {
	case !sawBinary:
		return nil, invalid("it is not a Debian package (no debian-binary member)")
	case info == nil:
		return nil, invalid("it has no control.tar member")
	case !sawData:
		return nil, invalid("it has no data.tar member (the file is truncated)")
	}
	info.Contents = contents
	info.Size = counter.n
	info.MD5 = hex.EncodeToString(hm.Sum(nil))
	info.SHA1 = hex.EncodeToString(h1.Sum(nil))
	info.SHA256 = hex.EncodeToString(h256.Sum(nil))
	return info, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func readMember(r *bufio.Reader) (string, int64, error) {
	hdr := make([]byte, 60)
	n, err := io.ReadFull(r, hdr)
	if n == 0 && err == io.EOF {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, invalid("the file is truncated in an archive member header")
	}
	if string(hdr[58:60]) != "`\n" {
		return "", 0, invalid("its archive member header is damaged")
	}
	name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
	size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, invalid("its archive member %q has a damaged size", name)
	}
	return name, size, nil
}

// readAllFull reads min(size, max) bytes. The buffer grows as data
// arrives, so a short file claiming a large member costs only its own size.
func readAllFull(r io.Reader, size, max int64) ([]byte, error) {
	if size > max {
		size = max
	}
	var b bytes.Buffer
	if n, err := io.CopyN(&b, r, size); err != nil || n != size {
		return nil, invalid("the file is truncated")
	}
	return b.Bytes(), nil
}

// decompress opens the control member; the caller must Close it. dpkg
// writes it uncompressed or with gzip, xz or zstd, never bzip2.
func decompress(name string, b []byte) (io.ReadCloser, error) {
	if strings.HasSuffix(name, ".bz2") {
		return nil, fmt.Errorf("unknown compression of %s", name)
	}
	return openStream(name, bytes.NewReader(b))
}

func parseControlTar(name string, b []byte) (*Info, error) {
	zr, err := decompress(name, b)
	if err != nil {
		return nil, invalid("its %s cannot be read: %v", name, err)
	}
	defer zr.Close()
	tr := tar.NewReader(io.LimitReader(zr, maxControlTar))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, invalid("its %s has no control file", name)
		}
		if err != nil {
			return nil, invalid("its %s is damaged: %v", name, err)
		}
		if strings.TrimPrefix(h.Name, "./") != "control" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxControl))
		if err != nil {
			return nil, invalid("its control file is damaged: %v", err)
		}
		return parseControl(data)
	}
}

func parseControl(data []byte) (*Info, error) {
	para := bytes.TrimSpace(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))
	if i := bytes.Index(para, []byte("\n\n")); i >= 0 {
		para = para[:i]
	}
	if err := checkParagraph(para); err != nil {
		return nil, err
	}
	f := fields(para)
	info := &Info{Package: f["Package"], Version: f["Version"], Architecture: f["Architecture"], Control: para}
	if info.Package == "" || info.Version == "" || info.Architecture == "" {
		return nil, invalid("its control file lacks Package, Version or Architecture")
	}
	info.Source = info.Package
	if s := strings.Fields(f["Source"]); len(s) > 0 {
		info.Source = s[0]
	}
	// Source is a directory of PoolPath too: "Source: ../../x" must not
	// walk out of the pool, nor ".x" make "pool/main/./.x/" (no Debian
	// name or version starts with a dot).
	for _, s := range []string{info.Package, info.Version, info.Architecture, info.Source} {
		if strings.ContainsAny(s, "/\\ \t") || strings.Contains(s, "..") || s[0] == '.' {
			return nil, invalid("its Package, Version, Architecture or Source holds characters not allowed in a file name")
		}
	}
	return info, nil
}

// archiveFields are written by the archive into the Packages index; a
// package that carries its own would put a second, forged value into the
// signed index.
var archiveFields = map[string]bool{"filename": true, "size": true, "md5sum": true, "sha1": true,
	"sha256": true, "sha512": true, "description-md5": true}

// checkParagraph refuses a control paragraph that would not be copied into
// the Packages index as exactly one well-formed stanza: every line must be
// a "Field: value" line or a continuation line with text, field names
// well-formed and not the archive's own, and no control characters. A line
// of only spaces would end the stanza in apt's parser and start another.
func checkParagraph(para []byte) error {
	return checkFields(para, "control file", archiveFields, invalid)
}

// checkFields is checkParagraph for the paragraph of a file named what,
// refusing the fields reserved (lower-case) with errors made by fail.
func checkFields(para []byte, what string, reserved map[string]bool, fail func(string, ...any) error) error {
	seen := map[string]bool{}
	for i, line := range strings.Split(string(para), "\n") {
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return fail("its %s holds control characters", what)
			}
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			if strings.TrimSpace(line) == "" || i == 0 {
				return fail("its %s holds an empty or misplaced continuation line", what)
			}
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || !fieldName.MatchString(name) {
			return fail("its %s has a line that is not a field: %.40q", what, line)
		}
		key := strings.ToLower(name)
		if reserved[key] {
			return fail("its %s sets %s, which only the archive may set", what, name)
		}
		if seen[key] {
			return fail("its %s sets %s twice", what, name)
		}
		seen[key] = true
	}
	return nil
}

// fieldName is deb822's field name: printable ASCII without a colon or
// space, not starting with '#' or '-'.
var fieldName = regexp.MustCompile(`^[!-"$-,.-9;-~][!-9;-~]*$`)

// fields reads the simple (first-line) values of a control paragraph.
func fields(para []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(para), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// PoolPath is where a package lives in the repository:
// "pool/<component>/<prefix>/<source>/<filename>".
func PoolPath(component string, i *Info) string {
	return PoolDir(component, i.Source) + "/" + i.Filename()
}

// Entry renders the package's Packages stanza.
func Entry(i *Info, poolPath string) []byte {
	var b bytes.Buffer
	b.Write(i.Control)
	fmt.Fprintf(&b, "\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n", poolPath, i.Size, i.MD5, i.SHA1, i.SHA256)
	return b.Bytes()
}
