package inventory

import (
	"context"
	"encoding/binary"
	"io"
	"math/bits"
	"os"
)

// Berkeley DB hash databases, as rpm's Packages file on EL5 to EL8 is one.
// The layout is Berkeley DB's (dbinc/db_page.h); the walk is the one rpm's
// own read-only reader makes (lib/backend/bdb_ro.c): every bucket from 0 to
// max_bucket, each a chain of hash pages whose items are key/value pairs,
// values either on the page or in a chain of overflow pages. Every page
// number, offset and length is checked, and a walk reads at most as many
// pages as the file has, so a damaged file ends in an error.

const (
	bdbHashMagic        = 0x00061561
	bdbHashMagicSwapped = 0x61150600 // written on a machine of the other byte order (s390x)

	bdbPageHeader = 26

	bdbHashUnsortedPage = 2  // hash page of Berkeley DB before 4.6 (EL5)
	bdbOverflowPage     = 7  // P_OVERFLOW
	bdbHashMetaPage     = 8  // P_HASHMETA
	bdbHashPage         = 13 // P_HASH

	bdbKeyData = 1 // H_KEYDATA: the item follows its type byte
	bdbOffPage = 3 // H_OFFPAGE: the item is in an overflow chain
)

type bdbFile struct {
	f        *os.File
	order    binary.ByteOrder
	pageSize uint32
	lastPage uint32
	budget   uint64 // pages that may still be read
}

// page reads page pg into buf and checks it says it is page pg.
func (d *bdbFile) page(buf []byte, pg uint32) error {
	if pg == 0 || pg > d.lastPage {
		return damagef("it refers to page %d, outside its pages 1 to %d", pg, d.lastPage)
	}
	if d.budget == 0 {
		return damagef("its page chains loop")
	}
	d.budget--
	if _, err := d.f.ReadAt(buf, int64(pg)*int64(d.pageSize)); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return damagef("it is truncated: page %d is missing", pg)
		}
		return err
	}
	if got := d.order.Uint32(buf[8:]); got != pg {
		return damagef("page %d says it is page %d", pg, got)
	}
	return nil
}

// bdbBlobs calls add with the value of every record of a Berkeley DB hash
// database but rpm's record 0 (its header-instance counter).
func bdbBlobs(ctx context.Context, f *os.File, add func([]byte) error) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	meta := make([]byte, 512)
	if _, err := f.ReadAt(meta, 0); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return damagef("it is shorter than a Berkeley DB metadata page")
		}
		return err
	}
	d := &bdbFile{f: f, order: binary.LittleEndian}
	switch binary.LittleEndian.Uint32(meta[12:]) {
	case bdbHashMagic:
	case bdbHashMagicSwapped:
		d.order = binary.BigEndian
	default:
		return damagef("it is not a Berkeley DB hash database")
	}
	o := d.order
	if v := o.Uint32(meta[16:]); v < 8 || v > 10 {
		return damagef("its Berkeley DB hash version %d is not one rpm wrote (8 to 10)", v)
	}
	d.pageSize = o.Uint32(meta[20:])
	if d.pageSize < 512 || d.pageSize > 65536 || d.pageSize&(d.pageSize-1) != 0 {
		return damagef("its page size %d is not a power of two from 512 to 65536", d.pageSize)
	}
	if meta[24] != 0 {
		return damagef("it is encrypted")
	}
	if meta[25] != bdbHashMetaPage {
		return damagef("its first page is of type %d, not hash metadata", meta[25])
	}
	d.lastPage = o.Uint32(meta[32:])
	pages := uint64(d.lastPage) + 1
	if need := pages * uint64(d.pageSize); need > uint64(fi.Size()) {
		return damagef("it is truncated: %d pages of %d bytes need %d bytes, the file has %d", pages, d.pageSize, need, fi.Size())
	}
	d.budget = pages
	maxBucket := o.Uint32(meta[72:])
	if maxBucket >= d.lastPage {
		return damagef("its %d buckets do not fit in its %d pages", uint64(maxBucket)+1, d.lastPage)
	}
	var spares [32]uint32
	for i := range spares {
		spares[i] = o.Uint32(meta[96+4*i:])
	}

	page := make([]byte, d.pageSize)
	ps := int(d.pageSize)
	for bucket := uint32(0); bucket <= maxBucket; bucket++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pg := bucket + spares[bits.Len32(bucket)]
		for pg != 0 {
			if err := d.page(page, pg); err != nil {
				return err
			}
			if t := page[25]; t != bdbHashPage && t != bdbHashUnsortedPage {
				return damagef("page %d of bucket %d is of type %d, not a hash page", pg, bucket, t)
			}
			n := int(o.Uint16(page[20:]))
			if n%2 != 0 || bdbPageHeader+2*n > ps {
				return damagef("page %d claims %d items", pg, n)
			}
			idx := func(i int) int { return int(o.Uint16(page[bdbPageHeader+2*i:])) }
			for i := 0; i < n; i += 2 {
				koff, voff := idx(i), idx(i+1)
				end := ps
				if i > 0 {
					end = idx(i - 1)
				}
				if !(bdbPageHeader+2*n <= voff && voff < koff && koff < end && end <= ps) {
					return damagef("page %d has items out of place", pg)
				}
				key, err := d.item(page, koff, end-koff, pg)
				if err != nil {
					return err
				}
				if len(key) == 4 && key[0]|key[1]|key[2]|key[3] == 0 {
					continue // record 0: rpm's counter of header instances
				}
				val, err := d.item(page, voff, koff-voff, pg)
				if err != nil {
					return err
				}
				if err := add(val); err != nil {
					return err
				}
			}
			pg = o.Uint32(page[16:])
		}
	}
	return nil
}

// item returns the item of length n at off on page, following an overflow
// chain.
func (d *bdbFile) item(page []byte, off, n int, pg uint32) ([]byte, error) {
	switch page[off] {
	case bdbKeyData:
		return page[off+1 : off+n], nil
	case bdbOffPage:
		if n != 12 {
			return nil, damagef("page %d has an overflow reference of %d bytes", pg, n)
		}
		return d.overflow(d.order.Uint32(page[off+4:]), d.order.Uint32(page[off+8:]))
	}
	return nil, damagef("page %d has an item of type %d, which rpm's databases do not use", pg, page[off])
}

// overflow reads an item of length total from the overflow chain at pg.
func (d *bdbFile) overflow(pg, total uint32) ([]byte, error) {
	if total == 0 || total > maxHeader || uint64(total) > (uint64(d.lastPage)+1)*uint64(d.pageSize) {
		return nil, damagef("an overflow item claims %d bytes", total)
	}
	out := make([]byte, 0, total)
	buf := make([]byte, d.pageSize)
	for len(out) < int(total) {
		if err := d.page(buf, pg); err != nil {
			return nil, err
		}
		if buf[25] != bdbOverflowPage {
			return nil, damagef("overflow page %d is of type %d", pg, buf[25])
		}
		n := int(d.order.Uint16(buf[22:])) // bytes on this page
		if n == 0 || bdbPageHeader+n > int(d.pageSize) || n > int(total)-len(out) {
			return nil, damagef("overflow page %d claims %d bytes", pg, n)
		}
		out = append(out, buf[bdbPageHeader:bdbPageHeader+n]...)
		pg = d.order.Uint32(buf[16:])
	}
	return out, nil
}
