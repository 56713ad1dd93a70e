package deb

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// MaxDsc bounds a .dsc read whole: real ones are a few kilobytes, the
// largest (many tarballs, long Package-List) some tens.
const MaxDsc = 4 << 20

// Dsc is a Debian source package's control file (.dsc) as publish reads
// it: the package is the .dsc plus the files it lists (an .orig.tar.* and
// a .debian.tar.*, or one .tar.* for a native package, and any signatures
// of the upstream tarballs).
type Dsc struct {
	Source, Version, Format string
	// Files are the listed files in Checksums-Sha256 order, each with
	// the MD5 (Files) and SHA-1 (Checksums-Sha1) the .dsc gives it, when
	// it does.
	Files []DscFile
	// Control is the paragraph, with any OpenPGP clearsigning removed,
	// without a trailing newline.
	Control []byte
	// Signed reports that the .dsc is clearsigned. The signature is not
	// checked (it is the maintainer's, whose key enmeid does not hold);
	// the file is served as given, signature and all.
	Signed bool
}

// DscFile is one file a .dsc lists; MD5 and SHA1 are "" when the .dsc
// does not give them.
type DscFile struct {
	Name              string
	Size              int64
	SHA256, SHA1, MD5 string
}

// Filename is the .dsc's name in the pool, "source_version.dsc" with the
// epoch dropped, as Debian names it.
func (d *Dsc) Filename() string {
	v := d.Version
	if j := strings.IndexByte(v, ':'); j >= 0 {
		v = v[j+1:]
	}
	return d.Source + "_" + v + ".dsc"
}

// sourceError is a .dsc's refusal: it says so, and is ErrInvalid.
type sourceError struct{ msg string }

func (e *sourceError) Error() string        { return "invalid Debian source package: " + e.msg }
func (e *sourceError) Is(target error) bool { return target == ErrInvalid }

func invalidSource(format string, args ...any) error {
	return &sourceError{fmt.Sprintf(format, args...)}
}

// dscArchiveFields are what the archive writes into a Sources stanza: a
// .dsc that sets them would put a forged value into the signed index.
var dscArchiveFields = map[string]bool{"package": true, "directory": true, "priority": true, "section": true}

// ParseDsc reads a .dsc, plain or clearsigned. It checks that the
// paragraph is well-formed, names its source and version safely, and
// lists every file with a size and SHA-256 (Checksums-Sha256); MD5 and
// SHA-1 listings, when present, must agree with it on names and sizes.
func ParseDsc(data []byte) (*Dsc, error) {
	if len(data) > MaxDsc {
		return nil, invalidSource("its .dsc is larger than %d bytes, more than any source package's", MaxDsc)
	}
	text := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	d := &Dsc{}
	trimmed := bytes.TrimLeft(text, " \t\n")
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		b, rest := clearsign.Decode(trimmed)
		if b == nil {
			return nil, invalidSource("its .dsc is clearsigned but the OpenPGP armor is damaged")
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, invalidSource("its .dsc holds text after its OpenPGP signature")
		}
		text, d.Signed = b.Plaintext, true
	} else if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		return nil, invalidSource("its .dsc is OpenPGP data but not a clearsigned control file")
	}
	para := bytes.Trim(text, "\n")
	if bytes.Contains(para, []byte("\n\n")) {
		return nil, invalidSource("its .dsc holds more than one paragraph")
	}
	if len(para) == 0 {
		return nil, invalidSource("its .dsc is empty")
	}
	if err := checkFields(para, ".dsc", dscArchiveFields, invalidSource); err != nil {
		return nil, err
	}
	f := fields(para)
	d.Source, d.Version, d.Format, d.Control = f["Source"], f["Version"], f["Format"], para
	if d.Source == "" || d.Version == "" || d.Format == "" {
		return nil, invalidSource("its .dsc lacks Source, Version or Format")
	}
	for _, s := range []string{d.Source, d.Version} {
		if strings.ContainsAny(s, "/\\ \t") || strings.Contains(s, "..") || s[0] == '.' {
			return nil, invalidSource("its Source or Version holds characters not allowed in a file name")
		}
	}
	multi := multiline(para)
	sha256s, err := dscList(multi["checksums-sha256"], "Checksums-Sha256", 64)
	if err != nil {
		return nil, err
	}
	if len(sha256s) == 0 {
		return nil, invalidSource("its .dsc lists no Checksums-Sha256, so its files cannot be verified: build the source package with dpkg-source 1.15 or later")
	}
	seen := map[string]int{}
	for i, e := range sha256s {
		if _, dup := seen[e.name]; dup {
			return nil, invalidSource("its .dsc lists %s twice", e.name)
		}
		seen[e.name] = i
		d.Files = append(d.Files, DscFile{Name: e.name, Size: e.size, SHA256: e.sum})
	}
	for _, other := range []struct {
		field string
		width int
		set   func(*DscFile, string)
	}{
		{"Files", 32, func(f *DscFile, s string) { f.MD5 = s }},
		{"Checksums-Sha1", 40, func(f *DscFile, s string) { f.SHA1 = s }},
	} {
		list, err := dscList(multi[strings.ToLower(other.field)], other.field, other.width)
		if err != nil {
			return nil, err
		}
		if list == nil {
			continue
		}
		if len(list) != len(d.Files) {
			return nil, invalidSource("its .dsc lists %d files in %s but %d in Checksums-Sha256", len(list), other.field, len(d.Files))
		}
		for _, e := range list {
			i, ok := seen[e.name]
			if !ok || d.Files[i].Size != e.size {
				return nil, invalidSource("its %s and Checksums-Sha256 disagree about %s", other.field, e.name)
			}
			other.set(&d.Files[i], e.sum)
		}
	}
	return d, nil
}

type listed struct {
	sum, name string
	size      int64
}

// dscList reads a checksums field: lines of "sum size name". nil when the
// field is absent.
func dscList(value, field string, width int) ([]listed, error) {
	var out []listed
	for _, line := range strings.Split(value, "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 || len(fs[0]) != width || !isHex(fs[0]) {
			return nil, invalidSource("its %s has a malformed line %.80q", field, line)
		}
		size, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil || size < 0 {
			return nil, invalidSource("its %s has a malformed size: %.80q", field, line)
		}
		name := fs[2]
		if strings.ContainsAny(name, "/\\") || name[0] == '.' || strings.HasSuffix(name, ".dsc") {
			return nil, invalidSource("its %s lists %.80q, which is not a plain file name of a source package", field, name)
		}
		out = append(out, listed{sum: strings.ToLower(fs[0]), name: name, size: size})
	}
	return out, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// multiline reads every field of a paragraph with its continuation lines
// (trimmed, joined by newlines), by lower-case name.
func multiline(para []byte) map[string]string {
	out := map[string]string{}
	for k, v := range ControlFields(para) {
		out[strings.ToLower(k)] = v
	}
	return out
}

// ControlFields reads a control paragraph by field name as written,
// folding continuation lines (trimmed, joined by newlines). A line that is
// neither a field nor a continuation is skipped.
func ControlFields(para []byte) map[string]string {
	out := map[string]string{}
	key := ""
	for _, line := range strings.Split(string(para), "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key != "" {
				out[key] += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			key = ""
			continue
		}
		key = k
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// PoolDir is the directory of a source's files in the repository:
// "pool/<component>/<prefix>/<source>", prefix being the first letter, or
// the first four for lib* sources, as in Debian.
func PoolDir(component, source string) string {
	prefix := source[:1]
	if strings.HasPrefix(source, "lib") && len(source) > 3 {
		prefix = source[:4]
	}
	return "pool/" + component + "/" + prefix + "/" + source
}

// SourcesEntry renders a source package's Sources stanza: the .dsc's
// paragraph with Source as Package, its checksum fields replaced by the
// .dsc itself and its files as they were hashed (dsc first, then the
// listed files, in the .dsc's order), and Directory, the pool directory
// that holds them all.
func SourcesEntry(d *Dsc, dsc DscFile, files []DscFile, dir string) []byte {
	var b bytes.Buffer
	b.WriteString("Package: " + d.Source + "\n")
	skip := false
	for _, line := range strings.Split(string(d.Control), "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skip {
				b.WriteString(line + "\n")
			}
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "source", "files", "checksums-sha1", "checksums-sha256", "checksums-sha512":
			skip = true
			continue
		}
		skip = false
		b.WriteString(line + "\n")
	}
	all := append([]DscFile{dsc}, files...)
	for _, f := range []struct {
		name string
		sum  func(DscFile) string
	}{{"Files", func(f DscFile) string { return f.MD5 }}, {"Checksums-Sha1", func(f DscFile) string { return f.SHA1 }}, {"Checksums-Sha256", func(f DscFile) string { return f.SHA256 }}} {
		b.WriteString(f.name + ":\n")
		for _, file := range all {
			fmt.Fprintf(&b, " %s %d %s\n", f.sum(file), file.Size, file.Name)
		}
	}
	b.WriteString("Directory: " + dir + "\n")
	return b.Bytes()
}
