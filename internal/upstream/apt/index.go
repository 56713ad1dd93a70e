package apt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"

	"github.com/enmei-project/enmei/internal/errs"
)

const (
	// maxIndexDownload bounds a compressed index held in memory while it
	// is checked; Debian's largest Packages.xz is about 10 MiB.
	maxIndexDownload = 512 << 20
	// maxIndex bounds an index once decompressed when the Release gives
	// no size for the uncompressed file; Debian's largest is about 70 MiB.
	maxIndex = 2 << 30
)

// compressions are the forms of an index tried, smallest first.
var compressions = []string{".xz", ".gz", ""}

// findIndex returns the forms of the index name (a path under
// dists/<suite>/ without compression suffix) the Release lists.
func findIndex(rel *Release, name string) ([]string, bool) {
	var out []string
	for _, c := range compressions {
		if _, ok := rel.Files[name+c]; ok {
			out = append(out, name+c)
		}
	}
	return out, len(out) > 0
}

// fetchIndex fetches the first form of index name the mirror has, checks
// it against the Release, and hands its paragraphs to fn. When the Release
// also lists the uncompressed index, the decompressed bytes are checked
// against that too. A form the mirror lacks (HTTP 404) is skipped for the
// next; one that fails its check stops everything, as apt does, so that a
// tampered file is reported rather than worked around.
func (s *Source) fetchIndex(ctx context.Context, g Getter, base *url.URL, rel *Release, name string, fn func(paragraph) error) error {
	forms, _ := findIndex(rel, name)
	dir := "dists/" + s.Suite + "/"
	for _, form := range forms {
		sum := rel.Files[form]
		data, found, err := s.fetchChecked(ctx, g, base, rel, dir, form, sum)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		var r io.Reader = bytes.NewReader(data)
		switch {
		case strings.HasSuffix(form, ".xz"):
			xr, err := xz.NewReader(r)
			if err != nil {
				return errs.E(errs.Invalid, "%s of %s cannot be decompressed (%v): the mirror serves a damaged file; try another mirror", form, s.suiteURL(base), err)
			}
			r = xr
		case strings.HasSuffix(form, ".gz"):
			zr, err := gzip.NewReader(r)
			if err != nil {
				return errs.E(errs.Invalid, "%s of %s cannot be decompressed (%v): the mirror serves a damaged file; try another mirror", form, s.suiteURL(base), err)
			}
			defer zr.Close()
			r = zr
		}
		limit := int64(maxIndex)
		plain, hasPlain := rel.Files[name]
		if hasPlain {
			limit = plain.Size
		}
		h := sha256.New()
		lr := &boundedReader{r: io.TeeReader(r, h), left: limit}
		n := 0
		err = readParagraphs(lr, func(p paragraph) error {
			n++
			if err := fn(p); err != nil {
				return fmt.Errorf("paragraph %d: %w", n, err)
			}
			return nil
		})
		if err == nil {
			_, err = io.Copy(io.Discard, lr) // the decompressor's checks run at the end
		}
		switch {
		case errors.Is(err, errTooLarge) && hasPlain:
			return errs.E(errs.Invalid, "%s of %s unpacks to more than the %d bytes the Release gives %s: the file was altered; try another mirror", form, s.suiteURL(base), plain.Size, name)
		case errors.Is(err, errTooLarge):
			return errs.E(errs.Invalid, "%s of %s unpacks to more than %d bytes: refusing it as a compression bomb", form, s.suiteURL(base), int64(maxIndex))
		case err != nil:
			return errs.E(errs.Invalid, "%s of %s cannot be read: %v", form, s.suiteURL(base), err)
		}
		if hasPlain && (lr.read != plain.Size || hex.EncodeToString(h.Sum(nil)) != plain.SHA256) {
			return errs.E(errs.Invalid, "%s of %s unpacks to bytes that do not match the SHA256 the Release gives %s: the file was altered; try another mirror", form, s.suiteURL(base), name)
		}
		return nil
	}
	return errs.E(errs.NotFound, "the mirror has none of %s that the Release of %s lists: it is incomplete or in the middle of an update; try again later or use another mirror", strings.Join(forms, ", "), s.suiteURL(base))
}

// fetchChecked fetches dir+rel (a path under the suite) and checks its
// size and SHA256. When the suite offers by-hash copies it asks for
// those first, so an index replaced while the suite is read is still
// found as the Release names it.
func (s *Source) fetchChecked(ctx context.Context, g Getter, base *url.URL, rel *Release, dir, name string, sum FileSum) ([]byte, bool, error) {
	if sum.Size > maxIndexDownload {
		return nil, false, errs.E(errs.Invalid, "the Release of %s gives %s a size of %d bytes, more than the %d a mirror is read with", s.suiteURL(base), name, sum.Size, int64(maxIndexDownload))
	}
	urls := []string{fileURL(base, dir+name)}
	if rel.AcquireByHash {
		urls = append([]string{fileURL(base, dir+path.Dir(name)+"/by-hash/SHA256/"+sum.SHA256)}, urls...)
	}
	for _, u := range urls {
		data, found, err := fetchSmall(ctx, g, u, sum.Size+1)
		if errors.Is(err, errTooLarge) {
			found, data = true, nil
		} else if err != nil {
			return nil, false, err
		}
		if !found {
			continue
		}
		got := sha256.Sum256(data)
		if int64(len(data)) != sum.Size || hex.EncodeToString(got[:]) != sum.SHA256 {
			return nil, false, errs.E(errs.Invalid, "%s of %s does not match the size and SHA256 the signed Release gives it: the mirror serves a damaged or altered file, or is in the middle of an update; try again later or use another mirror", name, s.suiteURL(base))
		}
		return data, true, nil
	}
	return nil, false, nil
}

var errTooLarge = errors.New("larger than allowed")

// boundedReader fails with errTooLarge past left bytes instead of
// truncating, so an oversized input is refused, not cut short.
type boundedReader struct {
	r    io.Reader
	left int64
	read int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: at the exact limit the input may well end here.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	return n, err
}

// paragraph is one deb822 stanza.
type paragraph struct {
	raw []byte // as written, without the final newline
	// fields maps a lower-case field name to its value: the first line
	// trimmed, then each continuation line trimmed after a newline.
	fields map[string]string
}

// readParagraphs hands each stanza of a deb822 file to fn. A field set
// twice in a stanza is refused: readers differ on which one wins, and the
// checksum apt would use must be the one checked here.
func readParagraphs(r io.Reader, fn func(paragraph) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var raw []byte
	fields := map[string]string{}
	last := ""
	flush := func() error {
		if len(raw) == 0 {
			return nil
		}
		p := paragraph{raw: bytes.TrimSuffix(raw, []byte("\n")), fields: fields}
		raw, fields, last = nil, map[string]string{}, ""
		return fn(p)
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			text := strings.TrimRight(string(line), "\r\n")
			switch {
			case strings.TrimSpace(text) == "":
				if err := flush(); err != nil {
					return err
				}
			case text[0] == '#' && len(raw) == 0:
				// a comment before a stanza (deb822 allows them)
			case text[0] == ' ' || text[0] == '\t':
				if last == "" {
					return fmt.Errorf("a continuation line comes before any field: %.60q", text)
				}
				fields[last] += "\n" + strings.TrimSpace(text)
				raw = append(raw, line...)
			default:
				k, v, ok := strings.Cut(text, ":")
				k = strings.ToLower(strings.TrimSpace(k))
				if !ok || k == "" {
					return fmt.Errorf("a line is not a field: %.60q", text)
				}
				if _, dup := fields[k]; dup {
					return fmt.Errorf("a stanza sets %s twice", k)
				}
				fields[k], last = strings.TrimSpace(v), k
				raw = append(raw, line...)
			}
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}

// parsePackage reads a Packages stanza.
func parsePackage(p paragraph, comp string) (Package, error) {
	f := p.fields
	pkg := Package{
		Name: f["package"], Version: f["version"], Arch: f["architecture"],
		Filename: f["filename"], Component: comp, SHA256: strings.ToLower(f["sha256"]),
		Control: p.raw,
	}
	if pkg.Name == "" || pkg.Version == "" || pkg.Arch == "" || pkg.Filename == "" {
		return Package{}, fmt.Errorf("package %q lacks Package, Version, Architecture or Filename", pkg.Name)
	}
	size, err := strconv.ParseInt(f["size"], 10, 64)
	if err != nil || size < 0 {
		return Package{}, fmt.Errorf("%s has no valid Size", pkg)
	}
	pkg.Size = size
	if !isSHA256(pkg.SHA256) {
		return Package{}, fmt.Errorf("%s has no valid SHA256, so it cannot be verified", pkg)
	}
	return pkg, nil
}

// parseSource reads a Sources stanza.
func parseSource(p paragraph, comp string) (SourcePackage, error) {
	f := p.fields
	sp := SourcePackage{Name: f["package"], Version: f["version"], Directory: f["directory"], Component: comp, Stanza: p.raw}
	if sp.Name == "" || sp.Version == "" || sp.Directory == "" {
		return SourcePackage{}, fmt.Errorf("source package %q lacks Package, Version or Directory", sp.Name)
	}
	for _, line := range strings.Split(f["checksums-sha256"], "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 || !isSHA256(fs[0]) {
			return SourcePackage{}, fmt.Errorf("%s has a malformed Checksums-Sha256 line %.80q", sp, line)
		}
		size, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil || size < 0 {
			return SourcePackage{}, fmt.Errorf("%s has a malformed size in Checksums-Sha256: %.80q", sp, line)
		}
		if strings.ContainsAny(fs[2], "/\\") || fs[2] == "." || fs[2] == ".." {
			return SourcePackage{}, fmt.Errorf("%s lists a file name that is a path: %.80q", sp, fs[2])
		}
		sp.Files = append(sp.Files, SourceFile{Name: fs[2], Size: size, SHA256: strings.ToLower(fs[0])})
	}
	if len(sp.Files) == 0 {
		return SourcePackage{}, fmt.Errorf("%s has no Checksums-Sha256, so its files cannot be verified", sp)
	}
	return sp, nil
}
