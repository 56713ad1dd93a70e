package inventory

import (
	"context"
	"encoding/binary"
	"hash/adler32"
	"io"
	"os"
)

// ndbBlobs calls add with every package header of an rpm NDB database
// (SUSE's Packages.db; layout in rpm's lib/backend/ndb/rpmpkg.c): a 32-byte
// header, slot pages of 16-byte slots (magic, package index, block offset,
// block count), and blobs in 16-byte blocks, each with a head (magic,
// package index, generation, length) and a tail (Adler-32 of head and
// blob, length, magic). Every slot and blob is checked as rpm checks it,
// the checksum included. add must not keep the slice it is given.
func ndbBlobs(ctx context.Context, f *os.File, add func([]byte) error) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var hdr [32]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return damagef("it is shorter than an NDB header")
		}
		return err
	}
	le := binary.LittleEndian
	if string(hdr[:4]) != "RpmP" || le.Uint32(hdr[4:]) != 0 {
		return damagef("it is not an NDB database of a version rpm reads")
	}
	pages := int64(le.Uint32(hdr[12:]))
	if pages == 0 || pages > ndbMaxSlotPages || pages*ndbPage > size {
		return damagef("it claims %d slot pages in %d bytes", pages, size)
	}
	slots := make([]byte, pages*ndbPage)
	if _, err := f.ReadAt(slots, 0); err != nil {
		return err
	}
	var blob []byte
	for i := 32; i < len(slots); i += 16 {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := slots[i : i+16]
		if string(s[:4]) != "Slot" {
			return damagef("slot %d is damaged", i/16-2)
		}
		idx, off, blocks := le.Uint32(s[4:]), int64(le.Uint32(s[8:])), int64(le.Uint32(s[12:]))
		if idx == 0 {
			continue // free slot
		}
		if blocks*ndbBlock < ndbBlobHead+ndbBlobTail || blocks*ndbBlock > maxHeader+ndbBlobHead+ndbBlobTail+ndbBlock ||
			off < pages*ndbPage/ndbBlock || (off+blocks)*ndbBlock > size {
			return damagef("package %d's blob (blocks %d+%d) lies outside the file", idx, off, blocks)
		}
		if int64(cap(blob)) < blocks*ndbBlock {
			blob = make([]byte, blocks*ndbBlock)
		}
		b := blob[:blocks*ndbBlock]
		if _, err := f.ReadAt(b, off*ndbBlock); err != nil {
			return err
		}
		n := int64(le.Uint32(b[12:]))
		if string(b[:4]) != "BlbS" || le.Uint32(b[4:]) != idx || (ndbBlobHead+n+ndbBlobTail+ndbBlock-1)/ndbBlock != blocks {
			return damagef("package %d's blob head is damaged", idx)
		}
		tail := b[len(b)-ndbBlobTail:]
		if adler32.Checksum(b[:len(b)-ndbBlobTail]) != le.Uint32(tail) || int64(le.Uint32(tail[4:])) != n || string(tail[8:]) != "BlbE" {
			return damagef("package %d's blob fails its checksum", idx)
		}
		if err := add(b[ndbBlobHead : ndbBlobHead+n]); err != nil {
			return err
		}
	}
	return nil
}
