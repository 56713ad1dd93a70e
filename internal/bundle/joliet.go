package bundle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf16"
)

// fixJoliet repairs the Joliet tree go-diskfs v1.9.4 writes: in a Joliet
// directory, the record of each subdirectory points at that directory's
// ISO 9660 (primary) extent instead of its Joliet extent, so a reader of
// Joliet names — Windows — finds 8.3 names read as UCS-2 below the root.
// The Joliet path table and each Joliet directory's own "." record are
// right, so fixJoliet walks the Joliet tree from its root and points every
// subdirectory record at the extent the path table names for it. A record
// that is already right is left alone, so this does nothing once the
// library is fixed.
func fixJoliet(f *os.File) error {
	const sector = 2048
	var svd []byte
	for i := int64(16); ; i++ {
		vd := make([]byte, sector)
		if _, err := f.ReadAt(vd, i*sector); err != nil {
			return fmt.Errorf("reading volume descriptor %d: %w", i, err)
		}
		if string(vd[1:6]) != isoMagic {
			return fmt.Errorf("volume descriptor %d has no %s identifier", i, isoMagic)
		}
		if vd[0] == 255 {
			break
		}
		// A Joliet SVD names UCS-2 by the escape sequence %/@, %/C or %/E.
		if vd[0] == 2 && vd[88] == '%' && vd[89] == '/' && (vd[90] == '@' || vd[90] == 'C' || vd[90] == 'E') {
			svd = vd
			break
		}
	}
	if svd == nil {
		return nil // no Joliet tree
	}

	// The L path table: every directory's extent by its path.
	ptSize := binary.LittleEndian.Uint32(svd[132:])
	ptLoc := binary.LittleEndian.Uint32(svd[140:])
	pt := make([]byte, ptSize)
	if _, err := f.ReadAt(pt, int64(ptLoc)*sector); err != nil {
		return fmt.Errorf("reading the Joliet path table: %w", err)
	}
	type dir struct {
		path string
		loc  uint32
	}
	var dirs []dir // directory numbers start at 1
	extent := map[string]uint32{}
	for off := 0; off+8 <= len(pt); {
		n := int(pt[off])
		if n == 0 || off+8+n > len(pt) {
			return errors.New("malformed Joliet path table")
		}
		loc := binary.LittleEndian.Uint32(pt[off+2:])
		parent := int(binary.LittleEndian.Uint16(pt[off+6:]))
		name := ucs2(pt[off+8 : off+8+n])
		p := ""
		if len(dirs) > 0 { // the first record is the root
			if parent < 1 || parent > len(dirs) {
				return errors.New("malformed Joliet path table")
			}
			p = dirs[parent-1].path + "/" + name
		}
		dirs = append(dirs, dir{p, loc})
		extent[p] = loc
		off += 8 + n + n%2
	}

	root := svd[156:]
	return fixJolietDir(f, "", binary.LittleEndian.Uint32(root[2:]), binary.LittleEndian.Uint32(root[10:]), extent, 0)
}

// fixJolietDir repairs the subdirectory records of the Joliet directory at
// path p, whose extent is at sector loc and size bytes long.
func fixJolietDir(f *os.File, p string, loc, size uint32, extent map[string]uint32, depth int) error {
	const sector = 2048
	if depth > maxDepth {
		return errors.New("the Joliet tree is too deep")
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, int64(loc)*sector); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading Joliet directory %s/: %w", p, err)
	}
	for off := 0; off < len(data); {
		n := int(data[off])
		if n == 0 { // records do not cross sectors: go on at the next one
			off = (off/sector + 1) * sector
			continue
		}
		if n < 34 || off+n > len(data) || 33+int(data[off+32]) > n {
			return fmt.Errorf("malformed record in Joliet directory %s/", p)
		}
		rec := data[off : off+n]
		off += n
		nameLen := int(rec[32])
		if rec[25]&0x02 == 0 || nameLen == 1 && rec[33] <= 1 { // a file, "." or ".."
			continue
		}
		child := p + "/" + ucs2(rec[33:33+nameLen])
		want, ok := extent[child]
		if !ok {
			return fmt.Errorf("Joliet directory %s is not in the Joliet path table", child)
		}
		// The directory's own "." record holds its size.
		self := make([]byte, 34)
		if _, err := f.ReadAt(self, int64(want)*sector); err != nil {
			return fmt.Errorf("reading Joliet directory %s: %w", child, err)
		}
		wantSize := binary.LittleEndian.Uint32(self[10:])
		if binary.LittleEndian.Uint32(rec[2:]) != want || binary.LittleEndian.Uint32(rec[10:]) != wantSize {
			binary.LittleEndian.PutUint32(rec[2:], want)
			binary.BigEndian.PutUint32(rec[6:], want)
			binary.LittleEndian.PutUint32(rec[10:], wantSize)
			binary.BigEndian.PutUint32(rec[14:], wantSize)
			if _, err := f.WriteAt(rec, int64(loc)*sector+int64(off-n)); err != nil {
				return fmt.Errorf("repairing Joliet directory %s: %w", child, err)
			}
		}
		if err := fixJolietDir(f, child, want, wantSize, extent, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// ucs2 decodes a big-endian UCS-2 (UTF-16) name.
func ucs2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
