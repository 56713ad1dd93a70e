// Package rpm reads RPM packages, re-signs them with enmei's OpenPGP key, and
// writes the yum/dnf repository metadata (repodata) for them. Headers are
// parsed with github.com/cavaliergopher/rpm; the signature header is written
// here, because no library rewrites it. Payloads are streamed, never held in
// memory, and checked against the package's own digests so a truncated or
// corrupted file is refused.
package rpm

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"

	"github.com/enmei-project/enmei/internal/sign"
)

// ErrInvalid marks input that is not a valid RPM (or, where only binary
// RPMs are taken, a source RPM).
var ErrInvalid = errors.New("invalid rpm")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Header size limits, checked before anything is allocated for a header.
const (
	maxIndex    = 0xffff    // rpm's HEADER_TAGS_MAX
	maxStore    = 256 << 20 // rpm's HEADER_DATA_MAX
	maxSigIndex = 32        // rpm's limits for a signature header
	maxSigStore = 64 << 20  // (hdrblobVerifyLengths in rpm's lib/header.c)
	// maxMainStore is cavaliergopher/rpm's r_MaxHeaderSize: parseHeader
	// refuses a larger main header anyway, so refuse it before reading it.
	maxMainStore = 32 << 20
)

const (
	leadSize             = 96
	introSize            = 16
	regionSig            = 62   // RPMTAG_HEADERSIGNATURES
	regionHeader         = 63   // RPMTAG_HEADERIMMUTABLE
	typeString           = 6    // RPM_STRING_TYPE
	typeBin              = 7    // RPM_BIN_TYPE
	sigSize              = 1000 // RPMSIGTAG_SIZE
	sigLongSize          = 270  // RPMSIGTAG_LONGSIZE
	sigMD5               = 1004 // RPMSIGTAG_MD5 (header+payload)
	sigSHA1              = 269  // RPMSIGTAG_SHA1 (header)
	sigSHA256            = 273  // RPMSIGTAG_SHA256 (header)
	sigRSA               = 268  // RPMSIGTAG_RSA (header-only OpenPGP signature)
	tagPayloadDigest     = 5092
	tagPayloadDigestAlgo = 5093
)

// signatureTags are dropped on re-signing: every OpenPGP signature (v4 and
// v6 forms) and the space rpmsign reserves for them.
var signatureTags = map[uint32]bool{
	267: true, 268: true, 1002: true, 1005: true, // DSA, RSA, PGP, GPG
	278: true, 1008: true, // OPENPGP (rpm 6), RESERVEDSPACE
}

var headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// entry is one tag of a raw RPM header.
type entry struct {
	tag, typ, count uint32
	data            []byte
}

// rawHeader is an RPM header as bytes plus its decoded index.
type rawHeader struct {
	bytes   []byte // intro + index + store
	entries []entry
}

func (h *rawHeader) get(tag uint32) *entry {
	for i := range h.entries {
		if h.entries[i].tag == tag {
			return &h.entries[i]
		}
	}
	return nil
}

func (e *entry) str() string {
	if e == nil || len(e.data) == 0 {
		return ""
	}
	if i := bytes.IndexByte(e.data, 0); i >= 0 {
		return string(e.data[:i])
	}
	return string(e.data)
}

func (e *entry) uint() (uint64, bool) {
	if e == nil {
		return 0, false
	}
	switch {
	case e.typ == 4 && len(e.data) >= 4:
		return uint64(binary.BigEndian.Uint32(e.data)), true
	case e.typ == 5 && len(e.data) >= 8:
		return binary.BigEndian.Uint64(e.data), true
	}
	return 0, false
}

// readHeader reads one header structure from r: the signature header when
// region is regionSig, else the main header.
func readHeader(r io.Reader, region uint32) (*rawHeader, error) {
	what, maxIl, maxDl := "main", uint32(maxIndex), uint32(maxMainStore)
	if region == regionSig {
		what, maxIl, maxDl = "signature", maxSigIndex, maxSigStore
	}
	intro := make([]byte, introSize)
	if _, err := io.ReadFull(r, intro); err != nil {
		return nil, invalid("the file is truncated in its %s header", what)
	}
	if !bytes.Equal(intro[:8], headerMagic) {
		return nil, invalid("its %s header is damaged (bad magic)", what)
	}
	il := binary.BigEndian.Uint32(intro[8:12])
	dl := binary.BigEndian.Uint32(intro[12:16])
	if il == 0 || il > maxIl || dl > maxDl {
		return nil, invalid("its %s header is damaged (%d tags, %d bytes)", what, il, dl)
	}
	// Read into a growing buffer rather than allocating the claimed size up
	// front: a short file claiming a 64 MiB header then costs only its own
	// size in memory.
	want := int64(il)*16 + int64(dl)
	var b bytes.Buffer
	b.Write(intro)
	if n, err := io.CopyN(&b, r, want); err != nil || n != want {
		return nil, invalid("the file is truncated in its %s header", what)
	}
	buf := b.Bytes()
	index := buf[introSize : introSize+int(il)*16]
	store := buf[introSize+int(il)*16:]
	h := &rawHeader{bytes: buf, entries: make([]entry, 0, il)}
	for i := 0; i < int(il); i++ {
		e := index[i*16 : i*16+16]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := int32(binary.BigEndian.Uint32(e[8:12]))
		count := binary.BigEndian.Uint32(e[12:16])
		if off < 0 || int64(off) > int64(dl) || count == 0 || count > maxStore {
			return nil, invalid("its %s header is damaged (tag %d out of range)", what, tag)
		}
		n, err := dataLen(typ, count, store[off:])
		if err != nil {
			return nil, invalid("its %s header is damaged (tag %d: %v)", what, tag, err)
		}
		h.entries = append(h.entries, entry{tag: tag, typ: typ, count: count, data: store[off : int(off)+n]})
	}
	return h, nil
}

// dataLen is the size of a tag's data, per the RPM header format.
func dataLen(typ, count uint32, data []byte) (int, error) {
	var n int
	switch typ {
	case 0:
		return 0, nil
	case 1, 2, typeBin: // CHAR, INT8, BIN
		n = int(count)
	case 3:
		n = 2 * int(count)
	case 4:
		n = 4 * int(count)
	case 5:
		n = 8 * int(count)
	case typeString, 8, 9: // STRING, STRING_ARRAY, I18NSTRING: NUL-terminated
		pos := 0
		for i := uint32(0); i < count; i++ {
			j := bytes.IndexByte(data[pos:], 0)
			if j < 0 {
				return 0, errors.New("unterminated string")
			}
			pos += j + 1
		}
		return pos, nil
	default:
		return 0, fmt.Errorf("unknown type %d", typ)
	}
	if n > len(data) {
		return 0, errors.New("data beyond the header")
	}
	return n, nil
}

// align is the alignment RPM requires for a type's data.
func align(typ uint32) int {
	switch typ {
	case 3:
		return 2
	case 4:
		return 4
	case 5:
		return 8
	}
	return 1
}

// writeHeader serialises entries as a header with an immutable region tag
// first and its trailer at the end of the store, as rpm expects of a package's
// signature header.
func writeHeader(region uint32, entries []entry) []byte {
	sort.Slice(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	il := len(entries) + 1
	var store bytes.Buffer
	index := make([]byte, 0, il*16)
	be := binary.BigEndian
	offsets := make([]int, len(entries))
	for i, e := range entries {
		for store.Len()%align(e.typ) != 0 {
			store.WriteByte(0)
		}
		offsets[i] = store.Len()
		store.Write(e.data)
	}
	trailerOff := store.Len()
	trailer := make([]byte, 16)
	be.PutUint32(trailer[0:], region)
	be.PutUint32(trailer[4:], typeBin)
	be.PutUint32(trailer[8:], uint32(int32(-il*16)))
	be.PutUint32(trailer[12:], 16)
	store.Write(trailer)

	index = be.AppendUint32(index, region)
	index = be.AppendUint32(index, typeBin)
	index = be.AppendUint32(index, uint32(trailerOff))
	index = be.AppendUint32(index, 16)
	for i, e := range entries {
		index = be.AppendUint32(index, e.tag)
		index = be.AppendUint32(index, e.typ)
		index = be.AppendUint32(index, uint32(offsets[i]))
		index = be.AppendUint32(index, e.count)
	}
	out := make([]byte, 0, introSize+len(index)+store.Len())
	out = append(out, headerMagic...)
	out = be.AppendUint32(out, uint32(il))
	out = be.AppendUint32(out, uint32(store.Len()))
	out = append(out, index...)
	return append(out, store.Bytes()...)
}

func sigPadding(n int) int { return (8 - n%8) % 8 }

// payloadDigest is a hash of the algorithm PAYLOADDIGEST was made with and
// the digest the header records; nil when the header has none (rpm before
// 4.14) or names an algorithm rpm does not write.
func payloadDigest(hdr *rawHeader) (hash.Hash, string) {
	e := hdr.get(tagPayloadDigest)
	if e == nil {
		return nil, ""
	}
	algo, _ := hdr.get(tagPayloadDigestAlgo).uint()
	var h hash.Hash
	switch algo {
	case 8:
		h = sha256.New()
	case 10:
		h = sha512.New()
	case 2:
		h = sha1.New()
	case 1:
		h = md5.New()
	default:
		return nil, ""
	}
	return h, e.str()
}

// ReadHeader reads a binary RPM's lead and headers, checks the header
// against the digests the signature header holds, and returns what the
// header says. It reads no payload. A source RPM is refused.
func ReadHeader(r io.Reader) (*Header, error) {
	_, _, _, h, err := readPackage(r, false)
	return h, err
}

// ReadAnyHeader is ReadHeader for binary and source RPMs alike: Header.Source
// tells which it read.
func ReadAnyHeader(r io.Reader) (*Header, error) {
	_, _, _, h, err := readPackage(r, true)
	return h, err
}

// readPackage reads an RPM up to the end of its header; a source RPM only
// when sources is set.
func readPackage(r io.Reader, sources bool) (lead []byte, sig, hdr *rawHeader, h *Header, err error) {
	lead = make([]byte, leadSize)
	if n, err := io.ReadFull(r, lead); err != nil {
		if n >= 4 && bytes.Equal(lead[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
			return nil, nil, nil, nil, invalid("the file is truncated in its lead")
		}
		return nil, nil, nil, nil, invalid("it is not an RPM package (too short to hold an RPM lead)")
	}
	if !bytes.Equal(lead[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		if bytes.HasPrefix(lead, []byte("!<arch>\n")) {
			return nil, nil, nil, nil, invalid("it is a Debian package, not an RPM")
		}
		return nil, nil, nil, nil, invalid("it is not an RPM package (bad lead magic)")
	}
	if lead[4] < 3 || lead[4] > 4 {
		return nil, nil, nil, nil, invalid("it is an RPM of unsupported format version %d", lead[4])
	}
	switch t := binary.BigEndian.Uint16(lead[6:8]); {
	case t == 1 && !sources:
		return nil, nil, nil, nil, invalid("it is a source RPM; repositories hold binary RPMs")
	case t > 1:
		return nil, nil, nil, nil, invalid("its lead names an unknown package type %d", t)
	}
	sig, err = readHeader(r, regionSig)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if pad := sigPadding(len(sig.bytes)); pad > 0 {
		if _, err := io.ReadFull(r, make([]byte, pad)); err != nil {
			return nil, nil, nil, nil, invalid("the file is truncated after its signature header")
		}
	}
	hdr, err = readHeader(r, regionHeader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// The header must match the digests the signature header holds.
	if e := sig.get(sigSHA256); e != nil {
		sum := sha256.Sum256(hdr.bytes)
		if e.str() != hex.EncodeToString(sum[:]) {
			return nil, nil, nil, nil, invalid("its header does not match its SHA-256 digest (the file is corrupted)")
		}
	}
	if e := sig.get(sigSHA1); e != nil {
		sum := sha1.Sum(hdr.bytes)
		if e.str() != hex.EncodeToString(sum[:]) {
			return nil, nil, nil, nil, invalid("its header does not match its SHA-1 digest (the file is corrupted)")
		}
	}
	h, err = parseHeader(lead, hdr.bytes, sources)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if binary.BigEndian.Uint16(lead[6:8]) == 1 && !h.Source {
		return nil, nil, nil, nil, invalid("its lead says it is a source RPM but its header is a binary package's (the file is damaged)")
	}
	return lead, sig, hdr, h, nil
}

// Sign reads a whole RPM from r, validates it, and writes to w the same
// package with a new signature header carrying an RSA header signature by
// key (existing signatures are replaced; digests are kept). On error the
// output is incomplete and must be discarded. The payload is streamed and
// checked against the package's payload digest (or MD5 and size) as it goes.
// A source RPM is refused.
func Sign(r io.Reader, w io.Writer, key *sign.Key) (*Header, error) {
	return signPackage(r, w, key, false)
}

// SignAny is Sign for binary and source RPMs alike (sources are signed as
// binaries are: a header signature); Header.Source tells which it signed.
func SignAny(r io.Reader, w io.Writer, key *sign.Key) (*Header, error) {
	return signPackage(r, w, key, true)
}

func signPackage(r io.Reader, w io.Writer, key *sign.Key, sources bool) (*Header, error) {
	lead, sig, hdr, h, err := readPackage(r, sources)
	if err != nil {
		return nil, err
	}

	// New signature header: everything but the old signatures, plus ours.
	var entries []entry
	for _, e := range sig.entries {
		if e.tag == regionSig || e.tag == regionHeader || signatureTags[e.tag] {
			continue
		}
		entries = append(entries, e)
	}
	if sig.get(sigSHA256) == nil {
		sum := sha256.Sum256(hdr.bytes)
		entries = append(entries, entry{tag: sigSHA256, typ: typeString, count: 1, data: append([]byte(hex.EncodeToString(sum[:])), 0)})
	}
	pkt, err := key.DetachSign(bytes.NewReader(hdr.bytes))
	if err != nil {
		return nil, fmt.Errorf("signing header of %s: %w", h.NEVRA(), err)
	}
	entries = append(entries, entry{tag: sigRSA, typ: typeBin, count: uint32(len(pkt)), data: pkt})
	newSig := writeHeader(regionSig, entries)
	// Kept tags plus ours can outgrow what rpm accepts in a signature header
	// (32 tags, 64 MiB): check the new header as we check input.
	if _, err := readHeader(bytes.NewReader(newSig), regionSig); err != nil {
		return nil, invalid("its signature header cannot take a new signature (%v)", err)
	}

	if _, err := w.Write(lead); err != nil {
		return nil, err
	}
	if _, err := w.Write(newSig); err != nil {
		return nil, err
	}
	if _, err := w.Write(make([]byte, sigPadding(len(newSig)))); err != nil {
		return nil, err
	}
	h.HeaderStart = int64(leadSize + len(newSig) + sigPadding(len(newSig)))
	h.HeaderEnd = h.HeaderStart + int64(len(hdr.bytes))
	if _, err := w.Write(hdr.bytes); err != nil {
		return nil, err
	}

	// Stream the payload, checking it as it passes.
	md := md5.New()
	md.Write(hdr.bytes)
	hashes := []io.Writer{md}
	payloadHash, wantPayload := payloadDigest(hdr)
	if payloadHash != nil {
		hashes = append(hashes, payloadHash)
	}
	n, err := io.Copy(io.MultiWriter(append(hashes, w)...), r)
	if err != nil {
		return nil, fmt.Errorf("copying payload of %s: %w", h.NEVRA(), err)
	}
	if n == 0 {
		return nil, invalid("it has no payload (the file is truncated)")
	}
	if payloadHash != nil && hex.EncodeToString(payloadHash.Sum(nil)) != wantPayload {
		return nil, invalid("its payload does not match its digest (the file is truncated or corrupted)")
	}
	total := uint64(len(hdr.bytes)) + uint64(n)
	if size, ok := sig.get(sigSize).uint(); ok && size != total {
		return nil, invalid("its size does not match its header (%d bytes expected, %d found: truncated or corrupted)", size, total)
	}
	if size, ok := sig.get(sigLongSize).uint(); ok && size != total {
		return nil, invalid("its size does not match its header (%d bytes expected, %d found: truncated or corrupted)", size, total)
	}
	if e := sig.get(sigMD5); e != nil && !bytes.Equal(e.data, md.Sum(nil)) {
		return nil, invalid("its content does not match its MD5 digest (the file is truncated or corrupted)")
	}
	h.ArchiveSize = payloadSize(sig, h.ArchiveSize)
	return h, nil
}

// payloadSize prefers the uncompressed archive size the signature records.
func payloadSize(sig *rawHeader, fallback int64) int64 {
	for _, tag := range []uint32{271, 1007} { // LONGARCHIVESIZE, PAYLOADSIZE
		if v, ok := sig.get(tag).uint(); ok {
			return int64(v)
		}
	}
	return fallback
}
