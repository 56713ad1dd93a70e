package rpm

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/testutil/fuzzutil"
)

// Fuzz targets for the parsers of uploaded RPMs. Their invariants: never
// panic, never hang, allocate in proportion to the input (not to what its
// headers claim), and refuse malformed input with an error wrapping
// ErrInvalid. Seeds are the demo packages, built at run time, plus the
// damaged variants in testdata/fuzz (regenerate them with
// ENMEI_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus).

// checkAllocs fails if more was allocated since before than a parser of n
// input bytes needs: a fixed allowance (signing, decompressor state) plus a
// generous factor of the input (parsed tags take more room than their bytes).
func checkAllocs(t *testing.T, before uint64, n int) {
	t.Helper()
	fuzzutil.CheckAllocs(t, before, n, 16<<20)
}

// demoRPMs are the demo packages, sorted by name so seeds are stable.
func demoRPMs(f *testing.F) [][]byte {
	f.Helper()
	files, err := demo.Files("rpm")
	if err != nil {
		f.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = files[n]
	}
	return out
}

// splitRPM cuts a well-formed RPM into lead, signature header (without
// padding) and main header; it is for building seeds, not a parser.
func splitRPM(tb testing.TB, raw []byte) (lead, sig, hdr []byte) {
	tb.Helper()
	size := func(b []byte) int {
		if len(b) < introSize {
			tb.Fatalf("short header")
		}
		return introSize + 16*int(binary.BigEndian.Uint32(b[8:12])) + int(binary.BigEndian.Uint32(b[12:16]))
	}
	lead, rest := raw[:leadSize], raw[leadSize:]
	n := size(rest)
	sig, rest = rest[:n], rest[n+sigPadding(n):]
	return lead, sig, rest[:size(rest)]
}

// header builds a raw header with the given intro counts and index, for
// seeds that lie about their size.
func header(il, dl uint32, index []uint32, store []byte) []byte {
	out := append([]byte(nil), headerMagic...)
	out = binary.BigEndian.AppendUint32(out, il)
	out = binary.BigEndian.AppendUint32(out, dl)
	for _, v := range index {
		out = binary.BigEndian.AppendUint32(out, v)
	}
	return append(out, store...)
}

// hostileHeaders claim huge or inconsistent sizes: each must be refused
// before anything of the claimed size is allocated.
func hostileHeaders() [][]byte {
	return [][]byte{
		header(1<<31, 16, nil, nil),                                          // 2^31 tags
		header(0xffffffff, 0xffffffff, nil, nil),                             // everything at its maximum
		header(1, 256<<20, []uint32{1000, 6, 0, 1}, []byte("x\x00")),         // a 256 MiB store in a few bytes
		header(1, 63<<20, []uint32{1000, 6, 0, 1}, []byte("x\x00")),          // within rpm's signature limit, still short
		header(1, 16, []uint32{1000, 7, 0xfffffff0, 16}, make([]byte, 16)),   // negative offset
		header(1, 16, []uint32{1000, 7, 8, 0xffffffff}, make([]byte, 16)),    // count far beyond the store
		header(1, 16, []uint32{1000, 5, 8, 0x20000000}, make([]byte, 16)),    // int64 count overflowing 32 bits
		header(1, 4, []uint32{1000, 8, 0, 0x0fffffff}, []byte("a\x00b\x00")), // string array count beyond its strings
		header(1, 4, []uint32{1000, 6, 4, 1}, []byte("abcd")),                // string at the very end
		header(1, 4, []uint32{1000, 99, 0, 1}, []byte("abcd")),               // unknown type
	}
}

// oddHeader has a region tag overlapping a string's data. rpm refuses it;
// readHeader, which does not verify regions, accepts it. A seed, not a
// case that must fail.
var oddHeader = header(2, 16, []uint32{62, 7, 0, 16, 1000, 6, 0, 1}, make([]byte, 16))

// FuzzSign feeds arbitrary bytes to Sign, the whole upload path: lead,
// signature header, main header (through cavaliergopher/rpm), digests, and
// the streamed payload. A package it accepts must come out re-signable.
func FuzzSign(f *testing.F) {
	key, _ := keys(f)
	for _, raw := range demoRPMs(f) {
		f.Add(raw)
		lead, _, _ := splitRPM(f, raw)
		for _, h := range hostileHeaders() {
			f.Add(append(bytes.Clone(lead), h...))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("!<arch>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := fuzzutil.HeapAllocs()
		var out bytes.Buffer
		h, err := Sign(bytes.NewReader(data), &out, key)
		checkAllocs(t, before, len(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Sign error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		signed := out.Bytes()
		if h.HeaderStart <= leadSize || h.HeaderStart >= h.HeaderEnd || h.HeaderEnd > int64(len(signed)) {
			t.Fatalf("header range %d-%d in %d bytes", h.HeaderStart, h.HeaderEnd, len(signed))
		}
		// What we publish must pass our own checks: re-signing keeps the
		// package and its main header byte for byte.
		h2, err := Sign(bytes.NewReader(signed), io.Discard, key)
		if err != nil {
			t.Fatalf("re-signing our own output: %v", err)
		}
		if h2.NEVRA() != h.NEVRA() || h2.HeaderEnd-h2.HeaderStart != h.HeaderEnd-h.HeaderStart {
			t.Fatalf("re-signing changed the package: %s %d-%d, was %s %d-%d",
				h2.NEVRA(), h2.HeaderStart, h2.HeaderEnd, h.NEVRA(), h.HeaderStart, h.HeaderEnd)
		}
	})
}

// FuzzReadHeader fuzzes the header-structure parser alone: intro counts,
// index entries, tag types, store offsets and region tags. A header it
// accepts must survive writeHeader and read back with the same tags.
func FuzzReadHeader(f *testing.F) {
	for _, raw := range demoRPMs(f) {
		_, sig, hdr := splitRPM(f, raw)
		f.Add(sig, true)
		f.Add(hdr, false)
	}
	for _, h := range append(hostileHeaders(), oddHeader) {
		f.Add(h, true)
		f.Add(h, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, isSig bool) {
		region, maxIl, maxDl := uint32(regionHeader), maxIndex, maxMainStore
		if isSig {
			region, maxIl, maxDl = regionSig, maxSigIndex, maxSigStore
		}
		before := fuzzutil.HeapAllocs()
		h, err := readHeader(bytes.NewReader(data), region)
		checkAllocs(t, before, len(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("readHeader error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if !bytes.HasPrefix(data, h.bytes) {
			t.Fatalf("header bytes are not a prefix of the input")
		}
		var kept []entry
		for _, e := range h.entries {
			if uint32(len(e.data)) > uint32(len(h.bytes)) {
				t.Fatalf("tag %d has %d bytes of data in a %d-byte header", e.tag, len(e.data), len(h.bytes))
			}
			if e.tag != regionSig && e.tag != regionHeader { // as Sign keeps them
				kept = append(kept, e)
			}
		}
		out := writeHeader(region, kept) // sorts kept
		h2, err := readHeader(bytes.NewReader(out), region)
		if err != nil {
			store := len(out) - introSize - 16*(len(kept)+1)
			if len(kept)+1 > maxIl || store > maxDl {
				return // grown past the limits by the region tag and alignment; Sign checks for this
			}
			t.Fatalf("written header does not read back: %v", err)
		}
		if len(h2.entries) != len(kept)+1 || h2.entries[0].tag != region {
			t.Fatalf("written header has %d tags, want region tag and %d", len(h2.entries), len(kept))
		}
		for i, e := range kept {
			g := h2.entries[i+1]
			if g.tag != e.tag || g.typ != e.typ || g.count != e.count || !bytes.Equal(g.data, e.data) {
				t.Fatalf("tag %d reads back as %d/%d/%d %q, was %d/%d %q", e.tag, g.tag, g.typ, g.count, g.data, e.typ, e.count, e.data)
			}
		}
	})
}

// FuzzParseHeader fuzzes the main-header decoder (readHeader, then
// cavaliergopher/rpm through parseHeader) without the digest checks that
// stop FuzzSign's mutations of a real header early. What it accepts must
// render as well-formed repodata XML.
func FuzzParseHeader(f *testing.F) {
	var lead []byte
	for _, raw := range demoRPMs(f) {
		var hdr []byte
		lead, _, hdr = splitRPM(f, raw)
		f.Add(hdr)
	}
	for _, h := range append(hostileHeaders(), oddHeader) {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := fuzzutil.HeapAllocs()
		hdr, err := readHeader(bytes.NewReader(data), regionHeader)
		var h *Header
		if err == nil {
			h, err = parseHeader(lead, hdr.bytes, true)
		}
		checkAllocs(t, before, len(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if strings.ContainsAny(h.Filename(), "/\x00") {
			t.Fatalf("file name %q is not a plain name", h.Filename())
		}
		e, err := Entry(h, strings.Repeat("0", 64), 1, "Packages/"+h.Filename(), 1)
		if err != nil {
			t.Fatalf("Entry: %v", err)
		}
		parts, err := decodeEntry(e)
		if err != nil {
			t.Fatalf("decodeEntry: %v", err)
		}
		for _, p := range parts {
			doc := `<r xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">` + string(p) + "</r>"
			d := xml.NewDecoder(strings.NewReader(doc))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("repodata for %s is not well-formed XML: %v\n%s", h.NEVRA(), err, p)
				}
			}
		}
	})
}

// TestHostileHeadersRefusedCheaply: the headers that lie about their size
// are refused as ErrInvalid, having allocated little.
func TestHostileHeadersRefusedCheaply(t *testing.T) {
	for i, h := range hostileHeaders() {
		for _, region := range []uint32{regionSig, regionHeader} {
			before := fuzzutil.HeapAllocs()
			_, err := readHeader(bytes.NewReader(h), region)
			if got := fuzzutil.HeapAllocs() - before; got > 1<<20 {
				t.Errorf("hostile header %d (region %d): allocated %d bytes", i, region, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("hostile header %d (region %d): %v, want ErrInvalid", i, region, err)
			}
		}
	}
}

// TestFuzzCorpus checks the testdata/fuzz seeds against what they are made
// from: each demo package (or its headers) truncated at its structure
// boundaries and with bytes flipped in each part. With
// ENMEI_WRITE_FUZZ_CORPUS=1 it rewrites them.
func TestFuzzCorpus(t *testing.T) {
	files, err := demo.Files("rpm")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		raw := files[n]
		_, sig, hdr := splitRPM(t, raw)
		sigEnd := leadSize + len(sig) + sigPadding(len(sig))
		hdrEnd := sigEnd + len(hdr)
		base := strings.TrimSuffix(n, ".rpm")
		whole := map[string][]byte{base: raw}
		for _, cut := range []int{4, leadSize, leadSize + introSize, leadSize + introSize + 20, sigEnd - 3, sigEnd + introSize + 7, hdrEnd - 1, hdrEnd, len(raw) - 5} {
			whole[fmt.Sprintf("%s-cut%d", base, cut)] = raw[:cut]
		}
		for _, at := range []int{5, 7, leadSize + 10, leadSize + introSize + 9, sigEnd - 8, sigEnd + 11, sigEnd + introSize + 18, (sigEnd + hdrEnd) / 2, hdrEnd + 20, len(raw) - 30} {
			b := bytes.Clone(raw)
			b[at] ^= 0x80
			whole[fmt.Sprintf("%s-flip%d", base, at)] = b
		}
		writeCorpus(t, "FuzzSign", whole, false)

		hdrs := map[string][]byte{base + "-sig": sig, base + "-main": hdr}
		for _, part := range []struct {
			name string
			b    []byte
		}{{"sig", sig}, {"main", hdr}} {
			nIdx := 16 * int(binary.BigEndian.Uint32(part.b[8:12]))
			for _, at := range []int{9, 13, introSize + 3, introSize + 7, introSize + 11, introSize + 16 + 15, introSize + nIdx + 1, len(part.b) - 1} {
				b := bytes.Clone(part.b)
				b[at] ^= 0xff
				hdrs[fmt.Sprintf("%s-%s-flip%d", base, part.name, at)] = b
			}
			hdrs[fmt.Sprintf("%s-%s-cut", base, part.name)] = part.b[:introSize+nIdx+3]
		}
		writeCorpus(t, "FuzzReadHeader", hdrs, true)
		mains := map[string][]byte{}
		for k, v := range hdrs {
			if strings.Contains(k, "-main") {
				mains[k] = v
			}
		}
		writeCorpus(t, "FuzzParseHeader", mains, false)
	}
}

// writeCorpus writes seeds in the "go test fuzz v1" format; withBool adds
// FuzzReadHeader's second argument (true for signature headers).
func writeCorpus(t *testing.T, target string, seeds map[string][]byte, withBool bool) {
	t.Helper()
	for name, b := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if withBool {
			body += fmt.Sprintf("bool(%v)\n", strings.Contains(name, "-sig"))
		}
		fuzzutil.Seed(t, target, name, body)
	}
}
