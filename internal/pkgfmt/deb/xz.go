package deb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// maxXZDict is the largest LZMA2 dictionary accepted in a control.tar.xz:
// xz -9's. github.com/ulikunitz/xz allocates whatever dictionary a block
// header asks for (up to 4 GiB) before decoding anything, so checkXZ reads
// every block header of the stream first and refuses larger ones.
const maxXZDict = 64 << 20

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// checkXZ walks the block headers of the single xz stream b without
// decompressing it: LZMA2 chunk headers carry their own sizes, so each
// block's end, and so the next block header, is found by reading headers
// only. It fails on a dictionary larger than maxXZDict and on anything it
// cannot follow; the decoder checks the rest (checksums, index).
func checkXZ(b []byte) error {
	if len(b) < 12 || !bytes.Equal(b[:6], xzMagic) {
		return errors.New("not an xz stream")
	}
	checkType := b[7] & 0x0f
	checkSize := [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}[checkType]
	p := 12
	for {
		if p >= len(b) {
			return errors.New("xz stream truncated")
		}
		if b[p] == 0 { // index indicator: no more blocks
			return nil
		}
		start := p
		hlen := (int(b[p]) + 1) * 4
		if len(b)-p < hlen {
			return errors.New("xz block header truncated")
		}
		hdr := b[p : p+hlen]
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
		// LZMA2 chunks: 0x00 ends; 0x01, 0x02 are stored chunks with a
		// 16-bit size; 0x80-0xff are LZMA chunks whose header holds the
		// compressed size, plus a properties byte from 0xc0.
		p += hlen
		for {
			if p >= len(b) {
				return errors.New("xz block truncated")
			}
			c := b[p]
			switch {
			case c == 0:
				p++
			case c == 1 || c == 2:
				if len(b)-p < 3 {
					return errors.New("xz block truncated")
				}
				p += 3 + int(binary.BigEndian.Uint16(b[p+1:])) + 1
				continue
			case c >= 0x80:
				h := 5
				if c >= 0xc0 {
					h = 6
				}
				if len(b)-p < h {
					return errors.New("xz block truncated")
				}
				p += h + int(binary.BigEndian.Uint16(b[p+3:])) + 1
				continue
			default:
				return errors.New("xz LZMA2 chunk damaged")
			}
			break
		}
		p += (4 - (p-start)%4) % 4 // block padding
		p += checkSize
	}
}
