package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// errUnknownCompression is a member compressed in a way openStream does
// not read.
var errUnknownCompression = errors.New("unknown compression")

// errBound ends the listing of a data member that unpacks to more than
// its bound; it is not damage.
var errBound = errors.New("the unpacking bound is reached")

// openStream opens a member, compressed as its name says, as a stream that
// decompresses as it is read, holding only the decompressor's state; the
// caller must Close it. The xz and zstd decoders are bounded as for the
// control member: no dictionary or window beyond what dpkg's own maximum
// levels use.
func openStream(name string, r io.Reader) (io.ReadCloser, error) {
	switch {
	case strings.HasSuffix(name, ".tar"):
		return io.NopCloser(r), nil
	case strings.HasSuffix(name, ".gz"):
		return newGzipStream(r)
	case strings.HasSuffix(name, ".xz"):
		// dpkg writes one stream; the guard follows only the first.
		zr, err := xz.ReaderConfig{SingleStream: true}.NewReader(newXZGuard(r))
		if err != nil {
			return nil, err
		}
		return io.NopCloser(zr), nil
	case strings.HasSuffix(name, ".zst"):
		// One goroutine-free decoder with a bounded window; Close ends it.
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case strings.HasSuffix(name, ".bz2"):
		// Old dpkg wrote data.tar.bz2; its decoder holds a 900 KiB block.
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return nil, fmt.Errorf("%w of %s", errUnknownCompression, name)
}

// gzipStream reads the gzip members of a stream one after the other and
// ends at the first thing that is not a gzip member, as zlib's gzread
// (dpkg's reader) does, rather than calling trailing bytes damage as
// compress/gzip's multistream mode would.
type gzipStream struct {
	br *bufio.Reader
	zr *gzip.Reader
}

func newGzipStream(r io.Reader) (*gzipStream, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	zr, err := gzip.NewReader(br) // br is a ByteReader, so zr reads no further than its member
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return &gzipStream{br: br, zr: zr}, nil
}

func (g *gzipStream) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err != io.EOF || n > 0 {
			return n, err
		}
		if magic, _ := g.br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
			return 0, io.EOF
		}
		if err := g.zr.Reset(g.br); err != nil {
			return 0, err
		}
		g.zr.Multistream(false)
	}
}

func (g *gzipStream) Close() error { return g.zr.Close() }

// bounded reads from r until *left bytes were read, then fails with
// errBound; several readers may share one budget.
type bounded struct {
	r    io.Reader
	left *int64
}

func (b bounded) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		return 0, errBound
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}

// memberReader counts what is read of an ar member and keeps the first
// error of the file itself, so that damage found while unpacking can be
// told from a file that is short or could not be read.
type memberReader struct {
	r   io.Reader
	n   int64
	err error
}

func (m *memberReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if err != nil && err != io.EOF && m.err == nil {
		m.err = err
	}
	return n, err
}

// readData unpacks the data member name of size bytes from body, listing
// its files; pkg, when known, names the copyright file to keep. Whatever
// the listing stopped at, the member is then read to its end, since the
// whole-file digests are taken from what passes through body.
func readData(name string, body io.Reader, size int64, pkg string) (*Contents, error) {
	src := &memberReader{r: body}
	c, listErr := listData(name, src, size, pkg)
	if _, err := io.Copy(io.Discard, src); err != nil && src.err == nil {
		src.err = err
	}
	switch {
	case src.err != nil:
		return nil, fmt.Errorf("reading the data member: %w", src.err)
	case src.n != size:
		return nil, invalid("the file is truncated in its data member")
	case errors.Is(listErr, io.ErrUnexpectedEOF):
		return nil, invalid("its %s is truncated: its compressed tar archive ends early", name)
	case listErr != nil:
		return nil, invalid("its %s is damaged: %v", name, listErr)
	}
	return c, nil
}

// listData lists the data member read from r, which is size bytes
// compressed. Damage is an error; reaching a bound is not: the list is
// returned marked incomplete.
func listData(name string, r io.Reader, size int64, pkg string) (*Contents, error) {
	c := &Contents{}
	zr, err := openStream(name, r)
	if errors.Is(err, errUnknownCompression) {
		c.Incomplete = fmt.Sprintf("its %s is compressed in a way enmei does not unpack", name)
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	limit := dataRatio*size + dataSlack
	// Two budgets of the same size: what the decompressor produces, and
	// what is hashed, which a sparse tar entry can make far larger (its
	// holes are zeros that were never in the stream).
	unpackLeft, hashLeft := limit, limit
	tr := tar.NewReader(bounded{zr, &unpackLeft})
	bound := func() (*Contents, error) {
		c.Incomplete = fmt.Sprintf("its %s unpacks to more than %d bytes (%d times its compressed size plus %d MiB); the files beyond are not listed",
			name, limit, dataRatio, dataSlack>>20)
		return c.compact(), nil
	}
	copyright := ""
	if pkg != "" {
		copyright = "/usr/share/doc/" + pkg + "/copyright"
	}
	index := map[string]int{} // path → index in c.Files
	pathBytes := 0
	buf := make([]byte, 32<<10)
	for {
		h, err := tr.Next()
		if err == tar.ErrInsecurePath {
			err = nil // with GODEBUG=tarinsecurepath=0; the path is made absolute and clean below
		}
		if err == io.EOF {
			break
		}
		if errors.Is(err, errBound) {
			return bound()
		}
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + h.Name)
		if p == "/" {
			continue
		}
		f := DataFile{Path: p}
		var kept []byte
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
			sum := sha256.New()
			var w io.Writer = sum
			var cb bytes.Buffer
			keep := p == copyright && h.Size <= MaxCopyright
			if keep {
				w = io.MultiWriter(sum, &cb)
			}
			if _, err := io.CopyBuffer(w, bounded{tr, &hashLeft}, buf); err != nil {
				if errors.Is(err, errBound) {
					return bound()
				}
				return nil, err
			}
			f.SHA256 = hex.EncodeToString(sum.Sum(nil))
			if keep {
				kept = cb.Bytes()
			}
		case tar.TypeLink: // a hard link has its target's content
			if i, ok := index[path.Clean("/"+h.Linkname)]; ok {
				f.SHA256 = c.Files[i].SHA256
			}
		case tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		case tar.TypeDir:
			if i, ok := index[p]; ok { // a directory replaces what was there
				c.Files[i].Path = ""
				delete(index, p)
			}
			if p == copyright {
				c.Copyright = nil
			}
			continue
		default: // PAX global headers and other records that are no file
			continue
		}
		if p == copyright {
			c.Copyright = kept
		}
		if i, ok := index[p]; ok {
			c.Files[i] = f
			continue
		}
		if len(p) > maxPath || len(index) >= maxFiles || pathBytes+len(p) > maxPathBytes {
			c.Incomplete = fmt.Sprintf("its %s holds more files or longer paths than are listed (at most %d files, %d MiB of paths, %d bytes a path)",
				name, maxFiles, maxPathBytes>>20, maxPath)
			return c.compact(), nil
		}
		pathBytes += len(p)
		index[p] = len(c.Files)
		c.Files = append(c.Files, f)
	}
	// Read the decompressed stream to its end, past the tar's end-of-archive
	// blocks and padding, so the decompressor checks its trailer (gzip's CRC,
	// xz's index and checks): damage there is damage to the package.
	if _, err := io.CopyBuffer(io.Discard, bounded{zr, &unpackLeft}, buf); err != nil && !errors.Is(err, errBound) {
		return nil, err
	}
	return c.compact(), nil
}

// compact drops the entries that a later directory entry replaced.
func (c *Contents) compact() *Contents {
	files := c.Files[:0]
	for _, f := range c.Files {
		if f.Path != "" {
			files = append(files, f)
		}
	}
	c.Files = files
	return c
}
