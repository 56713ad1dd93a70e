package inventory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
)

// How an rpm database is read.
//
// go-rpmdb v0.1.1 decodes rpm headers well, but its readers for the
// database files run in goroutines of their own (pkg/bdb, pkg/ndb), where a
// damaged file can panic with an index out of range that no recover in
// the caller can catch, loop forever (an overflow chain reaching a page
// that is not an overflow page is retried without end), or allocate what a
// length field says (up to 4 GiB for one NDB blob); its NDB reader also
// prints to standard output, which the agent's --json output owns, and its
// SQLite reader opens the host's database read-write. Its header decoder
// runs in the caller's goroutine but allocates il*16 bytes before checking
// il against the blob, and spins for up to 2^32 rounds on a string array
// whose count exceeds its strings.
//
// So the package headers are taken out of the host's database here, by
// readers that check every offset and length against the file (bdbBlobs,
// ndbBlobs, sqliteBlobs opened read-only), each header is checked as far
// as go-rpmdb's decoder trusts it (checkHeader), and the checked headers
// are written to a private NDB file (stage) — the simplest format go-rpmdb
// reads, and one rpm's own documentation describes — which go-rpmdb then
// lists with recover around it. go-rpmdb never reads a file of the host.

// maxHeader is rpm's own limit on a header blob (headerMaxbytes).
const maxHeader = 256<<20 - 1

// damagedError is a fault in the database's content, as opposed to an
// error reading it; errors.Is(err, ErrDamaged) holds.
type damagedError struct{ msg string }

func (e *damagedError) Error() string        { return e.msg }
func (e *damagedError) Is(target error) bool { return target == ErrDamaged }

func damagef(format string, args ...any) error {
	return &damagedError{fmt.Sprintf(format, args...)}
}

// sniffRPM tells the kind of an rpm database from its first bytes.
func sniffRPM(f *os.File) (string, error) {
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	head = head[:n]
	switch {
	case n == 0:
		return "", damagef("it is an empty file")
	case strings.HasPrefix(string(head), "SQLite format 3\x00"):
		return KindRPMSQLite, nil
	case strings.HasPrefix(string(head), "RpmP"):
		return KindRPMNDB, nil
	case n >= 16:
		switch binary.LittleEndian.Uint32(head[12:]) {
		case bdbHashMagic, bdbHashMagicSwapped:
			return KindRPMBDB, nil
		case 0x00053162, 0x62310500:
			return "", damagef("it is a Berkeley DB btree, not the hash database rpm keeps its headers in")
		}
	}
	return "", damagef("it is neither a SQLite, an NDB nor a Berkeley DB database")
}

// readRPM lists the packages of an rpm database; see the comment above.
func readRPM(ctx context.Context, r *rootDir, db DB, opts Options) ([]Package, error) {
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrDamaged) {
			return invalid(ErrDamaged, err, "the rpm database %s is damaged: %v (rpm --rebuilddb may repair it)", db.Path, err)
		}
		return invalid(nil, err, "cannot read the rpm database %s: %v", db.Path, err)
	}
	f, err := os.Open(db.Path)
	if err != nil {
		return nil, fail(err)
	}
	defer f.Close()
	kind, err := sniffRPM(f)
	if err != nil {
		return nil, fail(err)
	}
	if opts.Brief {
		return readBrief(ctx, f, kind, db, fail)
	}
	st, err := newStage(opts.TempDir)
	if err != nil {
		return nil, invalid(nil, err, "cannot stage the rpm database %s for reading: %v (set a writable temporary directory)", db.Path, err)
	}
	defer st.remove()
	var stageErr error
	add := func(blob []byte) error {
		if err := checkHeader(blob); err != nil {
			return damagef("package header %d: %v", st.count()+1, err)
		}
		if err := st.add(blob); err != nil {
			stageErr = err
			return err
		}
		return nil
	}
	err = eachBlob(ctx, f, kind, db.Path, add)
	if stageErr != nil {
		return nil, invalid(nil, stageErr, "cannot stage the rpm database %s for reading: %v", db.Path, stageErr)
	}
	if err != nil {
		return nil, fail(err)
	}
	n := st.count()
	if n == 0 {
		return nil, nil // ReadDB: "has no packages"
	}
	if err := st.finish(); err != nil {
		return nil, invalid(nil, err, "cannot stage the rpm database %s for reading: %v", db.Path, err)
	}
	infos, err := listPackages(ctx, st.f.Name())
	if err != nil {
		return nil, fail(err)
	}
	if len(infos) != n {
		return nil, fail(damagef("go-rpmdb decoded %d of its %d package headers", len(infos), n))
	}
	pkgs := make([]Package, 0, len(infos))
	var checks []fileCheck
	for _, info := range infos {
		if info.Name == "gpg-pubkey" {
			continue // an imported signing key, not a package
		}
		p, c, err := fromRPMDB(info, opts.HashFiles)
		if err != nil {
			return nil, fail(err)
		}
		for i := range c {
			c[i].pkg = len(pkgs)
		}
		pkgs = append(pkgs, p)
		checks = append(checks, c...)
	}
	if len(pkgs) == 0 {
		return nil, invalid(ErrNoPackages, nil, "the rpm database %s holds only signing keys, no packages: is --root right?", db.Path)
	}
	if opts.HashFiles {
		if err := hashFiles(ctx, r, pkgs, checks); err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

// eachBlob calls add with every package header of an rpm database of kind.
func eachBlob(ctx context.Context, f *os.File, kind, path string, add func([]byte) error) error {
	switch kind {
	case KindRPMSQLite:
		return sqliteBlobs(ctx, path, add)
	case KindRPMBDB:
		return bdbBlobs(ctx, f, add)
	case KindRPMNDB:
		return ndbBlobs(ctx, f, add)
	}
	return fmt.Errorf("rpm database kind %q", kind)
}

// readBrief decodes the identifying tags of every header itself.
func readBrief(ctx context.Context, f *os.File, kind string, db DB, fail func(error) error) ([]Package, error) {
	var pkgs []Package
	n := 0
	add := func(blob []byte) error {
		n++
		if err := checkHeader(blob); err != nil {
			return damagef("package header %d: %v", n, err)
		}
		p, err := briefHeader(blob)
		if err != nil {
			return damagef("package header %d: %v", n, err)
		}
		if p.Name != "gpg-pubkey" {
			pkgs = append(pkgs, p)
		}
		return nil
	}
	err := eachBlob(ctx, f, kind, db.Path, add)
	if err != nil {
		return nil, fail(err)
	}
	if n == 0 {
		return nil, nil
	}
	if len(pkgs) == 0 {
		return nil, invalid(ErrNoPackages, nil, "the rpm database %s holds only signing keys, no packages: is --root right?", db.Path)
	}
	return pkgs, nil
}

// The header tags readBrief needs (rpmtag.h).
const (
	tagName      = 1000
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagArch      = 1022
	tagSourceRPM = 1044
)

// briefHeader reads a checked header blob's identifying tags.
func briefHeader(b []byte) (Package, error) {
	il := int(binary.BigEndian.Uint32(b[0:]))
	data := b[8+16*il:]
	p := Package{Format: "rpm"}
	var release string
	str := func(off int32) string {
		if off < 0 || int(off) >= len(data) {
			return ""
		}
		s := data[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			return string(s[:i])
		}
		return ""
	}
	for i := range il {
		e := b[8+16*i:]
		tag := binary.BigEndian.Uint32(e[0:])
		typ := binary.BigEndian.Uint32(e[4:])
		off := int32(binary.BigEndian.Uint32(e[8:]))
		switch {
		case tag == tagEpoch && typ == 4:
			if off >= 0 && int(off)+4 <= len(data) {
				p.Epoch = strconv.FormatUint(uint64(binary.BigEndian.Uint32(data[off:])), 10)
			}
		case typ != rpmStringType && typ != rpmI18NStringType:
		case tag == tagName:
			p.Name = str(off)
		case tag == tagVersion:
			p.Version = str(off)
		case tag == tagRelease:
			release = str(off)
		case tag == tagArch:
			p.Arch = str(off)
		case tag == tagSourceRPM:
			p.SourceRPM = str(off)
		}
	}
	if p.Name == "" || p.Version == "" {
		return p, errors.New("it has no name or version")
	}
	if release != "" {
		p.Version += "-" + release
	}
	p.Source = srpmName(p.SourceRPM)
	return p, nil
}

// listPackages runs go-rpmdb on a staged database, turning a panic into an
// error and giving up when ctx ends (the goroutine then finishes on its
// own: the staged file is well-formed and bounded).
func listPackages(ctx context.Context, path string) ([]*rpmdb.PackageInfo, error) {
	type result struct {
		pkgs []*rpmdb.PackageInfo
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if v := recover(); v != nil {
				res = result{err: damagef("a package header could not be decoded (go-rpmdb: %v)", v)}
			}
			ch <- res
		}()
		db, err := rpmdb.Open(path)
		if err != nil {
			res.err = err
			return
		}
		// When ListPackages returns early (a header it cannot decode),
		// go-rpmdb's reader goroutine stays blocked sending the next one:
		// a goroutine leaked per damaged database, its file closed here.
		defer db.Close()
		res.pkgs, res.err = db.ListPackages()
		if res.err != nil {
			res.err = damagef("a package header could not be decoded (go-rpmdb: %v)", res.err)
		}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		return res.pkgs, res.err
	}
}

// fileCheck is a file whose SHA-256 HashFiles may fill in: the database's
// digest of it, in algorithm algo ("md5", "sha1", ...).
type fileCheck struct {
	pkg, file int // indexes into the package list and its Files
	algo      string
	digest    string
}

// rpm's file digest algorithms (PGPHASHALGO_*); 0 is a header without
// the tag, whose digests are MD5.
var rpmDigestAlgo = map[rpmdb.DigestAlgorithm]string{0: "md5", 1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}

// fromRPMDB converts go-rpmdb's package; with checks it also returns the
// regular files whose digest is not SHA-256, for HashFiles (their pkg
// index is the caller's to fill in).
func fromRPMDB(info *rpmdb.PackageInfo, checks bool) (p Package, cs []fileCheck, err error) {
	defer func() {
		// go-rpmdb's InstalledFiles indexes DirNames with a negative
		// DirIndexes entry of a damaged header.
		if v := recover(); v != nil {
			err = damagef("the file list of %s is damaged (go-rpmdb: %v)", info.Name, v)
		}
	}()
	p = Package{Format: "rpm", Name: info.Name, Version: info.Version, Arch: info.Arch,
		SourceRPM: info.SourceRpm, Source: srpmName(info.SourceRpm), License: info.License, Summary: info.Summary}
	if info.Release != "" {
		p.Version += "-" + info.Release
	}
	if info.Epoch != nil {
		p.Epoch = strconv.Itoa(*info.Epoch)
	}
	if p.Name == "" || info.Version == "" {
		return p, nil, damagef("a package header has no name or version")
	}
	files, err := info.InstalledFiles()
	if err != nil {
		return p, nil, damagef("the file list of %s is damaged: %v", p.Name, err)
	}
	algo := rpmDigestAlgo[info.DigestAlgorithm]
	type entry struct {
		f      File
		digest string
	}
	entries := make([]entry, 0, len(files))
	for _, f := range files {
		if f.Mode&0o170000 == 0o040000 || int32(f.Flags)&rpmdb.RPMFILE_GHOST != 0 {
			continue
		}
		e := entry{f: File{Path: f.Path}}
		if algo == "sha256" && isHex(f.Digest, 64) {
			e.f.SHA256 = f.Digest
		} else if f.Mode&0o170000 == 0o100000 && f.Digest != "" {
			e.digest = f.Digest
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.f.Path, b.f.Path) })
	entries = slices.CompactFunc(entries, func(a, b entry) bool { return a.f.Path == b.f.Path })
	if len(entries) > 0 {
		p.Files = make([]File, len(entries))
		for i, e := range entries {
			p.Files[i] = e.f
			if checks && e.digest != "" && algo != "" {
				cs = append(cs, fileCheck{file: i, algo: algo, digest: strings.ToLower(e.digest)})
			}
		}
	}
	return p, cs, nil
}

// srpmName is the name part of a source rpm's file name
// ("util-linux-2.32.1-42.el8_8.src.rpm" -> "util-linux"); "" when it is not
// one.
func srpmName(srpm string) string {
	s, ok := strings.CutSuffix(srpm, ".src.rpm")
	if !ok {
		if s, ok = strings.CutSuffix(srpm, ".nosrc.rpm"); !ok {
			return ""
		}
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return ""
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return ""
	}
	return s[:j]
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// rpm header entry types go-rpmdb's decoder knows (RPM_*_TYPE).
const (
	rpmStringType      = 6
	rpmStringArrayType = 8
	rpmI18NStringType  = 9
	rpmMaxType         = 9
)

// checkHeader checks a header blob as far as go-rpmdb's decoder relies on
// it without checking: the index and data lengths add up to the blob (as
// rpm's own hdrblobInit requires), every entry has a known type, and every
// string array has as many NUL-terminated strings as its count says.
func checkHeader(b []byte) error {
	if len(b) < 8+16 {
		return errors.New("shorter than a header")
	}
	if len(b) > maxHeader {
		return fmt.Errorf("%d bytes, more than rpm allows", len(b))
	}
	il := uint64(binary.BigEndian.Uint32(b[0:]))
	dl := uint64(binary.BigEndian.Uint32(b[4:]))
	if il == 0 || 8+16*il+dl != uint64(len(b)) {
		return fmt.Errorf("its %d index entries and %d data bytes do not fill its %d bytes", il, dl, len(b))
	}
	data := b[8+16*il:]
	for i := range il {
		e := b[8+16*i:]
		typ := binary.BigEndian.Uint32(e[4:])
		off := int32(binary.BigEndian.Uint32(e[8:]))
		count := binary.BigEndian.Uint32(e[12:])
		if typ > rpmMaxType {
			return fmt.Errorf("entry %d has unknown type %d", i, typ)
		}
		if (typ == rpmStringArrayType || typ == rpmI18NStringType || typ == rpmStringType) && off >= 0 && uint64(off) < dl {
			if !hasStrings(data[off:], count) {
				return fmt.Errorf("entry %d promises %d strings that are not there", i, count)
			}
		}
	}
	return nil
}

// hasStrings reports whether d starts with n NUL-terminated strings.
func hasStrings(d []byte, n uint32) bool {
	if uint64(n) > uint64(len(d)) {
		return false
	}
	for range n {
		i := indexNUL(d)
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
	return true
}

func indexNUL(d []byte) int {
	for i, c := range d {
		if c == 0 {
			return i
		}
	}
	return -1
}

// stage writes headers into a private rpm NDB file (the layout of rpm's
// lib/backend/ndb/rpmpkg.c: a 32-byte header and 16-byte slots in 4 KiB
// slot pages, then blobs in 16-byte blocks, each with a head, a tail and an
// Adler-32). Blobs are written from the first offset past the most slot
// pages go-rpmdb accepts, since their number is known only at the end; the
// gap is a hole in the file.
type stage struct {
	f     *os.File
	w     *bufio.Writer
	off   int64 // where the next blob goes
	slots [][2]uint32
}

const (
	ndbBlock        = 16
	ndbPage         = 4096
	ndbSlotsPerPage = ndbPage / 16
	ndbMaxSlotPages = 2048 // go-rpmdb's limit
	ndbBlobHead     = 16
	ndbBlobTail     = 12
)

func newStage(dir string) (*stage, error) {
	f, err := os.CreateTemp(dir, "enmei-rpmdb-*.ndb")
	if err != nil {
		return nil, err
	}
	off := int64(ndbMaxSlotPages * ndbPage)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &stage{f: f, w: bufio.NewWriterSize(f, 256<<10), off: off}, nil
}

func (s *stage) count() int { return len(s.slots) }

func (s *stage) add(blob []byte) error {
	if len(s.slots) >= ndbMaxSlotPages*ndbSlotsPerPage-2 {
		return errors.New("more packages than an NDB database holds")
	}
	total := ndbBlobHead + len(blob) + ndbBlobTail
	blocks := (total + ndbBlock - 1) / ndbBlock
	if s.off/ndbBlock+int64(blocks) > math.MaxUint32 {
		return errors.New("package headers too large to stage")
	}
	idx := uint32(len(s.slots) + 1)
	var head [ndbBlobHead]byte
	copy(head[:], "BlbS")
	binary.LittleEndian.PutUint32(head[4:], idx)
	binary.LittleEndian.PutUint32(head[12:], uint32(len(blob)))
	pad := make([]byte, blocks*ndbBlock-total)
	sum := adler32.New()
	sum.Write(head[:])
	sum.Write(blob)
	sum.Write(pad)
	var tail [ndbBlobTail]byte
	binary.LittleEndian.PutUint32(tail[0:], sum.Sum32())
	binary.LittleEndian.PutUint32(tail[4:], uint32(len(blob)))
	copy(tail[8:], "BlbE")
	for _, b := range [][]byte{head[:], blob, pad, tail[:]} {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	s.slots = append(s.slots, [2]uint32{uint32(s.off / ndbBlock), uint32(blocks)})
	s.off += int64(blocks * ndbBlock)
	return nil
}

// finish writes the header and the slots.
func (s *stage) finish() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	pages := (len(s.slots) + 2 + ndbSlotsPerPage - 1) / ndbSlotsPerPage
	buf := make([]byte, pages*ndbPage)
	copy(buf, "RpmP")
	binary.LittleEndian.PutUint32(buf[12:], uint32(pages))
	binary.LittleEndian.PutUint32(buf[16:], uint32(len(s.slots)+1)) // next package index
	for i := range pages*ndbSlotsPerPage - 2 {
		e := buf[32+16*i:]
		copy(e, "Slot")
		if i < len(s.slots) {
			binary.LittleEndian.PutUint32(e[4:], uint32(i+1))
			binary.LittleEndian.PutUint32(e[8:], s.slots[i][0])
			binary.LittleEndian.PutUint32(e[12:], s.slots[i][1])
		}
	}
	if _, err := s.f.WriteAt(buf, 0); err != nil {
		return err
	}
	return nil
}

func (s *stage) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}
