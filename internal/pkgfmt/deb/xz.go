package deb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// maxXZDict is the largest LZMA2 dictionary accepted in an xz member:
// xz -9's. github.com/ulikunitz/xz allocates whatever dictionary a block
// header asks for (up to 4 GiB) before decoding anything, so xzGuard reads
// every block header before the decoder sees it and refuses larger ones.
const maxXZDict = 64 << 20

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// checkXZ walks the block headers of the single xz stream b without
// decompressing it. It fails on a dictionary larger than maxXZDict and on
// anything it cannot follow; the decoder checks the rest (checksums,
// index).
func checkXZ(b []byte) error {
	_, err := io.Copy(io.Discard, newXZGuard(bytes.NewReader(b)))
	return err
}

// xzGuard passes a single xz stream through unchanged, but only after
// reading each block header and LZMA2 chunk header in it: LZMA2 chunk
// headers carry their own sizes, so each block's end, and so the next block
// header, is found without decompressing. A decoder reading through the
// guard therefore never sees a block header asking for a dictionary larger
// than maxXZDict, whether the stream is in memory (the control member) or
// streamed (the data member, which is never held whole).
type xzGuard struct {
	r          *bufio.Reader // holds at least a whole block header (1 KiB at most)
	state      int
	pass       int64  // bytes already checked, still to hand out
	passErr    string // what running out of input while handing them out means
	pos        int64  // offset in the stream
	blockStart int64
	checkSize  int64
	err        error
}

const (
	xzStreamHeader = iota
	xzBlockHeader  // a block header or the index indicator
	xzChunk        // an LZMA2 chunk header or the end of the block
	xzTail         // index and stream footer: no more block headers
)

func newXZGuard(r io.Reader) *xzGuard { return &xzGuard{r: bufio.NewReaderSize(r, 4096)} }

func (g *xzGuard) Read(p []byte) (int, error) {
	for g.pass == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.err = g.step()
	}
	if int64(len(p)) > g.pass {
		p = p[:g.pass]
	}
	n, err := g.r.Read(p)
	g.pass -= int64(n)
	g.pos += int64(n)
	if err == io.EOF && g.state != xzTail {
		g.err = errors.New(g.passErr)
		err = g.err
	}
	return n, err
}

// step checks the structure at the current position and sets how many
// bytes may pass before the next check.
func (g *xzGuard) step() error {
	switch g.state {
	case xzStreamHeader:
		b, _ := g.r.Peek(12)
		if len(b) < 12 || !bytes.Equal(b[:6], xzMagic) {
			return errors.New("not an xz stream")
		}
		g.checkSize = int64([16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}[b[7]&0x0f])
		g.state, g.pass, g.passErr = xzBlockHeader, 12, "xz stream truncated"
	case xzBlockHeader:
		b, _ := g.r.Peek(1)
		if len(b) == 0 {
			return errors.New("xz stream truncated")
		}
		if b[0] == 0 { // index indicator: no more blocks
			g.state, g.pass = xzTail, math.MaxInt64
			return nil
		}
		hlen := (int(b[0]) + 1) * 4
		hdr, _ := g.r.Peek(hlen)
		if len(hdr) < hlen {
			return errors.New("xz block header truncated")
		}
		if err := checkXZBlockHeader(hdr); err != nil {
			return err
		}
		g.blockStart = g.pos
		g.state, g.pass, g.passErr = xzChunk, int64(hlen), "xz block truncated"
	case xzChunk:
		// LZMA2 chunks: 0x00 ends; 0x01, 0x02 are stored chunks with a
		// 16-bit size; 0x80-0xff are LZMA chunks whose header holds the
		// compressed size, plus a properties byte from 0xc0.
		b, _ := g.r.Peek(1)
		if len(b) == 0 {
			return errors.New("xz block truncated")
		}
		switch c := b[0]; {
		case c == 0:
			end := g.pos + 1
			padding := (4 - (end-g.blockStart)%4) % 4
			g.state, g.pass = xzBlockHeader, 1+padding+g.checkSize
		case c == 1 || c == 2:
			h, _ := g.r.Peek(3)
			if len(h) < 3 {
				return errors.New("xz block truncated")
			}
			g.pass = 3 + int64(binary.BigEndian.Uint16(h[1:])) + 1
		case c >= 0x80:
			n := 5
			if c >= 0xc0 {
				n = 6
			}
			h, _ := g.r.Peek(n)
			if len(h) < n {
				return errors.New("xz block truncated")
			}
			g.pass = int64(n) + int64(binary.BigEndian.Uint16(h[3:])) + 1
		default:
			return errors.New("xz LZMA2 chunk damaged")
		}
	}
	return nil
}

// checkXZBlockHeader checks one whole block header: its checksum, its
// filter flags, and the dictionary size of its LZMA2 filter.
func checkXZBlockHeader(hdr []byte) error {
	hlen := len(hdr)
	if crc32.ChecksumIEEE(hdr[:hlen-4]) != binary.LittleEndian.Uint32(hdr[hlen-4:]) {
		return errors.New("xz block header checksum mismatch")
	}
	flags := hdr[1]
	q := 2
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // compressed, uncompressed size
		if !present {
			continue
		}
		_, n := binary.Uvarint(hdr[q : hlen-4])
		if n <= 0 {
			return errors.New("xz block header damaged")
		}
		q += n
	}
	var dict uint64
	for i := 0; i <= int(flags&3); i++ { // filter flags
		id, n := binary.Uvarint(hdr[q : hlen-4])
		if n <= 0 {
			return errors.New("xz filter flags damaged")
		}
		q += n
		size, n := binary.Uvarint(hdr[q : hlen-4])
		if n <= 0 || size > uint64(hlen-4-q-n) {
			return errors.New("xz filter flags damaged")
		}
		q += n
		if id == 0x21 { // LZMA2: one byte of properties, the dictionary size
			if size != 1 {
				return errors.New("xz LZMA2 filter properties damaged")
			}
			c := hdr[q]
			switch {
			case c > 40:
				return errors.New("xz LZMA2 dictionary size damaged")
			case c == 40:
				dict = 1<<32 - 1
			default:
				dict = uint64(2|c&1) << (c/2 + 11)
			}
		}
		q += int(size)
	}
	if dict > maxXZDict {
		return fmt.Errorf("xz dictionary of %d bytes is larger than the %d allowed", dict, maxXZDict)
	}
	return nil
}
