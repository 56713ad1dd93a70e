package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Bounds on what a dpkg database may make Read hold in memory. A real
// Debian host has a few thousand packages and well under a million files.
const (
	maxStatusLine  = 1 << 20 // one line of the status file
	maxListLine    = 64 << 10
	maxDebPackages = 200_000
	maxDebFiles    = 5_000_000 // over all packages
	maxCopyright   = 4 << 20
)

// lineReader reads lines of at most max bytes (without the newline),
// counting them.
type lineReader struct {
	r    *bufio.Reader
	max  int
	line int
	buf  []byte
}

var errLongLine = errors.New("line too long")

func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.r.ReadSlice('\n')
		if len(l.buf)+len(frag) > l.max+1 {
			l.line++
			return nil, errLongLine
		}
		l.buf = append(l.buf, frag...)
		switch err {
		case nil:
			l.line++
			return l.buf[:len(l.buf)-1], nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
			l.line++
			return l.buf, nil
		default:
			return nil, err
		}
	}
}

// stanza is what Read keeps of one status entry.
type stanza struct {
	line                                                       int // of its first field
	pkg, status, version, arch, desc, source, multiArch, conff string
	seen                                                       map[string]bool
}

// statusError is a syntax error in the status file, with its line.
func statusError(db DB, line int, format string, args ...any) error {
	return invalid(ErrDamaged, nil, "the dpkg database %s is damaged at line %d: %s", db.Path, line, fmt.Sprintf(format, args...))
}

// parseStatus reads dpkg's status file (deb822 stanzas: "Field: value"
// lines, continuation lines starting with a space or a tab, stanzas
// separated by empty lines) and calls each for every stanza. Only the
// fields Read uses are kept; Conffiles only when keepConffiles.
func parseStatus(r io.Reader, db DB, keepConffiles bool, each func(*stanza) error) error {
	lr := &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: maxStatusLine}
	var cur *stanza
	var field string // the field continuation lines belong to
	flush := func() error {
		if cur == nil {
			return nil
		}
		s := cur
		cur, field = nil, ""
		return each(s)
	}
	for {
		raw, err := lr.next()
		if err == io.EOF {
			return flush()
		}
		if err == errLongLine {
			return statusError(db, lr.line, "a line longer than %d bytes", maxStatusLine)
		}
		if err != nil {
			return invalid(nil, err, "cannot read the dpkg database %s: %v", db.Path, err)
		}
		line := string(bytes.TrimSuffix(raw, []byte("\r")))
		if strings.TrimLeft(line, " \t") == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil || field == "" {
				return statusError(db, lr.line, "a continuation line outside any field")
			}
			if field == "conffiles" && keepConffiles {
				cur.conff += strings.TrimSpace(line) + "\n"
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validFieldName(name) {
			return statusError(db, lr.line, "%q is neither a field nor a continuation line", clip(line, 60))
		}
		if cur == nil {
			cur = &stanza{line: lr.line, seen: map[string]bool{}}
		}
		field = strings.ToLower(name)
		if cur.seen[field] {
			return statusError(db, lr.line, "a second %s field in the entry starting at line %d", name, cur.line)
		}
		cur.seen[field] = true
		value = strings.TrimSpace(value)
		switch field {
		case "package":
			cur.pkg = value
		case "status":
			cur.status = value
		case "version":
			cur.version = value
		case "architecture":
			cur.arch = value
		case "description":
			cur.desc = value
		case "source":
			cur.source = value
		case "multi-arch":
			cur.multiArch = value
		}
	}
}

// validFieldName is deb822's rule: printable ASCII but for ':', not
// starting with '#' or '-'.
func validFieldName(s string) bool {
	if s == "" || s[0] == '#' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// installedStatus are the dpkg states of a package whose files are
// unpacked and configured: "installed", and the two that only wait for
// triggers of another package. The selection (install, hold, deinstall)
// does not matter: a held package is installed, and so is one marked for
// removal until it is removed.
var installedStatus = []string{"installed", "triggers-awaited", "triggers-pending"}

// readDpkg lists the installed packages of a dpkg database.
func readDpkg(ctx context.Context, r *rootDir, db DB, opts Options) ([]Package, error) {
	f, err := os.Open(db.Path)
	if err != nil {
		return nil, invalid(nil, err, "cannot read the dpkg database %s: %v", db.Path, err)
	}
	defer f.Close()
	// dpkg's info directory beside the status file (db.Path is resolved
	// already, so this is a host path).
	info := filepath.Join(filepath.Dir(db.Path), "info")
	var pkgs []Package
	var checks []fileCheck
	files := 0
	listBuf := bufio.NewReaderSize(nil, 16<<10)
	err = parseStatus(f, db, opts.HashFiles, func(s *stanza) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.pkg == "" {
			return statusError(db, s.line, "the entry starting here has no Package field")
		}
		if strings.ContainsAny(s.pkg+s.arch, "/\x00") || s.pkg == "." || s.pkg == ".." {
			return statusError(db, s.line, "package name %q or architecture %q holds characters dpkg does not allow", s.pkg, s.arch)
		}
		st := strings.Fields(s.status)
		if len(st) != 3 {
			return statusError(db, s.line, "package %s has Status %q, not \"want flag status\"", s.pkg, s.status)
		}
		if !slices.Contains(installedStatus, st[2]) {
			return nil
		}
		if len(pkgs) >= maxDebPackages {
			return invalid(ErrDamaged, nil, "the dpkg database %s lists more than %d installed packages", db.Path, maxDebPackages)
		}
		p, err := fromStanza(s)
		if err != nil {
			return statusError(db, s.line, "%v", err)
		}
		if opts.Brief {
			pkgs = append(pkgs, p)
			return nil
		}
		list, err := readList(r, listBuf, info, s)
		if err != nil {
			return invalid(nil, err, "cannot read the file list of %s: %v", s.pkg, err)
		}
		if files += len(list); files > maxDebFiles {
			return invalid(nil, nil, "the packages of %s own more than %d files", db.Path, maxDebFiles)
		}
		for _, fp := range list {
			p.Files = append(p.Files, File{Path: fp})
		}
		p.License = debLicense(r, p.Name)
		if opts.HashFiles {
			sums := debDigests(info, s)
			for i, fl := range p.Files {
				if d, ok := sums[fl.Path]; ok {
					checks = append(checks, fileCheck{pkg: len(pkgs), file: i, algo: "md5", digest: d})
				}
			}
		}
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opts.HashFiles && len(pkgs) > 0 {
		if err := hashFiles(ctx, r, pkgs, checks); err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

// fromStanza makes the package of an installed status entry.
func fromStanza(s *stanza) (Package, error) {
	p := Package{Format: "deb", Name: s.pkg, Arch: s.arch, Summary: s.desc, Source: s.pkg}
	if s.version == "" {
		return p, fmt.Errorf("package %s is installed but has no Version", s.pkg)
	}
	p.Version = s.version
	if e, v, ok := strings.Cut(s.version, ":"); ok {
		if e == "" || strings.Trim(e, "0123456789") != "" || v == "" {
			return p, fmt.Errorf("package %s has Version %q, whose epoch is not a number", s.pkg, s.version)
		}
		p.Epoch, p.Version = e, v
	}
	if s.source != "" {
		name, ver, _ := strings.Cut(s.source, " ")
		p.Source = name
		ver = strings.TrimSpace(ver)
		if strings.HasPrefix(ver, "(") && strings.HasSuffix(ver, ")") {
			ver = strings.TrimSpace(ver[1 : len(ver)-1])
			if ver != p.EVR() {
				p.SourceVersion = ver
			}
		}
	}
	return p, nil
}

// listNames are the names dpkg gives a package's files in its info directory:
// "name:arch" for a Multi-Arch: same package, "name" otherwise.
func listNames(s *stanza, ext string) []string {
	plain, qualified := s.pkg+ext, s.pkg+":"+s.arch+ext
	if s.arch == "" {
		return []string{plain}
	}
	if strings.EqualFold(s.multiArch, "same") {
		return []string{qualified, plain}
	}
	return []string{plain, qualified}
}

// readList returns the files and links a package installed, sorted: the
// paths of its .list file but "/.", the directories of other paths, and
// paths that are directories under root.
func readList(r *rootDir, br *bufio.Reader, info string, s *stanza) ([]string, error) {
	var f *os.File
	for _, name := range listNames(s, ".list") {
		var err error
		f, err = os.Open(filepath.Join(info, name))
		if err == nil {
			break
		}
		f = nil
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if f == nil {
		return nil, nil // a package with no files has no list
	}
	defer f.Close()
	br.Reset(f)
	lr := &lineReader{r: br, max: maxListLine}
	var paths []string
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err == errLongLine {
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes", f.Name(), lr.line, maxListLine)
		}
		if err != nil {
			return nil, err
		}
		p := string(line)
		if p == "" || p == "/." {
			continue
		}
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
			return nil, fmt.Errorf("%s: line %d is not a clean absolute path", f.Name(), lr.line)
		}
		paths = append(paths, p)
		if len(paths) > maxDebFiles {
			return nil, fmt.Errorf("%s lists more than %d paths", f.Name(), maxDebFiles)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	// A path is a directory when another path is inside it, or when it is
	// a directory under root.
	parents := make(map[string]bool, len(paths)/4)
	for _, p := range paths {
		for d := path.Dir(p); d != "/" && !parents[d]; d = path.Dir(d) {
			parents[d] = true
		}
	}
	out := paths[:0]
	for _, p := range paths {
		if parents[p] {
			continue
		}
		if hp, err := r.resolve(p, false); err == nil {
			if fi, err := os.Lstat(hp); err == nil && fi.IsDir() {
				continue
			}
		}
		out = append(out, p)
	}
	return slices.Clip(out), nil
}

// debDigests are the MD5 digests dpkg recorded for a package's files: its
// .md5sums file and the Conffiles field of its status entry (for files
// rewritten since, dpkg keeps the packaged digest there).
func debDigests(info string, s *stanza) map[string]string {
	sums := map[string]string{}
	for _, name := range listNames(s, ".md5sums") {
		data, err := readLimited(filepath.Join(info, name), 64<<20)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(data)) {
			sum, file, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "  ")
			if ok && isHex(sum, 32) && file != "" {
				sums[path.Clean("/"+file)] = strings.ToLower(sum)
			}
		}
		break
	}
	for line := range strings.Lines(s.conff) {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[0], "/") && isHex(f[1], 32) {
			if _, ok := sums[f[0]]; !ok {
				sums[f[0]] = strings.ToLower(f[1])
			}
		}
	}
	return sums
}
